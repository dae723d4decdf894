//! Paging by key: a list with a creation filter is read as the records created strictly after the filter's
//! value, and each full page moves the value up to the creation time before its last record's, so a record
//! deleted or created anywhere moves no other across a page boundary and a resume needs no proof (see the
//! module comment of `core`). This file owns that mode's state ([`KeyPaging`]), the check that the server
//! honours the filter and its order, and the one place where offsets still count: more than a page of records
//! created in one instant, paged through within one filter value (read again from its start when their count
//! moves) or, where the filter has an upper bound, read alone and whole until their count is accounted for
//! ([`InstantRead`]).

use std::sync::Arc;

use crate::page::{HashedSet, Page};
use crate::protocol::LogLevel;

use super::{LossError, Paging, REMEMBERED_PAGES, StreamCore, filter_value};
use crate::reader::recent::Recent;

/// Paging by key: restarts of one instant's records (more than a page of them) when their count moves.
const MAX_GROUP_RESTARTS: u32 = 3;
/// Paging by key through one instant (see [`InstantRead`]): whole reads of it before the stream fails.
const MAX_INSTANT_ROUNDS: u32 = 40;

/// More than a page of records created in one instant (a bulk import of events in one millisecond), read by
/// key through the instant alone: the creation filter from before it and its upper bound just after it, so the
/// list holds that instant's records only and its count is theirs. Polar orders them in no fixed way, so
/// offsets within the instant prove nothing; instead the instant is read whole, again and again, until the
/// distinct ids gathered account for its count (in one read where the order holds still, as a database's
/// usually does), and only then does the pass go on after it.
#[derive(Debug)]
struct InstantRead {
    /// The instant, as the filter takes it.
    at: Arc<str>,
    /// The upper bound's value: the instant plus one microsecond (the bound is strict).
    until: Arc<str>,
    /// The ids the instant's answers held (the proof).
    counted: HashedSet,
    /// The ids emitted before the instant was read alone (the pages before it), not to emit again.
    emitted_before: HashedSet,
    /// Whole reads of the instant that fell short of its count.
    rounds: u32,
}

/// The state of paging by key (see [`Paging::ByKey`]).
#[derive(Debug)]
pub(super) struct KeyPaging {
    /// The creation filter's value: the records created strictly after it (`None`: from the start).
    after: Option<Arc<str>>,
    /// Restarts under the current filter value of one instant's records (more than a page of them), when
    /// their count moved.
    group_restarts: u32,
    /// The furthest page read under the current filter value (pages up to it may come again after a restart,
    /// all seen).
    reached: u32,
    /// The ids the pages read under the current filter value held (their last few pages): a page past
    /// `reached` that holds only these was served again. Records read under an earlier filter value do not
    /// count: a read of one instant's records that restarted can have read past where the next filter value
    /// begins, and those come again legitimately.
    served: Recent,
    /// The filter has an upper bound (see `streams::until_filter`), so an instant can be read alone.
    bounded: bool,
    /// The instant being read alone, while one is (only where `bounded`).
    instant: Option<InstantRead>,
}

impl KeyPaging {
    /// Paging from the filter's value `after` (`None`: from the start); `bounded` where the filter has an
    /// upper bound.
    pub(super) fn new(after: Option<Arc<str>>, bounded: bool) -> KeyPaging {
        KeyPaging {
            after,
            group_restarts: 0,
            reached: 0,
            served: Recent::new(REMEMBERED_PAGES),
            bounded,
            instant: None,
        }
    }

    /// The creation filter's value.
    pub(super) fn after(&self) -> Option<&Arc<str>> {
        self.after.as_ref()
    }

    /// The filter's upper bound, while one instant is read alone.
    pub(super) fn until(&self) -> Option<&Arc<str>> {
        self.instant.as_ref().map(|instant| &instant.until)
    }

    /// The instant being read alone.
    fn instant_mut(&mut self) -> &mut InstantRead {
        self.instant.as_mut().expect("reading an instant")
    }
}

