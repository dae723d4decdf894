//! The `read` command: every selected stream read concurrently (bounded), each framed by its STARTED and
//! COMPLETE/INCOMPLETE statuses, one stream's failure never stopping the others.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use futures::StreamExt;

use crate::client::{PAGE_SIZE, PolarClient};
use crate::output::{Output, OutputClosed};
use crate::protocol::{FailureType, LogLevel, Message, StreamStatus};
use crate::reader::checkpoint;
use crate::reader::{Prefetch, StreamError, StreamReader};
use crate::state::InputState;
use crate::streams::StreamDef;
use crate::tuning::Tuning;

/// How a whole sync ended.
pub struct SyncOutcome {
    /// The streams that did not complete, with their error.
    pub failed: Vec<(&'static str, StreamError)>,
}

pub async fn read(
    client: Arc<PolarClient>,
    output: &Output,
    streams: Vec<&'static StreamDef>,
    state: &InputState,
    tuning: &Tuning,
) -> Result<SyncOutcome, OutputClosed> {
    let started = Instant::now();
    let names: Vec<&str> = streams.iter().map(|stream| stream.name).collect();
    output
        .log(
            LogLevel::Info,
            format!(
                "Starting a full refresh of {} stream(s) ({}) at up to {} requests per minute",
                streams.len(),
                names.join(", "),
                client.requests_per_minute()
            ),
        )
        .await?;
    let prefetch = Prefetch::new(tuning.pages_ahead, tuning.pages_buffered);
    let results: Vec<_> = futures::stream::iter(streams)
        .map(|stream| {
            let client = client.clone();
            let prefetch = &prefetch;
            async move {
                let result =
                    read_stream(client, output, stream, state.get(stream.name), prefetch).await;
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
    state: Option<&serde_json::Value>,
    prefetch: &Prefetch,
) -> Result<Result<(), StreamError>, OutputClosed> {
    let started = Instant::now();
    output
        .send(&Message::stream_status(stream.name, StreamStatus::Started))
        .await?;
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
    match StreamReader::new(client, output, stream, prefetch)
        .run(resume)
        .await?
    {
        Ok(summary) => {
            let message = format!(
                "{}: {} records in {} pages{} in {:.1} s",
                stream.name,
                summary.records,
                summary.pages,
                if summary.recovery_requests > 0 {
                    format!(
                        " (+{} requests to recover moved records)",
                        summary.recovery_requests
                    )
                } else {
                    String::new()
                },
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
