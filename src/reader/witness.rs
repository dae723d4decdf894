//! The change log as a witness of a full read by offset: which page boundaries a deletion may have shifted a
//! record across, and the search that finds such a record again. No I/O.
//!
//! # The blind spot it closes
//!
//! A list sorted by creation time gains records only at its end, so only a deletion can move a record that
//! is still to be read: a record deleted before a page boundary between the requests of the two pages on
//! either side of it moves every later record one place towards the start, and the record that stood first
//! on the later page slips onto the earlier one, already read. When a creation balances the deletion,
//! `total_count` does not move and the reader's count checks (`core`) cannot see it. Polar writes a system
//! event for each deletion of a customer (`customer.deleted`), so the reader asks the feed, after its pass,
//! for the deletions of the pass's span, and treats every boundary read while one happened as suspect.
//!
//! # Which boundaries are suspect
//!
//! Each boundary keeps the span, on this machine's clock, from the earlier of its two pages' requests to the
//! later of their answers: Polar read both pages inside it, so a deletion that shifted records across the
//! boundary committed inside it. Polar dates events on its own clock; [`ClockOffset`] bounds the difference
//! from the `Date` of every answer (whole seconds, sent between request and answer), and the span is widened
//! by that bound and by [`EVENT_LEAD`] (an event is dated just before its deletion commits). A deletion after
//! the boundary's position harms nothing, and is not known: such a boundary is searched for nothing.
//!
//! # How a slipped record is found
//!
//! The record that slipped sorts between the last record read before the boundary (`low`, its creation time)
//! and the first read after it (`high`): it is any record created in `low..=high` that was not read on
//! either side (the ids read there at exactly those times are kept, for ties). Since the pass, records can
//! only have moved towards the start, so the search starts at the page that held `low` and steps back while
//! a page begins after `low`, then reads on while a full page ends at or before `high` ([`Search`]). Two
//! pages read in a row whose counts differ are read again from the earlier one. Where the later page was
//! empty (the boundary was the list's end), the range is open above and only an answer short of its page
//! proves it whole: its windows reach back as far as a page can from just past the end. A search that needs
//! more than [`MAX_SEARCH_STEPS`] pages fails the stream loudly instead of guessing.

/// How much earlier than its deletion commits an event can be dated (Unix microseconds).
pub const EVENT_LEAD: i64 = 1_000_000;
/// Pages one search reads before it gives up.
pub const MAX_SEARCH_STEPS: u32 = 8;
/// What a `Date` of whole seconds leaves unknown (Unix microseconds).
const DATE_RESOLUTION: i64 = 1_000_000;
/// The bound on the two clocks' difference before any answer carried a `Date`.
const UNKNOWN_OFFSET: i64 = 2_000_000;

/// What is known of Polar's clock minus this machine's: between `low` and `high` (microseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockOffset {
    bounds: Option<(i64, i64)>,
}

impl Default for ClockOffset {
    fn default() -> Self {
        ClockOffset::new()
    }
}

impl ClockOffset {
    pub fn new() -> ClockOffset {
        ClockOffset { bounds: None }
    }

    /// Learns from one answer: Polar wrote `date` (whole seconds, truncated) between `sent` and `answered` on
    /// this machine's clock. Bounds that contradict each other (a clock stepped) give way to the latest.
    pub fn observe(&mut self, sent: i64, answered: i64, date: i64) {
        let low = date - answered;
        let high = date + DATE_RESOLUTION - sent;
        self.bounds = Some(match self.bounds {
            Some((old_low, old_high)) if old_low.max(low) <= old_high.min(high) => {
                (old_low.max(low), old_high.min(high))
            }
            _ => (low, high),
        });
    }

    /// The bounds on the offset.
    pub fn bounds(&self) -> (i64, i64) {
        self.bounds.unwrap_or((-UNKNOWN_OFFSET, UNKNOWN_OFFSET))
    }
}

/// One page of the pass, as far as its boundaries need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageSeen {
    pub number: u32,
    /// This machine's clock at its request and at its answer (Unix microseconds).
    pub sent: i64,
    pub answered: i64,
    /// The creation times of its records, in order (Unix microseconds), and their id hashes.
    pub records: Vec<(i64, u64)>,
}

/// A boundary between two pages read one after the other, as the pass saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    /// The page before the boundary (the one after is `page + 1`).
    pub page: u32,
    /// The span on this machine's clock in which Polar read both pages.
    pub from: i64,
    pub to: i64,
    /// The creation time of the last record before the boundary, and of the first after it (`None`: the
    /// later page was empty, the list ended there).
    pub low: i64,
    pub high: Option<i64>,
    /// The ids read on either side at exactly `low` or `high`.
    pub known: Vec<u64>,
}

