//! Deals: who takes part, who may do what, and on which side a caller opens one.

use crate::auth::Actor;
use crate::db::types::OrganizationId;
use crate::error::ApiError;

/// The organisations taking part in a deal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DealParties {
    pub buyer: OrganizationId,
    pub seller: OrganizationId,
    pub broker: Option<OrganizationId>,
}

/// What can be done to a deal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DealAction {
    /// Read it and its timeline: the parties' members and exchange staff.
    View,
    /// Change terms, tick the checklist, move it, add notes: the parties' members (broker
    /// included).
    Act,
    /// Accept it, confirm signing: members of the buyer or the seller only; a broker does
    /// not commit either side.
    Commit,
}

/// Deals are private to their parties: anybody else (but staff, who may read) gets 404, so
/// a deal's existence does not leak.
pub fn deal(actor: &Actor, parties: &DealParties, action: DealAction) -> Result<(), ApiError> {
    let principal =
        actor.org_role(parties.buyer).is_some() || actor.org_role(parties.seller).is_some();
    let broker = parties.broker.is_some_and(|b| actor.org_role(b).is_some());
    if !principal && !broker && !actor.is_staff() {
        return Err(ApiError::not_found("No such deal."));
    }
    let allowed = match action {
        DealAction::View => true,
        DealAction::Act => principal || broker,
        DealAction::Commit => principal,
    };
    if allowed {
        Ok(())
    } else if principal || broker {
        Err(ApiError::forbidden("Only the buyer and the seller may do this."))
    } else {
        Err(ApiError::forbidden("Exchange staff may read deals but not act on them."))
    }
}

/// The two sides of a deal being opened from an accepted proposal or a match.
#[derive(Debug, Clone, Copy)]
pub struct DealOrigin {
    pub buyer: OrganizationId,
    pub seller: OrganizationId,
    /// Outsiders may not know the origin exists (a proposal): 404 for them, else 403.
    pub private: bool,
    /// The buyer's demand hides its organisation: opening a deal names the buyer to the
    /// seller, so only the buyer's members may do it.
    pub buyer_hidden: bool,
}

/// Opening a deal as one of its two sides: members of the buyer or the seller (the seller
/// only when the buyer is not hidden). Returns the side the caller commits, the seller first
/// for a member of both.
pub fn deal_side(actor: &Actor, origin: &DealOrigin) -> Result<OrganizationId, ApiError> {
    let (buyer, seller) =
        (actor.org_role(origin.buyer).is_some(), actor.org_role(origin.seller).is_some());
    match (buyer, seller) {
        (_, true) if !origin.buyer_hidden => Ok(origin.seller),
        (true, _) => Ok(origin.buyer),
        (false, true) => Err(ApiError::forbidden(
            "This demand hides its organisation: only the demand's organisation can open a \
             deal from it.",
        )),
        (false, false) if origin.private => Err(ApiError::not_found("No such proposal.")),
        (false, false) => {
            Err(ApiError::forbidden("Only members of the buyer or the seller open this deal."))
        }
    }
}
