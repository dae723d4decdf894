//! The reader's decisions for one stream, with no I/O: pages go in, and out come the requests to make next,
//! the records to emit, checkpoints, logs, and the end (done, or failed with the proof of a loss).
//!
//! The driver (`reader`, in `mod.rs`) asks [`StreamCore::next_step`] what to fetch, fetches it, and hands the
//! page to [`StreamCore::accept`], which answers with the indices of the page's records to emit; notes (RUNNING,
//! ESTIMATE, LOG, STATE) wait in [`StreamCore::take_notes`]. Pages are accepted in the order they were asked
//! for, one at a time; the driver may fetch main-pass pages ahead of time (see [`StreamCore::last_main_page`]).
//!
//! # Why this delivers every record that exists for the whole sync
//!
//! Polar pages with `OFFSET/LIMIT` over the sort criteria of the stream table, ascending by creation time.
//! Three things can move a record across a page boundary while we page, and each is handled here:
//!
//! 1. **Records created during the sync** take a creation time later than every record already read, so they
//!    land after the current position and shift nothing we have yet to read. The main pass follows
//!    `total_count` as it grows; records created after the last page was read are caught by re-reading the
//!    tail until the count settles (a bounded number of times; what is created after that belongs to the
//!    next sync, and is said in a LOG).
//! 2. **Records deleted during the sync** shift every later record one place towards the start: a record that
//!    stood first on the next page moves back onto a page already read and would be skipped. Every response
//!    carries `total_count`; when it differs between two consecutive pages, records may have shifted by up
//!    to the difference, so the pages before are read again (as many as the difference spans) and what was
//!    not seen is emitted.
//! 3. **Ties**: Polar adds no tie-breaker, so records equal on every criterion can come back in a different
//!    order from one request to the next. A tie group that straddles a page boundary can show one member
//!    twice and skip another. The reader tracks each such group: it occupies known offsets, so it must yield
//!    exactly that many distinct ids. If fewer arrived, it fetches one window (a page size chosen so that the
//!    whole group falls in one page) and emits the missing members; if the group cannot be made whole, the
//!    stream fails loudly.
//!
//! Pages fetched ahead may be fetched in any order; the argument above holds pairwise: two consecutive pages
//! that report the same `total_count` saw the same offsets (nothing was deleted between their requests), so
//! no record fell between them whichever was fetched first.
//!
//! **The proof at the end.** A stream is done only when its last read of the tail reports a count that the
//! records delivered can account for: every record alive at the time of the last request had to be
//! delivered, so fewer distinct records than that count prove a loss, and the stream fails (transient: the
//! next attempt reads afresh) instead of completing short.
//!
//! **What offset paging cannot reveal**: deletions exactly balanced by creations between two page requests
//! leave `total_count` unchanged, so a record that moved back across that boundary is not seen. The window is
//! one request long; the README says so.
//!
//! Duplicates (a record seen again after a shift or a reshuffle) are dropped by remembering the ids of the
//! last few pages and of the open tie groups: memory stays bounded by pages, not by the size of the stream.
//!
//! # Resuming (resumable full refresh)
//!
//! After each page (and its repairs) the core leaves a checkpoint: the next page and the `id` of the last
//! record read. A resumed read first reads the page before the checkpoint and looks for that `id`: records
//! deleted between attempts can only move later records towards the start, and by less than a page unless a
//! page's worth of deletions happened, so finding it proves that no record after it slipped before the
//! restart point. If it is not found, the stream restarts from page 1.

use std::collections::VecDeque;
use std::sync::Arc;

use super::recent::Recent;
use crate::listing::Listing;
use crate::page::Page;
use crate::protocol::LogLevel;
use crate::state::checkpoint::{Checkpoint, Resume, StreamState};
#[cfg(test)]
use crate::streams::StreamDef;

use self::by_key::KeyPaging;
use self::ties::TieGroup;
use super::witness::{Next, PageSeen, Search, Witness};

/// Pages whose ids are remembered to drop duplicates after a shift.
const REMEMBERED_PAGES: usize = 16;
/// The largest `total_count` change between two pages that re-reading can repair (in pages).
const MAX_RECOVERED_PAGES: u64 = 3;
/// Reads of the tail, after the main pass, while the count keeps growing.
const MAX_TAIL_READS: u32 = 4;
/// Records created during a pass, at most, that its driver reads by id where the pass missed them: the pass
/// remembers the ids of its last pages only (where records created during it land), a third of this many.
pub const MAX_READS_BY_ID: usize = 500;

