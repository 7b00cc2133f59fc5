//! First-run failures of the real binary: each gives one line naming the cause and the fix,
//! at once (no wait for a pool that cannot succeed), and nothing says "listening" before
//! the socket is bound. And `.env.example` lists exactly the settings the code reads.

use std::process::Command;
use std::time::{Duration, Instant};

/// Runs `techx serve` in a fresh folder with `env`; returns (stderr, how long it took).
fn serve(env: &[(&str, String)]) -> (String, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_techx"));
    command.arg("serve").current_dir(dir.path()).env_clear();
    command.env("PATH", std::env::var("PATH").unwrap_or_default());
    command.env("DATABASE_URL", format!("sqlite://{}/t.db", dir.path().display()));
    command.env("TECHX_SEARCH_DIR", dir.path().join("search"));
    command.env("TECHX_MAIL_DIR", dir.path().join("mail"));
    command.env("TECHX_LOG", "info");
    for (name, value) in env {
        command.env(name, value.replace("{dir}", &dir.path().display().to_string()));
    }
    let started = Instant::now();
    let out = command.output().unwrap();
    assert!(!out.status.success(), "it fails");
    (String::from_utf8_lossy(&out.stderr).into_owned(), started.elapsed())
}

/// The last line, which is the error: one line, with a cause and (after "—") a fix.
#[track_caller]
fn one_line(stderr: &str, cause: &str, fix: &str) {
    let line = stderr.lines().last().unwrap_or_default();
    assert!(line.starts_with("techx: "), "{stderr}");
    assert!(line.contains(cause), "cause {cause:?} in {line}");
    assert!(line.contains(fix), "fix {fix:?} in {line}");
    assert!(line.contains(" — "), "a cause and a fix: {line}");
}

fn pg_url(name: &str) -> Option<String> {
    let admin = std::env::var("TECHX_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    std::net::TcpStream::connect_timeout(&"127.0.0.1:5432".parse().ok()?, Duration::from_secs(1))
        .ok()
        .map(|_| format!("{}/{name}", admin.rsplit_once('/').map_or(admin.as_str(), |(a, _)| a)))
}

#[test]
fn a_missing_postgres_database_is_named_with_createdb_at_once() {
    let Some(url) = pg_url("techx_first_run_missing") else {
        assert!(std::env::var("CI").is_err(), "PostgreSQL is required under CI");
        return;
    };
    let (stderr, took) = serve(&[("DATABASE_URL", url)]);
    one_line(&stderr, "database \"techx_first_run_missing\" does not exist", "createdb");
    assert!(took < Duration::from_secs(3), "no wait for a permanent cause: {took:?}");
}

#[test]
fn a_missing_postgres_role_is_named() {
    let Some(url) = pg_url("techx") else {
        assert!(std::env::var("CI").is_err(), "PostgreSQL is required under CI");
        return;
    };
    let url = url.replacen("postgres@", "techx_no_such_role@", 1);
    let (stderr, took) = serve(&[("DATABASE_URL", url)]);
    one_line(&stderr, "role \"techx_no_such_role\" does not exist", "createuser");
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[test]
fn a_missing_sqlite_folder_is_named_with_mkdir() {
    let (stderr, took) = serve(&[("DATABASE_URL", "sqlite://{dir}/no/such/folder/t.db".into())]);
    one_line(&stderr, "does not exist", "mkdir -p");
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[test]
fn a_host_name_in_techx_bind_names_the_expected_form() {
    let (stderr, _) = serve(&[("TECHX_BIND", "localhost:8080".into())]);
    one_line(&stderr, "TECHX_BIND", "expected IP:PORT, e.g. 127.0.0.1:8080");
}

#[test]
fn a_taken_port_is_named_and_nothing_says_listening_first() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let (stderr, _) = serve(&[("TECHX_BIND", addr.to_string())]);
    one_line(&stderr, "another process already listens there", "choose a free port");
    assert!(!stderr.contains("listening"), "no 'listening' before the bind: {stderr}");
}

#[test]
fn an_unusable_mail_dir_stops_start_up() {
    let (stderr, _) = serve(&[("TECHX_MAIL_DIR", "/dev/null/mail".into())]);
    one_line(&stderr, "TECHX_MAIL_DIR=/dev/null/mail", "TECHX_SMTP_URL");
}

#[test]
fn production_requires_the_front_end_address() {
    let (stderr, _) = serve(&[
        ("TECHX_ENV", "prod".into()),
        ("TECHX_JWT_SECRET", "a-production-secret-that-is-long-enough-0123".into()),
    ]);
    let line = stderr.lines().last().unwrap_or_default();
    assert!(
        line.contains("TECHX_FRONTEND_URL") && line.contains("required in production"),
        "{line}"
    );
}

/// The settings `.env.example` names (set or commented out) are exactly those the code
/// reads (`"TECHX_…"` and `DATABASE_URL` literals under `src/`).
#[test]
fn env_example_lists_every_setting() {
    use std::collections::BTreeSet;
    let root = env!("CARGO_MANIFEST_DIR");
    let mut read = BTreeSet::new();
    let mut dirs = vec![std::path::PathBuf::from(format!("{root}/src"))];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let source = std::fs::read_to_string(&path).unwrap();
            for piece in source.split('"').skip(1).step_by(2) {
                let is_setting = (piece.starts_with("TECHX_") || piece == "DATABASE_URL")
                    && piece
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
                if is_setting {
                    read.insert(piece.to_owned());
                }
            }
        }
    }
    let example = std::fs::read_to_string(format!("{root}/.env.example")).unwrap();
    let listed: BTreeSet<String> = example
        .lines()
        .map(|l| l.trim_start_matches('#').trim())
        .filter_map(|l| l.split_once('=').map(|(name, _)| name))
        .filter(|name| {
            (name.starts_with("TECHX_") || *name == "DATABASE_URL") && !name.contains(' ')
        })
        .map(str::to_owned)
        .collect();
    assert!(read.len() > 30, "{read:?}");
    let missing: Vec<_> = read.difference(&listed).collect();
    let stale: Vec<_> = listed.difference(&read).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "missing from .env.example: {missing:?}; listed but never read: {stale:?}"
    );
}
