//! The generic paginated reader: every record of one stream, each `id` once, pages streamed (never the whole
//! stream in memory).
//!
//! # Why this delivers every record that exists for the whole sync
//!
//! Polar pages with `OFFSET/LIMIT` over the sort criteria of the stream table, ascending by creation time.
//! Three things can move a record across a page boundary while we page, and each is handled here:
//!
//! 1. **Records created during the sync** take a creation time later than every record already read, so they
//!    land after the current position and shift nothing we have yet to read. When they add pages, the reader
//!    follows `max_page` as it grows.
//! 2. **Records deleted during the sync** shift every later record one place towards the start: a record that
//!    stood first on the next page moves back onto a page already read and would be skipped. Every response
//!    carries `total_count`; when it differs between two consecutive pages, the records may have shifted by
//!    up to that difference, so the reader fetches the previous page again (more pages when the difference is
//!    larger than a page) and emits what it had not seen. At the end, a stream whose distinct records are
//!    fewer than Polar's last `total_count` has provably lost records and fails loudly instead of completing.
//! 3. **Ties**: Polar adds no tie-breaker, so records equal on every criterion can come back in a different
//!    order from one request to the next. Inside one page that is harmless; a tie group that straddles a page
//!    boundary can show one member twice and skip another. The reader tracks each such group: it occupies
//!    known offsets, so it must yield exactly that many distinct ids. If fewer arrived, it fetches one window
//!    (a page size chosen so that the whole group falls in one page) and emits the missing members; if the
//!    group cannot be made whole, the stream fails loudly.
//!
//! Duplicates (a record seen again after a shift or a reshuffle) are dropped by remembering the ids of the
//! last few pages and of the current tie group: a shift moves a record by at most the pages recovered above,
//! so memory stays bounded by pages, not by the size of the stream.
//!
//! What offset paging cannot reveal is left to the `total_count` checks: deletions exactly balanced by
//! creations between two page requests leave `total_count` unchanged; that window is one request long.
//!
//! # Resuming (resumable full refresh)
//!
//! After each page the reader emits a checkpoint `{"page": next, "limit": 100, "sorting": [...],
//! "last_id": id}`. A resumed read starts one page early, at `page - 1`, and looks for `last_id` there: records
//! deleted between attempts can only move later records towards the start, and by less than a page unless a
//! page's worth of deletions happened, so finding `last_id` proves that no record after it has slipped before
//! the restart point. If it is not found, the stream restarts from page 1 (records delivered twice across
//! attempts are deduplicated by the destination on the primary key).

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use crate::client::{ApiError, PAGE_SIZE, PolarClient};
use crate::output::{Output, OutputClosed};
use crate::page::{HashedSet, Page};
use crate::protocol::{FailureType, LogLevel, Message, RecordFrame, StreamStatus, now_millis};
use crate::streams::StreamDef;

/// Pages whose ids are remembered to drop duplicates after a shift.
const REMEMBERED_PAGES: usize = 4;
/// The largest `total_count` change between two pages that re-fetching can repair (in pages).
const MAX_RECOVERED_PAGES: u64 = 3;
/// How often a long stream logs its progress.
const PROGRESS_EVERY: Duration = Duration::from_secs(15);
/// The state a finished stream leaves, as the Airbyte CDK writes it.
pub const COMPLETE_MARKER: &str = "__ab_full_refresh_sync_complete";

/// How a stream ended when it did not complete.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(
        "Polar reported {total} {stream} but only {delivered} distinct ones arrived: records were deleted or \
         moved while the sync paged through them. Nothing is wrong with the data; run the sync again"
    )]
    Lost {
        stream: &'static str,
        total: u64,
        delivered: u64,
    },
    #[error(
        "{count} {stream} share the same sort values around offset {offset} and Polar returned them in an \
         unstable order, so some may be missing; run the sync again"
    )]
    UnstableTies {
        stream: &'static str,
        count: u64,
        offset: u64,
    },
    #[error(
        "the number of {stream} changed by {change} between two page requests, more than can be recovered; \
         run the sync again when fewer records are being deleted"
    )]
    TooMuchChurn { stream: &'static str, change: u64 },
}

