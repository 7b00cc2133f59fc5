//! A demand's moderation: how demands take part in the lifecycle they share with listings
//! ([`crate::api::moderation`]), and the submit, review, archive and renew routes.

use actix_web::{HttpRequest, HttpResponse, post, web};

use super::{DemandDto, demand_etag, dto};
use crate::api::cache::IF_MATCH_DOC;
use crate::api::extract::{Json, Path};
use crate::api::moderation::{self, ReviewRequest, Shown};
use crate::auth::Actor;
use crate::auth::extract::Auth;
use crate::auth::policy::{self, ModeratedAction};
use crate::db::DbConn;
use crate::domain::moderation::Transition;
use crate::error::ApiError;
use crate::search::Search;
use crate::state::AppState;
use crate::store::demands::Demand;
use crate::workflows::moderation::Moderated;

/// Demands in the moderation lifecycle.
pub struct Demands;

impl Moderated for Demands {
    const NOUN: &'static str = "demand";
    type Row = Demand;

    fn authorize(actor: &Actor, row: &Demand, action: ModeratedAction) -> Result<(), ApiError> {
        policy::demand(Some(actor), row.organization_id, row.status.is_public(), action)
    }

    fn published(
        conn: &mut DbConn,
        search: &Search,
        threshold: u8,
        row: &Demand,
    ) -> Result<(), ApiError> {
        crate::search::matching::notify_for_demand(conn, search, row, threshold).map(|_| ())
    }
}

impl Shown for Demands {
    type Dto = DemandDto;

    fn present(_: &mut DbConn, actor: &Actor, row: Demand) -> Result<DemandDto, ApiError> {
        Ok(dto(Some(actor), row))
    }

    fn etag(body: &DemandDto) -> String {
        demand_etag(body)
    }
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
    )
)]
#[post("/demands/{id}/submit")]
pub async fn submit_demand(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    moderation::step::<Demands>(
        &state,
        &req,
        auth.0,
        path.0.into(),
        ModeratedAction::Manage,
        Transition::Submit,
    )
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
    )
)]
#[post("/demands/{id}/archive")]
pub async fn archive_demand(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    moderation::step::<Demands>(
        &state,
        &req,
        auth.0,
        path.0.into(),
        ModeratedAction::Archive,
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
    )
)]
#[post("/demands/{id}/renew")]
pub async fn renew_demand(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    moderation::step::<Demands>(
        &state,
        &req,
        auth.0,
        path.0.into(),
        ModeratedAction::Manage,
        Transition::Renew,
    )
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
    moderation::review::<Demands>(&state, &req, auth.0, path.0.into(), body.0).await
}
