//! Accounts.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::auth::PlatformRole;
use crate::db::schema::users;
use crate::db::types::{UserId, now};
use crate::db::{DbConn, lower};
use crate::store::StoreError;

#[derive(Debug, Clone, Queryable)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub email_normalized: String,
    pub password_hash: String,
    pub display_name: String,
    pub language: String,
    pub platform_role: String,
    pub email_verified_at: Option<NaiveDateTime>,
    pub disabled_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i32,
}

pub struct NewUser<'a> {
    pub email: &'a str,
    pub email_normalized: &'a str,
    pub password_hash: &'a str,
    pub display_name: &'a str,
    pub language: &'a str,
    pub role: PlatformRole,
    pub verified: bool,
}

pub fn create(conn: &mut DbConn, new: &NewUser<'_>) -> Result<User, StoreError> {
    let at = now();
    diesel::insert_into(users::table)
        .values((
            users::id.eq(UserId::new()),
            users::email.eq(new.email.trim()),
            users::email_normalized.eq(new.email_normalized),
            users::password_hash.eq(new.password_hash),
            users::display_name.eq(new.display_name.trim()),
            users::language.eq(new.language),
            users::platform_role.eq(new.role.as_str()),
            users::email_verified_at.eq(new.verified.then_some(at)),
            users::created_at.eq(at),
            users::updated_at.eq(at),
            users::version.eq(1),
        ))
        .returning(users::all_columns)
        .get_result(conn)
        .map_err(|e| match StoreError::from(e) {
            e if e.is_unique_violation() => {
                StoreError::conflict("email_taken", "An account with this email already exists.")
            }
            e => e,
        })
}

pub fn find(conn: &mut DbConn, id: UserId) -> Result<Option<User>, StoreError> {
    Ok(users::table.find(id).select(users::all_columns).first(conn).optional()?)
}

pub fn get(conn: &mut DbConn, id: UserId) -> Result<User, StoreError> {
    find(conn, id)?.ok_or_else(|| StoreError::not_found("No such user."))
}

pub fn find_by_email(
    conn: &mut DbConn,
    email_normalized: &str,
) -> Result<Option<User>, StoreError> {
    Ok(users::table
        .filter(users::email_normalized.eq(email_normalized))
        .select(users::all_columns)
        .first(conn)
        .optional()?)
}

pub fn mark_verified(conn: &mut DbConn, id: UserId) -> Result<(), StoreError> {
    let at = now();
    diesel::update(users::table.find(id).filter(users::email_verified_at.is_null()))
        .set((users::email_verified_at.eq(at), users::updated_at.eq(at)))
        .execute(conn)?;
    Ok(())
}

pub fn set_password(conn: &mut DbConn, id: UserId, password_hash: &str) -> Result<(), StoreError> {
    diesel::update(users::table.find(id))
        .set((
            users::password_hash.eq(password_hash),
            users::updated_at.eq(now()),
            users::version.eq(users::version + 1),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn update_profile(
    conn: &mut DbConn,
    id: UserId,
    display_name: Option<&str>,
    language: Option<&str>,
) -> Result<User, StoreError> {
    let mut user = get(conn, id)?;
    if let Some(name) = display_name {
        user.display_name = name.trim().to_owned();
    }
    if let Some(language) = language {
        user.language = language.to_owned();
    }
    diesel::update(users::table.find(id))
        .set((
            users::display_name.eq(&user.display_name),
            users::language.eq(&user.language),
            users::updated_at.eq(now()),
            users::version.eq(users::version + 1),
        ))
        .returning(users::all_columns)
        .get_result(conn)
        .map_err(StoreError::from)
}

/// Staff changes: role (never to or from admin through the API) and disabling.
pub fn admin_update(
    conn: &mut DbConn,
    id: UserId,
    role: Option<PlatformRole>,
    disabled: Option<bool>,
) -> Result<User, StoreError> {
    let user = get(conn, id)?;
    if role.is_some() && user.platform_role == PlatformRole::Admin.as_str() {
        return Err(StoreError::conflict(
            "admin_role_fixed",
            "An administrator's role cannot be changed here.",
        ));
    }
    let at = now();
    let disabled_at = match disabled {
        Some(true) => Some(user.disabled_at.unwrap_or(at)),
        Some(false) => None,
        None => user.disabled_at,
    };
    let role = role.map_or(user.platform_role.clone(), |r| r.as_str().to_owned());
    diesel::update(users::table.find(id))
        .set((
            users::platform_role.eq(role),
            users::disabled_at.eq(disabled_at),
            users::updated_at.eq(at),
            users::version.eq(users::version + 1),
        ))
        .returning(users::all_columns)
        .get_result(conn)
        .map_err(StoreError::from)
}

pub struct UserFilter {
    pub q: Option<String>,
    pub role: Option<PlatformRole>,
    pub disabled: Option<bool>,
}

pub fn list(
    conn: &mut DbConn,
    filter: &UserFilter,
    offset: i64,
    limit: i64,
) -> Result<(Vec<User>, i64), StoreError> {
    let query = || {
        let mut q = users::table.into_boxed();
        if let Some(text) = &filter.q {
            let pattern = format!("%{}%", escape_like(&text.to_lowercase()));
            q = q.filter(
                users::email_normalized.like(pattern.clone()).escape('\\').or(lower(
                    users::display_name,
                )
                .like(pattern)
                .escape('\\')),
            );
        }
        if let Some(role) = filter.role {
            q = q.filter(users::platform_role.eq(role.as_str()));
        }
        match filter.disabled {
            Some(true) => q = q.filter(users::disabled_at.is_not_null()),
            Some(false) => q = q.filter(users::disabled_at.is_null()),
            None => {}
        }
        q
    };
    let total = query().count().get_result(conn)?;
    let items = query()
        .select(users::all_columns)
        .order(users::created_at.asc())
        .offset(offset)
        .limit(limit)
        .load(conn)?;
    Ok((items, total))
}

/// Escapes LIKE wildcards so user text matches literally.
pub fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}
