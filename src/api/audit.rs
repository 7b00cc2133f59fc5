//! The audit log: the middleware that gives every writing request its recorder, and the
//! endpoints owners (their organisation) and staff (everything) read it with. Nothing in
//! the API updates or deletes an entry.

use std::sync::Arc;
use utoipa_actix_web::service_config::ServiceConfig;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, get, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::common::{Page, PageParams};
use crate::api::extract::{Path, Query};
use crate::api::stats::{Csv, ReportFormat, csv_response, report_format};
use crate::audit::{Recorder, RequestInfo};
use crate::auth::extract::Auth;
use crate::auth::policy::{self, OrgAction};
use crate::db::WriteHook;
use crate::db::types::{ApiKeyId, OrganizationId, UserId, utc};
use crate::domain::scopes;
use crate::error::ApiError;
use crate::observability::RequestId;
use crate::state::AppState;
use crate::store::audit::{self as store, Entry, Filter};
use crate::store::organizations;

/// Most rows one CSV export carries; narrow the filters for more.
const MAX_EXPORT_ROWS: i64 = 100_000;

/// The value of `{name}` in `path` matched by the route template `pattern`.
fn path_param(pattern: &str, path: &str, name: &str) -> Option<String> {
    let wanted = format!("{{{name}}}");
    pattern
        .split('/')
        .zip(path.split('/'))
        .find(|(p, _)| *p == wanted)
        .map(|(_, value)| value.to_owned())
}

/// Gives each audited write its [`Recorder`], as the database hook of everything the
/// handler runs; after the response, records a write that failed without committing.
pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let pattern = crate::observability::matched_route(req.request());
    let operation = pattern.as_deref().and_then(|p| scopes::find(req.method().as_str(), p));
    let (Some(operation), Some(pattern), Some(state)) =
        (operation, pattern.as_deref(), req.app_data::<web::Data<AppState>>().cloned())
    else {
        return next.call(req).await;
    };
    if !operation.audited {
        return next.call(req).await;
    }
    let path = req.path().to_owned();
    let info = RequestInfo {
        operation,
        method: req.method().as_str().to_owned(),
        resource_id: operation.resource_param.and_then(|p| path_param(pattern, &path, p)),
        path_organization: pattern
            .starts_with("/api/v1/organizations/{id}")
            .then(|| path_param(pattern, &path, "id"))
            .flatten()
            .and_then(|id| uuid::Uuid::parse_str(&id).ok())
            .map(OrganizationId::from),
        path,
        address: req.peer_addr().map(|a| a.ip().to_string()),
        request_id: req.extensions().get::<RequestId>().map(|r| r.0.clone()),
    };
    let recorder = Arc::new(Recorder::new(info));
    req.extensions_mut().insert(recorder.clone());
    let hook: Arc<dyn WriteHook> = recorder.clone();
    let result = crate::db::WRITE_HOOK.scope(hook, next.call(req)).await;
    let status = match &result {
        Ok(res) => res.status().as_u16(),
        Err(e) => e.as_response_error().status_code().as_u16(),
    };
    if recorder.failure_due(status) {
        let r = recorder.clone();
        if let Err(e) = state.db.run(move |conn| r.append_failure(conn, status)).await {
            tracing::warn!(error = %e.detail, "cannot record a failed write in the audit log");
        }
    }
    result
}

/// One audit entry.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditEventDto {
    pub id: uuid::Uuid,
    pub occurred_at: DateTime<Utc>,
    /// The organisation the write was made for (a key's own; the resource's otherwise).
    pub organization_id: Option<uuid::Uuid>,
    /// `user` (a person's session) or `api_key`.
    #[schema(example = "api_key")]
    pub actor_type: String,
    /// The person; for a key, the person who created it.
    pub user_id: Option<uuid::Uuid>,
    pub api_key_id: Option<uuid::Uuid>,
    #[schema(example = "create_technology")]
    pub operation_id: String,
    #[schema(example = "POST")]
    pub method: String,
    #[schema(example = "/api/v1/technologies")]
    pub path: String,
    #[schema(example = "technology")]
    pub resource_type: String,
    pub resource_id: Option<String>,
    /// The client address.
    pub address: Option<String>,
    /// The `X-Request-Id` of the request, to find it in the logs.
    pub request_id: Option<String>,
    /// `succeeded` (recorded in the transaction of the change) or `failed` (nothing changed).
    #[schema(example = "succeeded")]
    pub outcome: String,
    /// The HTTP status of a failed write.
    pub status: Option<i32>,
}

