//! Valuation requests.

use super::{OrgAction, organization};
use crate::auth::Actor;
use crate::db::types::OrganizationId;
use crate::error::ApiError;

/// What can be done to a valuation request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValuationAction {
    View,
    /// Name the appraiser: exchange staff.
    Assign,
    /// Take an open request: members of an appraiser organisation.
    Claim,
    /// Start, complete or decline: members of the assigned appraiser organisation.
    Work,
    /// Withdraw it: members of the requesting organisation.
    Cancel,
}

/// Who a valuation request concerns.
#[derive(Debug, Clone, Copy)]
pub struct ValuationParties {
    pub requester: OrganizationId,
    pub listing_owner: OrganizationId,
    pub appraiser: Option<OrganizationId>,
    /// Still `submitted`: open to every appraiser organisation to claim.
    pub open: bool,
}

/// Valuation requests are private to the requester, the listing owner, the assigned
/// appraiser and staff (404 for everyone else). Open requests are also visible to members of
/// appraiser organisations (`caller_is_appraiser`), who could not claim them otherwise.
pub fn valuation(
    actor: Option<&Actor>,
    parties: ValuationParties,
    caller_is_appraiser: bool,
    action: ValuationAction,
) -> Result<(), ApiError> {
    let member = |org: OrganizationId| actor.is_some_and(|a| a.org_role(org).is_some());
    let staff = actor.is_some_and(Actor::is_staff);
    let requester = member(parties.requester);
    let appraiser = parties.appraiser.is_some_and(member);
    let visible = staff
        || requester
        || member(parties.listing_owner)
        || appraiser
        || (parties.open && caller_is_appraiser);
    if !visible {
        return Err(ApiError::not_found("No such valuation request."));
    }
    let allowed = match action {
        ValuationAction::View => true,
        ValuationAction::Assign => staff,
        ValuationAction::Claim => caller_is_appraiser,
        ValuationAction::Work => appraiser,
        ValuationAction::Cancel => requester,
    };
    if allowed {
        return Ok(());
    }
    Err(ApiError::forbidden(match action {
        ValuationAction::Assign => "Only exchange staff assign appraisers.",
        ValuationAction::Claim => {
            "Only appraiser organisations (intermediaries offering valuation) may claim requests."
        }
        ValuationAction::Work => "Only the assigned appraiser organisation may do this.",
        _ => "Only the requesting organisation may cancel its request.",
    }))
}

/// Who may ask for a valuation: a member acting for the listing's owner, or for a party or
/// broker of a deal over that technology (`deal_parties`: buyer, seller and broker).
pub fn request_valuation(
    actor: &Actor,
    requester: OrganizationId,
    listing_owner: OrganizationId,
    deal_parties: Option<[Option<OrganizationId>; 3]>,
) -> Result<(), ApiError> {
    organization(actor, requester, OrgAction::ActFor)?;
    let party = deal_parties.is_some_and(|parties| parties.contains(&Some(requester)));
    if requester == listing_owner || party {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "Only the listing's owner, or a party or broker of a linked deal over it, may request its valuation.",
        ))
    }
}
