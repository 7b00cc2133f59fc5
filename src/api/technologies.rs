//! Technology listings (technologies, equipment, research results): create, read, edit,
//! moderate, expire, and search with Vietnamese-aware full text.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::cache::{self, Policy};
use crate::api::common::{
    Page, PageParams, idempotency_key, if_match, precondition_failed, request_fingerprint,
};
use crate::api::extract::{Json, Path, Query};
use crate::api::search::{self as api_search, SearchPage};
use crate::api::validate::Validator;
use crate::auth::Actor;
use crate::auth::extract::{Auth, MaybeAuth};
use crate::auth::policy::{self, ListingAction, OrgAction, PlatformAction};
use crate::db::types::{Id, now, utc};
use crate::db::{DbConn, dialect};
use crate::domain::lang::Lang;
use crate::domain::listing::{
    self, ContactVisibility, Content, FundingLevel, IpRecord, Kind, Price, Research, RightsStatus,
    Status, TransferOffer, Transition,
};
use crate::domain::search::{self, Highlight, SearchQuery};
use crate::domain::taxonomy;
use crate::error::ApiError;
use crate::search::{DocType, FacetName, Filters, Order};
use crate::state::AppState;
use crate::store::technologies::{self as store, Filter, Listing, Sort};
use crate::store::{idempotency, organizations, users};

/// The organisation offering a listing.
#[derive(Debug, Serialize, ToSchema)]
pub struct OwnerDto {
    pub id: uuid::Uuid,
    #[schema(example = "Viện Công nghệ sinh học")]
    pub name: String,
    /// Checked by exchange staff.
    pub verified: bool,
}

/// Who to contact about a listing; shown as the owner's `contact_visibility` allows.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactDto {
    #[schema(example = "Nguyễn Thị Lan")]
    pub name: String,
    #[schema(example = "lan.nguyen@vast.vn")]
    pub email: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TechnologyDto {
    pub id: uuid::Uuid,
    pub organization: OwnerDto,
    pub kind: Kind,
    pub status: Status,
    /// Language the text is written in.
    pub language: Lang,
    #[schema(example = "Quy trình nhân giống lan bằng nuôi cấy mô")]
    pub title: String,
    /// Public summary, at most 500 characters.
    pub summary: String,
    pub description: String,
    pub advantages: Option<String>,
    pub applications: Option<String>,
    /// FORD sector codes.
    #[schema(example = json!(["4.4"]))]
    pub sectors: Vec<String>,
    pub keywords: Vec<String>,
    /// Technology readiness level, 1–9.
    #[schema(minimum = 1, maximum = 9)]
    pub trl: Option<u8>,
    pub ip_records: Vec<IpRecord>,
    pub transfer_forms: Vec<TransferOffer>,
    pub price: Option<Price>,
    #[schema(example = "thanh-hoa")]
    pub province: String,
    pub contact_visibility: ContactVisibility,
    /// Absent when `contact_visibility` hides it from the caller.
    pub contact: Option<ContactDto>,
    /// Present for `research_result` listings.
    pub research: Option<Research>,
    /// Why a moderator rejected it (status `rejected`, until resubmitted).
    pub rejection_reason: Option<String>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub published_at: Option<DateTime<Utc>>,
    /// When a published listing leaves the exchange unless renewed.
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Send as `If-Match` (the `ETag`) when changing the listing.
    pub version: i32,
}

/// A listing in a result list.
#[derive(Debug, Serialize, ToSchema)]
pub struct TechnologySummaryDto {
    pub id: uuid::Uuid,
    pub organization: OwnerDto,
    pub kind: Kind,
    pub status: Status,
    pub title: String,
    pub summary: String,
    pub sectors: Vec<String>,
    #[schema(minimum = 1, maximum = 9)]
    pub trl: Option<u8>,
    pub price: Option<Price>,
    pub province: String,
    /// The offers, as in the listing itself (one shape in lists and in the detail).
    pub transfer_forms: Vec<TransferOffer>,
    pub published_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    /// With `q`: an excerpt around the first match, HTML-escaped, matching words wrapped in
    /// `<mark>…</mark>`, `…` where the text was cut.
    #[schema(example = "…chế phẩm dùng để <mark>điều</mark> <mark>trị</mark> bệnh đạo ôn…")]
    pub snippet: Option<String>,
}

fn owner(l: &Listing) -> OwnerDto {
    OwnerDto {
        id: l.organization_id.into(),
        name: l.organization_name.clone(),
        verified: l.organization_verified,
    }
}

