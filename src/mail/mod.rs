//! Mail: never sent inside a request. A caller [`enqueue`]s a [`Mail`] in the same
//! transaction as the change that caused it; the [`worker`] renders it from the
//! `templates/mail/` files in the recipient's language and delivers it over SMTP (or into
//! `.eml` files), retrying with backoff.
//!
//! ```ignore
//! dialect::write_transaction(conn, |conn| {
//!     let user = store::users::create(conn, &new_user)?;
//!     mail::enqueue(conn, &Mail {
//!         to: user.email.clone(),
//!         template: Template::VerifyEmail,
//!         lang: user.lang,
//!         context: json!({
//!             "display_name": user.display_name,
//!             "verify_url": config.mail.link(&format!("/verify-email?token={token}")),
//!             "token": token,
//!         }),
//!     })?;
//!     Ok(user)
//! })
//! ```

pub mod config;
pub mod templates;
pub mod transport;
pub mod worker;

use chrono::{DateTime, Utc};
use lettre::message::Mailbox;
use serde::Serialize;
use utoipa::ToSchema;

pub use config::MailConfig;
pub use templates::{Rendered, Renderer, Template};

use crate::db::DbConn;
use crate::db::types::{OutboxId, utc};
use crate::domain::lang::Lang;
use crate::store::StoreError;
use crate::store::outbox::{self, Channel, NewOutbox, OutboxRow, OutboxStatus};

/// A mail to send: a template, the recipient's language and the template's fields.
#[derive(Debug, Clone)]
pub struct Mail {
    /// `user@example.vn` or `Name <user@example.vn>`.
    pub to: String,
    pub template: Template,
    pub lang: Lang,
    /// A JSON object holding at least `template.fields()`.
    pub context: serde_json::Value,
}

/// Queues `mail` on the caller's connection, inside the caller's transaction: it is sent only
/// if that transaction commits. An invalid address is a validation error on `email`; a
/// context lacking a template field is a bug, refused here rather than failing at send time.
pub fn enqueue(conn: &mut DbConn, mail: &Mail) -> Result<OutboxId, StoreError> {
    let to = mail.to.trim();
    if to.parse::<Mailbox>().is_err() {
        return Err(StoreError::invalid("email", "is not a valid email address"));
    }
    let template = mail.template.name();
    let Some(fields) = mail.context.as_object() else {
        tracing::error!(template, "mail context is not a JSON object");
        return Err(StoreError::corrupt(
            "outbox",
            "payload",
            format!("the context of mail {template} is not a JSON object"),
        ));
    };
    let missing: Vec<&str> =
        mail.template.fields().iter().copied().filter(|f| !fields.contains_key(*f)).collect();
    if !missing.is_empty() {
        tracing::error!(template, ?missing, "mail context lacks template fields");
        return Err(StoreError::corrupt(
            "outbox",
            "payload",
            format!("the context of mail {template} lacks {missing:?}"),
        ));
    }
    let payload = mail.context.to_string();
    outbox::insert(
        conn,
        NewOutbox {
            channel: Channel::Email,
            recipient: to,
            template,
            language: mail.lang,
            payload: &payload,
        },
    )
}

/// An outbox row as staff see it (no payload: it may hold tokens).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OutboxEntry {
    pub id: uuid::Uuid,
    pub channel: Channel,
    #[schema(example = "an.nguyen@example.vn")]
    pub recipient: String,
    /// Mail template or webhook event type.
    #[schema(example = "verify_email")]
    pub template: String,
    pub language: Lang,
    pub status: OutboxStatus,
    /// Delivery attempts started so far.
    pub attempts: i32,
    /// When the next attempt is due (while `pending` or `sending`).
    pub next_attempt_at: DateTime<Utc>,
    /// Why the latest attempt failed, if one did.
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

impl TryFrom<OutboxRow> for OutboxEntry {
    type Error = StoreError;

    fn try_from(row: OutboxRow) -> Result<Self, StoreError> {
        let corrupt = |column: &'static str, value: &str| {
            tracing::error!(id = %row.id, column, value, "outbox row holds an unknown value");
            StoreError::corrupt(
                "outbox",
                column,
                format!("row {}: unknown value {value:?}", row.id),
            )
        };
        Ok(Self {
            id: row.id.0,
            channel: Channel::parse(&row.channel)
                .ok_or_else(|| corrupt("channel", &row.channel))?,
            language: row.lang().ok_or_else(|| corrupt("language", &row.language))?,
            status: row.status().ok_or_else(|| corrupt("status", &row.status))?,
            recipient: row.recipient,
            template: row.template,
            attempts: row.attempts,
            next_attempt_at: utc(row.next_attempt_at),
            last_error: row.last_error,
            created_at: utc(row.created_at),
            sent_at: row.sent_at.map(utc),
        })
    }
}
