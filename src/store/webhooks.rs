//! Webhook endpoints of organisations and the log of their delivery attempts.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::auth::OrgRole;
use crate::auth::secret::random_token;
use crate::db::DbConn;
use crate::db::schema::{memberships, users, webhook_deliveries, webhook_endpoints};
use crate::db::types::{
    OrganizationId, OutboxId, UserId, WebhookDeliveryId, WebhookEndpointId, WebhookEventId, now,
};
use crate::store::StoreError;

/// Endpoints an organisation may register; bounds the fan-out of one event.
pub const MAX_ENDPOINTS_PER_ORGANIZATION: i64 = 20;

/// Longest error kept in the log; a receiver's reply is only a diagnosis.
const MAX_ERROR_CHARS: usize = 500;

#[derive(Clone, Queryable)]
pub struct Endpoint {
    pub id: WebhookEndpointId,
    pub organization_id: OrganizationId,
    pub url: String,
    /// JSON array of event type names.
    pub event_types: String,
    pub active: bool,
    pub secret: String,
    pub consecutive_failures: i32,
    pub disabled_at: Option<NaiveDateTime>,
    pub disabled_reason: Option<String>,
    pub created_by: UserId,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i32,
}

impl std::fmt::Debug for Endpoint {
    // Hand-written so that the secret never reaches a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("id", &self.id)
            .field("organization_id", &self.organization_id)
            .field("url", &self.url)
            .field("event_types", &self.event_types)
            .field("active", &self.active)
            .field("secret", &"<redacted>")
            .field("consecutive_failures", &self.consecutive_failures)
            .field("disabled_at", &self.disabled_at)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    pub fn event_types(&self) -> Vec<String> {
        crate::store::json::list(&self.event_types)
    }

    pub fn subscribes_to(&self, event_type: &str) -> bool {
        self.event_types().iter().any(|t| t == event_type)
    }
}

/// What an owner sets, already validated.
#[derive(Debug, Clone)]
pub struct Settings {
    pub url: String,
    pub event_types: Vec<String>,
    pub active: bool,
}

use crate::store::json::list_text as json_list;

fn not_found() -> StoreError {
    StoreError::not_found("No such webhook in this organisation.")
}

/// A new signing secret: `whsec_` and 256 random bits, URL-safe base64.
fn new_secret() -> String {
    format!("whsec_{}", random_token())
}

/// Registers an endpoint with a fresh secret (409 past the per-organisation limit). Run in
/// a write transaction.
pub fn create(
    conn: &mut DbConn,
    organization: OrganizationId,
    settings: &Settings,
    created_by: UserId,
) -> Result<Endpoint, StoreError> {
    let existing: i64 = webhook_endpoints::table
        .filter(webhook_endpoints::organization_id.eq(organization))
        .count()
        .get_result(conn)?;
    if existing >= MAX_ENDPOINTS_PER_ORGANIZATION {
        return Err(StoreError::conflict(
            "webhook_limit_reached",
            format!(
                "An organisation may register at most {MAX_ENDPOINTS_PER_ORGANIZATION} webhooks; \
                 delete one first."
            ),
        ));
    }
    let at = now();
    Ok(diesel::insert_into(webhook_endpoints::table)
        .values((
            webhook_endpoints::id.eq(WebhookEndpointId::new()),
            webhook_endpoints::organization_id.eq(organization),
            webhook_endpoints::url.eq(&settings.url),
            webhook_endpoints::event_types.eq(json_list(&settings.event_types)),
            webhook_endpoints::active.eq(settings.active),
            webhook_endpoints::secret.eq(new_secret()),
            webhook_endpoints::consecutive_failures.eq(0),
            webhook_endpoints::created_by.eq(created_by),
            webhook_endpoints::created_at.eq(at),
            webhook_endpoints::updated_at.eq(at),
            webhook_endpoints::version.eq(1),
        ))
        .returning(webhook_endpoints::all_columns)
        .get_result(conn)?)
}

pub fn find(conn: &mut DbConn, id: WebhookEndpointId) -> Result<Option<Endpoint>, StoreError> {
    Ok(webhook_endpoints::table
        .find(id)
        .select(webhook_endpoints::all_columns)
        .first(conn)
        .optional()?)
}

