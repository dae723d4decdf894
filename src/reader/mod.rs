//! Reading one stream: the driver around the I/O-free [`core::StreamCore`].
//!
//! The core decides what to fetch and what to emit; the driver only schedules fetches, applies the memory
//! bound and writes what the core says. Every fetch runs in a task of its own (`tokio::spawn`), so a request,
//! its rate-limit wait, its in-flight slot and its timers always progress whatever the driver is waiting on
//! (a slow stdout, another fetch): nothing a request needs can sit in a future that nobody polls, whatever
//! the tuning.
//!
//! Main-pass pages hold one of `pages_buffered` permits ([`Prefetch`]), shared by the whole sync, from their
//! request until they have been emitted: pages ahead are fetched only when a permit is free at once, and the
//! page the core needs now waits for one. That wait always ends: a stream waiting for a permit holds none,
//! and every stream that holds one already has its next page in hand or in flight in its own task, which
//! nothing else can hold up. Repairs (re-reads, tie windows, tail reads, the overlap page) are fetched one at a
//! time, at once, without a permit. Memory is therefore bounded by `pages_buffered`, plus one repair page per
//! stream being read, plus the output queue.
//!
//! The client's events (retries, rate-limited waits, requests in debug mode) come back on a channel that the
//! driver drains while it waits, and become LOG and RATE_LIMITED messages in the stream's own order.

pub mod boundary;
pub mod core;
mod recent;
pub mod witness;

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinHandle;

use crate::client::{ApiError, ClientEvent, PAGE_SIZE, PolarClient, reporting};
use crate::listing::Listing;
use crate::output::{Output, OutputClosed};
use crate::page::{HashedSet, Page};
use crate::protocol::{FailureType, LogLevel, Message, RecordFrame, now_millis};
use crate::state::checkpoint::{Resume, StreamState};
use crate::state::cursor::IncrementalState;

use self::core::{LossError, Note, PageRequest, Purpose, Step, StreamCore, StreamSummary};

/// Where a pass by a key that can be null starts: 1970-01-01, before any time Polar sets (the filter is
/// strict, so every record with a time passes it, and none without).
const KEY_FLOOR_MICROS: i64 = 0;

/// How often a long stream logs its progress.
const PROGRESS_EVERY: Duration = Duration::from_secs(15);

/// How a stream ended when it did not complete.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Loss(#[from] LossError),
    /// Polar's change log could not be read, so the stream's changes are unknown.
    #[error("{message}")]
    ChangeLog {
        failure_type: FailureType,
        message: String,
    },
}

impl StreamError {
    pub fn failure_type(&self) -> FailureType {
        match self {
            StreamError::Api(api) => api.failure_type(),
            StreamError::Loss(loss) => loss.failure_type(),
            StreamError::ChangeLog { failure_type, .. } => *failure_type,
        }
    }
}

/// How far readers fetch ahead of what they emit, shared by every stream of a sync.
pub struct Prefetch {
    pages_ahead: usize,
    budget: Arc<Semaphore>,
}

impl Prefetch {
    pub fn new(pages_ahead: usize, pages_buffered: usize) -> Prefetch {
        Prefetch {
            pages_ahead: pages_ahead.max(1),
            budget: Arc::new(Semaphore::new(pages_buffered.max(1))),
        }
    }
}

/// A page being fetched in its own task; the task is aborted if the page is no longer wanted.
struct Fetching {
    request: PageRequest,
    task: JoinHandle<Result<Page, ApiError>>,
    /// Held from the request until the page has been emitted (pages fetched ahead only).
    _permit: Option<OwnedSemaphorePermit>,
}