/// How a read pages through its list: one way for the whole read, each with the state only it has.
#[derive(Debug)]
enum Paging {
    /// By offset over the whole list (see the module comment): the pass ends at a short page, and the count
    /// at the end proves it complete.
    ByOffset,
    /// By key through the stream's creation filter (see `by_key`): `next_main` is the page within the filter's
    /// value.
    ByKey(KeyPaging),
    /// A window of a list sorted newest first by its first criterion, a time: the records at or after `from`.
    /// The pass ends at the first page that reaches past it, and owes nothing beyond.
    NewestWindow {
        /// The window's earliest time (Unix microseconds).
        from: i64,
        /// The page the pass starts from: past 1 only when the pages before hold records whose window time is
        /// still null (see [`StreamCore::starting_at`]); 1 again once that no longer holds.
        start: u32,
    },
    /// A list sorted with nulls first by its first criterion: only the records where it is null are read, and
    /// the pass ends at the first page that reaches a record where it is not (see `StreamDef::null_tail`).
    NullsOnly,
}

impl Paging {
    /// The creation filter's value, when paging by key.
    fn after(&self) -> Option<&Arc<str>> {
        match self {
            Paging::ByKey(key) => key.after(),
            _ => None,
        }
    }

    /// The filter's upper bound, when paging by key through one instant.
    fn until(&self) -> Option<&Arc<str>> {
        match self {
            Paging::ByKey(key) => key.until(),
            _ => None,
        }
    }
}

/// Why a request is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// The next page of the pass through the stream.
    Main,
    /// The page before a checkpoint, to prove it still holds.
    Overlap,
    /// A page read again after the count changed.
    Shift,
    /// One page holding a whole tie group.
    TieWindow,
    /// The end of the stream, read again after the count changed.
    Tail,
    /// A page searched for a record a deletion the change log names may have hidden (see `witness`).
    Witness,
}

/// One page to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub page: u32,
    pub limit: u32,
    pub purpose: Purpose,
    /// When paging by key: the value of the stream's creation filter (records created strictly after it).
    pub after: Option<Arc<str>>,
    /// When paging by key through one instant: the value of the filter's upper bound (records created
    /// strictly before it; see `streams::until_filter`).
    pub until: Option<Arc<str>>,
}

/// What the core wants next.
#[derive(Debug)]
pub enum Step {
    Fetch(PageRequest),
    /// Read the change log's deletions of the stream from this time (Polar's clock, Unix microseconds,
    /// strict) and hand their times to [`StreamCore::witnessed`].
    Witness(i64),
    Done,
    Fail(LossError),
}

/// Messages for the driver to send, in order, besides records.
#[derive(Debug, Clone, PartialEq)]
pub enum Note {
    /// The stream has begun to deliver (STREAM_STATUS RUNNING).
    Running,
    /// Polar's count of the stream's records (TRACE ESTIMATE).
    Estimate(u64),
    Log(LogLevel, String),
    /// A STATE message, with the records emitted since the previous one.
    State(StreamState, u64),
}

/// A stream that cannot be proven complete: the data moved under the sync faster than paging can follow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LossError {
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
    #[error(
        "{stream} were deleted while the sync read them, and the records around page {page} kept moving while \
         the sync searched them for one the deletions may have hidden; run the sync again"
    )]
    WitnessLost { stream: &'static str, page: u32 },
    #[error(
        "more than a page of {stream} share one creation time and their number kept changing while the sync \
         read them; run the sync again"
    )]
    BusyInstant { stream: &'static str },
    #[error(
        "{count} {stream} share the same sort values around offset {offset}, and their number changed from \
         {from} to {to} while the sync read them (records were created or deleted around them), so some may \
         be missing; run the sync again"
    )]
    TiesMoved {
        stream: &'static str,
        count: u64,
        offset: u64,
        from: u64,
        to: u64,
    },
    #[error(
        "Polar answered page {page} of {stream} with only records of the pages before it while the count stayed \
         {total}: the server, or a proxy or cache in between, ignores the 'page' parameter. Paging cannot go on; \
         running again fails the same way until 'base_url' points at Polar's API itself"
    )]
    PageIgnored {
        stream: &'static str,
        page: u32,
        total: u64,
    },
    #[error(
        "Polar answered {stream} asked for records created after {after} with {problem}: paging by key relies on \
         that order and filter, and would lose records. The server, or a proxy in between, does not honour \
         the filter; running again fails the same way"
    )]
    OutOfOrder {
        stream: &'static str,
        after: String,
        problem: String,
    },
    #[error(
        "Polar answered page {page} of {stream} with {records} records where {limit} were asked for, twice, while \
         its count says {total}: the server, or a proxy in between, does not page as Polar does (it may ignore \
         'limit', or miscount); reading on could lose records"
    )]
    ShortPage {
        stream: &'static str,
        page: u32,
        records: usize,
        limit: u32,
        total: u64,
    },
    #[error(
        "Polar's count says {total} {stream}, but its pages ended at page {page} after {delivered} distinct \
         ones, and the count never moved: the count and the pages disagree (a proxy or cache in between, or \
         a server that miscounts), so the sync cannot prove it has them all"
    )]
    CountDisagrees {
        stream: &'static str,
        total: u64,
        delivered: u64,
        page: u32,
    },
}

