//! Applying the change feed to the index, and rebuilding it from the database.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tantivy::Term;

use super::{Search, SearchError, Writer};
use crate::db::DbConn;
use crate::db::types::{DemandId, EntityId, TechnologyId};
use crate::error::ApiError;
use crate::store::search_feed::{self, Change};
use crate::store::{demands, technologies};

/// Changes read per round (and rows loaded per statement in a rebuild).
const BATCH: i64 = 1_000;
/// How long a position missing from the feed is waited for: a transaction holding it
/// commits within this, or it rolled back and the position stays empty forever.
const GAP_WAIT: Duration = Duration::from_secs(30);
/// At most this many missing positions are remembered.
const MAX_GAPS: usize = 10_000;
/// A rebuild starts this far behind the feed's head, so transactions that took a position
/// before it and commit after it are applied too (applying a change twice is harmless).
const REBUILD_LOOKBACK: i64 = 1_000;

impl Search {
    /// Brings the index up to date: rebuilds it when it must be, then applies the feed;
    /// marks the index ready. Run at start-up (and by `techx search reindex`).
    pub fn catch_up(&self, conn: &mut DbConn) -> Result<(), ApiError> {
        let origin = search_feed::origin(conn)?;
        let head = search_feed::head(conn)?;
        let needs_rebuild = {
            let mut w = self.lock();
            // An index of another database (or of this one before it was emptied) would
            // answer with someone else's listings: rebuild it.
            let known = w.position.origin.is_none() || w.position.origin == origin;
            if !w.needs_rebuild && (!known || head < w.position.cursor) {
                tracing::warn!(dir = ?self.dir, "search index was built from another database: rebuilding it");
                w.needs_rebuild = true;
            }
            w.needs_rebuild
        };
        if needs_rebuild {
            self.rebuild(conn)?;
        }
        self.sync(conn)?;
        self.ready.store(true, Ordering::Release);
        Ok(())
    }

    /// Applies every change after the index's position; returns how many were read. Run
    /// every few hundred milliseconds by each process, and after each write request before
    /// it is answered, so the writer finds its change on the next request.
    pub fn sync(&self, conn: &mut DbConn) -> Result<usize, ApiError> {
        let mut w = self.lock();
        if w.needs_rebuild {
            return Ok(0);
        }
        let mut read = 0;
        loop {
            let gaps: Vec<i64> = w.position.gaps.iter().map(|(g, _)| *g).collect();
            let changes = search_feed::since(conn, w.position.cursor, &gaps, BATCH)?;
            if changes.is_empty() {
                break;
            }
            read += changes.len();
            if w.position.origin.is_none() {
                w.position.origin = search_feed::origin(conn)?;
            }
            self.apply(conn, &mut w, &changes)?;
            advance(&mut w.position, &changes);
            self.commit(&mut w)?;
            if (changes.len() as i64) < BATCH {
                break;
            }
        }
        let before = w.position.gaps.len();
        w.position.gaps.retain(|(_, since)| since.elapsed() < GAP_WAIT);
        if w.position.gaps.len() != before && read == 0 {
            self.commit(&mut w)?;
        }
        Ok(read)
    }

    /// Empties the index and fills it with every published listing and demand, committing
    /// once at the end (a crash before it leaves the previous commit, and the rebuild runs
    /// again). Returns how many documents it holds.
    pub fn rebuild(&self, conn: &mut DbConn) -> Result<usize, ApiError> {
        let mut w = self.lock();
        let started = Instant::now();
        let head = search_feed::head(conn)?;
        tracing::info!(dir = ?self.dir, "search index: rebuilding from the database");
        w.writer.delete_all_documents().map_err(SearchError::from)?;
        self.validators.clear();
        let mut count = 0;
        let mut after = None;
        loop {
            let ids = search_feed::published_technologies(conn, after, BATCH)?;
            let Some(last) = ids.last().copied() else { break };
            for listing in technologies::load(conn, &ids)? {
                w.writer
                    .add_document(self.fields.technology(&listing))
                    .map_err(SearchError::from)?;
                count += 1;
            }
            after = Some(last);
            tracing::info!(documents = count, "search index: rebuilding");
        }
        let mut after = None;
        loop {
            let ids = search_feed::published_demands(conn, after, BATCH)?;
            let Some(last) = ids.last().copied() else { break };
            for demand in demands::load(conn, &ids)? {
                w.writer.add_document(self.fields.demand(&demand)).map_err(SearchError::from)?;
                count += 1;
            }
            after = Some(last);
        }
        w.position.cursor = (head - REBUILD_LOOKBACK).max(0);
        w.position.gaps.clear();
        w.position.origin = search_feed::origin(conn)?;
        self.commit(&mut w)?;
        w.needs_rebuild = false;
        tracing::info!(
            documents = count,
            seconds = started.elapsed().as_secs_f64(),
            "search index: rebuilt"
        );
        Ok(count)
    }