impl Drop for Fetching {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What a read's STATE messages say.
#[derive(Debug, Clone)]
pub enum Checkpoints {
    /// A full refresh: checkpoints while in progress, Airbyte's completion marker at the end.
    FullRefresh,
    /// The full read of a stream synced incrementally: checkpoints that carry `cursor`, and the incremental
    /// state `{"cursor": ...}` at the end (see `state::cursor`). Without a cursor yet, the read takes the
    /// server's clock (its `Date`) at the first page.
    Incremental { cursor: Option<Arc<str>> },
    /// A read inside an incremental sync (new records, records read again): no STATE, RUNNING or ESTIMATE,
    /// the incremental sync sends its own.
    Silent,
    /// The window paged by key of an incremental sync from `cursor`: as `Silent`, but each checkpoint is an
    /// incremental state that keeps `cursor` and says how far the new records were delivered
    /// (`state::cursor::IncrementalState::created_after`).
    Window { cursor: Arc<str> },
}

/// Takes a page and the indices of its records to emit, in place of writing them.
pub type PageVisitor<'v> = dyn FnMut(&Page, &[u32]) + Send + 'v;

/// Turns a page's records (the indices to emit) into lines to write in their place.
pub type PageRenderer<'v> = dyn FnMut(&Page, &[u32]) -> Vec<u8> + Send + 'v;

/// Where a read's records go.
pub struct Records<'r> {
    /// Each record gets Airbyte's `_ab_cdc_updated_at` (see `protocol::RecordFrame`).
    pub cdc: bool,
    /// Emit only the records whose id hash is here, taking each out as it is emitted.
    pub only: Option<&'r mut HashedSet>,
    /// Note the id hash of every record emitted.
    pub seen: Option<&'r mut HashedSet>,
    /// Hand the records to this instead of writing them.
    pub visit: Option<&'r mut PageVisitor<'r>>,
    /// Write what this makes of the records instead of the records.
    pub render: Option<&'r mut PageRenderer<'r>>,
}

impl<'r> Records<'r> {
    /// Every record written as it is.
    pub fn write() -> Records<'r> {
        Records {
            cdc: false,
            only: None,
            seen: None,
            visit: None,
            render: None,
        }
    }
}

/// The reader of one listing.
pub struct StreamReader<'a> {
    client: Arc<PolarClient>,
    output: &'a Output,
    listing: Arc<Listing>,
    prefetch: &'a Prefetch,
    checkpoints: Checkpoints,
    /// RUNNING was already sent for this stream.
    running_sent: bool,
    /// Records counted by the STATE messages sent so far.
    counted_in_states: u64,
    events: mpsc::UnboundedSender<ClientEvent>,
    event_source: mpsc::UnboundedReceiver<ClientEvent>,
}

impl<'a> StreamReader<'a> {
    pub fn new(
        client: Arc<PolarClient>,
        output: &'a Output,
        listing: Listing,
        prefetch: &'a Prefetch,
        checkpoints: Checkpoints,
    ) -> Self {
        let (events, event_source) = mpsc::unbounded_channel();
        StreamReader {
            client,
            output,
            listing: Arc::new(listing),
            prefetch,
            checkpoints,
            running_sent: false,
            counted_in_states: 0,
            events,
            event_source,
        }
    }

    /// The stream's RUNNING status was sent already: the read does not send it again.
    pub fn running_sent(mut self) -> Self {
        self.running_sent = true;
        self
    }