impl LossError {
    /// Data moving under the sync is transient (the next attempt reads afresh); a server that breaks the
    /// paging contract breaks it again.
    pub fn failure_type(&self) -> crate::protocol::FailureType {
        use crate::protocol::FailureType;
        match self {
            LossError::PageIgnored { .. }
            | LossError::ShortPage { .. }
            | LossError::OutOfOrder { .. }
            | LossError::CountDisagrees { .. } => FailureType::SystemError,
            _ => FailureType::TransientError,
        }
    }
}

/// What one stream delivered.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StreamSummary {
    pub records: u64,
    pub pages: u64,
    /// Requests beyond the main pass: shift re-reads, tie windows, tail reads, the overlap page.
    pub recovery_requests: u64,
    /// The server's clock at the first answer (Unix microseconds; see `Page::server_now`), which the
    /// driver notes: where an incremental read's own pass sets the cursor it leaves.
    pub first_answer_at: Option<i64>,
    /// Records the STATE messages this read sent already counted (only a window of an incremental sync that
    /// checkpoints sends any; its caller's final STATE counts the rest).
    pub counted_in_states: u64,
}

/// The end of the stream as the last read of it saw it.
#[derive(Debug, Clone, Copy)]
struct TailSeen {
    page: u32,
    total: u64,
}

/// The decisions of one stream's read.
pub struct StreamCore {
    name: &'static str,
    sorting: &'static [&'static str],
    /// Records can tie on every sort criterion.
    ties: bool,
    /// New records sort after every existing one (the first criterion is the creation time).
    appends: bool,
    /// The count the first page of the main pass reported.
    first_total: Option<u64>,
    /// How the pass pages through the list, with the state only that way of paging has.
    paging: Paging,
    /// The count was found lower than what the pages hold (said once).
    undercount_said: bool,
    /// How many records of the page last emitted had not been seen before (in the window or not).
    fresh: usize,
    /// Full pages in a row that brought nothing new.
    stale_pages: u32,
    /// Short pages asked again (one is).
    short_pages_asked_again: u32,
    limit: u32,
    /// A checkpoint to verify before the main pass starts.
    resume: Option<Resume>,
    /// The page the main pass starts from (after the overlap check): the loss proof needs page 1.
    first_page: u32,
    next_main: u32,
    main_done: bool,
    /// Requests to make before the main pass goes on, in order; the front is the one outstanding.
    queue: VecDeque<PageRequest>,
    recent: Recent,
    group: Option<TieGroup>,
    /// Closed groups waiting for their window, in the order of their requests in `queue`.
    unverified: VecDeque<TieGroup>,
    /// The count the previous page of the main pass reported.
    last_total: Option<u64>,
    /// The count change at the start of the main page being emitted, where records can tie.
    boundary_change: u64,
    /// The count the latest response reported, and whether counts ever differed.
    latest_total: Option<u64>,
    totals_changed: bool,
    tail: Option<TailSeen>,
    tail_reads: u32,
    last_id: Option<String>,
    checkpoint_due: bool,
    records_since_state: u64,
    summary: StreamSummary,
    notes: Vec<Note>,
    started: bool,
    estimated: bool,
    failure: Option<LossError>,
    finished: bool,
    /// The change log witnesses the pass: its boundaries, kept for the deletions it names (see `witness`).
    witness: Option<Witness>,
    /// The change log was asked for (or found not readable).
    witness_asked: bool,
    /// The searches still to run, the front one under way.
    searches: VecDeque<Search>,
    /// Records the searches found.
    witness_found: u64,
}

impl StreamCore {
    pub fn new(listing: &Listing, limit: u32, resume: Option<Resume>) -> StreamCore {
        let keyset = listing.key_filter.is_some();
        let mut queue = VecDeque::new();
        let mut after = None;
        let mut first_page = 1;
        let resume = match resume {
            // Paging by key needs no proof to resume: the filter's value holds whatever was deleted since. (Only
            // inside a page-sized group created in one instant do pages count from the filter; that group is read
            // again from its start.)
            Some(resume) if keyset => {
                after = resume.created_after.map(Arc::from);
                first_page = resume.page;
                None
            }
            Some(resume) if resume.page > 1 => {
                queue.push_back(PageRequest {
                    page: resume.page - 1,
                    limit,
                    purpose: Purpose::Overlap,
                    after: None,
                    until: None,
                });
                Some(resume)
            }
            _ => None,
        };
        let paging = match listing.key_filter {
            Some(filter) => Paging::ByKey(KeyPaging::new(
                after,
                crate::streams::until_filter(filter).is_some(),
            )),
            None => Paging::ByOffset,
        };
        StreamCore {
            name: listing.name(),
            sorting: listing.sorting,
            ties: !listing.unique_order,
            appends: listing.sorting.first() == Some(&"created_at"),
            first_total: None,
            paging,
            undercount_said: false,
            fresh: 0,
            stale_pages: 0,
            short_pages_asked_again: 0,
            limit,
            resume,
            first_page,
            next_main: 1,
            main_done: false,
            queue,
            recent: Recent::new(REMEMBERED_PAGES),
            group: None,
            unverified: VecDeque::new(),
            last_total: None,
            boundary_change: 0,
            latest_total: None,
            totals_changed: false,
            tail: None,
            tail_reads: 0,
            last_id: None,
            checkpoint_due: false,
            records_since_state: 0,
            summary: StreamSummary::default(),
            notes: Vec::new(),
            started: false,
            estimated: false,
            failure: None,
            finished: false,
            witness: None,
            witness_asked: false,
            searches: VecDeque::new(),
            witness_found: 0,
        }
    }

