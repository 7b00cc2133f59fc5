//! Idempotent creation: the first response to (user, Idempotency-Key) is stored in the same
//! transaction as the creation, and a retry gets it back.

use diesel::prelude::*;

use crate::db::schema::idempotency_keys as keys;
use crate::db::types::{UserId, now};
use crate::db::{DbConn, dialect};
use crate::store::StoreError;
use crate::store::error::UniqueViolation;
use crate::store::json;

pub struct Created {
    pub body: serde_json::Value,
    /// True when this is the stored answer to an earlier request with the same key.
    pub replayed: bool,
}

fn stored(
    conn: &mut DbConn,
    user: UserId,
    key: &str,
) -> Result<Option<(String, String)>, StoreError> {
    Ok(keys::table
        .find((user, key))
        .select((keys::request_hash, keys::response_body))
        .first(conn)
        .optional()?)
}

fn replay(found: (String, String), fingerprint: &str) -> Result<Created, StoreError> {
    let (hash, body) = found;
    if hash != fingerprint {
        return Err(StoreError::KeyReused);
    }
    let body = json::decode(&body, "idempotency_keys", "response_body")?;
    Ok(Created { body, replayed: true })
}

/// Runs `create` once per key. Without a key it simply runs `create` in a transaction.
pub fn create_once<E>(
    conn: &mut DbConn,
    user: UserId,
    key: Option<&str>,
    fingerprint: &str,
    create: impl FnOnce(&mut DbConn) -> Result<serde_json::Value, E>,
) -> Result<Created, E>
where
    E: From<StoreError> + From<diesel::result::Error> + UniqueViolation,
{
    let Some(key) = key else {
        return dialect::write_transaction(conn, create)
            .map(|body| Created { body, replayed: false });
    };
    let result = dialect::write_transaction(conn, |conn| -> Result<Created, E> {
        if let Some(found) = stored(conn, user, key)? {
            return Ok(replay(found, fingerprint)?);
        }
        let body = create(conn)?;
        diesel::insert_into(keys::table)
            .values((
                keys::user_id.eq(user),
                keys::key.eq(key),
                keys::request_hash.eq(fingerprint),
                keys::status_code.eq(201),
                keys::response_body.eq(body.to_string()),
                keys::created_at.eq(now()),
            ))
            .execute(conn)?;
        Ok(Created { body, replayed: false })
    });
    match result {
        // A concurrent request with the same key won the race (PostgreSQL: its insert
        // committed first); answer with what it stored.
        Err(e) if e.is_unique_violation() => match stored(conn, user, key)? {
            Some(found) => Ok(replay(found, fingerprint)?),
            None => Err(e),
        },
        other => other,
    }
}
