//! Technology demands: create, read, edit, moderate (the listings' lifecycle and rules),
//! search; proposals answering them; explained matches between demands and listings.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::cache::{self, Policy};
use crate::api::common::{
    Page, PageParams, etag, idempotency_key, if_match, precondition_failed, request_fingerprint,
};
use crate::api::extract::{Json, LangParam, Path, Query, RequestLang};
use crate::api::search::{self as api_search, SearchPage};
use crate::api::technologies::{
    IF_MATCH_DOC, IF_NONE_MATCH_DOC, OwnerDto, ReviewDecision, ReviewRequest, TechnologySummaryDto,
    check_code, invalid_transition_of, present_field, shown_etag, summary as technology_summary,
};
use crate::api::validate::Validator;
use crate::auth::Actor;
use crate::auth::extract::{Auth, MaybeAuth};
use crate::auth::policy::{self, ListingAction, OrgAction, PlatformAction, ProposalAction};
use crate::db::schema::organizations;
use crate::db::types::{Id, now, utc};
use crate::db::{DbConn, dialect};
use crate::domain::demand::{self, Budget, DemandContent, ProposalStatus};
use crate::domain::lang::Lang;
use crate::domain::listing::{self, Money, Status, Transition};
use crate::domain::matching::{Contribution, Scored};
use crate::domain::search::{self, Highlight, SearchQuery};
use crate::domain::taxonomy;
use crate::error::ApiError;
use crate::search::matching::{for_demand, for_technology};
use crate::search::{DocType, FacetName, Filters, Order};
use crate::state::AppState;
use crate::store::demands::{self as store, Demand, Filter, NewProposal, Proposal};
use crate::store::{idempotency, matches, technologies};

#[derive(Debug, Serialize, ToSchema)]
pub struct DemandDto {
    pub id: uuid::Uuid,
    /// Who posted it; absent when `hide_organization` hides it from the caller.
    pub organization: Option<OwnerDto>,
    /// Public demands may hide who posted them; the organisation and staff still see it.
    pub hide_organization: bool,
    pub status: Status,
    pub language: Lang,
    #[schema(example = "Xử lý nước thải chăn nuôi lợn quy mô trang trại")]
    pub title: String,
    /// The problem to solve.
    pub problem: String,
    /// Technical requirements.
    pub requirements: Option<String>,
    #[schema(example = json!(["2.7"]))]
    pub sectors: Vec<String>,
    pub keywords: Vec<String>,
    /// Lowest acceptable TRL, 1–9.
    #[schema(minimum = 1, maximum = 9)]
    pub trl_min: Option<u8>,
    pub budget: Option<Budget>,
    /// Transfer form codes wanted.
    #[schema(example = json!(["usage_licence"]))]
    pub transfer_forms: Vec<String>,
    #[schema(example = "thanh-hoa")]
    pub province: String,
    pub deadline: Option<NaiveDate>,
    pub rejection_reason: Option<String>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub published_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Send as `If-Match` (the `ETag`) when changing the demand.
    pub version: i32,
}

/// A demand in a result list.
#[derive(Debug, Serialize, ToSchema)]
pub struct DemandSummaryDto {
    pub id: uuid::Uuid,
    /// Absent when `hide_organization` hides it from the caller.
    pub organization: Option<OwnerDto>,
    pub status: Status,
    pub title: String,
    pub sectors: Vec<String>,
    #[schema(minimum = 1, maximum = 9)]
    pub trl_min: Option<u8>,
    pub budget: Option<Budget>,
    pub transfer_forms: Vec<String>,
    pub province: String,
    pub deadline: Option<NaiveDate>,
    pub published_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    /// With `q`: an excerpt around the first match, HTML-escaped, words in `<mark>`.
    pub snippet: Option<String>,
}

fn owner_for(actor: Option<&Actor>, d: &Demand) -> Option<OwnerDto> {
    policy::demand_organization_visible(actor, d.organization_id, d.content.hide_organization).then(
        || OwnerDto {
            id: d.organization_id.into(),
            name: d.organization_name.clone(),
            verified: d.organization_verified,
        },
    )
}

fn dto(actor: Option<&Actor>, d: Demand) -> DemandDto {
    let organization = owner_for(actor, &d);
    let c = d.content;
    DemandDto {
        id: d.id.into(),
        organization,
        hide_organization: c.hide_organization,
        status: d.status,
        language: c.language,
        title: c.title,
        problem: c.problem,
        requirements: c.requirements,
        sectors: c.sectors,
        keywords: c.keywords,
        trl_min: c.trl_min,
        budget: c.budget,
        transfer_forms: c.transfer_forms,
        province: c.province,
        deadline: c.deadline,
        rejection_reason: d.rejection_reason,
        submitted_at: d.submitted_at.map(utc),
        published_at: d.published_at.map(utc),
        expires_at: d.expires_at.map(utc),
        created_at: utc(d.created_at),
        updated_at: utc(d.updated_at),
        version: d.version,
    }
}

fn summary(actor: Option<&Actor>, d: &Demand, query: Option<&Highlight>) -> DemandSummaryDto {
    let c = &d.content;
    let snippet = query.and_then(|q| {
        let keywords = c.keywords.join(", ");
        let texts = [
            Some(c.title.as_str()),
            Some(c.problem.as_str()),
            c.requirements.as_deref(),
            Some(keywords.as_str()),
        ];
        search::best_snippet(texts.into_iter().flatten(), q, search::SNIPPET_CHARS)
    });
    DemandSummaryDto {
        id: d.id.into(),
        organization: owner_for(actor, d),
        status: d.status,
        title: c.title.clone(),
        sectors: c.sectors.clone(),
        trl_min: c.trl_min,
        budget: c.budget.clone(),
        transfer_forms: c.transfer_forms.clone(),
        province: c.province.clone(),
        deadline: c.deadline,
        published_at: d.published_at.map(utc),
        expires_at: d.expires_at.map(utc),
        snippet,
    }
}

