//! Webhook endpoints of an organisation: registration (the signing secret is shown once),
//! settings, the delivery log, and a test ping. Owners manage them; exchange staff may read.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::api::common::{Page, PageParams, etag, idempotency_key, if_match, request_fingerprint};
use crate::api::extract::{Json, Path, Query};
use crate::api::validate::Validator;
use crate::auth::Actor;
use crate::auth::extract::Auth;
use crate::auth::policy::{self, OrgAction};
use crate::db::types::{OrganizationId, WebhookEndpointId, utc};
use crate::db::{DbConn, dialect};
use crate::domain::webhooks::{UrlPolicy, check_url};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::webhooks::{self as store, Delivery, Endpoint, Settings};
use crate::store::{idempotency, organizations};
use crate::webhooks::{self, EventType};

/// A registered endpoint. The signing secret is never shown again after registration.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WebhookDto {
    pub id: uuid::Uuid,
    pub organization_id: uuid::Uuid,
    #[schema(example = "https://erp.example.vn/hooks/techx")]
    pub url: String,
    #[schema(example = json!(["listing.published", "inquiry.received"]))]
    pub event_types: Vec<EventType>,
    /// Whether events are delivered. The exchange turns it off after repeated failures
    /// (`disabled_at` and `disabled_reason` say so); set it back to `true` to resume.
    pub active: bool,
    /// Failed delivery attempts since the last success.
    pub consecutive_failures: i32,
    pub disabled_at: Option<DateTime<Utc>>,
    pub disabled_reason: Option<String>,
    pub created_by: uuid::Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Send as `If-Match` (the `ETag`) when changing the webhook.
    pub version: i32,
}

impl From<&Endpoint> for WebhookDto {
    fn from(e: &Endpoint) -> Self {
        Self {
            id: e.id.into(),
            organization_id: e.organization_id.into(),
            url: e.url.clone(),
            event_types: e.event_types().iter().filter_map(|t| EventType::parse(t)).collect(),
            active: e.active,
            consecutive_failures: e.consecutive_failures,
            disabled_at: e.disabled_at.map(utc),
            disabled_reason: e.disabled_reason.clone(),
            created_by: e.created_by.into(),
            created_at: utc(e.created_at),
            updated_at: utc(e.updated_at),
            version: e.version,
        }
    }
}

/// The registration answer: the webhook and, this once, its signing secret.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreatedWebhookDto {
    #[serde(flatten)]
    pub webhook: WebhookDto,
    /// Key of the `X-Techx-Signature` HMAC. Shown only in this response: store it now.
    #[schema(example = "whsec_3q2-7wEAAAAQ8z6pSgzlxj4tW1oV0vRmY0X1o9kq2Hc")]
    pub secret: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookRequest {
    /// `https://` to a public host (`http://` to loopback is accepted outside production).
    #[schema(example = "https://erp.example.vn/hooks/techx")]
    pub url: String,
    /// Events to receive (`ping` is sent only by the test operation).
    #[schema(example = json!(["listing.published", "inquiry.received"]))]
    pub event_types: Vec<EventType>,
    /// Deliver events (default `true`).
    #[serde(default = "default_active")]
    pub active: bool,
}

fn default_active() -> bool {
    true
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhookRequest {
    pub url: Option<String>,
    pub event_types: Option<Vec<EventType>>,
    /// `true` re-activates a paused or disabled webhook and clears its failure count.
    pub active: Option<bool>,
}

/// One delivery attempt, newest first in the log.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookDeliveryDto {
    pub id: uuid::Uuid,
    /// The `X-Techx-Delivery` header: the same for every attempt at one event.
    pub delivery_id: uuid::Uuid,
    /// The event's `id` in the body.
    pub event_id: uuid::Uuid,
    pub event_type: EventType,
    /// 1 for the first attempt, then 2, 3… for retries.
    pub attempt: i32,
    /// The receiver's HTTP status, when it answered.
    pub status_code: Option<i32>,
    /// The receiver answered 2xx.
    pub succeeded: bool,
    /// Why the attempt failed (status and start of the reply, timeout, refused address…).
    pub error: Option<String>,
    pub duration_ms: i64,
    pub created_at: DateTime<Utc>,
}