fn dto(l: Listing, contact: Option<ContactDto>) -> TechnologyDto {
    let c = l.content;
    TechnologyDto {
        id: l.id.into(),
        organization: OwnerDto {
            id: l.organization_id.into(),
            name: l.organization_name,
            verified: l.organization_verified,
        },
        kind: c.kind,
        status: l.status,
        language: c.language,
        title: c.title,
        summary: c.summary,
        description: c.description,
        advantages: c.advantages,
        applications: c.applications,
        sectors: c.sectors,
        keywords: c.keywords,
        trl: c.trl,
        ip_records: c.ip_records,
        transfer_forms: c.transfer_forms,
        price: c.price,
        province: c.province,
        contact_visibility: c.contact_visibility,
        contact,
        research: c.research,
        rejection_reason: l.rejection_reason,
        submitted_at: l.submitted_at.map(utc),
        published_at: l.published_at.map(utc),
        expires_at: l.expires_at.map(utc),
        created_at: utc(l.created_at),
        updated_at: utc(l.updated_at),
        version: l.version,
    }
}

/// The listing as `actor` may see it (the contact person only where allowed).
fn present(
    conn: &mut DbConn,
    actor: Option<&Actor>,
    listing: Listing,
) -> Result<TechnologyDto, ApiError> {
    let contact = if contact_visible(actor, &listing) {
        users::find(conn, listing.created_by)?
            .map(|u| ContactDto { name: u.display_name, email: u.email })
    } else {
        None
    };
    Ok(dto(listing, contact))
}

fn contact_visible(actor: Option<&Actor>, listing: &Listing) -> bool {
    policy::listing_contact_visible(
        actor,
        listing.organization_id,
        listing.content.contact_visibility,
    )
}

/// The ETag of a listing or demand as shown: its version, and a digest of the owner and
/// contact person it shows (they change without the version changing).
pub(crate) fn shown_etag(
    version: i32,
    owner: Option<(&str, bool)>,
    contact: Option<&ContactDto>,
) -> String {
    cache::joined_etag(version, (owner, contact.map(|c| (&c.name, &c.email))))
}

fn etag_of(body: &TechnologyDto) -> String {
    shown_etag(
        body.version,
        Some((&body.organization.name, body.organization.verified)),
        body.contact.as_ref(),
    )
}

/// Where the query matched: the field covering most of it (the summary first on a tie).
fn snippet_for(l: &Listing, query: &Highlight) -> Option<String> {
    let c = &l.content;
    let keywords = c.keywords.join(", ");
    let research = c.research.iter().flat_map(|r| {
        [
            r.programme.as_deref(),
            Some(r.task_code.as_str()),
            Some(r.host_organization.as_str()),
            Some(r.managing_agency.as_str()),
        ]
    });
    let texts = [
        Some(c.summary.as_str()),
        Some(c.title.as_str()),
        Some(c.description.as_str()),
        c.advantages.as_deref(),
        c.applications.as_deref(),
        Some(keywords.as_str()),
    ];
    search::best_snippet(texts.into_iter().chain(research).flatten(), query, search::SNIPPET_CHARS)
}

pub(crate) fn summary(l: &Listing, query: Option<&Highlight>) -> TechnologySummaryDto {
    let c = &l.content;
    TechnologySummaryDto {
        id: l.id.into(),
        organization: owner(l),
        kind: c.kind,
        status: l.status,
        title: c.title.clone(),
        summary: c.summary.clone(),
        sectors: c.sectors.clone(),
        trl: c.trl,
        price: c.price.clone(),
        province: c.province.clone(),
        transfer_forms: c.transfer_forms.clone(),
        published_at: l.published_at.map(utc),
        expires_at: l.expires_at.map(utc),
        updated_at: utc(l.updated_at),
        snippet: query.and_then(|q| snippet_for(l, q)),
    }
}