/// The demand's version and the owner it shows (hidden, or renamed, is another ETag).
fn etag_of(version: i32, owner: Option<&OwnerDto>) -> String {
    shown_etag(version, owner.map(|o| (o.name.as_str(), o.verified)), None)
}

fn with_etag(mut response: actix_web::HttpResponseBuilder, body: &DemandDto) -> HttpResponse {
    response
        .insert_header((header::ETAG, etag_of(body.version, body.organization.as_ref())))
        .json(body)
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDemandRequest {
    /// The organisation that needs it; the caller must be a member.
    pub organization_id: uuid::Uuid,
    /// At most 200 characters.
    #[schema(example = "Xử lý nước thải chăn nuôi lợn quy mô trang trại")]
    pub title: String,
    /// The problem to solve, at most 20 000 characters.
    #[schema(example = "Trang trại 2 000 con lợn cần xử lý nước thải đạt QCVN 62:2016.")]
    pub problem: String,
    /// Technical requirements, at most 5 000 characters.
    pub requirements: Option<String>,
    /// 1–10 FORD sector codes.
    #[schema(example = json!(["2.7"]))]
    pub sectors: Vec<String>,
    #[serde(default)]
    #[schema(example = json!(["nước thải", "chăn nuôi"]))]
    pub keywords: Vec<String>,
    #[schema(minimum = 1, maximum = 9, example = 6)]
    pub trl_min: Option<u8>,
    pub budget: Option<Budget>,
    /// Transfer form codes from `/taxonomy/transfer-forms`.
    #[serde(default)]
    #[schema(example = json!(["usage_licence"]))]
    pub transfer_forms: Vec<String>,
    #[schema(example = "thanh-hoa")]
    pub province: String,
    /// Not in the past.
    pub deadline: Option<NaiveDate>,
    /// Hide the organisation from the public (default false).
    #[serde(default)]
    pub hide_organization: bool,
    /// Default `vi`.
    pub language: Option<Lang>,
}

impl CreateDemandRequest {
    fn content(&self) -> DemandContent {
        DemandContent {
            language: self.language.unwrap_or_default(),
            title: self.title.clone(),
            problem: self.problem.clone(),
            requirements: self.requirements.clone(),
            sectors: self.sectors.clone(),
            keywords: self.keywords.clone(),
            trl_min: self.trl_min,
            budget: self.budget.clone(),
            transfer_forms: self.transfer_forms.clone(),
            province: self.province.clone(),
            deadline: self.deadline,
            hide_organization: self.hide_organization,
        }
        .normalized()
    }
}

/// Fields to change; absent fields stay, `null` clears an optional one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateDemandRequest {
    pub title: Option<String>,
    pub problem: Option<String>,
    #[serde(default, deserialize_with = "present_field")]
    #[schema(value_type = Option<String>)]
    pub requirements: Option<Option<String>>,
    pub sectors: Option<Vec<String>>,
    pub keywords: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present_field")]
    #[schema(value_type = Option<u8>, minimum = 1, maximum = 9)]
    pub trl_min: Option<Option<u8>>,
    #[serde(default, deserialize_with = "present_field")]
    #[schema(value_type = Option<Budget>)]
    pub budget: Option<Option<Budget>>,
    pub transfer_forms: Option<Vec<String>>,
    pub province: Option<String>,
    #[serde(default, deserialize_with = "present_field")]
    #[schema(value_type = Option<NaiveDate>)]
    pub deadline: Option<Option<NaiveDate>>,
    pub hide_organization: Option<bool>,
    pub language: Option<Lang>,
}

impl UpdateDemandRequest {
    fn apply(self, mut c: DemandContent) -> DemandContent {
        macro_rules! set {
            ($($field:ident),*) => {$(
                if let Some(value) = self.$field {
                    c.$field = value;
                }
            )*};
        }
        set!(title, problem, requirements, sectors, keywords, trl_min, budget, transfer_forms);
        set!(province, deadline, hide_organization, language);
        c.normalized()
    }
}

fn validate(content: &DemandContent) -> Result<(), ApiError> {
    let errors = demand::validate(content, now().date());
    if errors.is_empty() { Ok(()) } else { Err(ApiError::validation(errors)) }
}

/// The demand counterpart of the listings' `change`: loads it in a write transaction, checks
/// visibility and permission (404/403), `If-Match` (428/412) and the transition (409).
async fn change<T: Send + 'static>(
    state: &AppState,
    req: &HttpRequest,
    actor: Actor,
    id: Id,
    action: ListingAction,
    transition: Option<Transition>,
    apply: impl FnOnce(&mut DbConn, &Actor, &Demand, Status) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let expected = if_match(req);
    state
        .db
        .run(move |conn| {
            dialect::write_transaction(conn, |conn| {
                let demand = store::get(conn, id)?;
                policy::demand(
                    Some(&actor),
                    demand.organization_id,
                    demand.status.is_public(),
                    action,
                )?;
                if expected? != demand.version {
                    return Err(precondition_failed());
                }
                let to = match transition {
                    Some(t) => demand
                        .status
                        .next(t)
                        .ok_or_else(|| invalid_transition_of("demand", demand.status, t))?,
                    None => demand.status,
                };
                apply(conn, &actor, &demand, to)
            })
        })
        .await
}

