//! Organisation API keys: owners create them (the secret is shown once), list, roll and
//! revoke them. Keys themselves can never manage keys (see `domain::scopes`).

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::api::common::{Page, PageParams};
use crate::api::extract::{Json, Path, Query};
use crate::api::validate::Validator;
use crate::auth::extract::Auth;
use crate::auth::policy::{self, OrgAction};
use crate::auth::{Actor, OrgRole, api_keys};
use crate::db::types::{ApiKeyId, OrganizationId, now, utc};
use crate::db::{DbConn, dialect};
use crate::domain::scopes::Scope;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::api_keys::{self as store, ApiKey, NewKey};
use crate::store::{organizations, users};
use crate::webhooks::{self, EventType};

/// Longest grace period for the old secret after a roll.
const MAX_GRACE_SECS: u32 = 86_400;

/// A key as listed: never its secret.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiKeyDto {
    pub id: uuid::Uuid,
    pub organization_id: uuid::Uuid,
    #[schema(example = "CRM của trung tâm")]
    pub name: String,
    /// The key's first characters: how to recognise it (secret scanners, logs).
    #[schema(example = "techx_live_Ab3dE5fG7hJ9")]
    pub prefix: String,
    pub scopes: Vec<Scope>,
    /// The organisation role the key acts with (never above its creator's).
    pub role: OrgRole,
    pub created_by: uuid::Uuid,
    pub created_at: DateTime<Utc>,
    /// After which the key stops working; none: until revoked.
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    /// The client address of the last use.
    pub last_used_address: Option<String>,
    pub rolled_at: Option<DateTime<Utc>>,
    /// After a roll, when the previous secret stops working.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<&ApiKey> for ApiKeyDto {
    fn from(k: &ApiKey) -> Self {
        Self {
            id: k.id.into(),
            organization_id: k.organization_id.into(),
            name: k.name.clone(),
            prefix: k.prefix.clone(),
            scopes: k.scope_names().iter().filter_map(|s| Scope::parse(s)).collect(),
            role: OrgRole::parse(&k.role).unwrap_or(OrgRole::Member),
            created_by: k.created_by.into(),
            created_at: utc(k.created_at),
            expires_at: k.expires_at.map(utc),
            last_used_at: k.last_used_at.map(utc),
            last_used_address: k.last_used_address.clone(),
            rolled_at: k.rolled_at.map(utc),
            previous_secret_expires_at: k
                .previous_expires_at
                .filter(|_| k.rolled_at.is_some())
                .map(utc),
            revoked_at: k.revoked_at.map(utc),
        }
    }
}

