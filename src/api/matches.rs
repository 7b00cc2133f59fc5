//! Explained matches between demands and listings, for each side, and dismissing one.

use actix_web::{HttpResponse, get, post, web};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::api::common::{Page, PageParams};
use crate::api::demands::{DemandSummaryDto, summary};
use crate::api::extract::{LangParam, Path, Query, RequestLang};
use crate::api::search::{self as api_search};
use crate::api::technologies::{TechnologySummaryDto, summary as technology_summary};
use crate::auth::Actor;
use crate::auth::extract::Auth;
use crate::auth::policy::{self, ModeratedAction};
use crate::db::schema::organizations;
use crate::db::types::{DemandId, OrganizationId, TechnologyId};
use crate::db::{DbConn, dialect};
use crate::domain::matching::{Contribution, Scored};
use crate::error::ApiError;
use crate::search::matching::{for_demand, for_technology};
use crate::state::AppState;
use crate::store::demands::{self as store};
use crate::store::{matches, technologies};

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
    let own: Vec<OrganizationId> = actor.memberships.iter().map(|(org, _)| *org).collect();
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
    let id: DemandId = path.0.into();
    let (search, offset, limit) = matching_window(&state, page)?;
    let (items, total) = state
        .db
        .run(move |conn| -> Result<_, ApiError> {
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
    let id: TechnologyId = path.0.into();
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
    let (technology_id, demand_id): (TechnologyId, DemandId) = (path.0.0.into(), path.0.1.into());
    state
        .db
        .run(move |conn| -> Result<_, ApiError> {
            dialect::write_transaction(conn, |conn| -> Result<_, ApiError> {
                let listing = technologies::get(conn, technology_id)?;
                policy::listing(
                    Some(&actor),
                    listing.organization_id,
                    listing.status.is_public(),
                    ModeratedAction::View,
                )?;
                let demand = store::get(conn, demand_id)?;
                policy::demand(
                    Some(&actor),
                    demand.organization_id,
                    demand.status.is_public(),
                    ModeratedAction::View,
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

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(demand_matches).service(technology_matches).service(dismiss_match);
}