impl StreamError {
    pub fn failure_type(&self) -> FailureType {
        match self {
            StreamError::Api(api) => api.failure_type(),
            // The data moved under the sync: the next attempt reads it afresh.
            StreamError::Lost { .. }
            | StreamError::UnstableTies { .. }
            | StreamError::TooMuchChurn { .. } => FailureType::TransientError,
        }
    }
}

impl From<OutputClosed> for StreamError {
    fn from(closed: OutputClosed) -> Self {
        StreamError::Api(ApiError::Output(closed))
    }
}

/// What one stream delivered.
#[derive(Debug, Default, Clone)]
pub struct StreamSummary {
    pub records: u64,
    pub pages: u64,
    pub recovery_requests: u64,
}

/// A checkpoint to resume from, when the input state holds a usable one.
#[derive(Debug, Clone, PartialEq)]
pub struct Resume {
    pub page: u32,
    pub last_id: Option<String>,
}

/// Reads a checkpoint left by [`Checkpoint::state`]. `Ok(None)`: start from page 1 (no state, or the
/// stream completed). `Err`: a checkpoint that does not fit this reader, with the reason to log.
pub fn resume_point(stream: &StreamDef, state: Option<&Value>) -> Result<Option<Resume>, String> {
    let Some(state) = state.filter(|state| !state.is_null()) else {
        return Ok(None);
    };
    if state.get(COMPLETE_MARKER) == Some(&Value::Bool(true))
        || state.as_object().is_some_and(|o| o.is_empty())
    {
        return Ok(None);
    }
    let page = state
        .get("page")
        .and_then(Value::as_u64)
        .filter(|page| (1..=u64::from(u32::MAX)).contains(page));
    let Some(page) = page else {
        return Err(format!("the checkpoint {state} has no valid 'page'"));
    };
    if state.get("limit").and_then(Value::as_u64) != Some(u64::from(PAGE_SIZE)) {
        return Err(format!(
            "the checkpoint was taken with another page size ({state})"
        ));
    }
    if state.get("sorting") != Some(&json!(stream.sorting)) {
        return Err(format!(
            "the checkpoint was taken with another sort order ({state})"
        ));
    }
    let last_id = state
        .get("last_id")
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok(Some(Resume {
        page: page as u32,
        last_id,
    }))
}

/// How far readers fetch ahead of what they emit, shared by every stream of a sync.
///
/// Each stream requests up to `pages_ahead` pages ahead of the one it is emitting, so latency overlaps. Memory
/// is bounded across the sync: a page fetched ahead holds one of `pages_buffered` permits from its request
/// until it is emitted, so no more than `pages_buffered` pages wait in memory however many streams run.
///
/// Permits are taken in page order within a stream (the tokio semaphore is fair), so every page holding one
/// waits only for earlier pages that hold one too: the budget cannot deadlock. Requests the reader makes for
/// itself (the first page, re-reads after a shift, tie windows) take no permit, as they are emitted at once.
pub struct Prefetch {
    pages_ahead: usize,
    budget: Semaphore,
}

impl Prefetch {
    pub fn new(pages_ahead: usize, pages_buffered: usize) -> Prefetch {
        Prefetch {
            pages_ahead: pages_ahead.max(1),
            budget: Semaphore::new(pages_buffered.max(1)),
        }
    }
}

/// The reader of one stream.
pub struct StreamReader<'a> {
    client: &'a PolarClient,
    output: &'a Output,
    stream: &'static StreamDef,
    prefetch: &'a Prefetch,
    /// Ids of the last pages read, newest last.
    recent: VecDeque<HashedSet>,
    group: Option<TieGroup>,
    summary: StreamSummary,
    records_since_state: u64,
    last_total: Option<u64>,
    /// The `id` of the last record of the last page read, for the checkpoint.
    last_id: Option<String>,
    running: bool,
}

/// Consecutive records equal on every sort criterion.
struct TieGroup {
    key: u64,
    first_offset: u64,
    last_offset: u64,
    members: HashedSet,
    /// Whether it spans a page boundary (only then can request-to-request reordering hurt).
    spans_pages: bool,
}

