//! Every setting, read from the environment (`TECHX_*`, `DATABASE_URL`), with defaults that
//! run out of the box. A bad value stops start-up with one line naming the setting.

use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Dev,
    Test,
    Prod,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub bind: SocketAddr,
    pub database_url: String,
    pub db_pool_size: u32,
    pub db_timeout: Duration,
    /// PostgreSQL `statement_timeout` on every connection.
    pub db_statement_timeout: Duration,
    /// PostgreSQL TCP keepalive idle time on every connection.
    pub db_keepalive: Duration,
    /// PostgreSQL connections per server worker for hot reads (0: every read on the pool).
    pub db_hot_connections: usize,
    pub max_body_bytes: usize,
    pub environment: Environment,
    pub log_format: LogFormat,
    pub workers: usize,
    pub shutdown_timeout: Duration,
    /// Days a published listing stays public before it expires (unless renewed).
    pub listing_validity_days: u32,
    /// Standing matches scoring at least this (0–100) are mailed and announced once.
    pub match_notify_threshold: u8,
    /// How often each process runs the listing and demand expiry job.
    pub expiry_interval: Duration,
    /// How long a process reuses the public statistics overview it computed.
    pub stats_cache_ttl: Duration,
    /// Search pages each process keeps until its index changes (0: none).
    pub search_page_cache: usize,
    /// Days audit entries are kept (`TECHX_AUDIT_RETENTION_DAYS`); 0 keeps them forever.
    pub audit_retention_days: u32,
    /// Folder of this process's search index (`TECHX_SEARCH_DIR`); each process needs its
    /// own.
    pub search_dir: std::path::PathBuf,
    pub auth: AuthConfig,
    pub limits: LimitsConfig,
    pub mail: crate::mail::MailConfig,
    pub webhooks: crate::webhooks::WebhookConfig,
}

/// Abuse limits. Rate limits are per process: with N instances a client gets N times the
/// budget (the security-critical login lockout is shared through the database).
#[derive(Debug, Clone)]
pub struct LimitsConfig {
    /// Requests per minute per client address to `/api/v1/auth/*`.
    pub auth_per_minute: u32,
    /// Writing requests (POST, PUT, PATCH, DELETE) per minute per client address.
    pub writes_per_minute: u32,
    /// Requests per minute per API key (whatever the method).
    pub api_key_per_minute: u32,
    /// Origins allowed to call the API from a browser; none means no cross-origin access.
    pub cors_origins: Vec<String>,
    /// Longest a request may take before it is abandoned with 503.
    pub request_timeout: Duration,
    /// Time a client has to send its request head (slow-client protection).
    pub client_timeout: Duration,
    /// Largest total size of request headers answered; 431 above it.
    pub max_header_bytes: usize,
}