fn with_etag(mut response: actix_web::HttpResponseBuilder, body: &TechnologyDto) -> HttpResponse {
    response.insert_header((header::ETAG, etag_of(body))).json(body)
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTechnologyRequest {
    /// The organisation offering it; the caller must be a member.
    pub organization_id: uuid::Uuid,
    pub kind: Kind,
    /// At most 200 characters.
    #[schema(example = "Quy trình nhân giống lan bằng nuôi cấy mô")]
    pub title: String,
    /// Public summary, at most 500 characters.
    #[schema(example = "Nhân nhanh giống lan Hồ Điệp sạch bệnh, hệ số nhân 5–7 lần sau 8 tuần.")]
    pub summary: String,
    /// At most 20 000 characters.
    pub description: String,
    /// At most 5 000 characters.
    pub advantages: Option<String>,
    /// At most 5 000 characters.
    pub applications: Option<String>,
    /// 1–10 FORD sector codes from `/taxonomy/sectors`.
    #[schema(example = json!(["4.4"]))]
    pub sectors: Vec<String>,
    /// At most 20, each at most 60 characters.
    #[serde(default)]
    #[schema(example = json!(["nuôi cấy mô", "hoa lan"]))]
    pub keywords: Vec<String>,
    #[schema(minimum = 1, maximum = 9, example = 7)]
    pub trl: Option<u8>,
    /// At most 20.
    #[serde(default)]
    pub ip_records: Vec<IpRecord>,
    /// At least one; each form once.
    pub transfer_forms: Vec<TransferOffer>,
    pub price: Option<Price>,
    /// A province code from `/taxonomy/provinces`.
    #[schema(example = "thanh-hoa")]
    pub province: String,
    /// Default `members`.
    pub contact_visibility: Option<ContactVisibility>,
    /// Language of the text; default `vi`.
    pub language: Option<Lang>,
    /// Required for `research_result`, refused otherwise.
    pub research: Option<Research>,
}

impl CreateTechnologyRequest {
    fn content(&self) -> Content {
        Content {
            kind: self.kind,
            language: self.language.unwrap_or_default(),
            title: self.title.clone(),
            summary: self.summary.clone(),
            description: self.description.clone(),
            advantages: self.advantages.clone(),
            applications: self.applications.clone(),
            sectors: self.sectors.clone(),
            keywords: self.keywords.clone(),
            trl: self.trl,
            ip_records: self.ip_records.clone(),
            transfer_forms: self.transfer_forms.clone(),
            price: self.price.clone(),
            province: self.province.clone(),
            contact_visibility: self.contact_visibility.unwrap_or(ContactVisibility::Members),
            research: self.research.clone(),
        }
        .normalized()
    }
}

/// A field that is present (even as `null`) is `Some`, so a PATCH tells "leave it" (absent)
/// from "clear it" (`null`).
pub(crate) fn present_field<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Fields to change; absent fields stay, `null` clears an optional one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTechnologyRequest {
    pub kind: Option<Kind>,
    pub title: Option<String>,
    pub summary: Option<String>,
    pub description: Option<String>,
    #[serde(default, deserialize_with = "present_field")]
    #[schema(value_type = Option<String>)]
    pub advantages: Option<Option<String>>,
    #[serde(default, deserialize_with = "present_field")]
    #[schema(value_type = Option<String>)]
    pub applications: Option<Option<String>>,
    pub sectors: Option<Vec<String>>,
    pub keywords: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present_field")]
    #[schema(value_type = Option<u8>, minimum = 1, maximum = 9)]
    pub trl: Option<Option<u8>>,
    pub ip_records: Option<Vec<IpRecord>>,
    pub transfer_forms: Option<Vec<TransferOffer>>,
    #[serde(default, deserialize_with = "present_field")]
    #[schema(value_type = Option<Price>)]
    pub price: Option<Option<Price>>,
    pub province: Option<String>,
    pub contact_visibility: Option<ContactVisibility>,
    pub language: Option<Lang>,
    #[serde(default, deserialize_with = "present_field")]
    #[schema(value_type = Option<Research>)]
    pub research: Option<Option<Research>>,
}

impl UpdateTechnologyRequest {
    fn apply(self, mut c: Content) -> Content {
        macro_rules! set {
            ($($field:ident),*) => {$(
                if let Some(value) = self.$field {
                    c.$field = value;
                }
            )*};
        }
        set!(kind, title, summary, description, advantages, applications, sectors, keywords, trl);
        set!(ip_records, transfer_forms, price, province, contact_visibility, language, research);
        c.normalized()
    }
}

fn validate(content: &Content) -> Result<(), ApiError> {
    let errors = listing::validate(content, now().date());
    if errors.is_empty() { Ok(()) } else { Err(ApiError::validation(errors)) }
}

fn invalid_transition(status: Status, transition: Transition) -> ApiError {
    invalid_transition_of("listing", status, transition)
}

/// 409 for a moderation transition not allowed from `status` (listings and demands).
pub(crate) fn invalid_transition_of(
    noun: &str,
    status: Status,
    transition: Transition,
) -> ApiError {
    ApiError::conflict(
        "invalid_transition",
        format!("A {noun} that is {} cannot be {}.", status.as_str(), transition.verb()),
    )
}

/// Loads the listing in a write transaction, checks that the caller may see it and act
/// (404/403), that they read the current version (428/412) and that `transition` is allowed
/// from its state (409); then `apply` makes the change, moving it to the returned state.
async fn change<T: Send + 'static>(
    state: &AppState,
    req: &HttpRequest,
    actor: Actor,
    id: Id,
    action: ListingAction,
    transition: Option<Transition>,
    apply: impl FnOnce(&mut DbConn, &Actor, &Listing, Status) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    // Read now, judged after visibility: a caller who may not see the listing gets 404,
    // not 428.
    let expected = if_match(req);
    state
        .db
        .run(move |conn| {
            dialect::write_transaction(conn, |conn| {
                let listing = store::get(conn, id)?;
                policy::listing(
                    Some(&actor),
                    listing.organization_id,
                    listing.status.is_public(),
                    action,
                )?;
                if expected? != listing.version {
                    return Err(precondition_failed());
                }
                let to = match transition {
                    Some(t) => listing
                        .status
                        .next(t)
                        .ok_or_else(|| invalid_transition(listing.status, t))?,
                    None => listing.status,
                };
                apply(conn, &actor, &listing, to)
            })
        })
        .await
}