impl<'a> StreamReader<'a> {
    pub fn new(
        client: &'a PolarClient,
        output: &'a Output,
        stream: &'static StreamDef,
        prefetch: &'a Prefetch,
    ) -> Self {
        StreamReader {
            client,
            output,
            stream,
            prefetch,
            recent: VecDeque::with_capacity(REMEMBERED_PAGES + 1),
            group: None,
            summary: StreamSummary::default(),
            records_since_state: 0,
            last_total: None,
            last_id: None,
            running: false,
        }
    }

    /// Reads the whole stream, emitting RUNNING, ESTIMATE, RECORD, STATE and LOG messages (STARTED and the
    /// final status are the caller's).
    pub async fn run(mut self, resume: Option<Resume>) -> Result<StreamSummary, StreamError> {
        let started = Instant::now();
        let mut last_progress = Instant::now();
        let mut first_page = 1;
        if let Some(resume) = resume {
            first_page = self.resume_start(resume).await?;
        }
        let page = self
            .client
            .fetch_page(self.stream, first_page, PAGE_SIZE)
            .await?;
        self.output
            .send(&Message::estimate(self.stream.name, page.total_count))
            .await?;
        let mut max_page = page.max_page;
        self.process(first_page, page).await?;
        let mut next = first_page + 1;
        // Pages are requested ahead, in parallel, and processed in order. `max_page` may grow while we read.
        while u64::from(next) <= max_page {
            let last = u32::try_from(max_page).unwrap_or(u32::MAX);
            let client = self.client;
            let stream = self.stream;
            let budget = &self.prefetch.budget;
            let pages = futures::stream::iter(next..=last)
                .then(|number| async move {
                    let permit = budget.acquire().await.expect("never closed");
                    (number, permit)
                })
                .map(|(number, permit)| async move {
                    let page = client.fetch_page(stream, number, PAGE_SIZE).await;
                    (number, permit, page)
                })
                .buffered(self.prefetch.pages_ahead);
            let mut pages = std::pin::pin!(pages);
            while let Some((number, permit, page)) = pages.next().await {
                let page = page?;
                max_page = max_page.max(page.max_page);
                self.process(number, page).await?;
                drop(permit);
                next = number + 1;
                if last_progress.elapsed() >= PROGRESS_EVERY {
                    last_progress = Instant::now();
                    self.log_progress(started).await?;
                }
            }
        }
        self.close_group().await?;
        let total = self.last_total.unwrap_or(0);
        if self.summary.records < total && first_page == 1 {
            return Err(StreamError::Lost {
                stream: self.stream.name,
                total,
                delivered: self.summary.records,
            });
        }
        let complete = json!({ COMPLETE_MARKER: true });
        self.output
            .send(&Message::stream_state(
                self.stream.name,
                complete,
                std::mem::take(&mut self.records_since_state),
            ))
            .await?;
        Ok(self.summary)
    }

    /// Where a resumed read continues: the overlap page before the checkpoint is read first, and the
    /// checkpoint is trusted only if its `last_id` is found there (see the module's doc).
    async fn resume_start(&mut self, resume: Resume) -> Result<u32, StreamError> {
        if resume.page <= 1 {
            return Ok(1);
        }
        let overlap = resume.page - 1;
        let page = self
            .client
            .fetch_page(self.stream, overlap, PAGE_SIZE)
            .await?;
        let found = resume.last_id.as_deref().is_some_and(|last| {
            let wanted =
                crate::page::hash(&serde_json::to_string(last).expect("a string serializes"));
            page.items.iter().any(|item| item.id == wanted)
        });
        if !found {
            let message = format!(
                "{}: the checkpoint's last record is no longer on page {overlap} (records were deleted since); \
                 restarting this stream from page 1",
                self.stream.name
            );
            self.output.log(LogLevel::Warn, message).await?;
            return Ok(1);
        }
        let message = format!(
            "{}: resuming from the checkpoint at page {}",
            self.stream.name, resume.page
        );
        self.output.log(LogLevel::Info, message).await?;
        // The overlap page is processed like any other: records from before `last_id` may be delivered again.
        self.process(overlap, page).await?;
        Ok(resume.page)
    }

