//! Liveness, readiness and metrics for operators and orchestrators.

use actix_web::{HttpResponse, get, http::header, web};
use diesel::connection::SimpleConnection;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    #[schema(example = "ok")]
    pub status: String,
    #[schema(example = "postgres")]
    pub database: String,
}

/// The process is up (it does not touch the database).
#[utoipa::path(tag = "ops", responses((status = 200, body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok".into() })
}

/// The database answers and the search index has caught up with it; 503 otherwise, so a
/// load balancer stops routing here.
#[utoipa::path(
    tag = "ops",
    responses(
        (status = 200, body = Readiness),
        (status = 503, description = "The database does not answer"),
    )
)]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state.db.run(|conn| conn.batch_execute("SELECT 1").map_err(ApiError::from)).await.map_err(
        |e| {
            if e.status.is_server_error() {
                ApiError::unavailable("The database does not answer.")
            } else {
                e
            }
        },
    )?;
    if !state.search.is_ready() {
        return Err(ApiError::unavailable("The search index is catching up with the database."));
    }
    Ok(HttpResponse::Ok()
        .json(Readiness { status: "ok".into(), database: state.db.backend().name().into() }))
}

/// Prometheus metrics: request counts and latency histograms per route, and
/// `techx_outbox_failed{channel}`, the mails and webhooks given up on (read from the database
/// at each scrape; left out while it is unreachable).
#[utoipa::path(
    tag = "ops",
    responses((status = 200, description = "Prometheus text exposition format", content_type = "text/plain", body = String))
)]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    use std::fmt::Write;
    let mut body = state.metrics.render();
    if let Ok(failed) = state.db.run(crate::store::outbox::count_failed).await {
        body.push_str(
            "# HELP techx_outbox_failed Outbox rows given up on (failed), by channel.\n\
             # TYPE techx_outbox_failed gauge\n",
        );
        for channel in
            [crate::store::outbox::Channel::Email, crate::store::outbox::Channel::Webhook]
        {
            let name = channel.as_str();
            let count = failed.iter().find(|(c, _)| c == name).map_or(0, |(_, n)| *n);
            let _ = writeln!(body, "techx_outbox_failed{{channel=\"{name}\"}} {count}");
        }
    }
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8"))
        .body(body)
}
