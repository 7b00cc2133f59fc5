//! Organisations: public profiles, created and edited by their owners, verified by moderators;
//! membership in `members`, invitations in `invitations`.

mod invitations;
mod members;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::api::cache::IF_NONE_MATCH_DOC;
use crate::api::cache::{self, Policy};
use crate::api::common::{Page, PageParams, etag, idempotency_key, if_match, request_fingerprint};
use crate::api::extract::{Json, Path, Query};
use crate::api::validate::Validator;
use crate::auth::extract::Auth;
use crate::auth::policy::{self, OrgAction};
use crate::db::dialect;
use crate::db::types::{OrganizationId, utc};
use crate::domain::taxonomy;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::idempotency;
use crate::store::organizations::{self as store, Organization, Profile};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrganizationKind {
    Enterprise,
    ResearchInstitute,
    University,
    /// Broker, consultant, appraiser or technology transfer centre.
    Intermediary,
    Government,
    Individual,
}

impl OrganizationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enterprise => "enterprise",
            Self::ResearchInstitute => "research_institute",
            Self::University => "university",
            Self::Intermediary => "intermediary",
            Self::Government => "government",
            Self::Individual => "individual",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(s.to_owned())).ok()
    }
}

/// Services an intermediary offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IntermediaryService {
    Brokering,
    Consulting,
    Assessment,
    Valuation,
    Legal,
}

