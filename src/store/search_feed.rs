//! The search engine's change feed: rows appended by triggers in the transaction of every
//! change to listings, research data, demands and organisations (migration 000020), read in
//! order by each process's index (`search::feed`). Also the id walks a rebuild needs.

use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::{demands, search_changes, technologies};
use crate::db::types::{DemandId, EntityId, OrganizationId, TechnologyId};
use crate::domain::moderation::Status;
use crate::store::StoreError;

#[derive(Debug, Clone, Queryable)]
pub struct Change {
    pub seq: i64,
    pub entity: String,
    pub entity_id: EntityId,
}

/// Up to `limit` changes after `after`, plus those among `gaps` (positions below `after`
/// that were not visible yet: a transaction that took its position earlier may commit
/// later), in feed order.
pub fn since(
    conn: &mut DbConn,
    after: i64,
    gaps: &[i64],
    limit: i64,
) -> Result<Vec<Change>, StoreError> {
    let mut query = search_changes::table
        .select((search_changes::seq, search_changes::entity, search_changes::entity_id))
        .filter(search_changes::seq.gt(after))
        .into_boxed();
    if !gaps.is_empty() {
        query = query.or_filter(search_changes::seq.eq_any(gaps.to_vec()));
    }
    Ok(query.order(search_changes::seq.asc()).limit(limit).load(conn)?)
}

/// The latest position of the feed (0 when empty).
pub fn head(conn: &mut DbConn) -> Result<i64, StoreError> {
    let max: Option<i64> =
        search_changes::table.select(diesel::dsl::max(search_changes::seq)).first(conn)?;
    Ok(max.unwrap_or(0))
}

/// What tells this database's feed from another's: the entity of its first change (`None`
/// while the feed is empty). An index remembers it, so one built from another database
/// (the same `TECHX_SEARCH_DIR` pointed at a new `DATABASE_URL`) is rebuilt, not trusted.
pub fn origin(conn: &mut DbConn) -> Result<Option<String>, StoreError> {
    let first: Option<EntityId> = search_changes::table
        .select(search_changes::entity_id)
        .order(search_changes::seq.asc())
        .first(conn)
        .optional()?;
    Ok(first.map(|id| id.to_string()))
}

/// Published listing ids after `after` (by id), at most `limit`: a rebuild's walk.
pub fn published_technologies(
    conn: &mut DbConn,
    after: Option<TechnologyId>,
    limit: i64,
) -> Result<Vec<TechnologyId>, StoreError> {
    let mut query = technologies::table
        .select(technologies::id)
        .filter(technologies::status.eq(Status::Published.as_str()))
        .order(technologies::id.asc())
        .limit(limit)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(technologies::id.gt(after));
    }
    Ok(query.load(conn)?)
}

/// Published demand ids after `after` (by id), at most `limit`.
pub fn published_demands(
    conn: &mut DbConn,
    after: Option<DemandId>,
    limit: i64,
) -> Result<Vec<DemandId>, StoreError> {
    let mut query = demands::table
        .select(demands::id)
        .filter(demands::status.eq(Status::Published.as_str()))
        .order(demands::id.asc())
        .limit(limit)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(demands::id.gt(after));
    }
    Ok(query.load(conn)?)
}

/// Every listing and demand of `organization` (its name or verification changed).
pub fn of_organization(
    conn: &mut DbConn,
    organization: OrganizationId,
) -> Result<(Vec<TechnologyId>, Vec<DemandId>), StoreError> {
    let listings = technologies::table
        .select(technologies::id)
        .filter(technologies::organization_id.eq(organization))
        .load(conn)?;
    let demands = demands::table
        .select(demands::id)
        .filter(demands::organization_id.eq(organization))
        .load(conn)?;
    Ok((listings, demands))
}
