//! The `techx` command: serve (default), migrate, openapi.

use std::process::ExitCode;

use actix_web::{HttpServer, web};
use clap::{Parser, Subcommand};

use techx::config::Config;
use techx::db::{Db, DbTarget, dialect};
use techx::state::AppState;

#[derive(Parser)]
#[command(name = "techx", version, about = "Technology exchange backend (sàn giao dịch công nghệ)")]
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
    let db = Db::new(&target, config.db_pool_size, config.db_timeout);
    Ok((config, db))
}

fn migrate(config: &Config, db: &Db, revert: bool) -> Result<(), String> {
    let unreachable = |e: techx::error::ApiError| {
        format!(
            "cannot open the database named by DATABASE_URL ({}): {}",
            redact(&config.database_url),
            e.detail
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

fn serve(config: Config, db: Db) -> Result<(), String> {
    migrate(&config, &db, false)?;
    let bind = config.bind;
    let workers = config.workers;
    let shutdown_timeout = config.shutdown_timeout.as_secs();
    let mail_config = config.mail.clone();
    let mail_db = db.clone();
    tracing::info!(%bind, backend = db.backend().name(), database = %redact(&config.database_url), "techx listening");
    let state = web::Data::new(AppState::new(config, db));
    actix_web::rt::System::new().block_on(async move {
        // The outbox worker runs on the system's runtime beside the HTTP server; it is
        // built here because lettre's SMTP pool needs a running runtime.
        let mail_worker = techx::mail::worker::start(mail_db, mail_config)
            .map_err(|e| format!("cannot start the mail worker: {e}"))?;
        // actix stops accepting on SIGTERM/SIGINT and lets in-flight requests finish
        // for up to `shutdown_timeout` seconds.
        let served = match HttpServer::new(move || techx::app::build(state.clone()))
            .workers(workers)
            .shutdown_timeout(shutdown_timeout)
            .bind(bind)
        {
            Ok(server) => server.run().await,
            Err(e) => Err(e),
        };
        // Then mail in flight is finished and recorded before the process exits.
        mail_worker.stop().await;
        served.map_err(|e| format!("cannot serve on TECHX_BIND={bind}: {e}"))
    })
}

/// The URL without its password, for logs and messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}
