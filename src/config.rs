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
    pub max_body_bytes: usize,
    pub environment: Environment,
    pub log_format: LogFormat,
    pub workers: usize,
    pub shutdown_timeout: Duration,
    pub mail: crate::mail::MailConfig,
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
        Ok(Self {
            bind: parse(&get, "TECHX_BIND", "127.0.0.1:8080")?,
            database_url: get("DATABASE_URL").unwrap_or_else(|| "sqlite://techx.db".into()),
            db_pool_size: parse_in(&get, "TECHX_DB_POOL_SIZE", 10, 1..=512)?,
            db_timeout: Duration::from_millis(parse_in(
                &get,
                "TECHX_DB_TIMEOUT_MS",
                5_000,
                50..=120_000,
            )?),
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
            mail: crate::mail::MailConfig::from_lookup(get)?,
        })
    }
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
    }
}
