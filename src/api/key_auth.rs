//! Authentication with an organisation API key (`Authorization: Bearer techx_live_…` or
//! `X-Api-Key`): the key is looked up by its prefix and checked against its keyed hash on
//! every request (one indexed statement, no cache: a revocation holds on every process as
//! soon as it commits), then its rate limit and scopes are applied before the handler
//! runs. The extractors find the accepted key's `Actor` in the request's extensions.

use std::net::IpAddr;
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{AUTHORIZATION, HeaderMap};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, web};

use crate::audit::Recorder;
use crate::auth::api_keys::{self, KeyHasher};
use crate::auth::extract::KeyAuthenticated;
use crate::auth::{Actor, KeyActor, OrgRole, PlatformRole};
use crate::db::types::{SessionId, now};
use crate::domain::scopes::{self, Access};
use crate::error::ApiError;
use crate::state::AppState;
pub use crate::state::KeyUses;
use crate::store::api_keys::ApiKey;

/// The key a request presents, if it presents one: `X-Api-Key`, or a bearer credential
/// with the key prefix (a JWT never starts with it).
pub fn presented_key(headers: &HeaderMap) -> Option<String> {
    if let Some(value) = headers.get("x-api-key") {
        return Some(value.to_str().unwrap_or_default().trim().to_owned());
    }
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && api_keys::looks_like_key(token))
        .then(|| token.to_owned())
}

/// The one answer for every bad key, as for a bad access token: no oracle telling an
/// unknown key from a revoked or expired one.
fn bad_key() -> ApiError {
    ApiError::unauthorized("The access token is invalid.")
}

/// A stored hash no key matches, checked when the prefix is unknown so that an unknown key
/// costs the same HMAC as a known one.
const NO_KEY_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Whether `presented` opens `key` now (its secret, or the previous one within the grace
/// period after a roll), and the key is neither revoked nor expired.
fn opens(hasher: &KeyHasher, key: &ApiKey, presented: &str) -> bool {
    let at = now();
    let current = hasher.verify(presented, &key.secret_hash);
    let previous = match (&key.previous_hash, key.previous_expires_at) {
        (Some(hash), Some(until)) => hasher.verify(presented, hash) && at < until,
        _ => false,
    };
    let live = key.revoked_at.is_none() && key.expires_at.is_none_or(|e| at < e);
    (current || previous) && live
}

/// Authenticates the presented key; answers 401 for any bad key.
async fn authenticate_key(state: &AppState, presented: String) -> Result<ApiKey, ApiError> {
    let hasher = KeyHasher::new(&state.config.auth.api_key_pepper);
    let Some(prefix) = api_keys::prefix_of(&presented).map(str::to_owned) else {
        hasher.verify(&presented, NO_KEY_HASH);
        return Err(bad_key());
    };
    let key = state.db.run(move |conn| crate::store::api_keys::by_prefix(conn, &prefix)).await?;
    match key {
        Some(key) if opens(&hasher, &key, &presented) => Ok(key),
        Some(key) => {
            tracing::info!(api_key = %key.prefix, "refused API key (wrong, revoked or expired)");
            Err(bad_key())
        }
        None => {
            hasher.verify(&presented, NO_KEY_HASH);
            Err(bad_key())
        }
    }
}

fn actor_of(key: &ApiKey) -> Actor {
    let role = OrgRole::parse(&key.role).unwrap_or(OrgRole::Member);
    Actor {
        user_id: key.created_by,
        // Staff powers are never available to a key, whoever created it.
        role: PlatformRole::Member,
        // A key has no login session: its id stands in, naming no refresh-token family.
        session_id: SessionId(key.id.0),
        memberships: vec![(key.organization_id, role)],
        api_key: Some(KeyActor {
            id: key.id,
            organization_id: key.organization_id,
            prefix: key.prefix.clone(),
        }),
    }
}

/// 403 unless the key may call an operation needing `access`.
pub fn check_access(key: &ApiKey, access: Access) -> Result<(), ApiError> {
    match access {
        Access::Public => Ok(()),
        Access::NoKey => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "api_key_not_allowed",
            "API keys cannot do this; sign in as a person.",
        )),
        Access::Scope(scope) if key.scope_names().iter().any(|s| s == scope.as_str()) => Ok(()),
        Access::Scope(scope) => {
            let mut error = ApiError::new(
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                format!("This API key lacks the scope `{}`.", scope.as_str()),
            );
            error.required_scope = Some(scope);
            Err(error)
        }
    }
}

