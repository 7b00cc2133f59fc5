//! Valuation requests (yêu cầu định giá): requested by a listing's owner or a deal's
//! party, assigned to or claimed by an appraiser organisation, completed with a value; and
//! the stateless indicative calculator (cost, income and market approaches).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::common::{
    Page, PageParams, etag, idempotency_key, if_match, precondition_failed, request_fingerprint,
};
use crate::api::extract::{Json, LangParam, Path, Query, RequestLang};
use crate::api::validate::Validator;
use crate::auth::Actor;
use crate::auth::extract::Auth;
use crate::auth::policy::{self, ListingAction, ValuationAction, ValuationParties};
use crate::db::types::{Id, now, utc};
use crate::db::{DbConn, dialect};
use crate::domain::lang::Lang;
use crate::domain::listing;
use crate::domain::taxonomy;
use crate::domain::valuation::{
    self, Estimate, MIN_COMPARABLES, Obsolescence, Step, ValuationError,
};
use crate::domain::valuation_request::{Action, Method, Purpose, RightsKind, Status};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::valuations::{self as store, Change, Comparable, Outcome, Scope, Valuation};
use crate::store::{idempotency, technologies};

const MAX_TEXT: usize = 5_000;
const MAX_SHORT: usize = 200;

/// The rights being valued (Law on Technology Transfer): ownership, or usage with its scope.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rights {
    pub kind: RightsKind,
    /// Usage rights: exclusive licence or not.
    pub exclusive: Option<bool>,
    /// At most 200 characters.
    #[schema(example = "Việt Nam")]
    pub territory: Option<String>,
    /// Usage rights: the licence term.
    #[schema(minimum = 1, maximum = 1200, example = 60)]
    pub term_months: Option<i32>,
}

/// A yearly amount in minor units.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct YearAmount {
    #[schema(example = 2022)]
    pub year: i32,
    #[schema(minimum = 0, example = 1_200_000_000)]
    pub amount: i64,
}

/// A transaction the requester knows of.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KnownComparable {
    /// At most 500 characters.
    pub description: String,
    #[schema(minimum = 0)]
    pub price: Option<i64>,
}

/// What the requester already has; amounts in `currency`'s minor unit.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ValuationInputs {
    /// ISO 4217 code of the amounts below; required when any amount is given.
    #[schema(example = "VND")]
    pub currency: Option<String>,
    /// R&D cost by year (at most 50 years).
    pub rd_costs: Vec<YearAmount>,
    /// State budget spent on a funded task.
    #[schema(minimum = 0)]
    pub budget_spent: Option<i64>,
    /// Revenue forecast per year from next year (at most 50).
    pub revenue_forecasts: Vec<i64>,
    /// At most 20.
    pub comparables_known: Vec<KnownComparable>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateValuationRequest {
    /// The requesting organisation; the caller must be a member. It must own the listing,
    /// or be a party or broker of `deal_id`.
    pub organization_id: uuid::Uuid,
    pub technology_id: uuid::Uuid,
    /// A deal over this technology that the requesting organisation is a party or broker of.
    pub deal_id: Option<uuid::Uuid>,
    pub purpose: Purpose,
    pub rights: Rights,
    /// The date the value is sought at.
    #[schema(example = "2026-12-31")]
    pub valuation_date: NaiveDate,
    pub preferred_method: Method,
    #[serde(default)]
    pub inputs: ValuationInputs,
    /// When the requester needs the result; not in the past.
    pub deadline: Option<NaiveDate>,
}

/// The technology a request is about.
#[derive(Debug, Serialize, ToSchema)]
pub struct ValuedTechnology {
    pub id: uuid::Uuid,
    pub title: String,
    /// Its owning organisation.
    pub organization_id: uuid::Uuid,
}

/// The appraiser's result, once completed.
#[derive(Debug, Serialize, ToSchema)]
pub struct ValuationResultDto {
    /// Minor units of `currency`.
    #[schema(minimum = 0)]
    pub value_point: Option<i64>,
    #[schema(minimum = 0)]
    pub value_low: Option<i64>,
    #[schema(minimum = 0)]
    pub value_high: Option<i64>,
    pub currency: String,
    pub methods: Vec<Method>,
    pub assumptions: Option<String>,
    pub report_summary: Option<String>,
    pub report_url: Option<String>,
    pub completed_at: DateTime<Utc>,
}

