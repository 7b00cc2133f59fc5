//! What opening a deal links, decided from the request and the database: an enquiry, an
//! accepted proposal, a match, or a broker naming both parties.

use super::CreateDealRequest;
use crate::api::validate::Validator;
use crate::auth::Actor;
use crate::auth::policy::{self, DealOrigin, InquiryAction, OrgAction};
use crate::db::DbConn;
use crate::db::types::Id;
use crate::domain::demand::ProposalStatus;
use crate::domain::listing::Status;
use crate::error::ApiError;
use crate::store::deals::{self as store};
use crate::store::{demands, inquiries, organizations, technologies};

/// What a deal will link, decided from the request and the database.
pub(super) struct Plan {
    pub(super) technology_id: Id,
    pub(super) buyer: Id,
    pub(super) seller: Id,
    pub(super) broker: Option<Id>,
    pub(super) inquiry_id: Option<Id>,
    pub(super) demand_id: Option<Id>,
    pub(super) proposal_id: Option<Id>,
    /// The side the creator commits by creating.
    pub(super) accepted_side: Option<Id>,
}

pub(super) fn plan(
    conn: &mut DbConn,
    actor: &Actor,
    body: &CreateDealRequest,
) -> Result<Plan, ApiError> {
    if let Some(inquiry_id) = body.inquiry_id {
        body.only(&["inquiry_id"], "does not go with inquiry_id, which names the parties")?;
        let inquiry = inquiries::get(conn, inquiry_id.into())?;
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
        return Ok(Plan {
            technology_id: inquiry.technology_id,
            buyer,
            seller,
            broker: None,
            inquiry_id: Some(inquiry.id),
            demand_id: None,
            proposal_id: None,
            accepted_side: Some(side),
        });
    }
    if let Some(proposal_id) = body.proposal_id {
        body.only(&["proposal_id"], "does not go with proposal_id, which names the parties")?;
        return from_proposal(conn, actor, proposal_id.into());
    }
    if body.broker_organization_id.is_none() && body.demand_id.is_some() {
        body.only(
            &["demand_id", "technology_id"],
            "does not go with a match (demand_id and technology_id name the parties)",
        )?;
        let technology = body
            .technology_id
            .ok_or_else(|| ApiError::invalid("technology_id", "is required with demand_id"))?;
        return from_match(
            conn,
            actor,
            technology.into(),
            body.demand_id.unwrap_or_default().into(),
        );
    }
    body.only(
        &[
            "broker_organization_id",
            "technology_id",
            "buyer_organization_id",
            "seller_organization_id",
        ],
        "does not go with a brokered deal",
    )?;
    let mut v = Validator::new();
    for (field, value) in [
        ("broker_organization_id", body.broker_organization_id),
        ("technology_id", body.technology_id),
        ("buyer_organization_id", body.buyer_organization_id),
        ("seller_organization_id", body.seller_organization_id),
    ] {
        v.check(value.is_some(), field, "is required for a brokered deal");
    }
    v.finish()?;
    let id = |u: Option<uuid::Uuid>| Id::from(u.unwrap_or_default());
    let (broker, technology) = (id(body.broker_organization_id), id(body.technology_id));
    let (buyer, seller) = (id(body.buyer_organization_id), id(body.seller_organization_id));
    policy::organization(actor, broker, OrgAction::ActFor)?;
    if organizations::get(conn, broker)?.kind != "intermediary" {
        return Err(ApiError::forbidden("Only intermediary organisations broker deals."));
    }
    let mut v = Validator::new();
    v.check(buyer != seller, "buyer_organization_id", "must differ from the seller");
    v.check(broker != buyer && broker != seller, "broker_organization_id", "must not be a party");
    v.finish()?;
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
fn no_live_deal(conn: &mut DbConn, technology: Id, demand: Id) -> Result<(), ApiError> {
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
fn from_proposal(conn: &mut DbConn, actor: &Actor, id: Id) -> Result<Plan, ApiError> {
    let proposal = demands::find_proposal(conn, id)?
        .ok_or_else(|| ApiError::not_found("No such proposal."))?;
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
    technology: Id,
    demand: Id,
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
