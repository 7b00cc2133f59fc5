//! Technology listings: the row and how it is read (`mod.rs`), what listings add to the
//! shared moderation steps (`store::moderation`: their mails and review history), the
//! owner's writes and bulk loads ([`write`]), and the SQL search of portfolios and
//! moderation queues ([`search`]).

mod search;
mod write;

pub(crate) use search::push_sector_filter;
pub use search::{Filter, Sort, search};
pub use write::{BulkListing, create, insert_bulk, update_content};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::json;

use crate::db::schema::{organizations, research_results, technologies, technology_reviews, users};
use crate::db::types::{OrganizationId, TechnologyId, TechnologyReviewId, UserId, rfc3339};
use crate::db::{Db, DbConn};
use crate::domain::lang::Lang;
use crate::domain::listing::{
    ContactVisibility, Content, FundingLevel, IpRecord, Kind, Money, Price, PriceBasis, Research,
    RightsStatus, TransferOffer,
};
use crate::domain::moderation::Status;
use crate::mail::Template;
use crate::store::moderation::{Decision, Lifecycle, Mails, Moderated, lifecycle_of};
use crate::store::organizations::parse_list;
use crate::store::{StoreError, json};

#[derive(Debug, Clone, Queryable)]
struct TechnologyRow {
    id: TechnologyId,
    organization_id: OrganizationId,
    created_by: UserId,
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
    technology_id: TechnologyId,
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
    pub id: TechnologyId,
    pub organization_id: OrganizationId,
    pub organization_name: String,
    pub organization_verified: bool,
    pub created_by: UserId,
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

pub fn load(conn: &mut DbConn, ids: &[TechnologyId]) -> Result<Vec<Listing>, StoreError> {
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

/// The one statement of a listing's page: the listing, its owner, research data and
/// contact person (written once for both paths of [`read`]).
macro_rules! page_query {
    ($id:expr) => {
        technologies::table
            .inner_join(organizations::table)
            .left_join(research_results::table)
            .left_join(users::table.on(users::id.eq(technologies::created_by)))
            .filter(technologies::id.eq($id))
            .select((
                listing_columns!(),
                (organizations::name, organizations::verified),
                research_results::all_columns.nullable(),
                (users::display_name, users::email).nullable(),
            ))
    };
}

type PageRow = (TechnologyRow, (String, bool), Option<ResearchRow>, Option<(String, String)>);

/// A listing with everything its page shows in one statement: the read path of
/// `GET /technologies/{id}`, a hot read on PostgreSQL where it can be ([`crate::read_first`]).
pub async fn read(db: &Db, id: TechnologyId) -> Result<(Listing, Option<Contact>), StoreError> {
    let row = crate::read_first!(db, PageRow, page_query!(id))?;
    let (row, owner, research, contact) =
        row.ok_or_else(|| StoreError::not_found("No such technology."))?;
    let listing = assemble((row, owner, research))?;
    Ok((listing, contact.map(|(name, email)| Contact { name, email })))
}

pub fn find(conn: &mut DbConn, id: TechnologyId) -> Result<Option<Listing>, StoreError> {
    Ok(load(conn, &[id])?.pop())
}

pub fn get(conn: &mut DbConn, id: TechnologyId) -> Result<Listing, StoreError> {
    find(conn, id)?.ok_or_else(|| StoreError::not_found("No such technology."))
}

/// Records a decision on `listing` as read before it, with the submission it decides, so
/// each decision's turnaround stays measurable after later resubmissions.
fn record_review(
    conn: &mut DbConn,
    listing: &Listing,
    decision: &str,
    reason: Option<&str>,
    by: UserId,
    at: NaiveDateTime,
) -> Result<(), StoreError> {
    diesel::insert_into(technology_reviews::table)
        .values((
            technology_reviews::id.eq(TechnologyReviewId::new()),
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
    type Id = TechnologyId;

    fn get(conn: &mut DbConn, id: TechnologyId) -> Result<Self, StoreError> {
        get(conn, id)
    }

    fn lifecycle(&self) -> Lifecycle<TechnologyId> {
        lifecycle_of!(self)
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
