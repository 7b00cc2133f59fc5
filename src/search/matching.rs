//! Explained matching between published listings and published demands: candidates come
//! from the index (best by BM25 over the other side's title and keywords, with the filters),
//! each is scored by `domain::matching::score` from the index's fast fields, and only the
//! page is read from the database.
//!
//! The best matches are exactly those an exhaustive scoring of every candidate sharing a
//! word would give: candidates are taken best-BM25-first, and no candidate below the last
//! one taken can score above `matching::best_possible` of its relevance, so more are taken
//! until that bound falls below the scores already held.

use std::sync::Arc;

use super::query::Criteria;
use super::{Candidate, DocType, Filters, Search};
use crate::db::DbConn;
use crate::db::types::{DemandId, EntityId, TechnologyId};
use crate::domain::lang::Lang;
use crate::domain::matching::{self, Money, Need, Offer, Scored};
use crate::domain::search::SearchQuery;
use crate::error::ApiError;
use crate::store::demands::{self, Demand};
use crate::store::matches;
use crate::store::technologies::{self, Listing};

/// Candidates taken in the first round; each further round takes four times as many.
const FIRST_ROUND: usize = 200;

fn money(c: &Criteria) -> Option<Money> {
    c.currency.clone().map(|currency| Money { min: c.price_min, max: c.price_max, currency })
}

fn offer(c: Criteria) -> Offer {
    let price = money(&c);
    Offer {
        sectors: c.sectors,
        trl: c.trl,
        price,
        transfer_forms: c.transfer_forms,
        province: c.province,
    }
}

fn need(c: Criteria) -> Need {
    let budget = money(&c);
    Need {
        sectors: c.sectors,
        trl_min: c.trl,
        budget,
        transfer_forms: c.transfer_forms,
        province: c.province,
    }
}

/// Where candidates come from: the other side's documents sharing a word with `text`, with
/// `filters`, leaving out `dismissed` ones.
struct Pool<'a> {
    doc_type: DocType,
    text: &'a SearchQuery,
    filters: &'a Filters,
    dismissed: &'a [EntityId],
}

/// Scored candidates, best first (ties by id), complete down to rank `wanted` — or down to
/// score `floor` when given.
fn ranked(
    search: &Search,
    pool: &Pool<'_>,
    wanted: usize,
    floor: Option<u8>,
    score: impl Fn(Criteria, f64) -> Scored,
) -> Result<Vec<(EntityId, Scored)>, ApiError> {
    let (doc_type, text, filters, dismissed) =
        (pool.doc_type, pool.text, pool.filters, pool.dismissed);
    let mut limit = FIRST_ROUND.max(wanted);
    loop {
        let candidates: Vec<Candidate> = search.candidates(doc_type, text, filters, limit)?;
        let best = candidates.first().map_or(0.0, |c| f64::from(c.relevance));
        let relevance =
            |c: &Candidate| if best > 0.0 { f64::from(c.relevance) / best } else { 0.0 };
        let mut scored: Vec<(EntityId, Scored)> = candidates
            .iter()
            .filter(|c| !dismissed.contains(&c.id))
            .map(|c| (c.id, score(c.criteria.clone(), relevance(c))))
            .collect();
        scored.sort_by(|a, b| b.1.score.cmp(&a.1.score).then_with(|| a.0.cmp(&b.0)));
        if candidates.len() < limit {
            return Ok(scored);
        }
        // Anything not taken has at most the last candidate's relevance.
        let bound = candidates.last().map_or(0, |c| matching::best_possible(relevance(c)));
        let settled = match floor {
            Some(floor) => bound < floor,
            None => scored.get(wanted.saturating_sub(1)).is_some_and(|(_, s)| s.score > bound),
        };
        if settled {
            return Ok(scored);
        }
        limit = limit.saturating_mul(4);
    }
}

/// A page of matches and how many were scored, as kept for one index generation.
pub type Ranked = Arc<(Vec<(EntityId, Scored)>, usize)>;