/// The endpoint `id` of `organization` (404 when it belongs to another one).
pub fn get(
    conn: &mut DbConn,
    organization: OrganizationId,
    id: WebhookEndpointId,
) -> Result<Endpoint, StoreError> {
    find(conn, id)?.filter(|e| e.organization_id == organization).ok_or_else(not_found)
}

/// A page of an organisation's endpoints, oldest first, with the total.
pub fn list(
    conn: &mut DbConn,
    organization: OrganizationId,
    offset: i64,
    limit: i64,
) -> Result<(Vec<Endpoint>, i64), StoreError> {
    let of_org =
        || webhook_endpoints::table.filter(webhook_endpoints::organization_id.eq(organization));
    let total = of_org().count().get_result(conn)?;
    let items = of_org()
        .select(webhook_endpoints::all_columns)
        .order((webhook_endpoints::created_at.asc(), webhook_endpoints::id.asc()))
        .offset(offset)
        .limit(limit)
        .load(conn)?;
    Ok((items, total))
}

/// Active endpoints of `organization` subscribed to `event_type`.
pub fn subscribers(
    conn: &mut DbConn,
    organization: OrganizationId,
    event_type: &str,
) -> Result<Vec<Endpoint>, StoreError> {
    let active: Vec<Endpoint> = webhook_endpoints::table
        .filter(webhook_endpoints::organization_id.eq(organization))
        .filter(webhook_endpoints::active.eq(true))
        .select(webhook_endpoints::all_columns)
        .order(webhook_endpoints::id.asc())
        .load(conn)?;
    Ok(active.into_iter().filter(|e| e.subscribes_to(event_type)).collect())
}

/// Replaces the settings if the stored version is still `expected_version` (412 otherwise).
/// Re-activating, or pointing at a new URL, starts the failure count afresh.
pub fn update(
    conn: &mut DbConn,
    current: &Endpoint,
    expected_version: i32,
    settings: &Settings,
) -> Result<Endpoint, StoreError> {
    let fresh_start = (settings.active && !current.active) || settings.url != current.url;
    let target = webhook_endpoints::table
        .find(current.id)
        .filter(webhook_endpoints::version.eq(expected_version));
    let changes = (
        webhook_endpoints::url.eq(&settings.url),
        webhook_endpoints::event_types.eq(json_list(&settings.event_types)),
        webhook_endpoints::active.eq(settings.active),
        webhook_endpoints::updated_at.eq(now()),
        webhook_endpoints::version.eq(webhook_endpoints::version + 1),
    );
    let updated = if fresh_start {
        diesel::update(target)
            .set((
                changes,
                webhook_endpoints::consecutive_failures.eq(0),
                webhook_endpoints::disabled_at.eq(None::<NaiveDateTime>),
                webhook_endpoints::disabled_reason.eq(None::<String>),
            ))
            .returning(webhook_endpoints::all_columns)
            .get_result(conn)
            .optional()?
    } else {
        diesel::update(target)
            .set(changes)
            .returning(webhook_endpoints::all_columns)
            .get_result(conn)
            .optional()?
    };
    match updated {
        Some(endpoint) => Ok(endpoint),
        None => {
            get(conn, current.organization_id, current.id)?;
            Err(StoreError::Stale)
        }
    }
}

/// Deletes the endpoint and its log. Deliveries still queued for it fail when claimed.
pub fn delete(
    conn: &mut DbConn,
    organization: OrganizationId,
    id: WebhookEndpointId,
) -> Result<(), StoreError> {
    let deleted = diesel::delete(
        webhook_endpoints::table
            .find(id)
            .filter(webhook_endpoints::organization_id.eq(organization)),
    )
    .execute(conn)?;
    if deleted == 1 { Ok(()) } else { Err(not_found()) }
}

/// A successful delivery: the failure count starts again.
pub fn record_success(conn: &mut DbConn, id: WebhookEndpointId) -> Result<(), StoreError> {
    diesel::update(
        webhook_endpoints::table.find(id).filter(webhook_endpoints::consecutive_failures.ne(0)),
    )
    .set(webhook_endpoints::consecutive_failures.eq(0))
    .execute(conn)?;
    Ok(())
}

/// A failed attempt; returns the endpoint as it is now (`None` if it was deleted).
/// Server-kept counters do not change `version`: an owner's edit is not refused for them.
pub fn record_failure(
    conn: &mut DbConn,
    id: WebhookEndpointId,
) -> Result<Option<Endpoint>, StoreError> {
    Ok(diesel::update(webhook_endpoints::table.find(id))
        .set(
            webhook_endpoints::consecutive_failures.eq(webhook_endpoints::consecutive_failures + 1),
        )
        .returning(webhook_endpoints::all_columns)
        .get_result(conn)
        .optional()?)
}

