//! Organisations, their members, invitations and verification history.

use chrono::{Duration as ChronoDuration, NaiveDateTime};
use diesel::prelude::*;

use crate::auth::OrgRole;
use crate::auth::secret::{random_token, token_hash};
use crate::db::DbConn;
use crate::db::schema::{
    invitations, memberships, organization_verifications, organizations, users,
};
use crate::db::types::{InvitationId, OrganizationId, UserId, VerificationId, now};
use crate::domain::fold::fold;
use crate::store::StoreError;
use crate::store::users::escape_like;

#[derive(Debug, Clone, Queryable)]
pub struct Organization {
    pub id: OrganizationId,
    pub name: String,
    pub name_folded: String,
    pub kind: String,
    pub tax_code: Option<String>,
    pub province: String,
    pub address: Option<String>,
    pub website: Option<String>,
    pub description: Option<String>,
    /// JSON array of sector codes.
    pub sectors: String,
    /// JSON array of services offered (intermediaries).
    pub services: String,
    pub verified: bool,
    pub verified_at: Option<NaiveDateTime>,
    pub created_by: UserId,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i32,
}

/// Editable profile fields, already validated.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    pub kind: String,
    pub tax_code: Option<String>,
    pub province: String,
    pub address: Option<String>,
    pub website: Option<String>,
    pub description: Option<String>,
    pub sectors: Vec<String>,
    pub services: Vec<String>,
}

use crate::store::json::list_text as json_list;

/// A stored set of strings ([`crate::store::json::list`]).
pub fn parse_list(text: &str) -> Vec<String> {
    crate::store::json::list(text)
}

pub fn profile_of(org: &Organization) -> Profile {
    Profile {
        name: org.name.clone(),
        kind: org.kind.clone(),
        tax_code: org.tax_code.clone(),
        province: org.province.clone(),
        address: org.address.clone(),
        website: org.website.clone(),
        description: org.description.clone(),
        sectors: parse_list(&org.sectors),
        services: parse_list(&org.services),
    }
}

/// Creates the organisation with its creator as owner.
pub fn create(
    conn: &mut DbConn,
    profile: &Profile,
    creator: UserId,
) -> Result<Organization, StoreError> {
    let at = now();
    let id = OrganizationId::new();
    let org: Organization = diesel::insert_into(organizations::table)
        .values((
            organizations::id.eq(id),
            organizations::name.eq(&profile.name),
            organizations::name_folded.eq(fold(&profile.name)),
            organizations::kind.eq(&profile.kind),
            organizations::tax_code.eq(&profile.tax_code),
            organizations::province.eq(&profile.province),
            organizations::address.eq(&profile.address),
            organizations::website.eq(&profile.website),
            organizations::description.eq(&profile.description),
            organizations::sectors.eq(json_list(&profile.sectors)),
            organizations::services.eq(json_list(&profile.services)),
            organizations::verified.eq(false),
            organizations::created_by.eq(creator),
            organizations::created_at.eq(at),
            organizations::updated_at.eq(at),
            organizations::version.eq(1),
        ))
        .returning(organizations::all_columns)
        .get_result(conn)?;
    diesel::insert_into(memberships::table)
        .values((
            memberships::organization_id.eq(id),
            memberships::user_id.eq(creator),
            memberships::role.eq(OrgRole::Owner.as_str()),
            memberships::created_at.eq(at),
        ))
        .execute(conn)?;
    Ok(org)
}

pub fn find(conn: &mut DbConn, id: OrganizationId) -> Result<Option<Organization>, StoreError> {
    Ok(organizations::table.find(id).select(organizations::all_columns).first(conn).optional()?)
}

pub fn get(conn: &mut DbConn, id: OrganizationId) -> Result<Organization, StoreError> {
    find(conn, id)?.ok_or_else(|| StoreError::not_found("No such organisation."))
}

