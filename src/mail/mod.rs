//! Mail: messages are queued in the `outbox` table inside the transaction that caused them
//! and delivered later by the outbox worker.
//!
//! (Placeholder for the interface; the delivery worker and templates land with the mail
//! branch.)

use diesel::prelude::*;
use serde::Serialize;

use crate::db::DbConn;
use crate::db::schema::outbox;
use crate::db::types::{Id, now};
use crate::domain::lang::Lang;
use crate::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Template {
    VerifyEmail,
    PasswordReset,
    PasswordChanged,
    OrganizationInvitation,
    /// A listing was approved and is public.
    ListingPublished,
    /// A listing was rejected by a moderator, with a reason.
    ListingRejected,
    /// A published listing expires within 14 days unless renewed.
    ListingExpiring,
    /// A listing reached its expiry date and was archived.
    ListingExpired,
}

pub struct Mail {
    pub to: String,
    pub template: Template,
    pub lang: Lang,
    pub context: serde_json::Value,
}

pub fn enqueue(conn: &mut DbConn, mail: &Mail) -> Result<Id, ApiError> {
    let id = Id::new();
    let at = now();
    let template = serde_json::to_value(mail.template)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .ok_or_else(ApiError::internal)?;
    diesel::insert_into(outbox::table)
        .values((
            outbox::id.eq(id),
            outbox::channel.eq("email"),
            outbox::recipient.eq(&mail.to),
            outbox::template.eq(template),
            outbox::language.eq(mail.lang.code()),
            outbox::payload.eq(mail.context.to_string()),
            outbox::status.eq("pending"),
            outbox::attempts.eq(0),
            outbox::next_attempt_at.eq(at),
            outbox::created_at.eq(at),
            outbox::updated_at.eq(at),
        ))
        .execute(conn)?;
    Ok(id)
}

/// A link into the front-end for a mailed token, e.g. `…/verify-email?token=…`.
pub fn public_link(_state: &crate::state::AppState, page: &str, token: &str) -> String {
    format!("http://127.0.0.1:8080/{page}?token={token}")
}
