//! `Auth` (a signed-in caller is required) and `MaybeAuth` (anonymous is fine) extractors.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use diesel::prelude::*;
use futures_util::future::LocalBoxFuture;

use std::sync::Arc;

use actix_web::HttpMessage;

use super::{Actor, OrgRole, PlatformRole, api_keys};
use crate::audit::Recorder;
use crate::db::schema::{memberships, refresh_tokens, users};
use crate::db::types::{OrganizationId, SessionId, UserId};
use crate::error::ApiError;
use crate::state::AppState;

/// The signed-in caller; 401 problem when the token is missing, invalid or expired, or the
/// account was disabled.
pub struct Auth(pub Actor);

/// The caller if signed in; a present but invalid token is still 401.
pub struct MaybeAuth(pub Option<Actor>);

fn bearer(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else { return Ok(None) };
    let value =
        value.to_str().map_err(|_| ApiError::unauthorized("Malformed Authorization header."))?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or_else(|| ApiError::unauthorized("Expected `Authorization: Bearer <token>`."))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::unauthorized("Expected `Authorization: Bearer <token>`."));
    }
    Ok(Some(token.trim().to_owned()))
}

async fn load_actor(req: HttpRequest, token: String) -> Result<Actor, ApiError> {
    let state = req.app_data::<web::Data<AppState>>().cloned().ok_or_else(ApiError::internal)?;
    let claims = state.jwt.verify(&token)?;
    let invalid = || ApiError::unauthorized("The access token is invalid.");
    let user_id: UserId = uuid::Uuid::parse_str(&claims.sub).map_err(|_| invalid())?.into();
    let session_id: SessionId = uuid::Uuid::parse_str(&claims.sid).map_err(|_| invalid())?.into();
    state
        .db
        .run(move |conn| {
            // One statement: the account, whether the session is live, and one row per
            // membership (a single row of nulls without any).
            let live = diesel::dsl::exists(
                refresh_tokens::table
                    .filter(refresh_tokens::family_id.eq(session_id))
                    .filter(refresh_tokens::revoked_at.is_null()),
            );
            type Row = (
                String,
                Option<chrono::NaiveDateTime>,
                bool,
                Option<OrganizationId>,
                Option<String>,
            );
            let rows: Vec<Row> = users::table
                .left_join(memberships::table)
                .filter(users::id.eq(user_id))
                .select((
                    users::platform_role,
                    users::disabled_at,
                    live,
                    memberships::organization_id.nullable(),
                    memberships::role.nullable(),
                ))
                .load(conn)?;
            let (role, disabled_at, live) = rows
                .first()
                .map(|(role, disabled_at, live, _, _)| (role.clone(), *disabled_at, *live))
                .ok_or_else(invalid)?;
            if disabled_at.is_some() {
                return Err(ApiError::unauthorized("This account is disabled."));
            }
            // A signed-out or revoked session stops its access tokens at once, too.
            if !live {
                return Err(ApiError::unauthorized("This session has ended; sign in again."));
            }
            let role = PlatformRole::parse(&role).ok_or_else(ApiError::internal)?;
            let memberships = rows
                .into_iter()
                .filter_map(|(_, _, _, org, role)| Some((org?, OrgRole::parse(&role?)?)))
                .collect();
            Ok(Actor { user_id, role, session_id, memberships, api_key: None })
        })
        .await
}

/// The caller of `req`: the API key the key middleware accepted, else the bearer JWT.
async fn caller(req: HttpRequest) -> Result<Option<Actor>, ApiError> {
    if let Some(actor) = req.extensions().get::<KeyAuthenticated>() {
        return Ok(Some(actor.0.clone()));
    }
    let token = match bearer(&req)? {
        // A key the middleware did not accept (it checks every route it knows) is never
        // read as a JWT.
        Some(token) if api_keys::looks_like_key(&token) => {
            return Err(ApiError::unauthorized("The access token is invalid."));
        }
        Some(token) => token,
        None => return Ok(None),
    };
    let actor = load_actor(req.clone(), token).await?;
    if let Some(recorder) = req.extensions().get::<Arc<Recorder>>() {
        recorder.set_actor(actor.audit());
    }
    Ok(Some(actor))
}

/// Put in the request's extensions by the key middleware once a key is accepted.
#[derive(Clone)]
pub struct KeyAuthenticated(pub Actor);

impl FromRequest for Auth {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            caller(req)
                .await?
                .map(Auth)
                .ok_or_else(|| ApiError::unauthorized("Sign in: this needs an access token."))
        })
    }
}

impl FromRequest for MaybeAuth {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { caller(req).await.map(MaybeAuth) })
    }
}
