//! How a listing is shown: the full record (with its contact when the caller may see it),
//! the summary of a result row, and the ETag of what was shown.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::cache;
use crate::auth::Actor;
use crate::auth::policy;
use crate::db::DbConn;
use crate::db::types::utc;
use crate::domain::lang::Lang;
use crate::domain::listing::{ContactVisibility, IpRecord, Kind, Price, Research, TransferOffer};
use crate::domain::moderation::Status;
use crate::domain::search::{self, Highlight};
use crate::error::ApiError;
use crate::store::technologies::Listing;
use crate::store::users;

/// The organisation offering a listing.
#[derive(Debug, Serialize, ToSchema)]
pub struct OwnerDto {
    pub id: uuid::Uuid,
    #[schema(example = "Viện Công nghệ sinh học")]
    pub name: String,
    /// Checked by exchange staff.
    pub verified: bool,
}

/// Who to contact about a listing; shown as the owner's `contact_visibility` allows.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactDto {
    #[schema(example = "Nguyễn Thị Lan")]
    pub name: String,
    #[schema(example = "lan.nguyen@vast.vn")]
    pub email: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TechnologyDto {
    pub id: uuid::Uuid,
    pub organization: OwnerDto,
    pub kind: Kind,
    pub status: Status,
    /// Language the text is written in.
    pub language: Lang,
    #[schema(example = "Quy trình nhân giống lan bằng nuôi cấy mô")]
    pub title: String,
    /// Public summary, at most 500 characters.
    pub summary: String,
    pub description: String,
    pub advantages: Option<String>,
    pub applications: Option<String>,
    /// FORD sector codes.
    #[schema(example = json!(["4.4"]))]
    pub sectors: Vec<String>,
    pub keywords: Vec<String>,
    /// Technology readiness level, 1–9.
    #[schema(minimum = 1, maximum = 9)]
    pub trl: Option<u8>,
    pub ip_records: Vec<IpRecord>,
    pub transfer_forms: Vec<TransferOffer>,
    pub price: Option<Price>,
    #[schema(example = "thanh-hoa")]
    pub province: String,
    pub contact_visibility: ContactVisibility,
    /// Absent when `contact_visibility` hides it from the caller.
    pub contact: Option<ContactDto>,
    /// Present for `research_result` listings.
    pub research: Option<Research>,
    /// Why a moderator rejected it (status `rejected`, until resubmitted).
    pub rejection_reason: Option<String>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub published_at: Option<DateTime<Utc>>,
    /// When a published listing leaves the exchange unless renewed.
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Send as `If-Match` (the `ETag`) when changing the listing.
    pub version: i32,
}

/// A listing in a result list.
#[derive(Debug, Serialize, ToSchema)]
pub struct TechnologySummaryDto {
    pub id: uuid::Uuid,
    pub organization: OwnerDto,
    pub kind: Kind,
    pub status: Status,
    pub title: String,
    pub summary: String,
    pub sectors: Vec<String>,
    #[schema(minimum = 1, maximum = 9)]
    pub trl: Option<u8>,
    pub price: Option<Price>,
    pub province: String,
    /// The offers, as in the listing itself (one shape in lists and in the detail).
    pub transfer_forms: Vec<TransferOffer>,
    pub published_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    /// With `q`: an excerpt around the first match, HTML-escaped, matching words wrapped in
    /// `<mark>…</mark>`, `…` where the text was cut.
    #[schema(example = "…chế phẩm dùng để <mark>điều</mark> <mark>trị</mark> bệnh đạo ôn…")]
    pub snippet: Option<String>,
}

fn owner(l: &Listing) -> OwnerDto {
    OwnerDto {
        id: l.organization_id.into(),
        name: l.organization_name.clone(),
        verified: l.organization_verified,
    }
}

pub(super) fn dto(l: Listing, contact: Option<ContactDto>) -> TechnologyDto {
    let c = l.content;
    TechnologyDto {
        id: l.id.into(),
        organization: OwnerDto {
            id: l.organization_id.into(),
            name: l.organization_name,
            verified: l.organization_verified,
        },
        kind: c.kind,
        status: l.status,
        language: c.language,
        title: c.title,
        summary: c.summary,
        description: c.description,
        advantages: c.advantages,
        applications: c.applications,
        sectors: c.sectors,
        keywords: c.keywords,
        trl: c.trl,
        ip_records: c.ip_records,
        transfer_forms: c.transfer_forms,
        price: c.price,
        province: c.province,
        contact_visibility: c.contact_visibility,
        contact,
        research: c.research,
        rejection_reason: l.rejection_reason,
        submitted_at: l.submitted_at.map(utc),
        published_at: l.published_at.map(utc),
        expires_at: l.expires_at.map(utc),
        created_at: utc(l.created_at),
        updated_at: utc(l.updated_at),
        version: l.version,
    }
}

/// The listing as `actor` may see it (the contact person only where allowed).
pub(super) fn present(
    conn: &mut DbConn,
    actor: Option<&Actor>,
    listing: Listing,
) -> Result<TechnologyDto, ApiError> {
    let contact = if contact_visible(actor, &listing) {
        users::find(conn, listing.created_by)?
            .map(|u| ContactDto { name: u.display_name, email: u.email })
    } else {
        None
    };
    Ok(dto(listing, contact))
}

pub(super) fn contact_visible(actor: Option<&Actor>, listing: &Listing) -> bool {
    policy::listing_contact_visible(
        actor,
        listing.organization_id,
        listing.content.contact_visibility,
    )
}

/// The ETag of a listing or demand as shown: its version, and a digest of the owner and
/// contact person it shows (they change without the version changing).
pub(crate) fn shown_etag(
    version: i32,
    owner: Option<(&str, bool)>,
    contact: Option<&ContactDto>,
) -> String {
    cache::joined_etag(version, (owner, contact.map(|c| (&c.name, &c.email))))
}

/// The ETag of a listing as shown.
pub(crate) fn technology_etag(body: &TechnologyDto) -> String {
    shown_etag(
        body.version,
        Some((&body.organization.name, body.organization.verified)),
        body.contact.as_ref(),
    )
}

/// Where the query matched: the field covering most of it (the summary first on a tie).
fn snippet_for(l: &Listing, query: &Highlight) -> Option<String> {
    let c = &l.content;
    let keywords = c.keywords.join(", ");
    let research = c.research.iter().flat_map(|r| {
        [
            r.programme.as_deref(),
            Some(r.task_code.as_str()),
            Some(r.host_organization.as_str()),
            Some(r.managing_agency.as_str()),
        ]
    });
    let texts = [
        Some(c.summary.as_str()),
        Some(c.title.as_str()),
        Some(c.description.as_str()),
        c.advantages.as_deref(),
        c.applications.as_deref(),
        Some(keywords.as_str()),
    ];
    search::best_snippet(texts.into_iter().chain(research).flatten(), query, search::SNIPPET_CHARS)
}

pub(crate) fn summary(l: &Listing, query: Option<&Highlight>) -> TechnologySummaryDto {
    let c = &l.content;
    TechnologySummaryDto {
        id: l.id.into(),
        organization: owner(l),
        kind: c.kind,
        status: l.status,
        title: c.title.clone(),
        summary: c.summary.clone(),
        sectors: c.sectors.clone(),
        trl: c.trl,
        price: c.price.clone(),
        province: c.province.clone(),
        transfer_forms: c.transfer_forms.clone(),
        published_at: l.published_at.map(utc),
        expires_at: l.expires_at.map(utc),
        updated_at: utc(l.updated_at),
        snippet: query.and_then(|q| snippet_for(l, q)),
    }
}