/// A key with its secret: the answer to creating or rolling it, the only time the secret
/// is shown.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiKeySecretDto {
    #[serde(flatten)]
    pub key: ApiKeyDto,
    /// Send as `Authorization: Bearer <secret>` or `X-Api-Key: <secret>`. Shown only in
    /// this response: store it now.
    #[schema(example = "techx_live_Ab3dE5fG7hJ9kL2mN4pQ6rS8tU0vW1xY3zA5bC7dE9f")]
    pub secret: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKeyRequest {
    /// What the key is for, 1–100 characters.
    #[schema(example = "CRM của trung tâm")]
    pub name: String,
    /// At least one; what the key may do.
    #[schema(example = json!(["listings:read", "listings:write"]))]
    pub scopes: Vec<Scope>,
    /// The organisation role the key acts with (default `member`); at most the creator's.
    pub role: Option<OrgRole>,
    /// When the key stops working; in the future. None: until revoked.
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollApiKeyRequest {
    /// Seconds the old secret keeps working (0–86400; default 3600), while the integration
    /// switches to the new one.
    #[schema(minimum = 0, maximum = 86400, example = 3600)]
    pub grace_seconds: Option<u32>,
}

fn authorise(conn: &mut DbConn, actor: &Actor, org: OrganizationId) -> Result<String, ApiError> {
    let organization = organizations::get(conn, org)?;
    policy::organization(actor, org, OrgAction::ManageApiKeys)?;
    Ok(organization.name)
}

fn actor_name(conn: &mut DbConn, actor: &Actor) -> Result<String, ApiError> {
    Ok(users::find(conn, actor.user_id)?.map(|u| u.display_name).unwrap_or_default())
}

/// Mails every owner of `org` about a key (`event`: created, rolled, revoked,
/// new_address), in the transaction of the change.
#[allow(clippy::too_many_arguments)]
pub fn mail_owners(
    conn: &mut DbConn,
    public_url: &str,
    org: OrganizationId,
    key_name: &str,
    key_prefix: &str,
    event: &str,
    actor: &str,
    address: &str,
) -> Result<(), ApiError> {
    let organization = organizations::get(conn, org)?;
    let context = serde_json::json!({
        "organization_name": organization.name,
        "key_name": key_name,
        "key_prefix": key_prefix,
        "event": event,
        "actor": actor,
        "address": address,
        "manage_url": format!("{}/organizations/{org}/api-keys", public_url.trim_end_matches('/')),
    });
    organizations::mail_owners(conn, org, crate::mail::Template::ApiKeyActivity, &context)?;
    Ok(())
}

/// Create an API key for an organisation (owners; never with a key). The answer carries
/// the `secret`, shown this once; only a keyed hash of it is stored. The owners are mailed.
#[utoipa::path(
    tag = "api-keys",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The organisation")),
    request_body = CreateApiKeyRequest,
    responses(
        (status = 201, description = "Created; store the secret now", body = ApiKeySecretDto),
        (status = 403, description = "Not an owner of the organisation, or called with an API key"),
        (status = 404, description = "No such organisation"),
    )
)]
#[post("/organizations/{id}/api-keys")]
pub async fn create_api_key(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<uuid::Uuid>,
    body: Json<CreateApiKeyRequest>,
) -> Result<HttpResponse, ApiError> {
    let org: OrganizationId = path.0.into();
    let body = body.0;
    let actor = auth.0;
    let mut v = Validator::new();
    v.text("name", &body.name, 100);
    v.check(!body.scopes.is_empty(), "scopes", "must name at least one scope");
    v.check(body.expires_at.is_none_or(|e| e > Utc::now()), "expires_at", "must be in the future");
    v.finish()?;
    let role = body.role.unwrap_or(OrgRole::Member);
    let mut scopes: Vec<String> = body.scopes.iter().map(|s| s.as_str().to_owned()).collect();
    scopes.sort();
    scopes.dedup();
    let hasher = api_keys::KeyHasher::new(&state.config.auth.api_key_pepper);
    let public_url = state.config.mail.public_url.clone();
    let created = state
        .db
        .run(move |conn| {
            dialect::write_transaction(conn, |conn| {
                authorise(conn, &actor, org)?;
                // A key never acts above the role of the person who made it.
                if role == OrgRole::Owner && actor.org_role(org) != Some(OrgRole::Owner) {
                    return Err(ApiError::invalid("role", "cannot be above your own role"));
                }
                let (prefix, secret) = api_keys::generate();
                let key = store::create(
                    conn,
                    &NewKey {
                        organization_id: org,
                        name: body.name.trim(),
                        prefix: &prefix,
                        secret_hash: &hasher.hash(&secret),
                        scopes: &scopes,
                        role: role.as_str(),
                        expires_at: body.expires_at.map(|e| e.naive_utc()),
                        created_by: actor.user_id,
                    },
                )?;
                let who = actor_name(conn, &actor)?;
                mail_owners(conn, &public_url, org, &key.name, &key.prefix, "created", &who, "")?;
                let dto = ApiKeySecretDto { key: ApiKeyDto::from(&key), secret };
                serde_json::to_value(dto).map_err(ApiError::internal_from)
            })
        })
        .await?;
    let id = created["id"].as_str().unwrap_or_default().to_owned();
    Ok(HttpResponse::Created()
        .insert_header((
            actix_web::http::header::LOCATION,
            format!("/api/v1/organizations/{org}/api-keys/{id}"),
        ))
        .json(created))
}

/// An organisation's API keys, newest first, revoked ones included (owners; no secrets).
#[utoipa::path(
    tag = "api-keys",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The organisation"), PageParams),
    responses(
        (status = 200, body = Page<ApiKeyDto>),
        (status = 403, description = "Not an owner of the organisation, or called with an API key"),
        (status = 404, description = "No such organisation"),
    )
)]
#[get("/organizations/{id}/api-keys")]
pub async fn list_api_keys(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<uuid::Uuid>,
    paging: Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let org: OrganizationId = path.0.into();
    let page = paging.0.resolve()?;
    let actor = auth.0;
    let (items, total) = state
        .db
        .run(move |conn| {
            authorise(conn, &actor, org)?;
            store::list(conn, org, page.offset(), page.limit()).map_err(ApiError::from)
        })
        .await?;
    Ok(HttpResponse::Ok().json(Page::new(items.iter().map(ApiKeyDto::from).collect(), page, total)))
}

