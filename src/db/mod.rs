//! Database access: one `MultiConnection` over PostgreSQL and SQLite, an r2d2 pool, and
//! [`Db::run`], the way handlers reach the database off the async workers; on PostgreSQL the
//! hottest one-row reads run on the workers themselves instead ([`hot`], [`crate::read_first`]).

pub mod dialect;
pub mod hot;
pub mod outbox;
pub mod probe;
pub mod raw;
pub mod schema;
pub mod types;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use diesel::connection::Connection;
use diesel::r2d2::{self, ManageConnection, R2D2Connection};
use diesel::{PgConnection, SqliteConnection};

use self::hot::HotReads;
use self::probe::Probe;

/// The failures of reaching the database at all, apart from what a statement reports:
/// the API (`error.rs`) turns them into 503/500 answers, the store wraps them in its error.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The pool gave no connection in time (the database is down or every connection busy).
    #[error("no database connection: {0}")]
    Pool(#[from] r2d2::PoolError),
    /// A hot read could not open its worker's connection (the database is down).
    #[error("no database connection: {0}")]
    Connect(diesel::ConnectionError),
    /// The call waited for a blocking thread longer than the pool's connection timeout.
    #[error("every database connection busy for {} ms", .0.as_millis())]
    Busy(Duration),
    /// The caller stopped waiting: the call outlived PostgreSQL's statement timeout.
    #[error("database call outlived {} ms", .0.as_millis())]
    Timeout(Duration),
    /// The work panicked on its blocking thread (logged where it happened).
    #[error("database call panicked: {0}")]
    Panicked(String),
    /// A statement the database layer itself ran failed (the write hook's).
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
    /// The write hook failed for a reason of its own.
    #[error("write hook failed: {0}")]
    Hook(Box<dyn std::error::Error + Send + Sync>),
}

diesel::define_sql_function! {
    /// SQL `lower()`, the same on both backends.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// Runs `$body` with `$c` bound to the backend's own connection instead of the
/// `MultiConnection`, for the hot reads: the multi-connection wraps each statement in one
/// that renders its SQL text on every execution, while a backend's own statement cache finds
/// a DSL query's prepared statement by its type, with no text built. (`$body` is compiled
/// once per backend.)
#[macro_export]
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConn::Pg($c) => $body,
            $crate::db::DbConn::Sqlite($c) => $body,
        }
    };
}

#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Postgres => "postgres",
            Backend::Sqlite => "sqlite",
        }
    }
}

/// A database location, its backend chosen from the URL scheme (never by trial).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbTarget {
    pub backend: Backend,
    /// For PostgreSQL the URL as given; for SQLite the file path.
    pub location: String,
}

impl DbTarget {
    pub fn parse(url: &str) -> Result<Self, String> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self { backend: Backend::Postgres, location: url.to_owned() });
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .ok_or_else(|| "expected a postgres://, postgresql:// or sqlite:// URL".to_owned())?;
        if path.is_empty() || path == ":memory:" {
            // Each pooled connection would get its own empty in-memory database.
            return Err("a SQLite database needs a file path, e.g. sqlite://techx.db".to_owned());
        }
        Ok(Self { backend: Backend::Sqlite, location: path.to_owned() })
    }
}

/// Deadlines set on every new connection, so that a database that hangs (rather than
/// refuses) cannot hold a request or a worker for as long as it hangs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// SQLite: how long a writer waits for the lock (`busy_timeout`).
    pub busy_timeout: Duration,
    /// PostgreSQL: `statement_timeout` of every statement (`TECHX_DB_STATEMENT_TIMEOUT_MS`).
    pub statement_timeout: Duration,
    /// PostgreSQL: idle time before TCP keepalive probes (`TECHX_DB_KEEPALIVE_SECS`).
    pub keepalive: Duration,
}

impl Deadlines {
    /// The defaults of `TECHX_DB_STATEMENT_TIMEOUT_MS` and `TECHX_DB_KEEPALIVE_SECS`.
    pub fn new(busy_timeout: Duration) -> Self {
        Self {
            busy_timeout,
            statement_timeout: Duration::from_secs(10),
            keepalive: Duration::from_secs(30),
        }
    }
}

/// Opens connections for the pool, on the backend named by the URL.
#[derive(Debug)]
pub struct ConnectionManager {
    target: DbTarget,
    deadlines: Deadlines,
    /// Statements run by every connection of the pool, connection setup excluded.
    statements: Arc<AtomicU64>,
}

