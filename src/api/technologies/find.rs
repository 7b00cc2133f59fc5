//! Searching published listings (Vietnamese-aware, typo-forgiving, faceted) and an
//! organisation's portfolio.

use actix_web::{HttpRequest, HttpResponse, get, web};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::view::{TechnologySummaryDto, summary};
use crate::api::common::{Page, PageParams};
use crate::api::extract::{Path, Query};
use crate::api::search::{self as api_search, Asked, CachedPage, Scope, SearchPage, check_code};
use crate::api::validate::Validator;
use crate::auth::extract::MaybeAuth;
use crate::auth::policy;
use crate::db::types::OrganizationId;
use crate::domain::listing::{self, FundingLevel, Kind, RightsStatus};
use crate::domain::moderation::Status;
use crate::domain::taxonomy;
use crate::error::ApiError;
use crate::search::{DocType, FacetName, Filters, Order};
use crate::state::AppState;
use crate::store::organizations;
use crate::store::technologies::{self as store, Filter, Sort};

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

impl TechnologySearch {
    /// The parameters every listing and demand search takes.
    fn asked(&self) -> Asked<'_> {
        Asked {
            sector: self.sector.as_deref(),
            province: self.province.as_deref(),
            status: self.status,
            q: self.q.as_deref(),
            facets: self.facets.as_deref(),
        }
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
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: MaybeAuth,
    params: Query<TechnologySearch>,
    paging: Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let p = params.0;
    let more = |v: &mut Validator| {
        check_code(
            v,
            "transfer_form",
            p.transfer_form.as_deref(),
            |c| taxonomy::is_term(taxonomy::TRANSFER_FORMS, c),
            "transfer form",
        );
        check_code(
            v,
            "ip_type",
            p.ip_type.as_deref(),
            |c| taxonomy::is_term(taxonomy::IP_TYPES, c),
            "IP type",
        );
        check_code(
            v,
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
    };
    let scope =
        Scope::read(&paging.0, p.asked(), more, auth.0.as_ref(), &FacetName::ALL, "listings")?;
    let sort = match p.sort {
        Some(SortParam::Relevance) | None if scope.text.is_some() => Sort::Relevance,
        Some(SortParam::Relevance | SortParam::Newest) | None => Sort::Newest,
        Some(SortParam::PriceAsc) => Sort::PriceAsc,
        Some(SortParam::PriceDesc) => Sort::PriceDesc,
    };
    if scope.status != Status::Published {
        let filter = Filter {
            statuses: vec![scope.status],
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
            organization_id: p.organization_id.map(OrganizationId::from),
            verified_only: p.verified_only.unwrap_or(false),
        };
        let page = scope.page;
        let (items, total) = state
            .db
            .run(move |conn| store::search(conn, &filter, sort, page.offset(), page.limit()))
            .await?;
        let items = items.iter().map(|l| summary(l, None)).collect();
        return Ok(HttpResponse::Ok().json(SearchPage::new(items, page, total, None)));
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
        organization: p.organization_id.map(OrganizationId::from),
        verified_only: p.verified_only.unwrap_or(false),
        ..Filters::default()
    };
    let order = match sort {
        Sort::Relevance => Order::Relevance,
        Sort::Newest => Order::Newest,
        Sort::PriceAsc => Order::PriceAsc,
        Sort::PriceDesc => Order::PriceDesc,
    };
    // A published listing's summary is the same for every caller.
    let cached = match CachedPage::lookup(&state, &req) {
        Ok(miss) => miss,
        Err(page) => return Ok(page),
    };
    let body =
        api_search::found_page(&state, DocType::Technology, scope, filters, order, summary).await?;
    cached.keep(&state, &body)
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
    let org: OrganizationId = path.0.into();
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