/// Replaces the profile if the stored version is still `expected_version` (412 otherwise).
pub fn update(
    conn: &mut DbConn,
    id: OrganizationId,
    expected_version: i32,
    profile: &Profile,
) -> Result<Organization, StoreError> {
    let updated = diesel::update(
        organizations::table.find(id).filter(organizations::version.eq(expected_version)),
    )
    .set((
        organizations::name.eq(&profile.name),
        organizations::name_folded.eq(fold(&profile.name)),
        organizations::tax_code.eq(&profile.tax_code),
        organizations::province.eq(&profile.province),
        organizations::address.eq(&profile.address),
        organizations::website.eq(&profile.website),
        organizations::description.eq(&profile.description),
        organizations::sectors.eq(json_list(&profile.sectors)),
        organizations::services.eq(json_list(&profile.services)),
        organizations::updated_at.eq(now()),
        organizations::version.eq(organizations::version + 1),
    ))
    .returning(organizations::all_columns)
    .get_result(conn)
    .optional()?;
    match updated {
        Some(org) => Ok(org),
        None => {
            get(conn, id)?;
            Err(StoreError::Stale)
        }
    }
}

#[derive(Debug, Default)]
pub struct Filter {
    pub q: Option<String>,
    pub kind: Option<String>,
    pub province: Option<String>,
    pub sector: Option<String>,
    pub service: Option<String>,
    pub verified: Option<bool>,
}

pub fn list(
    conn: &mut DbConn,
    filter: &Filter,
    offset: i64,
    limit: i64,
) -> Result<(Vec<Organization>, i64), StoreError> {
    let query = || {
        let mut q = organizations::table.into_boxed();
        if let Some(text) = filter.q.as_deref().map(fold).filter(|t| !t.is_empty()) {
            q = q.filter(
                organizations::name_folded.like(format!("%{}%", escape_like(&text))).escape('\\'),
            );
        }
        if let Some(kind) = &filter.kind {
            q = q.filter(organizations::kind.eq(kind.clone()));
        }
        if let Some(province) = &filter.province {
            q = q.filter(organizations::province.eq(province.clone()));
        }
        if let Some(sector) = &filter.sector {
            // Sectors are a JSON array of codes: a field code also matches its sub-fields.
            let exact = format!("%\"{}\"%", escape_like(sector));
            let children = format!("%\"{}.%", escape_like(sector));
            q = q.filter(
                organizations::sectors
                    .like(exact)
                    .escape('\\')
                    .or(organizations::sectors.like(children).escape('\\')),
            );
        }
        if let Some(service) = &filter.service {
            q = q.filter(
                organizations::services
                    .like(format!("%\"{}\"%", escape_like(service)))
                    .escape('\\'),
            );
        }
        if let Some(verified) = filter.verified {
            q = q.filter(organizations::verified.eq(verified));
        }
        q
    };
    let total = query().count().get_result(conn)?;
    let items = query()
        .select(organizations::all_columns)
        .order((organizations::name_folded.asc(), organizations::id.asc()))
        .offset(offset)
        .limit(limit)
        .load(conn)?;
    Ok((items, total))
}

#[derive(Debug, Clone, Queryable)]
pub struct Member {
    pub user_id: UserId,
    pub display_name: String,
    pub email: String,
    pub role: String,
    pub joined_at: NaiveDateTime,
}

pub fn members(conn: &mut DbConn, org: OrganizationId) -> Result<Vec<Member>, StoreError> {
    Ok(memberships::table
        .inner_join(users::table)
        .filter(memberships::organization_id.eq(org))
        .select((
            users::id,
            users::display_name,
            users::email,
            memberships::role,
            memberships::created_at,
        ))
        .order(memberships::created_at.asc())
        .load(conn)?)
}

fn member_role(
    conn: &mut DbConn,
    org: OrganizationId,
    user: UserId,
) -> Result<OrgRole, StoreError> {
    let role: Option<String> =
        memberships::table.find((org, user)).select(memberships::role).first(conn).optional()?;
    role.as_deref()
        .and_then(OrgRole::parse)
        .ok_or_else(|| StoreError::not_found("This user is not a member of the organisation."))
}

fn owner_count(conn: &mut DbConn, org: OrganizationId) -> Result<i64, StoreError> {
    Ok(memberships::table
        .filter(memberships::organization_id.eq(org))
        .filter(memberships::role.eq(OrgRole::Owner.as_str()))
        .count()
        .get_result(conn)?)
}

fn last_owner() -> StoreError {
    StoreError::conflict(
        "last_owner",
        "An organisation needs at least one owner: make someone else owner first.",
    )
}

/// Changes a member's role; the last owner cannot be demoted. Run in a write transaction.
pub fn set_member_role(
    conn: &mut DbConn,
    org: OrganizationId,
    user: UserId,
    role: OrgRole,
) -> Result<(), StoreError> {
    let current = member_role(conn, org, user)?;
    if current == OrgRole::Owner && role != OrgRole::Owner && owner_count(conn, org)? <= 1 {
        return Err(last_owner());
    }
    diesel::update(memberships::table.find((org, user)))
        .set(memberships::role.eq(role.as_str()))
        .execute(conn)?;
    Ok(())
}

