//! Explained matching between published technologies and published demands: candidates come
//! from the other side's full-text index (bounded, so the cost follows the candidates, not
//! the catalogue), each is scored by `domain::matching::score`. Also the standing-match
//! notifications (once per pair) and the dismissals of either side.

use diesel::prelude::*;
use serde_json::json;

use crate::db::DbConn;
use crate::db::dialect::SearchIndex;
use crate::db::schema::{match_dismissals, match_notifications};
use crate::db::types::{Id, now};
use crate::domain::lang::Lang;
use crate::domain::matching::{self, Scored};
use crate::domain::search::SearchQuery;
use crate::error::ApiError;
use crate::mail::Template;
use crate::store::demands::{self, Demand};
use crate::store::organizations::mail_owners;
use crate::store::technologies::{self, Listing};
use crate::webhooks::{self, EventType};

/// At most this many candidates (best by engine rank) are scored per request.
pub const CANDIDATES: i64 = 200;

/// At most this many full-text matches are ranked per request, of which the best
/// [`CANDIDATES`] are scored: the cost of a match request grows with this, not with the
/// catalogue (`demands::ranked_candidates` says which rows the window holds). At 100 000
/// listings a demand's common words match tens of thousands; ranking them all took ~0.5 s
/// on SQLite and ~1 s on PostgreSQL.
pub const RANK_WINDOW: i64 = 1_000;

/// Engine ranks are not comparable across backends or queries: each is divided by the best
/// candidate's, so the best text match gets full text points and the rest a share of them.
fn normalise(ranked: &[(Id, f64)]) -> impl Fn(Id) -> f64 + '_ {
    let best = ranked.iter().map(|(_, r)| *r).fold(0.0_f64, f64::max);
    move |id| {
        let rank = ranked.iter().find(|(i, _)| *i == id).map_or(0.0, |(_, r)| *r);
        if best > 0.0 { (rank / best).clamp(0.0, 1.0) } else { 0.0 }
    }
}

fn by_score<T>(scored: &mut [(T, Scored)], id: impl Fn(&T) -> Id) {
    scored.sort_by(|a, b| b.1.score.cmp(&a.1.score).then_with(|| id(&a.0).cmp(&id(&b.0))));
}

/// Published technologies matching `demand`, best first, explained in `lang`. Leaves out the
/// demand's own organisation's listings and pairs that organisation dismissed.
pub fn for_demand(
    conn: &mut DbConn,
    demand: &Demand,
    lang: Lang,
) -> Result<Vec<(Listing, Scored)>, ApiError> {
    for_demand_within(conn, demand, lang, RANK_WINDOW)
}

/// [`for_demand`] ranking at most `window` full-text matches (the benchmark compares the
/// production window with an unbounded one).
pub fn for_demand_within(
    conn: &mut DbConn,
    demand: &Demand,
    lang: Lang,
    window: i64,
) -> Result<Vec<(Listing, Scored)>, ApiError> {
    let Some(query) = SearchQuery::any_of(&demand.content.match_text()) else {
        return Ok(Vec::new());
    };
    let ranked = demands::ranked_candidates(
        conn,
        SearchIndex::Technologies,
        &query,
        demand.organization_id,
        demand.id,
        CANDIDATES,
        window,
    )?;
    let ids: Vec<Id> = ranked.iter().map(|(id, _)| *id).collect();
    let relevance = normalise(&ranked);
    let need = demand.content.need();
    let mut scored: Vec<(Listing, Scored)> = technologies::load(conn, &ids)?
        .into_iter()
        .filter(|l| l.organization_id != demand.organization_id)
        .map(|l| {
            let s = matching::score(&l.content.offer(), &need, relevance(l.id), lang);
            (l, s)
        })
        .collect();
    by_score(&mut scored, |l| l.id);
    Ok(scored)
}