/// One status change.
#[derive(Debug, Serialize, ToSchema)]
pub struct ValuationEventDto {
    pub from_status: Option<Status>,
    pub to_status: Status,
    pub actor_user_id: uuid::Uuid,
    pub note: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ValuationRequestDto {
    pub id: uuid::Uuid,
    pub technology: ValuedTechnology,
    pub requester_organization_id: uuid::Uuid,
    pub requested_by: uuid::Uuid,
    pub deal_id: Option<uuid::Uuid>,
    pub purpose: Purpose,
    pub rights: Rights,
    pub valuation_date: String,
    pub preferred_method: Method,
    pub inputs: ValuationInputs,
    pub deadline: Option<String>,
    pub status: Status,
    pub appraiser_organization_id: Option<uuid::Uuid>,
    /// Present once `completed`.
    pub result: Option<ValuationResultDto>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Send as `If-Match` (the `ETag`) for a state change.
    pub version: i32,
    /// Status changes, oldest first (single request reads only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<ValuationEventDto>>,
}

fn dto(v: Valuation, history: Option<Vec<store::Event>>) -> Result<ValuationRequestDto, ApiError> {
    let r = v.row;
    let bad = ApiError::internal;
    // Stored values passed the CHECK constraints; failing to read them back is a bug.
    let result = match (r.completed_at, r.currency.clone()) {
        (Some(completed_at), Some(currency)) => Some(ValuationResultDto {
            value_point: r.value_point,
            value_low: r.value_low,
            value_high: r.value_high,
            currency,
            methods: serde_json::from_str(&r.methods).map_err(ApiError::internal_from)?,
            assumptions: r.assumptions,
            report_summary: r.report_summary,
            report_url: r.report_url,
            completed_at: utc(completed_at),
        }),
        _ => None,
    };
    let history = history.map(|events| {
        events
            .into_iter()
            .filter_map(|e| {
                Some(ValuationEventDto {
                    from_status: e.from_status.as_deref().and_then(Status::parse),
                    to_status: Status::parse(&e.to_status)?,
                    actor_user_id: e.actor_user_id.into(),
                    note: e.note,
                    at: utc(e.created_at),
                })
            })
            .collect()
    });
    Ok(ValuationRequestDto {
        id: r.id.into(),
        technology: ValuedTechnology {
            id: r.technology_id.into(),
            title: v.title,
            organization_id: v.listing_owner.into(),
        },
        requester_organization_id: r.requester_organization_id.into(),
        requested_by: r.requested_by.into(),
        deal_id: r.deal_id.map(Into::into),
        purpose: Purpose::parse(&r.purpose).ok_or_else(bad)?,
        rights: Rights {
            kind: RightsKind::parse(&r.rights_kind).ok_or_else(bad)?,
            exclusive: r.rights_exclusive,
            territory: r.rights_territory,
            term_months: r.rights_term_months,
        },
        valuation_date: r.valuation_date,
        preferred_method: Method::parse(&r.preferred_method).ok_or_else(bad)?,
        inputs: serde_json::from_str(&r.inputs).map_err(ApiError::internal_from)?,
        deadline: r.deadline,
        status: v.status,
        appraiser_organization_id: r.appraiser_organization_id.map(Into::into),
        result,
        created_at: utc(r.created_at),
        updated_at: utc(r.updated_at),
        version: r.version,
        history,
    })
}

fn detail(conn: &mut DbConn, v: Valuation) -> Result<ValuationRequestDto, ApiError> {
    let history = store::events(conn, v.row.id)?;
    dto(v, Some(history))
}

fn with_etag(
    mut response: actix_web::HttpResponseBuilder,
    body: &ValuationRequestDto,
) -> HttpResponse {
    response.insert_header((header::ETAG, etag(body.version))).json(body)
}

fn parties(v: &Valuation) -> ValuationParties {
    ValuationParties {
        requester: v.row.requester_organization_id,
        listing_owner: v.listing_owner,
        appraiser: v.row.appraiser_organization_id,
        open: v.status == Status::Submitted,
    }
}

/// Whether the caller belongs to an appraiser organisation.
fn caller_is_appraiser(conn: &mut DbConn, actor: Option<&Actor>) -> Result<bool, ApiError> {
    let Some(actor) = actor else { return Ok(false) };
    let orgs: Vec<Id> = actor.memberships.iter().map(|(org, _)| *org).collect();
    Ok(!store::appraisers_among(conn, &orgs)?.is_empty())
}

fn validate_create(b: &CreateValuationRequest) -> Result<(), ApiError> {
    let mut v = Validator::new();
    let today = now().date();
    v.optional_text("rights.territory", b.rights.territory.as_deref(), MAX_SHORT);
    if let Some(term) = b.rights.term_months {
        v.check((1..=1200).contains(&term), "rights.term_months", "must be between 1 and 1200");
    }
    if b.rights.kind == RightsKind::Ownership {
        v.check(
            b.rights.exclusive.is_none() && b.rights.term_months.is_none(),
            "rights",
            "exclusivity and term apply to usage rights only",
        );
    }
    v.check(b.deadline.is_none_or(|d| d >= today), "deadline", "must not be in the past");
    v.check(
        (1900..=2200).contains(&b.valuation_date.year()),
        "valuation_date",
        "must be a plausible date",
    );
    let i = &b.inputs;
    let has_amounts = !i.rd_costs.is_empty()
        || i.budget_spent.is_some()
        || !i.revenue_forecasts.is_empty()
        || i.comparables_known.iter().any(|c| c.price.is_some());
    match i.currency.as_deref() {
        Some(c) => {
            v.check(listing::is_currency(c), "inputs.currency", "is not a known ISO 4217 code")
        }
        None => v.check(!has_amounts, "inputs.currency", "is required with amounts"),
    }
    v.check(i.rd_costs.len() <= 50, "inputs.rd_costs", "at most 50 years");
    v.check(
        i.rd_costs.iter().all(|c| c.amount >= 0 && (1900..=2200).contains(&c.year)),
        "inputs.rd_costs",
        "amounts must not be negative and years plausible",
    );
    v.check(i.budget_spent.is_none_or(|b| b >= 0), "inputs.budget_spent", "must not be negative");
    v.check(
        i.revenue_forecasts.len() <= 50 && i.revenue_forecasts.iter().all(|r| *r >= 0),
        "inputs.revenue_forecasts",
        "at most 50 years, none negative",
    );
    v.check(i.comparables_known.len() <= 20, "inputs.comparables_known", "at most 20");
    for (n, c) in i.comparables_known.iter().enumerate() {
        v.text(&format!("inputs.comparables_known[{n}].description"), &c.description, 500);
        v.check(
            c.price.is_none_or(|p| p >= 0),
            &format!("inputs.comparables_known[{n}].price"),
            "must not be negative",
        );
    }
    v.finish()
}

/// Ask for a valuation of a technology: by a member of the listing's owner, or of a party or
/// broker of a linked deal over it. Mails the requester's owners and emits
/// `valuation.status_changed`. Honours `Idempotency-Key`.
#[utoipa::path(
    tag = "valuations",
    security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry-safe creation: the same key and body return the first response")),
    request_body = CreateValuationRequest,
    responses(
        (status = 201, description = "Submitted", body = ValuationRequestDto,
         headers(("ETag" = String), ("Location" = String))),
        (status = 400, description = "Invalid body or field (`validation_failed`)"),
        (status = 401, description = "Not signed in"),
        (status = 403, description = "Not a member of the organisation, or it neither owns the listing nor is a party of the deal"),
        (status = 404, description = "No such technology or deal visible to the caller"),
        (status = 422, description = "The Idempotency-Key was used with another body (`idempotency_key_reused`)"),
    )
)]
#[post("/valuation-requests")]
pub async fn create_valuation_request(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    body: Json<CreateValuationRequest>,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency_key(&req)?;
    let body = body.0;
    let actor = auth.0;
    validate_create(&body)?;
    let fingerprint = request_fingerprint(&body);
    let inputs = serde_json::to_string(&body.inputs).map_err(ApiError::internal_from)?;
    let created = state
        .db
        .run(move |conn| {
            idempotency::create_once(conn, actor.user_id, key.as_deref(), &fingerprint, |conn| {
                let requester: Id = body.organization_id.into();
                let technology: Id = body.technology_id.into();
                let listing = technologies::get(conn, technology)?;
                let deal = match body.deal_id {
                    Some(deal) => {
                        let found = store::deal_parties(conn, deal.into())?;
                        // Deals are private to their parties: a stranger learns nothing.
                        let (deal_technology, parties) = found
                            .filter(|(_, p)| p.contains(&Some(requester)))
                            .filter(|_| actor.org_role(requester).is_some())
                            .ok_or_else(|| ApiError::not_found("No such deal."))?;
                        if deal_technology != technology {
                            return Err(ApiError::invalid(
                                "deal_id",
                                "is a deal over another technology",
                            ));
                        }
                        Some(parties)
                    }
                    None => None,
                };
                if deal.is_none() {
                    policy::listing(
                        Some(&actor),
                        listing.organization_id,
                        listing.status.is_public(),
                        ListingAction::View,
                    )?;
                }
                policy::request_valuation(&actor, requester, listing.organization_id, deal)?;
                let created = store::create(
                    conn,
                    &store::NewRequest {
                        technology_id: technology,
                        requester_organization_id: requester,
                        requested_by: actor.user_id,
                        deal_id: body.deal_id.map(Id::from),
                        purpose: body.purpose.as_str(),
                        rights_kind: body.rights.kind.as_str(),
                        rights_exclusive: body.rights.exclusive,
                        rights_territory: body.rights.territory.clone(),
                        rights_term_months: body.rights.term_months,
                        valuation_date: body.valuation_date.to_string(),
                        preferred_method: body.preferred_method.as_str(),
                        inputs: inputs.clone(),
                        deadline: body.deadline.map(|d| d.to_string()),
                    },
                )?;
                let dto = detail(conn, created)?;
                serde_json::to_value(dto).map_err(ApiError::internal_from)
            })
        })
        .await?;
    Ok(crate::api::common::created_response("/api/v1/valuation-requests", created))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ValuationListParams {
    #[param(inline)]
    pub status: Option<Status>,
}

async fn list_visible(
    state: &AppState,
    actor: Actor,
    technology: Option<Id>,
    status: Option<Status>,
    paging: PageParams,
) -> Result<HttpResponse, ApiError> {
    let page = paging.resolve()?;
    let (items, total) = state
        .db
        .run(move |conn| -> Result<_, ApiError> {
            if let Some(technology) = technology {
                // The history of a listing the caller cannot see does not exist for them.
                let listing = technologies::get(conn, technology)?;
                policy::listing(
                    Some(&actor),
                    listing.organization_id,
                    listing.status.is_public(),
                    ListingAction::View,
                )?;
            }
            let scope = Scope {
                all: actor.is_staff(),
                organizations: actor.memberships.iter().map(|(org, _)| *org).collect(),
                appraiser: caller_is_appraiser(conn, Some(&actor))?,
            };
            let (rows, total) =
                store::list(conn, &scope, technology, status, page.offset(), page.limit())?;
            let items = rows.into_iter().map(|v| dto(v, None)).collect::<Result<Vec<_>, _>>()?;
            Ok((items, total))
        })
        .await?;
    Ok(HttpResponse::Ok().json(Page::new(items, page, total)))
}

/// Valuation requests the caller may see, newest first: those of their organisations (as
/// requester, listing owner or appraiser), open ones for appraisers, all for staff.
#[utoipa::path(
    tag = "valuations",
    security(("bearer" = [])),
    params(ValuationListParams, PageParams),
    responses(
        (status = 200, body = Page<ValuationRequestDto>),
        (status = 400, description = "Invalid query parameter"),
        (status = 401, description = "Not signed in"),
    )
)]
#[get("/valuation-requests")]
pub async fn list_valuation_requests(
    state: web::Data<AppState>,
    auth: Auth,
    params: Query<ValuationListParams>,
    paging: Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    list_visible(&state, auth.0, None, params.0.status, paging.0).await
}

