//! Listings and demands (the resources that go through moderation), their matches,
//! proposals and contact details.

use super::{OrgAction, organization};
use crate::auth::Actor;
use crate::db::types::OrganizationId;
use crate::error::ApiError;

use crate::domain::listing::ContactVisibility;

/// What can be done to a resource that goes through moderation (a listing, a demand).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModeratedAction {
    View,
    /// Edit, submit for review, renew, delete a draft: the owning organisation's members.
    Manage,
    /// Approve or reject: exchange staff.
    Review,
    /// Take it off the exchange: its organisation's members, or staff.
    Archive,
}

/// Whether the caller sees a listing of `organization` in a non-public state: its members
/// and exchange staff do, everybody else sees published listings only.
pub fn sees_unpublished_listings(actor: Option<&Actor>, organization: OrganizationId) -> bool {
    actor.is_some_and(|a| a.org_role(organization).is_some() || a.is_staff())
}

/// Listings are private until published: one the caller may not see answers 404, one they
/// see but may not act on 403.
pub fn listing(
    actor: Option<&Actor>,
    organization: OrganizationId,
    public: bool,
    action: ModeratedAction,
) -> Result<(), ApiError> {
    moderated(actor, organization, public, action, "No such technology.")
}

/// Demands follow the listings' rules exactly (same lifecycle, same actions).
pub fn demand(
    actor: Option<&Actor>,
    organization: OrganizationId,
    public: bool,
    action: ModeratedAction,
) -> Result<(), ApiError> {
    moderated(actor, organization, public, action, "No such demand.")
}

/// The rule behind [`listing`] and [`demand`]: objects that go through moderation.
fn moderated(
    actor: Option<&Actor>,
    organization: OrganizationId,
    public: bool,
    action: ModeratedAction,
    not_found: &str,
) -> Result<(), ApiError> {
    if !public && !sees_unpublished_listings(actor, organization) {
        return Err(ApiError::not_found(not_found));
    }
    let member = actor.is_some_and(|a| a.org_role(organization).is_some());
    let staff = actor.is_some_and(Actor::is_staff);
    let allowed = match action {
        ModeratedAction::View => true,
        ModeratedAction::Manage => member,
        ModeratedAction::Review => staff,
        ModeratedAction::Archive => member || staff,
    };
    if allowed {
        return Ok(());
    }
    Err(match (actor, action) {
        (None, _) => ApiError::unauthorized("Sign in: this needs an access token."),
        (_, ModeratedAction::Review) => ApiError::forbidden("Only exchange staff review listings."),
        _ => ApiError::forbidden("Only members of the owning organisation may do this."),
    })
}

/// Whether the caller sees who posted a demand: always unless the demand hides it, then
/// only its organisation's members and staff.
pub fn demand_organization_visible(
    actor: Option<&Actor>,
    organization: OrganizationId,
    hidden: bool,
) -> bool {
    !hidden || sees_unpublished_listings(actor, organization)
}

/// Who sees the matches of a demand: its organisation's members, staff, and members of an
/// intermediary organisation offering brokering (`broker`, looked up by the caller). Others
/// get 404 when the demand is not visible to them, 401/403 otherwise.
pub fn demand_matches(
    actor: Option<&Actor>,
    organization: OrganizationId,
    public: bool,
    broker: bool,
) -> Result<(), ApiError> {
    demand(actor, organization, public, ModeratedAction::View)?;
    let Some(actor) = actor else {
        return Err(ApiError::unauthorized("Sign in: this needs an access token."));
    };
    if actor.org_role(organization).is_some() || actor.is_staff() || broker {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "Only the demand's organisation, brokers and exchange staff see its matches.",
        ))
    }
}

/// Who sees the matches of a technology: its organisation's members and staff.
pub fn technology_matches(
    actor: Option<&Actor>,
    organization: OrganizationId,
    public: bool,
) -> Result<(), ApiError> {
    listing(actor, organization, public, ModeratedAction::View)?;
    let Some(actor) = actor else {
        return Err(ApiError::unauthorized("Sign in: this needs an access token."));
    };
    if actor.org_role(organization).is_some() || actor.is_staff() {
        Ok(())
    } else {
        Err(ApiError::forbidden("Only the technology's organisation sees its matches."))
    }
}

/// What can be done with proposals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProposalAction {
    /// Propose in the name of `offering` (a member of it; not the demand's own organisation).
    Create { offering: OrganizationId },
    /// Accept or decline: members of the demand's organisation.
    Decide,
    /// Withdraw a pending proposal: members of the offering organisation.
    Withdraw { offering: OrganizationId },
}

pub fn proposal(
    actor: &Actor,
    demand_organization: OrganizationId,
    action: ProposalAction,
) -> Result<(), ApiError> {
    match action {
        ProposalAction::Create { offering } => {
            organization(actor, offering, OrgAction::ActFor)?;
            if offering == demand_organization {
                return Err(ApiError::forbidden("An organisation does not answer its own demand."));
            }
            Ok(())
        }
        ProposalAction::Decide if actor.org_role(demand_organization).is_some() => Ok(()),
        ProposalAction::Decide => {
            Err(ApiError::forbidden("Only the demand's organisation decides on proposals."))
        }
        ProposalAction::Withdraw { offering } if actor.org_role(offering).is_some() => Ok(()),
        ProposalAction::Withdraw { .. } => {
            Err(ApiError::forbidden("Only the offering organisation withdraws its proposal."))
        }
    }
}

/// Whether the caller sees every proposal of a demand (its organisation and staff); others
/// see only those of organisations they belong to.
pub fn sees_all_proposals(actor: &Actor, demand_organization: OrganizationId) -> bool {
    actor.org_role(demand_organization).is_some() || actor.is_staff()
}

/// The organisations in whose name the caller dismisses a match: each side it belongs to.
/// None: 403.
pub fn dismiss_match(
    actor: &Actor,
    technology_organization: OrganizationId,
    demand_organization: OrganizationId,
) -> Result<Vec<OrganizationId>, ApiError> {
    let mut sides: Vec<OrganizationId> = [technology_organization, demand_organization]
        .into_iter()
        .filter(|org| actor.org_role(*org).is_some())
        .collect();
    sides.dedup();
    if sides.is_empty() {
        return Err(ApiError::forbidden("Only either side of a match may dismiss it."));
    }
    Ok(sides)
}

/// Whether the caller may see a listing's contact person, given the owner's choice.
pub fn listing_contact_visible(
    actor: Option<&Actor>,
    organization: OrganizationId,
    visibility: ContactVisibility,
) -> bool {
    match visibility {
        ContactVisibility::Public => true,
        ContactVisibility::Members => actor.is_some(),
        ContactVisibility::OnRequest => sees_unpublished_listings(actor, organization),
    }
}