/// Published demands matching `listing`, best first, explained in `lang`. Leaves out the
/// listing's own organisation's demands and pairs that organisation dismissed.
pub fn for_technology(
    conn: &mut DbConn,
    listing: &Listing,
    lang: Lang,
) -> Result<Vec<(Demand, Scored)>, ApiError> {
    let Some(query) = SearchQuery::any_of(&listing.content.match_text()) else {
        return Ok(Vec::new());
    };
    let ranked = demands::ranked_candidates(
        conn,
        SearchIndex::Demands,
        &query,
        listing.organization_id,
        listing.id,
        CANDIDATES,
        RANK_WINDOW,
    )?;
    let ids: Vec<Id> = ranked.iter().map(|(id, _)| *id).collect();
    let relevance = normalise(&ranked);
    let offer = listing.content.offer();
    let mut scored: Vec<(Demand, Scored)> = demands::load(conn, &ids)?
        .into_iter()
        .filter(|d| d.organization_id != listing.organization_id)
        .map(|d| {
            let s = matching::score(&offer, &d.content.need(), relevance(d.id), lang);
            (d, s)
        })
        .collect();
    by_score(&mut scored, |d| d.id);
    Ok(scored)
}

/// Records and announces one pair unless it was notified before; returns whether it was new.
fn notify_pair(
    conn: &mut DbConn,
    listing: &Listing,
    demand: &Demand,
    score: u8,
) -> Result<bool, ApiError> {
    let known: i64 = match_notifications::table
        .filter(match_notifications::technology_id.eq(listing.id))
        .filter(match_notifications::demand_id.eq(demand.id))
        .count()
        .get_result(conn)?;
    if known > 0 {
        return Ok(false);
    }
    diesel::insert_into(match_notifications::table)
        .values((
            match_notifications::technology_id.eq(listing.id),
            match_notifications::demand_id.eq(demand.id),
            match_notifications::score.eq(i32::from(score)),
            match_notifications::notified_at.eq(now()),
        ))
        .execute(conn)?;
    // Neither mail names the other organisation: a demand may hide who posted it, and the
    // matches endpoint shows each side what it may see.
    let to_demand = json!({
        "own_title": demand.content.title,
        "counterpart_title": listing.content.title,
        "score": score,
        "matches_path": format!("/demands/{}/matches", demand.id),
    });
    let to_technology = json!({
        "own_title": listing.content.title,
        "counterpart_title": demand.content.title,
        "score": score,
        "matches_path": format!("/technologies/{}/matches", listing.id),
    });
    mail_owners(conn, demand.organization_id, Template::MatchFound, &to_demand)?;
    mail_owners(conn, listing.organization_id, Template::MatchFound, &to_technology)?;
    let data = json!({
        "technology_id": listing.id.to_string(),
        "demand_id": demand.id.to_string(),
        "score": score,
    });
    webhooks::emit(conn, demand.organization_id, EventType::MatchFound, data.clone())?;
    webhooks::emit(conn, listing.organization_id, EventType::MatchFound, data)?;
    Ok(true)
}

/// Standing matches of a newly published technology: every demand scoring at least
/// `threshold` not notified before. Run in the publication's transaction.
pub fn notify_for_technology(
    conn: &mut DbConn,
    listing: &Listing,
    threshold: u8,
) -> Result<usize, ApiError> {
    let mut sent = 0;
    for (demand, scored) in for_technology(conn, listing, Lang::default())? {
        if scored.score >= threshold && notify_pair(conn, listing, &demand, scored.score)? {
            sent += 1;
        }
    }
    Ok(sent)
}

/// Standing matches of a newly published demand, as [`notify_for_technology`].
pub fn notify_for_demand(
    conn: &mut DbConn,
    demand: &Demand,
    threshold: u8,
) -> Result<usize, ApiError> {
    let mut sent = 0;
    for (listing, scored) in for_demand(conn, demand, Lang::default())? {
        if scored.score >= threshold && notify_pair(conn, &listing, demand, scored.score)? {
            sent += 1;
        }
    }
    Ok(sent)
}

/// Hides the pair from `organization`'s side; dismissing twice is harmless.
pub fn dismiss(
    conn: &mut DbConn,
    technology: Id,
    demand: Id,
    organization: Id,
    by: Id,
) -> Result<(), ApiError> {
    let known: i64 = match_dismissals::table
        .filter(match_dismissals::technology_id.eq(technology))
        .filter(match_dismissals::demand_id.eq(demand))
        .filter(match_dismissals::organization_id.eq(organization))
        .count()
        .get_result(conn)?;
    if known == 0 {
        diesel::insert_into(match_dismissals::table)
            .values((
                match_dismissals::technology_id.eq(technology),
                match_dismissals::demand_id.eq(demand),
                match_dismissals::organization_id.eq(organization),
                match_dismissals::dismissed_by.eq(by),
                match_dismissals::created_at.eq(now()),
            ))
            .execute(conn)?;
    }
    Ok(())
}
