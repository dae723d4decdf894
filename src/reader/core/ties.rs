//! Tie groups: records equal on every sort criterion, which Polar returns in no fixed order. The reader
//! follows each group through the main pass (the offsets it occupies), and where a group straddles a page
//! boundary at which the count changed, it fetches one window that provably holds the whole group (a record
//! of another key, or an end of the list, on either side) and emits the members not seen yet; a group that
//! cannot be made whole fails the stream (see the module comment of `core`).

use crate::page::{HashedSet, Page};
use crate::protocol::LogLevel;

use super::{LossError, PageRequest, Purpose, StreamCore};
use crate::reader::witness::covering_window;

/// Consecutive records equal on every sort criterion.
#[derive(Debug)]
pub(super) struct TieGroup {
    pub(super) key: u64,
    pub(super) first_offset: u64,
    pub(super) last_offset: u64,
    pub(super) members: HashedSet,
    /// Whether it spans a page boundary (only then can request-to-request reordering hurt).
    pub(super) spans_pages: bool,
    /// The largest count change at a page boundary it reached: its offsets are uncertain by that much.
    pub(super) slack: u64,
    /// Windows fetched for it so far (each wider than the last).
    pub(super) windows: u32,
}

impl StreamCore {
    /// Follows tie groups through the main pass.
    pub(super) fn track_tie(&mut self, offset: u64, page_start: bool, sort_key: u64) {
        match self.group.as_mut() {
            Some(group) if group.key == sort_key => {
                group.last_offset = offset;
                if page_start {
                    group.spans_pages = true;
                    group.slack = group.slack.max(self.boundary_change);
                }
            }
            _ => {
                self.close_group();
                self.group = Some(TieGroup {
                    key: sort_key,
                    first_offset: offset,
                    last_offset: offset,
                    members: HashedSet::default(),
                    spans_pages: page_start && self.boundary_change > 0,
                    slack: if page_start { self.boundary_change } else { 0 },
                    windows: 0,
                });
            }
        }
    }

    /// The group that just ended must have yielded one distinct id per offset. If it crossed a page boundary
    /// and did not, or the count changed at a boundary it reached (its offsets are then uncertain), one window
    /// holding the whole group is fetched next.
    pub(super) fn close_group(&mut self) {
        let Some(group) = self.group.take() else {
            return;
        };
        let size = group.last_offset - group.first_offset + 1;
        if !group.spans_pages || (group.slack == 0 && group.members.len() as u64 >= size) {
            for id in group.members {
                self.recent.insert(id);
            }
            return;
        }
        self.log(
            LogLevel::Info,
            format!(
                "{}: {size} records share their sort values across a page boundary and {} of them arrived; \
                 fetching them together",
                self.name,
                group.members.len()
            ),
        );
        self.request_window(group, false);
    }

    /// Queues the window of `group` (first, or right away when `again`), wider on each side than the group's
    /// uncertainty, and twice as wide with each attempt: one record of another key on either side proves the
    /// window holds the whole group, wherever deletions moved it.
    pub(super) fn request_window(&mut self, mut group: TieGroup, again: bool) {
        let margin = (group.slack + 1) << group.windows;
        let first = group.first_offset.saturating_sub(margin);
        let last = group.last_offset + margin;
        let window = covering_window(first, last, self.limit).filter(|_| group.windows < 3);
        let Some((page, limit)) = window else {
            let count = group.last_offset - group.first_offset + 1;
            let offset = group.first_offset;
            // A count that moved is the likelier cause than the order of ties: say which it was.
            self.failure = Some(match (self.first_total, self.latest_total) {
                (Some(from), Some(to)) if self.totals_changed => LossError::TiesMoved {
                    stream: self.name,
                    count,
                    offset,
                    from,
                    to,
                },
                _ => LossError::UnstableTies {
                    stream: self.name,
                    count,
                    offset,
                },
            });
            return;
        };
        group.windows += 1;
        let request = PageRequest {
            page,
            limit,
            purpose: Purpose::TieWindow,
            after: None,
            until: None,
        };
        if again {
            self.queue.push_front(request);
            self.unverified.push_front(group);
        } else {
            self.queue.push_back(request);
            self.unverified.push_back(group);
        }
    }

    /// The window of a tie group: if records of other keys (or the ends of the listing) bound the group on
    /// both sides, the window holds all of it, and its members not seen yet are emitted; otherwise the group
    /// cannot be proven whole and the stream fails.
    pub(super) fn accept_tie_window(&mut self, request: &PageRequest, page: &Page) -> Vec<u32> {
        let mut group = self
            .unverified
            .pop_front()
            .expect("a tie window follows its group");
        let bounded_before = request.page == 1
            || page
                .items
                .first()
                .is_some_and(|item| item.sort_key != group.key);
        let bounded_after = page.items.len() < request.limit as usize
            || page
                .items
                .last()
                .is_some_and(|item| item.sort_key != group.key);
        let mut missing = Vec::new();
        for (index, item) in page.items.iter().enumerate() {
            if item.sort_key != group.key {
                continue;
            }
            if !group.members.contains(&item.id)
                && !self.seen(item.id)
                && self.in_window(page, item)
            {
                missing.push(index as u32);
            }
            group.members.insert(item.id);
        }
        self.count(missing.len());
        self.witness_emitted(page, &missing);
        if !(bounded_before && bounded_after) {
            // The group has moved past the window's edge: look again, wider.
            self.request_window(group, true);
            return missing;
        }
        // The group's ids stay remembered until the pages around it are forgotten.
        for id in group.members {
            self.recent.insert(id);
        }
        missing
    }
}
