//! The expiry job of every moderated table (`store::moderation`): it archives the published
//! rows past their end (mailing the owners the "expired" mail) and warns the owners of those
//! ending within [`EXPIRY_WARNING_DAYS`] (once per validity period). `expiry::run::<Listing>`
//! and `expiry::run::<Demand>` are the two jobs.
//!
//! Safe to run from several processes at once: each row is claimed by an update guarded on
//! its state (status, and the `expires_at` read), in its own short transaction with its mail,
//! so only one run acts on it.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde_json::json;

use crate::db::raw::RawSql;
use crate::db::types::{EntityId, SqlUuid, rfc3339};
use crate::db::{DbConn, dialect};
use crate::domain::moderation::Status;
use crate::store::StoreError;
use crate::store::moderation::{Moderated, notify_owners};

/// Days before expiry when owners are warned.
pub const EXPIRY_WARNING_DAYS: i64 = 14;

/// Rows claimed per query; the job loops until a batch comes back short.
const EXPIRY_BATCH: i64 = 200;

/// What one run of the expiry job did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExpiryReport {
    pub warned: usize,
    pub archived: usize,
}

#[derive(QueryableByName)]
struct DueRow {
    /// A row of `R::TABLE`: `R::Id` once read back through `R::get`.
    #[diesel(sql_type = SqlUuid)]
    id: EntityId,
    #[diesel(sql_type = diesel::sql_types::Timestamp)]
    expires_at: NaiveDateTime,
}

/// One batch of published rows whose `expires_at` is in `(after, until]` (`after` open when
/// `None`), and not yet warned when `unwarned`; soonest first.
fn due<R: Moderated>(
    conn: &mut DbConn,
    after: Option<NaiveDateTime>,
    until: NaiveDateTime,
    unwarned: bool,
) -> Result<Vec<DueRow>, StoreError> {
    let mut sql = RawSql::new(format!("SELECT id, expires_at FROM {} WHERE status = ", R::TABLE));
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
fn claim<R: Moderated>(
    conn: &mut DbConn,
    row: &DueRow,
    set: impl FnOnce(&mut RawSql),
    extra: &str,
) -> Result<bool, StoreError> {
    let mut sql = RawSql::new(format!("UPDATE {} SET ", R::TABLE));
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

/// Runs the job for the rows of `R` as of `now`; `validity_days` is what a renewal would
/// grant (told in the warning).
pub fn run<R: Moderated>(
    conn: &mut DbConn,
    now: NaiveDateTime,
    validity_days: u32,
) -> Result<ExpiryReport, StoreError> {
    let mut report = ExpiryReport::default();
    // Archive first: a row already past its end gets the "expired" mail, not a warning.
    loop {
        let batch = due::<R>(conn, None, now, false)?;
        for row in &batch {
            report.archived += usize::from(expire_one::<R>(conn, row)?);
        }
        if batch.len() < EXPIRY_BATCH as usize {
            break;
        }
    }
    let horizon = now + Duration::days(EXPIRY_WARNING_DAYS);
    loop {
        let batch = due::<R>(conn, Some(now), horizon, true)?;
        for row in &batch {
            report.warned += usize::from(warn_one::<R>(conn, row, now, validity_days)?);
        }
        if batch.len() < EXPIRY_BATCH as usize {
            break;
        }
    }
    Ok(report)
}

fn expire_one<R: Moderated>(conn: &mut DbConn, row: &DueRow) -> Result<bool, StoreError> {
    dialect::write_transaction(conn, |conn| {
        let claimed = claim::<R>(
            conn,
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
            let expired = R::get(conn, row.id.0.into())?;
            notify_owners(conn, &expired, R::MAILS.expired, extra)?;
        }
        Ok(claimed)
    })
}

fn warn_one<R: Moderated>(
    conn: &mut DbConn,
    row: &DueRow,
    now: NaiveDateTime,
    validity_days: u32,
) -> Result<bool, StoreError> {
    dialect::write_transaction(conn, |conn| {
        let claimed = claim::<R>(
            conn,
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
            let expiring = R::get(conn, row.id.0.into())?;
            notify_owners(conn, &expiring, R::MAILS.expiring, extra)?;
        }
        Ok(claimed)
    })
}
