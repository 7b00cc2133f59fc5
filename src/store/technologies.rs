//! Technology listings: rows, content edits, search, bulk loads, and what listings add to
//! the shared moderation steps (`store::moderation`): their mails and review history.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::json;

use crate::db::raw::RawSql;
use crate::db::schema::{organizations, research_results, technologies, technology_reviews, users};
use crate::db::types::{Id, SqlUuid, now, rfc3339};
use crate::db::{DbConn, dialect};
use crate::domain::lang::Lang;
use crate::domain::listing::{
    ContactVisibility, Content, FundingLevel, IpRecord, Kind, Money, Price, PriceBasis, Research,
    RightsStatus, Status, TransferOffer,
};
use crate::mail::Template;
use crate::store::moderation::{Decision, Lifecycle, Mails, Moderated};
use crate::store::organizations::parse_list;
use crate::store::users::escape_like;
use crate::store::{StoreError, changed, json};

#[derive(Debug, Clone, Queryable)]
struct TechnologyRow {
    id: Id,
    organization_id: Id,
    created_by: Id,
    kind: String,
    status: String,
    language: String,
    title: String,
    summary: String,
    description: String,
    advantages: Option<String>,
    applications: Option<String>,
    sectors: String,
    keywords: String,
    trl: Option<i32>,
    ip_records: String,
    transfer_forms: String,
    price_min: Option<i64>,
    price_max: Option<i64>,
    currency: Option<String>,
    price_basis: Option<String>,
    province: String,
    contact_visibility: String,
    rejection_reason: Option<String>,
    submitted_at: Option<NaiveDateTime>,
    published_at: Option<NaiveDateTime>,
    expires_at: Option<NaiveDateTime>,
    expiry_warned_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    version: i32,
}

#[derive(Debug, Clone, Queryable)]
struct ResearchRow {
    #[allow(dead_code)]
    technology_id: Id,
    funding_level: String,
    programme: Option<String>,
    task_code: String,
    host_organization: String,
    managing_agency: String,
    budget_spent: Option<i64>,
    budget_currency: Option<String>,
    completion_year: Option<i32>,
    rights_status: String,
    assignee: Option<String>,
}

/// A listing with its owner's name and verified flag.
#[derive(Debug, Clone)]
pub struct Listing {
    pub id: Id,
    pub organization_id: Id,
    pub organization_name: String,
    pub organization_verified: bool,
    pub created_by: Id,
    pub status: Status,
    pub content: Content,
    pub rejection_reason: Option<String>,
    pub submitted_at: Option<NaiveDateTime>,
    pub published_at: Option<NaiveDateTime>,
    pub expires_at: Option<NaiveDateTime>,
    pub expiry_warned_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i32,
}

/// The columns a [`TechnologyRow`] reads: all but the search columns, which can be as long
/// as the text itself and no reader shows.
macro_rules! listing_columns {
    () => {
        (
            technologies::id,
            technologies::organization_id,
            technologies::created_by,
            technologies::kind,
            technologies::status,
            technologies::language,
            technologies::title,
            technologies::summary,
            technologies::description,
            technologies::advantages,
            technologies::applications,
            technologies::sectors,
            technologies::keywords,
            technologies::trl,
            technologies::ip_records,
            technologies::transfer_forms,
            technologies::price_min,
            technologies::price_max,
            technologies::currency,
            technologies::price_basis,
            technologies::province,
            technologies::contact_visibility,
            technologies::rejection_reason,
            technologies::submitted_at,
            technologies::published_at,
            technologies::expires_at,
            technologies::expiry_warned_at,
            technologies::created_at,
            technologies::updated_at,
            technologies::version,
        )
    };
}

type Joined = (TechnologyRow, (String, bool), Option<ResearchRow>);

/// The person who created a listing, its contact where `contact_visibility` allows.
#[derive(Debug, Clone)]
pub struct Contact {
    pub name: String,
    pub email: String,
}

