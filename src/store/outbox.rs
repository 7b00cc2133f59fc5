//! The outbox: notifications written in the caller's transaction and delivered later by a
//! worker (mail now, webhooks later). Workers claim due rows under a lease; every state
//! change after the claim is fenced by the lease id, so a worker that lost its lease cannot
//! overwrite what the next holder recorded.

use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::schema::outbox;
use crate::db::types::{LeaseId, OutboxId, now};
use crate::db::{DbConn, dialect};
use crate::domain::lang::Lang;
use crate::store::StoreError;

/// Longest `last_error` kept; server replies can be long and are only a diagnosis.
const MAX_ERROR_CHARS: usize = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutboxStatus {
    /// Waiting for its `next_attempt_at`.
    Pending,
    /// Claimed by a worker whose lease has not expired.
    Sending,
    Sent,
    /// Gave up: permanent rejection or too many attempts; see `last_error`.
    Failed,
}

impl OutboxStatus {
    pub const ALL: [OutboxStatus; 4] = [Self::Pending, Self::Sending, Self::Sent, Self::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Failed => "failed",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Webhook,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Webhook => "webhook",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::Email, Self::Webhook].into_iter().find(|c| c.as_str() == value)
    }
}

pub use crate::db::outbox::OutboxRow;

impl OutboxRow {
    pub fn status(&self) -> Option<OutboxStatus> {
        OutboxStatus::parse(&self.status)
    }

    pub fn lang(&self) -> Option<Lang> {
        Lang::parse(&self.language)
    }
}

/// What a caller queues.
#[derive(Debug, Clone, Copy)]
pub struct NewOutbox<'a> {
    pub channel: Channel,
    pub recipient: &'a str,
    pub template: &'a str,
    pub language: Lang,
    pub payload: &'a str,
}

/// Queues a notification, due now. Call it inside the caller's transaction.
pub fn insert(conn: &mut DbConn, new: NewOutbox<'_>) -> Result<OutboxId, StoreError> {
    let id = OutboxId::new();
    let at = now();
    diesel::insert_into(outbox::table)
        .values((
            outbox::id.eq(id),
            outbox::channel.eq(new.channel.as_str()),
            outbox::recipient.eq(new.recipient),
            outbox::template.eq(new.template),
            outbox::language.eq(new.language.code()),
            outbox::payload.eq(new.payload),
            outbox::status.eq(OutboxStatus::Pending.as_str()),
            outbox::attempts.eq(0),
            outbox::next_attempt_at.eq(at),
            outbox::created_at.eq(at),
            outbox::updated_at.eq(at),
        ))
        .execute(conn)?;
    Ok(id)
}

pub fn get(conn: &mut DbConn, id: OutboxId) -> Result<Option<OutboxRow>, StoreError> {
    Ok(outbox::table.find(id).first::<OutboxRow>(conn).optional()?)
}

/// A page of rows, newest first, optionally of one status; with the total count.
/// `page` starts at 1; `per_page` is 1 to 100.
pub fn list(
    conn: &mut DbConn,
    status: Option<OutboxStatus>,
    page: i64,
    per_page: i64,
) -> Result<(Vec<OutboxRow>, i64), StoreError> {
    if page < 1 {
        return Err(StoreError::invalid("page", "must be at least 1"));
    }
    if !(1..=100).contains(&per_page) {
        return Err(StoreError::invalid("per_page", "must be between 1 and 100"));
    }
    let filtered = || {
        let mut query = outbox::table.into_boxed();
        if let Some(status) = status {
            query = query.filter(outbox::status.eq(status.as_str()));
        }
        query
    };
    let total: i64 = filtered().count().get_result(conn)?;
    let rows = filtered()
        .order((outbox::created_at.desc(), outbox::id.desc()))
        .limit(per_page)
        .offset((page - 1).saturating_mul(per_page))
        .load::<OutboxRow>(conn)?;
    Ok((rows, total))
}

/// Puts a `failed` row back in the queue, due now, with its attempts counted from zero again
/// (its `last_error` kept until the next attempt). `None` when the row does not exist;
/// `Some(Err(status))` when it is not `failed`.
pub fn requeue(
    conn: &mut DbConn,
    id: OutboxId,
) -> Result<Option<Result<OutboxRow, OutboxStatus>>, StoreError> {
    let at = now();
    let updated = diesel::update(
        outbox::table.find(id).filter(outbox::status.eq(OutboxStatus::Failed.as_str())),
    )
    .set((
        outbox::status.eq(OutboxStatus::Pending.as_str()),
        outbox::attempts.eq(0),
        outbox::next_attempt_at.eq(at),
        outbox::locked_until.eq(None::<NaiveDateTime>),
        outbox::lease_id.eq(None::<LeaseId>),
        outbox::updated_at.eq(at),
    ))
    .execute(conn)?;
    let Some(row) = get(conn, id)? else { return Ok(None) };
    if updated == 1 {
        return Ok(Some(Ok(row)));
    }
    Ok(Some(Err(row.status().unwrap_or(OutboxStatus::Pending))))
}