/// Create a draft demand for an organisation you belong to. Honours `Idempotency-Key`.
#[utoipa::path(
    tag = "demands",
    security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry-safe creation: the same key and body return the first response")),
    request_body = CreateDemandRequest,
    responses(
        (status = 201, description = "Created as a draft", body = DemandDto, headers(("ETag" = String), ("Location" = String))),
        (status = 403, description = "Not a member of the organisation"),
        (status = 422, description = "The Idempotency-Key was used with another body (`idempotency_key_reused`)"),
    )
)]
#[post("/demands")]
pub async fn create_demand(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    body: Json<CreateDemandRequest>,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency_key(&req)?;
    let body = body.0;
    let actor = auth.0;
    let organization: Id = body.organization_id.into();
    policy::organization(&actor, organization, OrgAction::ActFor)?;
    let fingerprint = request_fingerprint(&body);
    let content = body.content();
    validate(&content)?;
    let created = state
        .db
        .run(move |conn| {
            idempotency::create_once(conn, actor.user_id, key.as_deref(), &fingerprint, |conn| {
                let demand = store::create(conn, organization, actor.user_id, &content)?;
                serde_json::to_value(dto(Some(&actor), demand)).map_err(ApiError::internal_from)
            })
        })
        .await?;
    Ok(crate::api::common::created_response("/api/v1/demands", created))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DemandSearch {
    /// Free text, as for listings: accents and case ignored, typos forgiven, best match
    /// (most query words) first.
    pub q: Option<String>,
    /// A sector code; a field code ("2") also matches its sub-fields.
    pub sector: Option<String>,
    pub province: Option<String>,
    /// Demands of one organisation (demands hiding their organisation are left out for
    /// callers outside it).
    pub organization_id: Option<uuid::Uuid>,
    /// Moderators only: another state (e.g. `pending_review`). Everybody else searches
    /// published demands.
    #[param(inline)]
    pub status: Option<Status>,
    /// Comma-separated facets to count over the whole result (published demands only):
    /// `sector`, `province`, `trl`, `transfer_form`, `currency`, `verified`. Unknown names:
    /// 400.
    #[param(example = "sector,province")]
    pub facets: Option<String>,
}

/// The facets a demand search counts.
const DEMAND_FACETS: [FacetName; 6] = [
    FacetName::Sector,
    FacetName::Province,
    FacetName::Trl,
    FacetName::TransferForm,
    FacetName::Currency,
    FacetName::Verified,
];

/// Search published demands (public), best match first with `q` (ranked like listings),
/// else newest, with facet counts on request (`facets`). Moderators
/// may filter by any `status`.
#[utoipa::path(
    security((), ("bearer" = [])),
    tag = "demands",
    params(DemandSearch, PageParams),
    responses(
        (status = 200, body = SearchPage<DemandSummaryDto>),
        (status = 401, description = "`status` other than published without signing in"),
        (status = 403, description = "`status` other than published: staff only"),
    )
)]
#[get("/demands")]
pub async fn search_demands(
    state: web::Data<AppState>,
    auth: MaybeAuth,
    params: Query<DemandSearch>,
    paging: Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let page = paging.0.resolve()?;
    let p = params.0;
    let mut v = Validator::new();
    check_code(&mut v, "sector", p.sector.as_deref(), taxonomy::is_sector, "sector code");
    check_code(
        &mut v,
        "province",
        p.province.as_deref(),
        |c| taxonomy::province(c).is_some(),
        "province code",
    );
    v.finish()?;
    let actor = auth.0;
    let status = p.status.unwrap_or(Status::Published);
    if status != Status::Published {
        let actor = actor
            .as_ref()
            .ok_or_else(|| ApiError::unauthorized("Sign in: this needs an access token."))?;
        policy::platform(actor, PlatformAction::Moderate)?;
    }
    let organization_id = p.organization_id.map(Id::from);
    // Filtering by organisation must not reveal who posted a demand that hides it.
    let visible_organization_only =
        organization_id.is_some_and(|org| !policy::sees_unpublished_listings(actor.as_ref(), org));
    let text = p.q.as_deref().and_then(SearchQuery::parse);
    let facets = api_search::parse_facets(p.facets.as_deref(), &DEMAND_FACETS)?;
    if status != Status::Published {
        // Staff queues are not public data: SQL over every state, no text or facets.
        if text.is_some() || !facets.is_empty() {
            return Err(ApiError::invalid(
                if text.is_some() { "q" } else { "facets" },
                "is available for published demands only",
            ));
        }
        let filter = Filter {
            statuses: vec![status],
            sector: p.sector,
            province: p.province,
            organization_id,
            visible_organization_only,
        };
        let (items, total) = state
            .db
            .run(move |conn| store::search(conn, &filter, page.offset(), page.limit()))
            .await?;
        let items = items.iter().map(|d| summary(actor.as_ref(), d, None)).collect();
        return Ok(HttpResponse::Ok().json(SearchPage {
            items,
            page: page.page,
            per_page: page.per_page,
            total,
            facets: None,
        }));
    }
    let filters = Filters {
        sector: p.sector,
        province: p.province,
        organization: organization_id,
        visible_organization_only,
        ..Filters::default()
    };
    let with_text = text.is_some();
    let hits =
        api_search::find(&state, DocType::Demand, text, filters, Order::Relevance, page, facets)
            .await?;
    let ids = hits.ids.clone();
    let mut items = state.db.run(move |conn| store::load(conn, &ids)).await?;
    items.sort_by_key(|d| hits.ids.iter().position(|id| *id == d.id));
    let highlight = with_text.then_some(&hits.highlight);
    let items = items.iter().map(|d| summary(actor.as_ref(), d, highlight)).collect();
    Ok(HttpResponse::Ok().json(SearchPage {
        items,
        page: page.page,
        per_page: page.per_page,
        total: hits.total,
        facets: hits.facets,
    }))
}

