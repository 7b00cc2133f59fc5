//! The outbox row as stored: what `dialect::claim_outbox` loads for the workers. Its
//! meaning (statuses, channels) belongs to `store::outbox`.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::outbox;
use super::types::{LeaseId, OutboxId};

/// One outbox row as stored (columns in `schema.rs` order).
#[derive(Debug, Clone, PartialEq, Eq, Queryable, QueryableByName)]
#[diesel(table_name = outbox)]
pub struct OutboxRow {
    pub id: OutboxId,
    pub channel: String,
    pub recipient: String,
    pub template: String,
    pub language: String,
    /// The template context (mail) or event body (webhook), as JSON text.
    pub payload: String,
    pub status: String,
    /// Delivery attempts started, the one in progress included.
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub locked_until: Option<NaiveDateTime>,
    pub lease_id: Option<LeaseId>,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub sent_at: Option<NaiveDateTime>,
}
