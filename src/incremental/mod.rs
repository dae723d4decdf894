//! Incremental syncs: each sync reads what changed since the previous one, not what exists.
//!
//! Per stream, from its cursor (the server's time when the previous sync began) minus the lookback window:
//! - **new records** come from the stream's list: paged by key through Polar's strict creation filter where
//!   one exists (`created_after` on orders, `started_after` on subscriptions), else sorted newest first and
//!   read until the cursor (customers, refunds; checkouts by expiry, since a checkout changes until it
//!   expires and Polar records no event for that);
//! - **changed records** are named by Polar's system events (`GET /v1/events/?source=system`), read once per
//!   sync for every stream ([`read_feed`], [`changes::ChangeLog`]), and read again in batches through the
//!   list filters Polar has (`id` on refunds, `customer_id` on orders, subscriptions and checkouts), one by
//!   one only where none exists (customers) or a record was not where its event said;
//! - **deleted records** (`customer.deleted`, or a 404 on reading one again) become a record with Airbyte's
//!   `_ab_cdc_deleted_at`.
//!
//! When reading the changes again would cost more requests than reading the stream in full, the stream is
//! read in full instead (with the deletions the events name). A stream without state, or with a full
//! refresh's, is read in full once and leaves the cursor its next sync starts from (see [`crate::state::cursor`]).

pub mod changes;
pub mod plan;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use tokio::sync::mpsc;

use crate::client::{ApiError, ClientEvent, PAGE_SIZE, PolarClient, reporting};
use crate::listing::Listing;
use crate::output::{Output, OutputClosed};
use crate::page::{HashedSet, Page, id_hash};
use crate::protocol::{LogLevel, Message, RecordFrame, StreamStatus, now_millis};
use crate::reader::boundary::{NullPrefix, Probe};
use crate::reader::core::{StreamCore, StreamSummary};
use crate::reader::{
    Checkpoints, Prefetch, Records, StreamError, StreamReader, read_system_events, report,
    with_reports,
};
use crate::state::checkpoint::Resume;
use crate::state::cursor::IncrementalState;
use crate::streams::{Refetch, SYSTEM_EVENTS, StreamDef, Window};

use self::changes::{BadEvent, ChangeLog, StreamChanges};

/// Where the window of a stream synced from `cursor` begins: the lookback before it, and one microsecond more,
/// so that Polar's strict filters (`created_after`, `started_after`, `start_timestamp`) keep a record or event
/// of the cursor's own instant.
pub fn window_start(cursor: i64, lookback: Duration) -> i64 {
    cursor
        .saturating_sub(i64::try_from(lookback.as_micros()).unwrap_or(i64::MAX))
        .saturating_sub(1)
}

/// The changes the system events feed holds for the streams synced from a cursor.
#[derive(Debug)]
pub struct Feed {
    /// The server's time when the feed was first answered: the cursor this sync leaves.
    pub horizon: i64,
    pub log: ChangeLog,
    pub events: u64,
}

/// Why the feed could not be read.
pub enum FeedError {
    /// The token lacks `events:read`.
    MissingScope,
    Failed(StreamError),
    BadEvent(BadEvent),
}

