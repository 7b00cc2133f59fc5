use super::*;
use crate::db::types::{OrganizationId, SessionId, UserId};
use crate::domain::listing::ContactVisibility;

fn actor(role: PlatformRole, memberships: Vec<(OrganizationId, OrgRole)>) -> Actor {
    Actor { user_id: UserId::new(), role, session_id: SessionId::new(), memberships, api_key: None }
}

#[test]
fn owners_members_outsiders_and_staff() {
    let org = OrganizationId::new();
    let owner = actor(PlatformRole::Member, vec![(org, OrgRole::Owner)]);
    let member = actor(PlatformRole::Member, vec![(org, OrgRole::Member)]);
    let outsider = actor(PlatformRole::Member, vec![(OrganizationId::new(), OrgRole::Owner)]);
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
    use ModeratedAction::*;
    let org = OrganizationId::new();
    let member = actor(PlatformRole::Member, vec![(org, OrgRole::Member)]);
    let outsider = actor(PlatformRole::Member, vec![(OrganizationId::new(), OrgRole::Owner)]);
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
    let org = OrganizationId::new();
    assert!(activity_reports(&actor(PlatformRole::Moderator, vec![])).is_ok());
    assert!(activity_reports(&actor(PlatformRole::Admin, vec![])).is_ok());
    let owner = actor(PlatformRole::Member, vec![(org, OrgRole::Owner)]);
    assert_eq!(activity_reports(&owner).unwrap_err().status.as_u16(), 403);
}

#[test]
fn deals_belong_to_their_parties() {
    use DealAction::*;
    let (buyer, seller, broker) =
        (OrganizationId::new(), OrganizationId::new(), OrganizationId::new());
    let parties = DealParties { buyer, seller, broker: Some(broker) };
    let status = |r: Result<(), ApiError>| r.err().map_or(200, |e| e.status.as_u16());
    let of = |org| actor(PlatformRole::Member, vec![(org, OrgRole::Member)]);
    let outsider = of(OrganizationId::new());
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
    let (requester, owner, appraiser) =
        (OrganizationId::new(), OrganizationId::new(), OrganizationId::new());
    let of = |org| actor(PlatformRole::Member, vec![(org, OrgRole::Member)]);
    let outsider = of(OrganizationId::new());
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
        request_valuation(&member, requester, owner, Some([None, None, Some(requester)])).is_ok()
    );
    assert!(request_valuation(&member, requester, owner, Some([Some(owner), None, None])).is_err());
    assert!(request_valuation(&outsider, requester, requester, None).is_err());
}

#[test]
fn demands_matches_proposals_and_dismissals() {
    let buyer_org = OrganizationId::new();
    let seller_org = OrganizationId::new();
    let buyer = actor(PlatformRole::Member, vec![(buyer_org, OrgRole::Member)]);
    let seller = actor(PlatformRole::Member, vec![(seller_org, OrgRole::Owner)]);
    let moderator = actor(PlatformRole::Moderator, vec![]);
    let status = |r: Result<(), ApiError>| r.err().map_or(200, |e| e.status.as_u16());

    // Demands share the listings' rules, with their own 404.
    let hidden = demand(Some(&seller), buyer_org, false, ModeratedAction::View).unwrap_err();
    assert_eq!((hidden.status.as_u16(), hidden.detail.as_str()), (404, "No such demand."));
    assert_eq!(status(demand(Some(&buyer), buyer_org, false, ModeratedAction::Manage)), 200);

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
    let code = |r: Result<OrganizationId, ApiError>| r.err().map_or(200, |e| e.status.as_u16());
    assert_eq!(deal_side(&seller, &origin(true, false)).ok(), Some(seller_org));
    assert_eq!(deal_side(&buyer, &origin(true, true)).ok(), Some(buyer_org));
    assert_eq!(code(deal_side(&seller, &origin(false, true))), 403, "would reveal the buyer");
    assert_eq!(code(deal_side(&moderator, &origin(true, false))), 404);
    assert_eq!(code(deal_side(&moderator, &origin(false, false))), 403);

    assert_eq!(dismiss_match(&seller, seller_org, buyer_org).unwrap(), [seller_org]);
    assert_eq!(dismiss_match(&buyer, seller_org, buyer_org).unwrap(), [buyer_org]);
    assert!(dismiss_match(&moderator, seller_org, buyer_org).is_err());
}
