//! Hot reads on PostgreSQL: answered on the server worker that took the request, over
//! connections that worker holds (diesel-async on tokio-postgres), instead of a hand-off to a
//! blocking thread and back. Concurrent reads share a connection by pipelining, so a worker
//! needs only a few. Writes and transactions stay on the pool ([`super::Db::run`]).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::net::IpAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use diesel::QueryResult;
use diesel::result::{DatabaseErrorKind, Error as QueryError};
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use tokio::sync::OnceCell;
use tokio_postgres::config::{Host, SslMode};

use super::probe::Probe;
use super::{DbError, Deadlines};

/// A worker's connection for hot reads: shared, since one connection pipelines many reads.
pub type WorkerConn = AsyncPgConnection;

/// Where hot reads connect, and how many connections each worker thread opens.
#[derive(Clone)]
pub struct HotReads {
    /// Which pool's connections a thread's slots hold (tests run several pools per process).
    key: u64,
    config: tokio_postgres::Config,
    per_thread: usize,
    statement_timeout: Duration,
    statements: Arc<AtomicU64>,
}

type Slot = Rc<OnceCell<WorkerConn>>;

/// A thread's connections to one database: a slot is empty until its first read. They live
/// as long as the thread (a server's workers, as long as the process).
struct Slots {
    slots: Vec<RefCell<Slot>>,
    next: Cell<usize>,
}

thread_local! {
    static SLOTS: RefCell<HashMap<u64, Rc<Slots>>> = RefCell::new(HashMap::new());
}

static KEYS: AtomicU64 = AtomicU64::new(0);