/// A demand. Published ones are public (without the organisation when it is hidden); others
/// only for the owning organisation's members and staff (404 for everybody else).
#[utoipa::path(
    security((), ("bearer" = [])),
    tag = "demands",
    params(("id" = uuid::Uuid, Path), ("If-None-Match" = Option<String>, Header, description = IF_NONE_MATCH_DOC)),
    responses(
        (status = 200, body = DemandDto, headers(("ETag" = String), ("Cache-Control" = String), ("Vary" = String))),
        (status = 304, description = "Not modified: `If-None-Match` names the current `ETag`", headers(("ETag" = String), ("Cache-Control" = String), ("Vary" = String))),
        (status = 404, description = "No such demand, or not visible to the caller"),
    )
)]
#[get("/demands/{id}")]
pub async fn get_demand(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: MaybeAuth,
    path: Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id: Id = path.0.into();
    let actor = auth.0;
    let demand = state
        .db
        .run(move |conn| -> Result<_, ApiError> {
            let demand = store::get(conn, id)?;
            policy::demand(
                actor.as_ref(),
                demand.organization_id,
                demand.status.is_public(),
                ListingAction::View,
            )?;
            Ok((demand, actor))
        })
        .await?;
    let (demand, actor) = demand;
    let etag = etag_of(demand.version, owner_for(actor.as_ref(), &demand).as_ref());
    let policy = Policy::for_caller(demand.status.is_public(), actor.is_some());
    cache::respond(&req, &etag, policy, Some(cache::VARY_AUTH), || Ok(dto(actor.as_ref(), demand)))
}

/// Edit a demand (members of the owning organisation). Needs `If-Match`. Same rules as
/// listings: a rejected demand becomes a draft, a published one goes back to review.
#[utoipa::path(
    tag = "demands",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), ("If-Match" = String, Header, description = IF_MATCH_DOC)),
    request_body = UpdateDemandRequest,
    responses(
        (status = 200, body = DemandDto, headers(("ETag" = String))),
        (status = 403, description = "Not a member of the owning organisation"),
        (status = 404, description = "No such demand, or not visible to the caller"),
        (status = 409, description = "Archived (`invalid_transition`)"),
        (status = 412, description = "Changed since you read it"),
        (status = 428, description = "`If-Match` missing"),
    )
)]
#[patch("/demands/{id}")]
pub async fn update_demand(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<uuid::Uuid>,
    body: Json<UpdateDemandRequest>,
) -> Result<HttpResponse, ApiError> {
    let patch = body.0;
    let body = change(
        &state,
        &req,
        auth.0,
        path.0.into(),
        ListingAction::Manage,
        Some(Transition::Edit),
        move |conn, actor, d, to| {
            let content = patch.apply(d.content.clone());
            validate(&content)?;
            Ok(dto(Some(actor), store::update_content(conn, d, &content, to)?))
        },
    )
    .await?;
    Ok(with_etag(HttpResponse::Ok(), &body))
}

/// Delete a demand (members of the owning organisation). Needs `If-Match`. A draft that
/// was never submitted is erased; a demand that was ever submitted is archived instead, so
/// its moderation history and the activity report stay whole. Either way it answers 204.
#[utoipa::path(
    tag = "demands",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), ("If-Match" = String, Header, description = IF_MATCH_DOC)),
    responses(
        (status = 204, description = "Erased (a never-submitted draft) or archived"),
        (status = 403, description = "Not a member of the owning organisation"),
        (status = 404, description = "No such demand, or not visible to the caller"),
        (status = 409, description = "Already archived (`invalid_transition`)"),
        (status = 412, description = "Changed since you read it"),
        (status = 428, description = "`If-Match` missing"),
    )
)]
#[delete("/demands/{id}")]
pub async fn delete_demand(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let validity = state.config.listing_validity_days;
    change(
        &state,
        &req,
        auth.0,
        path.0.into(),
        ListingAction::Manage,
        None,
        move |conn, _, d, _| {
            if d.status.deletable(d.submitted_at.is_some()) {
                return Ok(store::delete(conn, d)?);
            }
            let to = d
                .status
                .next(Transition::Archive)
                .ok_or_else(|| invalid_transition_of("demand", d.status, Transition::Archive))?;
            store::transition(conn, d, to, None, validity).map(|_| ()).map_err(ApiError::from)
        },
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Runs a moderation transition that needs no body.
async fn simple_transition(
    state: web::Data<AppState>,
    req: HttpRequest,
    actor: Actor,
    id: Id,
    action: ListingAction,
    transition: Transition,
) -> Result<HttpResponse, ApiError> {
    let validity = state.config.listing_validity_days;
    let body =
        change(&state, &req, actor, id, action, Some(transition), move |conn, actor, d, to| {
            Ok(dto(Some(actor), store::transition(conn, d, to, None, validity)?))
        })
        .await?;
    Ok(with_etag(HttpResponse::Ok(), &body))
}

/// Submit a draft demand for review (members of the owning organisation). Needs `If-Match`.
#[utoipa::path(
    tag = "demands",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), ("If-Match" = String, Header, description = IF_MATCH_DOC)),
    responses(
        (status = 200, description = "Now `pending_review`", body = DemandDto, headers(("ETag" = String))),
        (status = 403, description = "Not a member of the owning organisation"),
        (status = 404, description = "No such demand, or not visible to the caller"),
        (status = 409, description = "Not a draft (`invalid_transition`)"),
        (status = 412, description = "Changed since you read it"),
        (status = 428, description = "`If-Match` missing"),
    )
)]
#[post("/demands/{id}/submit")]
pub async fn submit_demand(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    simple_transition(state, req, auth.0, path.0.into(), ListingAction::Manage, Transition::Submit)
        .await
}

