//! The shapes of JSON payloads the server stores as JSON text and sends back as they were
//! written: a deal event's `before`/`after` and a webhook event's `data`. These types exist
//! for the OpenAPI document (each is written by exactly one `json!` in `store/` or
//! `webhooks/`); the demo-data check in CI (`clients/src/check-responses.mjs`) parses every
//! timeline of the demo against them.
#![allow(dead_code)]

use std::borrow::Cow;

use serde::Deserialize;
use utoipa::openapi::schema::OneOfBuilder;
use utoipa::openapi::{Ref, RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use crate::domain::deals::{ChecklistItem, Stage};
use crate::domain::valuation_request::Status as ValuationStatus;

/// `accepted`: which sides have accepted, after this acceptance.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptancePayload {
    pub buyer_accepted: bool,
    pub seller_accepted: bool,
}

/// `signing_confirmed`: which sides have confirmed signing, after this confirmation.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SigningPayload {
    pub buyer_confirmed: bool,
    pub seller_confirmed: bool,
}

/// `checklist`: the item before and after the change.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChecklistPayload {
    pub item: ChecklistItem,
    pub ticked: bool,
    pub note: Option<String>,
}

/// `stage_changed` to `completed`: the final price.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompletionPayload {
    #[schema(minimum = 0)]
    pub final_price: Option<i64>,
    pub currency: Option<String>,
}

/// `stage_changed` to `cancelled`: why.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancellationPayload {
    pub reason: Option<String>,
}

/// `document_link`: the linked document.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentLinkPayload {
    pub title: String,
    pub url: String,
}

/// `valuation`: a linked valuation request changed status.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValuationPayload {
    pub valuation_request_id: uuid::Uuid,
    pub status: ValuationStatus,
}

/// A deal event's `before`/`after`, by `kind`: `created` (`after`) and `terms_changed`
/// (both) hold `Terms`; `accepted` an `AcceptancePayload`; `signing_confirmed` a
/// `SigningPayload`; `checklist` a `ChecklistPayload` (both); `stage_changed` to
/// `completed` a `CompletionPayload`, to `cancelled` a `CancellationPayload`;
/// `document_link` a `DocumentLinkPayload`; `valuation` a `ValuationPayload`. Others: null.
pub struct DealEventPayload;

fn one_of(names: &[&str], description: &str) -> RefOr<Schema> {
    let mut builder = OneOfBuilder::new().description(Some(description));
    for name in names {
        builder = builder.item(Ref::from_schema_name(*name));
    }
    builder.into()
}

impl PartialSchema for DealEventPayload {
    fn schema() -> RefOr<Schema> {
        one_of(
            &[
                "Terms",
                "AcceptancePayload",
                "SigningPayload",
                "ChecklistPayload",
                "CompletionPayload",
                "CancellationPayload",
                "DocumentLinkPayload",
                "ValuationPayload",
            ],
            "The payload of a deal event; which one follows from `kind` (see DealEventDto).",
        )
    }
}

impl ToSchema for DealEventPayload {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("DealEventPayload")
    }
}

/// `listing.published`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListingPublishedData {
    pub technology_id: uuid::Uuid,
    pub title: String,
    pub published_at: chrono::DateTime<chrono::Utc>,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// `match.found`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MatchFoundData {
    pub technology_id: uuid::Uuid,
    pub demand_id: uuid::Uuid,
    #[schema(minimum = 0, maximum = 100)]
    pub score: u8,
}

/// `inquiry.received`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InquiryReceivedData {
    pub inquiry_id: uuid::Uuid,
    pub technology_id: uuid::Uuid,
    pub from_organization_id: uuid::Uuid,
    pub transfer_form: crate::domain::deals::TransferForm,
}

/// `deal.stage_changed`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DealStageChangedData {
    pub deal_id: uuid::Uuid,
    pub technology_id: uuid::Uuid,
    pub from: Stage,
    pub to: Stage,
}

/// `valuation.status_changed`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValuationStatusChangedData {
    pub valuation_request_id: uuid::Uuid,
    pub technology_id: uuid::Uuid,
    pub status: ValuationStatus,
    pub version: i32,
}

/// `ping` (the test operation).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PingData {
    pub webhook_id: uuid::Uuid,
    pub message: String,
}

/// A webhook event's `data`, by the event's `type`.
pub struct WebhookEventData;

impl PartialSchema for WebhookEventData {
    fn schema() -> RefOr<Schema> {
        one_of(
            &[
                "ListingPublishedData",
                "MatchFoundData",
                "InquiryReceivedData",
                "DealStageChangedData",
                "ValuationStatusChangedData",
                "PingData",
            ],
            "Event-specific fields: `listing.published` → ListingPublishedData, `match.found` → \
             MatchFoundData, `inquiry.received` → InquiryReceivedData, `deal.stage_changed` → \
             DealStageChangedData, `valuation.status_changed` → ValuationStatusChangedData, \
             `ping` → PingData.",
        )
    }
}

impl ToSchema for WebhookEventData {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("WebhookEventData")
    }
}

/// Registers the payload schemas (referenced by name from the `oneOf`s above).
pub fn register(components: &mut utoipa::openapi::Components) {
    let mut add = |name: &str, schema: RefOr<Schema>| {
        components.schemas.insert(name.to_owned(), schema);
    };
    add("DealEventPayload", DealEventPayload::schema());
    add("AcceptancePayload", AcceptancePayload::schema());
    add("SigningPayload", SigningPayload::schema());
    add("ChecklistPayload", ChecklistPayload::schema());
    add("CompletionPayload", CompletionPayload::schema());
    add("CancellationPayload", CancellationPayload::schema());
    add("DocumentLinkPayload", DocumentLinkPayload::schema());
    add("ValuationPayload", ValuationPayload::schema());
    add("WebhookEventData", WebhookEventData::schema());
    add("ListingPublishedData", ListingPublishedData::schema());
    add("MatchFoundData", MatchFoundData::schema());
    add("InquiryReceivedData", InquiryReceivedData::schema());
    add("DealStageChangedData", DealStageChangedData::schema());
    add("ValuationStatusChangedData", ValuationStatusChangedData::schema());
    add("PingData", PingData::schema());
}