/// What a page of matches depends on besides the index: whose matches (side and id), that
/// document's version, the pairs its organisation dismissed, the language of the reasons,
/// and the window.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RankedKey {
    of: DocType,
    id: EntityId,
    version: i32,
    /// Sorted: the same set is the same key, whatever order the database gave.
    dismissed: Vec<EntityId>,
    lang: Lang,
    offset: usize,
    limit: usize,
}

/// The page `key.offset..key.offset + key.limit` of what `rank` ranks (complete down to a
/// rank), and how many it scored — kept for the index's generation under `key`, since
/// scoring the candidates is most of a matches request and owners reload the same page.
fn page_of(
    search: &Search,
    mut key: RankedKey,
    rank: impl FnOnce(usize) -> Result<Vec<(EntityId, Scored)>, ApiError>,
) -> Result<Ranked, ApiError> {
    let generation = search.generation();
    key.dismissed.sort();
    if let Some(kept) = search.ranked.get(&key, generation) {
        return Ok(kept);
    }
    let scored = rank(key.offset + key.limit)?;
    let total = scored.len();
    let page = scored.into_iter().skip(key.offset).take(key.limit).collect();
    let page: Ranked = Arc::new((page, total));
    search.ranked.put(key, page.clone(), generation);
    Ok(page)
}

/// Published listings matching `demand`, best first, explained in `lang`: the page
/// `offset..offset + limit`, and how many were scored. Leaves out the demand's own
/// organisation's listings and pairs that organisation dismissed.
pub fn for_demand(
    conn: &mut DbConn,
    search: &Search,
    demand: &Demand,
    lang: Lang,
    offset: usize,
    limit: usize,
) -> Result<(Vec<(Listing, Scored)>, usize), ApiError> {
    let dismissed =
        matches::dismissed(conn, true, EntityId::of(demand.id), demand.organization_id)?;
    let key = RankedKey {
        of: DocType::Demand,
        id: EntityId::of(demand.id),
        version: demand.version,
        dismissed: dismissed.clone(),
        lang,
        offset,
        limit,
    };
    let ranked = page_of(search, key, |wanted| {
        demand_candidates(search, demand, &dismissed, lang, wanted, None)
    })?;
    let (page, total) = &*ranked;
    let ids: Vec<TechnologyId> = page.iter().map(|(id, _)| id.to()).collect();
    let mut listings = technologies::load(conn, &ids)?;
    listings.sort_by_key(|l| ids.iter().position(|id| *id == l.id));
    let found = listings.into_iter().zip(page.iter().cloned()).map(|(l, (_, s))| (l, s)).collect();
    Ok((found, *total))
}

fn demand_candidates(
    search: &Search,
    demand: &Demand,
    dismissed: &[EntityId],
    lang: Lang,
    wanted: usize,
    floor: Option<u8>,
) -> Result<Vec<(EntityId, Scored)>, ApiError> {
    let Some(text) = SearchQuery::exact(&demand.content.match_text()) else {
        return Ok(Vec::new());
    };
    let filters =
        Filters { exclude_organization: Some(demand.organization_id), ..Filters::default() };
    let need = demand.content.need();
    let pool = Pool { doc_type: DocType::Technology, text: &text, filters: &filters, dismissed };
    ranked(search, &pool, wanted, floor, |c, r| matching::score(&offer(c), &need, r, lang))
}

/// Published demands matching `listing`, as [`for_demand`].
pub fn for_technology(
    conn: &mut DbConn,
    search: &Search,
    listing: &Listing,
    lang: Lang,
    offset: usize,
    limit: usize,
) -> Result<(Vec<(Demand, Scored)>, usize), ApiError> {
    let dismissed =
        matches::dismissed(conn, false, EntityId::of(listing.id), listing.organization_id)?;
    let key = RankedKey {
        of: DocType::Technology,
        id: EntityId::of(listing.id),
        version: listing.version,
        dismissed: dismissed.clone(),
        lang,
        offset,
        limit,
    };
    let ranked = page_of(search, key, |wanted| {
        technology_candidates(search, listing, &dismissed, lang, wanted, None)
    })?;
    let (page, total) = &*ranked;
    let ids: Vec<DemandId> = page.iter().map(|(id, _)| id.to()).collect();
    let mut found = demands::load(conn, &ids)?;
    found.sort_by_key(|d| ids.iter().position(|id| *id == d.id));
    Ok((found.into_iter().zip(page.iter().cloned()).map(|(d, (_, s))| (d, s)).collect(), *total))
}

