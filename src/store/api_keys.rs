//! Organisation API keys: rows, lookups by prefix, revocation and rolling, and the
//! addresses each key was used from.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::{api_key_addresses, api_keys};
use crate::db::types::{ApiKeyId, OrganizationId, UserId, now};
use crate::store::{StoreError, json};

/// A key as stored; `secret_hash` and `previous_hash` never leave the store's callers.
#[derive(Clone, Queryable)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub organization_id: OrganizationId,
    pub name: String,
    pub prefix: String,
    pub secret_hash: String,
    pub previous_hash: Option<String>,
    pub previous_expires_at: Option<NaiveDateTime>,
    /// JSON array of scope names.
    pub scopes: String,
    pub role: String,
    pub expires_at: Option<NaiveDateTime>,
    pub created_by: UserId,
    pub created_at: NaiveDateTime,
    pub rolled_at: Option<NaiveDateTime>,
    pub last_used_at: Option<NaiveDateTime>,
    pub last_used_address: Option<String>,
    pub revoked_at: Option<NaiveDateTime>,
    pub revoked_by: Option<UserId>,
}

impl std::fmt::Debug for ApiKey {
    // Hand-written so that no hash reaches a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKey")
            .field("id", &self.id)
            .field("organization_id", &self.organization_id)
            .field("prefix", &self.prefix)
            .field("revoked_at", &self.revoked_at)
            .finish_non_exhaustive()
    }
}

impl ApiKey {
    pub fn scope_names(&self) -> Vec<String> {
        json::list(&self.scopes)
    }
}

pub struct NewKey<'a> {
    pub organization_id: OrganizationId,
    pub name: &'a str,
    pub prefix: &'a str,
    pub secret_hash: &'a str,
    pub scopes: &'a [String],
    pub role: &'a str,
    pub expires_at: Option<NaiveDateTime>,
    pub created_by: UserId,
}

pub fn create(conn: &mut DbConn, new: &NewKey<'_>) -> Result<ApiKey, StoreError> {
    let scopes = json::list_text(new.scopes);
    Ok(diesel::insert_into(api_keys::table)
        .values((
            api_keys::id.eq(ApiKeyId::new()),
            api_keys::organization_id.eq(new.organization_id),
            api_keys::name.eq(new.name),
            api_keys::prefix.eq(new.prefix),
            api_keys::secret_hash.eq(new.secret_hash),
            api_keys::scopes.eq(scopes),
            api_keys::role.eq(new.role),
            api_keys::expires_at.eq(new.expires_at),
            api_keys::created_by.eq(new.created_by),
            api_keys::created_at.eq(now()),
        ))
        .returning(api_keys::all_columns)
        .get_result(conn)?)
}

/// The key with this shown prefix: one indexed statement per authenticated request.
pub fn by_prefix(conn: &mut DbConn, prefix: &str) -> Result<Option<ApiKey>, StoreError> {
    Ok(api_keys::table.filter(api_keys::prefix.eq(prefix)).first(conn).optional()?)
}

/// A key of `org` (404 for another organisation's).
pub fn get(conn: &mut DbConn, org: OrganizationId, id: ApiKeyId) -> Result<ApiKey, StoreError> {
    api_keys::table
        .find(id)
        .filter(api_keys::organization_id.eq(org))
        .first(conn)
        .optional()?
        .ok_or_else(|| StoreError::not_found("No such API key in this organisation."))
}

/// An organisation's keys, newest first, with the total.
pub fn list(
    conn: &mut DbConn,
    org: OrganizationId,
    offset: i64,
    limit: i64,
) -> Result<(Vec<ApiKey>, i64), StoreError> {
    let total =
        api_keys::table.filter(api_keys::organization_id.eq(org)).count().get_result(conn)?;
    let items = api_keys::table
        .filter(api_keys::organization_id.eq(org))
        .order((api_keys::created_at.desc(), api_keys::id.desc()))
        .offset(offset)
        .limit(limit)
        .load(conn)?;
    Ok((items, total))
}

/// Revokes a live key; `false` when it was revoked already.
pub fn revoke(conn: &mut DbConn, id: ApiKeyId, by: UserId) -> Result<bool, StoreError> {
    let changed = diesel::update(api_keys::table.find(id).filter(api_keys::revoked_at.is_null()))
        .set((api_keys::revoked_at.eq(now()), api_keys::revoked_by.eq(by)))
        .execute(conn)?;
    Ok(changed == 1)
}

/// Replaces the secret; the old one stays valid until `grace_until`.
pub fn roll(
    conn: &mut DbConn,
    key: &ApiKey,
    secret_hash: &str,
    grace_until: NaiveDateTime,
) -> Result<ApiKey, StoreError> {
    Ok(diesel::update(api_keys::table.find(key.id).filter(api_keys::revoked_at.is_null()))
        .set((
            api_keys::secret_hash.eq(secret_hash),
            api_keys::previous_hash.eq(&key.secret_hash),
            api_keys::previous_expires_at.eq(grace_until),
            api_keys::rolled_at.eq(now()),
        ))
        .returning(api_keys::all_columns)
        .get_result(conn)?)
}

/// Records a use: last used time and address, and whether the address is new for this
/// key (the first use ever counts as new).
pub fn record_use(conn: &mut DbConn, id: ApiKeyId, address: &str) -> Result<bool, StoreError> {
    let at = now();
    diesel::update(api_keys::table.find(id))
        .set((api_keys::last_used_at.eq(at), api_keys::last_used_address.eq(address)))
        .execute(conn)?;
    let known: i64 = api_key_addresses::table
        .filter(api_key_addresses::api_key_id.eq(id))
        .filter(api_key_addresses::address.eq(address))
        .count()
        .get_result(conn)?;
    if known > 0 {
        return Ok(false);
    }
    diesel::insert_into(api_key_addresses::table)
        .values((
            api_key_addresses::api_key_id.eq(id),
            api_key_addresses::address.eq(address),
            api_key_addresses::first_seen_at.eq(at),
        ))
        .execute(conn)?;
    Ok(true)
}