impl Paging {
    /// The state of paging by key, where the read pages by key.
    fn key(&self) -> &KeyPaging {
        match self {
            Paging::ByKey(key) => key,
            _ => unreachable!("paging by key"),
        }
    }

    /// The same, to change.
    fn key_mut(&mut self) -> &mut KeyPaging {
        match self {
            Paging::ByKey(key) => key,
            _ => unreachable!("paging by key"),
        }
    }
}

impl StreamCore {
    /// A page of the listing filtered to records created after `after`, in (creation time, unique key) order.
    /// The next request counts from the creation time just before the page's last one: the records sharing the
    /// last creation time come again (and are dropped as seen), so none sharing it can be skipped, and no
    /// record ever moves relative to the filter.
    pub(super) fn accept_keyset(&mut self, page: &Page) -> Vec<u32> {
        self.start(page.total_count);
        self.summary.pages += 1;
        if let Some(problem) = self.keyset_order_problem(page) {
            self.failure = Some(LossError::OutOfOrder {
                stream: self.name,
                after: self
                    .paging
                    .after()
                    .map_or_else(|| "the start".to_owned(), |after| after.to_string()),
                problem,
            });
            return Vec::new();
        }
        if self.paging.key().instant.is_some() {
            return self.accept_instant(page);
        }
        let shifted = self.next_main > 1 && self.last_total != Some(page.total_count);
        self.last_total = Some(page.total_count);
        let emitted = self.emit(page, None);
        let key = self.paging.key_mut();
        let read_before = self.next_main <= key.reached;
        key.reached = key.reached.max(self.next_main);
        let fresh = page
            .items
            .iter()
            .filter(|item| !key.served.contains(item.id))
            .count();
        key.served.start_page();
        for item in &page.items {
            key.served.insert(item.id);
        }
        if shifted {
            // Paging on inside one instant's records, and the count after the filter changed: the offsets may
            // have moved, so that instant is read again from its start.
            key.group_restarts += 1;
            if key.group_restarts > MAX_GROUP_RESTARTS {
                self.failure = Some(LossError::BusyInstant { stream: self.name });
            }
            self.next_main = 1;
            return emitted;
        }
        let full = page.items.len() >= self.limit as usize;
        if self.page_ignored(page, fresh, self.next_main > 1 && !read_before) {
            // Within one instant's records, full pages of records already read under this filter value with
            // the count unchanged: the server served the same page again.
            self.failure = Some(LossError::PageIgnored {
                stream: self.name,
                page: self.next_main,
                total: page.total_count,
            });
            return emitted;
        }
        let reached = self.base_offset(self.next_main) + page.items.len() as u64;
        if !full && reached < page.total_count && self.short_page(self.next_main, page) {
            return emitted;
        }
        self.remember_last_id(page);
        self.checkpoint_due = true;
        if !full {
            self.main_done = true;
            return emitted;
        }
        let last = page
            .items
            .last()
            .and_then(|item| page.first_sort_json(item));
        let before_last = page
            .items
            .iter()
            .rev()
            .filter_map(|item| page.first_sort_json(item))
            .find(|text| Some(*text) != last && *text != "null");
        match before_last {
            Some(text) => self.page_after(filter_value(text).into()),
            // A whole page created in one instant: read that instant alone, where the filter has a bound.
            None if self.paging.key().bounded => {
                let at = last.map(filter_value).unwrap_or_default();
                match crate::time::micros(&at) {
                    Some(micros) => {
                        let mut emitted_before: HashedSet = self.recent.ids().collect();
                        emitted_before.extend(page.items.iter().map(|item| item.id));
                        self.paging.key_mut().instant = Some(InstantRead {
                            at: at.into(),
                            until: crate::time::format(micros.saturating_add(1)).into(),
                            counted: HashedSet::default(),
                            emitted_before,
                            rounds: 0,
                        });
                        self.next_main = 1;
                        self.checkpoint_due = false;
                    }
                    None => self.next_main = self.next_main.saturating_add(1),
                }
            }
            // Page on within the same filter.
            None => self.next_main = self.next_main.saturating_add(1),
        }
        emitted
    }