    /// Reads the whole listing, emitting RUNNING, ESTIMATE, RECORD, STATE and LOG messages (STARTED and the
    /// final status are the caller's). The outer error: stdout is gone.
    ///
    /// A listing paged by a key that can be null (`Listing::null_tail`) is read in two passes: first the records
    /// whose key is null (which the key's filter never returns), from the list sorted nulls first, then the
    /// others by key from the earliest time. A checkpoint of the second pass resumes it without the first.
    pub async fn run(
        mut self,
        resume: Option<Resume>,
        records: Records<'_>,
    ) -> Result<Result<StreamSummary, StreamError>, OutputClosed> {
        let tail = self
            .listing
            .null_tail
            .filter(|_| self.listing.key_filter.is_some() && self.listing.filters.is_empty());
        let Some(tail_sorting) = tail else {
            let mut core = StreamCore::new(&self.listing, PAGE_SIZE, resume);
            // A whole list, as a full read reads it, whose deletions the change log names.
            let whole = self.listing.filters.is_empty()
                && self.listing.key_filter.is_none()
                && !matches!(self.checkpoints, Checkpoints::Silent);
            if whole && deletion_event(&self.listing).is_some() {
                core = core.witnessed_by_change_log();
            }
            return self.run_core(core, records).await;
        };
        let keyed = resume.filter(|resume| resume.created_after.is_some());
        let mut nulls = None;
        if keyed.is_none() {
            if !self.running_sent && !matches!(self.checkpoints, Checkpoints::Silent) {
                self.output
                    .send(&Message::stream_status(
                        self.listing.name(),
                        crate::protocol::StreamStatus::Running,
                    ))
                    .await?;
            }
            self.running_sent = true;
            let listing = Listing {
                sorting: tail_sorting,
                key_filter: None,
                null_tail: None,
                ..(*self.listing).clone()
            };
            let core = StreamCore::new(&listing, PAGE_SIZE, None).nulls_only();
            let pass = StreamReader::new(
                Arc::clone(&self.client),
                self.output,
                listing,
                self.prefetch,
                Checkpoints::Silent,
            )
            .running_sent()
            .run_core(
                core,
                Records {
                    cdc: records.cdc,
                    ..Records::write()
                },
            )
            .await?;
            let pass = match pass {
                Ok(pass) => pass,
                Err(error) => return Ok(Err(error)),
            };
            // The cursor an incremental state leaves is the clock of the read's first answer: this pass's.
            if let (
                Checkpoints::Incremental {
                    cursor: cursor @ None,
                },
                Some(at),
            ) = (&mut self.checkpoints, pass.first_answer_at)
            {
                *cursor = Some(crate::time::format(at).into());
            }
            nulls = Some(pass);
        }
        let from = keyed.unwrap_or_else(|| Resume {
            page: 1,
            last_id: None,
            created_after: Some(crate::time::format(KEY_FLOOR_MICROS)),
        });
        let core = StreamCore::new(&self.listing, PAGE_SIZE, Some(from))
            .after_records(nulls.as_ref().map_or(0, |nulls| nulls.records));
        let keyed = self.run_core(core, records).await?;
        Ok(keyed.map(|keyed| match nulls {
            Some(nulls) => StreamSummary {
                records: nulls.records + keyed.records,
                pages: nulls.pages + keyed.pages,
                recovery_requests: nulls.recovery_requests + keyed.recovery_requests,
                first_answer_at: nulls.first_answer_at.or(keyed.first_answer_at),
                counted_in_states: nulls.counted_in_states + keyed.counted_in_states,
            },
            None => keyed,
        }))
    }

    /// Reads what `core` decides.
    pub async fn run_core(
        mut self,
        mut core: StreamCore,
        mut records: Records<'_>,
    ) -> Result<Result<StreamSummary, StreamError>, OutputClosed> {
        let started = Instant::now();
        let mut last_progress = Instant::now();
        let mut ahead: VecDeque<Fetching> = VecDeque::new();
        let mut first_answer_at = None;
        loop {
            let step = core.next_step();
            self.send_notes(core.take_notes()).await?;
            let request = match step {
                Step::Fetch(request) => request,
                Step::Done => {
                    return Ok(Ok(StreamSummary {
                        first_answer_at,
                        counted_in_states: self.counted_in_states,
                        ..core.summary().clone()
                    }));
                }
                Step::Fail(loss) => return Ok(Err(loss.into())),
                Step::Witness(from) => {
                    // Pages fetched ahead past the end hold permits the change log's read may need.
                    ahead.clear();
                    match self.read_change_log(from).await? {
                        Ok(changes) => {
                            core.witnessed(Ok(&changes.deletions));
                            let read = self
                                .read_created(&mut core, changes.created, records.cdc)
                                .await?;
                            if let Err(error) = read {
                                return Ok(Err(error.into()));
                            }
                        }
                        Err(why) => core.witnessed(Err(&why)),
                    }
                    continue;
                }
            };
            let fetching = if request.purpose == Purpose::Main {
                self.fetch_main(&mut ahead, &core, &request).await
            } else {
                self.spawn(&request, None)
            };
            let page = match self.wait_for(fetching).await? {
                Ok(page) => Arc::new(page),
                Err(error) => return Ok(Err(error.into())),
            };
            let answered_at = *first_answer_at.get_or_insert_with(|| page.server_now());
            if let Checkpoints::Incremental {
                cursor: cursor @ None,
            } = &mut self.checkpoints
            {
                *cursor = Some(crate::time::format(answered_at).into());
            }
            let mut emit = core.accept(request, &page);
            self.send_notes(core.take_notes()).await?;
            if let Some(only) = records.only.as_deref_mut() {
                emit.retain(|&index| only.remove(&page.items[index as usize].id));
            }
            if let Some(seen) = records.seen.as_deref_mut() {
                seen.extend(emit.iter().map(|&index| page.items[index as usize].id));
            }
            if let Some(visit) = records.visit.as_deref_mut() {
                visit(&page, &emit);
            } else if let Some(render) = records.render.as_deref_mut() {
                let lines = render(&page, &emit);
                self.output.send_lines(lines).await?;
            } else if !emit.is_empty() {
                let frame = RecordFrame::new(self.listing.name(), now_millis(), records.cdc);
                self.output.send_records(page, frame, emit).await?;
            }
            if last_progress.elapsed() >= PROGRESS_EVERY {
                last_progress = Instant::now();
                self.log_progress(core.summary(), started).await?;
            }
        }
    }