    /// Emits one page's new records and its checkpoint, then repairs shifts and ties it reveals.
    async fn process(&mut self, number: u32, page: Page) -> Result<(), StreamError> {
        if !self.running {
            self.running = true;
            self.output
                .send(&Message::stream_status(
                    self.stream.name,
                    StreamStatus::Running,
                ))
                .await?;
        }
        self.summary.pages += 1;
        let total_changed = self
            .last_total
            .is_some_and(|total| total != page.total_count);
        let change = self
            .last_total
            .map_or(0, |total| total.abs_diff(page.total_count));
        self.last_total = Some(page.total_count);
        let base_offset = u64::from(number - 1) * u64::from(PAGE_SIZE);
        let page = Arc::new(page);
        self.emit(&page, Some(base_offset)).await?;
        if let Some(last) = page.items.last() {
            self.last_id = serde_json::from_str(page.id_json(last)).ok();
        }
        if total_changed && number > 1 {
            self.recover_shift(number, change).await?;
        }
        self.checkpoint(number + 1).await
    }

    /// Writes the records of `page` not seen yet and remembers its ids. `base_offset` is the page's offset in
    /// the listing when the page belongs to the main pass (tie groups are tracked only there).
    async fn emit(
        &mut self,
        page: &Arc<Page>,
        base_offset: Option<u64>,
    ) -> Result<u64, StreamError> {
        if self.recent.len() >= REMEMBERED_PAGES {
            self.recent.pop_front();
        }
        self.recent.push_back(HashedSet::with_capacity_and_hasher(
            page.items.len(),
            Default::default(),
        ));
        let mut emitted = Vec::with_capacity(page.items.len());
        for (index, item) in page.items.iter().enumerate() {
            if let Some(base) = base_offset {
                self.track_tie(base + index as u64, index == 0, item.sort_key)
                    .await?;
            }
            let duplicate = self.seen(item.id);
            if let Some(group) = self
                .group
                .as_mut()
                .filter(|group| group.key == item.sort_key)
            {
                group.members.insert(item.id);
            }
            self.recent
                .back_mut()
                .expect("pushed above")
                .insert(item.id);
            if !duplicate {
                emitted.push(index as u32);
            }
        }
        self.send_records(Arc::clone(page), emitted).await
    }

    /// Emits `page.items[i]` for each `i` in `items` and counts them; returns how many.
    async fn send_records(&mut self, page: Arc<Page>, items: Vec<u32>) -> Result<u64, StreamError> {
        let count = items.len() as u64;
        self.summary.records += count;
        self.records_since_state += count;
        let frame = RecordFrame::new(self.stream.name, now_millis());
        self.output.send_records(page, frame, items).await?;
        Ok(count)
    }

    fn seen(&self, id: u64) -> bool {
        self.recent.iter().any(|ids| ids.contains(&id))
            || self
                .group
                .as_ref()
                .is_some_and(|group| group.members.contains(&id))
    }

    /// Follows tie groups through the main pass and verifies each one that crossed a page boundary.
    async fn track_tie(
        &mut self,
        offset: u64,
        page_start: bool,
        sort_key: u64,
    ) -> Result<(), StreamError> {
        match self.group.as_mut() {
            Some(group) if group.key == sort_key => {
                group.last_offset = offset;
                group.spans_pages |= page_start;
                Ok(())
            }
            _ => {
                self.close_group().await?;
                self.group = Some(TieGroup {
                    key: sort_key,
                    first_offset: offset,
                    last_offset: offset,
                    members: HashedSet::default(),
                    spans_pages: false,
                });
                Ok(())
            }
        }
    }