    /// A page of one instant read alone (see [`InstantRead`]).
    fn accept_instant(&mut self, page: &Page) -> Vec<u32> {
        let reached = self.base_offset(self.next_main) + page.items.len() as u64;
        let instant = self.paging.key_mut().instant_mut();
        self.recent.start_page();
        let mut emitted = Vec::new();
        for (index, item) in page.items.iter().enumerate() {
            if instant.counted.insert(item.id) && !instant.emitted_before.contains(&item.id) {
                self.recent.insert(item.id);
                emitted.push(index as u32);
            }
        }
        let full = page.items.len() >= self.limit as usize;
        let round_over = !full || reached >= page.total_count;
        let (counted, rounds) = (instant.counted.len() as u64, instant.rounds);
        self.count(emitted.len());
        if !round_over {
            self.next_main = self.next_main.saturating_add(1);
            return emitted;
        }
        if counted >= page.total_count {
            // Every record of the instant arrived: the pass goes on after it.
            let instant = self
                .paging
                .key_mut()
                .instant
                .take()
                .expect("reading an instant");
            if rounds > 0 {
                self.log(
                    LogLevel::Info,
                    format!(
                        "{}: {counted} records share the instant {} and Polar returns them in no fixed order: \
                         all arrived after {} reads of that instant",
                        self.name,
                        instant.at,
                        rounds + 1
                    ),
                );
            }
            self.page_after(instant.at);
            self.remember_last_id(page);
            self.checkpoint_due = true;
            return emitted;
        }
        let instant = self.paging.key_mut().instant_mut();
        instant.rounds += 1;
        if instant.rounds >= MAX_INSTANT_ROUNDS {
            self.failure = Some(LossError::BusyInstant { stream: self.name });
        }
        self.next_main = 1;
        emitted
    }

    /// Pages by key on from the filter's new value `after`: from its first page, with no restarts yet.
    fn page_after(&mut self, after: Arc<str>) {
        let key = self.paging.key_mut();
        key.after = Some(after);
        key.reached = 0;
        key.served = Recent::new(REMEMBERED_PAGES);
        key.group_restarts = 0;
        self.next_main = 1;
    }

    /// What is wrong with a page asked for by key, if anything: every record must be created strictly after
    /// the filter's value, in ascending order of creation. (The next filter is taken from the page, so a page
    /// that breaks either would skip records or ask for the same ones forever.)
    fn keyset_order_problem(&self, page: &Page) -> Option<String> {
        let field = self.sorting.first().copied().unwrap_or("created_at");
        let after = self.paging.after().and_then(|after| key_value(after));
        let mut previous: Option<(f64, &str)> = None;
        for (index, item) in page.items.iter().enumerate() {
            let Some(raw) = page.first_sort_json(item).filter(|raw| *raw != "null") else {
                continue;
            };
            let Some(at) = key_value(&filter_value(raw)) else {
                return Some(format!(
                    "record {index} whose '{field}' is {}, not a time",
                    quoted(raw)
                ));
            };
            if after.is_some_and(|after| at <= after) {
                return Some(format!(
                    "record {index} whose '{field}' is {}, not after the filter",
                    quoted(raw)
                ));
            }
            if let Some((_, earlier)) = previous.filter(|(earlier, _)| at < *earlier) {
                return Some(format!(
                    "record {index} whose '{field}' is {} after one at {}: not in ascending order",
                    quoted(raw),
                    quoted(earlier)
                ));
            }
            previous = Some((at, raw));
        }
        None
    }
}

/// A key's value as a number to compare: a time (Unix microseconds), or a plain number.
fn key_value(text: &str) -> Option<f64> {
    crate::time::micros(text)
        .map(|micros| micros as f64)
        .or_else(|| text.parse::<f64>().ok().filter(|number| number.is_finite()))
}

/// A raw JSON value from a response, for messages: at most 40 characters of it.
fn quoted(raw: &str) -> String {
    crate::protocol::shortened(raw, 40)
}