    /// What the change log says of the listing's records from `from` on (Polar's clock, Unix microseconds,
    /// strict): the times of their deletions and the ids of those created, or why it could not be read.
    async fn read_change_log(
        &self,
        from: i64,
    ) -> Result<Result<PassChanges, String>, OutputClosed> {
        let followed = self.listing.stream.followed();
        let Some((followed, name)) = followed.and_then(|f| Some((f, f.deleted_by?))) else {
            return Ok(Err("Polar records no event for its deletions".to_owned()));
        };
        let mut filters = vec![("source", "system".to_owned()), ("name", name.to_owned())];
        filters.extend(
            followed
                .created_by
                .map(|created| ("name", created.to_owned())),
        );
        let listing = Listing::of(&crate::streams::SYSTEM_EVENTS).filtered(filters);
        let mut changes = PassChanges::default();
        let mut unreadable = false;
        let mut visit = |page: &Page, emit: &[u32]| {
            for &index in emit {
                let event: serde_json::Value =
                    serde_json::from_str(page.text(&page.items[index as usize]))
                        .unwrap_or_default();
                let at = event["timestamp"].as_str().and_then(crate::time::micros);
                let id = event["metadata"][followed.id_key].as_str();
                match (event["name"].as_str(), at, id) {
                    (Some(event_name), Some(at), _) if event_name == name => {
                        changes.deletions.push(at)
                    }
                    // Only creations of the pass's span: an older record was the pass's to read.
                    (Some(event_name), Some(at), Some(id))
                        if Some(event_name) == followed.created_by =>
                    {
                        if at > from {
                            changes.created.push(id.to_owned());
                        }
                    }
                    // Events not asked for (a server that ignores `name`) say nothing of this stream.
                    (Some(event_name), _, _)
                        if Some(event_name) != followed.created_by && event_name != name => {}
                    _ => unreadable = true,
                }
            }
        };
        let records = Records {
            visit: Some(&mut visit),
            ..Records::write()
        };
        let read = Box::pin(read_system_events(
            Arc::clone(&self.client),
            self.output,
            self.prefetch,
            listing,
            from,
            records,
        ))
        .await?;
        Ok(match read {
            Err(StreamError::Api(ApiError::MissingScope { .. })) => Err(
                "the access token lacks 'events:read', so Polar's change log cannot witness the sync".to_owned(),
            ),
            Err(error) => Err(format!(
                "Polar's change log could not be read to witness the sync ({error})"
            )),
            Ok(_) if unreadable => Err(format!(
                "Polar's change log held an event of '{name}' or its creation without a readable time or id"
            )),
            Ok(_) => Ok(changes),
        })
    }