/// One API key (owners; no secret).
#[utoipa::path(
    tag = "api-keys",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The organisation"), ("key_id" = uuid::Uuid, Path)),
    responses(
        (status = 200, body = ApiKeyDto),
        (status = 403, description = "Not an owner of the organisation, or called with an API key"),
        (status = 404, description = "No such organisation, or no such key in it"),
    )
)]
#[get("/organizations/{id}/api-keys/{key_id}")]
pub async fn get_api_key(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<(uuid::Uuid, uuid::Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = (OrganizationId::from(path.0.0), ApiKeyId::from(path.0.1));
    let actor = auth.0;
    let key = state
        .db
        .run(move |conn| {
            authorise(conn, &actor, org)?;
            store::get(conn, org, id).map_err(ApiError::from)
        })
        .await?;
    Ok(HttpResponse::Ok().json(ApiKeyDto::from(&key)))
}

/// Revoke an API key (owners): it stops working on every server at once (each request
/// checks the database). The owners are mailed and `api_key.revoked` is sent to the
/// organisation's webhooks. Revoking a revoked key changes nothing.
#[utoipa::path(
    tag = "api-keys",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The organisation"), ("key_id" = uuid::Uuid, Path)),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, description = "Not an owner of the organisation, or called with an API key"),
        (status = 404, description = "No such organisation, or no such key in it"),
    )
)]
#[delete("/organizations/{id}/api-keys/{key_id}")]
pub async fn revoke_api_key(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<(uuid::Uuid, uuid::Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = (OrganizationId::from(path.0.0), ApiKeyId::from(path.0.1));
    let actor = auth.0;
    let public_url = state.config.mail.public_url.clone();
    state
        .db
        .run(move |conn| {
            dialect::write_transaction(conn, |conn| {
                authorise(conn, &actor, org)?;
                let key = store::get(conn, org, id)?;
                if !store::revoke(conn, id, actor.user_id)? {
                    return Ok(());
                }
                let who = actor_name(conn, &actor)?;
                mail_owners(conn, &public_url, org, &key.name, &key.prefix, "revoked", &who, "")?;
                let data = serde_json::json!({
                    "api_key_id": key.id.to_string(),
                    "name": key.name,
                    "prefix": key.prefix,
                    "revoked_by": actor.user_id.to_string(),
                });
                webhooks::emit(conn, org, EventType::ApiKeyRevoked, data).map_err(ApiError::from)
            })
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Roll an API key (owners): it gets a new secret, shown this once; the old secret keeps
/// working for `grace_seconds` (at most 24 h) so the integration can switch. The owners are
/// mailed.
#[utoipa::path(
    tag = "api-keys",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The organisation"), ("key_id" = uuid::Uuid, Path)),
    request_body = RollApiKeyRequest,
    responses(
        (status = 200, description = "Rolled; store the new secret now", body = ApiKeySecretDto),
        (status = 403, description = "Not an owner of the organisation, or called with an API key"),
        (status = 404, description = "No such organisation, or no such key in it"),
        (status = 409, description = "The key is revoked (`api_key_revoked`)"),
    )
)]
#[post("/organizations/{id}/api-keys/{key_id}/roll")]
pub async fn roll_api_key(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<(uuid::Uuid, uuid::Uuid)>,
    body: Json<RollApiKeyRequest>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = (OrganizationId::from(path.0.0), ApiKeyId::from(path.0.1));
    let grace = body.0.grace_seconds.unwrap_or(3_600);
    if grace > MAX_GRACE_SECS {
        return Err(ApiError::invalid("grace_seconds", "must be between 0 and 86400"));
    }
    let actor = auth.0;
    let hasher = api_keys::KeyHasher::new(&state.config.auth.api_key_pepper);
    let public_url = state.config.mail.public_url.clone();
    let rolled = state
        .db
        .run(move |conn| {
            dialect::write_transaction(conn, |conn| {
                authorise(conn, &actor, org)?;
                let key = store::get(conn, org, id)?;
                if key.revoked_at.is_some() {
                    return Err(ApiError::conflict("api_key_revoked", "This API key is revoked."));
                }
                let secret = api_keys::regenerate(&key.prefix);
                let until = now() + chrono::Duration::seconds(i64::from(grace));
                let key = store::roll(conn, &key, &hasher.hash(&secret), until)?;
                let who = actor_name(conn, &actor)?;
                mail_owners(conn, &public_url, org, &key.name, &key.prefix, "rolled", &who, "")?;
                Ok(ApiKeySecretDto { key: ApiKeyDto::from(&key), secret })
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(rolled))
}

/// The api keys routes, in the order the OpenAPI document lists them.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_api_key)
        .service(list_api_keys)
        .service(get_api_key)
        .service(revoke_api_key)
        .service(roll_api_key);
}
