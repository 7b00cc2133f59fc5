//! A listing's writes: creation, the owner's edits (guarded by the version read), and bulk
//! loads.

use diesel::prelude::*;

use super::{Listing, get};
use crate::db::schema::{research_results, technologies};
use crate::db::types::{OrganizationId, TechnologyId, UserId, now};
use crate::db::{DbConn, dialect};
use crate::domain::listing::{Content, Research};
use crate::domain::moderation::Status;
use crate::store::moderation::{self, Bulk};
use crate::store::{StoreError, changed, json};

fn to_json<T: serde::Serialize>(value: &T, column: &'static str) -> Result<String, StoreError> {
    json::encode(value, "technologies", column)
}

/// The columns an owner's edit writes.
#[derive(AsChangeset, Insertable)]
#[diesel(table_name = technologies)]
#[diesel(treat_none_as_null = true)]
struct ContentColumns<'a> {
    kind: &'a str,
    language: &'a str,
    title: &'a str,
    summary: &'a str,
    description: &'a str,
    advantages: Option<&'a str>,
    applications: Option<&'a str>,
    sectors: String,
    keywords: String,
    trl: Option<i32>,
    ip_records: String,
    transfer_forms: String,
    price_min: Option<i64>,
    price_max: Option<i64>,
    currency: Option<&'a str>,
    price_basis: Option<&'a str>,
    province: &'a str,
    contact_visibility: &'a str,
    title_folded: String,
    search_text: String,
}

impl<'a> ContentColumns<'a> {
    fn new(c: &'a Content) -> Result<Self, StoreError> {
        let (title_folded, search_text) = c.search_document();
        Ok(Self {
            kind: c.kind.as_str(),
            language: c.language.code(),
            title: &c.title,
            summary: &c.summary,
            description: &c.description,
            advantages: c.advantages.as_deref(),
            applications: c.applications.as_deref(),
            sectors: to_json(&c.sectors, "sectors")?,
            keywords: to_json(&c.keywords, "keywords")?,
            trl: c.trl.map(i32::from),
            ip_records: to_json(&c.ip_records, "ip_records")?,
            transfer_forms: to_json(&c.transfer_forms, "transfer_forms")?,
            price_min: c.price.as_ref().and_then(|p| p.min),
            price_max: c.price.as_ref().and_then(|p| p.max),
            currency: c.price.as_ref().map(|p| p.currency.as_str()),
            price_basis: c.price.as_ref().map(|p| p.basis.as_str()),
            province: &c.province,
            contact_visibility: c.contact_visibility.as_str(),
            title_folded,
            search_text,
        })
    }
}

/// A listing's research data as its row is written, for one listing or a bulk chunk.
#[derive(Insertable)]
#[diesel(table_name = research_results)]
#[diesel(treat_none_as_null = true)]
struct ResearchColumns<'a> {
    technology_id: TechnologyId,
    funding_level: &'a str,
    programme: Option<&'a str>,
    task_code: &'a str,
    host_organization: &'a str,
    managing_agency: &'a str,
    budget_spent: Option<i64>,
    budget_currency: Option<&'a str>,
    completion_year: Option<i32>,
    rights_status: &'a str,
    assignee: Option<&'a str>,
}

impl<'a> ResearchColumns<'a> {
    fn new(technology_id: TechnologyId, r: &'a Research) -> Self {
        Self {
            technology_id,
            funding_level: r.funding_level.as_str(),
            programme: r.programme.as_deref(),
            task_code: &r.task_code,
            host_organization: &r.host_organization,
            managing_agency: &r.managing_agency,
            budget_spent: r.budget_spent.as_ref().map(|m| m.amount),
            budget_currency: r.budget_spent.as_ref().map(|m| m.currency.as_str()),
            completion_year: r.completion_year,
            rights_status: r.rights_status.as_str(),
            assignee: r.assignee.as_deref(),
        }
    }
}

/// Replaces the research data of a listing with `research`.
fn write_research(
    conn: &mut DbConn,
    id: TechnologyId,
    research: Option<&Research>,
) -> Result<(), StoreError> {
    diesel::delete(research_results::table.find(id)).execute(conn)?;
    let Some(r) = research else { return Ok(()) };
    diesel::insert_into(research_results::table)
        .values(ResearchColumns::new(id, r))
        .execute(conn)?;
    Ok(())
}

/// Creates a draft owned by `organization`. Run in a write transaction.
pub fn create(
    conn: &mut DbConn,
    organization: OrganizationId,
    creator: UserId,
    content: &Content,
) -> Result<Listing, StoreError> {
    let at = now();
    let id = TechnologyId::new();
    diesel::insert_into(technologies::table)
        .values((
            technologies::id.eq(id),
            technologies::organization_id.eq(organization),
            technologies::created_by.eq(creator),
            technologies::status.eq(Status::Draft.as_str()),
            &ContentColumns::new(content)?,
            technologies::created_at.eq(at),
            technologies::updated_at.eq(at),
            technologies::version.eq(1),
        ))
        .execute(conn)?;
    write_research(conn, id, content.research.as_ref())?;
    get(conn, id)
}

/// Replaces the content of `listing` (as read in this transaction), moving it to `to`.
pub fn update_content(
    conn: &mut DbConn,
    listing: &Listing,
    content: &Content,
    to: Status,
) -> Result<Listing, StoreError> {
    let at = now();
    let resubmitted = to == Status::PendingReview && listing.status != Status::PendingReview;
    let rows = guarded!(technologies, listing, status)
        .set((
            &ContentColumns::new(content)?,
            technologies::status.eq(to.as_str()),
            technologies::submitted_at.eq(if resubmitted {
                Some(at)
            } else {
                listing.submitted_at
            }),
            technologies::updated_at.eq(at),
            technologies::version.eq(technologies::version + 1),
        ))
        .execute(conn)?;
    changed(rows)?;
    if content.research != listing.content.research {
        write_research(conn, listing.id, content.research.as_ref())?;
    }
    get(conn, listing.id)
}

/// A listing as a bulk load writes it (`techx seed --synthetic`).
pub type BulkListing = Bulk<Content, TechnologyId>;

/// Inserts `rows` with multi-row INSERTs, their research data alike; the search index
/// follows by the same triggers (SQLite) and generated column (PostgreSQL) as one insert.
/// Run in a write transaction.
pub fn insert_bulk(conn: &mut DbConn, rows: &[BulkListing]) -> Result<(), StoreError> {
    moderation::insert_bulk(conn, rows, ContentColumns::new, |conn, built, chunk| {
        dialect::insert_rows(conn, technologies::table, built)?;
        insert_research(conn, chunk)
    })
}

/// The research data of a chunk of bulk-loaded listings, in one multi-row INSERT.
fn insert_research(conn: &mut DbConn, chunk: &[BulkListing]) -> Result<(), StoreError> {
    let research: Vec<_> = chunk
        .iter()
        .filter_map(|row| row.content.research.as_ref().map(|r| ResearchColumns::new(row.id, r)))
        .collect();
    if !research.is_empty() {
        dialect::insert_rows(conn, research_results::table, &research)?;
    }
    Ok(())
}