fn assemble(
    (row, (organization_name, organization_verified), research): Joined,
) -> Result<Listing, StoreError> {
    let id = row.id;
    // CHECK constraints make these unreachable; a row that fails anyway is logged, not shown.
    let corrupt = |column: &'static str| {
        tracing::error!(%id, column, "unreadable technology row");
        StoreError::corrupt("technologies", column, format!("listing {id}: unreadable value"))
    };
    let ip_records: Vec<IpRecord> = json::decode(&row.ip_records, "technologies", "ip_records")?;
    let transfer_forms: Vec<TransferOffer> =
        json::decode(&row.transfer_forms, "technologies", "transfer_forms")?;
    let price = match (row.currency, row.price_basis) {
        (Some(currency), Some(basis)) => Some(Price {
            min: row.price_min,
            max: row.price_max,
            currency,
            basis: PriceBasis::parse(&basis).ok_or_else(|| corrupt("price_basis"))?,
        }),
        _ => None,
    };
    let research = match research {
        None => None,
        Some(r) => Some(Research {
            funding_level: FundingLevel::parse(&r.funding_level)
                .ok_or_else(|| corrupt("funding_level"))?,
            programme: r.programme,
            task_code: r.task_code,
            host_organization: r.host_organization,
            managing_agency: r.managing_agency,
            budget_spent: match (r.budget_spent, r.budget_currency) {
                (Some(amount), Some(currency)) => Some(Money { amount, currency }),
                _ => None,
            },
            completion_year: r.completion_year,
            rights_status: RightsStatus::parse(&r.rights_status)
                .ok_or_else(|| corrupt("rights_status"))?,
            assignee: r.assignee,
        }),
    };
    let content = Content {
        kind: Kind::parse(&row.kind).ok_or_else(|| corrupt("kind"))?,
        language: Lang::parse(&row.language).ok_or_else(|| corrupt("language"))?,
        title: row.title,
        summary: row.summary,
        description: row.description,
        advantages: row.advantages,
        applications: row.applications,
        sectors: parse_list(&row.sectors),
        keywords: parse_list(&row.keywords),
        trl: row.trl.and_then(|t| u8::try_from(t).ok()),
        ip_records,
        transfer_forms,
        price,
        province: row.province,
        contact_visibility: ContactVisibility::parse(&row.contact_visibility)
            .ok_or_else(|| corrupt("contact_visibility"))?,
        research,
    };
    Ok(Listing {
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
        expiry_warned_at: row.expiry_warned_at,
        created_at: row.created_at,
        updated_at: row.updated_at,
        version: row.version,
    })
}

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