/// Take a demand off the exchange (members of the owning organisation, or staff). Needs
/// `If-Match`; final.
#[utoipa::path(
    tag = "demands",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), ("If-Match" = String, Header, description = IF_MATCH_DOC)),
    responses(
        (status = 200, description = "Now `archived`", body = DemandDto, headers(("ETag" = String))),
        (status = 403, description = "Not a member of the owning organisation nor staff"),
        (status = 404, description = "No such demand, or not visible to the caller"),
        (status = 409, description = "Already archived (`invalid_transition`)"),
        (status = 412, description = "Changed since you read it"),
        (status = 428, description = "`If-Match` missing"),
    )
)]
#[post("/demands/{id}/archive")]
pub async fn archive_demand(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    simple_transition(
        state,
        req,
        auth.0,
        path.0.into(),
        ListingAction::Archive,
        Transition::Archive,
    )
    .await
}

/// Extend a published demand to now + `TECHX_LISTING_VALIDITY_DAYS` (members of the owning
/// organisation). Needs `If-Match`.
#[utoipa::path(
    tag = "demands",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), ("If-Match" = String, Header, description = IF_MATCH_DOC)),
    responses(
        (status = 200, body = DemandDto, headers(("ETag" = String))),
        (status = 403, description = "Not a member of the owning organisation"),
        (status = 404, description = "No such demand, or not visible to the caller"),
        (status = 409, description = "Not published (`invalid_transition`)"),
        (status = 412, description = "Changed since you read it"),
        (status = 428, description = "`If-Match` missing"),
    )
)]
#[post("/demands/{id}/renew")]
pub async fn renew_demand(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    simple_transition(state, req, auth.0, path.0.into(), ListingAction::Manage, Transition::Renew)
        .await
}

/// Approve or reject a demand under review (moderators). Needs `If-Match`. Approval
/// publishes it until now + `TECHX_LISTING_VALIDITY_DAYS` and notifies its standing matches
/// scoring at least `TECHX_MATCH_NOTIFY_THRESHOLD` (once per pair, both sides mailed).
#[utoipa::path(
    tag = "demands",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), ("If-Match" = String, Header, description = IF_MATCH_DOC)),
    request_body = ReviewRequest,
    responses(
        (status = 200, body = DemandDto, headers(("ETag" = String))),
        (status = 403, description = "Staff only"),
        (status = 404, description = "No such demand"),
        (status = 409, description = "Not under review (`invalid_transition`)"),
        (status = 412, description = "Changed since you read it"),
        (status = 428, description = "`If-Match` missing"),
    )
)]
#[post("/demands/{id}/review")]
pub async fn review_demand(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<uuid::Uuid>,
    body: Json<ReviewRequest>,
) -> Result<HttpResponse, ApiError> {
    let ReviewRequest { decision, reason } = body.0;
    let reason = reason.map(|r| r.trim().to_owned());
    let mut v = Validator::new();
    match (decision, reason.as_deref()) {
        (ReviewDecision::Reject, Some(reason)) => v.text("reason", reason, listing::MAX_REASON),
        (ReviewDecision::Reject, None) => v.error("reason", "is required to reject"),
        (ReviewDecision::Approve, Some(_)) => v.error("reason", "is only for rejections"),
        (ReviewDecision::Approve, None) => {}
    }
    v.finish()?;
    let transition = match decision {
        ReviewDecision::Approve => Transition::Approve,
        ReviewDecision::Reject => Transition::Reject,
    };
    let validity = state.config.listing_validity_days;
    let threshold = state.config.match_notify_threshold;
    let search = state.search.clone();
    let body = change(
        &state,
        &req,
        auth.0,
        path.0.into(),
        ListingAction::Review,
        Some(transition),
        move |conn, actor, d, to| {
            let updated = store::transition(conn, d, to, reason.as_deref(), validity)?;
            if to == Status::Published {
                // Standing matches, in the publication's transaction.
                crate::search::matching::notify_for_demand(conn, &search, &updated, threshold)?;
            }
            Ok(dto(Some(actor), updated))
        },
    )
    .await?;
    Ok(with_etag(HttpResponse::Ok(), &body))
}

// ---- Proposals ------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct ProposalDto {
    pub id: uuid::Uuid,
    pub demand_id: uuid::Uuid,
    /// The offering organisation.
    pub organization_id: uuid::Uuid,
    pub technology_id: Option<uuid::Uuid>,
    pub status: ProposalStatus,
    pub approach: String,
    pub price: Option<Money>,
    pub timeline_months: Option<i32>,
    pub message: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// Send as `If-Match` to accept or decline.
    pub version: i32,
}

