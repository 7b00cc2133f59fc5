//! Mail and outbox settings (`TECHX_SMTP_URL`, `TECHX_MAIL_*`, `TECHX_OUTBOX_*`), with
//! defaults that work without an SMTP server: mail is then written to `.eml` files.

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, Tokio1Executor};

use crate::config::{ConfigError, invalid, parse_in};

#[derive(Clone)]
pub struct MailConfig {
    /// `smtp://` (plain, or STARTTLS with `?tls=required`) or `smtps://` (TLS); `None`
    /// writes `.eml` files into `mail_dir` instead.
    pub smtp_url: Option<String>,
    pub mail_dir: PathBuf,
    pub from: Mailbox,
    /// Base of the links in mails, without a trailing slash.
    pub public_url: String,
    /// Pause between claims when the outbox had nothing (or less than a batch) due.
    pub poll_interval: Duration,
    /// Attempts before a row is marked `failed`.
    pub max_attempts: u32,
    /// Delay before the first retry; doubles per attempt, with jitter, up to `backoff_max`.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// How long a claimed row stays reserved for its worker; after that it is due again
    /// (the worker is presumed dead).
    pub lease: Duration,
    /// Deadline for one whole SMTP delivery (connect to QUIT).
    pub smtp_timeout: Duration,
    /// Rows claimed, and delivered concurrently, per round.
    pub batch_size: u32,
}

impl std::fmt::Debug for MailConfig {
    // Hand-written so that the SMTP password never reaches a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailConfig")
            .field("smtp_url", &self.smtp_url.as_deref().map(redact_url))
            .field("mail_dir", &self.mail_dir)
            .field("from", &self.from.to_string())
            .field("public_url", &self.public_url)
            .field("poll_interval", &self.poll_interval)
            .field("max_attempts", &self.max_attempts)
            .field("backoff_base", &self.backoff_base)
            .field("backoff_max", &self.backoff_max)
            .field("lease", &self.lease)
            .field("smtp_timeout", &self.smtp_timeout)
            .field("batch_size", &self.batch_size)
            .finish()
    }
}

impl MailConfig {
    /// Reads the mail settings through `lookup` (blank values count as unset).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let ms = |setting, default, range| {
            parse_in::<u64>(&get, setting, default, range).map(Duration::from_millis)
        };

        let smtp_url = get("TECHX_SMTP_URL").map(|url| url.trim().to_owned());
        if let Some(url) = &smtp_url {
            // Let lettre judge the URL now, so a typo stops start-up rather than every mail.
            if let Err(e) = AsyncSmtpTransport::<Tokio1Executor>::from_url(url) {
                return Err(invalid(
                    "TECHX_SMTP_URL",
                    &redact_url(url),
                    &format!("expected smtp://HOST:PORT or smtps://HOST:PORT ({e})"),
                ));
            }
        }

        let from_raw =
            get("TECHX_MAIL_FROM").unwrap_or_else(|| "techx <no-reply@techx.local>".into());
        let from: Mailbox = from_raw.trim().parse().map_err(|e| {
            invalid(
                "TECHX_MAIL_FROM",
                &from_raw,
                &format!("not a mailbox like `Name <a@b.c>`: {e}"),
            )
        })?;

        // TECHX_PUBLIC_URL is the former name of TECHX_FRONTEND_URL.
        let (setting, public_raw) = match (get("TECHX_FRONTEND_URL"), get("TECHX_PUBLIC_URL")) {
            (Some(url), _) => ("TECHX_FRONTEND_URL", url),
            (None, Some(url)) => ("TECHX_PUBLIC_URL", url),
            (None, None) => ("TECHX_FRONTEND_URL", "http://localhost:3000".into()),
        };
        let public_url = public_raw.trim().trim_end_matches('/').to_owned();
        let has_host = public_url
            .strip_prefix("https://")
            .or_else(|| public_url.strip_prefix("http://"))
            .is_some_and(|rest| !rest.is_empty() && !rest.contains(char::is_whitespace));
        if !has_host {
            return Err(invalid(
                setting,
                &public_raw,
                "expected an http:// or https:// URL such as https://techx.example.vn",
            ));
        }

        let smtp_timeout = ms("TECHX_SMTP_TIMEOUT_MS", 30_000, 50..=600_000)?;
        let config = Self {
            smtp_url,
            mail_dir: PathBuf::from(get("TECHX_MAIL_DIR").unwrap_or_else(|| "./mail".into())),
            from,
            public_url,
            poll_interval: ms("TECHX_OUTBOX_POLL_MS", 1_000, 10..=3_600_000)?,
            max_attempts: parse_in(&get, "TECHX_OUTBOX_MAX_ATTEMPTS", 8, 1..=100)?,
            backoff_base: ms("TECHX_OUTBOX_BACKOFF_BASE_MS", 30_000, 1..=86_400_000)?,
            backoff_max: ms("TECHX_OUTBOX_BACKOFF_MAX_MS", 3_600_000, 1..=604_800_000)?,
            lease: ms(
                "TECHX_OUTBOX_LEASE_MS",
                Self::default_lease(smtp_timeout).as_millis() as u64,
                100..=86_400_000,
            )?,
            smtp_timeout,
            batch_size: parse_in(&get, "TECHX_OUTBOX_BATCH_SIZE", 10, 1..=100)?,
        };
        if config.backoff_max < config.backoff_base {
            return Err(invalid(
                "TECHX_OUTBOX_BACKOFF_MAX_MS",
                &config.backoff_max.as_millis().to_string(),
                "must not be below TECHX_OUTBOX_BACKOFF_BASE_MS",
            ));
        }
        // A batch is delivered concurrently, each mail within `smtp_timeout`, then recorded:
        // the lease must outlast that or another worker could take the rows mid-delivery.
        if config.lease < config.smtp_timeout * 2 {
            return Err(invalid(
                "TECHX_OUTBOX_LEASE_MS",
                &config.lease.as_millis().to_string(),
                "must be at least twice TECHX_SMTP_TIMEOUT_MS",
            ));
        }
        Ok(config)
    }

    /// The lease when `TECHX_OUTBOX_LEASE_MS` is not set: twice the slowest delivery's
    /// timeout plus 5 s to record the outcome. It is also how long a row claimed by a process
    /// that died waits before another worker sends it again (65 s at the defaults).
    pub fn default_lease(delivery_timeout: Duration) -> Duration {
        delivery_timeout * 2 + Duration::from_secs(5)
    }

    /// An absolute link into the exchange's front-end, e.g. `link("/verify-email?token=…")`.
    pub fn link(&self, path_and_query: &str) -> String {
        format!("{}/{}", self.public_url, path_and_query.trim_start_matches('/'))
    }
}

