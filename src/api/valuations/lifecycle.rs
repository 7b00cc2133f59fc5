//! A valuation request's lifecycle: assigned to or claimed by an appraiser organisation,
//! started, completed with a value, declined or cancelled.

use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{MAX_TEXT, ValuationRequestDto, caller_is_appraiser, detail, parties, with_etag};
use crate::api::cache::IF_MATCH_DOC;
use crate::api::common::{if_match, precondition_failed};
use crate::api::extract::{Json, Path};
use crate::api::validate::Validator;
use crate::auth::Actor;
use crate::auth::extract::Auth;
use crate::auth::policy::{self, ValuationAction};
use crate::db::types::{OrganizationId, ValuationRequestId};
use crate::db::{DbConn, dialect};
use crate::domain::listing;
use crate::domain::valuation_request::{Action, Method, Status};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::valuations::{self as store, Change, Outcome, Valuation};

/// Loads the request in a write transaction and checks, in order: visibility (404), the
/// caller's right to act (403), `If-Match` (428/412), that a completed request is not
/// touched (409 `valuation_completed`) and that `step` applies (409 `invalid_transition`);
/// then `apply` makes the change to the returned status.
async fn change(
    state: &AppState,
    req: &HttpRequest,
    actor: Actor,
    id: ValuationRequestId,
    action: ValuationAction,
    step: Action,
    apply: impl FnOnce(&mut DbConn, &Actor, &Valuation, Status) -> Result<Valuation, ApiError>
    + Send
    + 'static,
) -> Result<ValuationRequestDto, ApiError> {
    // Judged after visibility: a caller who may not see the request gets 404, not 428.
    let expected = if_match(req);
    state
        .db
        .run(move |conn| {
            dialect::write_transaction(conn, |conn| {
                let v = store::get(conn, id)?;
                let appraiser = caller_is_appraiser(conn, Some(&actor))?;
                policy::valuation(Some(&actor), parties(&v), appraiser, action)?;
                if expected? != v.row.version {
                    return Err(precondition_failed());
                }
                if v.status == Status::Completed {
                    return Err(ApiError::conflict(
                        "valuation_completed",
                        "A completed valuation cannot change; request a new valuation instead.",
                    ));
                }
                let to = v.status.next(step).ok_or_else(|| {
                    ApiError::conflict(
                        "invalid_transition",
                        format!(
                            "A valuation request that is {} cannot be {}.",
                            v.status.as_str(),
                            step.verb()
                        ),
                    )
                })?;
                let updated = apply(conn, &actor, &v, to)?;
                detail(conn, updated)
            })
        })
        .await
}

/// The appraiser must be an intermediary offering valuation (400 naming `field`), and
/// independent (409 `appraiser_not_independent`): it is neither the requester's
/// organisation nor the listing owner's, and shares no member with either, so nobody values
/// their own technology through an appraiser organisation of their own.
fn check_appraiser(
    conn: &mut DbConn,
    v: &Valuation,
    org: OrganizationId,
    field: &str,
) -> Result<(), ApiError> {
    if store::appraisers_among(conn, &[org])?.is_empty() {
        return Err(ApiError::invalid(
            field,
            "is not an intermediary organisation offering valuation",
        ));
    }
    let interested = [v.row.requester_organization_id, v.listing_owner];
    if interested.contains(&org) || store::shares_member(conn, org, &interested)? {
        return Err(ApiError::conflict(
            "appraiser_not_independent",
            "The appraiser must be independent: not the requester's organisation nor the \
             listing owner's, and sharing no member with either.",
        ));
    }
    Ok(())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    /// An organisation of kind `intermediary` offering `valuation`.
    pub appraiser_organization_id: uuid::Uuid,
}

