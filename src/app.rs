//! The application: middleware, error shapes, routes and the OpenAPI document. `main.rs` and
//! the tests both build it here, so tests exercise exactly what runs.

use actix_router::ResourceDef;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{Compress, DefaultHeaders, Next, from_fn};
use actix_web::{App, HttpRequest, HttpResponse, ResponseError, web};
use utoipa::OpenApi;
use utoipa::openapi::path::ParameterIn;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
use utoipa_actix_web::{AppExt, scope};
use utoipa_swagger_ui::SwaggerUi;

use crate::api;
use crate::error::{ApiError, FieldError, PROBLEM_CONTENT_TYPE, Problem, problem};
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "techx API",
        description = "Technology exchange (sàn giao dịch công nghệ): listings of technologies, \
equipment and state-funded research results; technology demands; explained matching; enquiries, \
brokered deals and valuations.\n\nErrors are RFC 9457 `application/problem+json` documents with a \
stable `code`; validation errors list every rejected field in `errors`. Lists take `page` and \
`per_page` (max 100). Labels follow `?lang=vi|en`, else `Accept-Language`, else Vietnamese.",
        license(name = "MIT")
    ),
    components(schemas(Problem, FieldError, crate::webhooks::WebhookEvent)),
    tags(
        (name = "taxonomy", description = "Reference data: sectors, provinces, TRL, transfer forms, IP types"),
        (name = "auth", description = "Registration, sign-in, tokens and password reset"),
        (name = "me", description = "The signed-in user"),
        (name = "organizations", description = "Organisations, members, invitations and verification"),
        (name = "api-keys", description = "Organisation API keys for integrated systems (scoped, revocable, rolled with a grace period) and the audit log of every write"),
        (name = "webhooks", description = "Signed HTTP notifications to an organisation's systems: endpoints, delivery log, test ping. Every request body is a `WebhookEvent`; see registering a webhook for the headers and how to verify the signature"),
        (name = "technologies", description = "Technology, equipment and research-result listings: moderation, expiry and Vietnamese-aware search"),
        (name = "inquiries", description = "Enquiries about published listings and their threads"),
        (name = "deals", description = "Deals between a buyer and a seller, optionally brokered: terms, the Art. 23 checklist, stages and an append-only timeline"),
        (name = "valuations", description = "Valuation requests (appraisal by an intermediary organisation) and the indicative valuation calculator"),
        (name = "demands", description = "Technology demands, proposals answering them, and explained matching with listings"),
        (name = "statistics", description = "Public statistics, staff activity reports (JSON or CSV) and the published catalogue as open data (CSV or JSON Lines)"),
        (name = "admin", description = "User administration (administrators)"),
        (name = "ops", description = "Health, readiness and metrics"),
    )
)]
struct ApiDoc;

fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(scope::scope("/api/v1").configure(api::v1_routes)).configure(api::ops_routes);
}

/// The OpenAPI document the code describes (what `techx openapi` prints).
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, spec) =
        App::new().into_utoipa_app().openapi(ApiDoc::openapi()).configure(routes).split_for_parts();
    complete_spec(spec)
}

pub fn openapi_json() -> String {
    let mut json =
        openapi().to_pretty_json().unwrap_or_else(|e| unreachable!("spec serialises: {e}"));
    json.push('\n');
    json
}