    /// Reads by id the records the change log says were created during the pass and the pass did not deliver
    /// (created after its last read of the list's end, or moved past it), and emits them; a deleted one (404)
    /// is skipped.
    async fn read_created(
        &mut self,
        core: &mut StreamCore,
        created: Vec<String>,
        cdc: bool,
    ) -> Result<Result<(), ApiError>, OutputClosed> {
        if created.len() > self::core::MAX_READS_BY_ID {
            // More than the pass remembers as delivered: what it missed of them arrives with the next sync.
            return Ok(Ok(()));
        }
        for id in created {
            // Also skips an id the change log names twice, once read.
            let hash = crate::page::id_hash(&id);
            if core.delivered_lately(hash) {
                continue;
            }
            let events = self.events.clone();
            let client = Arc::clone(&self.client);
            let stream = self.listing.stream;
            let mut task =
                tokio::spawn(async move { client.fetch_record(stream, &id, &events).await });
            let page = self.wait_reporting(&mut task).await?;
            match page {
                Ok(Some(page)) => {
                    core.delivered_by_id(hash);
                    let frame = RecordFrame::new(self.listing.name(), now_millis(), cdc);
                    self.output
                        .send_records(Arc::new(page), frame, vec![0])
                        .await?;
                }
                Ok(None) => {}
                Err(error) => return Ok(Err(error)),
            }
        }
        Ok(Ok(()))
    }

    /// The fetch of main-pass page `request.page`, after topping up the pages fetched ahead of it.
    async fn fetch_main(
        &self,
        ahead: &mut VecDeque<Fetching>,
        core: &StreamCore,
        request: &PageRequest,
    ) -> Fetching {
        while ahead
            .front()
            .is_some_and(|fetching| fetching.request.page < request.page)
        {
            ahead.pop_front();
        }
        let current = match ahead.front() {
            Some(fetching) if fetching.request == *request => ahead.pop_front(),
            _ => {
                // Pages fetched ahead of a page the pass skipped past are not the ones now wanted.
                ahead.clear();
                None
            }
        };
        let current = match current {
            Some(fetching) => fetching,
            None => {
                // This stream holds no permit now, and every stream that holds one has its next page in hand
                // (or in flight in its own task), so the wait ends.
                let permit = Arc::clone(&self.prefetch.budget)
                    .acquire_owned()
                    .await
                    .expect("the budget is never closed");
                self.spawn(request, Some(permit))
            }
        };
        let known = core.last_main_page().unwrap_or(0);
        let mut next = ahead
            .back()
            .map_or(request.page + 1, |last| last.request.page + 1);
        let last = known.min(
            request
                .page
                .saturating_add(self.prefetch.pages_ahead as u32),
        );
        while next <= last {
            let Ok(permit) = Arc::clone(&self.prefetch.budget).try_acquire_owned() else {
                break;
            };
            let page_request = PageRequest {
                page: next,
                ..request.clone()
            };
            ahead.push_back(self.spawn(&page_request, Some(permit)));
            next += 1;
        }
        current
    }

    fn spawn(&self, request: &PageRequest, permit: Option<OwnedSemaphorePermit>) -> Fetching {
        let client = Arc::clone(&self.client);
        let events = self.events.clone();
        let listing = Arc::clone(&self.listing);
        let (page, limit) = (request.page, request.limit);
        let key = (request.after.clone(), request.until.clone());
        let task =
            tokio::spawn(
                async move { client.fetch_page(&listing, page, limit, key, &events).await },
            );
        Fetching {
            request: request.clone(),
            task,
            _permit: permit,
        }
    }

    /// Waits for a fetch, reporting the client's events meanwhile.
    async fn wait_for(
        &mut self,
        mut fetching: Fetching,
    ) -> Result<Result<Page, ApiError>, OutputClosed> {
        self.wait_reporting(&mut fetching.task).await
    }

    /// Waits for a task of this reader's (a fetch, which is never aborted while waited for), reporting the
    /// client's events meanwhile and those left when it ends.
    async fn wait_reporting<T>(&mut self, task: &mut JoinHandle<T>) -> Result<T, OutputClosed> {
        let output = self.output;
        let outcome =
            reporting(&mut self.event_source, task, |event| report(output, event)).await?;
        match outcome {
            Ok(value) => Ok(value),
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(error) => unreachable!("a fetch being waited for is never aborted: {error}"),
        }
    }

