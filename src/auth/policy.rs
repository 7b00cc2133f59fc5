//! The one place that answers "may this caller do this?". Handlers ask; they do not
//! re-implement checks.
//!
//! Organisation profiles are public, so refusing an action on one is 403; objects whose
//! existence is private answer 404 from their own visibility rules.

use super::{Actor, OrgRole, PlatformRole};
use crate::db::types::Id;
use crate::domain::listing::ContactVisibility;
use crate::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgAction {
    /// Edit the profile.
    Update,
    /// See who belongs to it.
    ViewMembers,
    /// Invite people, change roles, remove others.
    ManageMembers,
    /// Remove this member: owners may remove anyone, members only themselves.
    RemoveMember(Id),
    /// Act in its name (create listings, demands, enquiries...).
    ActFor,
    /// Register, change, delete and test webhooks.
    ManageWebhooks,
    /// See webhooks and their delivery logs (owners and exchange staff; never secrets).
    ViewWebhooks,
    /// Mark verified or revoke it.
    Verify,
    /// Create, list, roll and revoke its API keys; read its audit log.
    ManageApiKeys,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlatformAction {
    ListUsers,
    ManageUsers,
    ViewOutbox,
    /// Re-queue a failed outbox row.
    RetryOutbox,
    Moderate,
}

/// What can be done to a technology listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListingAction {
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
pub fn sees_unpublished_listings(actor: Option<&Actor>, organization: Id) -> bool {
    actor.is_some_and(|a| a.org_role(organization).is_some() || a.is_staff())
}

/// Listings are private until published: one the caller may not see answers 404, one they
/// see but may not act on 403.
pub fn listing(
    actor: Option<&Actor>,
    organization: Id,
    public: bool,
    action: ListingAction,
) -> Result<(), ApiError> {
    moderated(actor, organization, public, action, "No such technology.")
}

/// Demands follow the listings' rules exactly (same lifecycle, same actions).
pub fn demand(
    actor: Option<&Actor>,
    organization: Id,
    public: bool,
    action: ListingAction,
) -> Result<(), ApiError> {
    moderated(actor, organization, public, action, "No such demand.")
}

/// The rule behind [`listing`] and [`demand`]: objects that go through moderation.
fn moderated(
    actor: Option<&Actor>,
    organization: Id,
    public: bool,
    action: ListingAction,
    not_found: &str,
) -> Result<(), ApiError> {
    if !public && !sees_unpublished_listings(actor, organization) {
        return Err(ApiError::not_found(not_found));
    }
    let member = actor.is_some_and(|a| a.org_role(organization).is_some());
    let staff = actor.is_some_and(Actor::is_staff);
    let allowed = match action {
        ListingAction::View => true,
        ListingAction::Manage => member,
        ListingAction::Review => staff,
        ListingAction::Archive => member || staff,
    };
    if allowed {
        return Ok(());
    }
    Err(match (actor, action) {
        (None, _) => ApiError::unauthorized("Sign in: this needs an access token."),
        (_, ListingAction::Review) => ApiError::forbidden("Only exchange staff review listings."),
        _ => ApiError::forbidden("Only members of the owning organisation may do this."),
    })
}

/// Whether the caller sees who posted a demand: always unless the demand hides it, then
/// only its organisation's members and staff.
pub fn demand_organization_visible(actor: Option<&Actor>, organization: Id, hidden: bool) -> bool {
    !hidden || sees_unpublished_listings(actor, organization)
}

/// Who sees the matches of a demand: its organisation's members, staff, and members of an
/// intermediary organisation offering brokering (`broker`, looked up by the caller). Others
/// get 404 when the demand is not visible to them, 401/403 otherwise.
pub fn demand_matches(
    actor: Option<&Actor>,
    organization: Id,
    public: bool,
    broker: bool,
) -> Result<(), ApiError> {
    demand(actor, organization, public, ListingAction::View)?;
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
    organization: Id,
    public: bool,
) -> Result<(), ApiError> {
    listing(actor, organization, public, ListingAction::View)?;
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
    Create { offering: Id },
    /// Accept or decline: members of the demand's organisation.
    Decide,
    /// Withdraw a pending proposal: members of the offering organisation.
    Withdraw { offering: Id },
}

pub fn proposal(
    actor: &Actor,
    demand_organization: Id,
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
pub fn sees_all_proposals(actor: &Actor, demand_organization: Id) -> bool {
    actor.org_role(demand_organization).is_some() || actor.is_staff()
}

/// The organisations in whose name the caller dismisses a match: each side it belongs to.
/// None: 403.
pub fn dismiss_match(
    actor: &Actor,
    technology_organization: Id,
    demand_organization: Id,
) -> Result<Vec<Id>, ApiError> {
    let mut sides: Vec<Id> = [technology_organization, demand_organization]
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
    organization: Id,
    visibility: ContactVisibility,
) -> bool {
    match visibility {
        ContactVisibility::Public => true,
        ContactVisibility::Members => actor.is_some(),
        ContactVisibility::OnRequest => sees_unpublished_listings(actor, organization),
    }
}

/// The organisations taking part in a deal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DealParties {
    pub buyer: Id,
    pub seller: Id,
    pub broker: Option<Id>,
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
    pub buyer: Id,
    pub seller: Id,
    /// Outsiders may not know the origin exists (a proposal): 404 for them, else 403.
    pub private: bool,
    /// The buyer's demand hides its organisation: opening a deal names the buyer to the
    /// seller, so only the buyer's members may do it.
    pub buyer_hidden: bool,
}

/// Opening a deal as one of its two sides: members of the buyer or the seller (the seller
/// only when the buyer is not hidden). Returns the side the caller commits, the seller first
/// for a member of both.
pub fn deal_side(actor: &Actor, origin: &DealOrigin) -> Result<Id, ApiError> {
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

/// What can be done to an enquiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InquiryAction {
    /// Read the thread: both sides' members and exchange staff.
    View,
    /// Write in the thread: both sides' members.
    Reply,
    /// Close it: the listing owner's members.
    Close,
}

/// Enquiries are private to the enquiring organisation and the listing's owner (404 for
/// everybody else but staff, who may read).
pub fn inquiry(actor: &Actor, from: Id, to: Id, action: InquiryAction) -> Result<(), ApiError> {
    let sender = actor.org_role(from).is_some();
    let owner = actor.org_role(to).is_some();
    if !sender && !owner && !actor.is_staff() {
        return Err(ApiError::not_found("No such enquiry."));
    }
    let allowed = match action {
        InquiryAction::View => true,
        InquiryAction::Reply => sender || owner,
        InquiryAction::Close => owner,
    };
    if allowed {
        Ok(())
    } else if sender {
        Err(ApiError::forbidden("Only the listing's owner may close an enquiry."))
    } else {
        Err(ApiError::forbidden("Exchange staff may read enquiries but not act on them."))
    }
}

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
    pub requester: Id,
    pub listing_owner: Id,
    pub appraiser: Option<Id>,
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
    let member = |org: Id| actor.is_some_and(|a| a.org_role(org).is_some());
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
    requester: Id,
    listing_owner: Id,
    deal_parties: Option<[Option<Id>; 3]>,
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

pub fn organization(actor: &Actor, org: Id, action: OrgAction) -> Result<(), ApiError> {
    let role = actor.org_role(org);
    let allowed = match action {
        OrgAction::Update
        | OrgAction::ManageMembers
        | OrgAction::ManageWebhooks
        | OrgAction::ManageApiKeys => role == Some(OrgRole::Owner),
        OrgAction::RemoveMember(target) => {
            role == Some(OrgRole::Owner) || (role.is_some() && target == actor.user_id)
        }
        OrgAction::ActFor => role.is_some(),
        OrgAction::ViewMembers => role.is_some() || actor.is_staff(),
        OrgAction::ViewWebhooks => role == Some(OrgRole::Owner) || actor.is_staff(),
        OrgAction::Verify => actor.is_staff(),
    };
    if allowed {
        Ok(())
    } else {
        Err(ApiError::forbidden(match action {
            OrgAction::Verify => "Only exchange staff may verify organisations.",
            OrgAction::ActFor | OrgAction::ViewMembers | OrgAction::RemoveMember(_) => {
                "You are not a member of this organisation."
            }
            _ => "Only owners of this organisation may do this.",
        }))
    }
}

pub fn platform(actor: &Actor, action: PlatformAction) -> Result<(), ApiError> {
    let allowed = match action {
        PlatformAction::ListUsers | PlatformAction::ManageUsers => {
            actor.role == PlatformRole::Admin
        }
        PlatformAction::ViewOutbox | PlatformAction::RetryOutbox | PlatformAction::Moderate => {
            actor.is_staff()
        }
    };
    if allowed { Ok(()) } else { Err(ApiError::forbidden("Your role does not allow this.")) }
}

/// Activity reports (who did what, deal values, intermediaries' results) are for exchange
/// staff: moderators and administrators. The public overview needs no check.
pub fn activity_reports(actor: &Actor) -> Result<(), ApiError> {
    if actor.is_staff() {
        Ok(())
    } else {
        Err(ApiError::forbidden("Only exchange staff see activity reports."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(role: PlatformRole, memberships: Vec<(Id, OrgRole)>) -> Actor {
        Actor { user_id: Id::new(), role, session_id: Id::new(), memberships, api_key: None }
    }

    #[test]
    fn owners_members_outsiders_and_staff() {
        let org = Id::new();
        let owner = actor(PlatformRole::Member, vec![(org, OrgRole::Owner)]);
        let member = actor(PlatformRole::Member, vec![(org, OrgRole::Member)]);
        let outsider = actor(PlatformRole::Member, vec![(Id::new(), OrgRole::Owner)]);
        let moderator = actor(PlatformRole::Moderator, vec![]);

        assert!(organization(&owner, org, OrgAction::Update).is_ok());
        assert!(organization(&member, org, OrgAction::Update).is_err());
        assert!(organization(&outsider, org, OrgAction::ActFor).is_err());
        assert!(organization(&member, org, OrgAction::ActFor).is_ok());
        assert!(organization(&moderator, org, OrgAction::ViewMembers).is_ok());
        assert!(organization(&moderator, org, OrgAction::Update).is_err());
        assert!(organization(&owner, org, OrgAction::Verify).is_err());
        assert!(organization(&moderator, org, OrgAction::Verify).is_ok());

        assert!(organization(&owner, org, OrgAction::ManageWebhooks).is_ok());
        assert!(organization(&member, org, OrgAction::ManageWebhooks).is_err());
        assert!(organization(&moderator, org, OrgAction::ManageWebhooks).is_err());
        assert!(organization(&owner, org, OrgAction::ViewWebhooks).is_ok());
        assert!(organization(&moderator, org, OrgAction::ViewWebhooks).is_ok());
        assert!(organization(&member, org, OrgAction::ViewWebhooks).is_err());
        assert!(organization(&outsider, org, OrgAction::ViewWebhooks).is_err());

        assert!(organization(&member, org, OrgAction::RemoveMember(member.user_id)).is_ok());
        assert!(organization(&member, org, OrgAction::RemoveMember(owner.user_id)).is_err());
        assert!(organization(&owner, org, OrgAction::RemoveMember(member.user_id)).is_ok());
        assert!(organization(&outsider, org, OrgAction::RemoveMember(outsider.user_id)).is_err());

        assert!(platform(&moderator, PlatformAction::ListUsers).is_err());
        assert!(platform(&actor(PlatformRole::Admin, vec![]), PlatformAction::ManageUsers).is_ok());
        assert!(platform(&moderator, PlatformAction::ViewOutbox).is_ok());
        assert!(platform(&owner, PlatformAction::Moderate).is_err());
    }

    #[test]
    fn listings_hide_until_published_and_belong_to_their_organisation() {
        use ListingAction::*;
        let org = Id::new();
        let member = actor(PlatformRole::Member, vec![(org, OrgRole::Member)]);
        let outsider = actor(PlatformRole::Member, vec![(Id::new(), OrgRole::Owner)]);
        let moderator = actor(PlatformRole::Moderator, vec![]);
        let status = |r: Result<(), ApiError>| r.err().map_or(200, |e| e.status.as_u16());

        // Unpublished: invisible (404) to outsiders and anonymous callers, whatever the action.
        for action in [View, Manage, Review, Archive] {
            assert_eq!(status(listing(None, org, false, action)), 404);
            assert_eq!(status(listing(Some(&outsider), org, false, action)), 404);
        }
        assert_eq!(status(listing(Some(&member), org, false, View)), 200);
        assert_eq!(status(listing(Some(&member), org, false, Manage)), 200);
        assert_eq!(status(listing(Some(&member), org, false, Review)), 403);
        assert_eq!(status(listing(Some(&moderator), org, false, View)), 200);
        assert_eq!(status(listing(Some(&moderator), org, false, Review)), 200);
        assert_eq!(status(listing(Some(&moderator), org, false, Manage)), 403);
        assert_eq!(status(listing(Some(&moderator), org, false, Archive)), 200);

        // Published: everyone sees it, only members manage it.
        assert_eq!(status(listing(None, org, true, View)), 200);
        assert_eq!(status(listing(None, org, true, Manage)), 401);
        assert_eq!(status(listing(Some(&outsider), org, true, Manage)), 403);
        assert_eq!(status(listing(Some(&outsider), org, true, Archive)), 403);
        assert_eq!(status(listing(Some(&member), org, true, Archive)), 200);

        assert!(sees_unpublished_listings(Some(&member), org));
        assert!(sees_unpublished_listings(Some(&moderator), org));
        assert!(!sees_unpublished_listings(Some(&outsider), org));
        assert!(!sees_unpublished_listings(None, org));

        use ContactVisibility::*;
        assert!(listing_contact_visible(None, org, Public));
        assert!(!listing_contact_visible(None, org, Members));
        assert!(listing_contact_visible(Some(&outsider), org, Members));
        assert!(!listing_contact_visible(Some(&outsider), org, OnRequest));
        assert!(listing_contact_visible(Some(&member), org, OnRequest));
        assert!(listing_contact_visible(Some(&moderator), org, OnRequest));
    }

    #[test]
    fn activity_reports_are_for_staff() {
        let org = Id::new();
        assert!(activity_reports(&actor(PlatformRole::Moderator, vec![])).is_ok());
        assert!(activity_reports(&actor(PlatformRole::Admin, vec![])).is_ok());
        let owner = actor(PlatformRole::Member, vec![(org, OrgRole::Owner)]);
        assert_eq!(activity_reports(&owner).unwrap_err().status.as_u16(), 403);
    }

    #[test]
    fn deals_belong_to_their_parties() {
        use DealAction::*;
        let (buyer, seller, broker) = (Id::new(), Id::new(), Id::new());
        let parties = DealParties { buyer, seller, broker: Some(broker) };
        let status = |r: Result<(), ApiError>| r.err().map_or(200, |e| e.status.as_u16());
        let of = |org| actor(PlatformRole::Member, vec![(org, OrgRole::Member)]);
        let outsider = of(Id::new());
        let moderator = actor(PlatformRole::Moderator, vec![]);
        for action in [View, Act, Commit] {
            assert_eq!(status(deal(&of(buyer), &parties, action)), 200);
            assert_eq!(status(deal(&of(seller), &parties, action)), 200);
            assert_eq!(status(deal(&outsider, &parties, action)), 404);
        }
        assert_eq!(status(deal(&of(broker), &parties, Act)), 200);
        assert_eq!(status(deal(&of(broker), &parties, Commit)), 403);
        assert_eq!(status(deal(&moderator, &parties, View)), 200);
        assert_eq!(status(deal(&moderator, &parties, Act)), 403);

        use InquiryAction as I;
        assert_eq!(status(inquiry(&of(buyer), buyer, seller, I::Reply)), 200);
        assert_eq!(status(inquiry(&of(buyer), buyer, seller, I::Close)), 403);
        assert_eq!(status(inquiry(&of(seller), buyer, seller, I::Close)), 200);
        assert_eq!(status(inquiry(&outsider, buyer, seller, I::View)), 404);
        assert_eq!(status(inquiry(&moderator, buyer, seller, I::View)), 200);
        assert_eq!(status(inquiry(&moderator, buyer, seller, I::Reply)), 403);
    }

    #[test]
    fn valuation_requests_are_private_to_their_parties() {
        use ValuationAction::*;
        let (requester, owner, appraiser) = (Id::new(), Id::new(), Id::new());
        let of = |org| actor(PlatformRole::Member, vec![(org, OrgRole::Member)]);
        let outsider = of(Id::new());
        let moderator = actor(PlatformRole::Moderator, vec![]);
        let status = |r: Result<(), ApiError>| r.err().map_or(200, |e| e.status.as_u16());
        let assigned = ValuationParties {
            requester,
            listing_owner: owner,
            appraiser: Some(appraiser),
            open: false,
        };
        let open = ValuationParties { appraiser: None, open: true, ..assigned };
        assert_eq!(status(valuation(None, assigned, false, View)), 404);
        assert_eq!(status(valuation(Some(&outsider), assigned, false, View)), 404);
        // Another appraiser sees open requests only.
        assert_eq!(status(valuation(Some(&outsider), assigned, true, View)), 404);
        assert_eq!(status(valuation(Some(&outsider), open, true, Claim)), 200);
        assert_eq!(status(valuation(Some(&outsider), open, false, Claim)), 404);
        assert_eq!(status(valuation(Some(&of(owner)), assigned, false, View)), 200);
        assert_eq!(status(valuation(Some(&of(owner)), assigned, false, Cancel)), 403);
        assert_eq!(status(valuation(Some(&of(requester)), assigned, false, Cancel)), 200);
        assert_eq!(status(valuation(Some(&of(requester)), assigned, false, Work)), 403);
        assert_eq!(status(valuation(Some(&of(appraiser)), assigned, false, Work)), 200);
        assert_eq!(status(valuation(Some(&of(appraiser)), assigned, false, Assign)), 403);
        assert_eq!(status(valuation(Some(&moderator), open, false, Assign)), 200);
        assert_eq!(status(valuation(Some(&moderator), assigned, false, Work)), 403);

        let member = of(requester);
        assert!(request_valuation(&member, requester, requester, None).is_ok());
        assert!(request_valuation(&member, requester, owner, None).is_err());
        assert!(
            request_valuation(&member, requester, owner, Some([None, None, Some(requester)]))
                .is_ok()
        );
        assert!(
            request_valuation(&member, requester, owner, Some([Some(owner), None, None])).is_err()
        );
        assert!(request_valuation(&outsider, requester, requester, None).is_err());
    }

    #[test]
    fn demands_matches_proposals_and_dismissals() {
        let buyer_org = Id::new();
        let seller_org = Id::new();
        let buyer = actor(PlatformRole::Member, vec![(buyer_org, OrgRole::Member)]);
        let seller = actor(PlatformRole::Member, vec![(seller_org, OrgRole::Owner)]);
        let moderator = actor(PlatformRole::Moderator, vec![]);
        let status = |r: Result<(), ApiError>| r.err().map_or(200, |e| e.status.as_u16());

        // Demands share the listings' rules, with their own 404.
        let hidden = demand(Some(&seller), buyer_org, false, ListingAction::View).unwrap_err();
        assert_eq!((hidden.status.as_u16(), hidden.detail.as_str()), (404, "No such demand."));
        assert_eq!(status(demand(Some(&buyer), buyer_org, false, ListingAction::Manage)), 200);

        assert!(!demand_organization_visible(None, buyer_org, true));
        assert!(!demand_organization_visible(Some(&seller), buyer_org, true));
        assert!(demand_organization_visible(Some(&seller), buyer_org, false));
        assert!(demand_organization_visible(Some(&buyer), buyer_org, true));
        assert!(demand_organization_visible(Some(&moderator), buyer_org, true));

        assert_eq!(status(demand_matches(None, buyer_org, true, false)), 401);
        assert_eq!(status(demand_matches(Some(&seller), buyer_org, true, false)), 403);
        assert_eq!(status(demand_matches(Some(&seller), buyer_org, true, true)), 200);
        assert_eq!(status(demand_matches(Some(&seller), buyer_org, false, true)), 404);
        assert_eq!(status(demand_matches(Some(&buyer), buyer_org, false, false)), 200);
        assert_eq!(status(demand_matches(Some(&moderator), buyer_org, true, false)), 200);
        assert_eq!(status(technology_matches(Some(&seller), seller_org, true)), 200);
        assert_eq!(status(technology_matches(Some(&buyer), seller_org, true)), 403);

        let create = |offering| ProposalAction::Create { offering };
        assert!(proposal(&seller, buyer_org, create(seller_org)).is_ok());
        assert!(proposal(&buyer, buyer_org, create(buyer_org)).is_err(), "not its own demand");
        assert!(proposal(&buyer, buyer_org, create(seller_org)).is_err(), "not a member");
        assert!(proposal(&buyer, buyer_org, ProposalAction::Decide).is_ok());
        assert!(proposal(&seller, buyer_org, ProposalAction::Decide).is_err());
        assert!(proposal(&moderator, buyer_org, ProposalAction::Decide).is_err());
        let withdraw = ProposalAction::Withdraw { offering: seller_org };
        assert!(proposal(&seller, buyer_org, withdraw).is_ok());
        assert!(proposal(&buyer, buyer_org, withdraw).is_err(), "the demand's side decides");
        assert!(proposal(&moderator, buyer_org, withdraw).is_err());

        let origin = |private, buyer_hidden| DealOrigin {
            buyer: buyer_org,
            seller: seller_org,
            private,
            buyer_hidden,
        };
        let code = |r: Result<Id, ApiError>| r.err().map_or(200, |e| e.status.as_u16());
        assert_eq!(deal_side(&seller, &origin(true, false)).ok(), Some(seller_org));
        assert_eq!(deal_side(&buyer, &origin(true, true)).ok(), Some(buyer_org));
        assert_eq!(code(deal_side(&seller, &origin(false, true))), 403, "would reveal the buyer");
        assert_eq!(code(deal_side(&moderator, &origin(true, false))), 404);
        assert_eq!(code(deal_side(&moderator, &origin(false, false))), 403);

        assert_eq!(dismiss_match(&seller, seller_org, buyer_org).unwrap(), [seller_org]);
        assert_eq!(dismiss_match(&buyer, seller_org, buyer_org).unwrap(), [buyer_org]);
        assert!(dismiss_match(&moderator, seller_org, buyer_org).is_err());
    }
}
