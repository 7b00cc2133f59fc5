//! The store side of the moderation lifecycle that listings and demands share, written once:
//! each step's update (guarded by the id, version and status the caller read, with the
//! bookkeeping of the state it leads to), the owners' mails, and erasing a draft. The expiry
//! job (`store::expiry`) works on the same [`Moderated`] rows.
//!
//! Both tables carry `status`, `submitted_at`, `published_at`, `expires_at`,
//! `expiry_warned_at`, `rejection_reason`, `updated_at` and `version` with the same meaning,
//! so the updates are written as SQL over the table's name; what differs between the two
//! (the table, the mails, what a decision records besides) is the [`Moderated`] impl in each
//! resource's store. A bulk load ([`insert_bulk`]) writes those columns alike, too.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde_json::json;

use crate::db::DbConn;
use crate::db::raw::RawSql;
use crate::db::schema::{demands, technologies};
use crate::db::types::{EntityId, OrganizationId, TypedId, UserId, now, rfc3339};
use crate::domain::moderation::Status;
use crate::mail::Template;
use crate::store::organizations::mail_owners;
use crate::store::{StoreError, changed};

/// The mails of a resource's lifecycle, each queued to the owners of its organisation.
pub struct Mails {
    /// On approval; the context gets `published_at` and `expires_at`.
    pub published: Template,
    /// On rejection; the context gets `reason`.
    pub rejected: Template,
    /// Once per validity period, before the end (`store::expiry`); the context gets
    /// `expires_at`, `days_left` and `renewal_days`.
    pub expiring: Template,
    /// When the expiry job archives it; the context gets `expired_at`.
    pub expired: Template,
}

/// The lifecycle columns of a row as read: what an update is guarded on and carries over.
#[derive(Debug, Clone, Copy)]
pub struct Lifecycle<I> {
    pub id: I,
    pub organization_id: OrganizationId,
    pub status: Status,
    pub version: i32,
    pub submitted_at: Option<NaiveDateTime>,
    pub published_at: Option<NaiveDateTime>,
    pub expires_at: Option<NaiveDateTime>,
}

/// The [`Lifecycle`] of a row struct whose fields are named as the columns are (`Listing`
/// and `Demand` both are), so each `impl Moderated` says it in one line.
macro_rules! lifecycle_of {
    ($row:expr) => {
        $crate::store::moderation::Lifecycle {
            id: $row.id,
            organization_id: $row.organization_id,
            status: $row.status,
            version: $row.version,
            submitted_at: $row.submitted_at,
            published_at: $row.published_at,
            expires_at: $row.expires_at,
        }
    };
}
pub(crate) use lifecycle_of;

/// A moderator's decision, for what a resource records of it beyond its row.
#[derive(Debug, Clone, Copy)]
pub enum Decision<'a> {
    Approved { by: UserId, at: NaiveDateTime },
    Rejected { by: UserId, at: NaiveDateTime, reason: &'a str },
}

/// A row of a moderated table, as its store reads it.
pub trait Moderated: Sized {
    /// Its table: a constant, formatted into SQL (never user input).
    const TABLE: &'static str;
    const MAILS: Mails;
    /// Its id type (`TechnologyId`, `DemandId`).
    type Id: TypedId;

    /// The row by id (not found: `StoreError::NotFound`).
    fn get(conn: &mut DbConn, id: Self::Id) -> Result<Self, StoreError>;
    fn lifecycle(&self) -> Lifecycle<Self::Id>;
    /// What every mail about it carries (its title, its path on the public site…).
    fn mail_context(&self) -> serde_json::Value;
    /// What a decision records or announces beyond the row and the owners' mail, in its
    /// transaction; `before` is the row as the moderator read it.
    fn decided(
        _conn: &mut DbConn,
        _before: &Self,
        _after: &Self,
        _decision: Decision,
    ) -> Result<(), StoreError> {
        Ok(())
    }
}

