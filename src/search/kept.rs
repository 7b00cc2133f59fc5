//! What was computed from the index, kept until the index changes.
//!
//! - Search pages as they were sent ([`Pages`]): the engine's answer to a popular query (the
//!   top of a national exchange's traffic) is computed once per index generation instead of
//!   once per request — what Solr's `queryResultCache` and Elasticsearch's request cache do,
//!   one level up (the rendered page, not the hit list). A page shows published rows only,
//!   the same for every caller who may ask for it, and everything it shows comes from rows
//!   the change feed follows.
//! - A demand's or listing's ranked matches (`search::matching`), keyed by what else they
//!   depend on (its version, the pairs its organisation dismissed, the language).
//!
//! So a kept value is current for exactly as long as the index it was computed from: any
//! applied change starts a new generation and drops them all.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};

/// Values kept at once, up to `capacity`; past it the store starts again empty — cheaper
/// than tracking use, and a generation rarely lives long enough to fill it. 0 keeps none.
pub struct Kept<K, V> {
    capacity: usize,
    inner: Mutex<Inner<K, V>>,
}

/// Search pages (`TECHX_SEARCH_PAGE_CACHE`; a page of 20 summaries is about 20 KB).
pub type Pages = Kept<String, Arc<[u8]>>;

struct Inner<K, V> {
    generation: u64,
    values: HashMap<K, V>,
}

impl<K: Hash + Eq, V: Clone> Kept<K, V> {
    pub fn new(capacity: usize) -> Self {
        Self { capacity, inner: Mutex::new(Inner { generation: 0, values: HashMap::new() }) }
    }

    /// The value kept for `key` in index generation `generation`, if any.
    pub fn get(&self, key: &K, generation: u64) -> Option<V> {
        let mut inner = self.lock();
        inner.turn(generation);
        inner.values.get(key).cloned()
    }

    /// Keeps `value` for `key`, computed from index generation `generation` (taken before
    /// the computation: a value computed across a change is kept under the older
    /// generation, so it is never returned again).
    pub fn put(&self, key: K, value: V, generation: u64) {
        let mut inner = self.lock();
        inner.turn(generation);
        if inner.generation != generation || self.capacity == 0 {
            return;
        }
        if inner.values.len() >= self.capacity {
            inner.values.clear();
        }
        inner.values.insert(key, value);
    }

    fn lock(&self) -> MutexGuard<'_, Inner<K, V>> {
        // Every change is one call: a panic elsewhere cannot leave the map half-changed.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl<K, V> Inner<K, V> {
    /// Drops every value of an older generation.
    fn turn(&mut self, generation: u64) {
        if generation > self.generation {
            self.generation = generation;
            self.values.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_lives_as_long_as_its_generation() {
        let pages = Pages::new(2);
        let page: Arc<[u8]> = Arc::from(&b"{\"items\":[]}"[..]);
        let key = |q: &str| q.to_owned();
        pages.put(key("q=lua"), page.clone(), 3);
        assert_eq!(pages.get(&key("q=lua"), 3), Some(page.clone()));
        assert_eq!(pages.get(&key("q=ca"), 3), None);
        // The index moved on: the page is gone, and one computed before the move is not kept.
        assert_eq!(pages.get(&key("q=lua"), 4), None);
        pages.put(key("q=lua"), page.clone(), 3);
        assert_eq!(pages.get(&key("q=lua"), 4), None);
        pages.put(key("q=lua"), page.clone(), 4);
        assert_eq!(pages.get(&key("q=lua"), 4), Some(page.clone()));
        // Full: it starts again with the newest page.
        pages.put(key("q=ca"), page.clone(), 4);
        pages.put(key("q=tom"), page.clone(), 4);
        assert_eq!(pages.get(&key("q=lua"), 4), None);
        assert_eq!(pages.get(&key("q=tom"), 4), Some(page.clone()));
        let off = Pages::new(0);
        off.put(key("q=lua"), page, 1);
        assert_eq!(off.get(&key("q=lua"), 1), None);
    }
}
