//! The state of a stream synced incrementally, and how an input state starts its next sync.
//!
//! A stream whose incremental sync completed leaves `{"cursor": "<RFC 3339 time>"}`: every change Polar made
//! visible before that time (the server's clock, from the `Date` of the first answer the sync used) has been
//! delivered. The next sync reads what changed after `cursor` minus the lookback window. The full read that
//! starts incremental syncing (the first sync, or a sync whose changes would cost more than reading it all)
//! leaves the full refresh's checkpoints with the cursor it will set: `{"page": 7, ..., "cursor": "..."}`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::checkpoint::{self, COMPLETE_MARKER, Checkpoint, Resume, StreamState};
use crate::streams::StreamDef;

/// What an incremental sync of a stream leaves: when complete, its horizon as the cursor; while its pass by
/// key goes on, the old cursor and how far that pass has delivered the new records (`created_after`), so that
/// a stop loses only the pages since (the next sync reads the changes since `cursor` again, and the new
/// records from `created_after` on).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncrementalState {
    pub cursor: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_after: Option<String>,
}

impl IncrementalState {
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("a state serializes")
    }
}

impl StreamState {
    /// The state of the full read of a stream synced incrementally: checkpoints carry the `cursor` it sets
    /// once complete, and the complete read leaves the incremental state ([`IncrementalState`]).
    pub fn to_incremental_json(&self, cursor: &str) -> Value {
        match self {
            StreamState::InProgress(checkpoint) => {
                let checkpoint = Checkpoint {
                    cursor: Some(cursor.to_owned()),
                    ..checkpoint.clone()
                };
                serde_json::to_value(checkpoint).expect("a checkpoint serializes")
            }
            StreamState::Complete => IncrementalState {
                created_after: None,
                cursor: cursor.to_owned(),
            }
            .to_json(),
        }
    }
}

/// How the next incremental sync of a stream starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// A full read that then syncs incrementally; `replaced` says which state it does not build on, for a LOG.
    Fresh { replaced: Option<String> },
    /// Go on with the full read an earlier sync started (from page 1 when its checkpoint no longer fits), then
    /// leave `cursor` (Unix microseconds).
    ResumeFull { resume: Option<Resume>, cursor: i64 },
    /// Read what changed since `cursor` (Unix microseconds); the new records of the window paged by key from
    /// `window_after` when an earlier pass got that far.
    Since {
        cursor: i64,
        window_after: Option<String>,
    },
}

/// Why an input state cannot start the incremental sync of a stream: a state this connector cannot have
/// written, with what is wrong (a config error: the user must fix or clear it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StartError {
    #[error("the state of stream '{stream}' is {state}, not an object this connector wrote")]
    NotAnObject { stream: &'static str, state: Value },
    #[error(
        "the state of stream '{stream}' ({state}) is not one this connector wrote: an incremental state is \
         {{\"cursor\": \"<RFC 3339 time>\"}}. Fix it, or clear the connection's state to sync it afresh"
    )]
    NoCursor { stream: &'static str, state: Value },
    #[error(
        "the state of stream '{stream}' has the cursor {cursor}, which is not an RFC 3339 time such as \
         \"2026-11-25T15:00:00.000000Z\". Fix it, or clear the connection's state to sync it afresh"
    )]
    CursorNotATime { stream: &'static str, cursor: Value },
    /// `clock`: this machine's clock (Unix microseconds).
    #[error(
        "the state of stream '{stream}' has the cursor {cursor}, later than this machine's clock ({}): a sync from it \
         would skip everything until then. It was likely left by a server or machine with a wrong clock; \
         clear the connection's state for this stream (or set its cursor to a past time) to sync it afresh",
        crate::time::format(*.clock)
    )]
    CursorAhead {
        stream: &'static str,
        cursor: Value,
        clock: i64,
    },
    #[error(
        "the state of stream '{stream}' ({state}) is not one this connector wrote ({problem}). Fix it, or clear \
         the connection's state to sync it afresh"
    )]
    NotWritten {
        stream: &'static str,
        state: Value,
        problem: String,
    },
    #[error(
        "the state of stream '{stream}' has 'created_after' {created_after:?}, which is not an RFC 3339 time at or \
         after its cursor. Fix it, or clear the connection's state to sync it afresh"
    )]
    WindowBeforeCursor {
        stream: &'static str,
        created_after: String,
    },
}

/// Reads the input state of an incremental `stream`. `Err`: a state this connector cannot have written,
/// with what is wrong (a config error: the user must fix or clear it).
pub fn start(stream: &StreamDef, limit: u32, state: Option<&Value>) -> Result<Start, StartError> {
    let now = crate::time::system_micros(std::time::SystemTime::now());
    start_at(stream, limit, state, now)
}

