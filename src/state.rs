//! What every handler can reach: settings, the database and the metrics registry.

use std::sync::Arc;

use crate::api::limits::RateLimits;
use crate::auth::tokens::JwtKeys;
use crate::config::Config;
use crate::db::Db;
use crate::observability::Metrics;
use crate::search::Search;

pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub metrics: Metrics,
    pub jwt: JwtKeys,
    pub rate_limits: RateLimits,
    /// API key uses this process recorded lately (last-used time, new addresses).
    pub key_uses: crate::api::key_auth::KeyUses,
    /// This process's search index (a read model of the database).
    pub search: Arc<Search>,
    /// The statistics overview last computed, and when (`TECHX_STATS_CACHE_SECS`).
    pub overview_cache: tokio::sync::Mutex<Option<CachedOverview>>,
}

pub struct CachedOverview {
    pub computed: std::time::Instant,
    pub generated_at: chrono::DateTime<chrono::Utc>,
    pub rows: Arc<Vec<crate::store::stats::Counted>>,
}

impl AppState {
    /// Opens the search index in `config.search_dir`; when that fails the process still
    /// serves, searching an index in memory (start-up checks the folder first, so only a
    /// folder broken after the check gets here).
    pub fn new(config: Config, db: Db) -> Self {
        let search = Search::open(Some(&config.search_dir)).unwrap_or_else(|e| {
            tracing::error!(error = %e, dir = %config.search_dir.display(), "cannot open the search index on disk; searching in memory");
            Search::open(None).unwrap_or_else(|e| unreachable!("an index in memory opens: {e}"))
        });
        Self::with_search(config, db, search)
    }

    pub fn with_search(config: Config, db: Db, search: Search) -> Self {
        let jwt = JwtKeys::new(&config.auth);
        let rate_limits = RateLimits::new(&config.limits);
        Self {
            config: Arc::new(config),
            db,
            metrics: Metrics::new(),
            jwt,
            rate_limits,
            key_uses: Default::default(),
            search: Arc::new(search),
            overview_cache: tokio::sync::Mutex::new(None),
        }
    }
}