/// Reads the system events feed once, from the earliest `since` (Unix microseconds) of the `tracked` streams.
pub async fn read_feed(
    client: Arc<PolarClient>,
    output: &Output,
    prefetch: &Prefetch,
    tracked: &[(&'static StreamDef, i64)],
) -> Result<Result<Feed, FeedError>, OutputClosed> {
    let start = tracked.iter().map(|(_, since)| *since).min().unwrap_or(0);
    // Past this many changes of a stream, it is read in full (its ids would cost memory, and their reads
    // more than a full read on all but the largest organizations).
    let mut log = ChangeLog::new(tracked, client.tuning().max_changes_per_stream);
    // Only the events some stream follows: the feed also holds benefit, meter and other events.
    let mut filters = vec![("source", "system".to_owned())];
    filters.extend(
        log.event_names()
            .into_iter()
            .map(|name| ("name", name.to_owned())),
    );
    let listing = Listing::of(&SYSTEM_EVENTS).filtered(filters);
    let mut horizon = None;
    let mut bad = None;
    let mut events = 0u64;
    let mut visit = |page: &Page, emit: &[u32]| {
        horizon.get_or_insert_with(|| page.server_now());
        for &index in emit {
            events += 1;
            if let Err(problem) = log.add(page.text(&page.items[index as usize])) {
                bad.get_or_insert(problem);
            }
        }
    };
    let records = Records {
        visit: Some(&mut visit),
        ..Records::write()
    };
    let outcome = read_system_events(client, output, prefetch, listing, start, records).await?;
    Ok(match (outcome, bad) {
        (Err(StreamError::Api(ApiError::MissingScope { .. })), _) => Err(FeedError::MissingScope),
        (Err(error), _) => Err(FeedError::Failed(error)),
        (Ok(_), Some(bad)) => Err(FeedError::BadEvent(bad)),
        (Ok(_), None) => Ok(Feed {
            horizon: horizon.unwrap_or_else(|| crate::time::system_micros(SystemTime::now())),
            log,
            events,
        }),
    })
}

/// What an incremental pass over one stream did.
#[derive(Debug, Default)]
pub struct ChangesSummary {
    pub new_or_current: u64,
    pub read_again: u64,
    pub deleted: u64,
    /// Records named by events that their list no longer shows and that cannot be read by id.
    pub unlisted: u64,
    pub requests: u64,
    pub in_full: bool,
}

/// Syncs what changed in `stream` since `cursor` (Unix microseconds), given the feed's `changes` and its
/// `horizon` (`None` for a stream that follows no events: then the stream's own first answer); leaves the
/// incremental state with the horizon as the new cursor.
#[allow(clippy::too_many_arguments)]
pub async fn read_changes(
    client: Arc<PolarClient>,
    output: &Output,
    stream: &'static StreamDef,
    prefetch: &Prefetch,
    (cursor, window_after): (i64, Option<String>),
    lookback: Duration,
    horizon: Option<i64>,
    mut changes: StreamChanges,
) -> Result<Result<ChangesSummary, StreamError>, OutputClosed> {
    let incremental = stream
        .incremental
        .as_ref()
        .expect("only streams with an incremental definition sync incrementally");
    let since = window_start(cursor, lookback);
    let mut summary = ChangesSummary::default();
    let frame = || RecordFrame::new(stream.name, now_millis(), true);
    output
        .send(&Message::stream_status(stream.name, StreamStatus::Running))
        .await?;
    // Records the STATE messages of this pass counted already (each STATE counts those since the one before).
    let mut counted = 0u64;
    // The deletions the events name go first, with a state that keeps the old cursor: whatever follows (a full
    // read, which cannot see them), no state moves the cursor past them before they are out.
    if changes.deletions_overflow {
        let floor = horizon.unwrap_or(cursor);
        match stream_deletions(&client, output, stream, prefetch, since, floor).await? {
            Ok(deleted) => {
                summary.deleted += deleted;
                counted += deleted;
            }
            Err(error) => return Ok(Err(error)),
        }
        send_kept_state(output, stream, cursor, &window_after, summary.deleted).await?;
    }
    let deletions = std::mem::take(&mut changes.deleted);
    if !deletions.is_empty() {
        let floor = horizon.unwrap_or(cursor);
        let cursors: Vec<String> = deletions
            .values()
            .map(|at| {
                let at = crate::time::micros(at).unwrap_or(floor);
                crate::time::format(deletion_cursor(at, floor))
            })
            .collect();
        send_deletions(
            output,
            &frame(),
            deletions
                .iter()
                .zip(&cursors)
                .map(|((id, at), updated)| (id.as_str(), updated.as_str(), at.as_str())),
        )
        .await?;
        summary.deleted += deletions.len() as u64;
        counted += deletions.len() as u64;
        send_kept_state(
            output,
            stream,
            cursor,
            &window_after,
            deletions.len() as u64,
        )
        .await?;
    }

    // What a full read costs, when the changes might cost more.
    let refetch = incremental.followed.map(|followed| followed.refetch);
    let full_pages = if plan::asks_full_cost(&changes, refetch) {
        summary.requests += 1;
        match probe_total(&client, output, stream).await? {
            Ok(total) => Some(total.div_ceil(u64::from(PAGE_SIZE)).max(1)),
            Err(error) => return Ok(Err(error.into())),
        }
    } else {
        None
    };
    // Reading in full is decided on the feed's changes only, so the feed's horizon is there.
    let feed_horizon = || -> Arc<str> {
        crate::time::format(
            horizon.unwrap_or_else(|| crate::time::system_micros(SystemTime::now())),
        )
        .into()
    };
    let max_changes = client.tuning().max_changes_per_stream;
    if let Some(why) = plan::in_full_because(&changes, refetch, full_pages, max_changes) {
        return read_in_full(
            client,
            output,
            stream,
            prefetch,
            &feed_horizon(),
            summary,
            &why,
        )
        .await;
    }

    // The windows of the list: records created (or, for checkouts and customer meters, changed) since.
    let mut seen = HashedSet::default();
    let mut own_horizon = None;
    for window in incremental.windows {
        let (listing, core, checkpoints) = match window {
            Window::After { filter, sorting } => {
                let listing = Listing {
                    sorting,
                    unique_order: false,
                    key_filter: Some(filter),
                    ..Listing::of(stream)
                };
                // From where an interrupted pass got to, if one did; its checkpoints keep the old cursor.
                let from = Resume {
                    page: 1,
                    last_id: None,
                    created_after: Some(
                        window_after
                            .clone()
                            .unwrap_or_else(|| crate::time::format(since)),
                    ),
                };
                let core = StreamCore::new(&listing, PAGE_SIZE, Some(from));
                let checkpoints = Checkpoints::Window {
                    cursor: crate::time::format(cursor).into(),
                };
                (listing, core, checkpoints)
            }
            Window::Newest { sorting } => {
                let listing = window_listing(stream, sorting);
                let core = StreamCore::new(&listing, PAGE_SIZE, None).window_from(since);
                (listing, core, Checkpoints::Silent)
            }
            Window::ChangedNewest { sorting } => {
                let listing = window_listing(stream, sorting);
                let start =
                    match first_changed_page(&client, output, &listing, &mut summary).await? {
                        Ok(start) => start,
                        Err(error) => return Ok(Err(error.into())),
                    };
                let core = StreamCore::new(&listing, PAGE_SIZE, None)
                    .window_from(since)
                    .starting_at(start);
                (listing, core, Checkpoints::Silent)
            }
        };
        let records = Records {
            cdc: true,
            seen: Some(&mut seen),
            ..Records::write()
        };
        match read_part(
            &client,
            output,
            prefetch,
            (listing, checkpoints),
            Some(core),
            records,
            &mut summary,
        )
        .await?
        {
            Ok(read) => {
                summary.new_or_current += read.records;
                counted += read.counted_in_states;
                own_horizon = own_horizon.or(read.first_answer_at);
            }
            Err(error) => return Ok(Err(error)),
        }
    }
    let horizon_micros = horizon
        .or(own_horizon)
        .unwrap_or_else(|| crate::time::system_micros(SystemTime::now()));
    let horizon_text: Arc<str> = crate::time::format(horizon_micros).into();

    if let Some(refetch) = refetch {
        // Changed records not read already, through the list's filter where Polar has one.
        let wanted: Vec<(String, Option<String>)> = changes
            .changed
            .into_iter()
            .filter(|(id, _)| !seen.contains(&id_hash(id)))
            .collect();
        drop(seen);
        let plan::Rereads {
            batches,
            mut singles,
        } = plan::rereads(refetch, wanted);
        // The batches of a customer with many records cost more than their estimate: once what was spent and
        // what is left reach a full read's cost, the stream is read in full instead.
        let batch_count = batches.len() as u64;
        for (done, plan::Batch { filters, ids }) in batches.into_iter().enumerate() {
            if plan::over_budget(
                full_pages,
                summary.requests,
                batch_count - done as u64 + singles.len() as u64,
            ) {
                let why =
                    "the records changed since the last sync belong to customers with many records";
                return read_in_full(
                    client,
                    output,
                    stream,
                    prefetch,
                    &horizon_text,
                    summary,
                    why,
                )
                .await;
            }
            let mut only: HashedSet = ids.iter().map(|id| id_hash(id)).collect();
            let listing = Listing {
                key_filter: None,
                ..Listing::of(stream)
            }
            .filtered(filters);
            let records = Records {
                cdc: true,
                only: Some(&mut only),
                ..Records::write()
            };
            if let Err(error) = read_part(
                &client,
                output,
                prefetch,
                (listing, Checkpoints::Silent),
                None,
                records,
                &mut summary,
            )
            .await?
            {
                return Ok(Err(error));
            }
            summary.read_again += (ids.len() - only.len()) as u64;
            let missing = ids.into_iter().filter(|id| only.contains(&id_hash(id)));
            match refetch {
                // Not where its event said: read on its own.
                Refetch::ByCustomer(_) => singles.extend(missing),
                // Polar lists it no more (refunds of deleted orders are hidden) and has no read by id.
                _ => summary.unlisted += missing.count() as u64,
            }
        }
        if let Err(error) = read_singles(
            &client,
            output,
            stream,
            singles,
            horizon_micros,
            &mut summary,
        )
        .await?
        {
            return Ok(Err(error));
        }
    }
    let records =
        (summary.new_or_current + summary.read_again + summary.deleted).saturating_sub(counted);
    let state = IncrementalState {
        cursor: horizon_text.to_string(),
        created_after: None,
    };
    output
        .send(&Message::stream_state(
            stream.name,
            state.to_json(),
            records,
        ))
        .await?;
    Ok(Ok(summary))
}

/// Reads the records named by `ids` one by one, each fetch in its own task (the client paces them): a 404
/// means deleted, and becomes a deletion record dated `horizon` (Unix microseconds; its cursor the end of
/// that second, see [`deletion_cursor`]).
async fn read_singles(
    client: &Arc<PolarClient>,
    output: &Output,
    stream: &'static StreamDef,
    ids: Vec<String>,
    horizon: i64,
    summary: &mut ChangesSummary,
) -> Result<Result<(), StreamError>, OutputClosed> {
    let frame = || RecordFrame::new(stream.name, now_millis(), true);
    let deleted_at = crate::time::format(horizon);
    let cursor = crate::time::format(deletion_cursor(horizon, horizon));
    let (events, mut event_source) = mpsc::unbounded_channel::<ClientEvent>();
    let mut reads = futures::stream::iter(ids)
        .map(|id| {
            let client = client.clone();
            let events = events.clone();
            tokio::spawn(async move {
                let page = client.fetch_record(stream, &id, &events).await;
                (id, page)
            })
        })
        .buffer_unordered(client.max_in_flight());
    while let Some(joined) = reporting(&mut event_source, reads.next(), |event| {
        report(output, event)
    })
    .await?
    {
        let (id, page) = match joined {
            Ok(read) => read,
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(error) => unreachable!("a read by id is never aborted: {error}"),
        };
        summary.requests += 1;
        match page {
            Ok(Some(page)) => {
                summary.read_again += 1;
                output
                    .send_records(Arc::new(page), frame(), vec![0])
                    .await?;
            }
            Ok(None) => {
                summary.deleted += 1;
                send_deletions(output, &frame(), [(id.as_str(), &*cursor, &*deleted_at)]).await?;
            }
            Err(error) => return Ok(Err(error.into())),
        }
    }
    // Every read has ended, and `reporting` said the events each sent before it ended.
    Ok(Ok(()))
}

/// A window's listing of `stream` in the order `sorting`, without the stream's key filter.
fn window_listing(stream: &'static StreamDef, sorting: &'static [&'static str]) -> Listing {
    Listing {
        sorting,
        unique_order: false,
        key_filter: None,
        ..Listing::of(stream)
    }
}

/// The page a window sorted newest first by a nullable time starts from, past the records whose time is
/// null, found by bisection (see `reader::boundary`). Its probes are added to `summary`.
async fn first_changed_page(
    client: &PolarClient,
    output: &Output,
    listing: &Listing,
    summary: &mut ChangesSummary,
) -> Result<Result<u32, ApiError>, OutputClosed> {
    let mut prefix = NullPrefix::new(PAGE_SIZE);
    loop {
        let number = match prefix.next() {
            Probe::Fetch(number) => number,
            Probe::StartAt(number) => return Ok(Ok(number)),
        };
        let page = fetch_reported(client, output, listing, number, PAGE_SIZE).await?;
        summary.requests += 1;
        match page {
            Ok(page) => prefix.accept(number, &page),
            Err(error) => return Ok(Err(error)),
        }
    }
}

/// Reads `stream` in full for an incremental sync (`why`: its changes would cost more), leaving the horizon
/// as its cursor.
async fn read_in_full(
    client: Arc<PolarClient>,
    output: &Output,
    stream: &'static StreamDef,
    prefetch: &Prefetch,
    horizon: &Arc<str>,
    summary: ChangesSummary,
    why: &str,
) -> Result<Result<ChangesSummary, StreamError>, OutputClosed> {
    output
        .log(
            LogLevel::Info,
            format!("{}: reading the stream in full: {why}", stream.name),
        )
        .await?;
    let checkpoints = Checkpoints::Incremental {
        cursor: Some(horizon.clone()),
    };
    let read = StreamReader::new(client, output, Listing::of(stream), prefetch, checkpoints)
        .running_sent()
        .run(
            None,
            Records {
                cdc: true,
                ..Records::write()
            },
        )
        .await?;
    Ok(read.map(|read| ChangesSummary {
        new_or_current: read.records,
        in_full: true,
        requests: summary.requests + read.pages + read.recovery_requests,
        ..summary
    }))
}

/// A read inside an incremental pass (`core`, or the whole `listing`): no STATE, RUNNING or ESTIMATE of its
/// own. Its requests are added to `summary`.
async fn read_part(
    client: &Arc<PolarClient>,
    output: &Output,
    prefetch: &Prefetch,
    (listing, checkpoints): (Listing, Checkpoints),
    core: Option<StreamCore>,
    records: Records<'_>,
    summary: &mut ChangesSummary,
) -> Result<Result<StreamSummary, StreamError>, OutputClosed> {
    let core = core.unwrap_or_else(|| StreamCore::new(&listing, PAGE_SIZE, None));
    let read = StreamReader::new(client.clone(), output, listing, prefetch, checkpoints)
        .run_core(core, records)
        .await?;
    if let Ok(read) = &read {
        summary.requests += read.pages + read.recovery_requests;
    }
    Ok(read)
}

/// The stream's record count, from one page of one record.
async fn probe_total(
    client: &PolarClient,
    output: &Output,
    stream: &'static StreamDef,
) -> Result<Result<u64, ApiError>, OutputClosed> {
    let page = fetch_reported(client, output, &Listing::of(stream), 1, 1).await?;
    Ok(page.map(|page| page.total_count))
}

/// One page of `listing`, fetched at once, with the client's events (retries, rate limits) reported.
async fn fetch_reported(
    client: &PolarClient,
    output: &Output,
    listing: &Listing,
    number: u32,
    limit: u32,
) -> Result<Result<Page, ApiError>, OutputClosed> {
    with_reports(output, |events| async move {
        client
            .fetch_page(listing, number, limit, (None, None), &events)
            .await
    })
    .await
}

/// The cursor of a record deleted at `deleted` (Unix microseconds) found by a sync whose horizon is `horizon`.
///
/// It must pass every version of the record delivered before, or a deduplicating destination keeps the row:
/// Polar dates some events earlier than the record's last change, so the cursor is the later of the deletion
/// and the end of the horizon's second (the `Date` the horizon comes from is cut to whole seconds, and every
/// version an earlier sync delivered was read, so changed, before this sync's first answer).
/// `_ab_cdc_deleted_at` stays the deletion's own time.
pub fn deletion_cursor(deleted: i64, horizon: i64) -> i64 {
    deleted.max(horizon.saturating_add(999_999))
}

/// Reads the feed's deletions of `stream` since `since` again and writes a deletion record for each, page by
/// page (more of them than the change log keeps; see `StreamChanges::deletions_overflow`). Returns how many.
async fn stream_deletions(
    client: &Arc<PolarClient>,
    output: &Output,
    stream: &'static StreamDef,
    prefetch: &Prefetch,
    since: i64,
    floor: i64,
) -> Result<Result<u64, StreamError>, OutputClosed> {
    let deleted_by = stream
        .followed()
        .and_then(|followed| followed.deleted_by)
        .expect("only a stream whose deletions the feed names overflows with them");
    output
        .log(
            LogLevel::Info,
            format!(
                "{}: more than {} deletions since the last sync: reading them again from Polar's change log \
                 and writing them as they come",
                stream.name,
                client.tuning().max_changes_per_stream
            ),
        )
        .await?;
    let listing = Listing::of(&SYSTEM_EVENTS).filtered(vec![
        ("source", "system".to_owned()),
        ("name", deleted_by.to_owned()),
    ]);
    let frame = RecordFrame::new(stream.name, now_millis(), true);
    let mut written = 0u64;
    let mut bad = None;
    let mut render = |page: &Page, emit: &[u32]| {
        let mut lines = Vec::new();
        for &index in emit {
            match changes::deletion_in(stream, page.text(&page.items[index as usize])) {
                Ok(Some((id, at))) => {
                    let deleted = crate::time::micros(&at).unwrap_or(floor);
                    let updated = crate::time::format(deletion_cursor(deleted, floor));
                    frame.write_deletion(&mut lines, &id, &updated, &at);
                    written += 1;
                }
                Ok(None) => {}
                Err(problem) => {
                    bad.get_or_insert(problem);
                }
            }
        }
        lines
    };
    let records = Records {
        render: Some(&mut render),
        ..Records::write()
    };
    let outcome = read_system_events(
        Arc::clone(client),
        output,
        prefetch,
        listing,
        since,
        records,
    )
    .await?;
    Ok(match (outcome, bad) {
        (Err(error), _) => Err(StreamError::ChangeLog {
            failure_type: error.failure_type(),
            message: format!(
                "reading {}'s deletions from Polar's change log failed: {error}",
                stream.name
            ),
        }),
        (Ok(_), Some(bad)) => Err(StreamError::ChangeLog {
            failure_type: crate::protocol::FailureType::SystemError,
            message: bad.to_string(),
        }),
        (Ok(_), None) => Ok(written),
    })
}

/// The STATE that keeps the old `cursor` (and how far the window by key got) after deletions were written,
/// counting `records`: nothing moves the cursor past them before they are out.
async fn send_kept_state(
    output: &Output,
    stream: &StreamDef,
    cursor: i64,
    window_after: &Option<String>,
    records: u64,
) -> Result<(), OutputClosed> {
    let kept = IncrementalState {
        cursor: crate::time::format(cursor),
        created_after: window_after.clone(),
    };
    output
        .send(&Message::stream_state(stream.name, kept.to_json(), records))
        .await
}

/// Writes deletion records: (id, cursor, deletion time).
async fn send_deletions<'i>(
    output: &Output,
    frame: &RecordFrame,
    deletions: impl IntoIterator<Item = (&'i str, &'i str, &'i str)>,
) -> Result<(), OutputClosed> {
    let mut lines = Vec::new();
    for (id, updated, deleted) in deletions {
        frame.write_deletion(&mut lines, id, updated, deleted);
    }
    output.send_lines(lines).await
}