/// Replaces the research data of a listing with `research`.
fn write_research(
    conn: &mut DbConn,
    id: Id,
    research: Option<&Research>,
) -> Result<(), StoreError> {
    diesel::delete(research_results::table.find(id)).execute(conn)?;
    let Some(r) = research else { return Ok(()) };
    diesel::insert_into(research_results::table)
        .values((
            research_results::technology_id.eq(id),
            research_results::funding_level.eq(r.funding_level.as_str()),
            research_results::programme.eq(r.programme.as_deref()),
            research_results::task_code.eq(&r.task_code),
            research_results::host_organization.eq(&r.host_organization),
            research_results::managing_agency.eq(&r.managing_agency),
            research_results::budget_spent.eq(r.budget_spent.as_ref().map(|m| m.amount)),
            research_results::budget_currency
                .eq(r.budget_spent.as_ref().map(|m| m.currency.as_str())),
            research_results::completion_year.eq(r.completion_year),
            research_results::rights_status.eq(r.rights_status.as_str()),
            research_results::assignee.eq(r.assignee.as_deref()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Creates a draft owned by `organization`. Run in a write transaction.
pub fn create(
    conn: &mut DbConn,
    organization: Id,
    creator: Id,
    content: &Content,
) -> Result<Listing, StoreError> {
    let at = now();
    let id = Id::new();
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

pub fn load(conn: &mut DbConn, ids: &[Id]) -> Result<Vec<Listing>, StoreError> {
    let rows: Vec<Joined> = technologies::table
        .inner_join(organizations::table)
        .left_join(research_results::table)
        .filter(technologies::id.eq_any(ids))
        .select((
            listing_columns!(),
            (organizations::name, organizations::verified),
            research_results::all_columns.nullable(),
        ))
        .load(conn)?;
    rows.into_iter().map(assemble).collect()
}

/// A listing with everything its page shows (owner, research data, contact person) in one
/// statement: the read path of `GET /technologies/{id}`.
pub fn read(conn: &mut DbConn, id: Id) -> Result<(Listing, Option<Contact>), StoreError> {
    type Row = (TechnologyRow, (String, bool), Option<ResearchRow>, Option<(String, String)>);
    let row: Option<Row> = technologies::table
        .inner_join(organizations::table)
        .left_join(research_results::table)
        .left_join(users::table.on(users::id.eq(technologies::created_by)))
        .filter(technologies::id.eq(id))
        .select((
            listing_columns!(),
            (organizations::name, organizations::verified),
            research_results::all_columns.nullable(),
            (users::display_name, users::email).nullable(),
        ))
        .first(conn)
        .optional()?;
    let (row, owner, research, contact) =
        row.ok_or_else(|| StoreError::not_found("No such technology."))?;
    let listing = assemble((row, owner, research))?;
    Ok((listing, contact.map(|(name, email)| Contact { name, email })))
}

pub fn find(conn: &mut DbConn, id: Id) -> Result<Option<Listing>, StoreError> {
    Ok(load(conn, &[id])?.pop())
}

pub fn get(conn: &mut DbConn, id: Id) -> Result<Listing, StoreError> {
    find(conn, id)?.ok_or_else(|| StoreError::not_found("No such technology."))
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

/// Records a decision on `listing` as read before it, with the submission it decides, so
/// each decision's turnaround stays measurable after later resubmissions.
fn record_review(
    conn: &mut DbConn,
    listing: &Listing,
    decision: &str,
    reason: Option<&str>,
    by: Id,
    at: NaiveDateTime,
) -> Result<(), StoreError> {
    diesel::insert_into(technology_reviews::table)
        .values((
            technology_reviews::id.eq(Id::new()),
            technology_reviews::technology_id.eq(listing.id),
            technology_reviews::submitted_at.eq(listing.submitted_at),
            technology_reviews::decision.eq(decision),
            technology_reviews::reason.eq(reason),
            technology_reviews::decided_by.eq(by),
            technology_reviews::created_at.eq(at),
        ))
        .execute(conn)?;
    Ok(())
}

impl Moderated for Listing {
    const TABLE: &'static str = "technologies";
    const MAILS: Mails = Mails {
        published: Template::ListingPublished,
        rejected: Template::ListingRejected,
        expiring: Template::ListingExpiring,
        expired: Template::ListingExpired,
    };

    fn get(conn: &mut DbConn, id: Id) -> Result<Self, StoreError> {
        get(conn, id)
    }

    fn lifecycle(&self) -> Lifecycle {
        Lifecycle {
            id: self.id,
            organization_id: self.organization_id,
            status: self.status,
            version: self.version,
            submitted_at: self.submitted_at,
            published_at: self.published_at,
            expires_at: self.expires_at,
        }
    }

    /// `listing_path` is relative to the public site.
    fn mail_context(&self) -> serde_json::Value {
        json!({
            "technology_id": self.id.to_string(),
            "title": self.content.title,
            "organization_name": self.organization_name,
            "listing_path": format!("/technologies/{}", self.id),
        })
    }

    /// Each decision joins the review history; a publication is a webhook event too.
    fn decided(
        conn: &mut DbConn,
        before: &Self,
        after: &Self,
        decision: Decision,
    ) -> Result<(), StoreError> {
        match decision {
            Decision::Approved { by, at } => {
                record_review(conn, before, "approved", None, by, at)?;
                crate::webhooks::emit(
                    conn,
                    after.organization_id,
                    crate::webhooks::EventType::ListingPublished,
                    json!({
                        "technology_id": after.id.to_string(),
                        "title": after.content.title,
                        "published_at": rfc3339(after.published_at.unwrap_or(at)),
                        "expires_at": rfc3339(after.expires_at.unwrap_or(at)),
                    }),
                )
            }
            Decision::Rejected { by, at, reason } => {
                record_review(conn, before, "rejected", Some(reason), by, at)
            }
        }
    }
}

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
    pub organization_id: Option<Id>,
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
    id: Id,
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
    let ids: Vec<Id> = page.load::<IdRow>(conn)?.into_iter().map(|row| row.id).collect();
    let mut listings = load(conn, &ids)?;
    listings.sort_by_key(|l| ids.iter().position(|id| *id == l.id));
    Ok((listings, total))
}

/// A listing as a bulk load writes it (`techx seed --synthetic`): its content plus the
/// lifecycle fields the moderation path would have set by then.
#[derive(Debug, Clone)]
pub struct BulkListing {
    pub id: Id,
    pub organization_id: Id,
    pub created_by: Id,
    pub status: Status,
    pub content: Content,
    pub submitted_at: Option<NaiveDateTime>,
    pub published_at: Option<NaiveDateTime>,
    pub expires_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = technologies)]
#[diesel(treat_none_as_null = true)]
struct BulkRow<'a> {
    id: Id,
    organization_id: Id,
    created_by: Id,
    status: &'a str,
    #[diesel(embed)]
    content: ContentColumns<'a>,
    submitted_at: Option<NaiveDateTime>,
    published_at: Option<NaiveDateTime>,
    expires_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    version: i32,
}

/// Rows per multi-row INSERT: about 30 binds a row stays under SQLite's 32 766 limit.
const BULK_ROWS_PER_STATEMENT: usize = 500;

/// Inserts `rows` with multi-row INSERTs, their research data alike; the search index
/// follows by the same triggers (SQLite) and generated column (PostgreSQL) as one insert.
/// Run in a write transaction.
pub fn insert_bulk(conn: &mut DbConn, rows: &[BulkListing]) -> Result<(), StoreError> {
    for chunk in rows.chunks(BULK_ROWS_PER_STATEMENT) {
        let built = chunk
            .iter()
            .map(|r| {
                Ok(BulkRow {
                    id: r.id,
                    organization_id: r.organization_id,
                    created_by: r.created_by,
                    status: r.status.as_str(),
                    content: ContentColumns::new(&r.content)?,
                    submitted_at: r.submitted_at,
                    published_at: r.published_at,
                    expires_at: r.expires_at,
                    created_at: r.created_at,
                    updated_at: r.published_at.unwrap_or(r.created_at),
                    version: 1,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        dialect::insert_rows(conn, technologies::table, &built)?;
        let research: Vec<_> = chunk
            .iter()
            .filter_map(|row| row.content.research.as_ref().map(|r| (row.id, r)))
            .map(|(id, r)| {
                (
                    research_results::technology_id.eq(id),
                    research_results::funding_level.eq(r.funding_level.as_str()),
                    research_results::programme.eq(r.programme.as_deref()),
                    research_results::task_code.eq(r.task_code.as_str()),
                    research_results::host_organization.eq(r.host_organization.as_str()),
                    research_results::managing_agency.eq(r.managing_agency.as_str()),
                    research_results::budget_spent.eq(r.budget_spent.as_ref().map(|m| m.amount)),
                    research_results::budget_currency
                        .eq(r.budget_spent.as_ref().map(|m| m.currency.as_str())),
                    research_results::completion_year.eq(r.completion_year),
                    research_results::rights_status.eq(r.rights_status.as_str()),
                    research_results::assignee.eq(r.assignee.as_deref()),
                )
            })
            .collect();
        if !research.is_empty() {
            dialect::insert_rows(conn, research_results::table, &research)?;
        }
    }
    Ok(())
}