    /// Verifies the group that just ended: a group over `n` offsets must have yielded `n` distinct ids.
    async fn close_group(&mut self) -> Result<(), StreamError> {
        let Some(group) = self.group.take() else {
            return Ok(());
        };
        let size = group.last_offset - group.first_offset + 1;
        if !group.spans_pages || group.members.len() as u64 >= size {
            return Ok(());
        }
        let Some((page_number, limit)) = covering_window(group.first_offset, group.last_offset)
        else {
            return Err(StreamError::UnstableTies {
                stream: self.stream.name,
                count: size,
                offset: group.first_offset,
            });
        };
        self.output
            .log(
                LogLevel::Info,
                format!(
                    "{}: {} records share their sort values across a page boundary and {} of them arrived; \
                     fetching them together",
                    self.stream.name,
                    size,
                    group.members.len()
                ),
            )
            .await?;
        let page = self
            .client
            .fetch_page(self.stream, page_number, limit)
            .await?;
        self.summary.recovery_requests += 1;
        let mut members = group.members;
        let mut missing = Vec::new();
        for (index, item) in page.items.iter().enumerate() {
            if item.sort_key != group.key {
                continue;
            }
            if !members.contains(&item.id) && !self.seen(item.id) {
                missing.push(index as u32);
            }
            members.insert(item.id);
        }
        self.send_records(Arc::new(page), missing).await?;
        if (members.len() as u64) < size {
            return Err(StreamError::UnstableTies {
                stream: self.stream.name,
                count: size,
                offset: group.first_offset,
            });
        }
        // The group's ids stay remembered until the pages around it are forgotten.
        if let Some(current) = self.recent.back_mut() {
            current.extend(members);
        }
        Ok(())
    }

    /// `total_count` changed between the previous page and page `number`: records may have shifted back across
    /// the boundary. Fetch the pages before it again and emit what was not seen.
    async fn recover_shift(&mut self, number: u32, change: u64) -> Result<(), StreamError> {
        let pages_back = change.div_ceil(u64::from(PAGE_SIZE)).max(1);
        if pages_back > MAX_RECOVERED_PAGES {
            return Err(StreamError::TooMuchChurn {
                stream: self.stream.name,
                change,
            });
        }
        self.output
            .log(
                LogLevel::Info,
                format!(
                    "{}: the record count changed by {change} while paging; re-reading {pages_back} page(s) before \
                     page {number} for records that moved",
                    self.stream.name
                ),
            )
            .await?;
        for back in 1..=pages_back as u32 {
            let Some(earlier) = number.checked_sub(back).filter(|page| *page >= 1) else {
                break;
            };
            let page = self
                .client
                .fetch_page(self.stream, earlier, PAGE_SIZE)
                .await?;
            self.summary.recovery_requests += 1;
            self.last_total = Some(page.total_count);
            self.emit(&Arc::new(page), None).await?;
        }
        Ok(())
    }

    async fn checkpoint(&mut self, next_page: u32) -> Result<(), StreamError> {
        let state = json!({
            "page": next_page,
            "limit": PAGE_SIZE,
            "sorting": self.stream.sorting,
            "last_id": self.last_id,
        });
        let count = std::mem::take(&mut self.records_since_state);
        self.output
            .send(&Message::stream_state(self.stream.name, state, count))
            .await?;
        Ok(())
    }

    async fn log_progress(&self, started: Instant) -> Result<(), OutputClosed> {
        let seconds = started.elapsed().as_secs_f64();
        let message = format!(
            "{}: {} records in {} pages so far ({:.0} records/s), {} retries across the sync",
            self.stream.name,
            self.summary.records,
            self.summary.pages,
            self.summary.records as f64 / seconds.max(0.001),
            self.client.stats.retries.load(Ordering::Relaxed)
        );
        self.output.log(LogLevel::Info, message).await
    }
}

/// A page (number, limit) whose single window holds offsets `first..=last` (0-based), if one exists.
fn covering_window(first: u64, last: u64) -> Option<(u32, u32)> {
    let size = last - first + 1;
    (size..=u64::from(PAGE_SIZE))
        .find(|limit| first / limit == last / limit)
        .map(|limit| {
            let page = first / limit + 1;
            (u32::try_from(page).unwrap_or(u32::MAX), limit as u32)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covering_window_holds_the_whole_group() {
        for (first, last) in [
            (95, 104),
            (0, 0),
            (99, 100),
            (200, 299),
            (1234, 1240),
            (150, 199),
        ] {
            if let Some((page, limit)) = covering_window(first, last) {
                let start = u64::from(page - 1) * u64::from(limit);
                assert!(
                    start <= first && last < start + u64::from(limit),
                    "{first}..{last}: {page}/{limit}"
                );
            } else {
                panic!("no window for {first}..{last}");
            }
        }
        assert_eq!(
            covering_window(10, 110),
            None,
            "a group larger than a page has no window"
        );
        assert_eq!(
            covering_window(150, 249),
            None,
            "no page of 100 starts at 150"
        );
    }
}
