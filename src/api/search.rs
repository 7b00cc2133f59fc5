//! What the listing and demand searches share: the `facets` parameter, the page with facet
//! counts, and running a request on the search engine off the async workers.

use std::sync::Arc;

use actix_web::http::header::ContentType;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::common::PageRequest;
use crate::db::types::{EntityId, TypedId};
use crate::domain::search::{Highlight, SearchQuery};
use crate::error::ApiError;
use crate::search::{DocType, FacetCounts, FacetName, Filters, Order, Request};
use crate::state::AppState;

/// Results past this rank are not paged to (as in most search engines): ranking deeper
/// costs memory per request and no one reads that far.
pub const MAX_WINDOW: i64 = 10_000;

/// One page of search results; `facets` when asked for.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchPage<T> {
    pub items: Vec<T>,
    pub page: u32,
    pub per_page: u32,
    /// Documents matching the query and filters, on every page (exact).
    pub total: i64,
    /// For each facet asked for, each value and how many results (over every page) hold it.
    /// A sector count includes its sub-fields' listings under the field's code.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<std::collections::BTreeMap<String, std::collections::BTreeMap<String, u64>>>, example = json!({"province": {"ha-noi": 12, "thanh-hoa": 3}}))]
    pub facets: Option<FacetCounts>,
}

/// `facets=sector,province,…`: each name must be one of `allowed` (400 naming `facets`
/// otherwise).
pub fn parse_facets(raw: Option<&str>, allowed: &[FacetName]) -> Result<Vec<FacetName>, ApiError> {
    let mut out = Vec::new();
    for name in raw.unwrap_or("").split(',').map(str::trim).filter(|n| !n.is_empty()) {
        match FacetName::parse(name).filter(|f| allowed.contains(f)) {
            Some(facet) if !out.contains(&facet) => out.push(facet),
            Some(_) => {}
            None => {
                let names: Vec<&str> = allowed.iter().map(|f| f.as_str()).collect();
                return Err(ApiError::invalid(
                    "facets",
                    format!("unknown facet {name:?}; known: {}", names.join(", ")),
                ));
            }
        }
    }
    Ok(out)
}

/// A search page this process sent before for the same request, while the index has not
/// changed since (see `search::Pages`). Only for pages that are the same for every caller
/// who may send the request.
pub struct CachedPage {
    key: String,
    generation: u64,
}

impl CachedPage {
    /// Looks the request up; `Err` is the page to send.
    pub fn lookup(state: &AppState, req: &HttpRequest) -> Result<Self, HttpResponse> {
        // Taken before the search runs: a page computed across a change is not kept.
        let generation = state.search.generation();
        let key = format!("{}?{}", req.path(), req.query_string());
        match state.search_pages.get(&key, generation) {
            Some(page) => Err(json(page)),
            None => Ok(Self { key, generation }),
        }
    }

    /// Sends `page` and keeps it for the next identical request.
    pub fn keep<T: Serialize>(self, state: &AppState, page: &T) -> Result<HttpResponse, ApiError> {
        let bytes: Arc<[u8]> = serde_json::to_vec(page).map_err(ApiError::internal_from)?.into();
        state.search_pages.put(self.key, bytes.clone(), self.generation);
        Ok(json(bytes))
    }
}

fn json(page: Arc<[u8]>) -> HttpResponse {
    HttpResponse::Ok().content_type(ContentType::json()).body(web::Bytes::from_owner(page))
}

/// A page of search hits: `I` is the id type of the documents searched (`TechnologyId` for
/// `DocType::Technology`, `DemandId` for `DocType::Demand`).
pub struct Hits<I> {
    pub ids: Vec<I>,
    pub total: i64,
    pub facets: Option<FacetCounts>,
    pub highlight: Highlight,
}

/// Runs a search of published documents on the engine (blocking work, off the workers).
pub async fn find<I: TypedId>(
    state: &AppState,
    doc_type: DocType,
    text: Option<SearchQuery>,
    filters: Filters,
    order: Order,
    page: PageRequest,
    facets: Vec<FacetName>,
) -> Result<Hits<I>, ApiError> {
    if page.offset() + page.limit() > MAX_WINDOW {
        return Err(ApiError::invalid(
            "page",
            format!("search results are paged up to the {MAX_WINDOW}th; narrow the search"),
        ));
    }
    let search = state.search.clone();
    if !search.is_ready() {
        return Err(ApiError::unavailable("The search index is being built; try again shortly."));
    }
    let asked = !facets.is_empty();
    let found = web::block(move || {
        search.find(&Request {
            doc_type,
            text: text.as_ref(),
            filters: &filters,
            order,
            offset: usize::try_from(page.offset()).unwrap_or(usize::MAX),
            limit: usize::try_from(page.limit()).unwrap_or(0),
            facets: &facets,
        })
    })
    .await
    .map_err(ApiError::internal_from)??;
    Ok(Hits {
        ids: found.ids.into_iter().map(EntityId::to).collect(),
        total: i64::try_from(found.total).unwrap_or(i64::MAX),
        facets: asked.then_some(found.facets),
        highlight: found.highlight,
    })
}

/// After a write request succeeds, applies the search feed before the response leaves, so
/// whoever made a change (a moderator approving a listing) finds it on the next request.
/// A failure here is logged, not returned: the change is committed, and the background
/// follower applies it within moments.
pub async fn apply_own_changes(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<
    actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody + 'static>,
    actix_web::Error,
> {
    let writes = !req.method().is_safe();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let response = next.call(req).await?;
    if let (true, Some(state)) = (writes && response.status().is_success(), state) {
        let search = state.search.clone();
        if let Err(e) = state.db.run(move |conn| search.sync(conn)).await {
            tracing::warn!(error = %e.detail, "search index: cannot apply this request's change yet");
        }
    }
    Ok(response)
}