/// Rows given up on (`failed`), per channel: the `techx_outbox_failed` gauge.
pub fn count_failed(conn: &mut DbConn) -> Result<Vec<(String, i64)>, StoreError> {
    Ok(outbox::table
        .filter(outbox::status.eq(OutboxStatus::Failed.as_str()))
        .group_by(outbox::channel)
        .select((outbox::channel, diesel::dsl::count_star()))
        .order(outbox::channel)
        .load(conn)?)
}

/// Claims up to `limit` due rows of `channel` for `lease` (see `dialect::claim_outbox`).
/// Each returned row is `sending`, has its `attempts` counted and carries `lease_id`.
pub fn claim(
    conn: &mut DbConn,
    channel: Channel,
    lease: Duration,
    limit: u32,
) -> Result<Vec<OutboxRow>, StoreError> {
    let at = now();
    let lease_id = LeaseId::new();
    let until = later(at, lease);
    Ok(dialect::claim_outbox(conn, channel.as_str(), at, until, lease_id, i64::from(limit))?)
}

/// Records a delivery; false when the lease was lost (another worker holds the row now).
pub fn mark_sent(conn: &mut DbConn, id: OutboxId, lease_id: LeaseId) -> Result<bool, StoreError> {
    let at = now();
    let updated = diesel::update(held(id, lease_id))
        .set((
            outbox::status.eq(OutboxStatus::Sent.as_str()),
            outbox::sent_at.eq(Some(at)),
            outbox::locked_until.eq(None::<NaiveDateTime>),
            outbox::lease_id.eq(None::<LeaseId>),
            outbox::updated_at.eq(at),
        ))
        .execute(conn)?;
    Ok(updated == 1)
}

/// Records a failed attempt and when to try again; false when the lease was lost.
pub fn mark_retry(
    conn: &mut DbConn,
    id: OutboxId,
    lease_id: LeaseId,
    error: &str,
    retry_in: Duration,
) -> Result<bool, StoreError> {
    let at = now();
    let updated = diesel::update(held(id, lease_id))
        .set((
            outbox::status.eq(OutboxStatus::Pending.as_str()),
            outbox::next_attempt_at.eq(later(at, retry_in)),
            outbox::locked_until.eq(None::<NaiveDateTime>),
            outbox::lease_id.eq(None::<LeaseId>),
            outbox::last_error.eq(Some(truncate(error))),
            outbox::updated_at.eq(at),
        ))
        .execute(conn)?;
    Ok(updated == 1)
}

/// Gives up on a row; false when the lease was lost.
pub fn mark_failed(
    conn: &mut DbConn,
    id: OutboxId,
    lease_id: LeaseId,
    error: &str,
) -> Result<bool, StoreError> {
    let at = now();
    let updated = diesel::update(held(id, lease_id))
        .set((
            outbox::status.eq(OutboxStatus::Failed.as_str()),
            outbox::locked_until.eq(None::<NaiveDateTime>),
            outbox::lease_id.eq(None::<LeaseId>),
            outbox::last_error.eq(Some(truncate(error))),
            outbox::updated_at.eq(at),
        ))
        .execute(conn)?;
    Ok(updated == 1)
}

/// The row with this id, as long as this lease holds it.
type Held = diesel::dsl::Filter<
    diesel::dsl::Find<outbox::table, OutboxId>,
    diesel::dsl::And<
        diesel::dsl::Eq<outbox::status, &'static str>,
        diesel::dsl::Eq<outbox::lease_id, LeaseId>,
    >,
>;

fn held(id: OutboxId, lease_id: LeaseId) -> Held {
    outbox::table.find(id).filter(
        outbox::status.eq(OutboxStatus::Sending.as_str()).and(outbox::lease_id.eq(lease_id)),
    )
}

/// `at + delay`, saturating instead of panicking on absurd delays.
fn later(at: NaiveDateTime, delay: Duration) -> NaiveDateTime {
    chrono::Duration::from_std(delay)
        .ok()
        .and_then(|delay| at.checked_add_signed(delay))
        .unwrap_or(NaiveDateTime::MAX)
}

fn truncate(error: &str) -> String {
    match error.char_indices().nth(MAX_ERROR_CHARS) {
        Some((cut, _)) => format!("{}…", &error[..cut]),
        None => error.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for status in OutboxStatus::ALL {
            assert_eq!(OutboxStatus::parse(status.as_str()), Some(status));
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
        for channel in [Channel::Email, Channel::Webhook] {
            assert_eq!(Channel::parse(channel.as_str()), Some(channel));
        }
        assert_eq!(OutboxStatus::parse("done"), None);
    }

    #[test]
    fn long_errors_are_cut_on_a_char_boundary() {
        let long = "lỗi ".repeat(400);
        let cut = truncate(&long);
        assert_eq!(cut.chars().count(), MAX_ERROR_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(truncate("short"), "short");
    }
}