impl LimitsConfig {
    fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let cors_origins: Vec<String> = get("TECHX_CORS_ORIGINS")
            .map(|v| {
                v.split(',')
                    .map(|o| o.trim().trim_end_matches('/').to_owned())
                    .filter(|o| !o.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        if let Some(bad) = cors_origins.iter().find(|o| {
            !(o.starts_with("https://") || o.starts_with("http://")) || o.matches('/').count() != 2
        }) {
            return Err(invalid(
                "TECHX_CORS_ORIGINS",
                bad,
                "expected comma-separated origins like https://app.example.vn",
            ));
        }
        Ok(Self {
            auth_per_minute: parse_in(get, "TECHX_RATE_LIMIT_AUTH_PER_MINUTE", 30, 1..=1_000_000)?,
            writes_per_minute: parse_in(
                get,
                "TECHX_RATE_LIMIT_WRITES_PER_MINUTE",
                120,
                1..=1_000_000,
            )?,
            api_key_per_minute: parse_in(
                get,
                "TECHX_RATE_LIMIT_API_KEY_PER_MINUTE",
                600,
                1..=1_000_000,
            )?,
            cors_origins,
            request_timeout: Duration::from_millis(parse_in(
                get,
                "TECHX_REQUEST_TIMEOUT_MS",
                30_000,
                100..=600_000,
            )?),
            client_timeout: Duration::from_millis(parse_in(
                get,
                "TECHX_CLIENT_TIMEOUT_MS",
                5_000,
                100..=600_000,
            )?),
            // actix-http itself refuses heads over 128 KiB (and over 96 headers) with a bare
            // 431; this lower, configurable limit answers in problem+json.
            max_header_bytes: parse_in(get, "TECHX_MAX_HEADER_BYTES", 16_384, 1_024..=131_072)?,
        })
    }
}

/// Tokens, sessions and brute-force limits.
#[derive(Clone)]
pub struct AuthConfig {
    pub jwt_secret: Vec<u8>,
    /// True when no `TECHX_JWT_SECRET` was given and a random one was made at start-up.
    pub jwt_secret_generated: bool,
    /// Key of the HMAC that API keys are stored as (`TECHX_API_KEY_PEPPER`, else derived
    /// from the JWT secret).
    pub api_key_pepper: Vec<u8>,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    pub verify_email_ttl: Duration,
    pub password_reset_ttl: Duration,
    pub invitation_ttl: Duration,
    /// Failed logins on one account before it is locked for `lockout`.
    pub max_failures_per_account: i32,
    /// Failed logins from one client address before it is locked for `lockout`.
    pub max_failures_per_ip: i32,
    pub lockout: Duration,
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("jwt_secret", &"<redacted>")
            .field("access_ttl", &self.access_ttl)
            .field("refresh_ttl", &self.refresh_ttl)
            .finish_non_exhaustive()
    }
}

const MIN_JWT_SECRET_BYTES: usize = 32;

impl AuthConfig {
    fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let (jwt_secret, jwt_secret_generated) = match get("TECHX_JWT_SECRET") {
            Some(secret) if secret.len() < MIN_JWT_SECRET_BYTES => {
                return Err(ConfigError {
                    setting: "TECHX_JWT_SECRET",
                    message: format!("must be at least {MIN_JWT_SECRET_BYTES} bytes long"),
                });
            }
            Some(secret) => (secret.into_bytes(), false),
            None => {
                use rand::RngCore;
                let mut secret = vec![0u8; 64];
                rand::rngs::OsRng.fill_bytes(&mut secret);
                (secret, true)
            }
        };
        let api_key_pepper = match get("TECHX_API_KEY_PEPPER") {
            Some(pepper) if pepper.len() < MIN_JWT_SECRET_BYTES => {
                return Err(ConfigError {
                    setting: "TECHX_API_KEY_PEPPER",
                    message: format!("must be at least {MIN_JWT_SECRET_BYTES} bytes long"),
                });
            }
            Some(pepper) => pepper.into_bytes(),
            None => crate::auth::api_keys::derive_pepper(&jwt_secret),
        };
        let secs = |n: u64| Duration::from_secs(n);
        Ok(Self {
            jwt_secret,
            jwt_secret_generated,
            api_key_pepper,
            access_ttl: secs(parse_in(get, "TECHX_ACCESS_TOKEN_TTL_SECS", 900, 30..=86_400)?),
            refresh_ttl: secs(86_400 * parse_in(get, "TECHX_REFRESH_TOKEN_TTL_DAYS", 30, 1..=365)?),
            verify_email_ttl: secs(
                3_600 * parse_in(get, "TECHX_VERIFY_EMAIL_TTL_HOURS", 48, 1..=720)?,
            ),
            password_reset_ttl: secs(
                60 * parse_in(get, "TECHX_PASSWORD_RESET_TTL_MINUTES", 60, 5..=1_440)?,
            ),
            invitation_ttl: secs(86_400 * parse_in(get, "TECHX_INVITATION_TTL_DAYS", 7, 1..=90)?),
            max_failures_per_account: parse_in(get, "TECHX_LOGIN_MAX_FAILURES", 5, 1..=1_000)?,
            max_failures_per_ip: parse_in(get, "TECHX_LOGIN_MAX_FAILURES_PER_IP", 20, 1..=100_000)?,
            lockout: secs(60 * parse_in(get, "TECHX_LOGIN_LOCKOUT_MINUTES", 15, 1..=1_440)?),
        })
    }
}

