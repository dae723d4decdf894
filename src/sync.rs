//! The `read` command: every selected stream read concurrently (bounded), each framed by its STARTED and
//! COMPLETE/INCOMPLETE statuses, one stream's failure never stopping the others. Streams synced from a
//! cursor first share one read of Polar's change log (see `incremental`).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures::StreamExt;

use crate::catalog::Selected;
use crate::client::{PAGE_SIZE, PolarClient};
use crate::incremental::{self, FeedError};
use crate::listing::Listing;
use crate::output::{Output, OutputClosed};
use crate::protocol::{FailureType, LogLevel, Message, StreamStatus};
use crate::reader::core::StreamSummary;
use crate::reader::{Checkpoints, Prefetch, Records, StreamError, StreamReader};
use crate::state::InputState;
use crate::state::checkpoint;
use crate::state::cursor::Start;
use crate::streams::StreamDef;
use crate::sync_plan::{self, ChangeLog, Plan};
use crate::tuning::Tuning;

/// How a whole sync ended.
pub struct SyncOutcome {
    /// The streams that did not complete, with their error.
    pub failed: Vec<(&'static str, StreamError)>,
}

pub async fn read(
    client: Arc<PolarClient>,
    output: &Output,
    streams: Vec<Selected>,
    starts: HashMap<&'static str, Start>,
    state: &InputState,
    tuning: &Tuning,
    lookback: Duration,
) -> Result<SyncOutcome, OutputClosed> {
    let started = Instant::now();
    let describe = |selected: &Selected| {
        format!(
            "{} ({})",
            selected.stream.name,
            if selected.incremental() {
                "incremental"
            } else {
                "full refresh"
            }
        )
    };
    output
        .log(
            LogLevel::Info,
            format!(
                "Starting a sync of {} stream(s): {}, at up to {} requests per minute",
                streams.len(),
                streams.iter().map(describe).collect::<Vec<_>>().join(", "),
                client.requests_per_minute()
            ),
        )
        .await?;
    let prefetch = Prefetch::new(tuning.pages_ahead, tuning.pages_buffered);
    // The streams synced from a cursor whose changes Polar's system events name need the change log, read
    // once for all of them.
    let tracked = sync_plan::tracked(&streams, &starts, lookback);
    let mut change_log = ChangeLog::NotRead;
    if !tracked.is_empty() {
        let names = || {
            tracked
                .iter()
                .map(|(stream, _)| stream.name)
                .collect::<Vec<_>>()
                .join(", ")
        };
        change_log = match incremental::read_feed(client.clone(), output, &prefetch, &tracked)
            .await?
        {
            Ok(read) => {
                output
                    .log(
                        LogLevel::Info,
                        format!(
                            "Read {} system events from Polar's change log for {}",
                            read.events,
                            names()
                        ),
                    )
                    .await?;
                ChangeLog::Read(read)
            }
            Err(FeedError::MissingScope) => {
                output
                    .log(
                        LogLevel::Warn,
                        format!(
                            "The access token lacks the 'events:read' scope, so the changes of {} cannot be \
                             tracked: they are read in full this sync (and every sync until a token with \
                             'events:read' replaces this one), and customers deleted in Polar stay in a \
                             deduplicating destination until a full refresh that overwrites it",
                            names()
                        ),
                    )
                    .await?;
                ChangeLog::Unreadable
            }
            Err(FeedError::Failed(error)) => ChangeLog::Failed {
                failure_type: error.failure_type(),
                message: format!("reading Polar's change log (system events) failed: {error}"),
            },
            Err(FeedError::BadEvent(bad)) => ChangeLog::Failed {
                failure_type: FailureType::SystemError,
                message: bad.to_string(),
            },
        };
    }
    let mut plans: Vec<(&'static StreamDef, Plan)> = Vec::with_capacity(streams.len());
    for selected in &streams {
        let (plan, note) =
            sync_plan::plan(selected, starts.get(selected.stream.name), &mut change_log);
        if let Some(note) = note {
            output.log(LogLevel::Info, note).await?;
        }
        plans.push((selected.stream, plan));
    }
    let results: Vec<_> = futures::stream::iter(plans)
        .map(|(stream, plan)| {
            let client = client.clone();
            let prefetch = &prefetch;
            async move {
                let result = read_stream(
                    client,
                    output,
                    stream,
                    plan,
                    state.get(stream.name),
                    prefetch,
                    lookback,
                )
                .await;
                (stream.name, result)
            }
        })
        .buffer_unordered(tuning.concurrent_streams.max(1))
        .collect()
        .await;
    let mut failed = Vec::new();
    for (name, result) in results {
        if let Err(error) = result? {
            failed.push((name, error));
        }
    }
    let stats = &client.stats;
    output
        .log(
            LogLevel::Info,
            format!(
                "Finished the sync in {:.1} s: {} requests, {} retries, {} rate-limited answers",
                started.elapsed().as_secs_f64(),
                stats.requests.load(Ordering::Relaxed),
                stats.retries.load(Ordering::Relaxed),
                stats.rate_limited.load(Ordering::Relaxed)
            ),
        )
        .await?;
    Ok(SyncOutcome { failed })
}

/// One stream, start to end status. A failure is reported here (INCOMPLETE and a TRACE ERROR naming the
/// stream) and returned for the final summary.
async fn read_stream(
    client: Arc<PolarClient>,
    output: &Output,
    stream: &'static StreamDef,
    plan: Plan,
    state: Option<&serde_json::Value>,
    prefetch: &Prefetch,
    lookback: Duration,
) -> Result<Result<(), StreamError>, OutputClosed> {
    let started = Instant::now();
    output
        .send(&Message::stream_status(stream.name, StreamStatus::Started))
        .await?;
    let outcome: Result<String, StreamError> = match plan {
        Plan::Periods { limits, interval } => {
            crate::periods::read(client, output, stream, limits, interval)
                .await?
                .map(|summary| format!("{} periods in {} requests", summary.records, summary.pages))
        }
        Plan::FullRefresh => {
            let resume = match checkpoint::resume_point(stream, PAGE_SIZE, state) {
                Ok(resume) => resume,
                Err(reason) => {
                    output
                        .log(
                            LogLevel::Warn,
                            format!(
                                "{}: ignoring the input state and starting from page 1: {reason}",
                                stream.name
                            ),
                        )
                        .await?;
                    None
                }
            };
            StreamReader::new(
                client,
                output,
                Listing::of(stream),
                prefetch,
                Checkpoints::FullRefresh,
            )
            .run(resume, Records::write())
            .await?
            .map(|summary| describe_read(&summary))
        }
        Plan::IncrementalFull { resume, cursor } => {
            let checkpoints = Checkpoints::Incremental {
                cursor: cursor.map(|cursor| crate::time::format(cursor).into()),
            };
            StreamReader::new(client, output, Listing::of(stream), prefetch, checkpoints)
                .run(
                    resume,
                    Records {
                        cdc: true,
                        ..Records::write()
                    },
                )
                .await?
                .map(|summary| {
                    format!(
                        "{} (in full, for incremental syncs)",
                        describe_read(&summary)
                    )
                })
        }
        Plan::Changes {
            cursor,
            window_after,
            changes,
            horizon,
        } => incremental::read_changes(
            client,
            output,
            stream,
            prefetch,
            (cursor, window_after),
            lookback,
            horizon,
            changes,
        )
        .await?
        .map(|summary| {
            if summary.in_full {
                format!(
                    "{} records read in full (incremental)",
                    summary.new_or_current
                )
            } else {
                format!(
                    "{} new or current, {} read again, {} deleted{}, in {} requests (incremental)",
                    summary.new_or_current,
                    summary.read_again,
                    summary.deleted,
                    if summary.unlisted > 0 {
                        format!(
                            ", {} named by events but no longer listed",
                            summary.unlisted
                        )
                    } else {
                        String::new()
                    },
                    summary.requests
                )
            }
        }),
        Plan::FeedFailed {
            failure_type,
            message,
        } => Err(StreamError::ChangeLog {
            failure_type,
            message,
        }),
    };
    match outcome {
        Ok(description) => {
            let message = format!(
                "{}: {description} in {:.1} s",
                stream.name,
                started.elapsed().as_secs_f64()
            );
            output.log(LogLevel::Info, message).await?;
            output
                .send(&Message::stream_status(stream.name, StreamStatus::Complete))
                .await?;
            Ok(Ok(()))
        }
        Err(error) => {
            output
                .send(&Message::stream_status(
                    stream.name,
                    StreamStatus::Incomplete,
                ))
                .await?;
            let failure_type = error.failure_type();
            let message = format!("Stream '{}' failed: {error}", stream.name);
            output
                .send(&Message::error(
                    failure_type,
                    &message,
                    None,
                    Some(stream.name),
                ))
                .await?;
            Ok(Err(error))
        }
    }
}

fn describe_read(summary: &StreamSummary) -> String {
    format!(
        "{} records in {} pages{}",
        summary.records,
        summary.pages,
        if summary.recovery_requests > 0 {
            format!(
                " (+{} requests to recover moved records)",
                summary.recovery_requests
            )
        } else {
            String::new()
        }
    )
}

/// The failure type of a sync whose `failed` streams are given: the user's problem first, then a passing one.
pub fn overall_failure_type(failed: &[(&str, StreamError)]) -> FailureType {
    let types: Vec<FailureType> = failed
        .iter()
        .map(|(_, error)| error.failure_type())
        .collect();
    [
        FailureType::ConfigError,
        FailureType::SystemError,
        FailureType::TransientError,
    ]
    .into_iter()
    .find(|wanted| types.contains(wanted))
    .unwrap_or(FailureType::SystemError)
}