fn technology_candidates(
    search: &Search,
    listing: &Listing,
    dismissed: &[EntityId],
    lang: Lang,
    wanted: usize,
    floor: Option<u8>,
) -> Result<Vec<(EntityId, Scored)>, ApiError> {
    let Some(text) = SearchQuery::exact(&listing.content.match_text()) else {
        return Ok(Vec::new());
    };
    let filters =
        Filters { exclude_organization: Some(listing.organization_id), ..Filters::default() };
    let offer = listing.content.offer();
    let pool = Pool { doc_type: DocType::Demand, text: &text, filters: &filters, dismissed };
    ranked(search, &pool, wanted, floor, |c, r| matching::score(&offer, &need(c), r, lang))
}

/// Standing matches of a newly published technology: every demand scoring at least
/// `threshold` not notified before. Run in the publication's transaction.
pub fn notify_for_technology(
    conn: &mut DbConn,
    search: &Search,
    listing: &Listing,
    threshold: u8,
) -> Result<usize, ApiError> {
    let dismissed =
        matches::dismissed(conn, false, EntityId::of(listing.id), listing.organization_id)?;
    let scored =
        technology_candidates(search, listing, &dismissed, Lang::default(), 0, Some(threshold))?;
    let ids: Vec<DemandId> =
        scored.iter().filter(|(_, s)| s.score >= threshold).map(|(id, _)| id.to()).collect();
    let mut sent = 0;
    for demand in demands::load(conn, &ids)? {
        let score = scored
            .iter()
            .find(|(id, _)| id.to::<DemandId>() == demand.id)
            .map_or(0, |(_, s)| s.score);
        if matches::notify_pair(conn, listing, &demand, score)? {
            sent += 1;
        }
    }
    Ok(sent)
}

/// Standing matches of a newly published demand, as [`notify_for_technology`].
pub fn notify_for_demand(
    conn: &mut DbConn,
    search: &Search,
    demand: &Demand,
    threshold: u8,
) -> Result<usize, ApiError> {
    let dismissed =
        matches::dismissed(conn, true, EntityId::of(demand.id), demand.organization_id)?;
    let scored =
        demand_candidates(search, demand, &dismissed, Lang::default(), 0, Some(threshold))?;
    let ids: Vec<TechnologyId> =
        scored.iter().filter(|(_, s)| s.score >= threshold).map(|(id, _)| id.to()).collect();
    let mut sent = 0;
    for listing in technologies::load(conn, &ids)? {
        let score = scored
            .iter()
            .find(|(id, _)| id.to::<TechnologyId>() == listing.id)
            .map_or(0, |(_, s)| s.score);
        if matches::notify_pair(conn, &listing, demand, score)? {
            sent += 1;
        }
    }
    Ok(sent)
}

/// Every candidate sharing a word with `demand`, scored: the benchmark's exhaustive
/// reference for [`for_demand`].
pub fn for_demand_exhaustive(
    conn: &mut DbConn,
    search: &Search,
    demand: &Demand,
) -> Result<Vec<(TechnologyId, Scored)>, ApiError> {
    let dismissed =
        matches::dismissed(conn, true, EntityId::of(demand.id), demand.organization_id)?;
    let scored = demand_candidates(search, demand, &dismissed, Lang::default(), 0, Some(0))?;
    Ok(scored.into_iter().map(|(id, s)| (id.to(), s)).collect())
}