/// A setting that could not be used, named so the operator knows what to fix.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {setting}: {message}")]
pub struct ConfigError {
    pub setting: &'static str,
    pub message: String,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests can supply their own environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let webhooks = crate::webhooks::WebhookConfig::from_lookup(&get)?;
        let config = Self {
            bind: parse(&get, "TECHX_BIND", "127.0.0.1:8080").map_err(|e| ConfigError {
                setting: "TECHX_BIND",
                message: format!(
                    "{} — expected IP:PORT, e.g. 127.0.0.1:8080 (this machine only) or \
                     0.0.0.0:8080 (every interface); a host name such as localhost is not \
                     accepted",
                    e.message
                ),
            })?,
            database_url: get("DATABASE_URL").unwrap_or_else(|| "sqlite://techx.db".into()),
            db_pool_size: parse_in(&get, "TECHX_DB_POOL_SIZE", 10, 1..=512)?,
            db_timeout: Duration::from_millis(parse_in(
                &get,
                "TECHX_DB_TIMEOUT_MS",
                5_000,
                50..=120_000,
            )?),
            db_statement_timeout: Duration::from_millis(parse_in(
                &get,
                "TECHX_DB_STATEMENT_TIMEOUT_MS",
                10_000,
                100..=3_600_000,
            )?),
            db_keepalive: Duration::from_secs(parse_in(
                &get,
                "TECHX_DB_KEEPALIVE_SECS",
                30,
                1..=7_200,
            )?),
            db_hot_connections: parse_in(
                &get,
                "TECHX_DB_HOT_CONNECTIONS",
                crate::db::HOT_CONNECTIONS_PER_THREAD,
                0..=64,
            )?,
            max_body_bytes: parse_in(&get, "TECHX_MAX_BODY_BYTES", 1_048_576, 1_024..=67_108_864)?,
            environment: match get("TECHX_ENV").as_deref() {
                None | Some("dev") => Environment::Dev,
                Some("test") => Environment::Test,
                Some("prod") | Some("production") => Environment::Prod,
                Some(other) => {
                    return Err(invalid("TECHX_ENV", other, "expected dev, test or prod"));
                }
            },
            log_format: match get("TECHX_LOG_FORMAT").as_deref() {
                None | Some("text") => LogFormat::Text,
                Some("json") => LogFormat::Json,
                Some(other) => {
                    return Err(invalid("TECHX_LOG_FORMAT", other, "expected text or json"));
                }
            },
            workers: parse_in(&get, "TECHX_WORKERS", default_workers(), 1..=256)?,
            shutdown_timeout: Duration::from_secs(parse_in(
                &get,
                "TECHX_SHUTDOWN_TIMEOUT_SECS",
                30,
                1..=600,
            )?),
            listing_validity_days: parse_in(&get, "TECHX_LISTING_VALIDITY_DAYS", 365, 1..=3_650)?,
            match_notify_threshold: parse_in(&get, "TECHX_MATCH_NOTIFY_THRESHOLD", 60, 0..=100)?,
            expiry_interval: Duration::from_secs(parse_in(
                &get,
                "TECHX_EXPIRY_INTERVAL_SECS",
                3_600,
                1..=86_400,
            )?),
            stats_cache_ttl: Duration::from_secs(parse_in(
                &get,
                "TECHX_STATS_CACHE_SECS",
                60,
                0..=3_600,
            )?),
            search_page_cache: parse_in(&get, "TECHX_SEARCH_PAGE_CACHE", 512, 0..=10_000)?,
            audit_retention_days: parse_in(&get, "TECHX_AUDIT_RETENTION_DAYS", 365, 0..=36_500)?,
            search_dir: match get("TECHX_SEARCH_DIR") {
                Some(dir) => dir.into(),
                None => default_search_dir(
                    &get("DATABASE_URL").unwrap_or_else(|| "sqlite://techx.db".into()),
                ),
            },
            auth: AuthConfig::from_lookup(&get)?,
            limits: LimitsConfig::from_lookup(&get)?,
            mail: crate::mail::MailConfig::from_lookup(get)?,
            webhooks,
        };
        let mut config = config;
        // Links in mails lead to the web front-end; in production there is no safe guess.
        if config.environment == Environment::Prod
            && get("TECHX_FRONTEND_URL").is_none()
            && get("TECHX_PUBLIC_URL").is_none()
        {
            return Err(ConfigError {
                setting: "TECHX_FRONTEND_URL",
                message: "required in production: set it to the web front-end's address (e.g. \
                          https://san.techx.vn), which links in mails lead to"
                    .into(),
            });
        }
        // Unless set, the lease is sized from the slower channel's timeout (see
        // `MailConfig::default_lease`).
        if get("TECHX_OUTBOX_LEASE_MS").is_none() {
            config.mail.lease = crate::mail::MailConfig::default_lease(
                config.mail.smtp_timeout.max(config.webhooks.timeout),
            );
        }
        // A batch of webhooks is delivered concurrently, each within its timeout, then
        // recorded: the outbox lease must outlast that, as it must for mail.
        if config.mail.lease < config.webhooks.timeout * 2 {
            return Err(invalid(
                "TECHX_WEBHOOK_TIMEOUT_MS",
                &config.webhooks.timeout.as_millis().to_string(),
                "must be at most half of TECHX_OUTBOX_LEASE_MS",
            ));
        }
        Ok(config)
    }
}