    async fn send_notes(&mut self, notes: Vec<Note>) -> Result<(), OutputClosed> {
        let name = self.listing.name();
        let silent = matches!(
            self.checkpoints,
            Checkpoints::Silent | Checkpoints::Window { .. }
        );
        for note in notes {
            let message = match note {
                Note::State(StreamState::InProgress(checkpoint), records)
                    if checkpoint.created_after.is_some()
                        && matches!(self.checkpoints, Checkpoints::Window { .. }) =>
                {
                    let Checkpoints::Window { cursor } = &self.checkpoints else {
                        unreachable!("matched above")
                    };
                    let state = IncrementalState {
                        cursor: cursor.to_string(),
                        created_after: checkpoint.created_after,
                    };
                    self.counted_in_states += records;
                    Message::stream_state(name, state.to_json(), records)
                }
                Note::Running | Note::Estimate(_) | Note::State(..) if silent => continue,
                Note::Running if self.running_sent => continue,
                Note::Running => {
                    Message::stream_status(name, crate::protocol::StreamStatus::Running)
                }
                Note::Estimate(total) => Message::estimate(name, total),
                Note::Log(level, text) => Message::log(level, text),
                Note::State(state, records) => {
                    let json = match &self.checkpoints {
                        Checkpoints::Incremental {
                            cursor: Some(cursor),
                        } => state.to_incremental_json(cursor),
                        _ => state.to_json(),
                    };
                    Message::stream_state(name, json, records)
                }
            };
            self.output.send(&message).await?;
        }
        Ok(())
    }

    async fn log_progress(
        &self,
        summary: &StreamSummary,
        started: Instant,
    ) -> Result<(), OutputClosed> {
        let seconds = started.elapsed().as_secs_f64();
        let message = format!(
            "{}: {} records in {} pages so far ({:.0} records/s), {} retries across the sync",
            self.listing.name(),
            summary.records,
            summary.pages,
            summary.records as f64 / seconds.max(0.001),
            self.client.stats.retries.load(Ordering::Relaxed)
        );
        self.output.log(LogLevel::Info, message).await
    }
}

/// What the change log says happened to a stream's records during a pass.
#[derive(Debug, Default)]
struct PassChanges {
    /// When records were deleted (Polar's clock, Unix microseconds).
    deletions: Vec<i64>,
    /// The ids of records created.
    created: Vec<String>,
}

/// The system event that names a deletion of the listing's records, where Polar writes one.
fn deletion_event(listing: &Listing) -> Option<&'static str> {
    listing.stream.followed()?.deleted_by
}

/// Reads the system events `listing` selects from `start` (Unix microseconds, strict) on, by key, handing them
/// to `records`: no STATE, RUNNING or ESTIMATE of its own.
pub async fn read_system_events(
    client: Arc<PolarClient>,
    output: &Output,
    prefetch: &Prefetch,
    listing: Listing,
    start: i64,
    records: Records<'_>,
) -> Result<Result<StreamSummary, StreamError>, OutputClosed> {
    let from = Resume {
        page: 1,
        last_id: None,
        created_after: Some(crate::time::format(start)),
    };
    StreamReader::new(client, output, listing, prefetch, Checkpoints::Silent)
        .run(Some(from), records)
        .await
}

/// Runs one request (`fetch`, given the channel for the client's events) at once, reporting its retries and
/// rate-limited waits.
pub async fn with_reports<F, Fut, T>(output: &Output, fetch: F) -> Result<T, OutputClosed>
where
    F: FnOnce(mpsc::UnboundedSender<ClientEvent>) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let (events, mut event_source) = mpsc::unbounded_channel();
    reporting(&mut event_source, fetch(events), |event| {
        report(output, event)
    })
    .await
}