pub(crate) const IF_MATCH_DOC: &str = "The ETag you last read";
pub(crate) const IF_NONE_MATCH_DOC: &str = "ETags you hold: 304 without a body when one is current";

/// Create a draft listing for an organisation you belong to. Honours `Idempotency-Key`.
#[utoipa::path(
    tag = "technologies",
    security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry-safe creation: the same key and body return the first response")),
    request_body = CreateTechnologyRequest,
    responses(
        (status = 201, description = "Created as a draft", body = TechnologyDto,
         headers(("ETag" = String), ("Location" = String))),
        (status = 403, description = "Not a member of the organisation"),
        (status = 422, description = "The Idempotency-Key was used with another body (`idempotency_key_reused`)"),
    )
)]
#[post("/technologies")]
pub async fn create_technology(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    body: Json<CreateTechnologyRequest>,
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
                let listing = store::create(conn, organization, actor.user_id, &content)?;
                let body = present(conn, Some(&actor), listing)?;
                serde_json::to_value(body).map_err(ApiError::internal_from)
            })
        })
        .await?;
    Ok(crate::api::common::created_response("/api/v1/technologies", created))
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SortParam {
    /// Best match first (the default with `q`).
    Relevance,
    /// Latest published first (the default without `q`).
    Newest,
    /// Lowest asked amount first; combine with `currency`. Unpriced listings last.
    PriceAsc,
    PriceDesc,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TechnologySearch {
    /// Free text. Accents and case are ignored ("cong nghe sinh hoc" finds "Công nghệ sinh
    /// học"), accents typed are preferred; every word is optional and results holding more of
    /// them come first; one-letter typos are forgiven (two from 8 letters); the last word
    /// also matches as a prefix unless followed by a space; spelling variants (vaccine / vắc
    /// xin) are synonyms. Operators and punctuation are ignored; at most 12 words are used.
    pub q: Option<String>,
    #[param(inline)]
    pub kind: Option<Kind>,
    /// A sector code; a field code ("4") also matches its sub-fields ("4.1").
    pub sector: Option<String>,
    #[param(minimum = 1, maximum = 9)]
    pub trl_min: Option<u8>,
    #[param(minimum = 1, maximum = 9)]
    pub trl_max: Option<u8>,
    /// Listings whose lowest asked amount (minor units) is at most this; needs `currency`.
    #[param(minimum = 0)]
    pub price_max: Option<i64>,
    /// ISO 4217 code of the price.
    pub currency: Option<String>,
    pub province: Option<String>,
    /// A transfer form code offered.
    pub transfer_form: Option<String>,
    /// An IP type code held.
    pub ip_type: Option<String>,
    #[param(inline)]
    pub funding_level: Option<FundingLevel>,
    #[param(inline)]
    pub rights_status: Option<RightsStatus>,
    pub organization_id: Option<uuid::Uuid>,
    /// Only listings of organisations verified by the exchange.
    pub verified_only: Option<bool>,
    /// Moderators only: list listings in another state (e.g. `pending_review`, the review
    /// queue). Everybody else searches published listings.
    #[param(inline)]
    pub status: Option<Status>,
    #[param(inline)]
    pub sort: Option<SortParam>,
    /// Comma-separated facets to count over the whole result (published listings only):
    /// `kind`, `sector`, `province`, `trl`, `transfer_form`, `ip_type`, `funding_level`,
    /// `rights_status`, `currency`, `verified`. Unknown names: 400.
    #[param(example = "sector,province,kind")]
    pub facets: Option<String>,
}

pub(crate) fn check_code(
    v: &mut Validator,
    field: &str,
    value: Option<&str>,
    known: impl Fn(&str) -> bool,
    what: &str,
) {
    if let Some(value) = value {
        v.check(known(value), field, &format!("is not a known {what}"));
    }
}

/// Search and browse published listings (public), best match first with `q`, with facet
/// counts on request (`facets`). Moderators may list any `status` (without `q` or `facets`).
#[utoipa::path(
    security((), ("bearer" = [])),
    tag = "technologies",
    params(TechnologySearch, PageParams),
    responses(
        (status = 200, body = SearchPage<TechnologySummaryDto>),
        (status = 401, description = "`status` other than published without signing in"),
        (status = 403, description = "`status` other than published: staff only"),
    )
)]
#[get("/technologies")]
pub async fn search_technologies(
    state: web::Data<AppState>,
    auth: MaybeAuth,
    params: Query<TechnologySearch>,
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
    check_code(
        &mut v,
        "transfer_form",
        p.transfer_form.as_deref(),
        |c| taxonomy::is_term(taxonomy::TRANSFER_FORMS, c),
        "transfer form",
    );
    check_code(
        &mut v,
        "ip_type",
        p.ip_type.as_deref(),
        |c| taxonomy::is_term(taxonomy::IP_TYPES, c),
        "IP type",
    );
    check_code(
        &mut v,
        "currency",
        p.currency.as_deref(),
        listing::is_currency,
        "ISO 4217 currency code",
    );
    for (field, trl) in [("trl_min", p.trl_min), ("trl_max", p.trl_max)] {
        v.check(trl.is_none_or(|t| (1..=9).contains(&t)), field, "must be between 1 and 9");
    }
    if let (Some(min), Some(max)) = (p.trl_min, p.trl_max) {
        v.check(min <= max, "trl_min", "must not exceed trl_max");
    }
    if let Some(max) = p.price_max {
        v.check(max >= 0, "price_max", "must not be negative");
        v.check(p.currency.is_some(), "currency", "is required with price_max");
    }
    v.finish()?;
    let status = p.status.unwrap_or(Status::Published);
    if status != Status::Published {
        let actor = auth
            .0
            .as_ref()
            .ok_or_else(|| ApiError::unauthorized("Sign in: this needs an access token."))?;
        policy::platform(actor, PlatformAction::Moderate)?;
    }
    let text = p.q.as_deref().and_then(SearchQuery::parse);
    let sort = match p.sort {
        Some(SortParam::Relevance) | None if text.is_some() => Sort::Relevance,
        Some(SortParam::Relevance | SortParam::Newest) | None => Sort::Newest,
        Some(SortParam::PriceAsc) => Sort::PriceAsc,
        Some(SortParam::PriceDesc) => Sort::PriceDesc,
    };
    let facets = api_search::parse_facets(p.facets.as_deref(), &FacetName::ALL)?;
    if status != Status::Published {
        // Staff queues are not public data: SQL over every state, no text or facets.
        if text.is_some() || !facets.is_empty() {
            return Err(ApiError::invalid(
                if text.is_some() { "q" } else { "facets" },
                "is available for published listings only",
            ));
        }
        let filter = Filter {
            statuses: vec![status],
            kind: p.kind,
            sector: p.sector,
            trl_min: p.trl_min,
            trl_max: p.trl_max,
            price_max: p.price_max,
            currency: p.currency,
            province: p.province,
            transfer_form: p.transfer_form,
            ip_type: p.ip_type,
            funding_level: p.funding_level,
            rights_status: p.rights_status,
            organization_id: p.organization_id.map(Id::from),
            verified_only: p.verified_only.unwrap_or(false),
        };
        let (items, total) = state
            .db
            .run(move |conn| store::search(conn, &filter, sort, page.offset(), page.limit()))
            .await?;
        let items = items.iter().map(|l| summary(l, None)).collect();
        return Ok(HttpResponse::Ok().json(SearchPage {
            items,
            page: page.page,
            per_page: page.per_page,
            total,
            facets: None,
        }));
    }
    let filters = Filters {
        kind: p.kind.map(|k| k.as_str().to_owned()),
        sector: p.sector,
        province: p.province,
        trl_min: p.trl_min,
        trl_max: p.trl_max,
        price_max: p.price_max,
        currency: p.currency,
        transfer_form: p.transfer_form,
        ip_type: p.ip_type,
        funding_level: p.funding_level.map(|f| f.as_str().to_owned()),
        rights_status: p.rights_status.map(|r| r.as_str().to_owned()),
        organization: p.organization_id.map(Id::from),
        verified_only: p.verified_only.unwrap_or(false),
        ..Filters::default()
    };
    let order = match sort {
        Sort::Relevance => Order::Relevance,
        Sort::Newest => Order::Newest,
        Sort::PriceAsc => Order::PriceAsc,
        Sort::PriceDesc => Order::PriceDesc,
    };
    let with_text = text.is_some();
    let hits =
        api_search::find(&state, DocType::Technology, text, filters, order, page, facets).await?;
    let ids = hits.ids.clone();
    let mut items = state.db.run(move |conn| store::load(conn, &ids)).await?;
    items.sort_by_key(|l| hits.ids.iter().position(|id| *id == l.id));
    let highlight = with_text.then_some(&hits.highlight);
    let items = items.iter().map(|l| summary(l, highlight)).collect();
    Ok(HttpResponse::Ok().json(SearchPage {
        items,
        page: page.page,
        per_page: page.per_page,
        total: hits.total,
        facets: hits.facets,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PortfolioParams {
    /// Only listings in this state. Members of the organisation and staff see every state;
    /// others see published listings only.
    #[param(inline)]
    pub status: Option<Status>,
}

/// An organisation's listings, newest first: all of them for its members and staff,
/// the published ones for everybody else.
#[utoipa::path(
    security((), ("bearer" = [])),
    tag = "technologies",
    params(("id" = uuid::Uuid, Path), PortfolioParams, PageParams),
    responses(
        (status = 200, body = Page<TechnologySummaryDto>),
        (status = 404, description = "No such organisation"),
    )
)]
#[get("/organizations/{id}/technologies")]
pub async fn organization_technologies(
    state: web::Data<AppState>,
    auth: MaybeAuth,
    path: Path<uuid::Uuid>,
    params: Query<PortfolioParams>,
    paging: Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let page = paging.0.resolve()?;
    let org: Id = path.0.into();
    let all_states = policy::sees_unpublished_listings(auth.0.as_ref(), org);
    let statuses = match (params.0.status, all_states) {
        (Some(status), true) => vec![status],
        (None, true) => Vec::new(),
        (Some(Status::Published) | None, false) => vec![Status::Published],
        // Asking an outsider's view for drafts: there are none to show.
        (Some(_), false) => {
            return Ok(HttpResponse::Ok().json(Page::<TechnologySummaryDto>::new(
                Vec::new(),
                page,
                0,
            )));
        }
    };
    let filter = Filter { statuses, organization_id: Some(org), ..Filter::default() };
    let (items, total) = state
        .db
        .run(move |conn| {
            organizations::get(conn, org)?;
            store::search(conn, &filter, Sort::Newest, page.offset(), page.limit())
        })
        .await?;
    let items = items.iter().map(|l| summary(l, None)).collect();
    Ok(HttpResponse::Ok().json(Page::new(items, page, total)))
}

/// A listing. Published ones are public; others only for the owning organisation's members
/// and staff (404 for everybody else).
#[utoipa::path(
    security((), ("bearer" = [])),
    tag = "technologies",
    params(("id" = uuid::Uuid, Path), ("If-None-Match" = Option<String>, Header, description = IF_NONE_MATCH_DOC)),
    responses(
        (status = 200, body = TechnologyDto, headers(("ETag" = String), ("Cache-Control" = String), ("Vary" = String))),
        (status = 304, description = "Not modified: `If-None-Match` names the current `ETag`", headers(("ETag" = String), ("Cache-Control" = String), ("Vary" = String))),
        (status = 404, description = "No such listing, or not visible to the caller"),
    )
)]
#[get("/technologies/{id}")]
pub async fn get_technology(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: MaybeAuth,
    path: Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id: Id = path.0.into();
    let actor = auth.0;
    let (listing, contact, actor) = state
        .db
        .run(move |conn| -> Result<_, ApiError> {
            // One statement: the listing, its owner, research data and contact person.
            let (listing, contact) = store::read(conn, id)?;
            policy::listing(
                actor.as_ref(),
                listing.organization_id,
                listing.status.is_public(),
                ListingAction::View,
            )?;
            Ok((listing, contact, actor))
        })
        .await?;
    let contact = contact
        .filter(|_| contact_visible(actor.as_ref(), &listing))
        .map(|c| ContactDto { name: c.name, email: c.email });
    let etag = shown_etag(
        listing.version,
        Some((&listing.organization_name, listing.organization_verified)),
        contact.as_ref(),
    );
    let policy = Policy::for_caller(listing.status.is_public(), actor.is_some());
    cache::respond(&req, &etag, policy, Some(cache::VARY_AUTH), || Ok(dto(listing, contact)))
}

