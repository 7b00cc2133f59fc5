//! Enquiries about published listings and their message threads. The owner side's first
//! reply stamps `answered_at`, which the response-rate statistic reads.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::json;

use crate::db::DbConn;
use crate::db::schema::{inquiries, inquiry_messages, organizations};
use crate::db::types::{InquiryId, InquiryMessageId, OrganizationId, TechnologyId, UserId, now};
use crate::domain::lang::Lang;
use crate::mail::{self, Mail, Template};
use crate::store::StoreError;
use crate::store::labels::{Labels, Wanted};
use crate::store::organizations::owner_contacts;
use crate::store::technologies::Listing;
use crate::webhooks::{self, EventType};

#[derive(Debug, Clone, Queryable)]
pub struct Inquiry {
    pub id: InquiryId,
    pub technology_id: TechnologyId,
    pub from_organization_id: OrganizationId,
    pub to_organization_id: OrganizationId,
    pub created_by: UserId,
    pub message: String,
    pub intended_use: String,
    pub transfer_form: String,
    pub budget: Option<i64>,
    pub budget_currency: Option<String>,
    pub status: String,
    pub answered_at: Option<NaiveDateTime>,
    pub closed_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i32,
}

#[derive(Debug, Clone, Queryable)]
pub struct Message {
    pub id: InquiryId,
    pub inquiry_id: InquiryId,
    pub organization_id: OrganizationId,
    pub author_id: UserId,
    pub body: String,
    pub created_at: NaiveDateTime,
}

pub struct NewInquiry<'a> {
    pub from_organization_id: OrganizationId,
    pub message: &'a str,
    pub intended_use: &'a str,
    pub transfer_form: &'a str,
    pub budget: Option<(i64, &'a str)>,
}

fn organization_name(conn: &mut DbConn, id: OrganizationId) -> Result<String, StoreError> {
    Ok(organizations::table.find(id).select(organizations::name).first(conn)?)
}

/// Records an enquiry about `listing`, mails the owner organisation's owners and emits
/// `inquiry.received` to it. Run in a write transaction.
pub fn create(
    conn: &mut DbConn,
    listing: &Listing,
    author: UserId,
    new: &NewInquiry<'_>,
) -> Result<Inquiry, StoreError> {
    let at = now();
    let id = InquiryId::new();
    diesel::insert_into(inquiries::table)
        .values((
            inquiries::id.eq(id),
            inquiries::technology_id.eq(listing.id),
            inquiries::from_organization_id.eq(new.from_organization_id),
            inquiries::to_organization_id.eq(listing.organization_id),
            inquiries::created_by.eq(author),
            inquiries::message.eq(new.message),
            inquiries::intended_use.eq(new.intended_use),
            inquiries::transfer_form.eq(new.transfer_form),
            inquiries::budget.eq(new.budget.map(|b| b.0)),
            inquiries::budget_currency.eq(new.budget.map(|b| b.1)),
            inquiries::status.eq("open"),
            inquiries::created_at.eq(at),
            inquiries::updated_at.eq(at),
            inquiries::version.eq(1),
        ))
        .execute(conn)?;
    let from_name = organization_name(conn, new.from_organization_id)?;
    let context = json!({
        "title": listing.content.title,
        "organization_name": listing.organization_name,
        "from_organization_name": from_name,
        "message": new.message,
        "intended_use": new.intended_use,
        "inquiry_path": format!("/inquiries/{id}"),
    });
    for owner in owner_contacts(conn, listing.organization_id)? {
        mail::enqueue(
            conn,
            &Mail {
                to: owner.email,
                template: Template::InquiryReceived,
                lang: Lang::parse(&owner.language).unwrap_or_default(),
                context: context.clone(),
            },
        )?;
    }
    webhooks::emit(
        conn,
        listing.organization_id,
        EventType::InquiryReceived,
        json!({
            "inquiry_id": id.to_string(),
            "technology_id": listing.id.to_string(),
            "from_organization_id": new.from_organization_id.to_string(),
            "transfer_form": new.transfer_form,
        }),
    )?;
    get(conn, id)
}

pub fn find(conn: &mut DbConn, id: InquiryId) -> Result<Option<Inquiry>, StoreError> {
    Ok(inquiries::table.find(id).first(conn).optional()?)
}

pub fn get(conn: &mut DbConn, id: InquiryId) -> Result<Inquiry, StoreError> {
    find(conn, id)?.ok_or_else(|| StoreError::not_found("No such enquiry."))
}

