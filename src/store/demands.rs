//! Technology demands. They go through the shared moderation steps (`store::moderation`),
//! with their own mails; the proposals answering them are in `store::proposals`.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde_json::json;

use crate::db::raw::RawSql;
use crate::db::schema::{demands, organizations};
use crate::db::types::{DemandId, OrganizationId, SqlUuid, UserId, now};
use crate::db::{Db, DbConn, dialect};
use crate::domain::demand::{Budget, DemandContent};
use crate::domain::lang::Lang;
use crate::domain::moderation::Status;
use crate::mail::Template;
use crate::store::changed;
use crate::store::moderation::{self, Bulk, Decision, Lifecycle, Mails, Moderated, lifecycle_of};
use crate::store::organizations::parse_list;
use crate::store::{StoreError, json};

#[derive(Debug, Clone, Queryable)]
struct DemandRow {
    id: DemandId,
    organization_id: OrganizationId,
    created_by: UserId,
    status: String,
    language: String,
    province: String,
    trl_min: Option<i32>,
    budget_min: Option<i64>,
    budget_max: Option<i64>,
    currency: Option<String>,
    deadline: Option<String>,
    hide_organization: bool,
    sectors: String,
    keywords: String,
    transfer_forms: String,
    rejection_reason: Option<String>,
    submitted_at: Option<NaiveDateTime>,
    published_at: Option<NaiveDateTime>,
    expires_at: Option<NaiveDateTime>,
    #[allow(dead_code)]
    expiry_warned_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    version: i32,
    title: String,
    problem: String,
    requirements: Option<String>,
    #[allow(dead_code)]
    title_folded: String,
    #[allow(dead_code)]
    search_text: String,
}

/// A demand with its organisation's name and verified flag.
#[derive(Debug, Clone)]
pub struct Demand {
    pub id: DemandId,
    pub organization_id: OrganizationId,
    pub organization_name: String,
    pub organization_verified: bool,
    pub created_by: UserId,
    pub status: Status,
    pub content: DemandContent,
    pub rejection_reason: Option<String>,
    pub submitted_at: Option<NaiveDateTime>,
    pub published_at: Option<NaiveDateTime>,
    pub expires_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i32,
}

fn assemble(
    (row, (organization_name, organization_verified)): (DemandRow, (String, bool)),
) -> Result<Demand, StoreError> {
    let id = row.id;
    // CHECK constraints make these unreachable; a row that fails anyway is logged, not shown.
    let corrupt = |column: &'static str| {
        tracing::error!(%id, column, "unreadable demand row");
        StoreError::corrupt("demands", column, format!("demand {id}: unreadable value"))
    };
    let budget =
        row.currency.map(|currency| Budget { min: row.budget_min, max: row.budget_max, currency });
    let deadline = match row.deadline {
        Some(text) => {
            Some(NaiveDate::parse_from_str(&text, "%Y-%m-%d").map_err(|_| corrupt("deadline"))?)
        }
        None => None,
    };
    let content = DemandContent {
        language: Lang::parse(&row.language).ok_or_else(|| corrupt("language"))?,
        title: row.title,
        problem: row.problem,
        requirements: row.requirements,
        sectors: parse_list(&row.sectors),
        keywords: parse_list(&row.keywords),
        trl_min: row.trl_min.and_then(|t| u8::try_from(t).ok()),
        budget,
        transfer_forms: parse_list(&row.transfer_forms),
        province: row.province,
        deadline,
        hide_organization: row.hide_organization,
    };
    Ok(Demand {
        id,
        organization_id: row.organization_id,
        organization_name,
        organization_verified,
        created_by: row.created_by,
        status: Status::parse(&row.status).ok_or_else(|| corrupt("status"))?,
        content,
        rejection_reason: row.rejection_reason,
        submitted_at: row.submitted_at,
        published_at: row.published_at,
        expires_at: row.expires_at,
        created_at: row.created_at,
        updated_at: row.updated_at,
        version: row.version,
    })
}

fn to_json<T: serde::Serialize>(value: &T, column: &'static str) -> Result<String, StoreError> {
    json::encode(value, "demands", column)
}