/// Edit a listing (members of the owning organisation). Needs `If-Match`.
///
/// A rejected listing becomes a draft again; a published one goes back to review (hidden
/// until a moderator approves it again); one under review stays there. Archived listings
/// cannot be edited.
#[utoipa::path(
    tag = "technologies",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), ("If-Match" = String, Header, description = IF_MATCH_DOC)),
    request_body = UpdateTechnologyRequest,
    responses(
        (status = 200, body = TechnologyDto, headers(("ETag" = String))),
        (status = 403, description = "Not a member of the owning organisation"),
        (status = 404, description = "No such listing, or not visible to the caller"),
        (status = 409, description = "Archived (`invalid_transition`)"),
        (status = 412, description = "Changed since you read it"),
        (status = 428, description = "`If-Match` missing"),
    )
)]
#[patch("/technologies/{id}")]
pub async fn update_technology(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<uuid::Uuid>,
    body: Json<UpdateTechnologyRequest>,
) -> Result<HttpResponse, ApiError> {
    let patch = body.0;
    let body = change(
        &state,
        &req,
        auth.0,
        path.0.into(),
        ListingAction::Manage,
        Some(Transition::Edit),
        move |conn, actor, listing, to| {
            let content = patch.apply(listing.content.clone());
            validate(&content)?;
            let updated = store::update_content(conn, listing, &content, to)?;
            present(conn, Some(actor), updated)
        },
    )
    .await?;
    Ok(with_etag(HttpResponse::Ok(), &body))
}

