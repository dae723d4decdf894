//! The core against an in-memory model of Polar's offset paging: random sizes, ties reshuffled at page
//! edges on every request, records created and deleted between requests, pages fetched ahead (so served
//! from an earlier moment), and resumes. No I/O: pages are rendered as JSON and parsed like real ones.

use std::collections::{HashMap, HashSet};

use proptest::prelude::*;

use super::*;
use crate::reader::witness::covering_window;
use crate::streams::Shape;

const SORTING: &[&str] = &["created_at"];

/// A list whose records can tie on their one sort criterion.
static THINGS: StreamDef = StreamDef {
    name: "things",
    path: "/v1/things/",
    scope: "things:read",
    description: "Things.",
    sorting: SORTING,
    unique_order: false,
    creation_filter: None,
    null_tail: None,
    shape: Shape::List,
    schema: "{}",
    incremental: None,
};

/// The same list, where no two records share a creation time.
static UNIQUE_THINGS: StreamDef = StreamDef {
    unique_order: true,
    ..THINGS
};

/// A list sorted by a time that is not the creation time (as subscriptions by `started_at`): new records can
/// land anywhere in the order.
static STARTED_THINGS: StreamDef = StreamDef {
    sorting: &["started_at"],
    unique_order: true,
    ..THINGS
};

/// A list with a strict creation filter, ordered uniquely within a creation time (like orders).
static FILTERED_THINGS: StreamDef = StreamDef {
    unique_order: true,
    creation_filter: Some("created_after"),
    shape: Shape::List,
    ..THINGS
};

/// A Polar list: rows ordered by creation time, ties in no fixed order.
struct Model {
    ties: bool,
    /// Listed in a unique order (creation, then id number), as orders are by invoice number: no reshuffles.
    unique_order: bool,
    /// The name of the field the list is sorted by.
    key_field: &'static str,
    /// New records take a random place in the order instead of the last one.
    insert_anywhere: bool,
    /// Listed newest first (`-created_at`), keys rendered as RFC 3339 times (see [`key_time`]).
    newest_first: bool,
    rows: Vec<(String, u64)>,
    next_id: u64,
    rng: fastrand::Rng,
    requests: u64,
    /// Keys rendered as RFC 3339 times, pages timed on a clock of [`REQUEST_SPACING`] per request, and the
    /// time of every deletion kept, as Polar's change log keeps them.
    timed: bool,
    deletions: Vec<i64>,
}

/// How far apart the timed model's requests are (microseconds).
const REQUEST_SPACING: i64 = 10_000_000;

/// What changes between requests.
#[derive(Debug, Clone, Copy)]
struct Churn {
    creates: usize,
    deletes: usize,
    /// Requests after which churn stops.
    for_requests: u64,
}

impl Model {
    fn new(count: usize, tie_every: usize, seed: u64) -> Model {
        let rows = (0..count)
            .map(|i| (format!("r{i}"), (i / tie_every.max(1)) as u64))
            .collect();
        Model {
            ties: tie_every > 1,
            unique_order: false,
            key_field: "created_at",
            insert_anywhere: false,
            newest_first: false,
            rows,
            next_id: count as u64,
            rng: fastrand::Rng::with_seed(seed),
            requests: 0,
            timed: false,
            deletions: Vec::new(),
        }
    }

    fn ids(&self) -> HashSet<String> {
        self.rows.iter().map(|(id, _)| id.clone()).collect()
    }

    fn churn(&mut self, churn: Churn) {
        if self.requests >= churn.for_requests {
            return;
        }
        for _ in 0..churn.deletes {
            if !self.rows.is_empty() {
                let at = self.rng.usize(..self.rows.len());
                self.rows.remove(at);
                // Just before the page of this request is read.
                self.deletions.push(self.clock() - 1_000);
            }
        }
        for _ in 0..churn.creates {
            let id = format!("r{}", self.next_id);
            self.next_id += 1;
            if self.insert_anywhere {
                // Keys are spaced 1000 apart and new ones fall between: each new record lands at a random place.
                let at = self.rng.usize(..=self.rows.len());
                let key = if at == 0 {
                    0
                } else {
                    self.rows[at - 1].1 + 1 + self.rng.u64(..998)
                };
                if self.rows.iter().all(|(_, existing)| *existing != key) {
                    self.rows.insert(at, (id, key));
                    self.rows.sort_by_key(|(_, key)| *key);
                }
                continue;
            }
            let created = self.rows.iter().map(|(_, c)| *c + 1).max().unwrap_or(0);
            self.rows.push((id, created));
        }
    }

    /// The timed model's clock at the current request (Unix microseconds, whole seconds).
    fn clock(&self) -> i64 {
        key_time(0) + (self.requests as i64 + 1) * REQUEST_SPACING
    }

    /// One page as Polar renders it now: the tie groups cut by the page's edges are reshuffled. With
    /// `after`, only the records created strictly after it are listed, in (creation, id number) order: a
    /// unique order, as orders' invoice numbers give.
    fn page(&mut self, request: &PageRequest, churn: Churn) -> Page {
        let (page, limit) = (request.page, request.limit);
        self.churn(churn);
        self.requests += 1;
        let mut order = self.rows.clone();
        // A filter's value is a key, or (timed) a time, maybe between two keys' times.
        let micros = |text: &str| {
            text.parse::<u64>()
                .map(key_time)
                .ok()
                .or_else(|| crate::time::micros(text))
                .expect("the filter's value is a creation time")
        };
        if let Some(after) = &request.after {
            let after = micros(after);
            order.retain(|(_, created)| key_time(*created) > after);
        }
        if let Some(until) = &request.until {
            let until = micros(until);
            order.retain(|(_, created)| key_time(*created) < until);
        }
        if self.unique_order {
            order.sort_by_key(|(id, created)| (*created, id[1..].parse::<u64>().unwrap()));
        }
        if self.newest_first {
            order.reverse();
        }
        let total = order.len();
        let start = ((page as usize - 1) * limit as usize).min(total);
        let end = (start + limit as usize).min(total);
        for edge in [start, end] {
            if self.unique_order || edge == 0 || edge >= total || order[edge - 1].1 != order[edge].1
            {
                continue;
            }
            let key = order[edge].1;
            let low = order.iter().position(|(_, c)| *c == key).unwrap();
            let high = order.iter().rposition(|(_, c)| *c == key).unwrap() + 1;
            self.rng.shuffle(&mut order[low..high]);
        }
        let items: Vec<_> = order[start..end]
            .iter()
            .map(|(id, key)| {
                let mut item = serde_json::json!({"id": id, "name": "x"});
                item[self.key_field] = if self.newest_first || self.timed {
                    serde_json::json!(crate::time::format(key_time(*key)))
                } else {
                    serde_json::json!(key)
                };
                item
            })
            .collect();
        let body = serde_json::json!({
            "items": items,
            "pagination": {"total_count": total, "max_page": total.div_ceil(limit as usize)},
        });
        let mut page = Page::parse(body.to_string(), &[self.key_field])
            .expect("the model renders valid pages");
        if self.timed {
            let now = self.clock() - REQUEST_SPACING;
            page.sent_at = now - 2_000_000;
            page.answered_at = now + 100_000;
            page.date = Some(std::time::UNIX_EPOCH + std::time::Duration::from_micros(now as u64));
        }
        page
    }
}

