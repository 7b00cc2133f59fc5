//! Valuation requests (yêu cầu định giá): requested by a listing's owner or a deal's party,
//! read by the parties and staff; their lifecycle (assign, claim, start, complete, decline,
//! cancel) is in `lifecycle`, the stateless indicative calculator in `estimate`.

mod estimate;
mod lifecycle;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::api::common::{Page, PageParams, etag, idempotency_key, request_fingerprint};
use crate::api::extract::{Json, Path, Query};
use crate::api::labels::{self as label, PartyDto, TitledDto};
use crate::api::validate::Validator;
use crate::auth::Actor;
use crate::auth::extract::Auth;
use crate::auth::policy::{self, ModeratedAction, ValuationAction, ValuationParties};
use crate::db::DbConn;
use crate::db::types::{DealId, OrganizationId, TechnologyId, ValuationRequestId, now, utc};
use crate::domain::listing;
use crate::domain::valuation_request::{Method, Purpose, RightsKind, Status};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::labels::Labels;
use crate::store::valuations::{self as store, Scope, Valuation};
use crate::store::{idempotency, json, technologies};

const MAX_TEXT: usize = 5_000;
const MAX_SHORT: usize = 200;

/// The rights being valued (Law on Technology Transfer): ownership, or usage with its scope
/// (exclusivity and term apply to usage only).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"kind": "usage", "exclusive": true, "territory": "Việt Nam", "term_months": 60}))]
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

/// A valuation request. Lists and single answers name the technology and the organisations
/// concerned, so a page of requests renders from one request.
#[derive(Debug, Serialize, ToSchema)]
pub struct ValuationRequestDto {
    pub id: uuid::Uuid,
    /// The technology valued.
    pub technology: TitledDto,
    /// The organisation owning the technology's listing.
    pub listing_owner: PartyDto,
    pub requester_organization_id: uuid::Uuid,
    /// The requesting organisation, named.
    pub requester: PartyDto,
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
    /// The assigned appraiser organisation, named.
    pub appraiser: Option<PartyDto>,
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

fn dto(
    v: Valuation,
    history: Option<Vec<store::Event>>,
    labels: &Labels,
) -> Result<ValuationRequestDto, ApiError> {
    let r = v.row;
    // Stored values passed the CHECK constraints; failing to read them back is a bug.
    let bad = ApiError::internal;
    let result = match (r.completed_at, r.currency.clone()) {
        (Some(completed_at), Some(currency)) => Some(ValuationResultDto {
            value_point: r.value_point,
            value_low: r.value_low,
            value_high: r.value_high,
            currency,
            methods: json::decode(&r.methods, "valuation_requests", "methods")?,
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
        technology: label::technology(labels, r.technology_id)?,
        listing_owner: label::party(labels, v.listing_owner)?,
        requester_organization_id: r.requester_organization_id.into(),
        requester: label::party(labels, r.requester_organization_id)?,
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
        inputs: json::decode(&r.inputs, "valuation_requests", "inputs")?,
        deadline: r.deadline,
        status: v.status,
        appraiser_organization_id: r.appraiser_organization_id.map(Into::into),
        appraiser: r.appraiser_organization_id.map(|a| label::party(labels, a)).transpose()?,
        result,
        created_at: utc(r.created_at),
        updated_at: utc(r.updated_at),
        version: r.version,
        history,
    })
}

fn detail(conn: &mut DbConn, v: Valuation) -> Result<ValuationRequestDto, ApiError> {
    let history = store::events(conn, v.row.id)?;
    let labels = store::labels(conn, std::slice::from_ref(&v))?;
    dto(v, Some(history), &labels)
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
    let orgs: Vec<OrganizationId> = actor.memberships.iter().map(|(org, _)| *org).collect();
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
        .run(move |conn| -> Result<_, ApiError> {
            idempotency::create_once(
                conn,
                actor.user_id,
                key.as_deref(),
                &fingerprint,
                |conn| -> Result<_, ApiError> {
                    let requester: OrganizationId = body.organization_id.into();
                    let technology: TechnologyId = body.technology_id.into();
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
                            ModeratedAction::View,
                        )?;
                    }
                    policy::request_valuation(&actor, requester, listing.organization_id, deal)?;
                    let created = store::create(
                        conn,
                        &store::NewRequest {
                            technology_id: technology,
                            requester_organization_id: requester,
                            requested_by: actor.user_id,
                            deal_id: body.deal_id.map(DealId::from),
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
                },
            )
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
    technology: Option<TechnologyId>,
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
                    ModeratedAction::View,
                )?;
            }
            let scope = Scope {
                all: actor.is_staff(),
                organizations: actor.memberships.iter().map(|(org, _)| *org).collect(),
                appraiser: caller_is_appraiser(conn, Some(&actor))?,
            };
            let (rows, total) =
                store::list(conn, &scope, technology, status, page.offset(), page.limit())?;
            let labels = store::labels(conn, &rows)?;
            let items =
                rows.into_iter().map(|v| dto(v, None, &labels)).collect::<Result<Vec<_>, _>>()?;
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
    let id: ValuationRequestId = path.0.into();
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

/// The valuation routes, in the order the OpenAPI document lists them.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_valuation_request)
        .service(list_valuation_requests)
        .service(get_valuation_request)
        .service(lifecycle::assign_valuation_request)
        .service(lifecycle::claim_valuation_request)
        .service(lifecycle::start_valuation_request)
        .service(lifecycle::complete_valuation_request)
        .service(lifecycle::decline_valuation_request)
        .service(lifecycle::cancel_valuation_request)
        .service(technology_valuations)
        .service(estimate::estimate_valuation);
}