/// Name the appraiser organisation of a submitted request (moderators). Needs `If-Match`.
/// The appraiser must be independent: not the requester's organisation nor the listing
/// owner's, and sharing no member with either (409 `appraiser_not_independent`).
#[utoipa::path(
    tag = "valuations",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), ("If-Match" = String, Header, description = IF_MATCH_DOC)),
    request_body = AssignRequest,
    responses(
        (status = 200, description = "Now `assigned`", body = ValuationRequestDto, headers(("ETag" = String))),
        (status = 400, description = "Not an intermediary organisation offering valuation (`validation_failed`)"),
        (status = 401, description = "Not signed in"),
        (status = 403, description = "Staff only"),
        (status = 404, description = "No such valuation request, or not visible to the caller"),
        (status = 409, description = "Not independent of the requester and the listing owner (`appraiser_not_independent`); not `submitted` (`invalid_transition`), or completed (`valuation_completed`)"),
    )
)]
#[post("/valuation-requests/{id}/assign")]
pub async fn assign_valuation_request(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<uuid::Uuid>,
    body: Json<AssignRequest>,
) -> Result<HttpResponse, ApiError> {
    let appraiser: OrganizationId = body.0.appraiser_organization_id.into();
    let body = change(
        &state,
        &req,
        auth.0,
        path.0.into(),
        ValuationAction::Assign,
        Action::Assign,
        move |conn, actor, v, to| {
            check_appraiser(conn, v, appraiser, "appraiser_organization_id")?;
            store::transition(conn, v, to, actor.user_id, None, Change::Appraiser(appraiser))
                .map_err(ApiError::from)
        },
    )
    .await?;
    Ok(with_etag(HttpResponse::Ok(), &body))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimRequest {
    /// The appraiser organisation the caller acts for (an intermediary offering
    /// `valuation`).
    pub organization_id: uuid::Uuid,
}

/// Claim a submitted request for an appraiser organisation you belong to. Needs `If-Match`.
/// The appraiser must be independent: not the requester's organisation nor the listing
/// owner's, and sharing no member with either (409 `appraiser_not_independent`).
#[utoipa::path(
    tag = "valuations",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), ("If-Match" = String, Header, description = IF_MATCH_DOC)),
    request_body = ClaimRequest,
    responses(
        (status = 200, description = "Now `assigned` to that organisation", body = ValuationRequestDto, headers(("ETag" = String))),
        (status = 400, description = "Not an intermediary organisation offering valuation (`validation_failed`)"),
        (status = 401, description = "Not signed in"),
        (status = 403, description = "Not a member of an appraiser organisation, or not of the one named"),
        (status = 404, description = "No such valuation request, or not visible to the caller"),
        (status = 409, description = "Not independent of the requester and the listing owner (`appraiser_not_independent`); no longer `submitted` (`invalid_transition`), or completed (`valuation_completed`)"),
    )
)]
#[post("/valuation-requests/{id}/claim")]
pub async fn claim_valuation_request(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<uuid::Uuid>,
    body: Json<ClaimRequest>,
) -> Result<HttpResponse, ApiError> {
    let org: OrganizationId = body.0.organization_id.into();
    let body = change(
        &state,
        &req,
        auth.0,
        path.0.into(),
        ValuationAction::Claim,
        Action::Claim,
        move |conn, actor, v, to| {
            policy::organization(actor, org, policy::OrgAction::ActFor)?;
            check_appraiser(conn, v, org, "organization_id")?;
            store::transition(conn, v, to, actor.user_id, None, Change::Appraiser(org))
                .map_err(ApiError::from)
        },
    )
    .await?;
    Ok(with_etag(HttpResponse::Ok(), &body))
}

