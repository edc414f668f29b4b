//! Counting distinct values in bounded memory, for the unique counts of table columns and JSON keys.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use super::counted;

/// Counts distinct values by hash up to a cap, so that memory stays bounded however long the file. Only the
/// count is ever read, so the hash set's own order does not matter.
#[derive(Debug)]
pub(super) struct DistinctCounter {
    hashes: HashSet<u64>,
    cap: usize,
    overflowed: bool,
}

impl DistinctCounter {
    pub(super) fn new(cap: usize) -> Self {
        DistinctCounter {
            hashes: HashSet::new(),
            cap,
            overflowed: false,
        }
    }

    /// Records a value; true when it was not seen before and the count is still exact.
    pub(super) fn insert(&mut self, value: &[u8]) -> bool {
        if self.overflowed {
            return false;
        }
        // `DefaultHasher::new` uses fixed keys, so counts do not vary between runs.
        let mut hasher = DefaultHasher::new();
        value.hash(&mut hasher);
        let hash = hasher.finish();
        if self.hashes.contains(&hash) {
            return false;
        }
        if self.hashes.len() >= self.cap {
            self.overflowed = true;
            self.hashes = HashSet::new();
            return false;
        }
        self.hashes.insert(hash)
    }

    pub(super) fn is_empty(&self) -> bool {
        !self.overflowed && self.hashes.is_empty()
    }

    /// The exact count, or `None` once more than the cap were seen.
    pub(super) fn exact_count(&self) -> Option<usize> {
        (!self.overflowed).then_some(self.hashes.len())
    }

    /// `3 unique values`, or `more than 1000 unique values` past the cap.
    pub(super) fn describe(&self, singular: &str, plural: &str) -> String {
        match self.exact_count() {
            Some(count) => counted(count as u64, singular, plural),
            None => format!("more than {} {plural}", self.cap),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_counter_stops_at_its_cap() {
        let mut counter = DistinctCounter::new(3);
        assert!(counter.is_empty());
        assert!(counter.insert(b"a"));
        assert!(!counter.insert(b"a"));
        assert!(counter.insert(b"b"));
        assert!(counter.insert(b"c"));
        assert_eq!(
            counter.describe("unique value", "unique values"),
            "3 unique values"
        );
        assert!(!counter.insert(b"d"));
        assert_eq!(counter.exact_count(), None);
        assert_eq!(
            counter.describe("unique value", "unique values"),
            "more than 3 unique values"
        );
    }
}
