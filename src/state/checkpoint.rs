//! The checkpoint a stream leaves in its STATE messages, as a typed struct, and the reading of one from the
//! input state.
//!
//! A stream in progress leaves `{"page": next, "limit": 100, "sorting": [...], "last_id": id}` after every
//! page; a finished stream leaves Airbyte's `{"__ab_full_refresh_sync_complete": true}`. A checkpoint is
//! trusted only for the page size and sort order it was taken with (see `reader::core` for how the overlap
//! page proves it still holds).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::streams::StreamDef;

/// The state a finished stream leaves, as the Airbyte CDK writes it.
pub const COMPLETE_MARKER: &str = "__ab_full_refresh_sync_complete";

/// Where a stream in progress stands: the next page of the main pass, and the last record read before it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The next page to read (1-based).
    pub page: u32,
    /// The page size the pages were read with.
    pub limit: u32,
    /// The `sorting` criteria the pages were read with.
    pub sorting: Vec<String>,
    /// The `id` of the last record of the page before `page`.
    pub last_id: Option<String>,
    /// When paging by key: the creation filter's value that `page` counts from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_after: Option<String>,
    /// For the full read of a stream synced incrementally: the cursor it sets once complete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// What a STATE message of a stream carries. Its form for the full read of a stream synced incrementally,
/// [`StreamState::to_incremental_json`], is written in [`super::cursor`], next to the state it ends with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamState {
    InProgress(Checkpoint),
    Complete,
}

impl StreamState {
    pub fn to_json(&self) -> Value {
        match self {
            StreamState::InProgress(checkpoint) => {
                serde_json::to_value(checkpoint).expect("a checkpoint serializes")
            }
            StreamState::Complete => json!({ COMPLETE_MARKER: true }),
        }
    }
}

/// A checkpoint to resume from, when the input state holds a usable one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resume {
    pub page: u32,
    pub last_id: Option<String>,
    /// When paging by key: the filter's value `page` counts from.
    pub created_after: Option<String>,
}

/// Why a checkpoint in the input state does not fit this reader: the stream starts from page 1 instead, and
/// the reason is logged. Each holds the checkpoint, to quote.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error("the checkpoint {state} is not one this connector wrote ({problem})")]
    NotWritten { state: Value, problem: String },
    #[error("the checkpoint {state} has no valid 'page'")]
    NoPage { state: Value },
    #[error("the checkpoint was taken with another page size ({state})")]
    OtherPageSize { state: Value },
    #[error("the checkpoint was taken with another sort order ({state})")]
    OtherSortOrder { state: Value },
    #[error("the checkpoint pages by a creation filter this stream does not have ({state})")]
    UnknownCreationFilter { state: Value },
    #[error(
        "the checkpoint was taken by offset paging, and this stream now pages by key ({state})"
    )]
    OffsetPaging { state: Value },
}

/// Reads the input state of `stream`. `Ok(None)`: start from page 1 (no state, or the stream completed).
/// `Err`: a checkpoint that does not fit this reader, with the reason to log.
pub fn resume_point(
    stream: &StreamDef,
    limit: u32,
    state: Option<&Value>,
) -> Result<Option<Resume>, CheckpointError> {
    let Some(state) = state.filter(|state| !state.is_null()) else {
        return Ok(None);
    };
    if state.get(COMPLETE_MARKER) == Some(&Value::Bool(true))
        || state.as_object().is_some_and(|object| object.is_empty())
    {
        return Ok(None);
    }
    let checkpoint: Checkpoint =
        serde_json::from_value(state.clone()).map_err(|error| CheckpointError::NotWritten {
            state: state.clone(),
            problem: error.to_string(),
        })?;
    let quoted = || state.clone();
    if checkpoint.page == 0 {
        return Err(CheckpointError::NoPage { state: quoted() });
    }
    if checkpoint.limit != limit {
        return Err(CheckpointError::OtherPageSize { state: quoted() });
    }
    if checkpoint.sorting != stream.sorting {
        return Err(CheckpointError::OtherSortOrder { state: quoted() });
    }
    match (stream.creation_filter, &checkpoint.created_after) {
        (None, Some(_)) => return Err(CheckpointError::UnknownCreationFilter { state: quoted() }),
        (Some(_), None) if checkpoint.page > 1 => {
            return Err(CheckpointError::OffsetPaging { state: quoted() });
        }
        _ => {}
    }
    Ok(Some(Resume {
        page: checkpoint.page,
        last_id: checkpoint.last_id,
        created_after: checkpoint.created_after,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::streams;

    fn orders() -> &'static StreamDef {
        streams::find("orders").unwrap()
    }

    #[test]
    fn a_checkpoint_round_trips_through_its_json() {
        let checkpoint = Checkpoint {
            page: 2,
            limit: 100,
            sorting: orders().sorting.iter().map(|s| s.to_string()).collect(),
            last_id: Some("ord_1".into()),
            created_after: Some("2026-01-02T03:04:05.000006Z".into()),
            cursor: None,
        };
        let json = StreamState::InProgress(checkpoint).to_json();
        assert_eq!(
            json,
            json!({"page": 2, "limit": 100, "sorting": ["created_at", "invoice_number"], "last_id": "ord_1",
                   "created_after": "2026-01-02T03:04:05.000006Z"})
        );
        assert_eq!(
            resume_point(orders(), 100, Some(&json)),
            Ok(Some(Resume {
                page: 2,
                last_id: Some("ord_1".into()),
                created_after: Some("2026-01-02T03:04:05.000006Z".into()),
            }))
        );
        let customers = streams::find("customers").unwrap();
        let offset =
            json!({"page": 7, "limit": 100, "sorting": ["created_at", "email"], "last_id": "c"});
        assert_eq!(
            resume_point(customers, 100, Some(&offset))
                .unwrap()
                .unwrap()
                .page,
            7,
            "an offset checkpoint has no 'created_after'"
        );
    }

    #[test]
    fn finished_empty_and_missing_states_start_at_page_one() {
        for state in [
            None,
            Some(json!(null)),
            Some(json!({})),
            Some(StreamState::Complete.to_json()),
        ] {
            assert_eq!(resume_point(orders(), 100, state.as_ref()), Ok(None));
        }
    }

    #[test]
    fn foreign_checkpoints_are_refused_with_a_reason() {
        let base = json!({"page": 3, "limit": 100, "sorting": ["created_at", "invoice_number"], "last_id": null});
        let mut other_limit = base.clone();
        other_limit["limit"] = json!(50);
        let mut other_sort = base.clone();
        other_sort["sorting"] = json!(["-created_at"]);
        let mut page_zero = base.clone();
        page_zero["page"] = json!(0);
        for (state, reason) in [
            (other_limit, "page size"),
            (other_sort, "sort order"),
            (page_zero, "'page'"),
            (base.clone(), "offset paging"),
            (json!({"cursor": "x"}), "not one this connector wrote"),
            (json!({"page": "3"}), "not one this connector wrote"),
        ] {
            let error = resume_point(orders(), 100, Some(&state))
                .unwrap_err()
                .to_string();
            assert!(error.contains(reason), "{state}: {error}");
        }
    }
}