/// A RATE_LIMITED status for `stream`, when it is a stream of the catalog (the change log, read for the
/// streams that follow it, is none: its waits are said by the LOG alone).
async fn send_rate_limited(
    output: &Output,
    stream: &str,
    resets_at_millis: u64,
) -> Result<(), OutputClosed> {
    if crate::streams::find(stream).is_none() {
        return Ok(());
    }
    output
        .send(&Message::rate_limited(stream, resets_at_millis))
        .await
}

/// Turns a client event into the messages that report it.
pub async fn report(output: &Output, event: ClientEvent) -> Result<(), OutputClosed> {
    match event {
        ClientEvent::Retrying {
            stream,
            request,
            problem,
            retry,
            max_retries,
            delay,
            rate_limited,
        } => {
            let seconds = delay.as_secs_f64();
            let text = match (rate_limited, max_retries) {
                (Some(limited), _) => {
                    send_rate_limited(output, stream, limited.resets_at_millis).await?;
                    if let Some(per_minute) = limited.cut_to {
                        output
                            .log(
                                LogLevel::Info,
                                format!(
                                    "Polar's rate limit for the organization is spent (its budget is shared with \
                                     everything that uses the organization's tokens): every request pauses until \
                                     the window resets, with the pace down to {per_minute:.0} requests per minute; \
                                     then the sync learns from the spent window how much of it other traffic takes \
                                     and settles just under what is left"
                                ),
                            )
                            .await?;
                    }
                    format!(
                        "{stream}: Polar is {problem} for {request}; trying again in {seconds:.1} s"
                    )
                }
                (None, Some(max)) => format!(
                    "{stream}: Polar is {problem} for {request}; retry {retry} of {max} in {seconds:.1} s"
                ),
                (None, None) => {
                    format!("{stream}: Polar is {problem} for {request}; retry in {seconds:.1} s")
                }
            };
            output.log(LogLevel::Warn, text).await
        }
        ClientEvent::Paused {
            stream,
            request,
            header,
            reset_in,
            pause,
        } => {
            let until = crate::protocol::now_millis() + pause.as_millis() as u64;
            send_rate_limited(output, stream, until).await?;
            output
                .log(
                    LogLevel::Warn,
                    format!(
                        "{stream}: Polar answered {request} with {header}: 0 and a reset in {} s: every request of \
                         the sync pauses {:.1} s",
                        reset_in.as_secs(),
                        pause.as_secs_f64()
                    ),
                )
                .await
        }
        ClientEvent::ClockSkew {
            stream,
            request,
            date,
            ahead_seconds,
        } => {
            let amount = ahead_seconds.unsigned_abs();
            let text = if ahead_seconds > 0 {
                format!(
                    "{stream}: Polar answered {request} with the date {date}, {amount} s ahead of this machine's \
                     clock: one of the two clocks is wrong, so the server's is not used and the cursors this sync \
                     leaves come from this machine's clock. Check the machine's time (NTP) and what answers at \
                     'base_url'"
                )
            } else {
                format!(
                    "{stream}: Polar answered {request} with the date {date}, {amount} s behind this machine's \
                     clock: one of the two clocks is wrong; the cursors this sync leaves come from the earlier one \
                     (the server's), so nothing is skipped. Check the machine's time (NTP)"
                )
            };
            output.log(LogLevel::Warn, text).await
        }
        ClientEvent::Ignored {
            stream,
            request,
            what,
        } => {
            output
                .log(
                    LogLevel::Warn,
                    format!("{stream}: Polar answered {request} with {what}"),
                )
                .await
        }
        ClientEvent::Waiting {
            stream,
            request,
            left,
        } => {
            let until = crate::protocol::now_millis() + left.as_millis() as u64;
            send_rate_limited(output, stream, until).await?;
            output
                .log(
                    LogLevel::Info,
                    format!(
                        "{stream}: {request} waits {:.0} s more for Polar's rate limit (the organization's budget, \
                         shared with its other traffic) or a retry",
                        left.as_secs_f64()
                    ),
                )
                .await
        }
        ClientEvent::Answered {
            request,
            url,
            status,
            elapsed,
        } => {
            output
                .log(
                    LogLevel::Debug,
                    format!("{request} -> {status} in {} ms: {url}", elapsed.as_millis()),
                )
                .await
        }
    }
}