impl From<&Delivery> for WebhookDeliveryDto {
    fn from(d: &Delivery) -> Self {
        Self {
            id: d.id.into(),
            delivery_id: d.outbox_id.into(),
            event_id: d.event_id.into(),
            event_type: EventType::parse(&d.event_type).unwrap_or(EventType::Ping),
            attempt: d.attempt,
            status_code: d.status_code,
            succeeded: d.error.is_none(),
            error: d.error.clone(),
            duration_ms: d.duration_ms,
            created_at: utc(d.created_at),
        }
    }
}

/// The answer to a test: what to look for at the receiver.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookTestDto {
    /// The `id` of the `ping` event in the body.
    pub event_id: uuid::Uuid,
    /// The `X-Techx-Delivery` header, and the delivery's entries in the log.
    pub delivery_id: uuid::Uuid,
}

fn policy_of(state: &AppState) -> UrlPolicy {
    webhooks::url_policy(state.config.environment)
}

/// Validates settings, naming every bad field.
fn validate(
    settings: &Settings,
    event_types: &[EventType],
    policy: UrlPolicy,
) -> Result<(), ApiError> {
    let mut v = Validator::new();
    if let Err(message) = check_url(&settings.url, policy) {
        v.error("url", message);
    }
    if event_types.is_empty() {
        v.error("event_types", "must name at least one event type");
    }
    for (i, event) in event_types.iter().enumerate() {
        if !event.subscribable() {
            v.error(format!("event_types[{i}]"), "is sent only by the test operation");
        }
    }
    v.finish()
}

/// Event names, deduplicated, in a stable order.
fn event_names(event_types: &[EventType]) -> Vec<String> {
    let mut names: Vec<String> = event_types.iter().map(|e| e.as_str().to_owned()).collect();
    names.sort();
    names.dedup();
    names
}

/// The organisation must exist (404) and the caller may `action` on it (403).
fn authorise(
    conn: &mut DbConn,
    actor: &Actor,
    org: OrganizationId,
    action: OrgAction,
) -> Result<(), ApiError> {
    organizations::get(conn, org)?;
    policy::organization(actor, org, action)
}

fn with_etag(mut response: actix_web::HttpResponseBuilder, webhook: &WebhookDto) -> HttpResponse {
    response.insert_header((header::ETAG, etag(webhook.version))).json(webhook)
}

/// Register a webhook (owners). The answer carries the signing `secret`, shown this once.
///
/// Each event is POSTed to `url` as JSON (schema `WebhookEvent`: `id`, `type`, `created_at`,
/// `organization_id`, `data`) with these headers:
///
/// - `X-Techx-Event`: the event type, e.g. `listing.published`
/// - `X-Techx-Delivery`: the delivery id, the same on every retry of that event to this
///   endpoint
/// - `X-Techx-Timestamp`: Unix time in seconds when this attempt was signed
/// - `X-Techx-Signature`: `sha256=` followed by the lowercase hex HMAC-SHA256 of
///   `{X-Techx-Timestamp}.{raw body}`, keyed with the secret's UTF-8 bytes
///
/// To verify: recompute the HMAC over the timestamp, a `.` and the body bytes exactly as
/// received, compare in constant time, and reject timestamps more than a few minutes old
/// (replays). Answer 2xx within the timeout (10 s by default) to acknowledge; anything else
/// is retried with exponential backoff, and redirects are not followed. The same event may
/// arrive more than once: deduplicate on its `id`. After repeated failures the webhook is
/// disabled and the organisation's owners are mailed. Honours `Idempotency-Key` (a replay
/// returns the same secret to the same user).
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = [])),
    params(
        ("id" = uuid::Uuid, Path, description = "The organisation"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retry-safe creation: the same key and body return the first response"),
    ),
    request_body = CreateWebhookRequest,
    responses(
        (status = 201, description = "Registered; store the secret now", body = CreatedWebhookDto,
         headers(("ETag" = String), ("Location" = String))),
        (status = 403, description = "Not an owner of the organisation"),
        (status = 404, description = "No such organisation"),
        (status = 409, description = "The organisation has the most webhooks allowed (`webhook_limit_reached`)"),
        (status = 422, description = "The Idempotency-Key was used with another body (`idempotency_key_reused`)"),
    )
)]
#[post("/organizations/{id}/webhooks")]
pub async fn create_webhook(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<uuid::Uuid>,
    body: Json<CreateWebhookRequest>,
) -> Result<HttpResponse, ApiError> {
    let org: OrganizationId = path.0.into();
    let key = idempotency_key(&req)?;
    let body = body.0;
    let fingerprint = request_fingerprint(&body);
    let settings = Settings {
        url: body.url.trim().to_owned(),
        event_types: event_names(&body.event_types),
        active: body.active,
    };
    let actor = auth.0;
    let policy = policy_of(&state);
    let created = state
        .db
        .run(move |conn| {
            authorise(conn, &actor, org, OrgAction::ManageWebhooks)?;
            validate(&settings, &body.event_types, policy)?;
            idempotency::create_once(conn, actor.user_id, key.as_deref(), &fingerprint, |conn| {
                let endpoint = store::create(conn, org, &settings, actor.user_id)?;
                let created = CreatedWebhookDto {
                    webhook: WebhookDto::from(&endpoint),
                    secret: endpoint.secret.clone(),
                };
                serde_json::to_value(created).map_err(ApiError::internal_from)
            })
        })
        .await?;
    Ok(crate::api::common::created_response(
        &format!("/api/v1/organizations/{org}/webhooks"),
        created,
    ))
}

