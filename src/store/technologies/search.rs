//! The SQL search of listings: portfolios and moderation queues (public search and browse
//! go through the search engine).

use diesel::prelude::*;

use super::{Listing, load};
use crate::db::DbConn;
use crate::db::raw::RawSql;
use crate::db::types::{OrganizationId, SqlUuid, TechnologyId};
use crate::domain::listing::{FundingLevel, Kind, RightsStatus};
use crate::domain::moderation::Status;
use crate::store::StoreError;
use crate::store::users::escape_like;

/// What a search looks for. Codes are already validated.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Empty: any status.
    pub statuses: Vec<Status>,
    pub kind: Option<Kind>,
    /// A sector code; a field code ("4") matches its sub-fields ("4.1").
    pub sector: Option<String>,
    pub trl_min: Option<u8>,
    pub trl_max: Option<u8>,
    /// Listings whose lowest asked amount is at most this (in `currency`).
    pub price_max: Option<i64>,
    pub currency: Option<String>,
    pub province: Option<String>,
    pub transfer_form: Option<String>,
    pub ip_type: Option<String>,
    pub funding_level: Option<FundingLevel>,
    pub rights_status: Option<RightsStatus>,
    pub organization_id: Option<OrganizationId>,
    pub verified_only: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    /// Best match first (falls back to `Newest` without text).
    Relevance,
    /// Latest published first; latest created first when unpublished listings are included.
    Newest,
    /// Lowest asked amount first; listings without a price last.
    PriceAsc,
    PriceDesc,
}

/// ` AND <t.sectors holds sector>`: sectors are a JSON array of codes, so "4" matches "4"
/// and "4.x". Shared by every table with a `sectors` column searched as `t`.
pub(crate) fn push_sector_filter(sql: &mut RawSql, sector: &str) {
    sql.push(" AND (t.sectors LIKE ");
    sql.bind(format!("%\"{}\"%", escape_like(sector)));
    sql.push(" ESCAPE '\\' OR t.sectors LIKE ");
    sql.bind(format!("%\"{}.%", escape_like(sector)));
    sql.push(" ESCAPE '\\')");
}

/// Standard SQL over `technologies t`, the same on both backends.
fn push_filters(sql: &mut RawSql, f: &Filter) {
    if !f.statuses.is_empty() {
        sql.push(" AND t.status IN (");
        for (i, status) in f.statuses.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.bind(status.as_str());
        }
        sql.push(")");
    }
    if let Some(kind) = f.kind {
        sql.push(" AND t.kind = ");
        sql.bind(kind.as_str());
    }
    if let Some(sector) = &f.sector {
        push_sector_filter(sql, sector);
    }
    if let Some(min) = f.trl_min {
        sql.push(" AND t.trl >= ");
        sql.bind(i32::from(min));
    }
    if let Some(max) = f.trl_max {
        sql.push(" AND t.trl <= ");
        sql.bind(i32::from(max));
    }
    if let Some(currency) = &f.currency {
        sql.push(" AND t.currency = ");
        sql.bind(currency.as_str());
    }
    if let Some(max) = f.price_max {
        sql.push(" AND t.price_min <= ");
        sql.bind(max);
    }
    if let Some(province) = &f.province {
        sql.push(" AND t.province = ");
        sql.bind(province.as_str());
    }
    // JSON arrays of objects written by serde_json: `"form":"usage_licence"` appears exactly
    // so (quotes inside values are escaped, so a value cannot fake it).
    if let Some(form) = &f.transfer_form {
        sql.push(" AND t.transfer_forms LIKE ");
        sql.bind(format!("%\"form\":\"{}\"%", escape_like(form)));
        sql.push(" ESCAPE '\\'");
    }
    if let Some(ip_type) = &f.ip_type {
        sql.push(" AND t.ip_records LIKE ");
        sql.bind(format!("%\"type\":\"{}\"%", escape_like(ip_type)));
        sql.push(" ESCAPE '\\'");
    }
    if f.funding_level.is_some() || f.rights_status.is_some() {
        sql.push(" AND t.id IN (SELECT r.technology_id FROM research_results r WHERE 1 = 1");
        if let Some(level) = f.funding_level {
            sql.push(" AND r.funding_level = ");
            sql.bind(level.as_str());
        }
        if let Some(rights) = f.rights_status {
            sql.push(" AND r.rights_status = ");
            sql.bind(rights.as_str());
        }
        sql.push(")");
    }
    if let Some(org) = f.organization_id {
        sql.push(" AND t.organization_id = ");
        sql.bind(org);
    }
    if f.verified_only {
        sql.push(
            " AND t.organization_id IN (SELECT o.id FROM organizations o WHERE o.verified = TRUE)",
        );
    }
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = SqlUuid)]
    id: TechnologyId,
}

#[derive(QueryableByName)]
struct CountRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// One page of listings matching `filter` (SQL: portfolios and moderation queues; public
/// search and browse go through the search engine), and how many match in all.
pub fn search(
    conn: &mut DbConn,
    filter: &Filter,
    sort: Sort,
    offset: i64,
    limit: i64,
) -> Result<(Vec<Listing>, i64), StoreError> {
    let query = |select: &str| {
        let mut sql = RawSql::new(format!("SELECT {select} FROM technologies t WHERE 1 = 1"));
        push_filters(&mut sql, filter);
        sql
    };
    let published_only = filter.statuses == [Status::Published];
    let newest =
        if published_only { "published_at DESC, id DESC" } else { "created_at DESC, id DESC" };
    let order = match sort {
        Sort::Relevance | Sort::Newest => newest.to_owned(),
        Sort::PriceAsc => "(price_min IS NULL), price_min ASC, id DESC".to_owned(),
        Sort::PriceDesc => "(price_min IS NULL), price_min DESC, id DESC".to_owned(),
    };
    let total = query("count(*) AS n").load::<CountRow>(conn)?.first().map_or(0, |row| row.n);
    if total <= offset {
        return Ok((Vec::new(), total));
    }
    let mut page = query("t.id AS id");
    page.push(&format!(" ORDER BY {order} LIMIT {limit} OFFSET {offset}"));
    let ids: Vec<TechnologyId> = page.load::<IdRow>(conn)?.into_iter().map(|row| row.id).collect();
    let mut listings = load(conn, &ids)?;
    listings.sort_by_key(|l| ids.iter().position(|id| *id == l.id));
    Ok((listings, total))
}
