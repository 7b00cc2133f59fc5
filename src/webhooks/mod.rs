//! Webhooks: organisations register HTTPS endpoints and receive signed JSON events.
//!
//! Other modules announce what happened with [`emit`], inside the transaction of the change
//! (so an event exists exactly when the change does):
//!
//! ```ignore
//! dialect::write_transaction(conn, |conn| {
//!     let listing = store::listings::publish(conn, id, moderator)?;
//!     webhooks::emit(conn, listing.organization_id, EventType::ListingPublished, json!({
//!         "listing_id": listing.id.to_string(),
//!         "title": listing.title,
//!     }))?;
//!     Ok(listing)
//! })
//! ```
//!
//! `emit` writes one outbox row (`channel = 'webhook'`, `recipient` = the endpoint id) per
//! active endpoint of the organisation subscribed to the event; the [`worker`] signs and
//! POSTs them with the outbox's retries, logs every attempt, and disables an endpoint that
//! keeps failing.

pub mod config;
pub mod worker;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use config::{WebhookConfig, url_policy};

use crate::db::DbConn;
use crate::db::types::{OrganizationId, OutboxId, WebhookEventId, now, utc};
use crate::domain::lang::Lang;
use crate::store::StoreError;
use crate::store::outbox::{self, Channel, NewOutbox};
use crate::store::webhooks::{self as store, Endpoint};

/// What happened. Serialised as the dotted names receivers see in `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum EventType {
    /// A listing was published (approved by a moderator).
    #[serde(rename = "listing.published")]
    ListingPublished,
    /// The exchange matched a listing with a demand.
    #[serde(rename = "match.found")]
    MatchFound,
    /// Someone sent an enquiry about one of the organisation's listings.
    #[serde(rename = "inquiry.received")]
    InquiryReceived,
    /// A deal moved to another stage.
    #[serde(rename = "deal.stage_changed")]
    DealStageChanged,
    /// A valuation changed status.
    #[serde(rename = "valuation.status_changed")]
    ValuationStatusChanged,
    /// An owner revoked one of the organisation's API keys.
    #[serde(rename = "api_key.revoked")]
    ApiKeyRevoked,
    /// Sent by `POST …/webhooks/{webhook_id}/test` to that endpoint only; cannot be
    /// subscribed to.
    #[serde(rename = "ping")]
    Ping,
}

impl EventType {
    pub const ALL: [EventType; 7] = [
        Self::ListingPublished,
        Self::MatchFound,
        Self::InquiryReceived,
        Self::DealStageChanged,
        Self::ValuationStatusChanged,
        Self::ApiKeyRevoked,
        Self::Ping,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ListingPublished => "listing.published",
            Self::MatchFound => "match.found",
            Self::InquiryReceived => "inquiry.received",
            Self::DealStageChanged => "deal.stage_changed",
            Self::ValuationStatusChanged => "valuation.status_changed",
            Self::ApiKeyRevoked => "api_key.revoked",
            Self::Ping => "ping",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// Whether an endpoint may subscribe to it.
    pub fn subscribable(self) -> bool {
        self != Self::Ping
    }
}

/// The JSON body of every webhook request: what receivers parse, and what the signature
/// covers byte for byte.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "id": "0193a5b2-7c4e-7d10-9f3a-5b6c7d8e9f01",
    "type": "listing.published",
    "created_at": "2026-11-27T08:30:00.123456Z",
    "organization_id": "0193a5b2-1111-7d10-9f3a-5b6c7d8e9f01",
    "data": {
        "technology_id": "0193a5b2-2222-7d10-9f3a-5b6c7d8e9f01",
        "title": "Quy trình sản xuất chế phẩm sinh học",
        "published_at": "2026-11-27T08:30:00.123456Z",
        "expires_at": "2027-11-27T08:30:00.123456Z"
    }
}))]
pub struct WebhookEvent {
    /// The event's id: the same in every endpoint's copy and every retry. Receivers should
    /// ignore an id they have already processed.
    pub id: uuid::Uuid,
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub created_at: DateTime<Utc>,
    pub organization_id: uuid::Uuid,
    /// Event-specific fields, by `type` (see `WebhookEventData`).
    #[schema(value_type = crate::api::payloads::WebhookEventData)]
    pub data: serde_json::Value,
}

