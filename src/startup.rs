//! First-run checks of `techx serve` (and the other commands that open the database): each
//! failure a new installation meets becomes one line naming the cause and the fix, at once
//! when the cause is permanent (no waiting for a pool that cannot succeed).

use std::path::Path;

use crate::db::{Backend, DbTarget, dialect};
use crate::mail::config::redact_url;

/// Opens one connection outside the pool. `Err` is the one line to print for a cause that
/// waiting cannot cure (no such database or role, a wrong password, a missing SQLite
/// folder); a transient one (the server is down or starting) gives `Ok(Some(line))`, so the
/// caller may still wait for the pool and print `line` if that fails too.
pub fn check_database(
    target: &DbTarget,
    url: &str,
    deadlines: &crate::db::Deadlines,
) -> Result<Option<String>, String> {
    if target.backend == Backend::Sqlite {
        let path = Path::new(&target.location);
        let folder = path.parent().filter(|p| !p.as_os_str().is_empty());
        if let Some(folder) = folder {
            if !folder.is_dir() {
                return Err(format!(
                    "DATABASE_URL={url}: the folder {} does not exist — create it (mkdir -p {}) \
                     or point DATABASE_URL at a file in an existing folder",
                    folder.display(),
                    folder.display()
                ));
            }
        }
    }
    let error = match dialect::establish(target, deadlines) {
        Ok(_) => return Ok(None),
        Err(e) => e.to_string(),
    };
    let shown = redact_url(url);
    let line = explain(target, &shown, &error);
    if is_permanent(&error) { Err(line) } else { Ok(Some(line)) }
}

fn is_permanent(error: &str) -> bool {
    [
        "does not exist",
        "password authentication failed",
        "no password supplied",
        "unable to open database file",
        "permission denied",
        "invalid connection string",
        "invalid port",
    ]
    .iter()
    .any(|needle| error.to_lowercase().contains(needle))
}

/// `postgres://user@host:port/name` → (user, host, port, name), leniently.
fn pg_parts(url: &str) -> (String, String, String, String) {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let name = path.split('?').next().unwrap_or_default().to_owned();
    let (userinfo, hostport) = authority.rsplit_once('@').unwrap_or(("", authority));
    let user = userinfo.split(':').next().filter(|u| !u.is_empty()).unwrap_or("postgres");
    let (host, port) = hostport.rsplit_once(':').unwrap_or((hostport, "5432"));
    (user.to_owned(), host.to_owned(), port.to_owned(), name)
}

fn explain(target: &DbTarget, url: &str, error: &str) -> String {
    let first_line = error.lines().next().unwrap_or(error).trim();
    let first_line = first_line.trim_start_matches("FATAL:").trim();
    if target.backend == Backend::Sqlite {
        return format!(
            "DATABASE_URL={url}: cannot open the SQLite file ({first_line}) — check that its \
             folder is writable by this user"
        );
    }
    let (user, host, port, name) = pg_parts(url);
    if error.contains("database") && error.contains("does not exist") {
        return format!(
            "database \"{name}\" does not exist on {host}:{port} — create it: createdb -h {host} \
             -p {port} -U {user} {name} (or fix the name in DATABASE_URL)"
        );
    }
    if error.contains("role") && error.contains("does not exist") {
        return format!(
            "PostgreSQL role \"{user}\" does not exist on {host}:{port} — create it (createuser \
             -h {host} -p {port} -U postgres --createdb {user}) or put an existing user in \
             DATABASE_URL"
        );
    }
    if error.contains("password authentication failed") || error.contains("no password supplied") {
        return format!(
            "PostgreSQL refused the password of \"{user}\" on {host}:{port} — fix the password \
             in DATABASE_URL (postgres://{user}:PASSWORD@{host}:{port}/{name})"
        );
    }
    if error.contains("Connection refused") || error.contains("could not connect") {
        return format!(
            "no PostgreSQL answers on {host}:{port} ({first_line}) — start it (pg_isready -h \
             {host} -p {port} tells when it is up) or fix the host and port in DATABASE_URL"
        );
    }
    format!("cannot connect to the database named by DATABASE_URL ({url}): {first_line}")
}

/// Without SMTP, mail is written as `.eml` files: the folder must exist (it is created) and
/// be writable now, not at the first mail.
pub fn check_mail_dir(mail: &crate::mail::MailConfig) -> Result<(), String> {
    if mail.smtp_url.is_some() {
        return Ok(());
    }
    let dir = &mail.mail_dir;
    let fail = |e: std::io::Error| {
        format!(
            "TECHX_MAIL_DIR={}: cannot write mail files there ({e}) — create the folder and make \
             it writable by this user, choose another folder, or set TECHX_SMTP_URL",
            dir.display()
        )
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    let probe = dir.join(format!(".techx-write-check-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(fail)?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Binds the listening socket, naming the fix when it cannot be had.
pub fn bind(
    addr: std::net::SocketAddr,
    listen: impl FnOnce(std::net::SocketAddr) -> std::io::Result<std::net::TcpListener>,
) -> Result<std::net::TcpListener, String> {
    use std::io::ErrorKind;
    listen(addr).map_err(|e| {
        let fix = match e.kind() {
            ErrorKind::AddrInUse => format!(
                "another process already listens there: stop it, or choose a free port, e.g. \
                 TECHX_BIND={}:{}",
                addr.ip(),
                addr.port().wrapping_add(1).max(1024)
            ),
            ErrorKind::PermissionDenied => format!(
                "ports below 1024 need privileges — use a higher one, e.g. TECHX_BIND={}:8080",
                addr.ip()
            ),
            ErrorKind::AddrNotAvailable => format!(
                "{} is not an address of this machine — use 127.0.0.1 (this machine only) or \
                 0.0.0.0 (every interface)",
                addr.ip()
            ),
            _ => "check TECHX_BIND (IP:PORT, e.g. 127.0.0.1:8080)".to_owned(),
        };
        format!("cannot listen on TECHX_BIND={addr} ({e}) — {fix}")
    })
}
