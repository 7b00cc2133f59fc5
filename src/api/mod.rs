//! HTTP handlers, one module per resource: extract, authorise, validate, map DTOs.

pub mod extract;
pub mod ops;
pub mod taxonomy;

/// Every `/api/v1` route. Registered with `.service()` so utoipa-actix-web puts each one in
/// the OpenAPI document.
pub fn v1_routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(taxonomy::sectors)
        .service(taxonomy::provinces)
        .service(taxonomy::trl_levels)
        .service(taxonomy::transfer_forms)
        .service(taxonomy::ip_types);
}

/// Operational endpoints outside the versioned API.
pub fn ops_routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(ops::healthz).service(ops::readyz).service(ops::metrics);
}
