//! Opening a deal: what it links, decided from its origin and the database (an enquiry, an
//! accepted proposal, a match, or a broker naming both parties), and the deal created in the
//! caller's transaction.

use crate::auth::Actor;
use crate::auth::policy::{self, DealOrigin, InquiryAction, OrgAction};
use crate::db::DbConn;
use crate::db::types::{DemandId, InquiryId, OrganizationId, ProposalId, TechnologyId};
use crate::domain::demand::ProposalStatus;
use crate::domain::moderation::Status;
use crate::error::{ApiError, FieldError};
use crate::store::deals::{self as store, By, Deal, NewDeal, Terms};
use crate::store::{demands, inquiries, organizations, proposals, technologies};

/// Where a deal comes from, as the request named it (parsed and checked for shape by the
/// API; everything that needs the database is checked here).
#[derive(Debug, Clone, Copy)]
pub enum Origin {
    /// The enquirer buys, the listing's owner sells.
    Inquiry(InquiryId),
    /// An accepted proposal naming a technology: the demand's organisation buys from the
    /// proposer.
    Proposal(ProposalId),
    /// A published technology and a published demand: the demand's organisation buys.
    Match { technology: TechnologyId, demand: DemandId },
    /// A broker (an intermediary the caller belongs to) names both parties.
    Brokered {
        broker: OrganizationId,
        technology: TechnologyId,
        buyer: OrganizationId,
        seller: OrganizationId,
    },
}

/// Opens a deal from `origin` on `terms` for `actor`, in the caller's transaction: checks
/// that the actor may (403/404), that the origin can open one (409 `inquiry_closed`,
/// `deal_exists`, `proposal_not_accepted`, …), then creates it; the side the creator belongs
/// to has accepted by creating it.
pub fn open(
    conn: &mut DbConn,
    actor: &Actor,
    origin: Origin,
    terms: &Terms,
) -> Result<Deal, ApiError> {
    let p = plan(conn, actor, origin)?;
    let new = NewDeal {
        technology_id: p.technology_id,
        buyer: p.buyer,
        seller: p.seller,
        broker: p.broker,
        inquiry_id: p.inquiry_id,
        demand_id: p.demand_id,
        proposal_id: p.proposal_id,
        terms,
        accepted_side: p.accepted_side,
    };
    let organization = p.accepted_side.or(p.broker);
    store::create(conn, &new, By { user: actor.user_id, organization }).map_err(ApiError::from)
}

/// What a deal will link.
struct Plan {
    technology_id: TechnologyId,
    buyer: OrganizationId,
    seller: OrganizationId,
    broker: Option<OrganizationId>,
    inquiry_id: Option<InquiryId>,
    demand_id: Option<DemandId>,
    proposal_id: Option<ProposalId>,
    /// The side the creator commits by creating.
    accepted_side: Option<OrganizationId>,
}

fn plan(conn: &mut DbConn, actor: &Actor, origin: Origin) -> Result<Plan, ApiError> {
    match origin {
        Origin::Inquiry(id) => from_inquiry(conn, actor, id),
        Origin::Proposal(id) => from_proposal(conn, actor, id),
        Origin::Match { technology, demand } => from_match(conn, actor, technology, demand),
        Origin::Brokered { broker, technology, buyer, seller } => {
            brokered(conn, actor, broker, technology, buyer, seller)
        }
    }
}

/// An enquiry: the enquirer buys, the listing's owner sells.
fn from_inquiry(conn: &mut DbConn, actor: &Actor, id: InquiryId) -> Result<Plan, ApiError> {
    let inquiry = inquiries::get(conn, id)?;
    let (buyer, seller) = (inquiry.from_organization_id, inquiry.to_organization_id);
    policy::inquiry(actor, buyer, seller, InquiryAction::Reply)?;
    if inquiry.status == "closed" {
        return Err(ApiError::conflict("inquiry_closed", "This enquiry is closed."));
    }
    // The unique index `deals_one_live_per_inquiry` settles a race; this names it.
    if store::live_for_inquiry(conn, inquiry.id)? {
        return Err(ApiError::conflict(
            "deal_exists",
            "This enquiry already has a deal that is not cancelled.",
        ));
    }
    // The creator's side accepts by creating; the seller first for a member of both.
    let side = if actor.org_role(seller).is_some() { seller } else { buyer };
    Ok(Plan {
        technology_id: inquiry.technology_id,
        buyer,
        seller,
        broker: None,
        inquiry_id: Some(inquiry.id),
        demand_id: None,
        proposal_id: None,
        accepted_side: Some(side),
    })
}