/// Delete a listing (members of the owning organisation). Needs `If-Match`. A draft that
/// was never submitted is erased; a listing that was ever submitted (including a rejected
/// one edited back to a draft) is archived instead, so its moderation history and the
/// activity report stay whole. Either way it answers 204.
#[utoipa::path(
    tag = "technologies",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), ("If-Match" = String, Header, description = IF_MATCH_DOC)),
    responses(
        (status = 204, description = "Erased (a never-submitted draft) or archived"),
        (status = 403, description = "Not a member of the owning organisation"),
        (status = 404, description = "No such listing, or not visible to the caller"),
        (status = 409, description = "Already archived (`invalid_transition`)"),
        (status = 412, description = "Changed since you read it"),
        (status = 428, description = "`If-Match` missing"),
    )
)]
#[delete("/technologies/{id}")]
pub async fn delete_technology(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    change(
        &state,
        &req,
        auth.0,
        path.0.into(),
        ListingAction::Manage,
        None,
        |conn, _, listing, _| {
            if listing.status.deletable(listing.submitted_at.is_some()) {
                return Ok(store::delete(conn, listing)?);
            }
            listing
                .status
                .next(Transition::Archive)
                .ok_or_else(|| invalid_transition(listing.status, Transition::Archive))?;
            store::archive(conn, listing).map(|_| ()).map_err(ApiError::from)
        },
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Submit a draft for review (members of the owning organisation). Needs `If-Match`.
#[utoipa::path(
    tag = "technologies",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), ("If-Match" = String, Header, description = IF_MATCH_DOC)),
    responses(
        (status = 200, description = "Now `pending_review`", body = TechnologyDto, headers(("ETag" = String))),
        (status = 403, description = "Not a member of the owning organisation"),
        (status = 404, description = "No such listing, or not visible to the caller"),
        (status = 409, description = "Not a draft (`invalid_transition`); edit a rejected listing first"),
        (status = 412, description = "Changed since you read it"),
        (status = 428, description = "`If-Match` missing"),
    )
)]
#[post("/technologies/{id}/submit")]
pub async fn submit_technology(
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
        ListingAction::Manage,
        Some(Transition::Submit),
        |conn, actor, listing, _| {
            let updated = store::submit(conn, listing)?;
            present(conn, Some(actor), updated)
        },
    )
    .await?;
    Ok(with_etag(HttpResponse::Ok(), &body))
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewDecision {
    Approve,
    Reject,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewRequest {
    pub decision: ReviewDecision,
    /// Required to reject (at most 2 000 characters; mailed to the owners); not for approve.
    #[schema(example = "Thiếu thông tin về văn bằng bảo hộ.")]
    pub reason: Option<String>,
}

/// Approve or reject a listing under review (moderators). Needs `If-Match`, so the version
/// approved is the one read. Approval publishes it until now + `TECHX_LISTING_VALIDITY_DAYS`;
/// either way the owning organisation's owners are mailed. Approval also notifies the
/// standing matches scoring at least `TECHX_MATCH_NOTIFY_THRESHOLD` (once per pair).
#[utoipa::path(
    tag = "technologies",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), ("If-Match" = String, Header, description = IF_MATCH_DOC)),
    request_body = ReviewRequest,
    responses(
        (status = 200, body = TechnologyDto, headers(("ETag" = String))),
        (status = 403, description = "Staff only"),
        (status = 404, description = "No such listing"),
        (status = 409, description = "Not under review (`invalid_transition`)"),
        (status = 412, description = "Changed since you read it"),
        (status = 428, description = "`If-Match` missing"),
    )
)]
#[post("/technologies/{id}/review")]
pub async fn review_technology(
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
        move |conn, actor, listing, _| {
            // Validated above: a rejection carries its reason, an approval none.
            let updated = match (decision, reason) {
                (ReviewDecision::Reject, Some(reason)) => {
                    store::reject(conn, listing, actor.user_id, &reason)?
                }
                _ => {
                    let published = store::approve(conn, listing, actor.user_id, validity)?;
                    // Standing matches, in the publication's transaction.
                    crate::search::matching::notify_for_technology(
                        conn, &search, &published, threshold,
                    )?;
                    published
                }
            };
            present(conn, Some(actor), updated)
        },
    )
    .await?;
    Ok(with_etag(HttpResponse::Ok(), &body))
}