/// An organisation's webhooks, oldest first (owners and exchange staff; no secrets).
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The organisation"), PageParams),
    responses(
        (status = 200, body = Page<WebhookDto>),
        (status = 403, description = "Not an owner of the organisation"),
        (status = 404, description = "No such organisation"),
    )
)]
#[get("/organizations/{id}/webhooks")]
pub async fn list_webhooks(
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
            authorise(conn, &actor, org, OrgAction::ViewWebhooks)?;
            store::list(conn, org, page.offset(), page.limit()).map_err(ApiError::from)
        })
        .await?;
    Ok(HttpResponse::Ok().json(Page::new(
        items.iter().map(WebhookDto::from).collect(),
        page,
        total,
    )))
}

/// One webhook (owners and exchange staff; no secret).
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The organisation"), ("webhook_id" = uuid::Uuid, Path)),
    responses(
        (status = 200, body = WebhookDto, headers(("ETag" = String))),
        (status = 403, description = "Not an owner of the organisation"),
        (status = 404, description = "No such organisation, or no such webhook in it"),
    )
)]
#[get("/organizations/{id}/webhooks/{webhook_id}")]
pub async fn get_webhook(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<(uuid::Uuid, uuid::Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = (OrganizationId::from(path.0.0), WebhookEndpointId::from(path.0.1));
    let actor = auth.0;
    let endpoint = state
        .db
        .run(move |conn| {
            authorise(conn, &actor, org, OrgAction::ViewWebhooks)?;
            store::get(conn, org, id).map_err(ApiError::from)
        })
        .await?;
    Ok(with_etag(HttpResponse::Ok(), &WebhookDto::from(&endpoint)))
}

/// Change a webhook (owners). Needs `If-Match`. Setting `active` to `true` resumes a paused
/// or disabled webhook and clears its failure count (a new `url` clears it too).
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = [])),
    params(
        ("id" = uuid::Uuid, Path, description = "The organisation"),
        ("webhook_id" = uuid::Uuid, Path),
        ("If-Match" = String, Header, description = "The ETag you last read"),
    ),
    request_body = UpdateWebhookRequest,
    responses(
        (status = 200, body = WebhookDto, headers(("ETag" = String))),
        (status = 403, description = "Not an owner of the organisation"),
        (status = 404, description = "No such organisation, or no such webhook in it"),
    )
)]
#[patch("/organizations/{id}/webhooks/{webhook_id}")]
pub async fn update_webhook(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<(uuid::Uuid, uuid::Uuid)>,
    body: Json<UpdateWebhookRequest>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = (OrganizationId::from(path.0.0), WebhookEndpointId::from(path.0.1));
    let actor = auth.0;
    let policy = policy_of(&state);
    let body = body.0;
    // Reported after 403/404: a stranger learns nothing from the precondition.
    let expected = if_match(&req);
    let endpoint = state
        .db
        .run(move |conn| {
            authorise(conn, &actor, org, OrgAction::ManageWebhooks)?;
            let current = store::get(conn, org, id)?;
            let expected = expected?;
            let event_types = match body.event_types {
                Some(list) => list,
                None => current.event_types().iter().filter_map(|t| EventType::parse(t)).collect(),
            };
            let settings = Settings {
                url: body.url.map_or_else(|| current.url.clone(), |u| u.trim().to_owned()),
                event_types: event_names(&event_types),
                active: body.active.unwrap_or(current.active),
            };
            validate(&settings, &event_types, policy)?;
            dialect::write_transaction(conn, |conn| {
                store::update(conn, &current, expected, &settings)
            })
            .map_err(ApiError::from)
        })
        .await?;
    Ok(with_etag(HttpResponse::Ok(), &WebhookDto::from(&endpoint)))
}

