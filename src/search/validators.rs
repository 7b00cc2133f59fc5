//! The ETags of published listings and demands as anonymous callers were last shown them,
//! so a revalidation (`If-None-Match`) is answered 304 without a database round trip.
//!
//! It follows the same change feed as the index: every change to what a public page shows
//! (the row, its research data, the owner's name or verification, the contact person's name
//! or e-mail) reaches the feed in the change's transaction, and applying the feed forgets
//! the ids it names — in this process before the writing request is answered, in the others
//! within one poll of the feed. So a 304 never vouches for a page this process knows has
//! changed.

use std::collections::HashMap;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::db::types::EntityId;

/// Enough for every published listing and demand of a national exchange; past it, new ids
/// are not remembered (their revalidations read the database, as without this map).
const CAPACITY: usize = 250_000;

#[derive(Default)]
pub struct Validators {
    inner: RwLock<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Moves on every forgetting: an ETag computed from a read made before it may be stale.
    generation: u64,
    etags: HashMap<EntityId, String>,
}

impl Validators {
    /// Taken before reading a page from the database; [`Validators::remember`] needs it.
    pub fn generation(&self) -> u64 {
        self.read().generation
    }

    /// The ETag anonymous callers are shown for `id`, if this process knows it is current.
    pub fn current(&self, id: EntityId) -> Option<String> {
        self.read().etags.get(&id).cloned()
    }

    /// Remembers the ETag of a public page read when [`Validators::generation`] was
    /// `read_at` — unless a change was applied since: that read may predate it.
    pub fn remember(&self, id: EntityId, etag: &str, read_at: u64) {
        let mut inner = self.write();
        if inner.generation == read_at
            && (inner.etags.len() < CAPACITY || inner.etags.contains_key(&id))
        {
            inner.etags.insert(id, etag.to_owned());
        }
    }

    /// Forgets what the feed says has changed.
    pub fn forget<'a>(&self, ids: impl IntoIterator<Item = &'a EntityId>) {
        let mut inner = self.write();
        inner.generation += 1;
        for id in ids {
            inner.etags.remove(id);
        }
    }

    /// Forgets everything (the index is rebuilt: the feed's history is not followed).
    pub fn clear(&self) {
        let mut inner = self.write();
        inner.generation += 1;
        inner.etags.clear();
    }

    // A panic elsewhere cannot leave the map half-changed: every change is one call.
    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u128) -> EntityId {
        EntityId::from(uuid::Uuid::from_u128(n))
    }

    #[test]
    fn a_read_that_predates_a_change_is_not_remembered() {
        let v = Validators::default();
        let before = v.generation();
        v.forget(&[id(2)]);
        v.remember(id(1), "\"1-a\"", before);
        assert_eq!(v.current(id(1)), None, "read before the change: maybe stale");
        v.remember(id(1), "\"1-a\"", v.generation());
        assert_eq!(v.current(id(1)).as_deref(), Some("\"1-a\""));
        v.forget(&[id(1)]);
        assert_eq!(v.current(id(1)), None);
        v.remember(id(3), "\"1-b\"", v.generation());
        v.clear();
        assert_eq!(v.current(id(3)), None);
    }
}