impl From<Entry> for AuditEventDto {
    fn from(e: Entry) -> Self {
        Self {
            id: e.id.into(),
            occurred_at: utc(e.occurred_at),
            organization_id: e.organization_id.map(Into::into),
            actor_type: e.actor_type,
            user_id: e.user_id.map(Into::into),
            api_key_id: e.api_key_id.map(Into::into),
            operation_id: e.operation_id,
            method: e.method,
            path: e.path,
            resource_type: e.resource_type,
            resource_id: e.resource_id,
            address: e.address,
            request_id: e.request_id,
            outcome: e.outcome,
            status: e.status,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    pub api_key_id: Option<uuid::Uuid>,
    pub user_id: Option<uuid::Uuid>,
    /// `technology`, `demand`, `deal`, `api_key`…
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    /// From this instant (inclusive), RFC 3339.
    pub from: Option<DateTime<Utc>>,
    /// Before this instant (exclusive), RFC 3339.
    pub to: Option<DateTime<Utc>>,
    /// Staff only (`/audit-events`): one organisation's entries.
    pub organization_id: Option<uuid::Uuid>,
    /// `json` (default, paged) or `csv` (every match, up to 100 000 rows); `Accept:
    /// text/csv` also selects CSV.
    #[param(inline)]
    pub format: Option<ReportFormat>,
    pub page: Option<u32>,
    pub per_page: Option<u32>,
}

const CSV_HEADER: [&str; 15] = [
    "id",
    "occurred_at",
    "organization_id",
    "actor_type",
    "user_id",
    "api_key_id",
    "operation_id",
    "method",
    "path",
    "resource_type",
    "resource_id",
    "address",
    "request_id",
    "outcome",
    "status",
];

fn csv_of(entries: Vec<Entry>) -> Result<Vec<u8>, ApiError> {
    let text = |v: Option<String>| v.unwrap_or_default();
    fn id(v: Option<impl std::fmt::Display>) -> String {
        v.map(|i| i.to_string()).unwrap_or_default()
    }
    let mut csv = Csv::new(&CSV_HEADER, true)?;
    for e in entries {
        csv.row([
            e.id.to_string(),
            utc(e.occurred_at).to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            id(e.organization_id),
            e.actor_type,
            id(e.user_id),
            id(e.api_key_id),
            e.operation_id,
            e.method,
            e.path,
            e.resource_type,
            text(e.resource_id),
            text(e.address),
            text(e.request_id),
            e.outcome,
            e.status.map(|s| s.to_string()).unwrap_or_default(),
        ])?;
    }
    csv.finish()
}

async fn answer(
    req: &HttpRequest,
    state: &AppState,
    query: AuditQuery,
    organization: Option<OrganizationId>,
    authorise: impl FnOnce(&mut crate::db::DbConn) -> Result<(), ApiError> + Send + 'static,
) -> Result<HttpResponse, ApiError> {
    let page = PageParams { page: query.page, per_page: query.per_page }.resolve()?;
    let format = report_format(req, query.format);
    let filter = Filter {
        organization_id: organization.or(query.organization_id.map(OrganizationId::from)),
        api_key_id: query.api_key_id.map(ApiKeyId::from),
        user_id: query.user_id.map(UserId::from),
        resource_type: query.resource_type,
        resource_id: query.resource_id,
        from: query.from.map(|t| t.naive_utc()),
        to: query.to.map(|t| t.naive_utc()),
    };
    let (offset, limit) = match format {
        ReportFormat::Json => (page.offset(), page.limit()),
        ReportFormat::Csv => (0, MAX_EXPORT_ROWS),
    };
    let (entries, total) = state
        .db
        .run(move |conn| {
            authorise(conn)?;
            store::list(conn, &filter, offset, Some(limit)).map_err(ApiError::from)
        })
        .await?;
    Ok(match format {
        ReportFormat::Csv => csv_response(csv_of(entries)?, "audit-events.csv"),
        ReportFormat::Json => HttpResponse::Ok().json(Page::new(
            entries.into_iter().map(AuditEventDto::from).collect(),
            page,
            total,
        )),
    })
}

/// An organisation's audit log, newest first: every write made for it with a session or an
/// API key, and writes refused or failed (owners; a key needs `reports:read`). Filters by
/// key, user, resource and time; paged JSON, or CSV with `?format=csv`.
#[utoipa::path(
    tag = "api-keys",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The organisation"), AuditQuery),
    responses(
        (status = 200, description = "The entries", content(
            (Page<AuditEventDto> = "application/json"),
            (String = "text/csv", example = "\u{feff}id,occurred_at,organization_id,…\n")
        )),
        (status = 403, description = "Not an owner of the organisation"),
        (status = 404, description = "No such organisation"),
    )
)]
#[get("/organizations/{id}/audit-events")]
pub async fn list_audit_events(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<uuid::Uuid>,
    query: Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let org: OrganizationId = path.0.into();
    let actor = auth.0;
    answer(&req, &state, query.0, Some(org), move |conn| {
        organizations::get(conn, org)?;
        if actor.is_staff() {
            return Ok(());
        }
        policy::organization(&actor, org, OrgAction::ManageApiKeys)
    })
    .await
}

/// The whole audit log, newest first (exchange staff). Filters as for an organisation's,
/// plus `organization_id`.
#[utoipa::path(
    tag = "admin",
    security(("bearer" = [])),
    params(AuditQuery),
    responses(
        (status = 200, description = "The entries", content(
            (Page<AuditEventDto> = "application/json"),
            (String = "text/csv", example = "\u{feff}id,occurred_at,organization_id,…\n")
        )),
        (status = 403, description = "Not exchange staff"),
    )
)]
#[get("/audit-events")]
pub async fn list_all_audit_events(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    query: Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let actor = auth.0;
    if !actor.is_staff() {
        return Err(ApiError::forbidden("Only exchange staff read the whole audit log."));
    }
    answer(&req, &state, query.0, None, |_| Ok(())).await
}

/// The audit routes, in the order the OpenAPI document lists them.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_audit_events).service(list_all_audit_events);
}

#[cfg(test)]
mod tests {
    use super::path_param;

    #[test]
    fn path_params_are_read_by_position() {
        let pattern = "/api/v1/organizations/{id}/webhooks/{webhook_id}";
        let path = "/api/v1/organizations/o1/webhooks/w2";
        assert_eq!(path_param(pattern, path, "id").as_deref(), Some("o1"));
        assert_eq!(path_param(pattern, path, "webhook_id").as_deref(), Some("w2"));
        assert_eq!(path_param(pattern, path, "key_id"), None);
    }
}