/// `search-index` beside the SQLite file, or in the working directory.
fn default_search_dir(database_url: &str) -> std::path::PathBuf {
    let beside = database_url
        .strip_prefix("sqlite://")
        .map(std::path::Path::new)
        .and_then(std::path::Path::parent)
        .filter(|p| !p.as_os_str().is_empty());
    beside.unwrap_or(std::path::Path::new(".")).join("search-index")
}

fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

pub(crate) fn invalid(setting: &'static str, value: &str, why: &str) -> ConfigError {
    ConfigError { setting, message: format!("{value:?}: {why}") }
}

pub(crate) fn parse<T: std::str::FromStr>(
    get: &impl Fn(&str) -> Option<String>,
    setting: &'static str,
    default: &str,
) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    let raw = get(setting).unwrap_or_else(|| default.to_owned());
    raw.trim().parse().map_err(|e: T::Err| invalid(setting, &raw, &e.to_string()))
}

pub(crate) fn parse_in<T>(
    get: &impl Fn(&str) -> Option<String>,
    setting: &'static str,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
    T::Err: std::fmt::Display,
{
    let Some(raw) = get(setting) else { return Ok(default) };
    let value: T =
        raw.trim().parse().map_err(|e: T::Err| invalid(setting, &raw, &e.to_string()))?;
    if !range.contains(&value) {
        return Err(invalid(
            setting,
            &raw,
            &format!("must be between {} and {}", range.start(), range.end()),
        ));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let pairs: Vec<(String, String)> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(move |name| {
            pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn defaults_run_out_of_the_box() {
        let c = config(&[]).unwrap();
        assert_eq!(c.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(c.database_url, "sqlite://techx.db");
        assert_eq!(c.max_body_bytes, 1_048_576);
        assert_eq!(c.environment, Environment::Dev);
        assert!(c.auth.jwt_secret_generated);
        assert_eq!(c.auth.access_ttl, Duration::from_secs(900));
        assert_eq!(c.webhooks.timeout, Duration::from_secs(10));
        assert_eq!(c.webhooks.disable_after, 10);
        assert_eq!(c.listing_validity_days, 365);
        assert_eq!(c.match_notify_threshold, 60);
        assert_eq!(c.expiry_interval, Duration::from_secs(3_600));
    }

    #[test]
    fn bad_values_name_the_setting() {
        let e = config(&[("TECHX_BIND", "localhost")]).unwrap_err();
        assert_eq!(e.setting, "TECHX_BIND");
        let e = config(&[("TECHX_DB_POOL_SIZE", "0")]).unwrap_err();
        assert_eq!(e.setting, "TECHX_DB_POOL_SIZE");
        assert!(e.to_string().contains("between 1 and 512"), "{e}");
        let e = config(&[("TECHX_ENV", "staging")]).unwrap_err();
        assert_eq!(e.setting, "TECHX_ENV");
        let e = config(&[("TECHX_CORS_ORIGINS", "https://a.vn, *")]).unwrap_err();
        assert_eq!(e.setting, "TECHX_CORS_ORIGINS");
        let c = config(&[("TECHX_CORS_ORIGINS", "https://a.vn/, http://localhost:5173")]).unwrap();
        assert_eq!(c.limits.cors_origins, ["https://a.vn", "http://localhost:5173"]);
        let e = config(&[("TECHX_LISTING_VALIDITY_DAYS", "0")]).unwrap_err();
        assert_eq!(e.setting, "TECHX_LISTING_VALIDITY_DAYS");
        assert_eq!(
            config(&[("TECHX_LISTING_VALIDITY_DAYS", "30")]).unwrap().listing_validity_days,
            30
        );
        let e = config(&[("TECHX_JWT_SECRET", "short")]).unwrap_err();
        assert_eq!(e.setting, "TECHX_JWT_SECRET");
        let e = config(&[("TECHX_WEBHOOK_DISABLE_AFTER", "0")]).unwrap_err();
        assert_eq!(e.setting, "TECHX_WEBHOOK_DISABLE_AFTER");
        let e =
            config(&[("TECHX_OUTBOX_LEASE_MS", "60000"), ("TECHX_WEBHOOK_TIMEOUT_MS", "40000")])
                .unwrap_err();
        assert_eq!(e.setting, "TECHX_WEBHOOK_TIMEOUT_MS");
    }
}