/// A broker naming both parties; each must accept.
fn brokered(
    conn: &mut DbConn,
    actor: &Actor,
    broker: OrganizationId,
    technology: TechnologyId,
    buyer: OrganizationId,
    seller: OrganizationId,
) -> Result<Plan, ApiError> {
    policy::organization(actor, broker, OrgAction::ActFor)?;
    if organizations::get(conn, broker)?.kind != "intermediary" {
        return Err(ApiError::forbidden("Only intermediary organisations broker deals."));
    }
    let mut errors = Vec::new();
    if buyer == seller {
        errors.push(FieldError::new("buyer_organization_id", "must differ from the seller"));
    }
    if broker == buyer || broker == seller {
        errors.push(FieldError::new("broker_organization_id", "must not be a party"));
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let listing =
        technologies::find(conn, technology)?
            .filter(|l| l.status == Status::Published)
            .ok_or_else(|| ApiError::invalid("technology_id", "is not a published listing"))?;
    if listing.organization_id != seller {
        return Err(ApiError::invalid("seller_organization_id", "must own the listing"));
    }
    if organizations::find(conn, buyer)?.is_none() {
        return Err(ApiError::invalid("buyer_organization_id", "is not an organisation"));
    }
    Ok(Plan {
        technology_id: technology,
        buyer,
        seller,
        broker: Some(broker),
        inquiry_id: None,
        demand_id: None,
        proposal_id: None,
        accepted_side: None,
    })
}

/// 409 when the pair already has a live deal (from a proposal or a match).
fn no_live_deal(
    conn: &mut DbConn,
    technology: TechnologyId,
    demand: DemandId,
) -> Result<(), ApiError> {
    // The unique index `deals_one_live_per_match` settles a race; this names it.
    if store::live_for_match(conn, technology, demand)? {
        return Err(ApiError::conflict(
            "deal_exists",
            "This technology and demand already have a deal that is not cancelled.",
        ));
    }
    Ok(())
}

/// An accepted proposal naming a technology: the demand's organisation buys it from the
/// proposer. Outsiders do not learn that the proposal exists (404).
fn from_proposal(conn: &mut DbConn, actor: &Actor, id: ProposalId) -> Result<Plan, ApiError> {
    let proposal =
        proposals::find(conn, id)?.ok_or_else(|| ApiError::not_found("No such proposal."))?;
    let demand = demands::get(conn, proposal.demand_id)?;
    let (buyer, seller) = (demand.organization_id, proposal.organization_id);
    let origin =
        DealOrigin { buyer, seller, private: true, buyer_hidden: demand.content.hide_organization };
    let side = policy::deal_side(actor, &origin)?;
    if proposal.status != ProposalStatus::Accepted.as_str() {
        return Err(ApiError::conflict(
            "proposal_not_accepted",
            format!("Only an accepted proposal opens a deal; this one is {}.", proposal.status),
        ));
    }
    let technology = proposal.technology_id.ok_or_else(|| {
        ApiError::conflict(
            "proposal_without_technology",
            "A deal is over a technology, and this proposal names none; open the deal from \
             the technology (a match) instead.",
        )
    })?;
    // The listing may have been withdrawn or sent back to review since the proposal.
    technologies::find(conn, technology)?
        .filter(|l| l.status == Status::Published && l.organization_id == seller)
        .ok_or_else(|| ApiError::invalid("technology_id", "is not a published listing"))?;
    no_live_deal(conn, technology, demand.id)?;
    Ok(Plan {
        technology_id: technology,
        buyer,
        seller,
        broker: None,
        inquiry_id: None,
        demand_id: Some(demand.id),
        proposal_id: Some(proposal.id),
        accepted_side: Some(side),
    })
}

/// A match: a published technology and a published demand of two organisations; the
/// demand's organisation buys.
fn from_match(
    conn: &mut DbConn,
    actor: &Actor,
    technology: TechnologyId,
    demand: DemandId,
) -> Result<Plan, ApiError> {
    let listing =
        technologies::find(conn, technology)?
            .filter(|l| l.status == Status::Published)
            .ok_or_else(|| ApiError::invalid("technology_id", "is not a published listing"))?;
    let demand = demands::find(conn, demand)?
        .filter(|d| d.status == Status::Published)
        .ok_or_else(|| ApiError::invalid("demand_id", "is not a published demand"))?;
    let (buyer, seller) = (demand.organization_id, listing.organization_id);
    if buyer == seller {
        return Err(ApiError::invalid("demand_id", "is the technology owner's own demand"));
    }
    let origin = DealOrigin {
        buyer,
        seller,
        private: false,
        buyer_hidden: demand.content.hide_organization,
    };
    let side = policy::deal_side(actor, &origin)?;
    no_live_deal(conn, listing.id, demand.id)?;
    Ok(Plan {
        technology_id: listing.id,
        buyer,
        seller,
        broker: None,
        inquiry_id: None,
        demand_id: Some(demand.id),
        proposal_id: None,
        accepted_side: Some(side),
    })
}
