//! The sync plan, with no I/O: how each selected stream's read begins, from the catalog's selection, the
//! stream's start (what its input state allows) and what reading Polar's change log gave. `sync` reads the
//! change log when [`tracked`] names streams, then executes each stream's [`Plan`].

use std::collections::HashMap;

use crate::catalog::Selected;
use crate::incremental::changes::StreamChanges;
use crate::incremental::{self, Feed};
use crate::protocol::FailureType;
use crate::state::checkpoint::Resume;
use crate::state::cursor::Start;
use crate::streams::{Shape, StreamDef};

/// How a stream's read begins.
#[derive(Debug, PartialEq)]
pub enum Plan {
    /// Not a list: Polar's metrics, read whole (see `periods`).
    Periods {
        limits: &'static str,
        interval: &'static str,
    },
    FullRefresh,
    /// Read in full, leaving an incremental state: the first incremental sync, or one resumed.
    IncrementalFull {
        resume: Option<Resume>,
        cursor: Option<i64>,
    },
    /// Read what changed since `cursor`, from the feed's changes and `horizon` (`None`: the stream follows no
    /// events, and its own first answer is the horizon).
    Changes {
        cursor: i64,
        /// Where the window paged by key resumes, when an earlier pass checkpointed midway.
        window_after: Option<String>,
        changes: StreamChanges,
        horizon: Option<i64>,
    },
    /// The feed could not be read: fail with this.
    FeedFailed {
        failure_type: FailureType,
        message: String,
    },
}

/// What reading the change log gave, for the streams [`tracked`] named.
#[derive(Debug)]
pub enum ChangeLog {
    /// Read: each tracked stream's changes, and the horizon they reach.
    Read(Feed),
    /// The token lacks `events:read`: the tracked streams are read in full, as a first sync is.
    Unreadable,
    /// Reading it failed: the tracked streams fail with this.
    Failed {
        failure_type: FailureType,
        message: String,
    },
    /// Nothing needed it.
    NotRead,
}

/// The streams whose changes Polar's system events name and that sync from a cursor, each with the time its
/// window starts (the cursor minus the lookback): the change log is read once for all of them.
pub fn tracked(
    streams: &[Selected],
    starts: &HashMap<&'static str, Start>,
    lookback: std::time::Duration,
) -> Vec<(&'static StreamDef, i64)> {
    streams
        .iter()
        .filter(|selected| selected.stream.followed().is_some())
        .filter_map(|selected| match starts.get(selected.stream.name) {
            Some(Start::Since { cursor, .. }) => Some((
                selected.stream,
                incremental::window_start(*cursor, lookback),
            )),
            _ => None,
        })
        .collect()
}