impl HotReads {
    /// Hot reads for `url`, or `None` where they would change what the pool's connections
    /// promise: tokio-postgres is built here without TLS, so the URL must not want it
    /// (`sslmode=disable`), or the server must be on this host (loopback or a Unix socket),
    /// where TLS protects nothing. A URL with options tokio-postgres does not know is left
    /// to libpq too.
    pub fn for_url(
        url: &str,
        deadlines: &Deadlines,
        connect_timeout: Duration,
        per_thread: usize,
        statements: Arc<AtomicU64>,
    ) -> Option<Self> {
        if per_thread == 0 {
            return None;
        }
        let mut config: tokio_postgres::Config = match url.parse() {
            Ok(config) => config,
            Err(error) => {
                tracing::info!(%error, "hot reads off: tokio-postgres cannot read DATABASE_URL");
                return None;
            }
        };
        let local = config.get_hosts().iter().all(|host| match host {
            Host::Tcp(name) => {
                name == "localhost" || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
            }
            Host::Unix(_) => true,
        }) && config.get_hostaddrs().iter().all(IpAddr::is_loopback);
        match config.get_ssl_mode() {
            SslMode::Disable => {}
            SslMode::Prefer if local => {}
            _ => {
                tracing::info!("hot reads off: DATABASE_URL asks for TLS to a remote server");
                return None;
            }
        }
        config.ssl_mode(SslMode::Disable);
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(connect_timeout);
        }
        // As `dialect::with_keepalives` gives libpq: a server that froze between statements
        // is noticed after the idle time and three probes.
        if !url.contains("keepalives") {
            config
                .keepalives(true)
                .keepalives_idle(deadlines.keepalive.max(Duration::from_secs(1)))
                .keepalives_interval(Duration::from_secs(10))
                .keepalives_retries(3);
        }
        Some(Self {
            key: KEYS.fetch_add(1, Ordering::Relaxed),
            config,
            per_thread,
            statement_timeout: deadlines.statement_timeout,
            statements,
        })
    }

    /// The same reads with `per_thread` connections per thread (`None` for 0).
    pub fn resized(&self, per_thread: usize) -> Option<Self> {
        // A new key: each thread sized its slots for the old count on first use.
        (per_thread > 0).then(|| Self {
            key: KEYS.fetch_add(1, Ordering::Relaxed),
            per_thread,
            ..self.clone()
        })
    }

    /// Runs `work` on one of this thread's connections, opening it first if need be. A
    /// connection that failed (or outlived the statement timeout) is dropped, so the next
    /// read opens a fresh one: an outage answers 503 (see `error.rs`), then recovers.
    pub async fn run<T, F>(&self, work: F) -> Result<T, DbError>
    where
        F: AsyncFnOnce(&WorkerConn) -> QueryResult<T>,
    {
        let (slots, slot) = self.slot();
        let call = async {
            let conn = slot.get_or_try_init(|| self.connect()).await?;
            Ok(work(conn).await?)
        };
        let result = match tokio::time::timeout(self.statement_timeout, call).await {
            Ok(result) => result,
            Err(_) => {
                tracing::warn!(
                    limit_ms = self.statement_timeout.as_millis() as u64,
                    "hot read outlived the statement timeout; answering 503"
                );
                Err(DbError::Timeout(self.statement_timeout))
            }
        };
        if let Err(
            DbError::Timeout(_)
            | DbError::Query(QueryError::DatabaseError(
                DatabaseErrorKind::UnableToSendCommand | DatabaseErrorKind::ClosedConnection,
                _,
            )),
        ) = &result
        {
            slots.discard(&slot);
        }
        result
    }

    /// The next of this thread's slots, round robin.
    fn slot(&self) -> (Rc<Slots>, Slot) {
        let slots = SLOTS.with(|all| {
            let mut all = all.borrow_mut();
            let slots = all.entry(self.key).or_insert_with(|| {
                Rc::new(Slots {
                    slots: (0..self.per_thread).map(|_| RefCell::default()).collect(),
                    next: Cell::new(0),
                })
            });
            Rc::clone(slots)
        });
        let i = slots.next.get();
        slots.next.set((i + 1) % slots.slots.len());
        let slot = slots.slots[i].borrow().clone();
        (slots, slot)
    }

    async fn connect(&self) -> Result<WorkerConn, DbError> {
        let (client, connection) =
            self.config.connect(tokio_postgres::NoTls).await.map_err(|e| {
                DbError::Connect(diesel::ConnectionError::BadConnection(e.to_string()))
            })?;
        let mut conn = AsyncPgConnection::try_from_client_and_connection(client, connection)
            .await
            .map_err(DbError::Connect)?;
        // As every pooled connection: the server cancels a longer statement (503).
        conn.batch_execute(&format!(
            "SET statement_timeout = {}",
            self.statement_timeout.as_millis()
        ))
        .await?;
        conn.set_instrumentation(Probe::new(self.statements.clone()));
        Ok(conn)
    }
}

impl Slots {
    /// Empties the slot that held `failed`, unless another read replaced it already; the
    /// connection closes when its last reader is done with it.
    fn discard(&self, failed: &Slot) {
        for slot in &self.slots {
            let mut slot = slot.borrow_mut();
            if Rc::ptr_eq(&slot, failed) {
                *slot = Slot::default();
            }
        }
    }
}

/// The first row of `$query` (or none) as a `$row`, read in one statement: on the calling
/// worker where the database allows hot reads ([`super::Db::hot`]), else on the pool, on the
/// backend's own connection (`on_backend!`). `$query` is written once and compiled for each
/// way; the result is `Result<Option<$row>, DbError>`.
#[macro_export]
macro_rules! read_first {
    ($db:expr, $row:ty, $query:expr) => {{
        use diesel::OptionalExtension as _;
        let db: &$crate::db::Db = $db;
        match db.hot() {
            Some(hot) => {
                hot.run(async |conn| {
                    let mut conn = conn;
                    let row: diesel::QueryResult<$row> =
                        diesel_async::RunQueryDsl::first($query, &mut conn).await;
                    row.optional()
                })
                .await
            }
            None => {
                db.run(move |conn: &mut $crate::db::DbConn| {
                    let row: diesel::QueryResult<Option<$row>> = $crate::on_backend!(conn, |c| {
                        diesel::RunQueryDsl::first($query, c).optional()
                    });
                    Ok::<_, $crate::db::DbError>(row?)
                })
                .await
            }
        }
    }};
}