/// `UPDATE <table> SET <set>, updated_at, version + 1 WHERE` id, version and status are
/// still what the caller read: `Err(Stale)` when another writer came first.
fn guarded<R: Moderated>(
    conn: &mut DbConn,
    row: &R,
    at: NaiveDateTime,
    set: impl FnOnce(&mut RawSql),
) -> Result<(), StoreError> {
    let read = row.lifecycle();
    let mut sql = RawSql::new(format!("UPDATE {} SET ", R::TABLE));
    set(&mut sql);
    sql.push(", updated_at = ");
    sql.bind(at);
    sql.push(", version = version + 1 WHERE id = ");
    sql.bind(read.id);
    sql.push(" AND version = ");
    sql.bind(read.version);
    sql.push(" AND status = ");
    sql.bind(read.status.as_str());
    changed(sql.execute(conn)?)
}

/// Queues `template` to every owner of the row's organisation, in their language, with the
/// row's own context extended by `extra`; returns how many were queued.
pub fn notify_owners<R: Moderated>(
    conn: &mut DbConn,
    row: &R,
    template: Template,
    extra: serde_json::Value,
) -> Result<usize, StoreError> {
    let mut context = row.mail_context();
    if let (Some(context), serde_json::Value::Object(extra)) = (context.as_object_mut(), extra) {
        context.extend(extra);
    }
    mail_owners(conn, row.lifecycle().organization_id, template, &context)
}

/// Submits a draft for review (a rejection's reason is cleared with it).
pub fn submit<R: Moderated>(conn: &mut DbConn, row: &R) -> Result<R, StoreError> {
    let at = now();
    guarded(conn, row, at, |sql| {
        sql.push("status = ");
        sql.bind(Status::PendingReview.as_str());
        sql.push(", submitted_at = ");
        sql.bind(at);
        sql.push(", rejection_reason = NULL");
    })?;
    R::get(conn, row.lifecycle().id)
}

/// Approves a row under review: published until now + `validity_days` (the expiry warning
/// re-armed), owners mailed. Run in a write transaction.
pub fn approve<R: Moderated>(
    conn: &mut DbConn,
    row: &R,
    moderator: UserId,
    validity_days: u32,
) -> Result<R, StoreError> {
    let at = now();
    guarded(conn, row, at, |sql| {
        sql.push("status = ");
        sql.bind(Status::Published.as_str());
        // Re-approved after an edit, it keeps its first publication date, so editing does
        // not lift it to the top of "newest".
        sql.push(", published_at = COALESCE(published_at, ");
        sql.bind(at);
        sql.push("), expires_at = ");
        sql.bind(at + Duration::days(i64::from(validity_days)));
        sql.push(", expiry_warned_at = NULL, rejection_reason = NULL");
    })?;
    let updated = R::get(conn, row.lifecycle().id)?;
    let moved = updated.lifecycle();
    let (published, expires) = (moved.published_at.unwrap_or(at), moved.expires_at.unwrap_or(at));
    let extra = json!({"published_at": rfc3339(published), "expires_at": rfc3339(expires)});
    notify_owners(conn, &updated, R::MAILS.published, extra)?;
    R::decided(conn, row, &updated, Decision::Approved { by: moderator, at })?;
    Ok(updated)
}

/// Rejects a row under review with a reason the owners are mailed. Run in a write
/// transaction.
pub fn reject<R: Moderated>(
    conn: &mut DbConn,
    row: &R,
    moderator: UserId,
    reason: &str,
) -> Result<R, StoreError> {
    let at = now();
    guarded(conn, row, at, |sql| {
        sql.push("status = ");
        sql.bind(Status::Rejected.as_str());
        sql.push(", rejection_reason = ");
        sql.bind(reason);
    })?;
    let updated = R::get(conn, row.lifecycle().id)?;
    notify_owners(conn, &updated, R::MAILS.rejected, json!({"reason": reason}))?;
    R::decided(conn, row, &updated, Decision::Rejected { by: moderator, at, reason })?;
    Ok(updated)
}