    /// Lets the change log witness the pass (a list sorted by creation time, read by offset, whose deletions
    /// Polar records as events): after the pass, [`Step::Witness`] asks for the deletions of its span.
    pub fn witnessed_by_change_log(mut self) -> StreamCore {
        if self.appends && !matches!(self.paging, Paging::ByKey(_)) {
            self.witness = Some(Witness::new());
        }
        self
    }

    /// Takes the times of the deletions the change log names for the pass (or why it could not be read), and
    /// plans the searches of the boundaries they may have shifted.
    pub fn witnessed(&mut self, deletions: Result<&[i64], &str>) {
        let Some(witness) = self.witness.take() else {
            return;
        };
        let deletions = match deletions {
            Ok(deletions) => deletions,
            Err(why) => {
                self.log(
                LogLevel::Info,
                format!(
                    "{}: {why}, so a record deleted during the sync can make one other record be missed where \
                     the count did not change (a creation balanced it); the next sync reads it",
                    self.name
                ),
            );
                return;
            }
        };
        let suspects = witness.suspects(deletions);
        if !deletions.is_empty() {
            self.log(
                LogLevel::Info,
                format!(
                    "{}: the change log names {} deletions during the pass; {} of its {} page boundaries were read \
                     while one happened and are searched for a record it may have moved",
                    self.name,
                    deletions.len(),
                    suspects.len(),
                    witness.boundaries()
                ),
            );
        }
        self.searches = suspects
            .into_iter()
            .map(|edge| Search::new(edge, self.limit))
            .collect();
        self.queue_search();
    }

    /// Whether the pass delivered the record with id hash `id` in its last pages (where records created during
    /// it land).
    pub fn delivered_lately(&self, id: u64) -> bool {
        self.seen(id)
    }

    /// Counts a record the driver read by id for the pass, and remembers it as delivered.
    pub fn delivered_by_id(&mut self, id: u64) {
        self.recent.insert(id);
        self.count(1);
    }

    fn queue_search(&mut self) {
        if let Some(search) = self.searches.front() {
            let (page, limit) = search.request();
            self.queue.push_back(PageRequest {
                page,
                limit,
                purpose: Purpose::Witness,
                after: None,
                until: None,
            });
        }
    }

    /// Counts `records` emitted before this read (by an earlier pass over the same stream) into its first STATE,
    /// so that every STATE's record count covers the records since the one before.
    pub fn after_records(mut self, records: u64) -> StreamCore {
        self.records_since_state += records;
        self
    }

    /// Reads only the records whose first sort field is null, from a list that sorts them first (and is read
    /// by offset).
    pub fn nulls_only(mut self) -> StreamCore {
        self.read_part_by_offset(Paging::NullsOnly);
        self
    }

    /// Whether this read covers a part of the list (a window of times, or the nulls), which owes only what it
    /// read: no count can prove it complete.
    fn partial(&self) -> bool {
        matches!(self.paging, Paging::NewestWindow { .. } | Paging::NullsOnly)
    }

    /// Reads only the window of records whose first sort field (a time, sorted newest first) is at or after
    /// `from` (Unix microseconds), from a list read by offset.
    pub fn window_from(mut self, from: i64) -> StreamCore {
        self.read_part_by_offset(Paging::NewestWindow { from, start: 1 });
        self
    }

    /// Narrows a read of the whole list by offset to a part of it: only one part, and never of a list paged
    /// by key.
    fn read_part_by_offset(&mut self, part: Paging) {
        assert!(
            matches!(self.paging, Paging::ByOffset),
            "{}: a part of the list is read from a list read by offset, one part at a time",
            self.name
        );
        self.paging = part;
    }

    /// Starts the window's pass at `page`: the pages before it were found to hold only records whose window
    /// time is null (Postgres lists nulls first in a descending order; see `reader::boundary`). That is proven
    /// again by the page itself, which must begin with such a record: then no record with a time can have moved
    /// before it since. If it does not, the window is read from page 1. Only a window starts elsewhere (after
    /// [`window_from`](Self::window_from)).
    pub fn starting_at(mut self, page: u32) -> StreamCore {
        let Paging::NewestWindow { start, .. } = &mut self.paging else {
            panic!("{}: only a window starts past page 1", self.name);
        };
        *start = page.max(1);
        self.next_main = *start;
        self
    }

    pub fn summary(&self) -> &StreamSummary {
        &self.summary
    }

    /// The notes gathered since the last call, in order.
    pub fn take_notes(&mut self) -> Vec<Note> {
        std::mem::take(&mut self.notes)
    }

