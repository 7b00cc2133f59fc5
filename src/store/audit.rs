//! The audit log: appended in the transaction of each write, read by owners and staff,
//! pruned after `TECHX_AUDIT_RETENTION_DAYS`. Nothing here updates or deletes an entry
//! except the retention prune.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::{
    audit_events, deals, demands, inquiries, proposals, technologies, valuation_requests,
};
use crate::db::types::{ApiKeyId, AuditEventId, EntityId, OrganizationId, UserId, now};
use crate::store::StoreError;

#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = audit_events)]
pub struct Entry {
    pub id: AuditEventId,
    pub occurred_at: NaiveDateTime,
    pub organization_id: Option<OrganizationId>,
    /// `user` or `api_key`.
    pub actor_type: String,
    pub user_id: Option<UserId>,
    pub api_key_id: Option<ApiKeyId>,
    pub operation_id: String,
    pub method: String,
    pub path: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub address: Option<String>,
    pub request_id: Option<String>,
    /// `succeeded` or `failed`.
    pub outcome: String,
    /// The HTTP status of a failed write; `None` for one that committed.
    pub status: Option<i32>,
}

pub fn append(conn: &mut DbConn, entry: &Entry) -> Result<(), StoreError> {
    diesel::insert_into(audit_events::table).values(entry).execute(conn)?;
    Ok(())
}

/// Which entries to read; every field narrows.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub organization_id: Option<OrganizationId>,
    pub api_key_id: Option<ApiKeyId>,
    pub user_id: Option<UserId>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
}

fn filtered(filter: &Filter) -> audit_events::BoxedQuery<'static, crate::db::MultiBackend> {
    let mut query = audit_events::table.into_boxed();
    if let Some(org) = filter.organization_id {
        query = query.filter(audit_events::organization_id.eq(org));
    }
    if let Some(key) = filter.api_key_id {
        query = query.filter(audit_events::api_key_id.eq(key));
    }
    if let Some(user) = filter.user_id {
        query = query.filter(audit_events::user_id.eq(user));
    }
    if let Some(kind) = &filter.resource_type {
        query = query.filter(audit_events::resource_type.eq(kind.clone()));
    }
    if let Some(id) = &filter.resource_id {
        query = query.filter(audit_events::resource_id.eq(id.clone()));
    }
    if let Some(from) = filter.from {
        query = query.filter(audit_events::occurred_at.ge(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(audit_events::occurred_at.lt(to));
    }
    query
}

/// Newest first; `limit` None reads every match (the CSV export).
pub fn list(
    conn: &mut DbConn,
    filter: &Filter,
    offset: i64,
    limit: Option<i64>,
) -> Result<(Vec<Entry>, i64), StoreError> {
    let total = filtered(filter).count().get_result(conn)?;
    let mut query = filtered(filter)
        .order((audit_events::occurred_at.desc(), audit_events::id.desc()))
        .offset(offset);
    if let Some(limit) = limit {
        query = query.limit(limit);
    }
    Ok((query.load(conn)?, total))
}

/// Removes entries older than `days` days; returns how many.
pub fn prune(conn: &mut DbConn, days: u32) -> Result<usize, StoreError> {
    let cutoff = now() - chrono::Duration::days(i64::from(days));
    Ok(diesel::delete(audit_events::table.filter(audit_events::occurred_at.lt(cutoff)))
        .execute(conn)?)
}

/// The organisations a resource belongs to, most relevant first (a deal: buyer, seller,
/// broker). Empty for a kind without an owner or an id that is gone.
pub fn owners_of(
    conn: &mut DbConn,
    kind: &str,
    id: EntityId,
) -> Result<Vec<OrganizationId>, StoreError> {
    let ids = match kind {
        "organization" => vec![id.0.into()],
        "technology" => {
            technologies::table.find(id).select(technologies::organization_id).load(conn)?
        }
        "demand" => demands::table.find(id).select(demands::organization_id).load(conn)?,
        "proposal" => proposals::table.find(id).select(proposals::organization_id).load(conn)?,
        "inquiry" => inquiries::table
            .find(id)
            .select((inquiries::from_organization_id, inquiries::to_organization_id))
            .load::<(OrganizationId, OrganizationId)>(conn)?
            .into_iter()
            .flat_map(|(a, b)| [a, b])
            .collect(),
        "deal" => deals::table
            .find(id)
            .select((
                deals::buyer_organization_id,
                deals::seller_organization_id,
                deals::broker_organization_id,
            ))
            .load::<(OrganizationId, OrganizationId, Option<OrganizationId>)>(conn)?
            .into_iter()
            .flat_map(|(a, b, c)| [Some(a), Some(b), c])
            .flatten()
            .collect(),
        "valuation_request" => valuation_requests::table
            .find(id)
            .select((
                valuation_requests::requester_organization_id,
                valuation_requests::appraiser_organization_id,
            ))
            .load::<(OrganizationId, Option<OrganizationId>)>(conn)?
            .into_iter()
            .flat_map(|(a, b)| [Some(a), b])
            .flatten()
            .collect(),
        _ => Vec::new(),
    };
    Ok(ids)
}