/// [`start`] on a machine whose clock reads `now` (Unix microseconds): a cursor later than it (past the skew
/// allowed between clocks) would read nothing until that time and is refused.
pub fn start_at(
    stream: &StreamDef,
    limit: u32,
    state: Option<&Value>,
    now: i64,
) -> Result<Start, StartError> {
    let Some(state) = state.filter(|state| !state.is_null()) else {
        return Ok(Start::Fresh { replaced: None });
    };
    let Some(object) = state.as_object() else {
        return Err(StartError::NotAnObject {
            stream: stream.name,
            state: state.clone(),
        });
    };
    if object.is_empty() {
        return Ok(Start::Fresh { replaced: None });
    }
    let Some(cursor) = object.get("cursor") else {
        if object.get(COMPLETE_MARKER) == Some(&Value::Bool(true)) || object.contains_key("page") {
            return Ok(Start::Fresh {
                replaced: Some("a full refresh's state".into()),
            });
        }
        return Err(StartError::NoCursor {
            stream: stream.name,
            state: state.clone(),
        });
    };
    let cursor_micros = cursor
        .as_str()
        .and_then(crate::time::micros)
        .ok_or_else(|| StartError::CursorNotATime {
            stream: stream.name,
            cursor: cursor.clone(),
        })?;
    if cursor_micros > now.saturating_add(crate::time::MAX_CLOCK_SKEW_MICROS) {
        return Err(StartError::CursorAhead {
            stream: stream.name,
            cursor: cursor.clone(),
            clock: now,
        });
    }
    if object.contains_key("page") {
        return Ok(Start::ResumeFull {
            resume: checkpoint::resume_point(stream, limit, Some(state))
                .ok()
                .flatten(),
            cursor: cursor_micros,
        });
    }
    let parsed = serde_json::from_value::<IncrementalState>(state.clone()).map_err(|error| {
        StartError::NotWritten {
            stream: stream.name,
            state: state.clone(),
            problem: error.to_string(),
        }
    })?;
    let window_after = match parsed.created_after {
        Some(after) if crate::time::micros(&after).is_some_and(|at| at >= cursor_micros) => {
            Some(after)
        }
        Some(after) => {
            return Err(StartError::WindowBeforeCursor {
                stream: stream.name,
                created_after: after,
            });
        }
        None => None,
    };
    Ok(Start::Since {
        cursor: cursor_micros,
        window_after,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::streams;

    fn customers() -> &'static StreamDef {
        streams::find("customers").unwrap()
    }

    #[test]
    fn a_cursor_later_than_this_machines_clock_is_refused() {
        let now = crate::time::micros("2026-12-03T12:00:00Z").unwrap();
        let state = |cursor: &str| json!({"cursor": cursor});
        let within_skew = state("2026-12-03T12:04:00Z");
        assert!(start_at(customers(), 100, Some(&within_skew), now).is_ok());
        for future in [
            "2026-12-03T12:06:00Z",
            "2099-12-31T23:59:59Z",
            "9999-12-31T00:00:00Z",
        ] {
            let problem = start_at(customers(), 100, Some(&state(future)), now)
                .unwrap_err()
                .to_string();
            assert!(
                problem.contains("later than this machine's clock"),
                "{problem}"
            );
            assert!(problem.contains("customers"), "{problem}");
        }
    }

    #[test]
    fn every_state_this_connector_writes_starts_the_right_sync() {
        let at = "2026-11-25T15:00:00.000000Z";
        let micros = crate::time::micros(at).unwrap();
        let fresh = Start::Fresh { replaced: None };
        assert_eq!(start(customers(), 100, None), Ok(fresh.clone()));
        assert_eq!(start(customers(), 100, Some(&json!({}))), Ok(fresh));
        assert_eq!(
            start(customers(), 100, Some(&json!({"cursor": at}))),
            Ok(Start::Since {
                cursor: micros,
                window_after: None
            })
        );
        // A pass by key that checkpointed midway resumes its window there.
        let later = "2026-11-25T16:00:00.000000Z";
        assert_eq!(
            start(
                customers(),
                100,
                Some(&json!({"cursor": at, "created_after": later}))
            ),
            Ok(Start::Since {
                cursor: micros,
                window_after: Some(later.to_owned())
            })
        );
        for bad in ["yesterday", "2020-01-01T00:00:00Z"] {
            let state = json!({"cursor": at, "created_after": bad});
            assert!(start(customers(), 100, Some(&state)).is_err(), "{bad}");
        }
        assert!(matches!(
            start(customers(), 100, Some(&json!({COMPLETE_MARKER: true}))),
            Ok(Start::Fresh { replaced: Some(_) })
        ));
        let checkpoint = json!({"page": 3, "limit": 100, "sorting": ["created_at", "email"], "last_id": "c",
                                "cursor": at});
        assert_eq!(
            start(customers(), 100, Some(&checkpoint)),
            Ok(Start::ResumeFull {
                resume: Some(Resume {
                    page: 3,
                    last_id: Some("c".into()),
                    created_after: None
                }),
                cursor: micros
            })
        );
        let other_sort =
            json!({"page": 3, "limit": 100, "sorting": ["email"], "last_id": "c", "cursor": at});
        assert_eq!(
            start(customers(), 100, Some(&other_sort)),
            Ok(Start::ResumeFull {
                resume: None,
                cursor: micros
            })
        );
        let full_refresh_checkpoint =
            json!({"page": 3, "limit": 100, "sorting": ["created_at", "email"]});
        assert!(matches!(
            start(customers(), 100, Some(&full_refresh_checkpoint)),
            Ok(Start::Fresh { replaced: Some(_) })
        ));
    }

    #[test]
    fn a_state_this_connector_cannot_have_written_is_refused_with_the_fix() {
        for bad in [
            json!({"cursor": "yesterday"}),
            json!({"cursor": 17}),
            json!({"cursor": "2026-11-25T15:00:00Z", "extra": 1}),
            json!({"updated_at": "2026-11-25T15:00:00Z"}),
            json!([1]),
        ] {
            let problem = start(customers(), 100, Some(&bad)).unwrap_err().to_string();
            assert!(problem.contains("customers"), "{problem}");
            assert!(
                problem.contains("clear") || problem.contains("not an object"),
                "{problem}"
            );
        }
    }
}