/// Take a listing off the exchange (members of the owning organisation, or staff). Needs
/// `If-Match`. Archived listings stay readable by their organisation; it is final.
#[utoipa::path(
    tag = "technologies",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), ("If-Match" = String, Header, description = IF_MATCH_DOC)),
    responses(
        (status = 200, description = "Now `archived`", body = TechnologyDto, headers(("ETag" = String))),
        (status = 403, description = "Not a member of the owning organisation nor staff"),
        (status = 404, description = "No such listing, or not visible to the caller"),
        (status = 409, description = "Already archived (`invalid_transition`)"),
        (status = 412, description = "Changed since you read it"),
        (status = 428, description = "`If-Match` missing"),
    )
)]
#[post("/technologies/{id}/archive")]
pub async fn archive_technology(
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
        ListingAction::Archive,
        Some(Transition::Archive),
        |conn, actor, listing, _| {
            let updated = store::archive(conn, listing)?;
            present(conn, Some(actor), updated)
        },
    )
    .await?;
    Ok(with_etag(HttpResponse::Ok(), &body))
}

/// Extend a published listing to now + `TECHX_LISTING_VALIDITY_DAYS` (members of the owning
/// organisation). Needs `If-Match`.
#[utoipa::path(
    tag = "technologies",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), ("If-Match" = String, Header, description = IF_MATCH_DOC)),
    responses(
        (status = 200, body = TechnologyDto, headers(("ETag" = String))),
        (status = 403, description = "Not a member of the owning organisation"),
        (status = 404, description = "No such listing, or not visible to the caller"),
        (status = 409, description = "Not published (`invalid_transition`)"),
        (status = 412, description = "Changed since you read it"),
        (status = 428, description = "`If-Match` missing"),
    )
)]
#[post("/technologies/{id}/renew")]
pub async fn renew_technology(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let validity = state.config.listing_validity_days;
    let body = change(
        &state,
        &req,
        auth.0,
        path.0.into(),
        ListingAction::Manage,
        Some(Transition::Renew),
        move |conn, actor, listing, _| {
            let updated = store::renew(conn, listing, validity)?;
            present(conn, Some(actor), updated)
        },
    )
    .await?;
    Ok(with_etag(HttpResponse::Ok(), &body))
}