/// Adds what every operation shares: problem+json bodies on error responses, the errors any
/// request can meet (412/428 wherever `If-Match` is taken), and the bearer scheme.
fn complete_spec(mut spec: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let problem_response = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content(
                PROBLEM_CONTENT_TYPE,
                ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build(),
            )
            .build()
    };
    for (path, item) in spec.paths.paths.iter_mut() {
        let versioned = path.starts_with("/api/");
        for operation in
            [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete]
                .into_iter()
                .flatten()
        {
            let mut shared: Vec<(&str, &str)> =
                vec![("500", "Unexpected error"), ("431", "Request headers too large")];
            if versioned || path == "/readyz" {
                shared.push((
                    "503",
                    "The database is unavailable; retry after `Retry-After` seconds",
                ));
            }
            let has_params = operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
            if has_params || operation.request_body.is_some() {
                shared.push(("400", "Invalid request: `errors` names each bad field"));
            }
            if operation.request_body.is_some() {
                shared.push(("413", "Request body too large"));
                shared.push(("415", "Request body is not JSON"));
            }
            if operation.security.as_ref().is_some_and(|s| !s.is_empty()) {
                shared.push(("401", "Missing, invalid or expired access token"));
            }
            // Optimistic concurrency: whoever takes `If-Match` refuses a stale or missing one.
            let conditional = operation
                .parameters
                .iter()
                .flatten()
                .any(|p| p.name == "If-Match" && matches!(p.parameter_in, ParameterIn::Header));
            if conditional {
                shared.push(("412", "Changed since you read it"));
                shared.push(("428", "`If-Match` missing"));
            }
            let responses = &mut operation.responses.responses;
            for (status, description) in shared {
                responses
                    .entry(status.to_owned())
                    .or_insert_with(|| problem_response(description).into());
            }
            // Errors declared by a handler without a body get the problem schema.
            for (status, response) in responses.iter_mut() {
                if let utoipa::openapi::RefOr::T(response) = response {
                    let is_error = status.starts_with('4') || status.starts_with('5');
                    if is_error && response.content.is_empty() {
                        *response = problem_response(&response.description);
                    }
                }
            }
        }
    }
    // The matching weights live in domain::matching alone; the matches operations show them.
    for path in ["/api/v1/demands/{id}/matches", "/api/v1/technologies/{id}/matches"] {
        if let Some(operation) = spec.paths.paths.get_mut(path).and_then(|i| i.get.as_mut()) {
            let description = operation.description.get_or_insert_with(String::new);
            description.push_str("\n\nScore weights (points out of 100):\n\n");
            description.push_str(&crate::domain::matching::weights_table());
        }
    }
    let components = spec.components.get_or_insert_with(Default::default);
    components
        .add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    api::key_auth::document(&mut spec);
    crate::openapi::finish(&mut spec);
    spec
}

/// Path templates of the document, to tell "no such path" (404) from "no such method" (405).
struct KnownRoutes(Vec<(ResourceDef, Vec<&'static str>)>);

impl KnownRoutes {
    fn new(spec: &utoipa::openapi::OpenApi) -> Self {
        let routes = spec
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let methods = [
                    ("GET", item.get.is_some()),
                    ("POST", item.post.is_some()),
                    ("PUT", item.put.is_some()),
                    ("PATCH", item.patch.is_some()),
                    ("DELETE", item.delete.is_some()),
                ]
                .into_iter()
                .filter_map(|(m, present)| present.then_some(m))
                .collect();
                (ResourceDef::new(path.as_str()), methods)
            })
            .collect();
        Self(routes)
    }

    fn allowed_methods(&self, path: &str) -> Vec<&'static str> {
        self.0
            .iter()
            .filter(|(def, _)| def.is_match(path))
            .flat_map(|(_, methods)| methods.iter().copied())
            .collect()
    }
}

async fn unmatched(
    req: HttpRequest,
    known: web::Data<KnownRoutes>,
) -> Result<HttpResponse, ApiError> {
    let allowed = known.allowed_methods(req.path());
    Err(if allowed.is_empty() {
        ApiError::not_found(format!("No resource at {}.", req.path()))
    } else {
        ApiError::method_not_allowed(&allowed)
    })
}