    /// The last main-pass page, as far as the latest count tells (`None` before the first page and after the
    /// pass): the driver may fetch the pages up to it ahead.
    pub fn last_main_page(&self) -> Option<u32> {
        match self.latest_total {
            // Paging by key, each request depends on the page before it: nothing can be fetched ahead.
            // A window ends where its records do, which no count tells: nothing is fetched ahead either.
            // After a page short of its count, nothing more: the count is not to be trusted.
            Some(total)
                if matches!(self.paging, Paging::ByOffset)
                    && !self.main_done
                    && self.last_total.is_some()
                    && self.short_pages_asked_again == 0 =>
            {
                Some(self.last_page_of(total))
            }
            _ => None,
        }
    }

    /// What to do next. After `Done` or `Fail`, the stream is over.
    pub fn next_step(&mut self) -> Step {
        loop {
            if let Some(failure) = self.failure.take() {
                self.finished = true;
                return Step::Fail(failure);
            }
            if self.finished {
                return Step::Done;
            }
            if let Some(request) = self.queue.front() {
                return Step::Fetch(request.clone());
            }
            if self.checkpoint_due {
                self.checkpoint_due = false;
                self.state(StreamState::InProgress(Checkpoint {
                    page: self.next_main,
                    limit: self.limit,
                    sorting: self.sorting.iter().map(|s| s.to_string()).collect(),
                    last_id: self.last_id.clone(),
                    created_after: self.paging.after().map(|after| after.to_string()),
                    cursor: None,
                }));
            }
            if !self.main_done {
                return Step::Fetch(PageRequest {
                    page: self.next_main,
                    limit: self.limit,
                    purpose: Purpose::Main,
                    after: self.paging.after().cloned(),
                    until: self.paging.until().cloned(),
                });
            }
            if matches!(self.paging, Paging::ByKey(_)) {
                // Every record created up to the last, short page was read: nothing can have moved.
                self.state(StreamState::Complete);
                self.finished = true;
                return Step::Done;
            }
            // The main pass is over: verify the last tie group, settle the tail, prove the count.
            if self.group.is_some() {
                self.close_group();
                continue;
            }
            if self.partial() {
                // A window owes what it read: records past it are not this read's to prove.
                self.state(StreamState::Complete);
                self.finished = true;
                return Step::Done;
            }
            if let Some(request) = self.tail_request() {
                self.queue.push_back(request);
                continue;
            }
            if !self.witness_asked {
                self.witness_asked = true;
                if let Some(from) = self.witness.as_ref().and_then(Witness::feed_from) {
                    return Step::Witness(from);
                }
            }
            let delivered = self.summary.records;
            let owed = self.owed();
            if self.first_page == 1 && delivered < owed {
                self.failure = Some(if self.totals_changed {
                    LossError::Lost {
                        stream: self.name,
                        total: owed,
                        delivered,
                    }
                } else {
                    // Nothing moved, yet the pages hold fewer than the count: that is not churn.
                    LossError::CountDisagrees {
                        stream: self.name,
                        total: owed,
                        delivered,
                        page: self.next_main.saturating_sub(1),
                    }
                });
                continue;
            }
            self.state(StreamState::Complete);
            self.finished = true;
            return Step::Done;
        }
    }

    /// Takes the page fetched for `request` (the one [`next_step`](Self::next_step) asked for) and answers with the
    /// indices of its items to emit, in order.
    pub fn accept(&mut self, request: PageRequest, page: &Page) -> Vec<u32> {
        let expected = match request.purpose {
            Purpose::Main => {
                !self.main_done
                    && request.page == self.next_main
                    && request.after.as_ref() == self.paging.after()
            }
            _ => self.queue.front() == Some(&request),
        };
        assert!(
            expected,
            "{}: page {request:?} was not the one asked for",
            self.name
        );
        if request.purpose != Purpose::Main {
            self.queue.pop_front();
            self.summary.recovery_requests += 1;
        }
        let request = &request;
        self.observe_total(page.total_count);
        match request.purpose {
            Purpose::Main if matches!(self.paging, Paging::ByKey(_)) => self.accept_keyset(page),
            Purpose::Main => self.accept_main(request.page, page),
            Purpose::Overlap => self.accept_overlap(request.page, page),
            // A re-read repairs the boundary before the page that asked for it; the next boundary is judged
            // by the counts of the main pages on either side of it, whatever was fetched in between.
            Purpose::Shift => self.emit(page, None),
            Purpose::TieWindow => self.accept_tie_window(request, page),
            Purpose::Witness => self.accept_search(page),
            Purpose::Tail => {
                self.tail = Some(TailSeen {
                    page: request.page,
                    total: page.total_count,
                });
                self.emit(page, None)
            }
        }
    }

    fn observe_total(&mut self, total: u64) {
        if self.latest_total.is_some_and(|latest| latest != total) {
            self.totals_changed = true;
        }
        self.latest_total = Some(total);
    }