/// Turns an active endpoint off for `reason`; false if it was not active (already disabled
/// by another worker, or paused by its owner), so owners are told once.
pub fn disable(conn: &mut DbConn, id: WebhookEndpointId, reason: &str) -> Result<bool, StoreError> {
    let at = now();
    let updated = diesel::update(
        webhook_endpoints::table.find(id).filter(webhook_endpoints::active.eq(true)),
    )
    .set((
        webhook_endpoints::active.eq(false),
        webhook_endpoints::disabled_at.eq(Some(at)),
        webhook_endpoints::disabled_reason.eq(Some(truncate(reason))),
        webhook_endpoints::updated_at.eq(at),
        webhook_endpoints::version.eq(webhook_endpoints::version + 1),
    ))
    .execute(conn)?;
    Ok(updated == 1)
}

/// Whom to tell about an organisation's webhooks: its owners with working accounts.
#[derive(Debug, Clone, Queryable)]
pub struct Contact {
    pub email: String,
    pub display_name: String,
    pub language: String,
}

pub fn owner_contacts(
    conn: &mut DbConn,
    organization: OrganizationId,
) -> Result<Vec<Contact>, StoreError> {
    Ok(memberships::table
        .inner_join(users::table)
        .filter(memberships::organization_id.eq(organization))
        .filter(memberships::role.eq(OrgRole::Owner.as_str()))
        .filter(users::disabled_at.is_null())
        .select((users::email, users::display_name, users::language))
        .order(memberships::created_at.asc())
        .load(conn)?)
}

#[derive(Debug, Clone, Queryable)]
pub struct Delivery {
    pub id: WebhookDeliveryId,
    pub endpoint_id: WebhookEndpointId,
    pub outbox_id: OutboxId,
    pub event_id: WebhookEventId,
    pub event_type: String,
    pub attempt: i32,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i64,
    pub created_at: NaiveDateTime,
}

/// One attempt to log.
#[derive(Debug, Clone)]
pub struct NewDelivery<'a> {
    pub endpoint_id: WebhookEndpointId,
    pub outbox_id: OutboxId,
    pub event_id: WebhookEventId,
    pub event_type: &'a str,
    pub attempt: i32,
    pub status_code: Option<u16>,
    pub error: Option<&'a str>,
    pub duration_ms: u64,
    pub at: NaiveDateTime,
}

pub fn log_delivery(conn: &mut DbConn, new: &NewDelivery<'_>) -> Result<(), StoreError> {
    diesel::insert_into(webhook_deliveries::table)
        .values((
            webhook_deliveries::id.eq(WebhookDeliveryId::new()),
            webhook_deliveries::endpoint_id.eq(new.endpoint_id),
            webhook_deliveries::outbox_id.eq(new.outbox_id),
            webhook_deliveries::event_id.eq(new.event_id),
            webhook_deliveries::event_type.eq(new.event_type),
            webhook_deliveries::attempt.eq(new.attempt),
            webhook_deliveries::status_code.eq(new.status_code.map(i32::from)),
            webhook_deliveries::error.eq(new.error.map(truncate)),
            webhook_deliveries::duration_ms.eq(i64::try_from(new.duration_ms).unwrap_or(i64::MAX)),
            webhook_deliveries::created_at.eq(new.at),
        ))
        .execute(conn)?;
    Ok(())
}

/// A page of an endpoint's log, newest first, with the total.
pub fn deliveries(
    conn: &mut DbConn,
    endpoint: WebhookEndpointId,
    offset: i64,
    limit: i64,
) -> Result<(Vec<Delivery>, i64), StoreError> {
    let of_endpoint =
        || webhook_deliveries::table.filter(webhook_deliveries::endpoint_id.eq(endpoint));
    let total = of_endpoint().count().get_result(conn)?;
    let items = of_endpoint()
        .select(webhook_deliveries::all_columns)
        .order((webhook_deliveries::created_at.desc(), webhook_deliveries::id.desc()))
        .offset(offset)
        .limit(limit)
        .load(conn)?;
    Ok((items, total))
}

fn truncate(text: &str) -> String {
    match text.char_indices().nth(MAX_ERROR_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}