    /// Re-reads every changed row: published ones are (re)indexed, others removed.
    fn apply(&self, conn: &mut DbConn, w: &mut Writer, changes: &[Change]) -> Result<(), ApiError> {
        let mut listings = BTreeSet::new();
        let mut demand_ids = BTreeSet::new();
        for change in changes {
            match change.entity.as_str() {
                "technology" => {
                    listings.insert(change.entity_id);
                }
                "demand" => {
                    demand_ids.insert(change.entity_id);
                }
                "organization" => {
                    let (l, d) = search_feed::of_organization(conn, change.entity_id.to())?;
                    listings.extend(l.into_iter().map(EntityId::of));
                    demand_ids.extend(d.into_iter().map(EntityId::of));
                }
                other => tracing::warn!(entity = other, "unknown entity in the search feed"),
            }
        }
        self.validators.forget(listings.iter().chain(&demand_ids));
        let listings: Vec<TechnologyId> = listings.into_iter().map(EntityId::to).collect();
        for chunk in listings.chunks(BATCH as usize) {
            for id in chunk {
                w.writer.delete_term(Term::from_field_text(self.fields.id, &id.to_string()));
            }
            for listing in technologies::load(conn, chunk)? {
                if listing.status.is_public() {
                    w.writer
                        .add_document(self.fields.technology(&listing))
                        .map_err(SearchError::from)?;
                }
            }
        }
        let demand_ids: Vec<DemandId> = demand_ids.into_iter().map(EntityId::to).collect();
        for chunk in demand_ids.chunks(BATCH as usize) {
            for id in chunk {
                w.writer.delete_term(Term::from_field_text(self.fields.id, &id.to_string()));
            }
            for demand in demands::load(conn, chunk)? {
                if demand.status.is_public() {
                    w.writer
                        .add_document(self.fields.demand(&demand))
                        .map_err(SearchError::from)?;
                }
            }
        }
        Ok(())
    }
}

/// Moves the position past `changes`, remembering positions skipped on the way.
fn advance(position: &mut super::Position, changes: &[Change]) {
    let seen: BTreeSet<i64> = changes.iter().map(|c| c.seq).collect();
    position.gaps.retain(|(g, _)| !seen.contains(g));
    let max = seen.iter().next_back().copied().unwrap_or(position.cursor);
    let now = Instant::now();
    for seq in position.cursor + 1..max {
        if !seen.contains(&seq) && position.gaps.len() < MAX_GAPS {
            position.gaps.push((seq, now));
        }
    }
    position.cursor = position.cursor.max(max);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::types::EntityId;

    fn change(seq: i64) -> Change {
        Change { seq, entity: "technology".into(), entity_id: EntityId::from(uuid::Uuid::nil()) }
    }

    #[test]
    fn skipped_positions_are_remembered_until_seen() {
        let mut p = super::super::Position::default();
        advance(&mut p, &[change(1), change(2), change(5)]);
        assert_eq!(p.cursor, 5);
        assert_eq!(p.gaps.iter().map(|g| g.0).collect::<Vec<_>>(), [3, 4]);
        advance(&mut p, &[change(4), change(6)]);
        assert_eq!(p.cursor, 6);
        assert_eq!(p.gaps.iter().map(|g| g.0).collect::<Vec<_>>(), [3]);
    }
}
