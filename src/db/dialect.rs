//! The one place that knows which backend it is talking to: connecting, migrations,
//! transactions that must take the write lock up front, and backend-specific SQL.

use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::migration::MigrationVersion;
use diesel::prelude::*;
use diesel::r2d2;
use diesel::sql_types::{BigInt, Text, Timestamp};
use diesel::{Connection, PgConnection, QueryResult, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::outbox::OutboxRow;
use super::schema::outbox;
use super::types::{LeaseId, OutboxId, SqlUuid};
use super::{Backend, DbConn, DbTarget, Deadlines};

const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// Arbitrary constant naming the advisory lock that serialises migrations when several
/// processes start at once on one PostgreSQL.
const MIGRATION_LOCK_KEY: i64 = 0x7465_6368_785f_6d67;

pub fn backend(conn: &DbConn) -> Backend {
    match conn {
        DbConn::Pg(_) => Backend::Postgres,
        DbConn::Sqlite(_) => Backend::Sqlite,
    }
}

pub fn establish(target: &DbTarget, deadlines: &Deadlines) -> Result<DbConn, r2d2::Error> {
    match target.backend {
        Backend::Postgres => {
            let url = with_keepalives(&target.location, deadlines.keepalive);
            let mut conn = PgConnection::establish(&url).map_err(r2d2::Error::ConnectionError)?;
            // A statement running past this is cancelled by the server (SQLSTATE 57014),
            // which the request answers with 503.
            conn.batch_execute(&format!(
                "SET statement_timeout = {}",
                deadlines.statement_timeout.as_millis()
            ))
            .map_err(r2d2::Error::QueryError)?;
            Ok(DbConn::Pg(conn))
        }
        Backend::Sqlite => {
            let mut conn = SqliteConnection::establish(&target.location)
                .map_err(r2d2::Error::ConnectionError)?;
            // WAL lets readers run beside the writer; the busy timeout makes writers queue
            // instead of failing at once; SQLite leaves foreign keys off unless asked.
            conn.batch_execute(&format!(
                "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; \
                 PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
                deadlines.busy_timeout.as_millis()
            ))
            .map_err(r2d2::Error::QueryError)?;
            Ok(DbConn::Sqlite(conn))
        }
    }
}

/// The PostgreSQL URL with libpq's TCP keepalive parameters added (unless the URL sets its
/// own): a server that stops answering is noticed after `idle` plus three probes 10 s apart,
/// instead of the kernel's two hours. A statement that hangs is ended sooner by
/// `statement_timeout`; keepalives cover a connection whose server froze between statements.
pub fn with_keepalives(url: &str, idle: Duration) -> String {
    if url.contains("keepalives") {
        return url.to_owned();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!(
        "{url}{separator}keepalives=1&keepalives_idle={}&keepalives_interval=10&keepalives_count=3",
        idle.as_secs().max(1)
    )
}

type MigrationError = Box<dyn std::error::Error + Send + Sync>;

/// Applies every pending migration; returns the versions applied.
pub fn run_migrations(conn: &mut DbConn) -> Result<Vec<String>, MigrationError> {
    fn names(versions: Vec<MigrationVersion<'_>>) -> Vec<String> {
        versions.into_iter().map(|v| v.to_string()).collect()
    }
    match conn {
        DbConn::Pg(c) => {
            c.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))?;
            let result = c.run_pending_migrations(PG_MIGRATIONS).map(names);
            c.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"))?;
            result
        }
        DbConn::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(names),
    }
}

/// Reverts the latest migration; returns its version.
pub fn revert_last_migration(conn: &mut DbConn) -> Result<String, MigrationError> {
    match conn {
        DbConn::Pg(c) => c.revert_last_migration(PG_MIGRATIONS).map(|v| v.to_string()),
        DbConn::Sqlite(c) => c.revert_last_migration(SQLITE_MIGRATIONS).map(|v| v.to_string()),
    }
}

/// Reverts every migration (tests use it to prove each `down` works).
pub fn revert_all_migrations(conn: &mut DbConn) -> Result<Vec<String>, MigrationError> {
    fn names(versions: Vec<MigrationVersion<'_>>) -> Vec<String> {
        versions.into_iter().map(|v| v.to_string()).collect()
    }
    match conn {
        DbConn::Pg(c) => c.revert_all_migrations(PG_MIGRATIONS).map(names),
        DbConn::Sqlite(c) => c.revert_all_migrations(SQLITE_MIGRATIONS).map(names),
    }
}

