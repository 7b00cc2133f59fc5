//! What matching stores: standing-match notifications (once per pair) and the dismissals of
//! either side. Candidates and scores come from the search engine (`search::matching`).

use diesel::prelude::*;
use serde_json::json;

use crate::db::DbConn;
use crate::db::schema::{match_dismissals, match_notifications};
use crate::db::types::{DemandId, EntityId, OrganizationId, TechnologyId, UserId, now};
use crate::mail::Template;
use crate::store::StoreError;
use crate::store::demands::Demand;
use crate::store::organizations::mail_owners;
use crate::store::technologies::Listing;
use crate::webhooks::{self, EventType};

/// The items on `side`'s own side that `organization` dismissed together with `other`:
/// `side` names the table holding them (listings when a demand's organisation looks).
pub fn dismissed(
    conn: &mut DbConn,
    listings: bool,
    other: EntityId,
    organization: OrganizationId,
) -> Result<Vec<EntityId>, StoreError> {
    let query = match_dismissals::table.filter(match_dismissals::organization_id.eq(organization));
    Ok(if listings {
        query
            .filter(match_dismissals::demand_id.eq(other))
            .select(match_dismissals::technology_id)
            .load(conn)?
    } else {
        query
            .filter(match_dismissals::technology_id.eq(other))
            .select(match_dismissals::demand_id)
            .load(conn)?
    })
}

/// Records and announces one pair unless it was notified before; returns whether it was new.
pub fn notify_pair(
    conn: &mut DbConn,
    listing: &Listing,
    demand: &Demand,
    score: u8,
) -> Result<bool, StoreError> {
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

/// Hides the pair from `organization`'s side; dismissing twice is harmless.
pub fn dismiss(
    conn: &mut DbConn,
    technology: TechnologyId,
    demand: DemandId,
    organization: OrganizationId,
    by: UserId,
) -> Result<(), StoreError> {
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
