//! What every handler can reach: settings, the database, and what this process keeps in
//! memory (metrics, rate limiters, recent API key uses). The middleware that use those
//! parts (`observability`, `api::limits`, `api::key_auth`) import them from here; this
//! module imports none of them.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::http::Method;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

use crate::auth::tokens::JwtKeys;
use crate::config::{Config, LimitsConfig};
use crate::db::Db;
use crate::db::types::ApiKeyId;
use crate::search::{Pages, Search};

pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub metrics: Metrics,
    pub jwt: JwtKeys,
    pub rate_limits: RateLimits,
    /// API key uses this process recorded lately (last-used time, new addresses).
    pub key_uses: KeyUses,
    /// This process's search index (a read model of the database).
    pub search: Arc<Search>,
    /// Search pages as sent, per index generation (`TECHX_SEARCH_PAGE_CACHE`).
    pub search_pages: Pages,
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
        let search_pages = Pages::new(config.search_page_cache);
        Self {
            config: Arc::new(config),
            db,
            metrics: Metrics::new(),
            jwt,
            rate_limits,
            key_uses: Default::default(),
            search: Arc::new(search),
            search_pages,
            overview_cache: tokio::sync::Mutex::new(None),
        }
    }
}

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    in_flight: IntGauge,
}

/// Counts a request as in flight until dropped, also when the request is cancelled.
pub struct InFlight(IntGauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let labels = &["method", "route", "status"];
        let requests = IntCounterVec::new(
            Opts::new("techx_http_requests_total", "HTTP requests served"),
            labels,
        )
        .unwrap_or_else(|e| unreachable!("static metric definition: {e}"));
        let latency = HistogramVec::new(
            HistogramOpts::new("techx_http_request_duration_seconds", "HTTP request latency")
                .buckets(vec![
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ]),
            labels,
        )
        .unwrap_or_else(|e| unreachable!("static metric definition: {e}"));
        let in_flight = IntGauge::new("techx_http_requests_in_flight", "Requests being served")
            .unwrap_or_else(|e| unreachable!("static metric definition: {e}"));
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(in_flight.clone()),
        ] {
            registry
                .register(collector)
                .unwrap_or_else(|e| unreachable!("metrics registered once: {e}"));
        }
        Self { registry, requests, latency, in_flight }
    }

    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let status = status.to_string();
        let labels = [method, route, status.as_str()];
        self.requests.with_label_values(&labels).inc();
        self.latency.with_label_values(&labels).observe(seconds);
    }

    /// Counts one request as in flight until the guard drops.
    pub fn track_in_flight(&self) -> InFlight {
        self.in_flight.inc();
        InFlight(self.in_flight.clone())
    }

    /// Requests currently being served by this process.
    pub fn in_flight(&self) -> i64 {
        self.in_flight.get()
    }

    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut buffer) {
            tracing::error!(error = %e, "metrics encoding failed");
        }
        String::from_utf8(buffer).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

pub struct RateLimits {
    auth: DefaultKeyedRateLimiter<IpAddr>,
    writes: DefaultKeyedRateLimiter<IpAddr>,
    /// Per API key, whatever the client address.
    api_keys: DefaultKeyedRateLimiter<ApiKeyId>,
}

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
}

impl RateLimits {
    pub fn new(config: &LimitsConfig) -> Self {
        Self {
            auth: RateLimiter::keyed(per_minute(config.auth_per_minute)),
            writes: RateLimiter::keyed(per_minute(config.writes_per_minute)),
            api_keys: RateLimiter::keyed(per_minute(config.api_key_per_minute)),
        }
    }

    /// Forgets clients idle long enough that their budget is full again (bounds memory).
    pub fn prune(&self) {
        self.auth.retain_recent();
        self.writes.retain_recent();
        self.api_keys.retain_recent();
    }

    /// `Err(seconds to wait)` when the API key is over its budget.
    pub fn check_key(&self, key: ApiKeyId) -> Result<(), u64> {
        self.api_keys.check_key(&key).map_err(|not_until| {
            not_until.wait_time_from(DefaultClock::default().now()).as_secs().max(1)
        })
    }

    /// `Err(seconds to wait)` when the client is over its budget for this request.
    pub fn check(&self, method: &Method, path: &str, client: IpAddr) -> Result<(), u64> {
        let limiter = if path.starts_with("/api/v1/auth/") {
            &self.auth
        } else if path.starts_with("/api/")
            && !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
        {
            &self.writes
        } else {
            return Ok(());
        };
        limiter.check_key(&client).map_err(|not_until| {
            not_until.wait_time_from(DefaultClock::default().now()).as_secs().max(1)
        })
    }
}

/// How long a process remembers it recorded a key's use from an address: the last-used
/// time is written at most this often per key and address, not on every request.
const USE_RECORD_INTERVAL: Duration = Duration::from_secs(60);

/// Recent (key, address) uses recorded by this process.
#[derive(Default)]
pub struct KeyUses(Mutex<HashMap<(ApiKeyId, String), Instant>>);

impl KeyUses {
    /// True when this use should be written to the database now.
    pub fn due(&self, key: ApiKeyId, address: &str) -> bool {
        let mut seen = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        if seen.len() > 10_000 {
            seen.retain(|_, at| now.duration_since(*at) < USE_RECORD_INTERVAL);
        }
        match seen.get(&(key, address.to_owned())) {
            Some(at) if now.duration_since(*at) < USE_RECORD_INTERVAL => false,
            _ => {
                seen.insert((key, address.to_owned()), now);
                true
            }
        }
    }

    /// Forgets a use whose recording failed, so the next request tries again.
    pub fn forget(&self, key: ApiKeyId, address: &str) {
        let mut seen = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        seen.remove(&(key, address.to_owned()));
    }
}