    fn last_page_of(&self, total: u64) -> u32 {
        u32::try_from(total.div_ceil(u64::from(self.limit))).unwrap_or(u32::MAX)
    }

    fn base_offset(&self, page: u32) -> u64 {
        u64::from(page - 1) * u64::from(self.limit)
    }

    fn start(&mut self, total: u64) {
        if !self.started {
            self.started = true;
            self.notes.push(Note::Running);
        }
        if !self.estimated {
            self.estimated = true;
            self.notes.push(Note::Estimate(total));
        }
    }

    fn accept_main(&mut self, number: u32, page: &Page) -> Vec<u32> {
        self.start(page.total_count);
        if let Paging::NewestWindow { start, .. } = &mut self.paging
            && number > 1
            && number == *start
        {
            let starts_null = page
                .items
                .first()
                .and_then(|item| page.first_sort_json(item))
                == Some("null");
            if !starts_null {
                *start = 1;
                self.log(
                    LogLevel::Info,
                    format!(
                        "{}: records moved before page {number} since it was found; reading the window from \
                         page 1",
                        self.name
                    ),
                );
                self.summary.recovery_requests += 1;
                self.next_main = 1;
                return Vec::new();
            }
        }
        self.summary.pages += 1;
        self.first_total.get_or_insert(page.total_count);
        if let Some(witness) = self.witness.as_mut() {
            witness.page(
                PageSeen {
                    number,
                    sent: page.sent_at,
                    answered: page.answered_at,
                    records: creation_times(page),
                },
                page.date.map(crate::time::system_micros),
            );
        }
        let change = self
            .last_total
            .map_or(0, |total| total.abs_diff(page.total_count));
        self.last_total = Some(page.total_count);
        // Where the count changed at this page's start, the tie groups on both sides of the boundary may have
        // straddled it (shown on each side in a different order) and moved since: each is verified by a window.
        self.boundary_change = if self.ties { change } else { 0 };
        if let Some(group) = self.group.as_mut().filter(|_| self.boundary_change > 0) {
            group.spans_pages = true;
            group.slack = group.slack.max(change);
        }
        let emitted = self.emit(page, Some(self.base_offset(number)));
        let full = page.items.len() >= self.limit as usize;
        if self.page_ignored(page, self.fresh, number > self.first_page && change == 0) {
            // Full pages of records already read, the count unchanged: nothing moved, so the server did not
            // serve the page asked for. Paging on would ask again and again.
            self.failure = Some(LossError::PageIgnored {
                stream: self.name,
                page: number,
                total: page.total_count,
            });
            return emitted;
        }
        // A short page that its own count says is not the end: asked again once (a record deleted between
        // Polar's count and its page can do this), then the server is taken not to page as asked.
        let reached = self.base_offset(number) + page.items.len() as u64;
        if !full && reached < page.total_count && self.short_page(number, page) {
            return emitted;
        }
        self.remember_last_id(page);
        self.checkpoint_due = true;
        self.next_main = number.saturating_add(1);
        // The pages say where the stream ends, not the count: a short page ends it (Polar's pages are full
        // but the last; one that falls short of its own count was asked again above), and a full page is
        // followed by one more request even where the count says it was the last, so that a count lower than
        // what exists loses nothing.
        if !full {
            self.main_done = true;
        } else if u64::from(number) * u64::from(self.limit) > page.total_count
            && !self.undercount_said
        {
            self.undercount_said = true;
            self.log(
                LogLevel::Warn,
                format!(
                    "{}: Polar's count says {} records but page {number} is full: its count is lower than what \
                     it serves, so the sync reads on until a page is short",
                    self.name, page.total_count
                ),
            );
        }
        // A part of the list ends at the first page that reaches past it.
        let last = page
            .items
            .last()
            .and_then(|item| page.first_sort_json(item));
        let past_part = match self.paging {
            Paging::NullsOnly => last.is_some_and(|raw| raw != "null"),
            Paging::NewestWindow { from, .. } => last
                .and_then(|raw| crate::time::micros(&filter_value(raw)))
                .is_some_and(|last| last < from),
            Paging::ByOffset | Paging::ByKey(_) => false,
        };
        if past_part {
            self.main_done = true;
        }
        if change > 0 && number > 1 {
            self.recover_shift(number, change);
        }
        emitted
    }

    /// Whether the server ignores `page`: a full page (that `may_judge` allows to judge) brought no record not
    /// seen before (`fresh` of them were new). Where the page is one tie group (ties come back in any order),
    /// it takes three such pages in a row.
    fn page_ignored(&mut self, page: &Page, fresh: usize, may_judge: bool) -> bool {
        let full = page.items.len() >= self.limit as usize;
        if !(full && may_judge && fresh == 0) {
            self.stale_pages = 0;
            return false;
        }
        self.stale_pages += 1;
        let one_key = page.items.first().is_some_and(|first| {
            page.items
                .iter()
                .all(|item| item.sort_key == first.sort_key)
        });
        self.stale_pages >= if one_key { 3 } else { 1 }
    }