/// Removes a member; the last owner cannot leave. Run in a write transaction.
pub fn remove_member(
    conn: &mut DbConn,
    org: OrganizationId,
    user: UserId,
) -> Result<(), StoreError> {
    let current = member_role(conn, org, user)?;
    if current == OrgRole::Owner && owner_count(conn, org)? <= 1 {
        return Err(last_owner());
    }
    diesel::delete(memberships::table.find((org, user))).execute(conn)?;
    Ok(())
}

#[derive(Debug, Clone, Queryable)]
pub struct Invitation {
    pub id: InvitationId,
    pub organization_id: OrganizationId,
    pub email_normalized: String,
    pub role: String,
    pub token_hash: String,
    pub invited_by: UserId,
    pub expires_at: NaiveDateTime,
    pub accepted_at: Option<NaiveDateTime>,
    pub accepted_by: Option<UserId>,
    pub created_at: NaiveDateTime,
}

/// Records an invitation; returns it with the secret token to mail.
pub fn invite(
    conn: &mut DbConn,
    org: OrganizationId,
    email_normalized: &str,
    role: OrgRole,
    invited_by: UserId,
    ttl: std::time::Duration,
) -> Result<(Invitation, String), StoreError> {
    let token = random_token();
    let at = now();
    let invitation = diesel::insert_into(invitations::table)
        .values((
            invitations::id.eq(InvitationId::new()),
            invitations::organization_id.eq(org),
            invitations::email_normalized.eq(email_normalized),
            invitations::role.eq(role.as_str()),
            invitations::token_hash.eq(token_hash(&token)),
            invitations::invited_by.eq(invited_by),
            invitations::expires_at
                .eq(at + ChronoDuration::from_std(ttl).unwrap_or(ChronoDuration::days(7))),
            invitations::created_at.eq(at),
        ))
        .returning(invitations::all_columns)
        .get_result(conn)?;
    Ok((invitation, token))
}

/// The organisation's invitations that can still be accepted (not accepted, not expired),
/// oldest first.
pub fn pending_invitations(
    conn: &mut DbConn,
    org: OrganizationId,
) -> Result<Vec<Invitation>, StoreError> {
    Ok(invitations::table
        .filter(invitations::organization_id.eq(org))
        .filter(invitations::accepted_at.is_null())
        .filter(invitations::expires_at.gt(now()))
        .order((invitations::created_at, invitations::id))
        .select(invitations::all_columns)
        .load(conn)?)
}

/// Revokes an invitation of `org` that was not accepted: the row goes, so its token is no
/// longer accepted. 404 when `org` has no such invitation; 409 `invitation_accepted` when it
/// was already used (the membership is managed through the members instead).
pub fn revoke_invitation(
    conn: &mut DbConn,
    org: OrganizationId,
    invitation: InvitationId,
) -> Result<(), StoreError> {
    let found: Option<Option<NaiveDateTime>> = invitations::table
        .find(invitation)
        .filter(invitations::organization_id.eq(org))
        .select(invitations::accepted_at)
        .first(conn)
        .optional()?;
    match found {
        None => Err(StoreError::not_found("No such invitation.")),
        Some(Some(_)) => Err(StoreError::conflict(
            "invitation_accepted",
            "This invitation was already accepted; remove the member instead.",
        )),
        Some(None) => {
            let rows = diesel::delete(
                invitations::table.find(invitation).filter(invitations::accepted_at.is_null()),
            )
            .execute(conn)?;
            if rows == 1 {
                Ok(())
            } else {
                Err(StoreError::conflict(
                    "invitation_accepted",
                    "This invitation was accepted meanwhile; remove the member instead.",
                ))
            }
        }
    }
}