impl IntermediaryService {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Brokering => "brokering",
            Self::Consulting => "consulting",
            Self::Assessment => "assessment",
            Self::Valuation => "valuation",
            Self::Legal => "legal",
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationDto {
    pub id: uuid::Uuid,
    #[schema(example = "Viện Công nghệ sinh học")]
    pub name: String,
    pub kind: OrganizationKind,
    #[schema(example = "0101234567")]
    pub tax_code: Option<String>,
    #[schema(example = "thanh-hoa")]
    pub province: String,
    pub address: Option<String>,
    pub website: Option<String>,
    pub description: Option<String>,
    /// FORD sector codes.
    #[schema(example = json!(["4.1", "4.4"]))]
    pub sectors: Vec<String>,
    pub services: Vec<IntermediaryService>,
    /// Checked by exchange staff.
    pub verified: bool,
    pub verified_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Send as `If-Match` (the `ETag`) when changing the organisation.
    pub version: i32,
}

impl From<&Organization> for OrganizationDto {
    fn from(o: &Organization) -> Self {
        Self {
            id: o.id.into(),
            name: o.name.clone(),
            kind: OrganizationKind::parse(&o.kind).unwrap_or(OrganizationKind::Enterprise),
            tax_code: o.tax_code.clone(),
            province: o.province.clone(),
            address: o.address.clone(),
            website: o.website.clone(),
            description: o.description.clone(),
            sectors: store::parse_list(&o.sectors),
            services: store::parse_list(&o.services)
                .iter()
                .filter_map(|s| serde_json::from_value(serde_json::Value::String(s.clone())).ok())
                .collect(),
            verified: o.verified,
            verified_at: o.verified_at.map(utc),
            created_at: utc(o.created_at),
            updated_at: utc(o.updated_at),
            version: o.version,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrganizationRequest {
    #[schema(example = "Viện Công nghệ sinh học")]
    pub name: String,
    pub kind: OrganizationKind,
    /// Vietnamese tax code: 10 digits, optionally `-` and a 3-digit branch number.
    pub tax_code: Option<String>,
    /// A province code from `/taxonomy/provinces`.
    #[schema(example = "thanh-hoa")]
    pub province: String,
    pub address: Option<String>,
    pub website: Option<String>,
    pub description: Option<String>,
    #[serde(default)]
    pub sectors: Vec<String>,
    /// Only for intermediaries.
    #[serde(default)]
    pub services: Vec<IntermediaryService>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrganizationRequest {
    pub name: Option<String>,
    pub tax_code: Option<String>,
    pub province: Option<String>,
    pub address: Option<String>,
    pub website: Option<String>,
    pub description: Option<String>,
    pub sectors: Option<Vec<String>>,
    pub services: Option<Vec<IntermediaryService>>,
}

fn is_tax_code(code: &str) -> bool {
    let (main, branch) = code.split_once('-').map_or((code, None), |(m, b)| (m, Some(b)));
    main.len() == 10
        && main.bytes().all(|b| b.is_ascii_digit())
        && branch.is_none_or(|b| b.len() == 3 && b.bytes().all(|c| c.is_ascii_digit()))
}

fn clean(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// Validates a full profile (after a PATCH is merged, too), naming every bad field.
fn validate(profile: &Profile) -> Result<(), ApiError> {
    let mut v = Validator::new();
    v.text("name", &profile.name, 200);
    if let Some(tax) = &profile.tax_code {
        v.check(is_tax_code(tax), "tax_code", "must be 10 digits, optionally followed by -NNN");
    }
    v.check(
        taxonomy::province(&profile.province).is_some(),
        "province",
        "is not a known province code",
    );
    v.optional_text("address", profile.address.as_deref(), 300);
    if let Some(website) = &profile.website {
        v.url("website", website);
    }
    v.optional_text("description", profile.description.as_deref(), 5_000);
    v.list("sectors", &profile.sectors, 20, |c| taxonomy::is_sector(c), "sector code");
    v.check(
        profile.services.is_empty() || profile.kind == OrganizationKind::Intermediary.as_str(),
        "services",
        "only intermediaries offer services",
    );
    v.finish()
}

fn services(list: &[IntermediaryService]) -> Vec<String> {
    let mut out: Vec<String> = list.iter().map(|s| s.as_str().to_owned()).collect();
    out.sort();
    out.dedup();
    out
}

fn with_etag(mut response: actix_web::HttpResponseBuilder, org: &OrganizationDto) -> HttpResponse {
    response.insert_header((header::ETAG, etag(org.version))).json(org)
}

/// Register an organisation; the caller becomes its owner. Honours `Idempotency-Key`.
#[utoipa::path(
    tag = "organizations",
    security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry-safe creation: the same key and body return the first response")),
    request_body = CreateOrganizationRequest,
    responses(
        (status = 201, description = "Created", body = OrganizationDto,
         headers(("ETag" = String), ("Location" = String))),
        (status = 422, description = "The Idempotency-Key was used with another body (`idempotency_key_reused`)"),
    )
)]
#[post("/organizations")]
pub async fn create_organization(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    body: Json<CreateOrganizationRequest>,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency_key(&req)?;
    let body = body.0;
    let fingerprint = request_fingerprint(&body);
    let profile = Profile {
        name: body.name.trim().to_owned(),
        kind: body.kind.as_str().to_owned(),
        tax_code: clean(body.tax_code),
        province: body.province,
        address: clean(body.address),
        website: clean(body.website),
        description: clean(body.description),
        sectors: body.sectors,
        services: services(&body.services),
    };
    validate(&profile)?;
    let creator = auth.0.user_id;
    let created = state
        .db
        .run(move |conn| {
            idempotency::create_once(conn, creator, key.as_deref(), &fingerprint, |conn| {
                let org = store::create(conn, &profile, creator)?;
                serde_json::to_value(OrganizationDto::from(&org)).map_err(ApiError::internal_from)
            })
        })
        .await?;
    Ok(crate::api::common::created_response("/api/v1/organizations", created))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrganizationFilter {
    /// Part of the name; accents and case are ignored ("vien cong nghe" finds "Viện Công nghệ").
    pub q: Option<String>,
    #[param(inline)]
    pub kind: Option<OrganizationKind>,
    pub province: Option<String>,
    /// A sector code; a field code ("4") also matches its sub-fields ("4.1").
    pub sector: Option<String>,
    #[param(inline)]
    pub service: Option<IntermediaryService>,
    pub verified: Option<bool>,
}

/// Search organisations (public).
#[utoipa::path(
    tag = "organizations",
    params(OrganizationFilter, PageParams),
    responses((status = 200, body = Page<OrganizationDto>))
)]
#[get("/organizations")]
pub async fn list_organizations(
    state: web::Data<AppState>,
    filter: Query<OrganizationFilter>,
    paging: Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let page = paging.0.resolve()?;
    let f = filter.0;
    let mut v = Validator::new();
    v.optional_text("q", f.q.as_deref(), 200);
    if let Some(province) = f.province.as_deref() {
        v.check(
            crate::domain::taxonomy::province(province).is_some(),
            "province",
            "is not a known province code",
        );
    }
    if let Some(sector) = f.sector.as_deref() {
        v.check(crate::domain::taxonomy::is_sector(sector), "sector", "is not a known sector code");
    }
    v.finish()?;
    let filter = store::Filter {
        q: f.q,
        kind: f.kind.map(|k| k.as_str().to_owned()),
        province: f.province,
        sector: f.sector,
        service: f.service.map(|s| s.as_str().to_owned()),
        verified: f.verified,
    };
    let (items, total) =
        state.db.run(move |conn| store::list(conn, &filter, page.offset(), page.limit())).await?;
    // Public profiles, the same for every caller; the middleware adds the weak ETag.
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, Policy::Public.cache_control()))
        .json(Page::new(items.iter().map(OrganizationDto::from).collect(), page, total)))
}