/// Start work on an assigned request (the assigned appraiser). Needs `If-Match`.
#[utoipa::path(
    tag = "valuations",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), ("If-Match" = String, Header, description = IF_MATCH_DOC)),
    responses(
        (status = 200, description = "Now `in_progress`", body = ValuationRequestDto, headers(("ETag" = String))),
        (status = 401, description = "Not signed in"),
        (status = 403, description = "Not the assigned appraiser"),
        (status = 404, description = "No such valuation request, or not visible to the caller"),
        (status = 409, description = "Not `assigned` (`invalid_transition`), or completed (`valuation_completed`)"),
    )
)]
#[post("/valuation-requests/{id}/start")]
pub async fn start_valuation_request(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let body = change(
        &state,
        &req,
        auth.0,
        path.0.into(),
        ValuationAction::Work,
        Action::Start,
        |conn, actor, v, to| {
            store::transition(conn, v, to, actor.user_id, None, Change::None)
                .map_err(ApiError::from)
        },
    )
    .await?;
    Ok(with_etag(HttpResponse::Ok(), &body))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteRequest {
    /// The value, minor units of `currency`; give it, a range, or both.
    #[schema(minimum = 0, example = 1_500_000_000)]
    pub value_point: Option<i64>,
    #[schema(minimum = 0)]
    pub value_low: Option<i64>,
    #[schema(minimum = 0)]
    pub value_high: Option<i64>,
    #[schema(example = "VND")]
    pub currency: String,
    /// The approaches used, at least one.
    pub methods: Vec<Method>,
    /// Key assumptions, at most 5 000 characters.
    pub assumptions: String,
    /// At most 5 000 characters.
    pub report_summary: String,
    /// Where the full report can be read.
    pub report_url: Option<String>,
}

fn validate_outcome(b: CompleteRequest) -> Result<Outcome, ApiError> {
    let mut v = Validator::new();
    let range = match (b.value_low, b.value_high) {
        (Some(low), Some(high)) => Some((low, high)),
        (None, None) => None,
        _ => {
            v.error("value_low", "give both ends of a range, or neither");
            None
        }
    };
    v.check(
        b.value_point.is_some() || range.is_some(),
        "value_point",
        "give a value, a range, or both",
    );
    for (field, value) in
        [("value_point", b.value_point), ("value_low", b.value_low), ("value_high", b.value_high)]
    {
        v.check(value.is_none_or(|x| x >= 0), field, "must not be negative");
    }
    if let Some((low, high)) = range {
        v.check(low <= high, "value_low", "must not exceed value_high");
        if let Some(point) = b.value_point {
            v.check((low..=high).contains(&point), "value_point", "must lie within the range");
        }
    }
    v.check(listing::is_currency(&b.currency), "currency", "is not a known ISO 4217 code");
    v.check(!b.methods.is_empty() && b.methods.len() <= 4, "methods", "one to four methods");
    v.text("assumptions", &b.assumptions, MAX_TEXT);
    v.text("report_summary", &b.report_summary, MAX_TEXT);
    if let Some(url) = b.report_url.as_deref() {
        v.url("report_url", url);
    }
    v.finish()?;
    let mut methods: Vec<String> = b.methods.iter().map(|m| m.as_str().to_owned()).collect();
    methods.dedup();
    Ok(Outcome {
        value_point: b.value_point,
        value_low: b.value_low,
        value_high: b.value_high,
        currency: b.currency,
        methods,
        assumptions: b.assumptions.trim().to_owned(),
        report_summary: b.report_summary.trim().to_owned(),
        report_url: b.report_url,
    })
}

/// Record the result (the assigned appraiser): value and/or range, currency, methods,
/// assumptions, summary, optional report link. Final: the request never changes again.
/// Needs `If-Match`.
#[utoipa::path(
    tag = "valuations",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), ("If-Match" = String, Header, description = IF_MATCH_DOC)),
    request_body = CompleteRequest,
    responses(
        (status = 200, description = "Now `completed`", body = ValuationRequestDto, headers(("ETag" = String))),
        (status = 400, description = "Invalid result (`validation_failed`)"),
        (status = 401, description = "Not signed in"),
        (status = 403, description = "Not the assigned appraiser"),
        (status = 404, description = "No such valuation request, or not visible to the caller"),
        (status = 409, description = "Not `in_progress` (`invalid_transition`), or already completed (`valuation_completed`)"),
    )
)]
#[post("/valuation-requests/{id}/complete")]
pub async fn complete_valuation_request(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<uuid::Uuid>,
    body: Json<CompleteRequest>,
) -> Result<HttpResponse, ApiError> {
    let outcome = validate_outcome(body.0)?;
    let body = change(
        &state,
        &req,
        auth.0,
        path.0.into(),
        ValuationAction::Work,
        Action::Complete,
        move |conn, actor, v, to| {
            store::transition(conn, v, to, actor.user_id, None, Change::Complete(outcome))
                .map_err(ApiError::from)
        },
    )
    .await?;
    Ok(with_etag(HttpResponse::Ok(), &body))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonRequest {
    /// Why; at most 2 000 characters; mailed to the requester. Required to decline.
    #[schema(example = "Không đủ dữ liệu doanh thu để định giá.")]
    pub reason: Option<String>,
}

fn reason(body: ReasonRequest, required: bool) -> Result<Option<String>, ApiError> {
    let reason = body.reason.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
    let mut v = Validator::new();
    match reason.as_deref() {
        Some(r) => v.text("reason", r, 2_000),
        None if required => v.error("reason", "is required"),
        None => {}
    }
    v.finish()?;
    Ok(reason)
}

/// Decline an assigned or started request (the assigned appraiser), with a reason. Needs
/// `If-Match`.
#[utoipa::path(
    tag = "valuations",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), ("If-Match" = String, Header, description = IF_MATCH_DOC)),
    request_body = ReasonRequest,
    responses(
        (status = 200, description = "Now `declined`", body = ValuationRequestDto, headers(("ETag" = String))),
        (status = 400, description = "Reason missing (`validation_failed`)"),
        (status = 401, description = "Not signed in"),
        (status = 403, description = "Not the assigned appraiser"),
        (status = 404, description = "No such valuation request, or not visible to the caller"),
        (status = 409, description = "Not `assigned` or `in_progress` (`invalid_transition`), or completed (`valuation_completed`)"),
    )
)]
#[post("/valuation-requests/{id}/decline")]
pub async fn decline_valuation_request(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<uuid::Uuid>,
    body: Json<ReasonRequest>,
) -> Result<HttpResponse, ApiError> {
    let note = reason(body.0, true)?;
    let body = change(
        &state,
        &req,
        auth.0,
        path.0.into(),
        ValuationAction::Work,
        Action::Decline,
        move |conn, actor, v, to| {
            store::transition(conn, v, to, actor.user_id, note.as_deref(), Change::None)
                .map_err(ApiError::from)
        },
    )
    .await?;
    Ok(with_etag(HttpResponse::Ok(), &body))
}

