//! Per-client rate limits and the request deadline.

use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroU32;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::web;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::LimitsConfig;
use crate::error::ApiError;
use crate::state::AppState;

pub struct RateLimits {
    auth: DefaultKeyedRateLimiter<IpAddr>,
    writes: DefaultKeyedRateLimiter<IpAddr>,
    /// Per API key, whatever the client address.
    api_keys: DefaultKeyedRateLimiter<crate::db::types::Id>,
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
    pub fn check_key(&self, key: crate::db::types::Id) -> Result<(), u64> {
        self.api_keys.check_key(&key).map_err(|not_until| {
            not_until.wait_time_from(DefaultClock::default().now()).as_secs().max(1)
        })
    }

    /// `Err(seconds to wait)` when the client is over its budget for this request.
    fn check(&self, method: &Method, path: &str, client: IpAddr) -> Result<(), u64> {
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

pub async fn rate_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody + 'static>>, actix_web::Error> {
    if let Some(state) = req.app_data::<web::Data<AppState>>() {
        let client = req.peer_addr().map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip());
        if let Err(wait) = state.rate_limits.check(req.method(), req.path(), client) {
            return Ok(req.error_response(ApiError::too_many_requests(wait)).map_into_right_body());
        }
    }
    next.call(req).await.map(ServiceResponse::map_into_left_body)
}

/// Refuses a request whose headers (as sent) exceed `TECHX_MAX_HEADER_BYTES` with 431,
/// before any work is done for it. The request line is not counted: long search queries
/// are truncated by the search itself, and actix-http caps the whole head at 128 KiB.
pub async fn header_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody + 'static>>, actix_web::Error> {
    if let Some(state) = req.app_data::<web::Data<AppState>>() {
        let limit = state.config.limits.max_header_bytes;
        // Name, ": ", value and CRLF per header.
        let size: usize = req.headers().iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum();
        if size > limit {
            return Ok(req.error_response(ApiError::header_too_large(limit)).map_into_right_body());
        }
    }
    next.call(req).await.map(ServiceResponse::map_into_left_body)
}

/// Abandons a request that outlives `TECHX_REQUEST_TIMEOUT_MS` with 503. Database work
/// already handed to the blocking pool finishes or rolls back as one transaction, so
/// nothing is left half-written.
///
/// The timeout is returned as an error (rendered as problem+json by actix): building a
/// response here would need a clone of the request, which routing forbids.
pub async fn deadline(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let timeout = req.app_data::<web::Data<AppState>>().map(|s| s.config.limits.request_timeout);
    let Some(timeout) = timeout else { return next.call(req).await };
    match actix_web::rt::time::timeout(timeout, next.call(req)).await {
        Ok(result) => result,
        Err(_) => {
            tracing::warn!(timeout_ms = timeout.as_millis() as u64, "request timed out");
            Err(ApiError::new(
                actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                "The request took too long and was abandoned; try again.",
            )
            .with_header(actix_web::http::header::RETRY_AFTER, "5")
            .into())
        }
    }
}
