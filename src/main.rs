//! The `techx` command: serve (default), migrate, openapi.

use std::process::ExitCode;

use actix_web::{HttpServer, web};
use clap::{Parser, Subcommand};

use techx::config::Config;
use techx::db::{Db, DbTarget, dialect};
use techx::state::AppState;

#[derive(Parser)]
#[command(
    name = "techx",
    version,
    about = "Technology exchange backend (sàn giao dịch công nghệ)",
    after_help = "Settings come from the environment (TECHX_*, DATABASE_URL) or a .env file in \
                  the working directory; .env.example lists each one with its default."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Migrate the database and serve the API (the default).
    Serve,
    /// Apply pending migrations, or revert the latest one.
    Migrate {
        /// Revert the most recent migration instead of applying pending ones.
        #[arg(long)]
        revert: bool,
    },
    /// Print the OpenAPI document as JSON.
    Openapi,
    /// Load data: a demo exchange (`--demo`, idempotent) or synthetic load-test data
    /// (`--synthetic`).
    Seed(SeedArgs),
    /// Administration tasks.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// The search index (`TECHX_SEARCH_DIR`).
    Search {
        #[command(subcommand)]
        command: SearchCommand,
    },
}

#[derive(Subcommand)]
enum SearchCommand {
    /// Rebuild this process's search index from the database (stop the server using the
    /// same folder first: one process writes an index at a time).
    Reindex,
}

#[derive(clap::Args)]
struct SeedArgs {
    /// A small realistic exchange with accounts that can log in (printed once).
    #[arg(long, conflicts_with = "synthetic", required_unless_present = "synthetic")]
    demo: bool,
    /// Large consistent data for load tests and benchmarks (sized by the options below).
    #[arg(long)]
    synthetic: bool,
    /// With --synthetic: listings to generate (1 in 20 left pending review).
    #[arg(long, default_value_t = 10_000)]
    technologies: usize,
    /// With --synthetic: demands to generate.
    #[arg(long, default_value_t = 1_000)]
    demands: usize,
    /// With --synthetic: deals to generate.
    #[arg(long, default_value_t = 500)]
    deals: usize,
    /// With --synthetic: organisations (default: 20 + technologies / 500 + demands / 100).
    #[arg(long)]
    organizations: Option<usize>,
    /// With --synthetic: rows per write transaction.
    #[arg(long, default_value_t = 1_000)]
    batch: usize,
    /// With --synthetic: seed of the generated texts (the same seed gives the same data).
    #[arg(long, default_value_t = 20_261_127)]
    seed: u64,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an administrator. The password is prompted for, or read from stdin when it is
    /// not a terminal; there are no default credentials.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "Administrator")]
        name: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // A missing .env is normal; settings then come from the environment alone.
    let _ = dotenvy::dotenv();
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Openapi => {
            print!("{}", techx::app::openapi_json());
            Ok(())
        }
        Command::Migrate { revert } => {
            load().and_then(|(config, db)| migrate(&config, &db, revert))
        }
        Command::Serve => load().and_then(|(config, db)| serve(config, db)),
        Command::Seed(args) => load().and_then(|(config, db)| seed(&config, &db, &args)),
        Command::Admin { command: AdminCommand::Create { email, name } } => {
            load().and_then(|(config, db)| create_admin(&config, &db, &email, &name))
        }
        Command::Search { command: SearchCommand::Reindex } => {
            load().and_then(|(config, db)| reindex(&config, &db))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("techx: {message}");
            ExitCode::FAILURE
        }
    }
}

