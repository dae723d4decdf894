//! The ids of the last few pages a reader saw, to drop a record seen again after a shift or a reshuffle: one
//! lookup whatever the number of pages remembered, and memory bounded by pages, not by the stream.

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasherDefault;

use crate::page::PassThrough;

pub struct Recent {
    /// How many of the remembered pages hold each id (an id can come twice).
    counts: HashMap<u64, u32, BuildHasherDefault<PassThrough>>,
    pages: VecDeque<Vec<u64>>,
    capacity: usize,
}

impl std::fmt::Debug for Recent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recent")
            .field("pages", &self.pages.len())
            .field("ids", &self.counts.len())
            .finish()
    }
}

impl Recent {
    /// Remembers the ids of the last `capacity` pages.
    pub fn new(capacity: usize) -> Recent {
        Recent {
            counts: HashMap::default(),
            pages: VecDeque::with_capacity(capacity + 1),
            capacity: capacity.max(1),
        }
    }

    /// Starts remembering a new page, forgetting the oldest when full.
    pub fn start_page(&mut self) {
        if self.pages.len() >= self.capacity {
            for id in self.pages.pop_front().expect("full") {
                if let Some(count) = self.counts.get_mut(&id) {
                    *count -= 1;
                    if *count == 0 {
                        self.counts.remove(&id);
                    }
                }
            }
        }
        self.pages.push_back(Vec::with_capacity(100));
    }

    /// Remembers `id` with the current page.
    pub fn insert(&mut self, id: u64) {
        if self.pages.is_empty() {
            self.start_page();
        }
        self.pages.back_mut().expect("a page").push(id);
        *self.counts.entry(id).or_insert(0) += 1;
    }

    pub fn contains(&self, id: u64) -> bool {
        self.counts.contains_key(&id)
    }

    /// Every id remembered.
    pub fn ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.counts.keys().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forgets_whole_pages_oldest_first_and_keeps_ids_seen_twice() {
        let mut recent = Recent::new(2);
        recent.start_page();
        recent.insert(1);
        recent.insert(2);
        recent.start_page();
        recent.insert(2);
        recent.insert(3);
        assert!([1, 2, 3].iter().all(|id| recent.contains(*id)));
        recent.start_page();
        recent.insert(4);
        assert!(!recent.contains(1), "the first page is forgotten");
        assert!(recent.contains(2), "still on the second page");
        recent.start_page();
        assert!(!recent.contains(2) && recent.contains(4));
    }
}
