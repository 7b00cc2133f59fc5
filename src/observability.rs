//! Logs, request ids and Prometheus metrics.

use std::rc::Rc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, web};
use tracing::Instrument;

use crate::config::LogFormat;
use crate::state::AppState;
pub use crate::state::Metrics;

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the request being served, echoed in `X-Request-Id` and on every log line.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

pub fn init_tracing(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("TECHX_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,actix_server=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    // A second init (tests) is harmless, so its error is ignored.
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// The route template a request matched (`/api/v1/technologies/{id}`), looked up once per
/// request: actix finds it by trying each route's regex in turn, and three layers ask.
#[derive(Clone)]
struct MatchedRoute(Option<Rc<str>>);

pub fn matched_route(req: &HttpRequest) -> Option<Rc<str>> {
    if let Some(found) = req.extensions().get::<MatchedRoute>() {
        return found.0.clone();
    }
    let found: Option<Rc<str>> = req.match_pattern().map(Rc::from);
    req.extensions_mut().insert(MatchedRoute(found.clone()));
    found
}

/// A client-sent request id is kept when it is short and printable; otherwise a new one is
/// made, so logs cannot be forged or flooded through the header.
fn request_id_from(req: &ServiceRequest) -> String {
    req.headers()
        .get(&REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

/// Gives each request an id, a span, a log line and its metrics. Routes are labelled by
/// their pattern (`/api/v1/technologies/{id}`), never the raw path, to bound cardinality.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let request_id = request_id_from(&req);
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let method = req.method().to_string();
    let span = tracing::info_span!("request", request_id = %request_id, method = %method, path = %req.path());
    let _in_flight = state.as_ref().map(|s| s.metrics.track_in_flight());
    let started = Instant::now();
    let result = next.call(req).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let mut res = match result {
        Ok(res) => res,
        Err(error) => {
            // An error escaping the middleware stack (a request deadline): actix renders
            // it; count it here, as there is no response to label.
            let status = error.as_response_error().status_code().as_u16();
            if let Some(state) = state {
                state.metrics.observe(&method, "unrouted", status, elapsed.as_secs_f64());
            }
            span.in_scope(|| tracing::warn!(status, error = %error, "request failed"));
            return Err(error);
        }
    };
    let route = matched_route(res.request());
    let route = route.as_deref().unwrap_or("unmatched");
    let status = res.status().as_u16();
    if let Some(state) = state {
        state.metrics.observe(&method, route, status, elapsed.as_secs_f64());
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        res.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    span.in_scope(|| {
        tracing::info!(status, route = %route, latency_ms = elapsed.as_secs_f64() * 1e3, "request");
    });
    Ok(res)
}