/// The plan of one selected stream, given its start and the change log (a tracked stream takes its changes
/// out of it), and a note to log when the input state is not built on.
pub fn plan(
    selected: &Selected,
    start: Option<&Start>,
    change_log: &mut ChangeLog,
) -> (Plan, Option<String>) {
    let stream = selected.stream;
    let full = Plan::IncrementalFull {
        resume: None,
        cursor: None,
    };
    if let Shape::Periods { limits, interval } = stream.shape {
        return (Plan::Periods { limits, interval }, None);
    }
    if !selected.incremental() {
        return (Plan::FullRefresh, None);
    }
    let plan = match start {
        Some(Start::Since {
            cursor,
            window_after,
        }) if stream.followed().is_none() => Plan::Changes {
            cursor: *cursor,
            window_after: window_after.clone(),
            changes: StreamChanges::default(),
            horizon: None,
        },
        Some(Start::Since {
            cursor,
            window_after,
        }) => match change_log {
            ChangeLog::Read(feed) => Plan::Changes {
                cursor: *cursor,
                window_after: window_after.clone(),
                changes: feed.log.take(stream.name),
                horizon: Some(feed.horizon),
            },
            ChangeLog::Failed {
                failure_type,
                message,
            } => Plan::FeedFailed {
                failure_type: *failure_type,
                message: message.clone(),
            },
            ChangeLog::Unreadable | ChangeLog::NotRead => full,
        },
        Some(Start::ResumeFull { resume, cursor }) => Plan::IncrementalFull {
            resume: resume.clone(),
            cursor: Some(*cursor),
        },
        Some(Start::Fresh {
            replaced: Some(replaced),
        }) => {
            let note = format!(
                "{}: the input state is {replaced}, not an incremental one: reading the stream in full once, \
                 then incrementally from the next sync",
                stream.name
            );
            return (full, Some(note));
        }
        Some(Start::Fresh { replaced: None }) | None => full,
    };
    (plan, None)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use proptest::prelude::*;

    use super::*;
    use crate::incremental::changes;
    use crate::streams::{self, STREAMS};

    fn selected(name: &str, asked_incremental: bool) -> Selected {
        Selected {
            stream: streams::find(name).unwrap(),
            asked_incremental,
        }
    }

    fn since(cursor: i64) -> Start {
        Start::Since {
            cursor,
            window_after: None,
        }
    }

    /// A change log read from `events` (system events' JSON) for `streams`, reaching `horizon`.
    fn read_log(streams: &[(&'static StreamDef, i64)], events: &[&str], horizon: i64) -> ChangeLog {
        let mut log = changes::ChangeLog::new(streams, 1000);
        for event in events {
            log.add(event).unwrap();
        }
        ChangeLog::Read(Feed {
            horizon,
            log,
            events: events.len() as u64,
        })
    }

    const FULL: Plan = Plan::IncrementalFull {
        resume: None,
        cursor: None,
    };

    #[test]
    fn lists_in_full_refresh_and_the_metrics_whatever_their_state() {
        let mut log = ChangeLog::NotRead;
        assert_eq!(
            plan(&selected("products", true), None, &mut log),
            (Plan::FullRefresh, None),
            "asked incremental, which products do not support"
        );
        assert_eq!(
            plan(&selected("orders", false), Some(&since(5)), &mut log),
            (Plan::FullRefresh, None),
            "a full refresh ignores a cursor"
        );
        assert_eq!(
            plan(&selected("metrics", true), Some(&since(5)), &mut log).0,
            Plan::Periods {
                limits: "/v1/metrics/limits",
                interval: "day"
            }
        );
    }

    #[test]
    fn a_stream_from_a_cursor_takes_its_changes_and_the_horizon_from_the_change_log() {
        let orders = streams::find("orders").unwrap();
        let event = r#"{"id": "e1", "source": "system", "name": "order.paid", "timestamp": "2026-12-03T10:00:00Z",
            "customer_id": "c1", "metadata": {"order_id": "o1"}}"#;
        let mut log = read_log(&[(orders, 0)], &[event], 77);
        let (plan, note) = plan(&selected("orders", true), Some(&since(42)), &mut log);
        assert_eq!(note, None);
        let Plan::Changes {
            cursor,
            changes,
            horizon,
            window_after,
        } = plan
        else {
            panic!("{plan:?}");
        };
        assert_eq!((cursor, horizon, window_after), (42, Some(77), None));
        assert_eq!(
            changes.changed.get("o1"),
            Some(&Some("c1".to_owned())),
            "{changes:?}"
        );
    }

    #[test]
    fn a_stream_that_follows_no_events_needs_no_change_log() {
        // Checkouts: their window of the list shows every change; their own first answer is the horizon.
        let mut log = ChangeLog::NotRead;
        let start = Start::Since {
            cursor: 9,
            window_after: Some("2026-12-01T00:00:00Z".into()),
        };
        assert_eq!(
            plan(&selected("checkouts", true), Some(&start), &mut log).0,
            Plan::Changes {
                cursor: 9,
                window_after: Some("2026-12-01T00:00:00Z".into()),
                changes: StreamChanges::default(),
                horizon: None,
            }
        );
        let starts = HashMap::from([("checkouts", since(9)), ("customers", since(9))]);
        let chosen = [selected("checkouts", true), selected("customers", true)];
        let names: Vec<_> = tracked(&chosen, &starts, Duration::from_secs(60))
            .iter()
            .map(|(stream, from)| (stream.name, *from))
            .collect();
        let from = incremental::window_start(9, Duration::from_secs(60));
        assert!(from < 9 - 59_000_000, "a minute back: {from}");
        assert_eq!(names, [("customers", from)]);
    }

    #[test]
    fn without_the_change_log_a_followed_stream_is_read_in_full_or_fails_as_the_log_did() {
        let mut unreadable = ChangeLog::Unreadable;
        assert_eq!(
            plan(
                &selected("customers", true),
                Some(&since(1)),
                &mut unreadable
            )
            .0,
            FULL
        );
        let mut failed = ChangeLog::Failed {
            failure_type: FailureType::TransientError,
            message: "reading Polar's change log failed: 503".into(),
        };
        let (plan, _) = plan(&selected("refunds", true), Some(&since(1)), &mut failed);
        let Plan::FeedFailed {
            failure_type,
            message,
        } = plan
        else {
            panic!("{plan:?}");
        };
        assert_eq!(failure_type, FailureType::TransientError);
        assert!(message.contains("503"));
    }

    #[test]
    fn a_full_read_resumes_where_it_stopped_and_a_foreign_state_is_said() {
        let mut log = ChangeLog::NotRead;
        let resume = Resume {
            page: 4,
            last_id: Some("x".into()),
            created_after: None,
        };
        let start = Start::ResumeFull {
            resume: Some(resume.clone()),
            cursor: 5,
        };
        assert_eq!(
            plan(&selected("orders", true), Some(&start), &mut log).0,
            Plan::IncrementalFull {
                resume: Some(resume),
                cursor: Some(5)
            }
        );
        let fresh = Start::Fresh {
            replaced: Some("a full refresh checkpoint".into()),
        };
        let (plan, note) = plan(&selected("orders", true), Some(&fresh), &mut log);
        assert_eq!(plan, FULL);
        assert!(note.unwrap().contains("a full refresh checkpoint"));
        assert_eq!(
            super::plan(&selected("orders", true), None, &mut log),
            (FULL, None)
        );
    }

    fn any_start() -> impl Strategy<Value = Option<Start>> {
        prop_oneof![
            Just(None),
            Just(Some(Start::Fresh { replaced: None })),
            Just(Some(Start::ResumeFull {
                resume: None,
                cursor: 3
            })),
            (0i64..1_000_000).prop_map(|cursor| Some(since(cursor))),
        ]
    }

    proptest! {
        #[test]
        fn a_stream_reads_changes_only_from_a_cursor_it_may_sync_incrementally_from(
            index in 0..STREAMS.len(),
            asked_incremental in any::<bool>(),
            start in any_start(),
            log_kind in 0u8..4,
        ) {
            let chosen = Selected { stream: &STREAMS[index], asked_incremental };
            let stream = chosen.stream;
            let mut log = match log_kind {
                0 => read_log(&[(stream, 0)], &[], 10),
                1 => ChangeLog::Unreadable,
                2 => ChangeLog::Failed { failure_type: FailureType::SystemError, message: "bad".into() },
                _ => ChangeLog::NotRead,
            };
            let from_cursor = matches!(start, Some(Start::Since { .. }));
            let (plan, _) = plan(&chosen, start.as_ref(), &mut log);
            match plan {
                Plan::Periods { .. } => {
                    let periods = matches!(stream.shape, Shape::Periods { .. });
                    prop_assert!(periods);
                }
                Plan::FullRefresh => prop_assert!(!chosen.incremental()),
                Plan::IncrementalFull { .. } => prop_assert!(chosen.incremental()),
                Plan::Changes { horizon, .. } => {
                    prop_assert!(chosen.incremental() && from_cursor);
                    // The horizon is the change log's exactly when the stream follows events.
                    prop_assert_eq!(horizon.is_some(), stream.followed().is_some());
                    prop_assert!(stream.followed().is_none() || log_kind == 0);
                }
                Plan::FeedFailed { .. } => {
                    prop_assert!(chosen.incremental() && from_cursor && stream.followed().is_some());
                    prop_assert_eq!(log_kind, 2);
                }
            }
        }
    }
}