impl Edge {
    /// The boundary between `before` and `after` (read in either order), if both are pages of records in a
    /// row and the earlier holds any.
    pub fn between(before: &PageSeen, after: &PageSeen) -> Option<Edge> {
        if before.number.checked_add(1) != Some(after.number) {
            return None;
        }
        let &(low, _) = before.records.last()?;
        let high = after.records.first().map(|&(at, _)| at);
        let known = before
            .records
            .iter()
            .rev()
            .take_while(|&&(at, _)| at == low)
            .chain(
                after
                    .records
                    .iter()
                    .take_while(|&&(at, _)| Some(at) == high || at == low),
            )
            .map(|&(_, id)| id)
            .collect();
        Some(Edge {
            page: before.number,
            from: before.sent.min(after.sent),
            to: before.answered.max(after.answered),
            low,
            high,
            known,
        })
    }

    /// Whether a deletion dated `at` on Polar's clock may have committed while Polar read the two pages.
    pub fn suspect(&self, at: i64, offset: &ClockOffset) -> bool {
        let (low, high) = offset.bounds();
        let from = self.from.saturating_add(low).saturating_sub(EVENT_LEAD);
        let to = self.to.saturating_add(high);
        (from..=to).contains(&at)
    }

    /// Whether a record created at `at` with id hash `id` is one the boundary may have hidden.
    fn hides(&self, at: i64, id: u64) -> bool {
        at >= self.low && self.high.is_none_or(|high| at <= high) && !self.known.contains(&id)
    }
}

/// The boundaries of a pass, kept as its pages come, for the change log to judge afterwards.
#[derive(Debug, Default)]
pub struct Witness {
    edges: Vec<Edge>,
    /// The ids emitted at the times boundaries stand at (ties there can be emitted anywhere: a tie window,
    /// a page before), which a search must not find again.
    at_edges: std::collections::HashMap<i64, Vec<u64>>,
    previous: Option<PageSeen>,
    pub offset: ClockOffset,
    /// The earliest request of the pass (this machine's clock).
    first_sent: Option<i64>,
}

impl Witness {
    pub fn new() -> Witness {
        Witness::default()
    }

    /// Takes the next main page of the pass, in the order of the pass, and its `Date` (Unix microseconds).
    pub fn page(&mut self, page: PageSeen, date: Option<i64>) {
        if let Some(date) = date.filter(|_| page.sent > 0) {
            self.offset.observe(page.sent, page.answered, date);
        }
        if page.sent > 0 {
            self.first_sent = Some(
                self.first_sent
                    .map_or(page.sent, |first| first.min(page.sent)),
            );
        }
        for at in [page.records.first(), page.records.last()]
            .into_iter()
            .flatten()
            .map(|&(at, _)| at)
        {
            self.at_edges.entry(at).or_default();
        }
        if let Some(edge) = self
            .previous
            .as_ref()
            .and_then(|previous| Edge::between(previous, &page))
        {
            self.edges.push(edge);
        }
        self.previous = Some(page);
    }

    /// Notes a record emitted (by any read of the pass) created `at`, with id hash `id`. Call it after
    /// [`Witness::page`] for a main page's own records.
    pub fn emitted(&mut self, at: i64, id: u64) {
        if let Some(ids) = self.at_edges.get_mut(&at) {
            ids.push(id);
        }
    }

    /// Where the feed is read from for the pass's deletions (Polar's clock, Unix microseconds; the feed's
    /// filter is strict): `None` before any page.
    pub fn feed_from(&self) -> Option<i64> {
        let (low, _) = self.offset.bounds();
        self.first_sent
            .map(|first| first.saturating_add(low).saturating_sub(EVENT_LEAD + 1))
    }

    /// The boundaries a deletion dated at one of `deletions` (Polar's clock) may have shifted, in page order.
    pub fn suspects(&self, deletions: &[i64]) -> Vec<Edge> {
        self.edges
            .iter()
            .filter(|edge| deletions.iter().any(|&at| edge.suspect(at, &self.offset)))
            .map(|edge| {
                let mut edge = edge.clone();
                for at in [Some(edge.low), edge.high].into_iter().flatten() {
                    edge.known
                        .extend(self.at_edges.get(&at).into_iter().flatten());
                }
                edge
            })
            .collect()
    }

    /// How many boundaries the pass kept.
    pub fn boundaries(&self) -> usize {
        self.edges.len()
    }
}