impl ManageConnection for ConnectionManager {
    type Connection = DbConn;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConn, r2d2::Error> {
        let mut conn = dialect::establish(&self.target, &self.deadlines)?;
        conn.set_instrumentation(Probe::new(self.statements.clone()));
        Ok(conn)
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), r2d2::Error> {
        conn.ping().map_err(r2d2::Error::QueryError)
    }

    /// Checked when a connection returns to the pool: one whose statement found the server
    /// gone is dropped here (diesel marks a PostgreSQL connection whose libpq status is lost
    /// as broken), so the next checkout opens a fresh one.
    fn has_broken(&self, conn: &mut DbConn) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}

pub type DbPool = r2d2::Pool<ConnectionManager>;

/// Hot-read connections per server worker unless configured (`TECHX_DB_HOT_CONNECTIONS`):
/// reads pipeline on a connection, so two keep a worker's share of the server busy.
pub const HOT_CONNECTIONS_PER_THREAD: usize = 2;

/// The application's handle on its database.
#[derive(Clone)]
pub struct Db {
    pool: DbPool,
    backend: Backend,
    statements: Arc<AtomicU64>,
    /// How long a call may wait for a blocking thread before it gives up without taking a
    /// connection (the pool's connection timeout).
    queue_timeout: Duration,
    /// Longest wait for one [`Db::run`] (PostgreSQL's statement timeout): a server that
    /// freezes never cancels its own statements, so the caller stops waiting instead.
    call_deadline: Option<Duration>,
    /// PostgreSQL reads answered on the server's workers, where the URL allows them.
    hot: Option<Arc<HotReads>>,
}

impl Db {
    /// A pool that opens connections lazily: start-up and tests decide when to connect, and
    /// an unreachable database makes requests fail with 503 instead of stopping the process.
    ///
    /// Connections are not tested on checkout (r2d2's default would add a `SELECT 1` round
    /// trip to every request): a connection whose statement finds the server gone is
    /// discarded when it returns (see [`ConnectionManager::has_broken`]), and that request
    /// answers 503 like any other outage.
    pub fn new(target: &DbTarget, max_size: u32, timeout: Duration) -> Self {
        Self::with_deadlines(target, max_size, timeout, Deadlines::new(timeout))
    }

    /// [`Db::new`] with the connections' deadlines given.
    pub fn with_deadlines(
        target: &DbTarget,
        max_size: u32,
        timeout: Duration,
        deadlines: Deadlines,
    ) -> Self {
        let statements = Arc::new(AtomicU64::new(0));
        let manager =
            ConnectionManager { target: target.clone(), deadlines, statements: statements.clone() };
        let pool = r2d2::Pool::builder()
            .max_size(max_size)
            .min_idle(Some(0))
            .test_on_check_out(false)
            .connection_timeout(timeout)
            .build_unchecked(manager);
        let call_deadline = match target.backend {
            Backend::Postgres => Some(deadlines.statement_timeout),
            // SQLite cannot hang on a network; its writers wait `busy_timeout` at most.
            Backend::Sqlite => None,
        };
        let hot = match target.backend {
            Backend::Postgres => HotReads::for_url(
                &target.location,
                &deadlines,
                timeout,
                HOT_CONNECTIONS_PER_THREAD,
                statements.clone(),
            )
            .map(Arc::new),
            Backend::Sqlite => None,
        };
        Self {
            pool,
            backend: target.backend,
            statements,
            queue_timeout: timeout,
            call_deadline,
            hot,
        }
    }

    /// This handle with `per_thread` hot-read connections per server worker (0: none, every
    /// read goes through the pool).
    pub fn with_hot_connections(mut self, per_thread: usize) -> Self {
        self.hot = self.hot.and_then(|hot| hot.resized(per_thread)).map(Arc::new);
        self
    }

    /// Where hot reads run, when they do (PostgreSQL on this host or without TLS).
    pub fn hot(&self) -> Option<&HotReads> {
        self.hot.as_deref()
    }

    /// Statements this pool's connections have run since it was made (connection setup
    /// excluded): tests hold a request to its round trips with it.
    pub fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A connection for blocking contexts (CLI, background jobs already off the workers).
    pub fn conn(&self) -> Result<r2d2::PooledConnection<ConnectionManager>, DbError> {
        Ok(self.pool.get()?)
    }

