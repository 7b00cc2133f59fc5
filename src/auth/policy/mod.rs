//! The one place that answers "may this caller do this?". Handlers ask; they do not
//! re-implement checks.
//!
//! Organisation profiles are public, so refusing an action on one is 403; objects whose
//! existence is private answer 404 from their own visibility rules.
//!
//! One file per concern: moderated resources (listings, demands, their matches and
//! proposals), deals, enquiries, valuations; organisations and the platform are here.

mod deals;
mod inquiries;
mod moderated;
mod valuations;

pub use deals::*;
pub use inquiries::*;
pub use moderated::*;
pub use valuations::*;

use super::{Actor, OrgRole, PlatformRole};
use crate::db::types::{OrganizationId, UserId};
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
    RemoveMember(UserId),
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

pub fn organization(actor: &Actor, org: OrganizationId, action: OrgAction) -> Result<(), ApiError> {
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
mod tests;