/// The valuation history of a technology: the requests about it the caller may see.
#[utoipa::path(
    tag = "valuations",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), ValuationListParams, PageParams),
    responses(
        (status = 200, body = Page<ValuationRequestDto>),
        (status = 400, description = "Invalid query parameter"),
        (status = 401, description = "Not signed in"),
        (status = 404, description = "No such technology visible to the caller"),
    )
)]
#[get("/technologies/{id}/valuations")]
pub async fn technology_valuations(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<uuid::Uuid>,
    params: Query<ValuationListParams>,
    paging: Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    list_visible(&state, auth.0, Some(path.0.into()), params.0.status, paging.0).await
}

/// A valuation request with its history: for the requester, the listing owner, the
/// assigned appraiser and staff (and appraisers while it is open); 404 for anyone else.
#[utoipa::path(
    tag = "valuations",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path)),
    responses(
        (status = 200, body = ValuationRequestDto, headers(("ETag" = String))),
        (status = 401, description = "Not signed in"),
        (status = 404, description = "No such valuation request, or not visible to the caller"),
    )
)]
#[get("/valuation-requests/{id}")]
pub async fn get_valuation_request(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id: Id = path.0.into();
    let actor = auth.0;
    let body = state
        .db
        .run(move |conn| {
            let v = store::get(conn, id)?;
            let appraiser = caller_is_appraiser(conn, Some(&actor))?;
            policy::valuation(Some(&actor), parties(&v), appraiser, ValuationAction::View)?;
            detail(conn, v)
        })
        .await?;
    Ok(with_etag(HttpResponse::Ok(), &body))
}

