//! The one place that answers "may this caller do this?". Handlers ask; they do not
//! re-implement checks.
//!
//! Organisation profiles are public, so refusing an action on one is 403; objects whose
//! existence is private answer 404 from their own visibility rules.

use super::{Actor, OrgRole, PlatformRole};
use crate::db::types::Id;
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlatformAction {
    ListUsers,
    ManageUsers,
    ViewOutbox,
    Moderate,
}

pub fn organization(actor: &Actor, org: Id, action: OrgAction) -> Result<(), ApiError> {
    let role = actor.org_role(org);
    let allowed = match action {
        OrgAction::Update | OrgAction::ManageMembers | OrgAction::ManageWebhooks => {
            role == Some(OrgRole::Owner)
        }
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
        PlatformAction::ViewOutbox | PlatformAction::Moderate => actor.is_staff(),
    };
    if allowed { Ok(()) } else { Err(ApiError::forbidden("Your role does not allow this.")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(role: PlatformRole, memberships: Vec<(Id, OrgRole)>) -> Actor {
        Actor { user_id: Id::new(), role, session_id: Id::new(), memberships }
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
}