/// Queues `event` for every active endpoint of `organization_id` subscribed to it. Call it
/// inside the transaction of the change the event announces: nothing is sent if that
/// transaction rolls back. [`EventType::Ping`] goes to no subscriber (only the test
/// endpoint sends it).
pub fn emit(
    conn: &mut DbConn,
    organization_id: OrganizationId,
    event: EventType,
    data: serde_json::Value,
) -> Result<(), StoreError> {
    if !event.subscribable() {
        return Ok(());
    }
    let endpoints = store::subscribers(conn, organization_id, event.as_str())?;
    if endpoints.is_empty() {
        return Ok(());
    }
    let body = event_body(organization_id, event, data)?;
    for endpoint in &endpoints {
        queue(conn, endpoint, event, &body.1)?;
    }
    Ok(())
}

/// Queues a `ping` for one endpoint; returns the event id and the delivery (outbox) id.
pub fn emit_ping(
    conn: &mut DbConn,
    endpoint: &Endpoint,
) -> Result<(WebhookEventId, OutboxId), StoreError> {
    let data = serde_json::json!({
        "webhook_id": endpoint.id.to_string(),
        "message": "Ping from techx: this endpoint receives webhooks.",
    });
    let (event_id, body) = event_body(endpoint.organization_id, EventType::Ping, data)?;
    let delivery = queue(conn, endpoint, EventType::Ping, &body)?;
    Ok((event_id, delivery))
}

fn event_body(
    organization_id: OrganizationId,
    event: EventType,
    data: serde_json::Value,
) -> Result<(WebhookEventId, String), StoreError> {
    let id = WebhookEventId::new();
    let body = WebhookEvent {
        id: id.into(),
        event_type: event,
        created_at: utc(now()),
        organization_id: organization_id.into(),
        data,
    };
    let json = serde_json::to_string(&body).map_err(|e| {
        tracing::error!(error = %e, event = event.as_str(), "cannot serialise a webhook event");
        StoreError::corrupt("outbox", "payload", e)
    })?;
    Ok((id, json))
}

fn queue(
    conn: &mut DbConn,
    endpoint: &Endpoint,
    event: EventType,
    body: &str,
) -> Result<OutboxId, StoreError> {
    outbox::insert(
        conn,
        NewOutbox {
            channel: Channel::Webhook,
            recipient: &endpoint.id.to_string(),
            template: event.as_str(),
            // Required by the outbox; a webhook body has no language.
            language: Lang::default(),
            payload: body,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_names_round_trip_and_match_serde() {
        for event in EventType::ALL {
            assert_eq!(EventType::parse(event.as_str()), Some(event));
            assert_eq!(serde_json::to_value(event).unwrap(), event.as_str());
        }
        assert_eq!(EventType::parse("listing_published"), None);
        assert!(!EventType::Ping.subscribable());
        assert_eq!(EventType::ALL.iter().filter(|e| e.subscribable()).count(), 6);
    }

    #[test]
    fn the_body_has_the_documented_fields_in_order() {
        let org = OrganizationId::new();
        let (id, body) =
            event_body(org, EventType::MatchFound, serde_json::json!({"score": 0.8})).unwrap();
        let keys: Vec<&str> =
            ["\"id\"", "\"type\"", "\"created_at\"", "\"organization_id\"", "\"data\""]
                .into_iter()
                .collect();
        let positions: Vec<usize> = keys.iter().map(|k| body.find(k).unwrap()).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{body}");
        let value: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(value["id"], id.to_string());
        assert_eq!(value["type"], "match.found");
        assert_eq!(value["organization_id"], org.to_string());
        assert_eq!(value["data"]["score"], 0.8);
        assert!(value["created_at"].as_str().unwrap().ends_with('Z'), "{body}");
    }
}