/// The time (Unix microseconds) a model key stands for when rendered as a timestamp.
fn key_time(key: u64) -> i64 {
    1_700_000_000_000_000 + key as i64 * 1_000_000
}

/// A list read newest first, as the window of an incremental sync reads customers and refunds.
static NEWEST_THINGS: StreamDef = StreamDef {
    sorting: &["-created_at"],
    ..THINGS
};

/// The same, where no two records share a creation time.
static NEWEST_UNIQUE_THINGS: StreamDef = StreamDef {
    sorting: &["-created_at"],
    unique_order: true,
    ..THINGS
};

/// How a run ended.
#[derive(Debug)]
struct Run {
    delivered: Vec<String>,
    outcome: Result<(), LossError>,
    notes: Vec<Note>,
    requests: u64,
}

/// Drives the core over the model like the driver does, fetching up to `ahead` main pages early.
fn drive(model: &mut Model, churn: Churn, limit: u32, ahead: u32, resume: Option<Resume>) -> Run {
    let stream = if model.ties { &THINGS } else { &UNIQUE_THINGS };
    drive_stream(stream, model, churn, limit, ahead, resume)
}

fn drive_stream(
    stream: &'static StreamDef,
    model: &mut Model,
    churn: Churn,
    limit: u32,
    ahead: u32,
    resume: Option<Resume>,
) -> Run {
    let core = StreamCore::new(&Listing::of(stream), limit, resume);
    drive_core(core, model, churn, ahead)
}

fn drive_core(mut core: StreamCore, model: &mut Model, churn: Churn, ahead: u32) -> Run {
    let mut early: HashMap<u32, Page> = HashMap::new();
    let mut delivered = Vec::new();
    let mut notes = Vec::new();
    let before = model.requests;
    let outcome = loop {
        let step = core.next_step();
        notes.extend(core.take_notes());
        let request = match step {
            Step::Fetch(request) => request,
            Step::Done => break Ok(()),
            Step::Fail(loss) => break Err(loss),
            Step::Witness(from) => {
                let deletions: Vec<i64> = model
                    .deletions
                    .iter()
                    .copied()
                    .filter(|at| *at > from)
                    .collect();
                core.witnessed(Ok(&deletions));
                continue;
            }
        };
        assert!(
            model.requests - before < 10_000,
            "the core keeps asking for pages"
        );
        let page = if request.purpose == Purpose::Main {
            early.retain(|number, _| *number > request.page);
            let page = early
                .remove(&request.page)
                .unwrap_or_else(|| model.page(&request, churn));
            let known = core.last_main_page().unwrap_or(0);
            for number in request.page + 1..=(request.page + ahead).min(known) {
                if let std::collections::hash_map::Entry::Vacant(slot) = early.entry(number) {
                    let ahead_request = PageRequest {
                        page: number,
                        ..request.clone()
                    };
                    slot.insert(model.page(&ahead_request, churn));
                }
            }
            page
        } else {
            model.page(&request, churn)
        };
        for index in core.accept(request.clone(), &page) {
            let item = &page.items[index as usize];
            delivered.push(serde_json::from_str(page.id_json(item)).unwrap());
        }
        notes.extend(core.take_notes());
    };
    Run {
        delivered,
        outcome,
        notes,
        requests: model.requests - before,
    }
}

fn assert_exact(run: &Run, must: &HashSet<String>, may: &HashSet<String>) {
    let mut seen = HashSet::new();
    for id in &run.delivered {
        assert!(seen.insert(id.clone()), "{id} delivered twice");
        assert!(may.contains(id), "{id} never existed");
    }
    let missing: Vec<_> = must.difference(&seen).collect();
    assert!(missing.is_empty(), "lost {missing:?}");
}

fn all_ever(model: &Model, before: &HashSet<String>) -> HashSet<String> {
    let mut may = before.clone();
    may.extend((0..model.next_id).map(|i| format!("r{i}")));
    may
}

/// The checkpoints a run left, in order.
fn checkpoints(run: &Run) -> Vec<Checkpoint> {
    states(run)
        .into_iter()
        .filter_map(|(state, _)| match state {
            StreamState::InProgress(checkpoint) => Some(checkpoint),
            StreamState::Complete => None,
        })
        .collect()
}

fn states(run: &Run) -> Vec<(StreamState, u64)> {
    run.notes
        .iter()
        .filter_map(|note| match note {
            Note::State(state, records) => Some((state.clone(), *records)),
            _ => None,
        })
        .collect()
}

const STILL: Churn = Churn {
    creates: 0,
    deletes: 0,
    for_requests: 0,
};

#[test]
fn a_still_stream_is_read_once_page_by_page_with_a_checkpoint_after_each() {
    let mut model = Model::new(250, 1, 1);
    let run = drive(&mut model, STILL, 100, 0, None);
    assert!(run.outcome.is_ok());
    assert_exact(&run, &model.ids(), &model.ids());
    assert_eq!(run.requests, 3, "three pages, nothing more");
    let states = states(&run);
    let pages: Vec<_> = states
        .iter()
        .map(|(state, records)| match state {
            StreamState::InProgress(checkpoint) => (Some(checkpoint.page), *records),
            StreamState::Complete => (None, *records),
        })
        .collect();
    assert_eq!(
        pages,
        [(Some(2), 100), (Some(3), 100), (Some(4), 50), (None, 0)]
    );
    assert_eq!(run.notes[0], Note::Running);
    assert_eq!(run.notes[1], Note::Estimate(250));
}

