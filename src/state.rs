//! What every handler can reach: settings, the database and the metrics registry.

use std::sync::Arc;

use crate::api::limits::RateLimits;
use crate::auth::tokens::JwtKeys;
use crate::config::Config;
use crate::db::Db;
use crate::observability::Metrics;

pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub metrics: Metrics,
    pub jwt: JwtKeys,
    pub rate_limits: RateLimits,
    /// The statistics overview last computed, and when (`TECHX_STATS_CACHE_SECS`).
    pub overview_cache: tokio::sync::Mutex<Option<CachedOverview>>,
}

pub struct CachedOverview {
    pub computed: std::time::Instant,
    pub generated_at: chrono::DateTime<chrono::Utc>,
    pub rows: Arc<Vec<crate::store::stats::Counted>>,
}

impl AppState {
    pub fn new(config: Config, db: Db) -> Self {
        let jwt = JwtKeys::new(&config.auth);
        let rate_limits = RateLimits::new(&config.limits);
        Self {
            config: Arc::new(config),
            db,
            metrics: Metrics::new(),
            jwt,
            rate_limits,
            overview_cache: tokio::sync::Mutex::new(None),
        }
    }
}
