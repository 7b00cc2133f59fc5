//! Identity: who is calling (`Actor`), passwords, tokens, and the permission policy.

pub mod api_keys;
pub mod extract;
pub mod password;
pub mod policy;
pub mod secret;
pub mod tokens;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::types::{ApiKeyId, OrganizationId, SessionId, UserId};

/// Staff roles of the exchange itself; ordered admin > moderator > member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlatformRole {
    Admin,
    Moderator,
    Member,
}

impl PlatformRole {
    pub fn as_str(self) -> &'static str {
        match self {
            PlatformRole::Admin => "admin",
            PlatformRole::Moderator => "moderator",
            PlatformRole::Member => "member",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Self::Admin),
            "moderator" => Some(Self::Moderator),
            "member" => Some(Self::Member),
            _ => None,
        }
    }

    pub fn is_staff(self) -> bool {
        matches!(self, PlatformRole::Admin | PlatformRole::Moderator)
    }
}

/// A user's role inside one organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrgRole {
    Owner,
    Member,
}

impl OrgRole {
    pub fn as_str(self) -> &'static str {
        match self {
            OrgRole::Owner => "owner",
            OrgRole::Member => "member",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "owner" => Some(Self::Owner),
            "member" => Some(Self::Member),
            _ => None,
        }
    }
}

/// The authenticated caller, as the database knows them at this request (not as the token
/// claimed: a disabled account or a revoked role takes effect at once).
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: UserId,
    pub role: PlatformRole,
    /// Refresh-token family of the session the access token was issued for.
    pub session_id: SessionId,
    pub memberships: Vec<(OrganizationId, OrgRole)>,
    /// Set when the caller authenticated with an organisation API key: it acts as that
    /// organisation (its one membership), attributed to the user who created the key.
    pub api_key: Option<KeyActor>,
}

/// The API key a request authenticated with.
#[derive(Debug, Clone)]
pub struct KeyActor {
    pub id: ApiKeyId,
    pub organization_id: OrganizationId,
    /// The shown prefix, for logs (never the secret).
    pub prefix: String,
}

impl Actor {
    pub fn org_role(&self, organization: OrganizationId) -> Option<OrgRole> {
        self.memberships.iter().find(|(org, _)| *org == organization).map(|(_, role)| *role)
    }

    pub fn is_staff(&self) -> bool {
        self.role.is_staff()
    }

    /// How the audit log names this caller.
    pub fn audit(&self) -> crate::audit::AuditActor {
        crate::audit::AuditActor {
            user_id: self.user_id,
            api_key: self.api_key.as_ref().map(|k| (k.id, k.organization_id)),
            organizations: self.memberships.iter().map(|(org, _)| *org).collect(),
        }
    }
}
