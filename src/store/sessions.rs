//! Sessions and mailed tokens: refresh-token families with rotation and reuse detection,
//! single-use email tokens, and failed-login throttling.

use chrono::{Duration as ChronoDuration, NaiveDateTime};
use diesel::prelude::*;

use crate::auth::secret::{random_token, token_hash};
use crate::db::DbConn;
use crate::db::schema::{email_tokens, login_throttle, refresh_tokens};
use crate::db::types::{EmailTokenId, RefreshTokenId, SessionId, UserId, now};
use crate::store::StoreError;

fn later(after: std::time::Duration) -> NaiveDateTime {
    now() + ChronoDuration::from_std(after).unwrap_or(ChronoDuration::days(1))
}

// ---- email tokens -------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailPurpose {
    VerifyEmail,
    PasswordReset,
}

impl EmailPurpose {
    fn as_str(self) -> &'static str {
        match self {
            EmailPurpose::VerifyEmail => "verify_email",
            EmailPurpose::PasswordReset => "password_reset",
        }
    }
}

/// Issues a token for `user`; returns the secret to mail (only its hash is stored).
pub fn issue_email_token(
    conn: &mut DbConn,
    user: UserId,
    purpose: EmailPurpose,
    ttl: std::time::Duration,
) -> Result<String, StoreError> {
    let token = random_token();
    diesel::insert_into(email_tokens::table)
        .values((
            email_tokens::id.eq(EmailTokenId::new()),
            email_tokens::user_id.eq(user),
            email_tokens::purpose.eq(purpose.as_str()),
            email_tokens::token_hash.eq(token_hash(&token)),
            email_tokens::expires_at.eq(later(ttl)),
            email_tokens::created_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(token)
}

/// Consumes a token: valid once, before it expires. Returns its user.
pub fn consume_email_token(
    conn: &mut DbConn,
    token: &str,
    purpose: EmailPurpose,
) -> Result<UserId, StoreError> {
    let invalid =
        || StoreError::refused("invalid_token", "The link is invalid, expired or already used.");
    let at = now();
    let found: Option<(EmailTokenId, UserId)> = email_tokens::table
        .filter(email_tokens::token_hash.eq(token_hash(token)))
        .filter(email_tokens::purpose.eq(purpose.as_str()))
        .filter(email_tokens::used_at.is_null())
        .filter(email_tokens::expires_at.gt(at))
        .select((email_tokens::id, email_tokens::user_id))
        .first(conn)
        .optional()?;
    let (id, user) = found.ok_or_else(invalid)?;
    // Guarded update: of two concurrent uses only one changes the row.
    let consumed =
        diesel::update(email_tokens::table.find(id).filter(email_tokens::used_at.is_null()))
            .set(email_tokens::used_at.eq(at))
            .execute(conn)?;
    if consumed != 1 {
        return Err(invalid());
    }
    Ok(user)
}

// ---- refresh tokens ------------------------------------------------------------------

pub struct IssuedRefresh {
    pub token: String,
    pub family: SessionId,
}

/// Starts a session (a new family), or continues `family` after a rotation.
pub fn issue_refresh(
    conn: &mut DbConn,
    user: UserId,
    family: Option<SessionId>,
    ttl: std::time::Duration,
) -> Result<IssuedRefresh, StoreError> {
    let token = random_token();
    let family = family.unwrap_or_default();
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::id.eq(RefreshTokenId::new()),
            refresh_tokens::user_id.eq(user),
            refresh_tokens::family_id.eq(family),
            refresh_tokens::token_hash.eq(token_hash(&token)),
            refresh_tokens::expires_at.eq(later(ttl)),
            refresh_tokens::created_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(IssuedRefresh { token, family })
}

#[derive(Queryable)]
struct RefreshRow {
    id: RefreshTokenId,
    user: UserId,
    family: SessionId,
    expires_at: NaiveDateTime,
    used_at: Option<NaiveDateTime>,
    revoked_at: Option<NaiveDateTime>,
}

pub enum Rotation {
    /// The token was valid: it is now used, and this is its successor.
    Rotated {
        user: UserId,
        next: IssuedRefresh,
    },
    /// A token that was already used came back: the family has been revoked.
    ReuseDetected,
    Invalid,
}

/// Uses a refresh token. The caller must commit even on `ReuseDetected`, so that the
/// revocation sticks.
pub fn rotate(
    conn: &mut DbConn,
    token: &str,
    ttl: std::time::Duration,
) -> Result<Rotation, StoreError> {
    let at = now();
    let found: Option<RefreshRow> = refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(token_hash(token)))
        .select((
            refresh_tokens::id,
            refresh_tokens::user_id,
            refresh_tokens::family_id,
            refresh_tokens::expires_at,
            refresh_tokens::used_at,
            refresh_tokens::revoked_at,
        ))
        .first(conn)
        .optional()?;
    let Some(RefreshRow { id, user, family, expires_at, used_at, revoked_at }) = found else {
        return Ok(Rotation::Invalid);
    };
    if revoked_at.is_some() || expires_at <= at {
        return Ok(Rotation::Invalid);
    }
    let claimed = if used_at.is_none() {
        diesel::update(refresh_tokens::table.find(id).filter(refresh_tokens::used_at.is_null()))
            .set(refresh_tokens::used_at.eq(at))
            .execute(conn)?
    } else {
        0
    };
    if claimed != 1 {
        revoke_family(conn, family)?;
        return Ok(Rotation::ReuseDetected);
    }
    let next = issue_refresh(conn, user, Some(family), ttl)?;
    Ok(Rotation::Rotated { user, next })
}

pub fn revoke_family(conn: &mut DbConn, family: SessionId) -> Result<(), StoreError> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::family_id.eq(family))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(now()))
    .execute(conn)?;
    Ok(())
}