#[derive(AsChangeset, Insertable)]
#[diesel(table_name = demands)]
#[diesel(treat_none_as_null = true)]
struct ContentColumns<'a> {
    language: &'a str,
    title: &'a str,
    problem: &'a str,
    requirements: Option<&'a str>,
    sectors: String,
    keywords: String,
    trl_min: Option<i32>,
    budget_min: Option<i64>,
    budget_max: Option<i64>,
    currency: Option<&'a str>,
    transfer_forms: String,
    province: &'a str,
    deadline: Option<String>,
    hide_organization: bool,
    title_folded: String,
    search_text: String,
}

impl<'a> ContentColumns<'a> {
    fn new(c: &'a DemandContent) -> Result<Self, StoreError> {
        let (title_folded, search_text) = c.search_document();
        Ok(Self {
            language: c.language.code(),
            title: &c.title,
            problem: &c.problem,
            requirements: c.requirements.as_deref(),
            sectors: to_json(&c.sectors, "sectors")?,
            keywords: to_json(&c.keywords, "keywords")?,
            trl_min: c.trl_min.map(i32::from),
            budget_min: c.budget.as_ref().and_then(|b| b.min),
            budget_max: c.budget.as_ref().and_then(|b| b.max),
            currency: c.budget.as_ref().map(|b| b.currency.as_str()),
            transfer_forms: to_json(&c.transfer_forms, "transfer_forms")?,
            province: &c.province,
            deadline: c.deadline.map(|d| d.format("%Y-%m-%d").to_string()),
            hide_organization: c.hide_organization,
            title_folded,
            search_text,
        })
    }
}

pub fn create(
    conn: &mut DbConn,
    organization: OrganizationId,
    creator: UserId,
    content: &DemandContent,
) -> Result<Demand, StoreError> {
    let at = now();
    let id = DemandId::new();
    diesel::insert_into(demands::table)
        .values((
            demands::id.eq(id),
            demands::organization_id.eq(organization),
            demands::created_by.eq(creator),
            demands::status.eq(Status::Draft.as_str()),
            &ContentColumns::new(content)?,
            demands::created_at.eq(at),
            demands::updated_at.eq(at),
            demands::version.eq(1),
        ))
        .execute(conn)?;
    get(conn, id)
}

pub fn load(conn: &mut DbConn, ids: &[DemandId]) -> Result<Vec<Demand>, StoreError> {
    let rows: Vec<(DemandRow, (String, bool))> = demands::table
        .inner_join(organizations::table)
        .filter(demands::id.eq_any(ids))
        .select((demands::all_columns, (organizations::name, organizations::verified)))
        .load(conn)?;
    rows.into_iter().map(assemble).collect()
}

/// One demand with its owner's name, by `=` rather than `load`'s `IN`: a statement with a
/// fixed shape, which each connection prepares once and reuses.
macro_rules! by_id {
    ($id:expr) => {
        demands::table
            .inner_join(organizations::table)
            .filter(demands::id.eq($id))
            .select((demands::all_columns, (organizations::name, organizations::verified)))
    };
}

type Row = (DemandRow, (String, bool));

pub fn find(conn: &mut DbConn, id: DemandId) -> Result<Option<Demand>, StoreError> {
    let row: Option<Row> = by_id!(id).first(conn).optional()?;
    row.map(assemble).transpose()
}

pub fn get(conn: &mut DbConn, id: DemandId) -> Result<Demand, StoreError> {
    find(conn, id)?.ok_or_else(|| StoreError::not_found("No such demand."))
}

/// A demand's page (`GET /demands/{id}`): one statement, a hot read on PostgreSQL where it
/// can be ([`crate::read_first`]).
pub async fn read(db: &Db, id: DemandId) -> Result<Demand, StoreError> {
    let row = crate::read_first!(db, Row, by_id!(id))?;
    row.map(assemble).transpose()?.ok_or_else(|| StoreError::not_found("No such demand."))
}