#[test]
fn an_empty_stream_completes_after_one_request() {
    let mut model = Model::new(0, 1, 1);
    let run = drive(&mut model, STILL, 100, 4, None);
    assert!(run.outcome.is_ok());
    assert_eq!(run.requests, 1);
    assert!(run.delivered.is_empty());
}

#[test]
fn records_created_during_the_read_do_not_fail_it() {
    // One record created before every request: what `total_count` reports at the end includes records created
    // after the last page was read, which the tail reads then collect.
    let mut model = Model::new(918, 1, 3);
    let before = model.ids();
    let churn = Churn {
        creates: 1,
        deletes: 0,
        for_requests: u64::MAX,
    };
    let run = drive(&mut model, churn, 100, 4, None);
    assert!(run.outcome.is_ok(), "{:?}", run.outcome);
    assert_exact(&run, &before, &all_ever(&model, &before));
    assert!(
        run.delivered.len() > before.len(),
        "records created while paging arrive too"
    );
}

#[test]
fn a_page_past_the_count_or_an_empty_page_ends_the_pass() {
    // A server whose count says nothing more: no request past it, whatever `max_page` claims.
    let mut core = StreamCore::new(&Listing::of(&THINGS), 100, None);
    let Step::Fetch(first) = core.next_step() else {
        panic!("a first page")
    };
    let body = r#"{"items": [{"id": "a", "created_at": 1}], "pagination": {"total_count": 1, "max_page": 1000000}}"#;
    let page = Page::parse(body.into(), SORTING).unwrap();
    assert_eq!(core.accept(first, &page), [0]);
    assert!(matches!(core.next_step(), Step::Done));

    // A count that promises more than the pages hold: the empty page is asked for once more, then the stream
    // fails as a server that does not page as Polar does, not an endless read.
    let mut core = StreamCore::new(&Listing::of(&THINGS), 100, None);
    let empty = r#"{"items": [], "pagination": {"total_count": 500, "max_page": 5}}"#;
    for _ in 0..2 {
        let Step::Fetch(request) = core.next_step() else {
            panic!("page 1, and page 1 again")
        };
        assert_eq!(request.page, 1);
        core.accept(request, &Page::parse(empty.into(), SORTING).unwrap());
    }
    match core.next_step() {
        Step::Fail(loss @ LossError::ShortPage { total, records, .. }) => {
            assert_eq!((total, records), (500, 0));
            assert_eq!(
                loss.failure_type(),
                crate::protocol::FailureType::SystemError
            );
        }
        other => panic!("{other:?}"),
    }
}

/// A page of `ids` (created at their index) reporting `total`.
fn page_of(ids: &[&str], total: u64) -> Page {
    let items: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| serde_json::json!({"id": id, "created_at": i}))
        .collect();
    let body =
        serde_json::json!({"items": items, "pagination": {"total_count": total, "max_page": 1}});
    Page::parse(body.to_string(), SORTING).unwrap()
}

#[test]
fn a_full_page_the_count_calls_the_last_is_followed_by_one_more_request() {
    // The count says 2 (one page of 2), but Polar holds 5: the full page is checked with another request,
    // and the reader pages on until a page is short.
    let mut core = StreamCore::new(&Listing::of(&UNIQUE_THINGS), 2, None);
    let pages = [vec!["a", "b"], vec!["c", "d"], vec!["e"]];
    let mut delivered = 0;
    for (number, ids) in pages.iter().enumerate() {
        let Step::Fetch(request) = core.next_step() else {
            panic!("page {} is asked for", number + 1)
        };
        assert_eq!(request.page, number as u32 + 1);
        delivered += core.accept(request, &page_of(ids, 2)).len();
    }
    assert!(matches!(core.next_step(), Step::Done));
    assert_eq!(delivered, 5);
    let warned = core.take_notes().iter().any(|note| {
        matches!(note, Note::Log(LogLevel::Warn, text) if text.contains("count is lower than what it serves"))
    });
    assert!(warned, "the undercount is said");

    // An exact count costs one empty page more, and completes.
    let mut core = StreamCore::new(&Listing::of(&UNIQUE_THINGS), 2, None);
    for (ids, number) in [(vec!["a", "b"], 1), (vec![], 2)] {
        let Step::Fetch(request) = core.next_step() else {
            panic!()
        };
        assert_eq!(request.page, number);
        core.accept(request, &page_of(&ids, 2));
    }
    assert!(matches!(core.next_step(), Step::Done));
}

