//! A listing's moderation: how listings take part in the shared lifecycle
//! ([`crate::api::moderation`]), and the submit, review, archive and renew routes.

use actix_web::{HttpRequest, HttpResponse, post, web};

use super::view::{TechnologyDto, present, technology_etag};
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
use crate::store::technologies::Listing;
use crate::workflows::moderation::Moderated;

/// Listings in the moderation lifecycle.
pub struct Listings;

impl Moderated for Listings {
    const NOUN: &'static str = "listing";
    type Row = Listing;

    fn authorize(actor: &Actor, row: &Listing, action: ModeratedAction) -> Result<(), ApiError> {
        policy::listing(Some(actor), row.organization_id, row.status.is_public(), action)
    }

    fn published(
        conn: &mut DbConn,
        search: &Search,
        threshold: u8,
        row: &Listing,
    ) -> Result<(), ApiError> {
        crate::search::matching::notify_for_technology(conn, search, row, threshold).map(|_| ())
    }
}

impl Shown for Listings {
    type Dto = TechnologyDto;

    fn present(conn: &mut DbConn, actor: &Actor, row: Listing) -> Result<TechnologyDto, ApiError> {
        present(conn, Some(actor), row)
    }

    fn etag(dto: &TechnologyDto) -> String {
        technology_etag(dto)
    }
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
    )
)]
#[post("/technologies/{id}/submit")]
pub async fn submit_technology(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    moderation::step::<Listings>(
        &state,
        &req,
        auth.0,
        path.0.into(),
        ModeratedAction::Manage,
        Transition::Submit,
    )
    .await
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
    moderation::review::<Listings>(&state, &req, auth.0, path.0.into(), body.0).await
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
    )
)]
#[post("/technologies/{id}/archive")]
pub async fn archive_technology(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    moderation::step::<Listings>(
        &state,
        &req,
        auth.0,
        path.0.into(),
        ModeratedAction::Archive,
        Transition::Archive,
    )
    .await
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
    )
)]
#[post("/technologies/{id}/renew")]
pub async fn renew_technology(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    moderation::step::<Listings>(
        &state,
        &req,
        auth.0,
        path.0.into(),
        ModeratedAction::Manage,
        Transition::Renew,
    )
    .await
}
