//! Invitations to an organisation: sent by mail with a single-use token, listed, revoked,
//! accepted.

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::extract::{Json, Path};
use crate::api::validate::{Validator, normalize_email};
use crate::auth::OrgRole;
use crate::auth::extract::Auth;
use crate::auth::policy::{self, OrgAction};
use crate::db::dialect;
use crate::db::types::{InvitationId, OrganizationId, utc};
use crate::domain::lang::Lang;
use crate::error::ApiError;
use crate::mail::{self, Mail, Template};
use crate::state::AppState;
use crate::store::organizations::{self as store};
use crate::store::users;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvitationRequest {
    #[schema(example = "minh.tran@vast.vn")]
    pub email: String,
    pub role: OrgRole,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationDto {
    pub id: uuid::Uuid,
    pub organization_id: uuid::Uuid,
    pub email: String,
    pub role: OrgRole,
    pub expires_at: DateTime<Utc>,
}

/// Invite someone by email (owners). The mail carries a single-use token.
#[utoipa::path(
    tag = "organizations",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path)),
    request_body = InvitationRequest,
    responses(
        (status = 201, description = "Invitation mailed", body = InvitationDto),
        (status = 403, description = "Not an owner"),
        (status = 404, description = "No such organisation"),
    )
)]
#[post("/organizations/{id}/invitations")]
pub async fn invite_member(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<uuid::Uuid>,
    body: Json<InvitationRequest>,
) -> Result<HttpResponse, ApiError> {
    let org_id: OrganizationId = path.0.into();
    let actor = auth.0;
    let body = body.0;
    let mut v = Validator::new();
    v.email("email", &body.email);
    v.finish()?;
    let st = state.clone();
    let invitation = state
        .db
        .run(move |conn| -> Result<_, ApiError> {
            let org = store::get(conn, org_id)?;
            policy::organization(&actor, org_id, OrgAction::ManageMembers)?;
            let inviter = users::get(conn, actor.user_id)?;
            let email = normalize_email(&body.email);
            // Mail in the invitee's language when they already have an account.
            let lang = users::find_by_email(conn, &email)?
                .map_or(Lang::default(), |u| Lang::parse(&u.language).unwrap_or_default());
            dialect::write_transaction(conn, |conn| -> Result<_, ApiError> {
                let (invitation, token) = store::invite(
                    conn,
                    org_id,
                    &email,
                    body.role,
                    actor.user_id,
                    st.config.auth.invitation_ttl,
                )?;
                mail::enqueue(
                    conn,
                    &Mail {
                        to: body.email.trim().to_owned(),
                        template: Template::OrganizationInvitation,
                        lang,
                        context: serde_json::json!({
                            "organization_name": org.name,
                            "inviter_name": inviter.display_name,
                            "accept_url": st.config.mail.link(&format!("/invitations/accept?token={token}")),
                            "token": token,
                        }),
                    },
                )?;
                Ok(invitation)
            })
        })
        .await?;
    Ok(HttpResponse::Created().json(invitation_dto(invitation)))
}

fn invitation_dto(invitation: store::Invitation) -> InvitationDto {
    InvitationDto {
        id: invitation.id.into(),
        organization_id: invitation.organization_id.into(),
        email: invitation.email_normalized,
        role: OrgRole::parse(&invitation.role).unwrap_or(OrgRole::Member),
        expires_at: utc(invitation.expires_at),
    }
}

/// The organisation's pending invitations (owners): not yet accepted and not expired,
/// oldest first. Tokens are never shown.
#[utoipa::path(
    tag = "organizations",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path)),
    responses(
        (status = 200, body = Vec<InvitationDto>),
        (status = 401, description = "Not signed in"),
        (status = 403, description = "Not an owner"),
        (status = 404, description = "No such organisation"),
    )
)]
#[get("/organizations/{id}/invitations")]
pub async fn list_invitations(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let org: OrganizationId = path.0.into();
    let actor = auth.0;
    let pending = state
        .db
        .run(move |conn| -> Result<_, ApiError> {
            store::get(conn, org)?;
            policy::organization(&actor, org, OrgAction::ManageMembers)?;
            store::pending_invitations(conn, org).map_err(ApiError::from)
        })
        .await?;
    let body: Vec<InvitationDto> = pending.into_iter().map(invitation_dto).collect();
    Ok(HttpResponse::Ok().json(body))
}

/// Revoke an invitation that was not accepted (owners): its token is no longer accepted
/// (`POST /invitations/accept` answers 400 `invalid_token`).
#[utoipa::path(
    tag = "organizations",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), ("invitation_id" = uuid::Uuid, Path)),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "Not signed in"),
        (status = 403, description = "Not an owner"),
        (status = 404, description = "No such organisation, or no such invitation of it"),
        (status = 409, description = "Already accepted (`invitation_accepted`)"),
    )
)]
#[delete("/organizations/{id}/invitations/{invitation_id}")]
pub async fn revoke_invitation(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<(uuid::Uuid, uuid::Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (org, invitation): (OrganizationId, InvitationId) = (path.0.0.into(), path.0.1.into());
    let actor = auth.0;
    state
        .db
        .run(move |conn| -> Result<_, ApiError> {
            store::get(conn, org)?;
            policy::organization(&actor, org, OrgAction::ManageMembers)?;
            dialect::write_transaction(conn, |conn| store::revoke_invitation(conn, org, invitation))
                .map_err(ApiError::from)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitationRequest {
    pub token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AcceptedInvitationDto {
    pub organization_id: uuid::Uuid,
    pub role: OrgRole,
}

/// Accept an invitation with the mailed token; the signed-in user's email must be the
/// invited one.
#[utoipa::path(
    tag = "organizations",
    security(("bearer" = [])),
    request_body = AcceptInvitationRequest,
    responses(
        (status = 200, body = AcceptedInvitationDto),
        (status = 400, description = "Invalid, expired or used token (`invalid_token`)"),
        (status = 403, description = "The invitation was for another email"),
    )
)]
#[post("/invitations/accept")]
pub async fn accept_invitation(
    state: web::Data<AppState>,
    auth: Auth,
    body: Json<AcceptInvitationRequest>,
) -> Result<HttpResponse, ApiError> {
    let user_id = auth.0.user_id;
    let token = body.0.token;
    let (org, role) = state
        .db
        .run(move |conn| {
            dialect::write_transaction(conn, |conn| {
                let user = users::get(conn, user_id)?;
                store::accept_invitation(conn, &token, user_id, &user.email_normalized)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(AcceptedInvitationDto { organization_id: org.into(), role }))
}