/// Last line of defence: an error response produced outside our handlers (a library's
/// plain-text error) is rewritten as problem+json, keeping its status and headers.
async fn problem_fallback(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let res = next.call(req).await?;
    let status = res.status();
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_CONTENT_TYPE.as_bytes()));
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return Ok(res.map_into_boxed_body());
    }
    let (request, old) = res.into_parts();
    let code = match status.as_u16() {
        404 => "not_found",
        405 => "method_not_allowed",
        413 => "payload_too_large",
        s if s >= 500 => "internal_error",
        _ => "bad_request",
    };
    let mut replacement = HttpResponse::build(status);
    for (name, value) in old.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            replacement.append_header((name.clone(), value.clone()));
        }
    }
    let detail = status.canonical_reason().unwrap_or("Error");
    let response = replacement.content_type(PROBLEM_CONTENT_TYPE).json(problem(
        status,
        code,
        detail,
        Vec::new(),
    ));
    Ok(ServiceResponse::new(request, response))
}

/// Actix's built-in extractors, should a handler use them, answer in the same shape.
fn extractor_configs() -> (web::JsonConfig, web::PathConfig, web::QueryConfig) {
    let json = web::JsonConfig::default().error_handler(|err, _| {
        use actix_web::error::JsonPayloadError as E;
        let api = match &err {
            E::OverflowKnownLength { limit, .. } | E::Overflow { limit } => {
                ApiError::payload_too_large(*limit)
            }
            E::ContentType => ApiError::unsupported_media_type("application/json"),
            _ => ApiError::invalid("body", err.to_string()),
        };
        actix_web::error::InternalError::from_response(err, api.error_response()).into()
    });
    let path = web::PathConfig::default().error_handler(|err, _| {
        let api = ApiError::invalid("path", err.to_string());
        actix_web::error::InternalError::from_response(err, api.error_response()).into()
    });
    let query = web::QueryConfig::default().error_handler(|err, _| {
        let api = ApiError::invalid("query", err.to_string());
        actix_web::error::InternalError::from_response(err, api.error_response()).into()
    });
    (json, path, query)
}

/// Browsers may call the API only from `TECHX_CORS_ORIGINS`.
fn cors(origins: &[String]) -> actix_cors::Cors {
    let mut cors = actix_cors::Cors::default()
        .allowed_methods(["GET", "POST", "PATCH", "PUT", "DELETE"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::ACCEPT_LANGUAGE,
            header::IF_MATCH,
            header::IF_NONE_MATCH,
            header::HeaderName::from_static("idempotency-key"),
            header::HeaderName::from_static("x-request-id"),
        ])
        .expose_headers([
            header::ETAG,
            header::LOCATION,
            header::RETRY_AFTER,
            header::LINK,
            header::HeaderName::from_static("x-request-id"),
            header::HeaderName::from_static("idempotent-replayed"),
        ])
        .max_age(3600);
    for origin in origins {
        cors = cors.allowed_origin(origin);
    }
    cors
}

/// Builds the App around shared state (one call per server worker, and per test).
pub fn build(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let max_body = state.config.max_body_bytes;
    let cors = cors(&state.config.limits.cors_origins);
    let (app, spec) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .app_data(state)
        .configure(routes)
        .split_for_parts();
    let spec = complete_spec(spec);
    let known = web::Data::new(KnownRoutes::new(&spec));
    let (json, path, query) = extractor_configs();
    app.app_data(known)
        .app_data(json.limit(max_body))
        .app_data(path)
        .app_data(query)
        .service(web::redirect("/docs", "/docs/"))
        .service(SwaggerUi::new("/docs/{_:.*}").url("/api-docs/openapi.json", spec))
        .default_service(web::to(unmatched))
        .wrap(from_fn(api::key_auth::authenticate))
        .wrap(from_fn(api::audit::record))
        .wrap(from_fn(api::search::apply_own_changes))
        .wrap(from_fn(api::cache::conditional))
        .wrap(from_fn(api::limits::deadline))
        .wrap(from_fn(api::limits::rate_limit))
        .wrap(from_fn(api::limits::header_limit))
        .wrap(cors)
        .wrap(from_fn(problem_fallback))
        .wrap(
            DefaultHeaders::new()
                .add((header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
                .add((header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
                .add((header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"))),
        )
        .wrap(Compress::default())
        .wrap(from_fn(crate::observability::observe))
}