    /// Page `number` came back short of its own count: `true` when it is to be asked again (the first time),
    /// else the stream fails.
    fn short_page(&mut self, number: u32, page: &Page) -> bool {
        if self.short_pages_asked_again > 0 {
            self.failure = Some(LossError::ShortPage {
                stream: self.name,
                page: number,
                records: page.items.len(),
                limit: self.limit,
                total: page.total_count,
            });
            return true;
        }
        self.short_pages_asked_again += 1;
        self.summary.recovery_requests += 1;
        true
    }

    fn accept_overlap(&mut self, number: u32, page: &Page) -> Vec<u32> {
        let resume = self
            .resume
            .take()
            .expect("an overlap page follows a resume");
        let found = resume.last_id.as_deref().is_some_and(|last| {
            let wanted =
                crate::page::hash(&serde_json::to_string(last).expect("a string serializes"));
            page.items.iter().any(|item| item.id == wanted)
        });
        if !found {
            self.log(
                LogLevel::Warn,
                format!(
                    "{}: the checkpoint's last record is no longer on page {number} (records were deleted \
                     since); restarting this stream from page 1",
                    self.name
                ),
            );
            return Vec::new();
        }
        self.log(
            LogLevel::Info,
            format!(
                "{}: resuming from the checkpoint at page {}",
                self.name, resume.page
            ),
        );
        self.start(page.total_count);
        self.first_page = resume.page;
        self.next_main = resume.page;
        self.last_total = Some(page.total_count);
        // Records from before `last_id` may be delivered again: the destination deduplicates on `id`.
        let emitted = self.emit(page, Some(self.base_offset(number)));
        self.remember_last_id(page);
        self.checkpoint_due = true;
        if page.items.len() < self.limit as usize {
            self.main_done = true;
        }
        emitted
    }

    fn remember_last_id(&mut self, page: &Page) {
        if let Some(last) = page.items.last() {
            self.last_id = serde_json::from_str(page.id_json(last)).ok();
        }
    }

    /// The count changed between the previous page and page `number`: records may have shifted back across
    /// the boundary. Read the pages before it again.
    fn recover_shift(&mut self, number: u32, change: u64) {
        let pages_back = change.div_ceil(u64::from(self.limit)).max(1);
        if pages_back > MAX_RECOVERED_PAGES {
            self.failure = Some(LossError::TooMuchChurn {
                stream: self.name,
                change,
            });
            return;
        }
        self.log(
            LogLevel::Info,
            format!(
                "{}: the record count changed by {change} while paging; re-reading {pages_back} page(s) before \
                 page {number} for records that moved",
                self.name
            ),
        );
        for back in 1..=pages_back as u32 {
            let Some(earlier) = number.checked_sub(back).filter(|page| *page >= 1) else {
                break;
            };
            self.queue.push_back(PageRequest {
                page: earlier,
                limit: self.limit,
                purpose: Purpose::Shift,
                after: None,
                until: None,
            });
        }
    }

    /// The next read of the tail, if the count moved during the read and has not settled yet.
    fn tail_request(&mut self) -> Option<PageRequest> {
        if !self.totals_changed {
            return None;
        }
        let page = match self.tail {
            // The last tail read reached the end as it was then: settled.
            Some(seen) if seen.total <= u64::from(seen.page) * u64::from(self.limit) => {
                return None;
            }
            // The stream grew past the page read: read on.
            Some(seen) => seen.page + 1,
            // From the last page of the main pass: pages fetched ahead may have been fetched before the records
            // created since, so the end is looked for from there, not from the newest count.
            None => self.next_main.saturating_sub(1).max(1),
        };
        if self.tail_reads >= MAX_TAIL_READS {
            let seen = self.tail.expect("a tail read was made");
            self.log(
                LogLevel::Info,
                format!(
                    "{}: records keep being created while the sync reads them ({} now); those created after \
                     the last page read arrive with the next sync",
                    self.name, seen.total
                ),
            );
            // Settle at what the last read covered.
            self.tail = Some(TailSeen {
                page: seen.page,
                total: seen.total.min(u64::from(seen.page) * u64::from(self.limit)),
            });
            return None;
        }
        self.tail_reads += 1;
        Some(PageRequest {
            page,
            limit: self.limit,
            purpose: Purpose::Tail,
            after: None,
            until: None,
        })
    }

    /// How many distinct records must have been delivered: every record alive at the last read of the end,
    /// where new records sort last. Where they need not (subscriptions sort by `started_at`, and one that
    /// starts during the sync lands before those not started yet), a record created after its place was read
    /// is not owed: only as many as existed both at the start and at the end.
    fn owed(&self) -> u64 {
        let at_end = match self.tail {
            Some(seen) => seen.total.min(u64::from(seen.page) * u64::from(self.limit)),
            None => self.latest_total.unwrap_or(0),
        };
        match self.first_total {
            Some(first) if !self.appends => at_end.min(first),
            _ => at_end,
        }
    }