    /// Runs `work` on a pooled connection on the blocking thread pool, never on an async
    /// worker. On PostgreSQL the caller waits at most the statement timeout, then gets
    /// [`DbError::Timeout`]; the work itself goes on until the database answers (a
    /// transaction then commits or rolls back whole), holding its connection meanwhile.
    ///
    /// `work` returns its caller's error type (the store's, or a handler's that mixes store
    /// calls and policy checks); the failures of this call itself come as [`DbError`].
    pub async fn run<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + From<diesel::result::Error> + Send + 'static,
    {
        let hook = WRITE_HOOK.try_with(Arc::clone).ok().filter(|h| h.pending());
        self.run_hooked(hook, work).await
    }

    /// Like [`Db::run`], but outside the request's audit: for bookkeeping that is not the
    /// request's change (an API key's last use).
    pub async fn run_unaudited<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + From<diesel::result::Error> + Send + 'static,
    {
        self.run_hooked(None, work).await
    }

    async fn run_hooked<T, E, F>(&self, hook: Option<Arc<dyn WriteHook>>, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + From<diesel::result::Error> + Send + 'static,
    {
        let pool = self.pool.clone();
        let (queued, queue_timeout) = (std::time::Instant::now(), self.queue_timeout);
        // The request's span (its request id) follows the work onto the blocking thread, so
        // whatever the work logs names the request.
        let span = tracing::Span::current();
        let blocked = tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            // Servers run at most their pool's size of blocking threads (`main.rs`), so a
            // burst queues here. A call that waited longer than the pool would have gives up
            // before taking a connection: after an outage the backlog drains at once.
            if queued.elapsed() > queue_timeout {
                return Err(DbError::Busy(queue_timeout).into());
            }
            let mut conn = pool.get().map_err(DbError::from)?;
            match hook {
                None => work(&mut conn),
                Some(hook) => hooked(&mut conn, &*hook, work),
            }
        });
        let done = match self.call_deadline {
            None => blocked.await,
            Some(limit) => match tokio::time::timeout(limit, blocked).await {
                Ok(done) => done,
                Err(_) => {
                    tracing::warn!(
                        limit_ms = limit.as_millis() as u64,
                        "database call outlived the statement timeout; answering 503"
                    );
                    return Err(DbError::Timeout(limit).into());
                }
            },
        };
        match done {
            Ok(result) => result,
            Err(joined) => {
                let message = panic_message(joined);
                // Logged here, in the caller's span: the line carries the request id.
                tracing::error!(panic = %message, "database call panicked");
                Err(DbError::Panicked(message).into())
            }
        }
    }
}

/// What a blocking task that did not finish said: its panic message, or that it was
/// cancelled (the runtime shutting down).
fn panic_message(joined: tokio::task::JoinError) -> String {
    if !joined.is_panic() {
        return "cancelled".to_owned();
    }
    let payload = joined.into_panic();
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

/// Told about the writes of one request (the audit log): `after_write` runs inside the
/// transaction of every database call that changed something, before it commits.
pub trait WriteHook: Send + Sync {
    /// Whether the hook still wants to hear of a write.
    fn pending(&self) -> bool;
    /// `value` is what the call returns (a created body, say), to name what it made.
    fn after_write(&self, conn: &mut DbConn, value: &dyn std::any::Any) -> Result<(), DbError>;
    /// The transaction `after_write` ran in did not commit.
    fn rolled_back(&self);
}

tokio::task_local! {
    /// The hook of the request being served, set around its handler by the audit middleware.
    pub static WRITE_HOOK: Arc<dyn WriteHook>;
}

/// Runs `work` in one write transaction with the hook: the hook's entry commits or rolls back
/// with the change (inner `write_transaction`s become savepoints).
fn hooked<T: 'static, E>(
    conn: &mut DbConn,
    hook: &dyn WriteHook,
    work: impl FnOnce(&mut DbConn) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<DbError> + From<diesel::result::Error>,
{
    let mut told = false;
    let result = dialect::write_transaction(conn, |conn| {
        let before = probe::watch_writes();
        let value = work(conn);
        let wrote = probe::unwatch_writes() > before;
        let value = value?;
        if wrote {
            hook.after_write(conn, &value).map_err(E::from)?;
            told = true;
        }
        Ok(value)
    });
    if told && result.is_err() {
        hook.rolled_back();
    }
    result
}