fn proposal_dto(p: Proposal) -> Result<ProposalDto, ApiError> {
    Ok(ProposalDto {
        id: p.id.into(),
        demand_id: p.demand_id.into(),
        organization_id: p.organization_id.into(),
        technology_id: p.technology_id.map(Into::into),
        status: ProposalStatus::parse(&p.status).ok_or_else(ApiError::internal)?,
        approach: p.approach,
        price: match (p.price, p.currency) {
            (Some(amount), Some(currency)) => Some(Money { amount, currency }),
            _ => None,
        },
        timeline_months: p.timeline_months,
        message: p.message,
        decided_at: p.decided_at.map(utc),
        created_at: utc(p.created_at),
        version: p.version,
    })
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProposalRequest {
    /// The offering organisation; the caller must be a member (not of the demand's own).
    pub organization_id: uuid::Uuid,
    /// A published technology of the offering organisation, if the answer is one.
    pub technology_id: Option<uuid::Uuid>,
    /// How the need would be met, at most 5 000 characters.
    #[schema(example = "Hệ thống biogas kết hợp lọc sinh học, lắp đặt trong 4 tháng.")]
    pub approach: String,
    pub price: Option<Money>,
    /// Months to deliver, 1–120.
    #[schema(minimum = 1, maximum = 120, example = 4)]
    pub timeline_months: Option<u32>,
    /// At most 2 000 characters.
    pub message: Option<String>,
}

/// Answer a published demand with a proposal in the name of an organisation you belong to;
/// the demand's owners are mailed. Honours `Idempotency-Key`.
#[utoipa::path(
    tag = "demands",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), ("Idempotency-Key" = Option<String>, Header, description = "Retry-safe creation")),
    request_body = CreateProposalRequest,
    responses(
        (status = 201, body = ProposalDto),
        (status = 400, description = "Invalid fields; `technology_id` is not a published listing of the offering organisation"),
        (status = 403, description = "Not a member of the offering organisation, or it is the demand's own"),
        (status = 404, description = "No such demand, or not visible to the caller"),
        (status = 409, description = "The demand is not published (`not_published`)"),
        (status = 422, description = "The Idempotency-Key was used with another body (`idempotency_key_reused`)"),
    )
)]
#[post("/demands/{id}/proposals")]
pub async fn create_proposal(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<uuid::Uuid>,
    body: Json<CreateProposalRequest>,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency_key(&req)?;
    let actor = auth.0;
    let demand_id: Id = path.0.into();
    let body = body.0;
    let fingerprint = request_fingerprint(&(demand_id.to_string(), &body));
    let approach = body.approach.trim().to_owned();
    let message = listing::trimmed_opt(&body.message);
    let errors = demand::validate_proposal(
        &approach,
        message.as_deref(),
        body.price.as_ref().map(|p| (p.amount, p.currency.as_str())),
        body.timeline_months,
    );
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let new = NewProposal {
        organization_id: body.organization_id.into(),
        technology_id: body.technology_id.map(Id::from),
        approach,
        price: body.price.map(|p| (p.amount, p.currency)),
        timeline_months: body.timeline_months,
        message,
    };
    let created = state
        .db
        .run(move |conn| {
            idempotency::create_once(conn, actor.user_id, key.as_deref(), &fingerprint, |conn| {
                let demand = store::get(conn, demand_id)?;
                policy::demand(
                    Some(&actor),
                    demand.organization_id,
                    demand.status.is_public(),
                    ListingAction::View,
                )?;
                policy::proposal(
                    &actor,
                    demand.organization_id,
                    ProposalAction::Create { offering: new.organization_id },
                )?;
                if demand.status != Status::Published {
                    return Err(ApiError::conflict(
                        "not_published",
                        "Only published demands take proposals.",
                    ));
                }
                if let Some(technology) = new.technology_id {
                    let listing = technologies::find(conn, technology)?;
                    if listing.is_none_or(|l| {
                        l.organization_id != new.organization_id || l.status != Status::Published
                    }) {
                        return Err(ApiError::invalid(
                            "technology_id",
                            "is not a published listing of the offering organisation",
                        ));
                    }
                }
                let proposal = store::propose(conn, &demand, actor.user_id, &new)?;
                serde_json::to_value(proposal_dto(proposal)?).map_err(ApiError::internal_from)
            })
        })
        .await?;
    let mut response = HttpResponse::Created();
    if created.replayed {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(response.json(created.body))
}

/// A demand's proposals, oldest first: all of them for the demand's organisation and staff,
/// the caller's own organisations' for everybody else.
#[utoipa::path(
    tag = "demands",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), PageParams),
    responses(
        (status = 200, body = Page<ProposalDto>),
        (status = 404, description = "No such demand, or not visible to the caller"),
    )
)]
#[get("/demands/{id}/proposals")]
pub async fn list_proposals(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<uuid::Uuid>,
    paging: Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let page = paging.0.resolve()?;
    let actor = auth.0;
    let demand_id: Id = path.0.into();
    let (items, total) = state
        .db
        .run(move |conn| {
            let demand = store::get(conn, demand_id)?;
            policy::demand(
                Some(&actor),
                demand.organization_id,
                demand.status.is_public(),
                ListingAction::View,
            )?;
            let own: Vec<Id> = actor.memberships.iter().map(|(org, _)| *org).collect();
            let only = (!policy::sees_all_proposals(&actor, demand.organization_id))
                .then_some(own.as_slice());
            store::list_proposals(conn, demand_id, only, page.offset(), page.limit())
                .map_err(ApiError::from)
        })
        .await?;
    let items = items.into_iter().map(proposal_dto).collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(Page::new(items, page, total)))
}

/// What the demand's side (accept, decline) or the offering side (withdraw) does to a
/// pending proposal.
#[derive(Clone, Copy)]
enum ProposalMove {
    Accept,
    Decline,
    Withdraw,
}