/// The family of a refresh token, if it exists.
pub fn family_of(conn: &mut DbConn, token: &str) -> Result<Option<SessionId>, StoreError> {
    Ok(refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(token_hash(token)))
        .select(refresh_tokens::family_id)
        .first(conn)
        .optional()?)
}

/// Revokes every session of `user` except `keep`.
pub fn revoke_all_for_user(
    conn: &mut DbConn,
    user: UserId,
    keep: Option<SessionId>,
) -> Result<(), StoreError> {
    let mut query = diesel::update(refresh_tokens::table)
        .filter(refresh_tokens::user_id.eq(user))
        .filter(refresh_tokens::revoked_at.is_null())
        .into_boxed();
    if let Some(keep) = keep {
        query = query.filter(refresh_tokens::family_id.ne(keep));
    }
    query.set(refresh_tokens::revoked_at.eq(now())).execute(conn)?;
    Ok(())
}

// ---- login throttling ----------------------------------------------------------------

pub fn account_key(user: UserId) -> String {
    format!("account:{user}")
}

pub fn ip_key(ip: &str) -> String {
    format!("ip:{ip}")
}

/// Seconds until `key` may try again, if it is locked out.
pub fn locked_for(conn: &mut DbConn, key: &str) -> Result<Option<u64>, StoreError> {
    let until: Option<Option<NaiveDateTime>> = login_throttle::table
        .find(key)
        .select(login_throttle::locked_until)
        .first(conn)
        .optional()?;
    let at = now();
    Ok(until.flatten().filter(|u| *u > at).map(|u| (u - at).num_seconds().max(1) as u64))
}

/// Counts a failure in the current window; locks the key when it reaches `max`.
pub fn record_failure(
    conn: &mut DbConn,
    key: &str,
    max: i32,
    window: std::time::Duration,
) -> Result<(), StoreError> {
    let at = now();
    let window = ChronoDuration::from_std(window).unwrap_or(ChronoDuration::minutes(15));
    let current: Option<(i32, NaiveDateTime)> = login_throttle::table
        .find(key)
        .select((login_throttle::failures, login_throttle::window_start))
        .first(conn)
        .optional()?;
    let (failures, window_start) = match current {
        Some((n, start)) if start + window > at => (n + 1, start),
        _ => (1, at),
    };
    let locked_until = (failures >= max).then_some(at + window);
    if current.is_some() {
        diesel::update(login_throttle::table.find(key))
            .set((
                login_throttle::failures.eq(failures),
                login_throttle::window_start.eq(window_start),
                login_throttle::locked_until.eq(locked_until),
            ))
            .execute(conn)?;
    } else {
        diesel::insert_into(login_throttle::table)
            .values((
                login_throttle::key.eq(key),
                login_throttle::failures.eq(failures),
                login_throttle::window_start.eq(window_start),
                login_throttle::locked_until.eq(locked_until),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn clear(conn: &mut DbConn, key: &str) -> Result<(), StoreError> {
    diesel::delete(login_throttle::table.find(key)).execute(conn)?;
    Ok(())
}
