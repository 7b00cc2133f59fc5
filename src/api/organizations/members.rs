//! An organisation's members: listed, their roles changed, removed (or leaving).

use actix_web::{HttpResponse, delete, get, patch, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::extract::{Json, Path};
use crate::auth::OrgRole;
use crate::auth::extract::Auth;
use crate::auth::policy::{self, OrgAction};
use crate::db::dialect;
use crate::db::types::{OrganizationId, UserId, utc};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::organizations::{self as store};

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberDto {
    pub user_id: uuid::Uuid,
    pub display_name: String,
    pub email: String,
    pub role: OrgRole,
    pub joined_at: DateTime<Utc>,
}

/// Members of an organisation (its members and staff).
#[utoipa::path(
    tag = "organizations",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path)),
    responses(
        (status = 200, body = Vec<MemberDto>),
        (status = 403, description = "Not a member"),
        (status = 404, description = "No such organisation"),
    )
)]
#[get("/organizations/{id}/members")]
pub async fn list_members(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id: OrganizationId = path.0.into();
    let actor = auth.0;
    let members = state
        .db
        .run(move |conn| -> Result<_, ApiError> {
            store::get(conn, id)?;
            policy::organization(&actor, id, OrgAction::ViewMembers)?;
            store::members(conn, id).map_err(ApiError::from)
        })
        .await?;
    let body: Vec<MemberDto> = members
        .into_iter()
        .map(|m| MemberDto {
            user_id: m.user_id.into(),
            display_name: m.display_name,
            email: m.email,
            role: OrgRole::parse(&m.role).unwrap_or(OrgRole::Member),
            joined_at: utc(m.joined_at),
        })
        .collect();
    Ok(HttpResponse::Ok().json(body))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberRoleRequest {
    pub role: OrgRole,
}

/// Change a member's role (owners). The last owner cannot be demoted.
#[utoipa::path(
    tag = "organizations",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), ("user_id" = uuid::Uuid, Path)),
    request_body = MemberRoleRequest,
    responses(
        (status = 204, description = "Role changed"),
        (status = 403, description = "Not an owner"),
        (status = 404, description = "No such organisation or member"),
        (status = 409, description = "Would leave the organisation without an owner (`last_owner`)"),
    )
)]
#[patch("/organizations/{id}/members/{user_id}")]
pub async fn set_member_role(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<(uuid::Uuid, uuid::Uuid)>,
    body: Json<MemberRoleRequest>,
) -> Result<HttpResponse, ApiError> {
    let (org, user) = (OrganizationId::from(path.0.0), UserId::from(path.0.1));
    let actor = auth.0;
    let role = body.0.role;
    state
        .db
        .run(move |conn| -> Result<_, ApiError> {
            store::get(conn, org)?;
            policy::organization(&actor, org, OrgAction::ManageMembers)?;
            dialect::write_transaction(conn, |conn| store::set_member_role(conn, org, user, role))
                .map_err(ApiError::from)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Remove a member (owners), or leave (any member removing themselves). The last owner
/// cannot leave.
#[utoipa::path(
    tag = "organizations",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), ("user_id" = uuid::Uuid, Path)),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, description = "Not allowed"),
        (status = 404, description = "No such organisation or member"),
        (status = 409, description = "Would leave the organisation without an owner (`last_owner`)"),
    )
)]
#[delete("/organizations/{id}/members/{user_id}")]
pub async fn remove_member(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<(uuid::Uuid, uuid::Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (org, user) = (OrganizationId::from(path.0.0), UserId::from(path.0.1));
    let actor = auth.0;
    state
        .db
        .run(move |conn| -> Result<_, ApiError> {
            store::get(conn, org)?;
            policy::organization(&actor, org, OrgAction::RemoveMember(user))?;
            dialect::write_transaction(conn, |conn| store::remove_member(conn, org, user))
                .map_err(ApiError::from)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