/// Writes the key's last use (at most once a minute per address and process) and, on the
/// first use from an address, mails the organisation's owners.
async fn record_use(state: &AppState, key: &ApiKey, address: String) {
    if !state.key_uses.due(key.id, &address) {
        return;
    }
    let (id, org, name, prefix) =
        (key.id, key.organization_id, key.name.clone(), key.prefix.clone());
    let public_url = state.config.mail.public_url.clone();
    let addr = address.clone();
    let recorded = state
        .db
        .run_unaudited(move |conn| {
            crate::db::dialect::write_transaction(conn, |conn| {
                if crate::store::api_keys::record_use(conn, id, &addr)? {
                    crate::api::api_keys::mail_owners(
                        conn,
                        &public_url,
                        org,
                        &name,
                        &prefix,
                        "new_address",
                        "",
                        &addr,
                    )?;
                }
                Ok::<_, ApiError>(())
            })
        })
        .await;
    if let Err(e) = recorded {
        tracing::warn!(api_key = %key.prefix, error = %e.detail, "cannot record an API key's use");
        state.key_uses.forget(key.id, &address);
    }
}

pub async fn authenticate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody + 'static>>, actix_web::Error> {
    let (Some(presented), Some(state)) =
        (presented_key(req.headers()), req.app_data::<web::Data<AppState>>().cloned())
    else {
        return next.call(req).await.map(ServiceResponse::map_into_left_body);
    };
    // An unknown route answers 404/405 as it would without a key.
    let pattern = crate::observability::matched_route(req.request()).unwrap_or_default();
    let Some(operation) = scopes::find(req.method().as_str(), &pattern) else {
        return next.call(req).await.map(ServiceResponse::map_into_left_body);
    };
    let key = match authenticate_key(&state, presented).await {
        Ok(key) => key,
        Err(e) => return Ok(req.error_response(e).map_into_right_body()),
    };
    let actor = actor_of(&key);
    if let Some(recorder) = req.extensions().get::<Arc<Recorder>>() {
        recorder.set_actor(actor.audit());
    }
    if let Err(wait) = state.rate_limits.check_key(key.id) {
        tracing::info!(api_key = %key.prefix, "API key over its rate limit");
        return Ok(req.error_response(ApiError::too_many_requests(wait)).map_into_right_body());
    }
    if let Err(e) = check_access(&key, operation.access) {
        tracing::info!(api_key = %key.prefix, operation = operation.operation_id, code = e.code, "API key refused");
        return Ok(req.error_response(e).map_into_right_body());
    }
    let address = req
        .peer_addr()
        .map(|a| a.ip())
        .map_or_else(|| "unknown".to_owned(), |ip: IpAddr| ip.to_string());
    record_use(&state, &key, address).await;
    tracing::debug!(api_key = %key.prefix, operation = operation.operation_id, "API key accepted");
    req.extensions_mut().insert(KeyAuthenticated(actor));
    next.call(req).await.map(ServiceResponse::map_into_left_body)
}

fn problem_response(description: &str) -> utoipa::openapi::Response {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    ResponseBuilder::new()
        .description(description)
        .content(
            crate::error::PROBLEM_CONTENT_TYPE,
            ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build(),
        )
        .build()
}

/// Adds API keys to the OpenAPI document: the `api_key` security scheme, the key as an
/// alternative to the bearer token on every operation a key may call (the requirement
/// lists the scope it needs), and `x-scopes` on every operation naming the scopes that
/// allow it (public ones too: a key without the scope is refused there).
pub fn document(spec: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityRequirement, SecurityScheme};
    let components = spec.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "api_key",
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "X-Api-Key",
            "An organisation API key (`techx_live_…`), created by an owner under \
             `/organizations/{id}/api-keys`. Also accepted as `Authorization: Bearer \
             techx_live_…`. A key acts for its organisation with the role chosen at creation, \
             limited to its scopes: each operation's requirement (and `x-scopes`) names the \
             scope it needs; without it the answer is 403 `insufficient_scope` naming it.",
        ))),
    );
    for (path, item) in spec.paths.paths.iter_mut() {
        let operations = [
            ("GET", &mut item.get),
            ("POST", &mut item.post),
            ("PUT", &mut item.put),
            ("PATCH", &mut item.patch),
            ("DELETE", &mut item.delete),
        ];
        for (method, operation) in operations {
            let (Some(operation), Some(known)) = (operation.as_mut(), scopes::find(method, path))
            else {
                continue;
            };
            let Access::Scope(scope) = known.access else { continue };
            operation
                .extensions
                .get_or_insert_with(Default::default)
                .insert("x-scopes".to_owned(), serde_json::json!([scope.as_str()]));
            if let Some(security) = operation.security.as_mut().filter(|s| !s.is_empty()) {
                security.push(SecurityRequirement::new("api_key", [scope.as_str()]));
            }
            // Any such call may meet the key's scope check and its rate limit.
            for (status, description) in [
                ("403", "Not allowed; with an API key, outside its scopes (`insufficient_scope`)"),
                ("429", "Too many requests; retry after `Retry-After` seconds"),
            ] {
                operation
                    .responses
                    .responses
                    .entry(status.to_owned())
                    .or_insert_with(|| problem_response(description).into());
            }
        }
    }
}
