//! Polar's metrics, read as a stream: one record per period (a UTC day) from the organization's first day to
//! today.
//!
//! `GET /v1/metrics/` is not a list: Polar computes the figures of a span of dates when asked, one period per
//! interval, and takes at most `max_days` days per request; the first date and that limit come from
//! `GET /v1/metrics/limits`. [`spans`] (pure) cuts the days into requests; the read emits every period as
//! Polar sent it, in order, and a full refresh's completion state at the end. A past day's figures change as
//! refunds and cancellations land, so the stream has no cursor: each sync reads it whole, which costs one
//! request per `max_days` days (a few for years of history).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use chrono::{Datelike, NaiveDate, TimeDelta};
use serde::Deserialize;

use crate::client::{ApiError, PolarClient, RequestLabel};
use crate::output::{Output, OutputClosed};
use crate::page::{OffContract, Page};
use crate::protocol::{Message, RecordFrame, StreamStatus, now_millis};
use crate::reader::core::StreamSummary;
use crate::reader::{StreamError, with_reports};
use crate::state::checkpoint::StreamState;
use crate::streams::StreamDef;

/// The time zone the periods are cut in.
pub const TIMEZONE: &str = "UTC";

/// The spans of at most `max_days` days that cover `first..=last`, in order (none when `last` is before
/// `first`).
pub fn spans(first: NaiveDate, last: NaiveDate, max_days: u32) -> Vec<(NaiveDate, NaiveDate)> {
    let step = TimeDelta::days(i64::from(max_days.max(1)) - 1);
    let mut spans = Vec::new();
    let mut start = first;
    while start <= last {
        let end = start
            .checked_add_signed(step)
            .map_or(last, |end| end.min(last));
        spans.push((start, end));
        let Some(next) = end.succ_opt() else { break };
        start = next;
    }
    spans
}

/// What `GET /v1/metrics/limits` says (polar-sdk's `MetricsLimits`), as far as the read needs it.
#[derive(Debug, Deserialize)]
struct Limits {
    /// The first date Polar has metrics for (the organization's creation).
    min_date: String,
    intervals: HashMap<String, IntervalLimit>,
}

#[derive(Debug, Deserialize)]
struct IntervalLimit {
    max_days: u32,
}

/// Reads every period of `stream` (`interval` periods, from `limits`), emitting RUNNING, ESTIMATE, the
/// records and the completion STATE.
pub async fn read(
    client: Arc<PolarClient>,
    output: &Output,
    stream: &'static StreamDef,
    limits_path: &'static str,
    interval: &'static str,
) -> Result<Result<StreamSummary, StreamError>, OutputClosed> {
    let mut summary = StreamSummary::default();
    let client = &client;
    let limits = with_reports(output, |events| async move {
        client.fetch_limits(stream, limits_path, &events).await
    })
    .await?;
    let limits = match limits {
        Ok(page) => page,
        Err(error) => return Ok(Err(error.into())),
    };
    summary.pages += 1;
    let answered = limits.date.unwrap_or_else(SystemTime::now);
    let today = chrono::DateTime::<chrono::Utc>::from(answered).date_naive();
    let (first, max_days) = match read_limits(&limits, interval) {
        Ok(found) => found,
        Err(problem) => {
            return Ok(Err(ApiError::OffContract {
                request: RequestLabel::Limits { path: limits_path },
                problem: OffContract::Unexpected(problem),
            }
            .into()));
        }
    };
    let spans = spans(first, today, max_days);
    let days = spans.last().map_or(0, |(_, last)| {
        u64::try_from((*last - first).num_days() + 1).unwrap_or(0)
    });
    output
        .send(&Message::stream_status(stream.name, StreamStatus::Running))
        .await?;
    output.send(&Message::estimate(stream.name, days)).await?;
    for (start, end) in spans {
        let (start, end) = (date_text(start), date_text(end));
        let query = [
            ("start_date", start.as_str()),
            ("end_date", end.as_str()),
            ("interval", interval),
            ("timezone", TIMEZONE),
        ];
        let span = format!("{start} to {end}");
        let (query, span) = (&query, &span);
        let page = with_reports(output, |events| async move {
            client.fetch_metrics(stream, query, span, &events).await
        })
        .await?;
        let page = match page {
            Ok(page) => page,
            Err(error) => return Ok(Err(error.into())),
        };
        summary.pages += 1;
        summary.records += page.items.len() as u64;
        let emit: Vec<u32> = (0..page.items.len() as u32).collect();
        if !emit.is_empty() {
            let frame = RecordFrame::new(stream.name, now_millis(), false);
            output.send_records(Arc::new(page), frame, emit).await?;
        }
    }
    output
        .send(&Message::stream_state(
            stream.name,
            StreamState::Complete.to_json(),
            summary.records,
        ))
        .await?;
    Ok(Ok(summary))
}