/// Runs `work` in a transaction that holds the write lock from its first statement.
///
/// On SQLite a plain (deferred) transaction that reads and then writes can fail with
/// "database is locked" regardless of the busy timeout; `BEGIN IMMEDIATE` queues instead.
/// PostgreSQL uses an ordinary transaction.
pub fn write_transaction<T, E>(
    conn: &mut DbConn,
    work: impl FnOnce(&mut DbConn) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    // Inside a transaction already (a request's audited call): a savepoint.
    let depth = <DbConn as Connection>::TransactionManager::transaction_manager_status_mut(conn)
        .transaction_depth()
        .map_err(E::from)?;
    if depth.is_some() {
        return conn.transaction(work);
    }
    match conn {
        DbConn::Pg(c) => AnsiTransactionManager::begin_transaction(c)?,
        DbConn::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?,
    }
    match work(conn) {
        Ok(value) => {
            <DbConn as Connection>::TransactionManager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(error) => {
            // The caller's error is the one worth reporting; a failed rollback leaves the
            // connection marked broken and the pool discards it.
            let _ = <DbConn as Connection>::TransactionManager::rollback_transaction(conn);
            Err(error)
        }
    }
}

/// Claims up to `limit` due rows of `channel` for a worker: each becomes `sending` with its
/// `attempts` counted, leased to `lease_id` until `lease_until`. `next_attempt_at` is set to
/// the lease's end too, so a row whose worker died is due again once the lease runs out.
///
/// PostgreSQL: one `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED)`; concurrent
/// claimers skip each other's rows instead of waiting or taking them twice.
/// SQLite: select then update in a `BEGIN IMMEDIATE` transaction; SQLite has one writer at a
/// time, so claimers (in any process) run one after the other.
pub fn claim_outbox(
    conn: &mut DbConn,
    channel: &str,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    lease_id: LeaseId,
    limit: i64,
) -> QueryResult<Vec<OutboxRow>> {
    if let DbConn::Pg(pg) = conn {
        return diesel::sql_query(
            "UPDATE outbox SET status = 'sending', attempts = attempts + 1, \
                 locked_until = $1, next_attempt_at = $1, lease_id = $2, updated_at = $3 \
             WHERE id IN ( \
                 SELECT id FROM outbox \
                 WHERE channel = $4 AND status IN ('pending', 'sending') \
                   AND next_attempt_at <= $3 \
                 ORDER BY next_attempt_at, id \
                 LIMIT $5 \
                 FOR UPDATE SKIP LOCKED) \
             RETURNING *",
        )
        .bind::<Timestamp, _>(lease_until)
        .bind::<SqlUuid, _>(lease_id)
        .bind::<Timestamp, _>(now)
        .bind::<Text, _>(channel)
        .bind::<BigInt, _>(limit)
        .load::<OutboxRow>(pg);
    }
    write_transaction(conn, |conn| {
        let due: Vec<OutboxId> = outbox::table
            .select(outbox::id)
            .filter(outbox::channel.eq(channel))
            .filter(outbox::status.eq_any(["pending", "sending"]))
            .filter(outbox::next_attempt_at.le(now))
            .order((outbox::next_attempt_at, outbox::id))
            .limit(limit)
            .load(conn)?;
        if due.is_empty() {
            return Ok(Vec::new());
        }
        diesel::update(outbox::table.filter(outbox::id.eq_any(&due)))
            .set((
                outbox::status.eq("sending"),
                outbox::attempts.eq(outbox::attempts + 1),
                outbox::locked_until.eq(Some(lease_until)),
                outbox::next_attempt_at.eq(lease_until),
                outbox::lease_id.eq(Some(lease_id)),
                outbox::updated_at.eq(now),
            ))
            .returning(outbox::all_columns)
            .get_results::<OutboxRow>(conn)
    })
}

/// Executes `INSERT INTO table VALUES (…), (…), …` for a slice of rows on the backend's own
/// connection: diesel's multi-backend connection cannot build a multi-row INSERT (SQLite
/// has no `DEFAULT` keyword to fall back on), but each backend can. Rows must give every
/// column they name (`treat_none_as_null`), as SQLite requires for one statement.
pub fn insert_rows<T, V>(conn: &mut DbConn, table: T, rows: V) -> QueryResult<usize>
where
    T: diesel::Table,
    V: diesel::Insertable<T>,
    diesel::query_builder::InsertStatement<T, V::Values>: diesel::query_dsl::methods::ExecuteDsl<PgConnection>
        + diesel::query_dsl::methods::ExecuteDsl<SqliteConnection>,
{
    let statement = diesel::insert_into(table).values(rows);
    match conn {
        DbConn::Pg(c) => statement.execute(c),
        DbConn::Sqlite(c) => statement.execute(c),
    }
}

/// SQL for the seconds from `earlier` to `later` (two timestamp expressions), as a floating
/// point number. PostgreSQL subtracts timestamps into an interval; SQLite stores them as
/// text and compares Julian day numbers (millisecond precision, plenty for turnaround).
pub fn seconds_between(conn: &DbConn, later: &str, earlier: &str) -> String {
    match conn {
        DbConn::Pg(_) => {
            format!("CAST(EXTRACT(EPOCH FROM ({later} - {earlier})) AS DOUBLE PRECISION)")
        }
        DbConn::Sqlite(_) => format!("((julianday({later}) - julianday({earlier})) * 86400.0)"),
    }
}

/// SQL for the calendar month (`YYYY-MM`, UTC) of a timestamp expression. SQLite holds
/// timestamps as `YYYY-MM-DD HH:MM:SS…` text, so the month is its first seven characters
/// (twice as fast as parsing it with `strftime` over a year of rows).
pub fn month_of(conn: &DbConn, timestamp: &str) -> String {
    match conn {
        DbConn::Pg(_) => format!("to_char({timestamp}, 'YYYY-MM')"),
        DbConn::Sqlite(_) => format!("substr({timestamp}, 1, 7)"),
    }
}
