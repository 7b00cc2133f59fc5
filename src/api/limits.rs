//! Per-client rate limits and the request deadline.

use std::net::{IpAddr, Ipv4Addr};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;

use crate::error::ApiError;
use crate::state::AppState;
pub use crate::state::RateLimits;

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