/// What a search wants after a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Read what [`Search::request`] now says.
    Fetch,
    Done,
    /// The records moved faster than the search could follow.
    GaveUp,
}

/// The search for the records a suspect boundary may have hidden: pages, then windows, until one answer holds
/// the whole range with a record outside it on both sides (or the list's ends), so that one snapshot of
/// Polar's proves what lies in the range whatever the order of ties and whatever moved between requests.
#[derive(Debug, Clone)]
pub struct Search {
    edge: Edge,
    /// The page and page size asked for now.
    request: (u32, u32),
    steps: u32,
    margin: u64,
}

impl Search {
    /// The search of `edge` in a list read `page_size` records a page.
    pub fn new(edge: Edge, page_size: u32) -> Search {
        Search {
            request: (edge.page.max(1), page_size),
            edge,
            steps: 0,
            margin: FIRST_MARGIN,
        }
    }

    /// The page and page size to read now.
    pub fn request(&self) -> (u32, u32) {
        self.request
    }

    /// Takes the page asked for (its records' creation times and id hashes, and the count of the list Polar
    /// answered with) and answers with the indices of the records the boundary hid, and what to do next.
    pub fn accept(&mut self, records: &[(i64, u64)], total: u64) -> (Vec<usize>, Next) {
        self.steps += 1;
        let (page, limit) = self.request;
        let first_offset = u64::from(page - 1) * u64::from(limit);
        let full = records.len() >= limit as usize;
        let (low, high) = (self.edge.low, self.edge.high);
        let bounded_before = page == 1 || records.first().is_some_and(|&(at, _)| at < low);
        let bounded_after = !full
            || records
                .last()
                .is_some_and(|&(at, _)| high.is_some_and(|high| at > high));
        if bounded_before && bounded_after {
            let hidden = records
                .iter()
                .enumerate()
                .filter(|&(_, &(at, id))| self.edge.hides(at, id))
                .map(|(index, _)| index)
                .collect();
            return (hidden, Next::Done);
        }
        if self.steps >= MAX_SEARCH_STEPS {
            return (Vec::new(), Next::GaveUp);
        }
        // Where the range begins, as this answer shows it, and the window to ask next around it: records may
        // have moved since the pass (back, by deletions), so the window is widened on every step.
        let last_offset = first_offset + records.len() as u64;
        let margin = self.margin;
        self.margin *= 2;
        let next = match high {
            Some(_) => {
                let (first, last) = match records.iter().position(|&(at, _)| at >= low) {
                    // Wholly before the range (or empty): it begins at the answer's end, or later.
                    None => (last_offset.saturating_sub(margin), last_offset + margin),
                    // The range begins at the answer's start, or before it.
                    Some(0) => (first_offset.saturating_sub(margin), first_offset + margin),
                    // The range begins inside and runs past the answer's end.
                    Some(begins) => (
                        (first_offset + begins as u64).saturating_sub(margin),
                        last_offset + margin,
                    ),
                };
                covering_window(first, last, MAX_WINDOW)
            }
            // A range open above (the boundary was the list's end) holds every record from `low` to the end of
            // the list, and only a short answer proves where that end is: the window must reach past it,
            // wherever the range begins. So the window is the one reaching furthest back from just past the
            // end (the count says where the end is, a hint that only the short answer proves): if any window
            // Polar serves holds the whole range, that one does. A window aimed at the range's start, as
            // above, would stay full, and widen around the start until no page could hold it.
            // Past the end, the window leaves room for records created meanwhile: as much as the margin where
            // the answer fell short of the end (it grew faster than thought), the first margin where it
            // reached the end (more room would only start the window later).
            None => {
                let room = if full { margin } else { FIRST_MARGIN };
                Some(widest_window_reaching(
                    total.max(last_offset) + room,
                    MAX_WINDOW,
                ))
            }
        };
        match next {
            Some(request) => {
                self.request = request;
                (Vec::new(), Next::Fetch)
            }
            None => (Vec::new(), Next::GaveUp),
        }
    }
}

/// How far the first window of a search reaches past the range as an answer showed it.
const FIRST_MARGIN: u64 = 2;

/// The largest page Polar serves.
const MAX_WINDOW: u32 = 100;

/// The page (number, limit) of at most `page_size` records whose window holds offset `last` (0-based) and
/// starts earliest; of those, the largest.
fn widest_window_reaching(last: u64, page_size: u32) -> (u32, u32) {
    let (start, limit) = (1..=u64::from(page_size.max(1)))
        .map(|limit| (last / limit * limit, limit))
        .min_by_key(|&(start, limit)| (start, std::cmp::Reverse(limit)))
        .expect("a page holds one record at least");
    let page = start / limit + 1;
    (u32::try_from(page).unwrap_or(u32::MAX), limit as u32)
}