/// Withdraw a request that is not final (the requesting organisation). Needs `If-Match`.
#[utoipa::path(
    tag = "valuations",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), ("If-Match" = String, Header, description = IF_MATCH_DOC)),
    request_body = ReasonRequest,
    responses(
        (status = 200, description = "Now `cancelled`", body = ValuationRequestDto, headers(("ETag" = String))),
        (status = 400, description = "Invalid reason (`validation_failed`)"),
        (status = 401, description = "Not signed in"),
        (status = 403, description = "Not a member of the requesting organisation"),
        (status = 404, description = "No such valuation request, or not visible to the caller"),
        (status = 409, description = "Already final (`invalid_transition`), or completed (`valuation_completed`)"),
    )
)]
#[post("/valuation-requests/{id}/cancel")]
pub async fn cancel_valuation_request(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<uuid::Uuid>,
    body: Json<ReasonRequest>,
) -> Result<HttpResponse, ApiError> {
    let note = reason(body.0, false)?;
    let body = change(
        &state,
        &req,
        auth.0,
        path.0.into(),
        ValuationAction::Cancel,
        Action::Cancel,
        move |conn, actor, v, to| {
            store::transition(conn, v, to, actor.user_id, note.as_deref(), Change::None)
                .map_err(ApiError::from)
        },
    )
    .await?;
    Ok(with_etag(HttpResponse::Ok(), &body))
}
