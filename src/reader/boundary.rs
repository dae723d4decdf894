//! Where the records with a time begin in a list sorted newest first by a time that stays null until the
//! record first changes (`-modified_at` on customer meters): Postgres lists the nulls first in a descending
//! order, so the records a window of changes wants come after every record never changed. Bisection over
//! pages finds the first page holding a record with a time in about log2(pages) requests instead of reading
//! through the nulls. Pure: pages in, the next page to probe or the page to start from out.
//!
//! The answer is a hint taken at one moment; the window's own first page proves it still holds (see
//! `core::StreamCore::starting_at`), so churn between the probes and the read can cost requests, never records.

use crate::page::Page;

/// What the bisection wants next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// Fetch this page (of the probing limit) and hand it to [`NullPrefix::accept`].
    Fetch(u32),
    /// Start the window at this page: the one before the first page that holds a record with a time, so
    /// that its first record is one without (the proof the window checks), or page 1.
    StartAt(u32),
}

/// The bisection over the pages of a list whose first sort field is null on a prefix of it.
#[derive(Debug, Clone)]
pub struct NullPrefix {
    /// Every page up to this one held only nulls (0: none known).
    low: u32,
    /// This page held a record with a time, or lies past the end (`None` before the first probe).
    high: Option<u32>,
    limit: u32,
}

impl NullPrefix {
    /// Bisects pages of `limit` records.
    pub fn new(limit: u32) -> NullPrefix {
        NullPrefix {
            low: 0,
            high: None,
            limit: limit.max(1),
        }
    }

    pub fn next(&self) -> Probe {
        match self.high {
            None => Probe::Fetch(1),
            Some(high) if high - self.low > 1 => Probe::Fetch(self.low + (high - self.low) / 2),
            Some(high) => Probe::StartAt(high.saturating_sub(1).max(1)),
        }
    }

    /// Takes page `number` (the one [`next`](Self::next) asked for).
    pub fn accept(&mut self, number: u32, page: &Page) {
        // Nulls come first: a page whose last record has no time holds none with one.
        let only_nulls = page
            .items
            .last()
            .is_some_and(|item| page.first_sort_json(item) == Some("null"));
        match self.high {
            None => {
                let last_page = u32::try_from(page.total_count.div_ceil(u64::from(self.limit)))
                    .unwrap_or(u32::MAX);
                if only_nulls {
                    self.low = number;
                    self.high = Some(last_page.max(number).saturating_add(1));
                } else {
                    self.high = Some(number);
                }
            }
            Some(high) => {
                if only_nulls {
                    self.low = number.min(high.saturating_sub(1));
                } else {
                    self.high = Some(number.max(self.low + 1));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// A page of the list `[nulls ..., timed ...]` (`nulls` records without a time, `timed` with one).
    fn page(nulls: usize, timed: usize, number: u32, limit: u32) -> Page {
        let total = nulls + timed;
        let start = ((number as usize - 1) * limit as usize).min(total);
        let end = (start + limit as usize).min(total);
        let items: Vec<_> = (start..end)
            .map(|at| {
                let modified = if at < nulls {
                    serde_json::Value::Null
                } else {
                    serde_json::json!("2026-11-25T10:00:00Z")
                };
                serde_json::json!({"id": format!("r{at}"), "modified_at": modified})
            })
            .collect();
        let body = serde_json::json!({"items": items,
            "pagination": {"total_count": total, "max_page": total.div_ceil(limit as usize)}});
        Page::parse(body.to_string(), &["modified_at"]).unwrap()
    }

    fn bisect(nulls: usize, timed: usize, limit: u32) -> (u32, u32) {
        let mut prefix = NullPrefix::new(limit);
        let mut probes = 0;
        loop {
            match prefix.next() {
                Probe::Fetch(number) => {
                    probes += 1;
                    assert!(probes < 64, "the bisection does not end");
                    prefix.accept(number, &page(nulls, timed, number, limit));
                }
                Probe::StartAt(number) => return (number, probes),
            }
        }
    }

    #[test]
    fn without_nulls_the_window_starts_at_page_1_after_one_probe() {
        assert_eq!(bisect(0, 950, 100), (1, 1));
        assert_eq!(bisect(0, 0, 100), (1, 1));
    }

    #[test]
    fn a_long_run_of_nulls_is_skipped_in_a_few_probes() {
        // 100,000 records never changed, then 1,000 changed: page 1,001 holds the first with a time.
        let (start, probes) = bisect(100_000, 1_000, 100);
        assert_eq!(start, 1_000);
        assert!(probes <= 12, "{probes} probes");
        // Only nulls: the window starts at the last page, which proves there is nothing to read.
        assert_eq!(bisect(250, 0, 100).0, 3);
    }

    proptest! {
        /// The start is the page just before the first one holding a record with a time (page 1 if that is
        /// the first), in at most log2(pages) + 2 probes: its first record has no time, and no record with a
        /// time lies before it.
        #[test]
        fn the_start_is_the_page_before_the_first_record_with_a_time(
            nulls in 0usize..5_000,
            timed in 0usize..500,
            limit in 1u32..=100,
        ) {
            let (start, probes) = bisect(nulls, timed, limit);
            let pages = (nulls + timed).div_ceil(limit as usize).max(1) as f64;
            prop_assert!(f64::from(probes) <= pages.log2().ceil() + 2.0, "{} probes", probes);
            let first_timed_page = (nulls / limit as usize) as u32 + 1;
            if timed == 0 {
                let last_page = (nulls.div_ceil(limit as usize)).max(1) as u32;
                prop_assert_eq!(start, last_page);
            } else {
                prop_assert_eq!(start, first_timed_page.saturating_sub(1).max(1));
            }
            let offset = (start as usize - 1) * limit as usize;
            prop_assert!(offset <= nulls, "the start skips a record with a time");
        }
    }
}
