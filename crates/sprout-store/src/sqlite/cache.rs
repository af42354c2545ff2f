//! Records read often and written rarely, kept in memory: environments (every controller pass,
//! the autoscaler every second, the supervisor every tick) and each environment's secrets
//! (their versions are part of every pass's desired state).
//!
//! The server is the database file's only writer (it holds the data directory), and every
//! write goes through the store, which drops what it changes from the cache after the write.
//! A read that raced a write does not put its result in: each entry is stored only if no write
//! happened since the read began (a generation counter), so the cache never holds a row older
//! than the last write's.
//!
//! At 325 instances, reading environments from SQLite was 11% of an idle server's CPU.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// A write-invalidated map from keys to values read from the database.
#[derive(Debug)]
pub(super) struct ReadCache<K, V> {
    inner: Mutex<Inner<K, V>>,
}

#[derive(Debug)]
struct Inner<K, V> {
    entries: BTreeMap<K, V>,
    /// Bumped by every write: a read that began at another generation is not kept.
    generation: u64,
    /// Whether `entries` holds every row (a whole list was read and nothing written since).
    complete: bool,
}

impl<K, V> Default for ReadCache<K, V> {
    fn default() -> Self {
        ReadCache { inner: Mutex::new(Inner { entries: BTreeMap::new(), generation: 0, complete: false }) }
    }
}

impl<K: Ord + Clone, V: Clone> ReadCache<K, V> {
    /// The generation to give back to `keep` or `keep_all` with what a read about to begin finds.
    pub(super) fn generation(&self) -> u64 {
        self.inner.lock().unwrap().generation
    }

    pub(super) fn get(&self, key: &K) -> Option<V> {
        self.inner.lock().unwrap().entries.get(key).cloned()
    }

    /// Every entry, in key order, when the cache holds every row.
    pub(super) fn all(&self) -> Option<Vec<V>> {
        let inner = self.inner.lock().unwrap();
        inner.complete.then(|| inner.entries.values().cloned().collect())
    }

    /// Keep `value`, read for `key` by a read that began at `generation`, unless a write came
    /// since.
    pub(super) fn keep(&self, generation: u64, key: K, value: V) {
        let mut inner = self.inner.lock().unwrap();
        if inner.generation == generation {
            inner.entries.insert(key, value);
        }
    }

    /// Keep every row, read by a read that began at `generation`, unless a write came since.
    pub(super) fn keep_all(&self, generation: u64, rows: impl IntoIterator<Item = (K, V)>) {
        let mut inner = self.inner.lock().unwrap();
        if inner.generation == generation {
            inner.entries = rows.into_iter().collect();
            inner.complete = true;
        }
    }

    /// A write to `key` happened (or may have): forget it, and refuse reads that began before.
    pub(super) fn invalidate(&self, key: &K) {
        let mut inner = self.inner.lock().unwrap();
        inner.generation += 1;
        inner.complete = false;
        inner.entries.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_that_began_before_a_write_is_not_kept() {
        let cache: ReadCache<&str, u32> = ReadCache::default();
        let read_began = cache.generation();
        cache.invalidate(&"a");
        cache.keep(read_began, "a", 1);
        assert_eq!(cache.get(&"a"), None);
        let g = cache.generation();
        cache.keep(g, "a", 2);
        assert_eq!(cache.get(&"a"), Some(2));
        cache.invalidate(&"a");
        assert_eq!(cache.get(&"a"), None);
    }

    #[test]
    fn the_whole_list_is_served_until_any_write() {
        let cache: ReadCache<&str, u32> = ReadCache::default();
        assert_eq!(cache.all(), None);
        let g = cache.generation();
        cache.keep_all(g, [("b", 2), ("a", 1)]);
        assert_eq!(cache.all(), Some(vec![1, 2]));
        assert_eq!(cache.get(&"b"), Some(2));
        cache.invalidate(&"c");
        assert_eq!(cache.all(), None, "a write elsewhere may have added a row");
        assert_eq!(cache.get(&"b"), Some(2), "other entries stay");
        let stale = cache.generation() - 1;
        cache.keep_all(stale, [("z", 9)]);
        assert_eq!(cache.all(), None);
    }
}