fn load() -> Result<(Config, Db), String> {
    let config = Config::from_env().map_err(|e| e.to_string())?;
    techx::observability::init_tracing(config.log_format);
    let target = DbTarget::parse(&config.database_url)
        .map_err(|e| format!("invalid configuration: DATABASE_URL: {e}"))?;
    let deadlines = techx::db::Deadlines {
        busy_timeout: config.db_timeout,
        statement_timeout: config.db_statement_timeout,
        keepalive: config.db_keepalive,
    };
    // One connection first: a permanent cause (no such database, role or folder) is named
    // at once; a server that is down or starting gets TECHX_DB_TIMEOUT_MS to come up.
    let waited = std::time::Instant::now();
    while let Some(line) =
        techx::startup::check_database(&target, &config.database_url, &deadlines)?
    {
        if waited.elapsed() >= config.db_timeout {
            return Err(line);
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    let db = Db::with_deadlines(&target, config.db_pool_size, config.db_timeout, deadlines)
        .with_hot_connections(config.db_hot_connections);
    Ok((config, db))
}

/// What a command prints for an error: the detail the API would send for it.
fn detail(error: impl Into<techx::error::ApiError>) -> String {
    error.into().detail
}

fn migrate(config: &Config, db: &Db, revert: bool) -> Result<(), String> {
    let unreachable = |e: techx::db::DbError| {
        format!(
            "cannot open the database named by DATABASE_URL ({}): {}",
            techx::mail::config::redact_url(&config.database_url),
            detail(e)
        )
    };
    let mut conn = db.conn().map_err(unreachable)?;
    if revert {
        let version =
            dialect::revert_last_migration(&mut conn).map_err(|e| format!("revert failed: {e}"))?;
        tracing::info!(%version, "reverted migration");
    } else {
        let applied =
            dialect::run_migrations(&mut conn).map_err(|e| format!("migration failed: {e}"))?;
        tracing::info!(count = applied.len(), versions = ?applied, "migrations applied");
    }
    Ok(())
}

fn reindex(config: &Config, db: &Db) -> Result<(), String> {
    migrate(config, db, false)?;
    let search = techx::search::Search::open(Some(&config.search_dir))
        .map_err(|e| format!("TECHX_SEARCH_DIR={}: {e}", config.search_dir.display()))?;
    let mut conn = db.conn().map_err(detail)?;
    let documents = search.rebuild(&mut conn).map_err(detail)?;
    search.sync(&mut conn).map_err(detail)?;
    println!("search index rebuilt in {}: {documents} documents", config.search_dir.display());
    Ok(())
}

fn read_password() -> Result<String, String> {
    use std::io::{BufRead, IsTerminal};
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ").map_err(|e| e.to_string())?;
        let again = rpassword::prompt_password("Repeat: ").map_err(|e| e.to_string())?;
        if first != again {
            return Err("the passwords differ".into());
        }
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map_err(|e| e.to_string())?;
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    }
}

fn create_admin(config: &Config, db: &Db, email: &str, name: &str) -> Result<(), String> {
    use techx::domain::validate::{is_plausible_email, normalize_email};
    use techx::store::users::{self, NewUser};
    if !is_plausible_email(email) {
        return Err(format!("--email: {email:?} is not an email address"));
    }
    let password = read_password()?;
    techx::auth::password::check_policy("password", &password, email).map_err(|e| {
        format!("password {}", e.errors.first().map_or("rejected", |f| f.message.as_str()))
    })?;
    let hash = techx::auth::password::hash(&password).map_err(detail)?;
    migrate(config, db, false)?;
    let mut conn = db.conn().map_err(detail)?;
    let user = users::create(
        &mut conn,
        &NewUser {
            email,
            email_normalized: &normalize_email(email),
            password_hash: &hash,
            display_name: name,
            language: "vi",
            role: techx::auth::PlatformRole::Admin,
            verified: true,
        },
    )
    .map_err(detail)?;
    println!("administrator {} created ({})", user.email, user.id);
    Ok(())
}

fn seed(config: &Config, db: &Db, args: &SeedArgs) -> Result<(), String> {
    use techx::seed::{demo, synthetic};
    migrate(config, db, false)?;
    let mut conn = db.conn().map_err(detail)?;
    if args.demo {
        let settings = demo::Settings {
            validity_days: config.listing_validity_days,
            match_notify_threshold: config.match_notify_threshold,
        };
        // The demo finds standing matches through an index of its own, kept in memory.
        let search = techx::search::Search::open(None).map_err(|e| e.to_string())?;
        search.catch_up(&mut conn).map_err(detail)?;
        let outcome = demo::load(&mut conn, settings, &search).map_err(detail)?;
        print!("{}", techx::seed::describe_demo(&outcome));
        return Ok(());
    }
    let options = synthetic::Options {
        technologies: args.technologies,
        demands: args.demands,
        deals: args.deals,
        organizations: args.organizations.unwrap_or_else(|| {
            synthetic::Options::default_organizations(args.technologies, args.demands)
        }),
        batch: args.batch,
        seed: args.seed,
    };
    let report = synthetic::run(&mut conn, &options, true).map_err(detail)?;
    print!("{}", techx::seed::describe_synthetic(&report));
    Ok(())
}

fn serve(config: Config, db: Db) -> Result<(), String> {
    migrate(&config, &db, false)?;
    if config.auth.jwt_secret_generated {
        tracing::warn!(
            "TECHX_JWT_SECRET is not set: using a random key, so access tokens will not survive \
             a restart nor work across several processes"
        );
    }
    techx::startup::check_mail_dir(&config.mail)?;
    let bind = config.bind;
    // Bound before anything says "listening": a taken port is named with its fix.
    let listener = techx::startup::bind(bind, bind_listener)?;
    let workers = config.workers;
    let blocking_threads = (config.db_pool_size as usize).div_ceil(workers).max(2);
    let shutdown_timeout = config.shutdown_timeout.as_secs();
    let mail_config = config.mail.clone();
    let mail_db = db.clone();
    let webhook_db = db.clone();
    let webhook_config = config.clone();
    tracing::info!(%bind, backend = db.backend().name(), database = %techx::mail::config::redact_url(&config.database_url), "techx listening");
    let client_timeout = config.limits.client_timeout;
    let search = techx::search::Search::open(Some(&config.search_dir))
        .map_err(|e| format!("TECHX_SEARCH_DIR={}: {e}", config.search_dir.display()))?;
    let follower_db = db.clone();
    let state = web::Data::new(AppState::with_search(config, db, search));
    // Catches up (rebuilding a missing or outdated index; /readyz says 503 until then),
    // then follows the change feed.
    state.search.spawn_follower(follower_db, std::time::Duration::from_millis(200));
    actix_web::rt::System::new()
        .block_on(async move {
            // The outbox worker runs on the system's runtime beside the HTTP server; it is
            // built here because lettre's SMTP pool needs a running runtime.
            let mail_worker = techx::mail::worker::start(mail_db, mail_config)
                .map_err(|e| std::io::Error::other(format!("cannot start the mail worker: {e}")))?;
            let webhook_worker = techx::webhooks::worker::start(webhook_db, &webhook_config);
            spawn_listing_expiry(state.clone());
            let limits = state.clone();
            actix_web::rt::spawn(async move {
                let mut every = actix_web::rt::time::interval(std::time::Duration::from_secs(60));
                loop {
                    every.tick().await;
                    limits.rate_limits.prune();
                }
            });
            // A duplicate of the listener is shut down at the first signal: actix's pause
            // only stops accepting, leaving the port open and new clients hanging until the
            // process exits.
            let listening = listener.try_clone()?;
            let server = HttpServer::new({
                let state = state.clone();
                move || techx::app::build(state.clone())
            })
            .workers(workers)
            // Each worker's blocking threads, where `Db::run` works, are its share of the
            // pool: a call beyond them waits in the queue and is taken by the next thread
            // to finish, rather than a thread of its own parking on the pool (two thread
            // switches more per call; +8 % get by id, measured). At least two, so that one
            // password hash never holds them all.
            .worker_max_blocking_threads(blocking_threads)
            .shutdown_timeout(shutdown_timeout)
            .client_request_timeout(client_timeout)
            .keep_alive(std::time::Duration::from_secs(30))
            .disable_signals()
            .listen(listener)?
            .run();
            actix_web::rt::spawn(drain_on_signal(
                server.handle(),
                listening,
                state,
                shutdown_timeout,
            ));
            let result = server.await;
            // Then mail and webhooks in flight are finished and recorded before the process
            // exits (the watchdog bounds this too).
            mail_worker.stop().await;
            webhook_worker.stop().await;
            tracing::info!("server stopped");
            result
        })
        .map_err(|e| format!("cannot serve on TECHX_BIND={bind}: {e}"))
}

/// A listening socket as actix's own `bind` makes it: address reuse, a backlog of 1024.
fn bind_listener(addr: std::net::SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

/// What the shutdown may take beyond `TECHX_SHUTDOWN_TIMEOUT_SECS` (stopping the workers,
/// recording the outbox rounds in progress) before the watchdog ends the process.
const SHUTDOWN_MARGIN: std::time::Duration = std::time::Duration::from_secs(5);

/// Graceful shutdown on SIGTERM/SIGINT: stop listening at once (new connections are
/// refused), let in-flight requests finish (up to the shutdown timeout), then stop the
/// workers. A watchdog ends the process if the whole shutdown outlasts the timeout plus
/// [`SHUTDOWN_MARGIN`]; a second signal ends it at once.
///
/// actix's own signal handling stops the accept loop and the workers at the same moment,
/// and a worker can see its connection channel close before its stop message and exit,
/// dropping requests in flight; draining first avoids that race.
async fn drain_on_signal(
    server: actix_web::dev::ServerHandle,
    listening: std::net::TcpListener,
    state: web::Data<AppState>,
    shutdown_timeout: u64,
) {
    use actix_web::rt::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) =
        (signal(SignalKind::terminate()), signal(SignalKind::interrupt()))
    else {
        tracing::error!("cannot listen for shutdown signals");
        return;
    };
    tokio_select(term.recv(), int.recv()).await;
    let timeout = std::time::Duration::from_secs(shutdown_timeout);
    start_watchdog(timeout + SHUTDOWN_MARGIN);
    // The accept loop first stops polling the socket, then the socket leaves the listening
    // state (shutdown acts on the socket, not on this duplicate descriptor): connections
    // are refused from here on, and any not yet accepted are reset.
    server.pause().await;
    if let Err(e) = socket2::SockRef::from(&listening).shutdown(std::net::Shutdown::Both) {
        tracing::error!(error = %e, "cannot close the listening socket");
    }
    drop(listening);
    tracing::info!(
        in_flight = state.metrics.in_flight(),
        timeout_secs = shutdown_timeout,
        "shutting down: listening socket closed, draining requests in flight"
    );
    actix_web::rt::spawn(async move {
        tokio_select(term.recv(), int.recv()).await;
        tracing::warn!("second shutdown signal: exiting at once");
        std::process::exit(1);
    });
    let deadline = std::time::Instant::now() + timeout;
    while state.metrics.in_flight() > 0 && std::time::Instant::now() < deadline {
        actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    if state.metrics.in_flight() > 0 {
        tracing::warn!(
            in_flight = state.metrics.in_flight(),
            "shutdown timeout reached with requests in flight; stopping anyway"
        );
    }
    server.stop(true).await;
}

/// Ends the process after `limit`, on its own thread so that nothing stuck on the runtime
/// (a hung database call, a slow SMTP round) can hold the process past it.
fn start_watchdog(limit: std::time::Duration) {
    std::thread::spawn(move || {
        std::thread::sleep(limit);
        tracing::error!(
            limit_secs = limit.as_secs(),
            "shutdown did not finish in time: exiting without waiting further"
        );
        std::process::exit(1);
    });
}

/// Runs the listing expiry job at start-up and then every `TECHX_EXPIRY_INTERVAL_SECS`, off
/// the async workers. Every
/// process may run it: the job claims each listing with a guarded update. A failed run is
/// logged and the next tick tries again.
fn spawn_listing_expiry(state: web::Data<AppState>) {
    use techx::store::{demands::Demand, expiry, technologies::Listing};
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(state.config.expiry_interval);
        loop {
            tick.tick().await;
            let validity = state.config.listing_validity_days;
            let at = techx::db::types::now();
            let job = move |conn: &mut techx::db::DbConn| -> Result<_, techx::error::ApiError> {
                let report = expiry::run::<Listing>(conn, at, validity)?;
                Ok((report, expiry::run::<Demand>(conn, at, validity)?))
            };
            match state.db.run(job).await {
                Ok((report, demands)) => tracing::info!(
                    warned = report.warned,
                    archived = report.archived,
                    demands_warned = demands.warned,
                    demands_archived = demands.archived,
                    "listing and demand expiry job ran"
                ),
                Err(e) => {
                    tracing::warn!(error = %e, "listing expiry job failed; retrying at the next interval")
                }
            }
            // The audit log's retention rides on the same tick (0 days: kept forever).
            let days = state.config.audit_retention_days;
            if days > 0 {
                match state.db.run(move |conn| techx::store::audit::prune(conn, days)).await {
                    Ok(pruned) => tracing::info!(pruned, days, "audit retention job ran"),
                    Err(e) => tracing::warn!(error = %e, "audit retention job failed"),
                }
            }
        }
    });
}

/// Resolves when either future does.
async fn tokio_select<A: std::future::Future, B: std::future::Future>(a: A, b: B) {
    let (a, b) = (std::pin::pin!(a), std::pin::pin!(b));
    futures_util::future::select(a, b).await;
}