/// Accepts an invitation for `user` (whose email must be the invited one). Returns the
/// organisation and role. Run in a write transaction.
pub fn accept_invitation(
    conn: &mut DbConn,
    token: &str,
    user: UserId,
    user_email_normalized: &str,
) -> Result<(OrganizationId, OrgRole), StoreError> {
    let at = now();
    let invalid = || {
        StoreError::refused("invalid_token", "The invitation is invalid, expired or already used.")
    };
    let invitation: Invitation = invitations::table
        .filter(invitations::token_hash.eq(token_hash(token)))
        .filter(invitations::accepted_at.is_null())
        .filter(invitations::expires_at.gt(at))
        .select(invitations::all_columns)
        .first(conn)
        .optional()?
        .ok_or_else(invalid)?;
    if invitation.email_normalized != user_email_normalized {
        return Err(StoreError::Forbidden(
            "This invitation was sent to another email address.".to_owned(),
        ));
    }
    let role = OrgRole::parse(&invitation.role).ok_or_else(|| {
        StoreError::corrupt("invitations", "role", format!("unknown role {:?}", invitation.role))
    })?;
    let accepted = diesel::update(
        invitations::table.find(invitation.id).filter(invitations::accepted_at.is_null()),
    )
    .set((invitations::accepted_at.eq(at), invitations::accepted_by.eq(user)))
    .execute(conn)?;
    if accepted != 1 {
        return Err(invalid());
    }
    let existing: Option<String> = memberships::table
        .find((invitation.organization_id, user))
        .select(memberships::role)
        .first(conn)
        .optional()?;
    match existing {
        None => {
            diesel::insert_into(memberships::table)
                .values((
                    memberships::organization_id.eq(invitation.organization_id),
                    memberships::user_id.eq(user),
                    memberships::role.eq(role.as_str()),
                    memberships::created_at.eq(at),
                ))
                .execute(conn)?;
        }
        // Already a member: an owner invitation promotes, a member one never demotes.
        Some(current) if current != role.as_str() && role == OrgRole::Owner => {
            diesel::update(memberships::table.find((invitation.organization_id, user)))
                .set(memberships::role.eq(role.as_str()))
                .execute(conn)?;
        }
        Some(_) => {}
    }
    Ok((invitation.organization_id, role))
}

/// Records a verification decision and updates the organisation's flag.
pub fn set_verification(
    conn: &mut DbConn,
    org: OrganizationId,
    verified: bool,
    note: Option<&str>,
    decided_by: UserId,
) -> Result<Organization, StoreError> {
    get(conn, org)?;
    let at = now();
    diesel::insert_into(organization_verifications::table)
        .values((
            organization_verifications::id.eq(VerificationId::new()),
            organization_verifications::organization_id.eq(org),
            organization_verifications::status.eq(if verified { "verified" } else { "revoked" }),
            organization_verifications::note.eq(note),
            organization_verifications::decided_by.eq(decided_by),
            organization_verifications::created_at.eq(at),
        ))
        .execute(conn)?;
    Ok(diesel::update(organizations::table.find(org))
        .set((
            organizations::verified.eq(verified),
            organizations::verified_at.eq(verified.then_some(at)),
            organizations::updated_at.eq(at),
            organizations::version.eq(organizations::version + 1),
        ))
        .returning(organizations::all_columns)
        .get_result(conn)?)
}

/// Someone to notify on behalf of an organisation.
#[derive(Debug, Clone, Queryable)]
pub struct Contact {
    pub email: String,
    pub language: String,
    pub display_name: String,
}

/// The owners of `org` whose accounts are active: who hears about the organisation's
/// listings.
pub fn owner_contacts(conn: &mut DbConn, org: OrganizationId) -> Result<Vec<Contact>, StoreError> {
    Ok(memberships::table
        .inner_join(users::table)
        .filter(memberships::organization_id.eq(org))
        .filter(memberships::role.eq(OrgRole::Owner.as_str()))
        .filter(users::disabled_at.is_null())
        .select((users::email, users::language, users::display_name))
        .order(memberships::created_at.asc())
        .load(conn)?)
}

/// Queues `template` with `context` to every owner of `org`, each in their language; returns
/// how many were queued. Run in the transaction of the change the mail announces.
pub fn mail_owners(
    conn: &mut DbConn,
    org: OrganizationId,
    template: crate::mail::Template,
    context: &serde_json::Value,
) -> Result<usize, StoreError> {
    let owners = owner_contacts(conn, org)?;
    for owner in &owners {
        crate::mail::enqueue(
            conn,
            &crate::mail::Mail {
                to: owner.email.clone(),
                template,
                lang: crate::domain::lang::Lang::parse(&owner.language).unwrap_or_default(),
                context: context.clone(),
            },
        )?;
    }
    Ok(owners.len())
}