/// Loads the request in a write transaction and checks, in order: visibility (404), the
/// caller's right to act (403), `If-Match` (428/412), that a completed request is not
/// touched (409 `valuation_completed`) and that `step` applies (409 `invalid_transition`);
/// then `apply` makes the change to the returned status.
async fn change(
    state: &AppState,
    req: &HttpRequest,
    actor: Actor,
    id: Id,
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

const IF_MATCH_DOC: &str = "The ETag you last read";

/// The appraiser must be an intermediary offering valuation (400 naming `field`), and
/// independent (409 `appraiser_not_independent`): it is neither the requester's
/// organisation nor the listing owner's, and shares no member with either, so nobody values
/// their own technology through an appraiser organisation of their own.
fn check_appraiser(conn: &mut DbConn, v: &Valuation, org: Id, field: &str) -> Result<(), ApiError> {
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
        (status = 412, description = "Changed since you read it"),
        (status = 428, description = "`If-Match` missing"),
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
    let appraiser: Id = body.0.appraiser_organization_id.into();
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
        (status = 412, description = "Changed since you read it"),
        (status = 428, description = "`If-Match` missing"),
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
    let org: Id = body.0.organization_id.into();
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
        (status = 412, description = "Changed since you read it"),
        (status = 428, description = "`If-Match` missing"),
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
        (status = 412, description = "Changed since you read it"),
        (status = 428, description = "`If-Match` missing"),
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
        (status = 412, description = "Changed since you read it"),
        (status = 428, description = "`If-Match` missing"),
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
        (status = 412, description = "Changed since you read it"),
        (status = 428, description = "`If-Match` missing"),
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

// ---- Indicative calculator -------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RemainingLife {
    pub remaining_years: i64,
    pub total_years: i64,
}

/// Cost approach: R&D costs indexed to the valuation year, less obsolescence (give exactly
/// one of `obsolescence_bps` and `remaining_life`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CostInput {
    /// Historical costs by year, in minor units.
    pub costs: Vec<YearAmount>,
    /// Default: the current year.
    pub valuation_year: Option<i32>,
    /// Yearly inflation in basis points (500 = 5%).
    #[schema(example = 400)]
    pub inflation_rate_bps: i64,
    /// Share lost to obsolescence, basis points.
    pub obsolescence_bps: Option<i64>,
    pub remaining_life: Option<RemainingLife>,
}