/// Delete a webhook and its delivery log (owners). Deliveries still queued are dropped.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The organisation"), ("webhook_id" = uuid::Uuid, Path)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Not an owner of the organisation"),
        (status = 404, description = "No such organisation, or no such webhook in it"),
    )
)]
#[delete("/organizations/{id}/webhooks/{webhook_id}")]
pub async fn delete_webhook(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<(uuid::Uuid, uuid::Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = (OrganizationId::from(path.0.0), WebhookEndpointId::from(path.0.1));
    let actor = auth.0;
    state
        .db
        .run(move |conn| {
            authorise(conn, &actor, org, OrgAction::ManageWebhooks)?;
            dialect::write_transaction(conn, |conn| store::delete(conn, org, id))
                .map_err(ApiError::from)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A webhook's delivery log: every attempt, newest first (owners and exchange staff).
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = [])),
    params(
        ("id" = uuid::Uuid, Path, description = "The organisation"),
        ("webhook_id" = uuid::Uuid, Path),
        PageParams,
    ),
    responses(
        (status = 200, body = Page<WebhookDeliveryDto>),
        (status = 403, description = "Not an owner of the organisation"),
        (status = 404, description = "No such organisation, or no such webhook in it"),
    )
)]
#[get("/organizations/{id}/webhooks/{webhook_id}/deliveries")]
pub async fn list_webhook_deliveries(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<(uuid::Uuid, uuid::Uuid)>,
    paging: Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = (OrganizationId::from(path.0.0), WebhookEndpointId::from(path.0.1));
    let page = paging.0.resolve()?;
    let actor = auth.0;
    let (items, total) = state
        .db
        .run(move |conn| {
            authorise(conn, &actor, org, OrgAction::ViewWebhooks)?;
            store::get(conn, org, id)?;
            store::deliveries(conn, id, page.offset(), page.limit()).map_err(ApiError::from)
        })
        .await?;
    Ok(HttpResponse::Ok().json(Page::new(
        items.iter().map(WebhookDeliveryDto::from).collect(),
        page,
        total,
    )))
}

/// Send a `ping` event to this webhook only (owners), to check the receiver and its
/// signature verification. Delivered like any event: watch the delivery log.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The organisation"), ("webhook_id" = uuid::Uuid, Path)),
    responses(
        (status = 202, description = "Queued for delivery", body = WebhookTestDto),
        (status = 403, description = "Not an owner of the organisation"),
        (status = 404, description = "No such organisation, or no such webhook in it"),
        (status = 409, description = "The webhook is not active (`webhook_inactive`)"),
    )
)]
#[post("/organizations/{id}/webhooks/{webhook_id}/test")]
pub async fn test_webhook(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<(uuid::Uuid, uuid::Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = (OrganizationId::from(path.0.0), WebhookEndpointId::from(path.0.1));
    let actor = auth.0;
    let (event_id, delivery_id) = state
        .db
        .run(move |conn| {
            authorise(conn, &actor, org, OrgAction::ManageWebhooks)?;
            dialect::write_transaction(conn, |conn| {
                let endpoint = store::get(conn, org, id)?;
                if !endpoint.active {
                    return Err(ApiError::conflict(
                        "webhook_inactive",
                        "This webhook is not active: set `active` to true first.",
                    ));
                }
                webhooks::emit_ping(conn, &endpoint).map_err(ApiError::from)
            })
        })
        .await?;
    Ok(HttpResponse::Accepted()
        .json(WebhookTestDto { event_id: event_id.into(), delivery_id: delivery_id.into() }))
}

/// The webhooks routes, in the order the OpenAPI document lists them.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_webhook)
        .service(list_webhooks)
        .service(get_webhook)
        .service(update_webhook)
        .service(delete_webhook)
        .service(list_webhook_deliveries)
        .service(test_webhook);
}