pub fn update_content(
    conn: &mut DbConn,
    demand: &Demand,
    content: &DemandContent,
    to: Status,
) -> Result<Demand, StoreError> {
    let at = now();
    let resubmitted = to == Status::PendingReview && demand.status != Status::PendingReview;
    let rows = guarded!(demands, demand, status)
        .set((
            &ContentColumns::new(content)?,
            demands::status.eq(to.as_str()),
            demands::submitted_at.eq(if resubmitted { Some(at) } else { demand.submitted_at }),
            demands::updated_at.eq(at),
            demands::version.eq(demands::version + 1),
        ))
        .execute(conn)?;
    changed(rows)?;
    get(conn, demand.id)
}

impl Moderated for Demand {
    const TABLE: &'static str = "demands";
    const MAILS: Mails = Mails {
        published: Template::DemandPublished,
        rejected: Template::DemandRejected,
        expiring: Template::DemandExpiring,
        expired: Template::DemandExpired,
    };
    type Id = DemandId;

    fn get(conn: &mut DbConn, id: DemandId) -> Result<Self, StoreError> {
        get(conn, id)
    }

    fn lifecycle(&self) -> Lifecycle<DemandId> {
        lifecycle_of!(self)
    }

    fn mail_context(&self) -> serde_json::Value {
        json!({"title": self.content.title, "demand_path": format!("/demands/{}", self.id)})
    }

    fn decided(
        _: &mut DbConn,
        _: &Self,
        after: &Self,
        decision: Decision,
    ) -> Result<(), StoreError> {
        if let Decision::Approved { .. } = decision {
            tracing::info!(event = "demand.published", demand_id = %after.id, "demand published");
        }
        Ok(())
    }
}

/// What a demand search looks for.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Empty: any status.
    pub statuses: Vec<Status>,
    pub sector: Option<String>,
    pub province: Option<String>,
    pub organization_id: Option<OrganizationId>,
    /// Leave out demands hiding their organisation (an outsider filtering by organisation).
    pub visible_organization_only: bool,
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = SqlUuid)]
    id: DemandId,
}

#[derive(QueryableByName)]
struct CountRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

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
    if let Some(sector) = &f.sector {
        crate::store::technologies::push_sector_filter(sql, sector);
    }
    if let Some(province) = &f.province {
        sql.push(" AND t.province = ");
        sql.bind(province.as_str());
    }
    if let Some(org) = f.organization_id {
        sql.push(" AND t.organization_id = ");
        sql.bind(org);
    }
    if f.visible_organization_only {
        sql.push(" AND t.hide_organization = FALSE");
    }
}

/// One page of demands matching `filter`, newest first (SQL: portfolios and moderation
/// queues; public search goes through the search engine), and how many match in all.
pub fn search(
    conn: &mut DbConn,
    filter: &Filter,
    offset: i64,
    limit: i64,
) -> Result<(Vec<Demand>, i64), StoreError> {
    let query = |select: &str| {
        let mut sql = RawSql::new(format!("SELECT {select} FROM demands t WHERE 1 = 1"));
        push_filters(&mut sql, filter);
        sql
    };
    let total = query("count(*) AS n").load::<CountRow>(conn)?.first().map_or(0, |r| r.n);
    if total <= offset {
        return Ok((Vec::new(), total));
    }
    let mut page = query("t.id AS id");
    page.push(&format!(" ORDER BY t.created_at DESC, t.id DESC LIMIT {limit} OFFSET {offset}"));
    let ids: Vec<DemandId> = page.load::<IdRow>(conn)?.into_iter().map(|r| r.id).collect();
    let mut found = load(conn, &ids)?;
    found.sort_by_key(|d| ids.iter().position(|id| *id == d.id));
    Ok((found, total))
}

/// A demand as a bulk load writes it (`techx seed --synthetic`).
pub type BulkDemand = Bulk<DemandContent, DemandId>;

/// Inserts `rows` with multi-row INSERTs (the search index follows as for one insert). Run
/// in a write transaction.
pub fn insert_bulk(conn: &mut DbConn, rows: &[BulkDemand]) -> Result<(), StoreError> {
    moderation::insert_bulk(conn, rows, ContentColumns::new, |conn, built, _| {
        dialect::insert_rows(conn, demands::table, built)?;
        Ok(())
    })
}