pub fn messages(conn: &mut DbConn, id: InquiryId) -> Result<Vec<Message>, StoreError> {
    Ok(inquiry_messages::table
        .filter(inquiry_messages::inquiry_id.eq(id))
        .order((inquiry_messages::created_at.asc(), inquiry_messages::id.asc()))
        .load(conn)?)
}

/// The labels of a page of enquiries (the technologies' titles, both sides' names and
/// kinds): two statements, whatever the number of enquiries.
pub fn labels(conn: &mut DbConn, inquiries: &[Inquiry]) -> Result<Labels, StoreError> {
    let mut wanted = Wanted::default();
    for i in inquiries {
        wanted.technologies.insert(i.technology_id);
        wanted.organizations.extend([i.from_organization_id, i.to_organization_id]);
    }
    wanted.load(conn)
}

/// Which enquiries a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Sent,
    Received,
    Both,
}

/// Enquiries sent by or received by `orgs`, newest first.
pub fn list(
    conn: &mut DbConn,
    orgs: &[OrganizationId],
    role: Role,
    offset: i64,
    limit: i64,
) -> Result<(Vec<Inquiry>, i64), StoreError> {
    let query = || {
        let mut q = inquiries::table.into_boxed();
        q = match role {
            Role::Sent => q.filter(inquiries::from_organization_id.eq_any(orgs.to_vec())),
            Role::Received => q.filter(inquiries::to_organization_id.eq_any(orgs.to_vec())),
            Role::Both => q.filter(
                inquiries::from_organization_id
                    .eq_any(orgs.to_vec())
                    .or(inquiries::to_organization_id.eq_any(orgs.to_vec())),
            ),
        };
        q
    };
    let total = query().count().get_result(conn)?;
    let items = query()
        .order((inquiries::created_at.desc(), inquiries::id.desc()))
        .offset(offset)
        .limit(limit)
        .load(conn)?;
    Ok((items, total))
}

/// Adds a message for `organization` (a side of the enquiry); the owner side's first one
/// marks it answered. Refused on a closed enquiry. Run in a write transaction.
pub fn add_message(
    conn: &mut DbConn,
    inquiry: &Inquiry,
    organization: OrganizationId,
    author: UserId,
    body: &str,
) -> Result<Message, StoreError> {
    if inquiry.status == "closed" {
        return Err(StoreError::conflict("inquiry_closed", "This enquiry is closed."));
    }
    let at = now();
    let id = InquiryMessageId::new();
    diesel::insert_into(inquiry_messages::table)
        .values((
            inquiry_messages::id.eq(id),
            inquiry_messages::inquiry_id.eq(inquiry.id),
            inquiry_messages::organization_id.eq(organization),
            inquiry_messages::author_id.eq(author),
            inquiry_messages::body.eq(body),
            inquiry_messages::created_at.eq(at),
        ))
        .execute(conn)?;
    if organization == inquiry.to_organization_id && inquiry.answered_at.is_none() {
        // Guarded by `answered_at IS NULL`: of two first replies racing, one stamps it.
        diesel::update(inquiries::table.find(inquiry.id).filter(inquiries::answered_at.is_null()))
            .set((
                inquiries::answered_at.eq(at),
                inquiries::status.eq("answered"),
                inquiries::updated_at.eq(at),
                inquiries::version.eq(inquiries::version + 1),
            ))
            .execute(conn)?;
    }
    Ok(inquiry_messages::table.find(id).first(conn)?)
}

/// Closes an enquiry the caller read at `inquiry.version`. Run in a write transaction.
pub fn close(conn: &mut DbConn, inquiry: &Inquiry) -> Result<Inquiry, StoreError> {
    if inquiry.status == "closed" {
        return Err(StoreError::conflict("inquiry_closed", "This enquiry is already closed."));
    }
    let at = now();
    let rows = diesel::update(
        inquiries::table.find(inquiry.id).filter(inquiries::version.eq(inquiry.version)),
    )
    .set((
        inquiries::status.eq("closed"),
        inquiries::closed_at.eq(at),
        inquiries::updated_at.eq(at),
        inquiries::version.eq(inquiries::version + 1),
    ))
    .execute(conn)?;
    if rows != 1 {
        return Err(StoreError::Stale);
    }
    get(conn, inquiry.id)
}