async fn move_proposal(
    req: HttpRequest,
    state: web::Data<AppState>,
    actor: Actor,
    demand_id: Id,
    proposal_id: Id,
    step: ProposalMove,
) -> Result<HttpResponse, ApiError> {
    let expected = if_match(&req);
    let body = state
        .db
        .run(move |conn| {
            dialect::write_transaction(conn, |conn| {
                let demand = store::get(conn, demand_id)?;
                policy::demand(
                    Some(&actor),
                    demand.organization_id,
                    demand.status.is_public(),
                    ListingAction::View,
                )?;
                let proposal = match step {
                    ProposalMove::Accept | ProposalMove::Decline => {
                        policy::proposal(&actor, demand.organization_id, ProposalAction::Decide)?;
                        store::get_proposal(conn, demand_id, proposal_id)?
                    }
                    ProposalMove::Withdraw => {
                        let proposal = store::get_proposal(conn, demand_id, proposal_id)?;
                        // Outsiders do not learn that another organisation's proposal
                        // exists, as in the list of proposals.
                        if !policy::sees_all_proposals(&actor, demand.organization_id)
                            && actor.org_role(proposal.organization_id).is_none()
                        {
                            return Err(ApiError::not_found("No such proposal."));
                        }
                        let offering = proposal.organization_id;
                        let action = ProposalAction::Withdraw { offering };
                        policy::proposal(&actor, demand.organization_id, action)?;
                        proposal
                    }
                };
                if expected? != proposal.version {
                    return Err(precondition_failed());
                }
                let status =
                    ProposalStatus::parse(&proposal.status).ok_or_else(ApiError::internal)?;
                let to = match step {
                    ProposalMove::Accept => status.decide(true),
                    ProposalMove::Decline => status.decide(false),
                    ProposalMove::Withdraw => status.withdraw(),
                };
                let to = to.ok_or_else(|| {
                    ApiError::conflict(
                        "already_decided",
                        format!("This proposal is already {}.", status.as_str()),
                    )
                })?;
                proposal_dto(store::settle_proposal(conn, &demand, &proposal, to, actor.user_id)?)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().insert_header((header::ETAG, etag(body.version))).json(body))
}

/// Accept a pending proposal (members of the demand's organisation). Needs `If-Match`; both
/// sides' owners are mailed.
#[utoipa::path(
    tag = "demands",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), ("proposal_id" = uuid::Uuid, Path), ("If-Match" = String, Header, description = IF_MATCH_DOC)),
    responses(
        (status = 200, body = ProposalDto, headers(("ETag" = String))),
        (status = 403, description = "Not a member of the demand's organisation"),
        (status = 404, description = "No such demand or proposal"),
        (status = 409, description = "Already decided or withdrawn (`already_decided`)"),
        (status = 412, description = "Changed since you read it"),
        (status = 428, description = "`If-Match` missing"),
    )
)]
#[post("/demands/{id}/proposals/{proposal_id}/accept")]
pub async fn accept_proposal(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<(uuid::Uuid, uuid::Uuid)>,
) -> Result<HttpResponse, ApiError> {
    move_proposal(req, state, auth.0, path.0.0.into(), path.0.1.into(), ProposalMove::Accept).await
}

/// Decline a pending proposal (members of the demand's organisation). Needs `If-Match`;
/// both sides' owners are mailed.
#[utoipa::path(
    tag = "demands",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), ("proposal_id" = uuid::Uuid, Path), ("If-Match" = String, Header, description = IF_MATCH_DOC)),
    responses(
        (status = 200, body = ProposalDto, headers(("ETag" = String))),
        (status = 403, description = "Not a member of the demand's organisation"),
        (status = 404, description = "No such demand or proposal"),
        (status = 409, description = "Already decided or withdrawn (`already_decided`)"),
        (status = 412, description = "Changed since you read it"),
        (status = 428, description = "`If-Match` missing"),
    )
)]
#[post("/demands/{id}/proposals/{proposal_id}/decline")]
pub async fn decline_proposal(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<(uuid::Uuid, uuid::Uuid)>,
) -> Result<HttpResponse, ApiError> {
    move_proposal(req, state, auth.0, path.0.0.into(), path.0.1.into(), ProposalMove::Decline).await
}

/// Withdraw a pending proposal (members of the offering organisation). Needs `If-Match`; the
/// demand's owners are mailed. A withdrawn proposal can no longer be accepted or declined.
#[utoipa::path(
    tag = "demands",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), ("proposal_id" = uuid::Uuid, Path), ("If-Match" = String, Header, description = IF_MATCH_DOC)),
    responses(
        (status = 200, body = ProposalDto, headers(("ETag" = String))),
        (status = 403, description = "Not a member of the offering organisation"),
        (status = 404, description = "No such demand or proposal, or not visible to the caller"),
        (status = 409, description = "No longer pending (`already_decided`)"),
        (status = 412, description = "Changed since you read it"),
        (status = 428, description = "`If-Match` missing"),
    )
)]
#[post("/demands/{id}/proposals/{proposal_id}/withdraw")]
pub async fn withdraw_proposal(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<(uuid::Uuid, uuid::Uuid)>,
) -> Result<HttpResponse, ApiError> {
    move_proposal(req, state, auth.0, path.0.0.into(), path.0.1.into(), ProposalMove::Withdraw)
        .await
}

// ---- Matches --------------------------------------------------------------------------

/// A published technology matching a demand, with why.
#[derive(Debug, Serialize, ToSchema)]
pub struct TechnologyMatchDto {
    /// 0–100, the sum of `contributions`.
    pub score: u8,
    pub contributions: Vec<Contribution>,
    pub technology: TechnologySummaryDto,
}

/// A published demand matching a technology, with why.
#[derive(Debug, Serialize, ToSchema)]
pub struct DemandMatchDto {
    /// 0–100, the sum of `contributions`.
    pub score: u8,
    pub contributions: Vec<Contribution>,
    pub demand: DemandSummaryDto,
}

/// Whether the caller belongs to an intermediary organisation offering brokering.
fn is_broker(conn: &mut DbConn, actor: &Actor) -> Result<bool, ApiError> {
    use diesel::prelude::*;
    let own: Vec<Id> = actor.memberships.iter().map(|(org, _)| *org).collect();
    if own.is_empty() {
        return Ok(false);
    }
    let services: Vec<String> = organizations::table
        .filter(organizations::id.eq_any(own))
        .filter(organizations::kind.eq("intermediary"))
        .select(organizations::services)
        .load(conn)?;
    Ok(services
        .iter()
        .any(|s| crate::store::organizations::parse_list(s).iter().any(|x| x == "brokering")))
}