/// Takes it off the exchange (its rejection reason, if any, stays on record).
pub fn archive<R: Moderated>(conn: &mut DbConn, row: &R) -> Result<R, StoreError> {
    guarded(conn, row, now(), |sql| {
        sql.push("status = ");
        sql.bind(Status::Archived.as_str());
    })?;
    R::get(conn, row.lifecycle().id)
}

/// Extends a published row to now + `validity_days` and re-arms the expiry warning.
pub fn renew<R: Moderated>(
    conn: &mut DbConn,
    row: &R,
    validity_days: u32,
) -> Result<R, StoreError> {
    let at = now();
    guarded(conn, row, at, |sql| {
        sql.push("expires_at = ");
        sql.bind(at + Duration::days(i64::from(validity_days)));
        sql.push(", expiry_warned_at = NULL");
    })?;
    R::get(conn, row.lifecycle().id)
}

/// Erases a draft (as read: the same version, still a draft).
pub fn erase<R: Moderated>(conn: &mut DbConn, row: &R) -> Result<(), StoreError> {
    let read = row.lifecycle();
    let mut sql = RawSql::new(format!("DELETE FROM {} WHERE id = ", R::TABLE));
    sql.bind(read.id);
    sql.push(" AND version = ");
    sql.bind(read.version);
    sql.push(" AND status = ");
    sql.bind(Status::Draft.as_str());
    changed(sql.execute(conn)?)
}

/// A moderated row as a bulk load writes it (`techx seed --synthetic`): its content plus the
/// lifecycle fields the moderation path would have set by then.
#[derive(Debug, Clone)]
pub struct Bulk<C, I> {
    pub id: I,
    pub organization_id: OrganizationId,
    pub created_by: UserId,
    pub status: Status,
    pub content: C,
    pub submitted_at: Option<NaiveDateTime>,
    pub published_at: Option<NaiveDateTime>,
    pub expires_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

/// The columns of a [`Bulk`] row that every moderated table has (a new moderated table joins
/// the `table_name` list); its content's columns are the table's own.
#[derive(Insertable)]
#[diesel(table_name = technologies, table_name = demands)]
#[diesel(treat_none_as_null = true)]
pub struct BulkColumns<'a> {
    /// The row's own id type, as a bind ([`Bulk`] holds it typed).
    id: EntityId,
    organization_id: OrganizationId,
    created_by: UserId,
    status: &'a str,
    submitted_at: Option<NaiveDateTime>,
    published_at: Option<NaiveDateTime>,
    expires_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    version: i32,
}

/// Rows per multi-row INSERT: about 30 binds a row stays under SQLite's 32 766 limit.
const BULK_ROWS_PER_STATEMENT: usize = 500;

/// Inserts `rows` with multi-row INSERTs: `content` makes each row's content columns, `insert`
/// writes a chunk of rows (the [`BulkColumns`] beside them) into the resource's table and
/// whatever else the chunk needs. The search index follows as for one insert. Run in a
/// write transaction.
pub fn insert_bulk<'r, C, I: TypedId, V>(
    conn: &mut DbConn,
    rows: &'r [Bulk<C, I>],
    content: impl Fn(&'r C) -> Result<V, StoreError>,
    mut insert: impl FnMut(
        &mut DbConn,
        Vec<(BulkColumns<'r>, V)>,
        &'r [Bulk<C, I>],
    ) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    for chunk in rows.chunks(BULK_ROWS_PER_STATEMENT) {
        let built = chunk
            .iter()
            .map(|r| {
                let columns = BulkColumns {
                    id: EntityId::of(r.id),
                    organization_id: r.organization_id,
                    created_by: r.created_by,
                    status: r.status.as_str(),
                    submitted_at: r.submitted_at,
                    published_at: r.published_at,
                    expires_at: r.expires_at,
                    created_at: r.created_at,
                    // As if last changed by its publication, in its first version.
                    updated_at: r.published_at.unwrap_or(r.created_at),
                    version: 1,
                };
                Ok((columns, content(&r.content)?))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        insert(conn, built, chunk)?;
    }
    Ok(())
}