    /// The records of `page` not seen yet, remembering its ids. `base_offset` is the page's offset in the
    /// listing when the page belongs to the main pass (tie groups are tracked only there).
    fn emit(&mut self, page: &Page, base_offset: Option<u64>) -> Vec<u32> {
        self.recent.start_page();
        let mut emitted = Vec::with_capacity(page.items.len());
        // Where the order is unique no two records tie: a key seen twice is one record seen twice (pushed on
        // by an insertion), not a group to verify.
        let base_offset = base_offset.filter(|_| self.ties);
        self.fresh = 0;
        for (index, item) in page.items.iter().enumerate() {
            if let Some(base) = base_offset {
                self.track_tie(base + index as u64, index == 0, item.sort_key);
            }
            let duplicate = self.seen(item.id);
            if let Some(group) = self
                .group
                .as_mut()
                .filter(|group| group.key == item.sort_key)
            {
                group.members.insert(item.id);
            }
            self.recent.insert(item.id);
            self.fresh += usize::from(!duplicate);
            if !duplicate && self.in_window(page, item) {
                emitted.push(index as u32);
            }
        }
        self.count(emitted.len());
        self.witness_emitted(page, &emitted);
        emitted
    }

    /// Tells the witness what was emitted, for the records it must not search out again.
    fn witness_emitted(&mut self, page: &Page, indices: &[u32]) {
        if let Some(witness) = self.witness.as_mut() {
            for &index in indices {
                let item = &page.items[index as usize];
                witness.emitted(creation_time(page, item), item.id);
            }
        }
    }

    /// Whether the record falls in the window being read (always, when reading a whole list). A null time
    /// (a `modified_at` not set yet: never changed) is in no window of times.
    fn in_window(&self, page: &Page, item: &crate::page::Item) -> bool {
        match self.paging {
            Paging::NullsOnly => page.first_sort_json(item).is_none_or(|raw| raw == "null"),
            Paging::NewestWindow { from, .. } => match page.first_sort_json(item) {
                Some("null") => false,
                raw => raw
                    .and_then(|raw| crate::time::micros(&filter_value(raw)))
                    .is_none_or(|at| at >= from),
            },
            Paging::ByOffset | Paging::ByKey(_) => true,
        }
    }

    /// A page of a witness's search: the records it finds that were not read are emitted.
    fn accept_search(&mut self, page: &Page) -> Vec<u32> {
        let times = creation_times(page);
        let Some(search) = self.searches.front_mut() else {
            return Vec::new();
        };
        let (hidden, next) = search.accept(&times, page.total_count);
        let (searched_page, _) = search.request();
        self.recent.start_page();
        let mut emitted = Vec::new();
        for index in hidden {
            let id = page.items[index].id;
            if !self.seen(id) {
                self.recent.insert(id);
                emitted.push(index as u32);
            }
        }
        self.count(emitted.len());
        self.witness_found += emitted.len() as u64;
        match next {
            Next::Fetch => self.queue_search(),
            Next::Done => {
                self.searches.pop_front();
                if self.searches.is_empty() && self.witness_found > 0 {
                    self.log(
                        LogLevel::Info,
                        format!(
                            "{}: {} records that deletions during the pass had moved across a page boundary were \
                             found and delivered",
                            self.name, self.witness_found
                        ),
                    );
                }
                self.queue_search();
            }
            Next::GaveUp => {
                self.failure = Some(LossError::WitnessLost {
                    stream: self.name,
                    page: searched_page,
                });
            }
        }
        emitted
    }

    fn count(&mut self, emitted: usize) {
        self.summary.records += emitted as u64;
        self.records_since_state += emitted as u64;
    }

    fn seen(&self, id: u64) -> bool {
        self.recent.contains(id)
            || self
                .group
                .iter()
                .chain(&self.unverified)
                .any(|group| group.members.contains(&id))
    }

    fn state(&mut self, state: StreamState) {
        let records = std::mem::take(&mut self.records_since_state);
        self.notes.push(Note::State(state, records));
    }

    fn log(&mut self, level: LogLevel, text: String) {
        self.notes.push(Note::Log(level, text));
    }
}

/// The creation times (the first sort field, Unix microseconds) and id hashes of a page's records; a record
/// without a readable time counts as the earliest, which only makes a search look further.
fn creation_times(page: &Page) -> Vec<(i64, u64)> {
    page.items
        .iter()
        .map(|item| (creation_time(page, item), item.id))
        .collect()
}

fn creation_time(page: &Page, item: &crate::page::Item) -> i64 {
    page.first_sort_json(item)
        .and_then(|raw| crate::time::micros(&filter_value(raw)))
        .unwrap_or(i64::MIN)
}

/// The value to send in a creation filter for a sort field's raw JSON: a string's content, anything else as is.
fn filter_value(raw: &str) -> String {
    serde_json::from_str::<String>(raw).unwrap_or_else(|_| raw.to_owned())
}

mod by_key;
mod ties;

#[cfg(test)]
mod tests;