/// The first date and the longest span (in days) of `interval` periods, from the limits' response.
fn read_limits(page: &Page, interval: &str) -> Result<(NaiveDate, u32), String> {
    let limits: Limits = serde_json::from_str(page.text(&page.items[0])).map_err(|error| {
        format!("the metrics' limits are not polar-sdk's MetricsLimits ({error})")
    })?;
    let first = NaiveDate::parse_from_str(
        limits.min_date.get(..10).unwrap_or(&limits.min_date),
        "%Y-%m-%d",
    )
    .map_err(|_| {
        format!(
            "the metrics' first date {:?} is not a date such as 2025-01-31",
            limits.min_date
        )
    })?;
    let max_days = limits
        .intervals
        .get(interval)
        .map(|limit| limit.max_days)
        .filter(|days| *days > 0)
        .ok_or_else(|| format!("the metrics' limits give no positive max_days for '{interval}'"))?;
    Ok((first, max_days))
}

fn date_text(date: NaiveDate) -> String {
    format!("{:04}-{:02}-{:02}", date.year(), date.month(), date.day())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn spans_cover_the_days_in_requests_of_at_most_max_days() {
        assert_eq!(
            spans(day("2025-01-01"), day("2026-12-01"), 366),
            [
                (day("2025-01-01"), day("2026-01-01")),
                (day("2026-01-02"), day("2026-12-01")),
            ]
        );
        assert_eq!(
            spans(day("2026-12-01"), day("2026-12-01"), 366),
            [(day("2026-12-01"), day("2026-12-01"))]
        );
        assert!(spans(day("2026-12-02"), day("2026-12-01"), 366).is_empty());
    }

    proptest! {
        /// Every day from the first to the last lies in exactly one span, spans follow each other in order,
        /// and none is longer than `max_days`.
        #[test]
        fn every_day_lies_in_one_span(start in 0i64..3_000, length in 0i64..2_000, max_days in 1u32..400) {
            let first = day("2020-01-01") + TimeDelta::days(start);
            let last = first + TimeDelta::days(length);
            let spans = spans(first, last, max_days);
            prop_assert_eq!(spans.first().map(|span| span.0), Some(first));
            prop_assert_eq!(spans.last().map(|span| span.1), Some(last));
            for (start, end) in &spans {
                prop_assert!(start <= end);
                prop_assert!((*end - *start).num_days() < i64::from(max_days));
            }
            for pair in spans.windows(2) {
                prop_assert_eq!(pair[0].1.succ_opt(), Some(pair[1].0));
            }
        }
    }

    #[test]
    fn limits_are_read_or_refused_with_what_is_wrong() {
        let page = |body: &str| Page::parse_document(body.to_owned()).unwrap();
        let good = page(
            r#"{"min_date": "2025-01-01", "intervals": {"day": {"min_days": 0, "max_days": 366}}}"#,
        );
        assert_eq!(read_limits(&good, "day"), Ok((day("2025-01-01"), 366)));
        for (body, says) in [
            (r#"{"intervals": {}}"#, "MetricsLimits"),
            (
                r#"{"min_date": "soon", "intervals": {"day": {"max_days": 1}}}"#,
                "not a date",
            ),
            (
                r#"{"min_date": "2025-01-01", "intervals": {"week": {"max_days": 9}}}"#,
                "max_days for 'day'",
            ),
        ] {
            let problem = read_limits(&page(body), "day").unwrap_err();
            assert!(problem.contains(says), "{problem}");
        }
    }
}
