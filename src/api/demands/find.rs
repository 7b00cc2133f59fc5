//! Searching published demands (moderators: any status), ranked like listings.

use actix_web::{HttpRequest, HttpResponse, get, web};
use serde::Deserialize;
use utoipa::IntoParams;

use super::{DemandSummaryDto, summary};
use crate::api::common::PageParams;
use crate::api::extract::Query;
use crate::api::search::{self as api_search, CachedPage, SearchPage};
use crate::api::technologies::check_code;
use crate::api::validate::Validator;
use crate::auth::extract::MaybeAuth;
use crate::auth::policy::{self, PlatformAction};
use crate::db::types::OrganizationId;
use crate::domain::moderation::Status;
use crate::domain::search::SearchQuery;
use crate::domain::taxonomy;
use crate::error::ApiError;
use crate::search::{DocType, FacetName, Filters, Order};
use crate::state::AppState;
use crate::store::demands::{self as store, Filter};

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
    req: HttpRequest,
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
    let organization_id = p.organization_id.map(OrganizationId::from);
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
    // What a demand shows depends on who asks (its members see a hidden organisation):
    // only anonymous pages are the same for every caller.
    let cached = match actor {
        None => match CachedPage::lookup(&state, &req) {
            Ok(miss) => Some(miss),
            Err(page) => return Ok(page),
        },
        Some(_) => None,
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
    let body = SearchPage {
        items,
        page: page.page,
        per_page: page.per_page,
        total: hits.total,
        facets: hits.facets,
    };
    match cached {
        Some(cached) => cached.keep(&state, &body),
        None => Ok(HttpResponse::Ok().json(body)),
    }
}