/// The URL with its password replaced by `***`, for logs and messages.
pub fn redact_url(url: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<MailConfig, ConfigError> {
        let pairs: Vec<(String, String)> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        MailConfig::from_lookup(move |name| {
            pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn defaults_write_files_and_link_to_localhost() {
        let c = config(&[]).unwrap();
        assert_eq!(c.smtp_url, None);
        assert_eq!(c.mail_dir, PathBuf::from("./mail"));
        assert_eq!(c.from.to_string(), "techx <no-reply@techx.local>");
        assert_eq!(c.public_url, "http://localhost:3000");
        assert_eq!(c.poll_interval, Duration::from_secs(1));
        assert_eq!(c.max_attempts, 8);
        assert_eq!(
            c.link("/verify-email?token=abc"),
            "http://localhost:3000/verify-email?token=abc"
        );
    }

    #[test]
    fn smtp_urls_follow_lettre_rules() {
        for url in [
            "smtp://127.0.0.1:2525",
            "smtp://user:secret@mail.example.vn:587?tls=required",
            "smtps://user:secret@mail.example.vn",
        ] {
            let c = config(&[("TECHX_SMTP_URL", url)]).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!(c.smtp_url.as_deref(), Some(url));
        }
        let c = config(&[("TECHX_SMTP_URL", "smtps://user:secret@mail.example.vn")]).unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("secret") && shown.contains("user:***@"), "{shown}");
    }

    #[test]
    fn bad_values_name_the_setting() {
        let cases = [
            ("TECHX_SMTP_URL", "http://user:secret@mail.example.vn"),
            ("TECHX_SMTP_URL", "smtp://mail.example.vn?tls=sometimes"),
            ("TECHX_MAIL_FROM", "not an address"),
            ("TECHX_PUBLIC_URL", "techx.example.vn"),
            ("TECHX_OUTBOX_POLL_MS", "0"),
            ("TECHX_OUTBOX_MAX_ATTEMPTS", "many"),
            ("TECHX_OUTBOX_LEASE_MS", "1000"),
        ];
        for (setting, value) in cases {
            let e = config(&[(setting, value)]).unwrap_err();
            assert_eq!(e.setting, setting, "{value}: {e}");
            assert!(!e.to_string().contains("secret"), "{e}");
        }
        let e = config(&[
            ("TECHX_OUTBOX_BACKOFF_BASE_MS", "5000"),
            ("TECHX_OUTBOX_BACKOFF_MAX_MS", "1000"),
        ])
        .unwrap_err();
        assert_eq!(e.setting, "TECHX_OUTBOX_BACKOFF_MAX_MS");
    }

    #[test]
    fn public_url_loses_its_trailing_slash() {
        let c = config(&[("TECHX_PUBLIC_URL", "https://techx.example.vn/")]).unwrap();
        assert_eq!(c.link("invitations/accept"), "https://techx.example.vn/invitations/accept");
    }
}
