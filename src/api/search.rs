//! What the listing and demand searches share: the parameters both take ([`Scope`]), the
//! `facets` parameter, the page with facet counts, running a request on the search engine
//! off the async workers and loading what it found ([`found_page`]).

use std::sync::Arc;

use actix_web::http::header::ContentType;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::common::{PageParams, PageRequest};
use crate::api::validate::Validator;
use crate::auth::Actor;
use crate::auth::policy::{self, PlatformAction};
use crate::db::DbConn;
use crate::db::types::{DemandId, EntityId, TechnologyId, TypedId};
use crate::domain::moderation::Status;
use crate::domain::search::{Highlight, SearchQuery};
use crate::domain::taxonomy;
use crate::error::ApiError;
use crate::search::{DocType, FacetCounts, FacetName, Filters, Order, Request};
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::demands::{self, Demand};
use crate::store::technologies::{self, Listing};

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

impl<T> SearchPage<T> {
    pub fn new(items: Vec<T>, page: PageRequest, total: i64, facets: Option<FacetCounts>) -> Self {
        Self { items, page: page.page, per_page: page.per_page, total, facets }
    }
}

/// Adds an error naming `field` to `v` when `value` is given but not `known`.
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

/// The parameters that a listing and a demand search both take, as sent.
pub struct Asked<'a> {
    pub sector: Option<&'a str>,
    pub province: Option<&'a str>,
    pub status: Option<Status>,
    pub q: Option<&'a str>,
    pub facets: Option<&'a str>,
}

/// What a listing or demand search is to do, its common parameters checked.
pub struct Scope {
    pub page: PageRequest,
    /// `Published` (the search engine), or the state of a staff queue (SQL, without text or
    /// facets: it is not public data).
    pub status: Status,
    pub text: Option<SearchQuery>,
    pub facets: Vec<FacetName>,
}

impl Scope {
    /// Checks, in the order their errors answer: the page (400); the sector and province
    /// codes, then whatever `more` checks (one 400 naming each field); a state other than
    /// published (401 anonymous, 403 but for staff); the facet names, each one of `known`
    /// (400); for a staff queue, no `q` nor `facets` (400: "available for published
    /// `plural` only").
    pub fn read(
        paging: &PageParams,
        asked: Asked,
        more: impl FnOnce(&mut Validator),
        actor: Option<&Actor>,
        known: &[FacetName],
        plural: &str,
    ) -> Result<Self, ApiError> {
        let page = paging.resolve()?;
        let mut v = Validator::new();
        check_code(&mut v, "sector", asked.sector, taxonomy::is_sector, "sector code");
        check_code(
            &mut v,
            "province",
            asked.province,
            |c| taxonomy::province(c).is_some(),
            "province code",
        );
        more(&mut v);
        v.finish()?;
        let status = asked.status.unwrap_or(Status::Published);
        if status != Status::Published {
            let actor = actor
                .ok_or_else(|| ApiError::unauthorized("Sign in: this needs an access token."))?;
            policy::platform(actor, PlatformAction::Moderate)?;
        }
        let text = asked.q.and_then(SearchQuery::parse);
        let facets = parse_facets(asked.facets, known)?;
        if status != Status::Published && (text.is_some() || !facets.is_empty()) {
            return Err(ApiError::invalid(
                if text.is_some() { "q" } else { "facets" },
                format!("is available for published {plural} only"),
            ));
        }
        Ok(Self { page, status, text, facets })
    }
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

/// A row the search engine finds by its id.
pub trait Found: Sized + Send + 'static {
    type Id: TypedId;
    fn load(conn: &mut DbConn, ids: &[Self::Id]) -> Result<Vec<Self>, StoreError>;
    fn id(&self) -> Self::Id;
}

impl Found for Listing {
    type Id = TechnologyId;
    fn load(conn: &mut DbConn, ids: &[TechnologyId]) -> Result<Vec<Self>, StoreError> {
        technologies::load(conn, ids)
    }
    fn id(&self) -> TechnologyId {
        self.id
    }
}

impl Found for Demand {
    type Id = DemandId;
    fn load(conn: &mut DbConn, ids: &[DemandId]) -> Result<Vec<Self>, StoreError> {
        demands::load(conn, ids)
    }
    fn id(&self) -> DemandId {
        self.id
    }
}

/// Runs the search and loads the rows it found from the database, in rank order, each shown
/// by `show` (with the highlight when the search has text), as a page.
pub async fn found_page<T: Found, S>(
    state: &AppState,
    doc_type: DocType,
    scope: Scope,
    filters: Filters,
    order: Order,
    show: impl Fn(&T, Option<&Highlight>) -> S,
) -> Result<SearchPage<S>, ApiError> {
    let Scope { page, text, facets, .. } = scope;
    let with_text = text.is_some();
    let hits = find(state, doc_type, text, filters, order, page, facets).await?;
    let ids = hits.ids.clone();
    let mut rows = state.db.run(move |conn| T::load(conn, &ids)).await?;
    rows.sort_by_key(|r| hits.ids.iter().position(|id| *id == r.id()));
    let highlight = with_text.then_some(&hits.highlight);
    let items = rows.iter().map(|r| show(r, highlight)).collect();
    Ok(SearchPage::new(items, page, hits.total, hits.facets))
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