/// An organisation's public profile.
#[utoipa::path(
    tag = "organizations",
    params(("id" = uuid::Uuid, Path), ("If-None-Match" = Option<String>, Header, description = IF_NONE_MATCH_DOC)),
    responses(
        (status = 200, body = OrganizationDto, headers(("ETag" = String), ("Cache-Control" = String))),
        (status = 304, description = "Not modified: `If-None-Match` names the current `ETag`", headers(("ETag" = String), ("Cache-Control" = String))),
        (status = 404, description = "No such organisation"),
    )
)]
#[get("/organizations/{id}")]
pub async fn get_organization(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id: OrganizationId = path.0.into();
    let org = state.db.run(move |conn| store::get(conn, id)).await?;
    // The same public profile for everybody, signed in or not: any cache may keep it, and
    // the version counts every change (verification too).
    cache::respond(&req, &etag(org.version), Policy::Public, None, || {
        Ok(OrganizationDto::from(&org))
    })
}

/// Change the profile (owners). Needs `If-Match` with the current `ETag`.
#[utoipa::path(
    tag = "organizations",
    security(("bearer" = [])),
    params(
        ("id" = uuid::Uuid, Path),
        ("If-Match" = String, Header, description = "The ETag you last read"),
    ),
    request_body = UpdateOrganizationRequest,
    responses(
        (status = 200, body = OrganizationDto, headers(("ETag" = String))),
        (status = 403, description = "Not an owner"),
        (status = 404, description = "No such organisation"),
    )
)]
#[patch("/organizations/{id}")]
pub async fn update_organization(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<uuid::Uuid>,
    body: Json<UpdateOrganizationRequest>,
) -> Result<HttpResponse, ApiError> {
    let id: OrganizationId = path.0.into();
    let actor = auth.0;
    let org = state.db.run(move |conn| store::get(conn, id)).await?;
    policy::organization(&actor, id, OrgAction::Update)?;
    let expected = if_match(&req)?;
    let b = body.0;
    let mut profile = store::profile_of(&org);
    if let Some(name) = b.name {
        profile.name = name.trim().to_owned();
    }
    if b.tax_code.is_some() {
        profile.tax_code = clean(b.tax_code);
    }
    if let Some(province) = b.province {
        profile.province = province;
    }
    if b.address.is_some() {
        profile.address = clean(b.address);
    }
    if b.website.is_some() {
        profile.website = clean(b.website);
    }
    if b.description.is_some() {
        profile.description = clean(b.description);
    }
    if let Some(sectors) = b.sectors {
        profile.sectors = sectors;
    }
    if let Some(list) = b.services {
        profile.services = services(&list);
    }
    validate(&profile)?;
    let org = state.db.run(move |conn| store::update(conn, id, expected, &profile)).await?;
    Ok(with_etag(HttpResponse::Ok(), &OrganizationDto::from(&org)))
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VerificationStatus {
    Verified,
    Revoked,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerificationRequest {
    pub status: VerificationStatus,
    pub note: Option<String>,
}

/// Mark an organisation verified or revoke it (moderators).
#[utoipa::path(
    tag = "organizations",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path)),
    request_body = VerificationRequest,
    responses(
        (status = 200, body = OrganizationDto),
        (status = 403, description = "Staff only"),
        (status = 404, description = "No such organisation"),
    )
)]
#[post("/organizations/{id}/verification")]
pub async fn verify_organization(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<uuid::Uuid>,
    body: Json<VerificationRequest>,
) -> Result<HttpResponse, ApiError> {
    let id: OrganizationId = path.0.into();
    let actor = auth.0;
    policy::organization(&actor, id, OrgAction::Verify)?;
    let body = body.0;
    let mut v = Validator::new();
    v.optional_text("note", body.note.as_deref(), 2_000);
    v.finish()?;
    let verified = matches!(body.status, VerificationStatus::Verified);
    let org = state
        .db
        .run(move |conn| {
            dialect::write_transaction(conn, |conn| {
                store::set_verification(conn, id, verified, body.note.as_deref(), actor.user_id)
            })
        })
        .await?;
    Ok(with_etag(HttpResponse::Ok(), &OrganizationDto::from(&org)))
}

/// The organisation routes, in the order the OpenAPI document lists them.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_organization)
        .service(list_organizations)
        .service(get_organization)
        .service(update_organization)
        .service(members::list_members)
        .service(members::set_member_role)
        .service(members::remove_member)
        .service(invitations::invite_member)
        .service(invitations::list_invitations)
        .service(invitations::revoke_invitation)
        .service(invitations::accept_invitation)
        .service(verify_organization);
}
