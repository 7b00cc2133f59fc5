//! Search pages as they were sent, kept until the index changes: the engine's answer to a
//! popular query (the top of a national exchange's traffic) is computed once per index
//! generation instead of once per request — what Solr's `queryResultCache` and
//! Elasticsearch's request cache do, one level up (the rendered page, not the hit list).
//!
//! A page shows published rows only, the same for every caller, and everything it shows
//! comes from rows the change feed follows, so a page is current for exactly as long as the
//! index it was computed from: any applied change starts a new generation and drops them all.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// Pages kept at once, `TECHX_SEARCH_PAGE_CACHE` (a page of 20 summaries is about 20 KB).
/// Past it the cache starts again empty — cheaper than tracking use, and a generation rarely
/// lives long enough to fill it. 0 turns the cache off.
pub struct Pages {
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    generation: u64,
    pages: HashMap<String, Arc<[u8]>>,
}

impl Pages {
    pub fn new(capacity: usize) -> Self {
        Self { capacity, inner: Mutex::default() }
    }

    /// The page sent for `key` in index generation `generation`, if any.
    pub fn get(&self, key: &str, generation: u64) -> Option<Arc<[u8]>> {
        let mut inner = self.lock();
        inner.turn(generation);
        inner.pages.get(key).cloned()
    }

    /// Keeps `page` for `key`, computed from index generation `generation` (taken before
    /// the search ran: a page computed across a change is kept under the older generation,
    /// so it is never served again).
    pub fn put(&self, key: String, page: Arc<[u8]>, generation: u64) {
        let mut inner = self.lock();
        inner.turn(generation);
        if inner.generation != generation || self.capacity == 0 {
            return;
        }
        if inner.pages.len() >= self.capacity {
            inner.pages.clear();
        }
        inner.pages.insert(key, page);
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Inner {
    /// Drops every page of an older generation.
    fn turn(&mut self, generation: u64) {
        if generation > self.generation {
            self.generation = generation;
            self.pages.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_lives_as_long_as_its_generation() {
        let pages = Pages::new(2);
        let page: Arc<[u8]> = Arc::from(&b"{\"items\":[]}"[..]);
        pages.put("q=lua".into(), page.clone(), 3);
        assert_eq!(pages.get("q=lua", 3), Some(page.clone()));
        assert_eq!(pages.get("q=ca", 3), None);
        // The index moved on: the page is gone, and one computed before the move is not kept.
        assert_eq!(pages.get("q=lua", 4), None);
        pages.put("q=lua".into(), page.clone(), 3);
        assert_eq!(pages.get("q=lua", 4), None);
        pages.put("q=lua".into(), page.clone(), 4);
        assert_eq!(pages.get("q=lua", 4), Some(page.clone()));
        // Full: it starts again with the newest page.
        pages.put("q=ca".into(), page.clone(), 4);
        pages.put("q=tom".into(), page.clone(), 4);
        assert_eq!(pages.get("q=lua", 4), None);
        assert_eq!(pages.get("q=tom", 4), Some(page.clone()));
        let off = Pages::new(0);
        off.put("q=lua".into(), page, 1);
        assert_eq!(off.get("q=lua", 1), None);
    }
}