/// Income approach, relief from royalty.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IncomeInput {
    /// Revenue forecast for each remaining year of useful life, from next year (1–50).
    pub revenues: Vec<i64>,
    #[schema(example = 500)]
    pub royalty_rate_bps: i64,
    #[schema(example = 2000)]
    pub tax_rate_bps: i64,
    #[schema(example = 1200)]
    pub discount_rate_bps: i64,
}

/// Market approach: completed deals on the exchange in `currency` with the same transfer
/// form, whose technology shares the sector and is within one TRL level.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarketInput {
    /// A FORD code; a field code ("4") also matches its sub-fields.
    #[schema(example = "2.7")]
    pub sector: String,
    #[schema(minimum = 1, maximum = 9, example = 6)]
    pub trl: u8,
    /// `ownership_assignment` or `usage_licence`.
    #[schema(example = "usage_licence")]
    pub transfer_form: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EstimateRequest {
    /// ISO 4217 code of every amount, in and out.
    #[schema(example = "VND")]
    pub currency: String,
    pub cost: Option<CostInput>,
    pub income: Option<IncomeInput>,
    pub market: Option<MarketInput>,
}

/// One approach's answer with its working.
#[derive(Debug, Serialize, ToSchema)]
pub struct MethodEstimate {
    /// Minor units.
    pub value: i64,
    pub steps: Vec<Step>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MarketEstimateDto {
    /// `false`: fewer than `minimum` comparables were found, and no value is given.
    pub enough: bool,
    /// Comparable deals found.
    pub count: usize,
    pub minimum: usize,
    /// The median final price.
    pub value: Option<i64>,
    /// Interquartile range.
    pub q1: Option<i64>,
    pub q3: Option<i64>,
    pub steps: Vec<Step>,
    /// In the caller's language.
    pub message: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ValueRange {
    #[schema(minimum = 0)]
    pub min: i64,
    #[schema(minimum = 0)]
    pub max: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EstimateResponse {
    pub currency: String,
    pub cost: Option<MethodEstimate>,
    pub income: Option<MethodEstimate>,
    pub market: Option<MarketEstimateDto>,
    /// Lowest and highest value across the approaches that gave one.
    pub range: Option<ValueRange>,
}

fn calc_error(prefix: &str, e: ValuationError) -> ApiError {
    match e {
        ValuationError::Invalid(field, message) => {
            ApiError::invalid(format!("{prefix}.{field}"), message)
        }
        ValuationError::Overflow => ApiError::invalid(prefix, "the amounts are too large"),
    }
}

fn estimate_of(e: Estimate) -> MethodEstimate {
    MethodEstimate { value: e.value, steps: e.steps }
}

fn market_dto(prices: &[i64], lang: Lang) -> MarketEstimateDto {
    let count = prices.len();
    match valuation::market_approach(prices) {
        Some(m) => MarketEstimateDto {
            enough: true,
            count,
            minimum: MIN_COMPARABLES,
            value: Some(m.median),
            q1: Some(m.q1),
            q3: Some(m.q3),
            steps: vec![
                Step {
                    description: lang
                        .pick("Tứ phân vị thứ nhất (Q1)", "First quartile (Q1)")
                        .to_owned(),
                    amount: m.q1,
                },
                Step {
                    description: lang
                        .pick("Trung vị giá giao dịch", "Median final price")
                        .to_owned(),
                    amount: m.median,
                },
                Step {
                    description: lang
                        .pick("Tứ phân vị thứ ba (Q3)", "Third quartile (Q3)")
                        .to_owned(),
                    amount: m.q3,
                },
            ],
            message: match lang {
                Lang::Vi => format!("Dựa trên {count} giao dịch so sánh đã hoàn tất."),
                Lang::En => format!("Based on {count} comparable completed deals."),
            },
        },
        None => MarketEstimateDto {
            enough: false,
            count,
            minimum: MIN_COMPARABLES,
            value: None,
            q1: None,
            q3: None,
            steps: Vec::new(),
            message: match lang {
                Lang::Vi => format!(
                    "Chưa đủ giao dịch so sánh: tìm thấy {count}, cần ít nhất {MIN_COMPARABLES}."
                ),
                Lang::En => format!(
                    "Not enough comparables: {count} found, at least {MIN_COMPARABLES} needed."
                ),
            },
        },
    }
}

/// An indicative value with every step shown, by any of the cost, income (relief from
/// royalty) and market approaches; with several, a range across them. Stateless; steps are
/// in the caller's language. Not an appraisal.
#[utoipa::path(
    tag = "valuations",
    security(("bearer" = [])),
    params(LangParam),
    request_body = EstimateRequest,
    responses(
        (status = 200, body = EstimateResponse),
        (status = 400, description = "Invalid input; the field names the approach (`validation_failed`)"),
        (status = 401, description = "Not signed in"),
    )
)]
#[post("/valuations/estimate")]
pub async fn estimate_valuation(
    state: web::Data<AppState>,
    _auth: Auth,
    lang: RequestLang,
    body: Json<EstimateRequest>,
) -> Result<HttpResponse, ApiError> {
    let lang = lang.0;
    let b = body.0;
    let mut v = Validator::new();
    v.check(listing::is_currency(&b.currency), "currency", "is not a known ISO 4217 code");
    v.check(
        b.cost.is_some() || b.income.is_some() || b.market.is_some(),
        "cost",
        "give at least one of cost, income and market",
    );
    if let Some(c) = &b.cost {
        v.check(
            c.obsolescence_bps.is_some() != c.remaining_life.is_some(),
            "cost.obsolescence_bps",
            "give exactly one of obsolescence_bps and remaining_life",
        );
    }
    if let Some(m) = &b.market {
        v.check(taxonomy::is_sector(&m.sector), "market.sector", "is not a known sector code");
        v.check((1..=9).contains(&m.trl), "market.trl", "must be between 1 and 9");
        v.check(
            matches!(m.transfer_form.as_str(), "ownership_assignment" | "usage_licence"),
            "market.transfer_form",
            "must be ownership_assignment or usage_licence",
        );
    }
    v.finish()?;
    let cost = match &b.cost {
        Some(c) => {
            let obsolescence = match (&c.remaining_life, c.obsolescence_bps) {
                (Some(life), _) => Obsolescence::RemainingLife {
                    remaining_years: life.remaining_years,
                    total_years: life.total_years,
                },
                (None, bps) => Obsolescence::Percent(bps.unwrap_or(0)),
            };
            let costs: Vec<(i32, i64)> = c.costs.iter().map(|y| (y.year, y.amount)).collect();
            let year = c.valuation_year.unwrap_or_else(|| now().date().year());
            Some(estimate_of(
                valuation::cost_approach(&costs, year, c.inflation_rate_bps, obsolescence, lang)
                    .map_err(|e| calc_error("cost", e))?,
            ))
        }
        None => None,
    };
    let income = match &b.income {
        Some(i) => Some(estimate_of(
            valuation::income_approach(
                &i.revenues,
                i.royalty_rate_bps,
                i.tax_rate_bps,
                i.discount_rate_bps,
                lang,
            )
            .map_err(|e| calc_error("income", e))?,
        )),
        None => None,
    };
    let market = match b.market {
        Some(m) => {
            let comparable = Comparable {
                sector: m.sector,
                trl: i32::from(m.trl),
                transfer_form: m.transfer_form,
                currency: b.currency.clone(),
            };
            let prices =
                state.db.run(move |conn| store::comparable_prices(conn, &comparable)).await?;
            Some(market_dto(&prices, lang))
        }
        None => None,
    };
    let values: Vec<i64> = [
        cost.as_ref().map(|c| c.value),
        income.as_ref().map(|i| i.value),
        market.as_ref().and_then(|m| m.value),
    ]
    .into_iter()
    .flatten()
    .collect();
    let range = match (values.iter().min(), values.iter().max()) {
        (Some(&min), Some(&max)) => Some(ValueRange { min, max }),
        _ => None,
    };
    Ok(HttpResponse::Ok().json(EstimateResponse {
        currency: b.currency,
        cost,
        income,
        market,
        range,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn market_answer_says_when_comparables_are_too_few() {
        let few = market_dto(&[100, 200], Lang::En);
        assert!(!few.enough);
        assert_eq!((few.count, few.minimum, few.value), (2, 3, None));
        assert!(few.message.contains("2 found"), "{}", few.message);
        let enough = market_dto(&[100, 300, 200], Lang::Vi);
        assert!(enough.enough);
        assert_eq!((enough.value, enough.q1, enough.q3), (Some(200), Some(150), Some(250)));
        assert_eq!(enough.steps.len(), 3);
    }
}
