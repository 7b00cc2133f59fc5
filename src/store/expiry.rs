//! The expiry job shared by listings and demands: both tables carry `status`, `expires_at`,
//! `expiry_warned_at`, `updated_at` and `version` with the same meaning, so one job archives
//! the published rows past their end (mailing the owners an "expired" mail) and warns the
//! owners of those ending within [`EXPIRY_WARNING_DAYS`] (once per validity period). What
//! differs — the table and the mails — is an [`Expiring`] description.
//!
//! Safe to run from several processes at once: each row is claimed by an update guarded on
//! its state (status, and the `expires_at` read), in its own short transaction with its mail,
//! so only one run acts on it.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde_json::json;

use crate::db::raw::RawSql;
use crate::db::types::{Id, SqlUuid, rfc3339};
use crate::db::{DbConn, dialect};
use crate::domain::listing::Status;
use crate::mail::Template;
use crate::store::StoreError;

/// Days before expiry when owners are warned.
pub const EXPIRY_WARNING_DAYS: i64 = 14;

/// Rows claimed per query; the job loops until a batch comes back short.
const EXPIRY_BATCH: i64 = 200;

/// Queues `template` to the owners of row `id`, with the row's own context (title, path…)
/// extended by `extra`. Runs inside the claiming transaction.
pub type Notify = fn(&mut DbConn, Id, Template, serde_json::Value) -> Result<usize, StoreError>;

/// What the job needs to know about one kind of expiring row.
pub struct Expiring {
    /// `technologies` or `demands` (a constant, never user input: it is formatted into SQL).
    pub table: &'static str,
    /// Mailed once per validity period, [`EXPIRY_WARNING_DAYS`] before the end; its context
    /// gets `expires_at`, `days_left` and `renewal_days`.
    pub expiring: Template,
    /// Mailed when the row is archived; its context gets `expired_at`.
    pub expired: Template,
    pub notify: Notify,
}

/// What one run of the expiry job did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExpiryReport {
    pub warned: usize,
    pub archived: usize,
}

#[derive(QueryableByName)]
struct DueRow {
    #[diesel(sql_type = SqlUuid)]
    id: Id,
    #[diesel(sql_type = diesel::sql_types::Timestamp)]
    expires_at: NaiveDateTime,
}

/// One batch of published rows whose `expires_at` is in `(after, until]` (`after` open when
/// `None`), and not yet warned when `unwarned`; soonest first.
fn due(
    conn: &mut DbConn,
    kind: &Expiring,
    after: Option<NaiveDateTime>,
    until: NaiveDateTime,
    unwarned: bool,
) -> Result<Vec<DueRow>, StoreError> {
    let mut sql = RawSql::new(format!("SELECT id, expires_at FROM {} WHERE status = ", kind.table));
    sql.bind(Status::Published.as_str());
    sql.push(" AND expires_at <= ");
    sql.bind(until);
    if let Some(after) = after {
        sql.push(" AND expires_at > ");
        sql.bind(after);
    }
    if unwarned {
        sql.push(" AND expiry_warned_at IS NULL");
    }
    sql.push(&format!(" ORDER BY expires_at, id LIMIT {EXPIRY_BATCH}"));
    Ok(sql.load::<DueRow>(conn)?)
}

/// `UPDATE <table> SET <set> WHERE id = … AND status = 'published' AND expires_at = <read>`
/// plus `extra` conditions: true when this run claimed the row.
fn claim(
    conn: &mut DbConn,
    kind: &Expiring,
    row: &DueRow,
    set: impl FnOnce(&mut RawSql),
    extra: &str,
) -> Result<bool, StoreError> {
    let mut sql = RawSql::new(format!("UPDATE {} SET ", kind.table));
    set(&mut sql);
    sql.push(" WHERE id = ");
    sql.bind(row.id);
    sql.push(" AND status = ");
    sql.bind(Status::Published.as_str());
    sql.push(" AND expires_at = ");
    sql.bind(row.expires_at);
    sql.push(extra);
    Ok(sql.execute(conn)? == 1)
}

/// Runs the job for `kind` as of `now`; `validity_days` is what a renewal would grant (told
/// in the warning).
pub fn run(
    conn: &mut DbConn,
    kind: &Expiring,
    now: NaiveDateTime,
    validity_days: u32,
) -> Result<ExpiryReport, StoreError> {
    let mut report = ExpiryReport::default();
    // Archive first: a row already past its end gets the "expired" mail, not a warning.
    loop {
        let batch = due(conn, kind, None, now, false)?;
        for row in &batch {
            report.archived += usize::from(expire_one(conn, kind, row)?);
        }
        if batch.len() < EXPIRY_BATCH as usize {
            break;
        }
    }
    let horizon = now + Duration::days(EXPIRY_WARNING_DAYS);
    loop {
        let batch = due(conn, kind, Some(now), horizon, true)?;
        for row in &batch {
            report.warned += usize::from(warn_one(conn, kind, row, now, validity_days)?);
        }
        if batch.len() < EXPIRY_BATCH as usize {
            break;
        }
    }
    Ok(report)
}

fn expire_one(conn: &mut DbConn, kind: &Expiring, row: &DueRow) -> Result<bool, StoreError> {
    dialect::write_transaction(conn, |conn| {
        let claimed = claim(
            conn,
            kind,
            row,
            |sql| {
                sql.push("status = ");
                sql.bind(Status::Archived.as_str());
                sql.push(", updated_at = ");
                sql.bind(crate::db::types::now());
                sql.push(", version = version + 1");
            },
            "",
        )?;
        if claimed {
            let extra = json!({"expired_at": rfc3339(row.expires_at)});
            (kind.notify)(conn, row.id, kind.expired, extra)?;
        }
        Ok(claimed)
    })
}

fn warn_one(
    conn: &mut DbConn,
    kind: &Expiring,
    row: &DueRow,
    now: NaiveDateTime,
    validity_days: u32,
) -> Result<bool, StoreError> {
    dialect::write_transaction(conn, |conn| {
        let claimed = claim(
            conn,
            kind,
            row,
            |sql| {
                sql.push("expiry_warned_at = ");
                sql.bind(now);
            },
            " AND expiry_warned_at IS NULL",
        )?;
        if claimed {
            // Whole days left, rounded up: "expires in 14 days", never "in 0 days".
            let days_left = ((row.expires_at - now).num_seconds() + 86_399) / 86_400;
            let extra = json!({
                "expires_at": rfc3339(row.expires_at),
                "days_left": days_left,
                "renewal_days": validity_days,
            });
            (kind.notify)(conn, row.id, kind.expiring, extra)?;
        }
        Ok(claimed)
    })
}
