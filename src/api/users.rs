//! The signed-in user (`/me`) and user administration (`/admin/users`).

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::api::common::{Page, PageParams};
use crate::api::extract::{Json, Path, Query};
use crate::api::validate::Validator;
use crate::auth::extract::Auth;
use crate::auth::policy::{self, PlatformAction};
use crate::auth::{OrgRole, PlatformRole, password};
use crate::db::dialect;
use crate::db::schema::{memberships, organizations};
use crate::db::types::{OrganizationId, OutboxId, UserId, utc};
use crate::domain::lang::Lang;
use crate::error::ApiError;
use crate::mail::{self, Mail, Template};
use crate::state::AppState;
use crate::store::{sessions, users};

#[derive(Debug, Serialize, ToSchema)]
pub struct UserDto {
    pub id: uuid::Uuid,
    #[schema(example = "lan.nguyen@vast.vn")]
    pub email: String,
    #[schema(example = "Nguyễn Thị Lan")]
    pub display_name: String,
    pub language: Lang,
    pub platform_role: PlatformRole,
    pub email_verified: bool,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}

impl From<&users::User> for UserDto {
    fn from(u: &users::User) -> Self {
        Self {
            id: u.id.into(),
            email: u.email.clone(),
            display_name: u.display_name.clone(),
            language: Lang::parse(&u.language).unwrap_or_default(),
            platform_role: PlatformRole::parse(&u.platform_role).unwrap_or(PlatformRole::Member),
            email_verified: u.email_verified_at.is_some(),
            disabled: u.disabled_at.is_some(),
            created_at: utc(u.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MembershipDto {
    pub organization_id: uuid::Uuid,
    pub organization_name: String,
    pub role: OrgRole,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MeDto {
    #[serde(flatten)]
    pub user: UserDto,
    /// Organisations the user acts for.
    pub memberships: Vec<MembershipDto>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMeRequest {
    pub display_name: Option<String>,
    pub language: Option<Lang>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    #[schema(example = "nông nghiệp xanh 2026")]
    pub current_password: String,
    /// At least 10 characters, not the email address, not a common password.
    #[schema(example = "cà phê sữa đá 2027")]
    pub new_password: String,
}

fn me_dto(conn: &mut crate::db::DbConn, user: &users::User) -> Result<MeDto, ApiError> {
    use diesel::prelude::*;
    let rows: Vec<(OrganizationId, String, String)> = memberships::table
        .inner_join(organizations::table)
        .filter(memberships::user_id.eq(user.id))
        .select((organizations::id, organizations::name, memberships::role))
        .order(organizations::name.asc())
        .load(conn)?;
    Ok(MeDto {
        user: UserDto::from(user),
        memberships: rows
            .into_iter()
            .filter_map(|(id, name, role)| {
                OrgRole::parse(&role).map(|role| MembershipDto {
                    organization_id: id.into(),
                    organization_name: name,
                    role,
                })
            })
            .collect(),
    })
}

/// The signed-in user and their organisations.
#[utoipa::path(
    tag = "me",
    security(("bearer" = [])),
    responses((status = 200, body = MeDto))
)]
#[get("/me")]
pub async fn get_me(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, ApiError> {
    let id = auth.0.user_id;
    let me = state
        .db
        .run(move |conn| {
            let user = users::get(conn, id)?;
            me_dto(conn, &user)
        })
        .await?;
    Ok(HttpResponse::Ok().json(me))
}

/// Change display name or language.
#[utoipa::path(
    tag = "me",
    security(("bearer" = [])),
    request_body = UpdateMeRequest,
    responses((status = 200, body = MeDto))
)]
#[patch("/me")]
pub async fn update_me(
    state: web::Data<AppState>,
    auth: Auth,
    body: Json<UpdateMeRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let mut v = Validator::new();
    if let Some(name) = &body.display_name {
        v.text("display_name", name, 100);
    }
    v.finish()?;
    let id = auth.0.user_id;
    let me = state
        .db
        .run(move |conn| {
            let user = users::update_profile(
                conn,
                id,
                body.display_name.as_deref(),
                body.language.map(Lang::code),
            )?;
            me_dto(conn, &user)
        })
        .await?;
    Ok(HttpResponse::Ok().json(me))
}

/// Change the password (needs the current one); every other session is signed out.
#[utoipa::path(
    tag = "me",
    security(("bearer" = [])),
    request_body = ChangePasswordRequest,
    responses(
        (status = 204, description = "Changed; other sessions revoked"),
        (status = 403, description = "The current password is wrong (`wrong_password`)"),
    )
)]
#[post("/me/password")]
pub async fn change_password(
    state: web::Data<AppState>,
    auth: Auth,
    body: Json<ChangePasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    let ChangePasswordRequest { current_password, new_password } = body.0;
    let actor = auth.0;
    let id = actor.user_id;
    let user = state.db.run(move |conn| users::get(conn, id)).await?;
    password::check_policy("new_password", &new_password, &user.email)?;
    let stored = user.password_hash.clone();
    let (matches, hash) = crate::auth::password::blocking(move || {
        let matches = password::verify(&stored, &current_password);
        (matches, matches.then(|| password::hash(&new_password)))
    })
    .await?;
    if !matches {
        return Err(ApiError::new(
            actix_web::http::StatusCode::FORBIDDEN,
            "wrong_password",
            "The current password is wrong.",
        ));
    }
    let hash = hash.ok_or_else(ApiError::internal)??;
    state
        .db
        .run(move |conn| {
            dialect::write_transaction(conn, |conn| -> Result<_, ApiError> {
                users::set_password(conn, id, &hash)?;
                sessions::revoke_all_for_user(conn, id, Some(actor.session_id))?;
                mail::enqueue(
                    conn,
                    &Mail {
                        to: user.email.clone(),
                        template: Template::PasswordChanged,
                        lang: Lang::parse(&user.language).unwrap_or_default(),
                        context: serde_json::json!({ "display_name": user.display_name }),
                    },
                )?;
                Ok(())
            })
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserFilterParams {
    /// Part of the email or display name.
    pub q: Option<String>,
    #[param(inline)]
    pub role: Option<PlatformRole>,
    pub disabled: Option<bool>,
}

/// List accounts (administrators).
#[utoipa::path(
    tag = "admin",
    security(("bearer" = [])),
    params(UserFilterParams, PageParams),
    responses(
        (status = 200, body = Page<UserDto>),
        (status = 403, description = "Administrators only"),
    )
)]
#[get("/admin/users")]
pub async fn list_users(
    state: web::Data<AppState>,
    auth: Auth,
    filter: Query<UserFilterParams>,
    paging: Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    policy::platform(&auth.0, PlatformAction::ListUsers)?;
    let page = paging.0.resolve()?;
    let filter =
        users::UserFilter { q: filter.0.q, role: filter.0.role, disabled: filter.0.disabled };
    let (items, total) =
        state.db.run(move |conn| users::list(conn, &filter, page.offset(), page.limit())).await?;
    Ok(HttpResponse::Ok().json(Page::new(items.iter().map(UserDto::from).collect(), page, total)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminUserUpdate {
    /// Grant (`moderator`) or revoke (`member`) the moderator role; `admin` cannot be granted
    /// here (use `techx admin create`).
    pub platform_role: Option<PlatformRole>,
    /// Disabling an account stops its tokens at once.
    pub disabled: Option<bool>,
}

/// Grant or revoke the moderator role, disable or re-enable an account (administrators).
#[utoipa::path(
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "User id")),
    request_body = AdminUserUpdate,
    responses(
        (status = 200, body = UserDto),
        (status = 403, description = "Administrators only"),
        (status = 404, description = "No such user"),
        (status = 409, description = "An administrator's role cannot be changed (`admin_role_fixed`)"),
    )
)]
#[patch("/admin/users/{id}")]
pub async fn update_user(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<uuid::Uuid>,
    body: Json<AdminUserUpdate>,
) -> Result<HttpResponse, ApiError> {
    policy::platform(&auth.0, PlatformAction::ManageUsers)?;
    let body = body.0;
    if body.platform_role == Some(PlatformRole::Admin) {
        return Err(ApiError::invalid("platform_role", "must be moderator or member"));
    }
    let id: UserId = path.0.into();
    if id == auth.0.user_id && body.disabled == Some(true) {
        return Err(ApiError::conflict(
            "cannot_disable_self",
            "You cannot disable your own account.",
        ));
    }
    let user = state
        .db
        .run(move |conn| {
            dialect::write_transaction(conn, |conn| -> Result<_, ApiError> {
                let user = users::admin_update(conn, id, body.platform_role, body.disabled)?;
                if body.disabled == Some(true) {
                    sessions::revoke_all_for_user(conn, id, None)?;
                }
                Ok(user)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(UserDto::from(&user)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OutboxFilter {
    /// Only rows in this delivery state.
    #[param(inline)]
    pub status: Option<crate::store::outbox::OutboxStatus>,
}

/// Delivery state of queued mail and webhooks (moderators and administrators). Payloads are
/// not shown: they may hold tokens.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = [])),
    params(OutboxFilter, PageParams),
    responses(
        (status = 200, body = Page<crate::mail::OutboxEntry>),
        (status = 403, description = "Staff only"),
    )
)]
#[get("/admin/outbox")]
pub async fn list_outbox(
    state: web::Data<AppState>,
    auth: Auth,
    filter: Query<OutboxFilter>,
    paging: Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    policy::platform(&auth.0, PlatformAction::ViewOutbox)?;
    let page = paging.0.resolve()?;
    let status = filter.0.status;
    let (rows, total) = state
        .db
        .run(move |conn| {
            crate::store::outbox::list(conn, status, i64::from(page.page), i64::from(page.per_page))
        })
        .await?;
    let items =
        rows.into_iter().map(crate::mail::OutboxEntry::try_from).collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(Page::new(items, page, total)))
}

/// Put a `failed` mail or webhook back in the queue (moderators and administrators): it is
/// due at once and gets `TECHX_OUTBOX_MAX_ATTEMPTS` new attempts.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Outbox row id")),
    responses(
        (status = 200, description = "Re-queued (`pending`)", body = crate::mail::OutboxEntry),
        (status = 403, description = "Staff only"),
        (status = 404, description = "No such row"),
        (status = 409, description = "The row is not `failed` (`outbox_not_failed`)"),
    )
)]
#[post("/admin/outbox/{id}/retry")]
pub async fn retry_outbox(
    state: web::Data<AppState>,
    auth: Auth,
    id: Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    policy::platform(&auth.0, PlatformAction::RetryOutbox)?;
    let id = OutboxId::from(id.0);
    let requeued = state.db.run(move |conn| crate::store::outbox::requeue(conn, id)).await?;
    match requeued {
        None => Err(ApiError::not_found("No outbox row has this id.")),
        Some(Err(status)) => Err(ApiError::conflict(
            "outbox_not_failed",
            format!("Only failed rows can be retried; this one is {}.", status.as_str()),
        )),
        Some(Ok(row)) => {
            tracing::info!(outbox_id = %row.id, actor = %auth.0.user_id, "failed outbox row re-queued");
            Ok(HttpResponse::Ok().json(crate::mail::OutboxEntry::try_from(row)?))
        }
    }
}

/// The users routes, in the order the OpenAPI document lists them.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(get_me)
        .service(update_me)
        .service(change_password)
        .service(list_users)
        .service(update_user)
        .service(list_outbox)
        .service(retry_outbox);
}