/// A page (number, limit) whose single window holds offsets `first..=last` (0-based), if one of at most
/// `page_size` records does.
pub fn covering_window(first: u64, last: u64, page_size: u32) -> Option<(u32, u32)> {
    let size = last - first + 1;
    (size..=u64::from(page_size))
        .find(|limit| first / limit == last / limit)
        .map(|limit| {
            let page = first / limit + 1;
            (u32::try_from(page).unwrap_or(u32::MAX), limit as u32)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const PAGE: usize = 4;

    fn seen(number: u32, sent: i64, answered: i64, records: &[(i64, u64)]) -> PageSeen {
        PageSeen {
            number,
            sent,
            answered,
            records: records.to_vec(),
        }
    }

    #[test]
    fn the_offset_narrows_with_every_date() {
        let mut offset = ClockOffset::new();
        assert_eq!(offset.bounds(), (-UNKNOWN_OFFSET, UNKNOWN_OFFSET));
        // Polar's clock is 300 ms ahead; answers take 100 ms.
        let truth = 300_000;
        for start in [10_000_000, 10_650_000, 11_250_000, 11_850_000] {
            let server = start + 50_000 + truth;
            offset.observe(start, start + 100_000, server - server % 1_000_000);
        }
        let (low, high) = offset.bounds();
        assert!(low <= truth && truth <= high, "{low}..{high}");
        assert!(high - low < 1_000_000, "{low}..{high}");
    }

    #[test]
    fn contradicting_dates_give_way_to_the_latest() {
        let mut offset = ClockOffset::new();
        offset.observe(0, 100_000, 0);
        // The machine's clock stepped back by a minute.
        offset.observe(0, 100_000, 60_000_000);
        let (low, high) = offset.bounds();
        assert!(low <= 60_000_000 && 60_000_000 <= high);
    }

    #[test]
    fn an_edge_knows_the_records_at_its_two_times() {
        let before = seen(3, 100, 200, &[(1, 11), (5, 12), (5, 13)]);
        let after = seen(4, 150, 300, &[(5, 14), (7, 15)]);
        let edge = Edge::between(&before, &after).unwrap();
        assert_eq!((edge.page, edge.from, edge.to), (3, 100, 300));
        assert_eq!((edge.low, edge.high), (5, Some(5)));
        assert_eq!(edge.known, vec![13, 12, 14]);
        assert!(Edge::between(&before, &seen(5, 0, 0, &[])).is_none());
        let end = Edge::between(&before, &seen(4, 150, 300, &[])).unwrap();
        assert_eq!(end.high, None);
    }

    #[test]
    fn a_deletion_is_suspect_only_while_both_pages_were_read() {
        let edge = Edge::between(
            &seen(1, 10_000_000, 10_200_000, &[(1, 1)]),
            &seen(2, 10_300_000, 10_500_000, &[(2, 2)]),
        )
        .unwrap();
        let mut offset = ClockOffset::new();
        // Exactly known: Polar's clock is this machine's.
        offset.bounds = Some((0, 0));
        assert!(edge.suspect(10_400_000, &offset));
        assert!(edge.suspect(10_000_000 - EVENT_LEAD, &offset));
        assert!(!edge.suspect(10_000_000 - EVENT_LEAD - 1, &offset));
        assert!(!edge.suspect(10_500_001, &offset));
        offset.bounds = Some((-5, 700));
        assert!(edge.suspect(10_500_700, &offset));
    }

    /// A list sorted by creation time, paged as Polar pages it.
    fn page_of(list: &[(i64, u64)], (page, limit): (u32, u32)) -> Vec<(i64, u64)> {
        let start = (page as usize - 1) * limit as usize;
        list.iter()
            .skip(start)
            .take(limit as usize)
            .copied()
            .collect()
    }

    /// Runs a search against `list` as it is now; returns the ids found and whether it ended well.
    fn run(edge: Edge, list: &[(i64, u64)]) -> (Vec<u64>, Next) {
        let mut search = Search::new(edge, PAGE as u32);
        let mut found = Vec::new();
        loop {
            let records = page_of(list, search.request());
            let (hidden, next) = search.accept(&records, list.len() as u64);
            found.extend(hidden.iter().map(|&index| records[index].1));
            if next != Next::Fetch {
                return (found, next);
            }
        }
    }

    #[test]
    fn the_search_finds_the_record_that_slipped_back() {
        // Ten records, one per microsecond; record 2 is deleted between pages 1 and 2, so record 5 (first of
        // page 2 before) slips onto page 1: the pass read 1..=4 and then 6..=9.
        let list: Vec<(i64, u64)> = (1..=10).map(|n| (n, n as u64)).collect();
        let now: Vec<_> = list.iter().copied().filter(|&(_, id)| id != 2).collect();
        let before = seen(1, 0, 1, &list[0..4]);
        let after = seen(2, 2, 3, &now[4..8]);
        let edge = Edge::between(&before, &after).unwrap();
        assert_eq!((edge.low, edge.high), (4, Some(6)));
        assert_eq!(run(edge, &now), (vec![5], Next::Done));
    }

    #[test]
    fn the_widest_window_reaching_an_offset_starts_as_early_as_any_page_can() {
        for last in 0..1_000u64 {
            let (page, limit) = widest_window_reaching(last, 100);
            let start = u64::from(page - 1) * u64::from(limit);
            assert!(
                limit <= 100 && start <= last && last < start + u64::from(limit),
                "{last}"
            );
            let earliest = (1..=100u64).map(|size| last / size * size).min().unwrap();
            assert_eq!(start, earliest, "{last}");
        }
    }

    #[test]
    fn a_search_of_the_lists_end_reaches_past_it() {
        // Forty records; the pass read page 10 (37..=40) and found page 11 empty: the boundary is the list's
        // end, a range open above. Since, five records before it were deleted and six created after it: the
        // range is those six, and only an answer short of its page proves it holds them all.
        let list: Vec<(i64, u64)> = (1..=40).map(|n| (n, n as u64)).collect();
        let edge = Edge::between(&seen(10, 0, 1, &list[36..40]), &seen(11, 2, 3, &[])).unwrap();
        assert_eq!((edge.low, edge.high), (40, None));
        let now: Vec<(i64, u64)> = list
            .iter()
            .copied()
            .filter(|&(_, id)| ![3, 7, 11, 15, 19].contains(&id))
            .chain((41..=46).map(|n| (n, n as u64)))
            .collect();
        let (mut found, next) = run(edge, &now);
        found.sort();
        assert_eq!((found, next), ((41..=46).collect(), Next::Done));
    }

    proptest! {
        /// Whatever was deleted since the pass (before or after the boundary), the search finds exactly the
        /// records between the boundary's two sides that the pass did not read, and gives up only when more
        /// than its steps' worth of pages moved.
        #[test]
        fn the_search_finds_exactly_what_the_pass_missed(
            size in 8usize..60,
            boundary in 1u32..10,
            missed in 0usize..3,
            later in proptest::collection::vec(0usize..60, 0..10),
            ties in proptest::bool::ANY,
        ) {
            let boundary = boundary.min((size / PAGE) as u32 - 1).max(1);
            // Creation times rise, two records a time where `ties`.
            let list: Vec<(i64, u64)> = (0..size)
                .map(|n| (if ties { (n / 2) as i64 } else { n as i64 }, n as u64 + 1))
                .collect();
            let end = boundary as usize * PAGE;
            let before = seen(boundary, 0, 1, &list[end - PAGE..end]);
            // The page after the boundary began `missed` records late (deletions before it slipped them back).
            let after_records: Vec<_> = list.iter().skip(end + missed).take(PAGE).copied().collect();
            let after = seen(boundary + 1, 2, 3, &after_records);
            let edge = Edge::between(&before, &after).unwrap();
            let slipped: Vec<u64> = list[end..(end + missed).min(size)].iter().map(|&(_, id)| id).collect();
            // Since then, records anywhere were deleted (none of those the search must find).
            let mut now = list.clone();
            for pick in later {
                let candidates: Vec<usize> = (0..now.len())
                    .filter(|&position| !slipped.contains(&now[position].1))
                    .collect();
                if let Some(&position) = candidates.get(pick % candidates.len().max(1)) {
                    now.remove(position);
                }
            }
            let (found, next) = run(edge.clone(), &now);
            // Deletions since moved the range back by at most 10 records: well within the search's steps.
            prop_assert_eq!(next, Next::Done);
            // What the boundary hid: the slipped records, and (ties) records at the edge times that neither
            // side read, which a pass in a stable order cannot have read elsewhere either.
            let mut expected: Vec<u64> = now
                .iter()
                .filter(|&&(at, id)| edge.hides(at, id))
                .map(|&(_, id)| id)
                .collect();
            let mut found_sorted = found.clone();
            expected.sort();
            found_sorted.sort();
            prop_assert_eq!(&found_sorted, &expected);
            for id in &slipped {
                prop_assert!(found.contains(id), "{} not found", id);
            }
        }
    }
}
