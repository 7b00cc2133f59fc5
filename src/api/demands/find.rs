//! Searching published demands (moderators: any status), ranked like listings.

use actix_web::{HttpRequest, HttpResponse, get, web};
use serde::Deserialize;
use utoipa::IntoParams;

use super::{DemandSummaryDto, summary};
use crate::api::common::PageParams;
use crate::api::extract::Query;
use crate::api::search::{self as api_search, Asked, CachedPage, Scope, SearchPage};
use crate::auth::extract::MaybeAuth;
use crate::auth::policy;
use crate::db::types::OrganizationId;
use crate::domain::moderation::Status;
use crate::domain::search::Highlight;
use crate::error::ApiError;
use crate::search::{DocType, FacetName, Filters, Order};
use crate::state::AppState;
use crate::store::demands::{self as store, Demand, Filter};

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

impl DemandSearch {
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
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: MaybeAuth,
    params: Query<DemandSearch>,
    paging: Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let p = params.0;
    let actor = auth.0;
    let scope =
        Scope::read(&paging.0, p.asked(), |_| {}, actor.as_ref(), &DEMAND_FACETS, "demands")?;
    let organization_id = p.organization_id.map(OrganizationId::from);
    // Filtering by organisation must not reveal who posted a demand that hides it.
    let visible_organization_only =
        organization_id.is_some_and(|org| !policy::sees_unpublished_listings(actor.as_ref(), org));
    if scope.status != Status::Published {
        let filter = Filter {
            statuses: vec![scope.status],
            sector: p.sector,
            province: p.province,
            organization_id,
            visible_organization_only,
        };
        let page = scope.page;
        let (items, total) = state
            .db
            .run(move |conn| store::search(conn, &filter, page.offset(), page.limit()))
            .await?;
        let items = items.iter().map(|d| summary(actor.as_ref(), d, None)).collect();
        return Ok(HttpResponse::Ok().json(SearchPage::new(items, page, total, None)));
    }
    let filters = Filters {
        sector: p.sector,
        province: p.province,
        organization: organization_id,
        visible_organization_only,
        ..Filters::default()
    };
    // What a demand shows depends on who asks (its members see a hidden organisation):
    // only anonymous pages are the same for every caller.
    let cached = match actor {
        None => match CachedPage::lookup(&state, &req) {
            Ok(miss) => Some(miss),
            Err(page) => return Ok(page),
        },
        Some(_) => None,
    };
    let show = |d: &Demand, highlight: Option<&Highlight>| summary(actor.as_ref(), d, highlight);
    let body =
        api_search::found_page(&state, DocType::Demand, scope, filters, Order::Relevance, show)
            .await?;
    match cached {
        Some(cached) => cached.keep(&state, &body),
        None => Ok(HttpResponse::Ok().json(body)),
    }
}