#[test]
fn a_server_that_ignores_the_page_fails_instead_of_paging_forever() {
    // Every page is page 1 again, the count unchanged: the second page brings nothing new.
    let mut core = StreamCore::new(&Listing::of(&UNIQUE_THINGS), 2, None);
    for _ in 0..2 {
        let Step::Fetch(request) = core.next_step() else {
            panic!()
        };
        core.accept(request, &page_of(&["a", "b"], 1_000_000_000));
    }
    match core.next_step() {
        Step::Fail(loss @ LossError::PageIgnored { page: 2, .. }) => {
            assert_eq!(
                loss.failure_type(),
                crate::protocol::FailureType::SystemError
            );
            assert!(
                loss.to_string().contains("ignores the 'page' parameter"),
                "{loss}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn paging_by_key_refuses_pages_out_of_order_or_not_after_the_key() {
    let keyed = |items: serde_json::Value| {
        let body =
            serde_json::json!({"items": items, "pagination": {"total_count": 3, "max_page": 1}});
        Page::parse(body.to_string(), SORTING).unwrap()
    };
    let time = |second: u32| format!("2025-01-01T00:00:{second:02}Z");
    for (name, first, second) in [
        (
            "descending",
            keyed(serde_json::json!([
                {"id": "a", "created_at": time(1)}, {"id": "b", "created_at": time(2)}
            ])),
            keyed(serde_json::json!([
                {"id": "d", "created_at": time(9)}, {"id": "c", "created_at": time(5)}
            ])),
        ),
        (
            "not after the key",
            keyed(serde_json::json!([
                {"id": "a", "created_at": time(1)}, {"id": "b", "created_at": time(2)}
            ])),
            keyed(serde_json::json!([
                {"id": "a", "created_at": time(1)}, {"id": "b", "created_at": time(2)}
            ])),
        ),
    ] {
        let mut core = StreamCore::new(&Listing::of(&FILTERED_THINGS), 2, None);
        let Step::Fetch(request) = core.next_step() else {
            panic!()
        };
        core.accept(request, &first);
        let Step::Fetch(request) = core.next_step() else {
            panic!()
        };
        assert_eq!(request.after.as_deref(), Some(time(1).as_str()), "{name}");
        assert!(core.accept(request, &second).is_empty(), "{name}");
        match core.next_step() {
            Step::Fail(loss @ LossError::OutOfOrder { .. }) => {
                assert_eq!(
                    loss.failure_type(),
                    crate::protocol::FailureType::SystemError
                );
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn a_page_short_of_its_own_count_is_asked_again_then_fails() {
    // Page 2 answers with its first record missing and the same count: asked again, it answers the same, so the
    // server does not page as Polar does.
    let mut core = StreamCore::new(&Listing::of(&THINGS), 2, None);
    let page = |ids: &[&str]| {
        let items: Vec<_> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| serde_json::json!({"id": id, "created_at": i}))
            .collect();
        let body =
            serde_json::json!({"items": items, "pagination": {"total_count": 4, "max_page": 2}});
        Page::parse(body.to_string(), SORTING).unwrap()
    };
    let Step::Fetch(first) = core.next_step() else {
        panic!()
    };
    core.accept(first, &page(&["a", "b"]));
    let Step::Fetch(second) = core.next_step() else {
        panic!()
    };
    core.accept(second.clone(), &page(&["d"]));
    let Step::Fetch(again) = core.next_step() else {
        panic!()
    };
    assert_eq!(again, second, "the short page is asked for again");
    core.accept(again, &page(&["d"]));
    assert!(matches!(
        core.next_step(),
        Step::Fail(LossError::ShortPage {
            page: 2,
            records: 1,
            total: 4,
            ..
        })
    ));

    // Asked again, a page that now agrees with its count (a record was deleted between the count and the page)
    // goes on normally.
    let mut core = StreamCore::new(&Listing::of(&UNIQUE_THINGS), 2, None);
    for (ids, total) in [(vec!["a", "b"], 4), (vec!["d"], 4), (vec!["d"], 3)] {
        let Step::Fetch(request) = core.next_step() else {
            panic!()
        };
        core.accept(request, &page_of(&ids, total));
    }
    loop {
        match core.next_step() {
            Step::Fetch(request) => {
                core.accept(request, &page_of(&["a", "b"], 3));
            }
            Step::Done => break,
            Step::Fail(loss) => panic!("{loss}"),
            Step::Witness(_) => unreachable!("no witness was asked for"),
        }
    }
}

/// A page of records `ids`, all created at one instant, of a list of six.
fn tied(ids: &[&str]) -> Page {
    let items: Vec<_> = ids
        .iter()
        .map(|id| serde_json::json!({"id": id, "created_at": 7}))
        .collect();
    let body = serde_json::json!({"items": items, "pagination": {"total_count": 6, "max_page": 3}});
    Page::parse(body.to_string(), SORTING).unwrap()
}

#[test]
fn tie_groups_of_whole_pages_are_not_taken_for_an_ignored_page_at_once() {
    // Two full pages of one tie group, the second all records of the first (ties come back in any order):
    // not yet proof that the server ignores `page`.
    let mut core = StreamCore::new(&Listing::of(&THINGS), 2, None);
    for ids in [["a", "b"], ["a", "b"]] {
        let Step::Fetch(request) = core.next_step() else {
            panic!()
        };
        core.accept(request, &tied(&ids));
    }
    assert!(
        matches!(core.next_step(), Step::Fetch(_)),
        "the read goes on"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// With nothing changing, every record arrives exactly once, ties reshuffled or not, pages fetched ahead
    /// or not, for any size and page size.
    #[test]
    fn a_still_stream_is_read_exactly(
        count in 0usize..700,
        tie_every in 1usize..10,
        limit in 20u32..=100,
        ahead in 0u32..5,
        seed in any::<u64>(),
    ) {
        let mut model = Model::new(count, tie_every, seed);
        let run = drive(&mut model, STILL, limit, ahead, None);
        prop_assert!(run.outcome.is_ok(), "{:?}", run.outcome);
        assert_exact(&run, &model.ids(), &model.ids());
    }

    /// Records created (at the end of the order) or deleted (anywhere) while paging: every record that lives
    /// through the read arrives once, and a read never fails for creations.
    #[test]
    fn records_created_or_deleted_while_paging_lose_nothing(
        count in 1usize..600,
        limit in 10u32..=100,
        ahead in 0u32..5,
        creating in any::<bool>(),
        per_request in 1usize..3,
        for_requests in 1u64..40,
        seed in any::<u64>(),
    ) {
        let mut model = Model::new(count, 1, seed);
        let before = model.ids();
        let churn = Churn {
            creates: if creating { per_request } else { 0 },
            deletes: if creating { 0 } else { per_request },
            for_requests,
        };
        let run = drive(&mut model, churn, limit, ahead, None);
        prop_assert!(run.outcome.is_ok(), "{:?}", run.outcome);
        let survivors: HashSet<String> = before.intersection(&model.ids()).cloned().collect();
        assert_exact(&run, &survivors, &all_ever(&model, &before));
    }

    /// Creations balanced by deletions before every request (anywhere in the order): `total_count` never
    /// moves, the blind spot of offset paging, yet with the change log as a witness every record that lives
    /// through the read arrives exactly once, pages fetched ahead or not, ties or not.
    #[test]
    fn balanced_churn_is_exact_with_the_change_log_as_witness(
        count in 1usize..600,
        tie_every in prop_oneof![Just(1usize), 2usize..4],
        limit in 10u32..=100,
        ahead in 0u32..5,
        per_request in 1usize..3,
        for_requests in 1u64..40,
        seed in any::<u64>(),
    ) {
        let mut model = Model::new(count, tie_every, seed);
        model.timed = true;
        let before = model.ids();
        let churn = Churn { creates: per_request, deletes: per_request, for_requests };
        let stream = if tie_every > 1 { &THINGS } else { &UNIQUE_THINGS };
        let core = StreamCore::new(&Listing::of(stream), limit, None).witnessed_by_change_log();
        let run = drive_core(core, &mut model, churn, ahead);
        let survivors: HashSet<String> = before.intersection(&model.ids()).cloned().collect();
        match &run.outcome {
            Ok(()) => assert_exact(&run, &survivors, &all_ever(&model, &before)),
            // Ties moved further than a window can follow: loud, never short.
            Err(LossError::TiesMoved { .. } | LossError::UnstableTies { .. }) if tie_every > 1 => {}
            Err(loss) => prop_assert!(false, "{}", loss),
        }
    }

    /// The window of records created since a time, read newest first (an incremental sync's new records), is
    /// exact while records are created (at the front) or deleted (anywhere): every record of the window that
    /// lives through the read arrives once, and none older than the window does. Where records tie, a tie
    /// group moved by more deletions than a window of the page size can hold fails the read loudly.
    #[test]
    fn a_window_of_the_newest_records_loses_nothing(
        count in 0usize..700,
        tie_every in 1usize..4,
        window in 0usize..700,
        limit in 10u32..=100,
        ahead in 0u32..4,
        creating in any::<bool>(),
        per_request in 0usize..3,
        for_requests in 1u64..30,
        seed in any::<u64>(),
    ) {
        let mut model = Model::new(count, tie_every, seed);
        model.newest_first = true;
        let from_key = (count.saturating_sub(window) / tie_every) as u64;
        let in_window = |model: &Model| -> HashSet<String> {
            model.rows.iter().filter(|(_, key)| *key >= from_key).map(|(id, _)| id.clone()).collect()
        };
        let before = in_window(&model);
        let churn = Churn {
            creates: if creating { per_request } else { 0 },
            deletes: if creating { 0 } else { per_request },
            for_requests,
        };
        let stream = if tie_every > 1 { &NEWEST_THINGS } else { &NEWEST_UNIQUE_THINGS };
        let core = StreamCore::new(&Listing::of(stream), limit, None).window_from(key_time(from_key));
        let run = drive_core(core, &mut model, churn, ahead);
        if tie_every > 1
            && matches!(run.outcome, Err(LossError::UnstableTies { .. } | LossError::TiesMoved { .. }))
        {
            return Ok(());
        }
        prop_assert!(run.outcome.is_ok(), "{:?}", run.outcome);
        let survivors: HashSet<String> = before.intersection(&model.ids()).cloned().collect();
        let mut may = in_window(&model);
        may.extend(before.iter().cloned());
        assert_exact(&run, &survivors, &may);
    }

    /// Paging by key through a creation filter is exact under any churn, creations and deletions balanced
    /// between two requests included (the blind spot of offset paging), with ties on creation time smaller
    /// than a page, and across a resume from any checkpoint.
    #[test]
    fn paging_by_key_is_exact_under_any_churn(
        count in 0usize..700,
        tie_every in 1usize..10,
        limit in 10u32..=100,
        creates in 0usize..3,
        deletes in 0usize..3,
        for_requests in 1u64..40,
        stop_after in 0usize..6,
        seed in any::<u64>(),
    ) {
        let mut model = Model::new(count, tie_every, seed);
        model.unique_order = true;
        let before = model.ids();
        let churn = Churn { creates, deletes, for_requests };
        let first = drive_stream(&FILTERED_THINGS, &mut model, churn, limit, 3, None);
        prop_assert!(first.outcome.is_ok(), "{:?}", first.outcome);
        let survivors: HashSet<String> = before.intersection(&model.ids()).cloned().collect();
        assert_exact(&first, &survivors, &all_ever(&model, &before));
        // Resumed from one of its checkpoints, after more deletions: the two attempts cover every survivor.
        if let Some(checkpoint) = checkpoints(&first).get(stop_after).cloned() {
            let counts: Vec<u64> = states(&first).iter().map(|(_, records)| *records).collect();
            let delivered_before = counts[..=stop_after].iter().sum::<u64>() as usize;
            model.churn(Churn { creates: 0, deletes: 20, for_requests: u64::MAX });
            let resume = Resume {
                page: checkpoint.page,
                last_id: checkpoint.last_id,
                created_after: checkpoint.created_after,
            };
            let second = drive_stream(&FILTERED_THINGS, &mut model, STILL, limit, 0, Some(resume));
            prop_assert!(second.outcome.is_ok(), "{:?}", second.outcome);
            let union: HashSet<String> = first.delivered[..delivered_before]
                .iter()
                .cloned()
                .chain(second.delivered)
                .collect();
            for id in before.intersection(&model.ids()) {
                prop_assert!(union.contains(id), "{} lost across the resume", id);
            }
        }
    }

    /// Sorted by a time other than creation (subscriptions by `started_at`), new records land anywhere: those
    /// created after their place was read are not owed, and never make the read fail.
    #[test]
    fn records_created_anywhere_in_the_order_are_not_a_loss(
        count in 1usize..500,
        limit in 10u32..=100,
        ahead in 0u32..4,
        creates in 1usize..3,
        for_requests in 1u64..30,
        seed in any::<u64>(),
    ) {
        let mut model = Model::new(count, 1, seed);
        model.rows.iter_mut().for_each(|(_, key)| *key *= 1000);
        model.key_field = "started_at";
        model.insert_anywhere = true;
        let before = model.ids();
        let churn = Churn { creates, deletes: 0, for_requests };
        let run = drive_stream(&STARTED_THINGS, &mut model, churn, limit, ahead, None);
        prop_assert!(run.outcome.is_ok(), "{:?}", run.outcome);
        assert_exact(&run, &before, &all_ever(&model, &before));
    }

    /// More than a page of records created in one instant are paged by offset within that instant: exact
    /// while nothing changes, and under churn either complete or failed loudly, never stuck.
    #[test]
    fn paging_by_key_through_a_crowded_instant(
        count in 0usize..400,
        tie_every in 10usize..150,
        limit in 10u32..=60,
        churning in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let mut model = Model::new(count, tie_every, seed);
        model.unique_order = true;
        let before = model.ids();
        let churn = if churning { Churn { creates: 1, deletes: 1, for_requests: 6 } } else { STILL };
        let run = drive_stream(&FILTERED_THINGS, &mut model, churn, limit, 0, None);
        match &run.outcome {
            Ok(()) if !churning => assert_exact(&run, &before, &before),
            Ok(()) | Err(LossError::BusyInstant { .. }) => {}
            Err(other) => prop_assert!(false, "{other}"),
        }
    }

    /// More than a page created in one instant and listed in no fixed order (a bulk import of events in one
    /// millisecond): read by key through that instant alone, again until its ids account for its count, the
    /// read is exact, while records keep being added after it.
    #[test]
    fn an_instant_of_many_pages_in_no_fixed_order_is_read_exactly(
        count in 1usize..500,
        limit in 10u32..=100,
        pages in 1u32..5,
        creating in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let tie_every = (limit * pages + 1) as usize;
        let mut model = Model::new(count.max(tie_every), tie_every, seed);
        model.timed = true;
        let before = model.ids();
        let churn = Churn { creates: usize::from(creating), deletes: 0, for_requests: 20 };
        let run = drive_stream(&FILTERED_THINGS, &mut model, churn, limit, 0, None);
        prop_assert!(run.outcome.is_ok(), "{:?}", run.outcome);
        assert_exact(&run, &before, &all_ever(&model, &before));
    }

    /// Ties and deletions together: the read is exact, or it fails loudly; it never completes short.
    #[test]
    fn ties_with_deletions_are_exact_or_fail_loudly(
        count in 1usize..700,
        tie_every in 2usize..9,
        limit in 50u32..=100,
        ahead in 0u32..4,
        deletes in 1usize..3,
        for_requests in 1u64..20,
        seed in any::<u64>(),
    ) {
        let mut model = Model::new(count, tie_every, seed);
        let before = model.ids();
        let churn = Churn { creates: 0, deletes, for_requests };
        let run = drive(&mut model, churn, limit, ahead, None);
        match &run.outcome {
            Ok(()) => {
                let survivors: HashSet<String> = before.intersection(&model.ids()).cloned().collect();
                assert_exact(&run, &survivors, &before);
            }
            Err(
                LossError::UnstableTies { .. }
                | LossError::TiesMoved { .. }
                | LossError::TooMuchChurn { .. },
            ) => {}
            Err(other) => prop_assert!(false, "a loss not explained by ties or churn: {other}"),
        }
    }

    /// A read interrupted after any page and resumed from its last checkpoint, with records deleted in
    /// between: together the two attempts deliver every record that lived through both.
    #[test]
    fn a_resumed_read_completes_what_the_interrupted_one_began(
        count in 1usize..700,
        stop_after in 1usize..8,
        deleted_between in 0usize..150,
        seed in any::<u64>(),
    ) {
        let mut model = Model::new(count, 1, seed);
        let before = model.ids();
        let first = drive(&mut model, STILL, 100, 0, None);
        // The attempt stopped after `stop_after` checkpoints: what it delivered up to there, and that state.
        let checkpoints = checkpoints(&first);
        let Some(checkpoint) = checkpoints.get(stop_after.min(checkpoints.len()) - 1).cloned() else {
            return Ok(());
        };
        let delivered_before: Vec<String> = first.delivered[..((checkpoint.page - 1) as usize * 100).min(first.delivered.len())].to_vec();
        model.churn(Churn { creates: 0, deletes: deleted_between, for_requests: u64::MAX });
        let resume = Resume { page: checkpoint.page, last_id: checkpoint.last_id, created_after: None };
        let second = drive(&mut model, STILL, 100, 2, Some(resume));
        prop_assert!(second.outcome.is_ok(), "{:?}", second.outcome);
        let union: HashSet<String> = delivered_before.into_iter().chain(second.delivered).collect();
        for id in before.intersection(&model.ids()) {
            prop_assert!(union.contains(id), "{} lost across the resume", id);
        }
    }
}

/// A list sorted newest first by a time that is null until a record first changes (customer meters by
/// `-modified_at`): the never-changed records first, in a fixed order, then the changed ones newest first.
struct ChangedList {
    nulls: Vec<String>,
    /// (id, time key), newest first.
    changed: Vec<(String, u64)>,
    next_key: u64,
    rng: fastrand::Rng,
}

static CHANGED_THINGS: StreamDef = StreamDef {
    sorting: &["-modified_at"],
    unique_order: true,
    ..THINGS
};

impl ChangedList {
    fn page(&self, number: u32, limit: u32) -> Page {
        let rows: Vec<serde_json::Value> = self
            .nulls
            .iter()
            .map(|id| serde_json::json!({"id": id, "modified_at": null}))
            .chain(self.changed.iter().map(|(id, key)| {
                serde_json::json!({"id": id, "modified_at": crate::time::format(key_time(*key))})
            }))
            .collect();
        let total = rows.len();
        let start = ((number as usize - 1) * limit as usize).min(total);
        let end = (start + limit as usize).min(total);
        let body = serde_json::json!({"items": rows[start..end],
            "pagination": {"total_count": total, "max_page": total.div_ceil(limit as usize)}});
        Page::parse(body.to_string(), &["modified_at"]).expect("valid page")
    }

    /// Deletes `deletes` never-changed records and changes `changes` records (which then move to the front of
    /// the changed ones, with the newest time); returns the ids changed.
    fn churn(&mut self, deletes: usize, changes: usize) -> Vec<String> {
        for _ in 0..deletes {
            if !self.nulls.is_empty() {
                let at = self.rng.usize(..self.nulls.len());
                self.nulls.remove(at);
            }
        }
        let mut moved = Vec::new();
        for _ in 0..changes {
            let all = self.nulls.len() + self.changed.len();
            if all == 0 {
                break;
            }
            let at = self.rng.usize(..all);
            let id = if at < self.nulls.len() {
                self.nulls.remove(at)
            } else {
                self.changed.remove(at - self.nulls.len()).0
            };
            self.next_key += 1;
            self.changed.insert(0, (id.clone(), self.next_key));
            moved.push(id);
        }
        moved
    }
}

proptest! {
    /// The window of changes of a list sorted by a nullable time starts past the never-changed records (found
    /// by bisection), and is exact: every record changed since the window's time arrives once, none that never
    /// changed or changed before it does, while records are deleted between the bisection and the read (the
    /// start page then proves itself, or the window is read from page 1) and records change during the read
    /// (those are owed by the next sync, whose window holds their new time).
    #[test]
    fn a_window_of_changes_skips_the_never_changed_and_loses_nothing(
        nulls in 0usize..1_500,
        changed in 0usize..400,
        window in 0usize..400,
        deleted_between in 0usize..250,
        changes_per_request in 0usize..3,
        seed in any::<u64>(),
    ) {
        let mut list = ChangedList {
            nulls: (0..nulls).map(|i| format!("n{i}")).collect(),
            changed: (0..changed).rev().map(|i| (format!("c{i}"), i as u64 * 10)).collect(),
            next_key: changed as u64 * 10,
            rng: fastrand::Rng::with_seed(seed),
        };
        let limit = 100;
        let from_key = (changed.saturating_sub(window) as u64) * 10;
        let in_window = |list: &ChangedList| -> HashSet<String> {
            list.changed.iter().filter(|(_, key)| *key >= from_key).map(|(id, _)| id.clone()).collect()
        };
        let before = in_window(&list);
        let mut prefix = crate::reader::boundary::NullPrefix::new(limit);
        let start = loop {
            match prefix.next() {
                crate::reader::boundary::Probe::Fetch(number) => prefix.accept(number, &list.page(number, limit)),
                crate::reader::boundary::Probe::StartAt(number) => break number,
            }
        };
        list.churn(deleted_between, 0);
        let mut core = StreamCore::new(&Listing::of(&CHANGED_THINGS), limit, None)
            .window_from(key_time(from_key))
            .starting_at(start);
        let mut delivered = Vec::new();
        let mut changed_during = HashSet::new();
        let mut requests = 0;
        let outcome = loop {
            match core.next_step() {
                Step::Fetch(request) => {
                    requests += 1;
                    prop_assert!(requests < 1_000, "the window does not end");
                    changed_during.extend(list.churn(0, changes_per_request));
                    let page = list.page(request.page, request.limit);
                    for index in core.accept(request, &page) {
                        delivered.push(serde_json::from_str::<String>(page.id_json(&page.items[index as usize])).unwrap());
                    }
                }
                Step::Done => break Ok(()),
                Step::Fail(loss) => break Err(loss),
                Step::Witness(_) => unreachable!("no witness was asked for"),
            }
        };
        prop_assert!(outcome.is_ok(), "{:?}", outcome);
        let must: HashSet<String> = before.difference(&changed_during).cloned().collect();
        let mut may = before.clone();
        may.extend(changed_during.iter().cloned());
        assert_exact(&Run { delivered, outcome, notes: Vec::new(), requests }, &must, &may);
    }
}

#[test]
fn a_window_of_changes_reads_from_page_1_when_its_start_no_longer_holds() {
    // 450 never changed, then 50 changed: the bisection says page 4; 150 deletions later page 4 begins
    // with a changed record, so the window is read again from page 1 and still delivers all 50.
    let mut list = ChangedList {
        nulls: (0..450).map(|i| format!("n{i}")).collect(),
        changed: (0..50).rev().map(|i| (format!("c{i}"), i as u64)).collect(),
        next_key: 50,
        rng: fastrand::Rng::with_seed(3),
    };
    let mut prefix = crate::reader::boundary::NullPrefix::new(100);
    let start = loop {
        match prefix.next() {
            crate::reader::boundary::Probe::Fetch(number) => {
                prefix.accept(number, &list.page(number, 100))
            }
            crate::reader::boundary::Probe::StartAt(number) => break number,
        }
    };
    assert_eq!(start, 4);
    list.churn(150, 0);
    let mut core = StreamCore::new(&Listing::of(&CHANGED_THINGS), 100, None)
        .window_from(key_time(0))
        .starting_at(start);
    let mut delivered = HashSet::new();
    let mut pages = Vec::new();
    while let Step::Fetch(request) = core.next_step() {
        pages.push(request.page);
        let page = list.page(request.page, request.limit);
        for index in core.accept(request, &page) {
            delivered.insert(page.id_json(&page.items[index as usize]).to_owned());
        }
    }
    assert_eq!(pages, [4, 1, 2, 3, 4]);
    assert_eq!(delivered.len(), 50);
    let notes = core.take_notes();
    assert!(
        notes.iter().any(|note| matches!(note, Note::Log(_, text) if text.contains("reading the window from page 1"))),
        "{notes:?}"
    );
}

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
        let (page, limit) = covering_window(first, last, 100)
            .unwrap_or_else(|| panic!("no window for {first}..{last}"));
        let start = u64::from(page - 1) * u64::from(limit);
        assert!(
            start <= first && last < start + u64::from(limit),
            "{first}..{last}: {page}/{limit}"
        );
    }
    assert_eq!(
        covering_window(10, 110, 100),
        None,
        "a group larger than a page has no window"
    );
    assert_eq!(
        covering_window(150, 249, 100),
        None,
        "no page of 100 starts at 150"
    );
}

#[test]
fn a_pass_over_the_nulls_reads_them_only_and_ends_at_the_first_time() {
    // Sorted nulls first: two pages of records without a time, then the first with one.
    let mut core = StreamCore::new(&Listing::of(&NEWEST_UNIQUE_THINGS), 2, None).nulls_only();
    let nulls_page = |ids: &[&str], then: Option<&str>| {
        let mut items: Vec<_> = ids
            .iter()
            .map(|id| serde_json::json!({"id": id, "created_at": null}))
            .collect();
        if let Some(id) = then {
            items.push(serde_json::json!({"id": id, "created_at": "2025-01-01T00:00:00Z"}));
        }
        let body =
            serde_json::json!({"items": items, "pagination": {"total_count": 9, "max_page": 5}});
        Page::parse(body.to_string(), &["created_at"]).unwrap()
    };
    let mut delivered = 0;
    for (ids, then) in [(vec!["a", "b"], None), (vec!["c"], Some("timed"))] {
        let Step::Fetch(request) = core.next_step() else {
            panic!("a page of nulls")
        };
        assert!(core.last_main_page().is_none(), "nothing is fetched ahead");
        delivered += core.accept(request, &nulls_page(&ids, then)).len();
    }
    assert_eq!(delivered, 3, "the record with a time is not this pass's");
    assert!(matches!(core.next_step(), Step::Done));
    // What the pass before emitted counts into the next pass's first STATE.
    let mut next = StreamCore::new(&Listing::of(&UNIQUE_THINGS), 2, None).after_records(3);
    let Step::Fetch(request) = next.next_step() else {
        panic!()
    };
    next.accept(request, &page_of(&["x"], 1));
    let _ = next.next_step();
    let counted: u64 = next
        .take_notes()
        .iter()
        .filter_map(|note| match note {
            Note::State(_, records) => Some(*records),
            _ => None,
        })
        .sum();
    assert_eq!(counted, 4);
}

#[test]
fn balanced_churn_loses_a_record_silently_without_the_witness_and_none_with_it() {
    // The same read twice, over the same model and churn (one creation and one deletion before every request):
    // without the witness some seed loses a record while completing; with it, that seed is exact.
    let scenario = |seed: u64, witness: bool| {
        let mut model = Model::new(500, 1, seed);
        model.timed = true;
        let before = model.ids();
        let churn = Churn {
            creates: 1,
            deletes: 1,
            for_requests: u64::MAX,
        };
        let mut core = StreamCore::new(&Listing::of(&UNIQUE_THINGS), 50, None);
        if witness {
            core = core.witnessed_by_change_log();
        }
        let run = drive_core(core, &mut model, churn, 0);
        let survivors: HashSet<String> = before.intersection(&model.ids()).cloned().collect();
        let delivered: HashSet<String> = run.delivered.iter().cloned().collect();
        let lost = survivors.difference(&delivered).count();
        (run, lost)
    };
    let seed = (0..100)
        .find(|&seed| {
            let (run, lost) = scenario(seed, false);
            run.outcome.is_ok() && lost > 0
        })
        .expect("offset paging alone loses a record under balanced churn");
    let (run, lost) = scenario(seed, true);
    assert!(run.outcome.is_ok(), "{:?}", run.outcome);
    assert_eq!(lost, 0, "seed {seed}");
    assert!(
        run.notes.iter().any(
            |note| matches!(note, Note::Log(_, text) if text.contains("were found and delivered"))
        ),
        "{:?}",
        run.notes
    );
}

#[test]
fn balanced_churn_through_the_searches_finds_what_the_list_end_hid() {
    // Regression (found by `balanced_churn_is_exact_with_the_change_log_as_witness` at 3,000 cases): 198
    // records, 18 a page, so the pass ends on an empty page 12 and its last boundary (after page 11) is the
    // list's end, a range open above. Two creations and two deletions before each of 39 requests go on while
    // the searches run. The search of that boundary needs a short answer to prove it reached the end, and it
    // used to aim its windows at the range's start only: they stayed full, widened, and gave up
    // (`WitnessLost`). Seeds 0 and 1 failed that way (out of steps; no page of at most 100 left to ask).
    for seed in [0, 1, 3, 5] {
        let mut model = Model::new(198, 1, seed);
        model.timed = true;
        let before = model.ids();
        let churn = Churn {
            creates: 2,
            deletes: 2,
            for_requests: 39,
        };
        let core =
            StreamCore::new(&Listing::of(&UNIQUE_THINGS), 18, None).witnessed_by_change_log();
        let run = drive_core(core, &mut model, churn, 0);
        assert!(run.outcome.is_ok(), "seed {seed}: {:?}", run.outcome);
        let survivors: HashSet<String> = before.intersection(&model.ids()).cloned().collect();
        assert_exact(&run, &survivors, &all_ever(&model, &before));
        assert!(
            run.notes
                .iter()
                .any(|note| matches!(note, Note::Log(_, text)
                if text.contains("11 of its 11 page boundaries"))),
            "seed {seed}: the list's end was searched too: {:?}",
            run.notes
        );
    }
}

#[test]
fn records_read_under_an_earlier_filter_value_are_not_a_page_served_again() {
    // Regression (found by `paging_by_key_through_a_crowded_instant` at 3,000 cases): 225 records in instants
    // of 58, 56 a page, one creation and one deletion before each of the first 6 requests. Under the filter
    // "after 0", page 3 reached the instants 3 to 8; its count had moved, so that instant was read again from
    // page 1, which now ended past instant 1: the filter moved to "after 1", whose page 2 holds exactly the
    // records page 3 had read. A full page of records read before, the count unchanged: that was taken for a
    // server that ignores `page` (`PageIgnored`), though it was served under another filter value.
    let mut model = Model::new(225, 58, 15);
    model.unique_order = true;
    let before = model.ids();
    let churn = Churn {
        creates: 1,
        deletes: 1,
        for_requests: 6,
    };
    let run = drive_stream(&FILTERED_THINGS, &mut model, churn, 56, 0, None);
    assert!(run.outcome.is_ok(), "{:?}", run.outcome);
    let survivors: HashSet<String> = before.intersection(&model.ids()).cloned().collect();
    assert_exact(&run, &survivors, &all_ever(&model, &before));
}

#[test]
fn paging_by_key_through_one_instant_still_fails_when_a_page_comes_again() {
    // More than a page created in one instant (keys that are not times: the filter has no bound to read it
    // alone), and a server that answers every page of that filter value with page 1, the count unchanged:
    // records served under this very filter value, so the server ignores `page` (after three such pages,
    // as a page of one creation time could be its records in another order).
    let mut core = StreamCore::new(&Listing::of(&FILTERED_THINGS), 2, None);
    let mut asked = Vec::new();
    let failure = loop {
        match core.next_step() {
            Step::Fetch(request) => {
                assert!(asked.len() < 10, "the core keeps asking: {asked:?}");
                asked.push(request.page);
                core.accept(request, &tied(&["a", "b"]));
            }
            other => break other,
        }
    };
    assert!(
        matches!(failure, Step::Fail(LossError::PageIgnored { page: 4, .. })),
        "{failure:?}"
    );
    assert_eq!(asked, [1, 2, 3, 4]);
}
