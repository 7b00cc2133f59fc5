//! Webhook delivery settings (`TECHX_WEBHOOK_*`). Pacing, retries and leases are the
//! outbox's (`TECHX_OUTBOX_*`), shared with mail.

use std::time::Duration;

use crate::config::{ConfigError, Environment, parse_in};
use crate::domain::webhooks::UrlPolicy;

#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Deadline for one whole delivery: name resolution, connection, TLS, request and
    /// response head.
    pub timeout: Duration,
    /// Failed delivery attempts in a row after which an endpoint is disabled and its
    /// organisation's owners are mailed.
    pub disable_after: u32,
}

impl WebhookConfig {
    pub fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            timeout: Duration::from_millis(parse_in(
                get,
                "TECHX_WEBHOOK_TIMEOUT_MS",
                10_000,
                50..=120_000,
            )?),
            disable_after: parse_in(get, "TECHX_WEBHOOK_DISABLE_AFTER", 10, 1..=1_000)?,
        })
    }
}
/// What webhooks may reach in this environment: loopback receivers only outside production.
pub fn url_policy(environment: Environment) -> UrlPolicy {
    match environment {
        Environment::Prod => UrlPolicy::Production,
        Environment::Dev | Environment::Test => UrlPolicy::Development,
    }
}