/// Published technologies matching a demand, best first: the demand's organisation, members
/// of intermediary organisations offering brokering, and staff. Candidates are the 200 best
/// full-text matches of the demand's title and keywords (any word); each is scored 0–100 as
/// the sum of the criteria below, with a reason per criterion in the caller's language.
/// Pairs the demand's organisation dismissed are left out.
#[utoipa::path(
    tag = "demands",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), LangParam, PageParams),
    responses(
        (status = 200, body = Page<TechnologyMatchDto>),
        (status = 403, description = "Not the demand's organisation, a broker nor staff"),
        (status = 404, description = "No such demand, or not visible to the caller"),
    )
)]
#[get("/demands/{id}/matches")]
pub async fn demand_matches(
    state: web::Data<AppState>,
    auth: Auth,
    lang: RequestLang,
    path: Path<uuid::Uuid>,
    paging: Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let page = paging.0.resolve()?;
    let actor = auth.0;
    let id: Id = path.0.into();
    let (search, offset, limit) = matching_window(&state, page)?;
    let (items, total) = state
        .db
        .run(move |conn| {
            let demand = store::get(conn, id)?;
            let broker = is_broker(conn, &actor)?;
            policy::demand_matches(
                Some(&actor),
                demand.organization_id,
                demand.status.is_public(),
                broker,
            )?;
            for_demand(conn, &search, &demand, lang.0, offset, limit)
        })
        .await?;
    let items: Vec<TechnologyMatchDto> = items
        .into_iter()
        .map(|(l, s): (technologies::Listing, Scored)| TechnologyMatchDto {
            score: s.score,
            contributions: s.contributions,
            technology: technology_summary(&l, None),
        })
        .collect();
    Ok(HttpResponse::Ok().json(Page::new(items, page, i64::try_from(total).unwrap_or(i64::MAX))))
}

/// The search index and the page's window for a matches request (ready or 503, and paged
/// no deeper than search results are).
fn matching_window(
    state: &AppState,
    page: crate::api::common::PageRequest,
) -> Result<(std::sync::Arc<crate::search::Search>, usize, usize), ApiError> {
    if page.offset() + page.limit() > api_search::MAX_WINDOW {
        return Err(ApiError::invalid("page", "matches are paged up to the 10000th"));
    }
    if !state.search.is_ready() {
        return Err(ApiError::unavailable("The search index is being built; try again shortly."));
    }
    let offset = usize::try_from(page.offset()).unwrap_or(0);
    let limit = usize::try_from(page.limit()).unwrap_or(0);
    Ok((state.search.clone(), offset, limit))
}

/// Published demands matching a technology, best first (its organisation and staff), scored
/// like the matches of a demand. Pairs the technology's organisation dismissed are left out.
#[utoipa::path(
    tag = "demands",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), LangParam, PageParams),
    responses(
        (status = 200, body = Page<DemandMatchDto>),
        (status = 403, description = "Not the technology's organisation nor staff"),
        (status = 404, description = "No such technology, or not visible to the caller"),
    )
)]
#[get("/technologies/{id}/matches")]
pub async fn technology_matches(
    state: web::Data<AppState>,
    auth: Auth,
    lang: RequestLang,
    path: Path<uuid::Uuid>,
    paging: Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let page = paging.0.resolve()?;
    let actor = auth.0;
    let id: Id = path.0.into();
    let (search, offset, limit) = matching_window(&state, page)?;
    let ((items, total), actor) = state
        .db
        .run(move |conn| -> Result<_, ApiError> {
            let listing = technologies::get(conn, id)?;
            policy::technology_matches(
                Some(&actor),
                listing.organization_id,
                listing.status.is_public(),
            )?;
            Ok((for_technology(conn, &search, &listing, lang.0, offset, limit)?, actor))
        })
        .await?;
    let items: Vec<DemandMatchDto> = items
        .into_iter()
        .map(|(d, s)| DemandMatchDto {
            score: s.score,
            contributions: s.contributions,
            demand: summary(Some(&actor), &d, None),
        })
        .collect();
    Ok(HttpResponse::Ok().json(Page::new(items, page, i64::try_from(total).unwrap_or(i64::MAX))))
}

/// Hide a match from your side (members of the technology's or the demand's organisation):
/// it no longer appears in that side's matches; the other side still sees it. Repeating it
/// is harmless.
#[utoipa::path(
    tag = "demands",
    security(("bearer" = [])),
    params(("technology_id" = uuid::Uuid, Path), ("demand_id" = uuid::Uuid, Path)),
    responses(
        (status = 204, description = "Dismissed"),
        (status = 403, description = "Not a member of either side"),
        (status = 404, description = "No such technology or demand, or not visible to the caller"),
    )
)]
#[post("/matches/{technology_id}/{demand_id}/dismiss")]
pub async fn dismiss_match(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<(uuid::Uuid, uuid::Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let actor = auth.0;
    let (technology_id, demand_id): (Id, Id) = (path.0.0.into(), path.0.1.into());
    state
        .db
        .run(move |conn| {
            dialect::write_transaction(conn, |conn| -> Result<_, ApiError> {
                let listing = technologies::get(conn, technology_id)?;
                policy::listing(
                    Some(&actor),
                    listing.organization_id,
                    listing.status.is_public(),
                    ListingAction::View,
                )?;
                let demand = store::get(conn, demand_id)?;
                policy::demand(
                    Some(&actor),
                    demand.organization_id,
                    demand.status.is_public(),
                    ListingAction::View,
                )?;
                for side in
                    policy::dismiss_match(&actor, listing.organization_id, demand.organization_id)?
                {
                    matches::dismiss(conn, technology_id, demand_id, side, actor.user_id)?;
                }
                Ok(())
            })
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
