//! Proposals: an organisation's answer to a published demand, decided once (accepted or
//! declined by the demand's side) or withdrawn by the proposer; each change mails the sides
//! concerned in the same transaction.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::json;

use crate::db::DbConn;
use crate::db::schema::{organizations, proposals};
use crate::db::types::{DemandId, OrganizationId, ProposalId, TechnologyId, UserId, now};
use crate::domain::demand::ProposalStatus;
use crate::mail::Template;
use crate::store::demands::Demand;
use crate::store::labels::{Labels, Wanted};
use crate::store::organizations::mail_owners;
use crate::store::{StoreError, changed};

#[derive(Debug, Clone, Queryable)]
pub struct Proposal {
    pub id: ProposalId,
    pub demand_id: DemandId,
    pub organization_id: OrganizationId,
    pub technology_id: Option<TechnologyId>,
    pub created_by: UserId,
    pub status: String,
    pub price: Option<i64>,
    pub currency: Option<String>,
    pub timeline_months: Option<i32>,
    pub decided_by: Option<UserId>,
    pub decided_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i32,
    pub approach: String,
    pub message: Option<String>,
}

/// A new proposal's fields, validated.
pub struct NewProposal {
    pub organization_id: OrganizationId,
    pub technology_id: Option<TechnologyId>,
    pub approach: String,
    pub price: Option<(i64, String)>,
    pub timeline_months: Option<u32>,
    pub message: Option<String>,
}

fn proposal_context(
    demand: &Demand,
    proposal: &Proposal,
    organization_name: &str,
) -> serde_json::Value {
    json!({
        "demand_title": demand.content.title,
        "organization_name": organization_name,
        "status": proposal.status,
        "proposal_path": format!("/demands/{}/proposals/{}", demand.id, proposal.id),
    })
}

fn organization_name(conn: &mut DbConn, id: OrganizationId) -> Result<String, StoreError> {
    Ok(organizations::table.find(id).select(organizations::name).first(conn)?)
}

/// Records a proposal and mails the demand's owners. Run in a write transaction.
pub fn create(
    conn: &mut DbConn,
    demand: &Demand,
    creator: UserId,
    new: &NewProposal,
) -> Result<Proposal, StoreError> {
    let at = now();
    let id = ProposalId::new();
    diesel::insert_into(proposals::table)
        .values((
            proposals::id.eq(id),
            proposals::demand_id.eq(demand.id),
            proposals::organization_id.eq(new.organization_id),
            proposals::technology_id.eq(new.technology_id),
            proposals::created_by.eq(creator),
            proposals::status.eq(ProposalStatus::Pending.as_str()),
            proposals::price.eq(new.price.as_ref().map(|p| p.0)),
            proposals::currency.eq(new.price.as_ref().map(|p| p.1.as_str())),
            proposals::timeline_months.eq(new.timeline_months.map(|m| m as i32)),
            proposals::created_at.eq(at),
            proposals::updated_at.eq(at),
            proposals::version.eq(1),
            proposals::approach.eq(&new.approach),
            proposals::message.eq(new.message.as_deref()),
        ))
        .execute(conn)?;
    let proposal = get(conn, demand.id, id)?;
    let name = organization_name(conn, new.organization_id)?;
    mail_owners(
        conn,
        demand.organization_id,
        Template::ProposalReceived,
        &proposal_context(demand, &proposal, &name),
    )?;
    Ok(proposal)
}

pub fn get(conn: &mut DbConn, demand: DemandId, id: ProposalId) -> Result<Proposal, StoreError> {
    proposals::table
        .filter(proposals::demand_id.eq(demand))
        .filter(proposals::id.eq(id))
        .first(conn)
        .optional()?
        .ok_or_else(|| StoreError::not_found("No such proposal."))
}

/// A proposal by its own id (a deal opened from it names no demand).
pub fn find(conn: &mut DbConn, id: ProposalId) -> Result<Option<Proposal>, StoreError> {
    Ok(proposals::table.find(id).first(conn).optional()?)
}

/// A demand's proposals, oldest first; only those of `only` organisations when given.
pub fn list(
    conn: &mut DbConn,
    demand: DemandId,
    only: Option<&[OrganizationId]>,
    offset: i64,
    limit: i64,
) -> Result<(Vec<Proposal>, i64), StoreError> {
    let base = || {
        let mut q = proposals::table.filter(proposals::demand_id.eq(demand)).into_boxed();
        if let Some(orgs) = only {
            q = q.filter(proposals::organization_id.eq_any(orgs.to_vec()));
        }
        q
    };
    let total: i64 = base().count().get_result(conn)?;
    let items = base()
        .order((proposals::created_at.asc(), proposals::id.asc()))
        .offset(offset)
        .limit(limit)
        .load(conn)?;
    Ok((items, total))
}

/// Moves a pending proposal to `to` (guarded on its status) and mails: an acceptance or a
/// refusal (recording who decided) to both sides' owners, a withdrawal to the demand's
/// owners. Run in a write transaction.
pub fn settle(
    conn: &mut DbConn,
    demand: &Demand,
    proposal: &Proposal,
    to: ProposalStatus,
    by: UserId,
) -> Result<Proposal, StoreError> {
    let at = now();
    let decided = to != ProposalStatus::Withdrawn;
    let rows = diesel::update(
        proposals::table
            .find(proposal.id)
            .filter(proposals::status.eq(ProposalStatus::Pending.as_str())),
    )
    .set((
        proposals::status.eq(to.as_str()),
        proposals::decided_by.eq(if decided { Some(by) } else { proposal.decided_by }),
        proposals::decided_at.eq(if decided { Some(at) } else { proposal.decided_at }),
        proposals::updated_at.eq(at),
        proposals::version.eq(proposals::version + 1),
    ))
    .execute(conn)?;
    changed(rows)?;
    let updated = get(conn, demand.id, proposal.id)?;
    let name = organization_name(conn, updated.organization_id)?;
    let context = proposal_context(demand, &updated, &name);
    let (template, offering_side) = match to {
        ProposalStatus::Accepted => (Template::ProposalAccepted, true),
        ProposalStatus::Withdrawn => (Template::ProposalWithdrawn, false),
        _ => (Template::ProposalDeclined, true),
    };
    if offering_side {
        mail_owners(conn, updated.organization_id, template, &context)?;
    }
    mail_owners(conn, demand.organization_id, template, &context)?;
    Ok(updated)
}

/// The labels of a page of `demand`'s proposals: the demand's title (from `demand`), the
/// demand's organisation, each proposer and each proposed technology, in two statements
/// whatever the number of proposals. Whether the demand's organisation may be shown is the
/// caller's to judge (`hide_organization`).
pub fn labels(
    conn: &mut DbConn,
    demand: &Demand,
    proposals: &[Proposal],
) -> Result<Labels, StoreError> {
    let mut wanted = Wanted::default();
    wanted.organizations.insert(demand.organization_id);
    for p in proposals {
        wanted.organizations.insert(p.organization_id);
        wanted.technologies.extend(p.technology_id);
    }
    let mut labels = wanted.load(conn)?;
    labels.demand_titles.insert(demand.id, demand.content.title.clone());
    Ok(labels)
}
