//! A deal's progress: terms, the Art. 23 checklist, acceptance, signing confirmations and
//! stage transitions.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, patch, post, put, web};
use serde::{Deserialize, Deserializer};
use utoipa::ToSchema;

use super::{DealDto, by, full, load, respond, sides, validate_terms};
use crate::api::cache::IF_NONE_MATCH_DOC;
use crate::api::common::{if_match, precondition_failed};
use crate::api::extract::{Json, Path};
use crate::api::validate::Validator;
use crate::auth::Actor;
use crate::auth::extract::Auth;
use crate::auth::policy::DealAction;
use crate::db::types::DealId;
use crate::db::{DbConn, dialect};
use crate::domain::deals::{self as machine, ChecklistItem, Stage, TransitionError};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::deals::{self as store, Deal, Move, Terms, TransferForm};

/// A field that is present (even as `null`) is `Some`, so a PATCH tells "leave it" (absent)
/// from "clear it" (`null`).
fn present_field<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Terms to change; absent fields stay, `null` clears an optional one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateDealRequest {
    pub transfer_form: Option<TransferForm>,
    #[serde(default, deserialize_with = "present_field")]
    #[schema(value_type = Option<bool>)]
    pub exclusive: Option<Option<bool>>,
    #[serde(default, deserialize_with = "present_field")]
    #[schema(value_type = Option<String>)]
    pub territory: Option<Option<String>>,
    #[serde(default, deserialize_with = "present_field")]
    #[schema(value_type = Option<i32>)]
    pub term_months: Option<Option<i32>>,
    #[serde(default, deserialize_with = "present_field")]
    #[schema(value_type = Option<bool>)]
    pub sublicensing: Option<Option<bool>>,
    #[serde(default, deserialize_with = "present_field")]
    #[schema(value_type = Option<i64>)]
    #[schema(minimum = 0)]
    pub price: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present_field")]
    #[schema(value_type = Option<String>)]
    pub currency: Option<Option<String>>,
    #[serde(default, deserialize_with = "present_field")]
    #[schema(value_type = Option<String>)]
    pub payment_schedule: Option<Option<String>>,
    #[serde(default, deserialize_with = "present_field")]
    #[schema(value_type = Option<i64>)]
    #[schema(minimum = 0)]
    pub broker_fee: Option<Option<i64>>,
}

impl UpdateDealRequest {
    fn apply(self, mut t: Terms) -> Terms {
        if let Some(form) = self.transfer_form {
            t.transfer_form = form;
        }
        macro_rules! set {
            ($($field:ident),*) => {$(
                if let Some(value) = self.$field {
                    t.$field = value;
                }
            )*};
        }
        set!(exclusive, territory, term_months, sublicensing, price, currency, payment_schedule);
        set!(broker_fee);
        t
    }
}

/// Runs `work` on the deal in a write transaction after the visibility (404), permission
/// (403) and, when `expected` is given, version (428/412) checks.
pub(super) async fn change<T: Send + 'static>(
    state: &AppState,
    actor: Actor,
    id: DealId,
    action: DealAction,
    expected: Option<Result<i32, ApiError>>,
    work: impl FnOnce(&mut DbConn, &Actor, Deal) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    state
        .db
        .run(move |conn| {
            dialect::write_transaction(conn, |conn| {
                let deal = load(conn, &actor, id, action)?;
                if let Some(expected) = expected {
                    if expected? != deal.version {
                        return Err(precondition_failed());
                    }
                }
                work(conn, &actor, deal)
            })
        })
        .await
}

fn before_signing(deal: &Deal, what: &str) -> Result<Stage, ApiError> {
    let stage = deal.stage()?;
    if matches!(stage, Stage::Open | Stage::Negotiating | Stage::Valuation | Stage::Contracting) {
        Ok(stage)
    } else {
        Err(ApiError::conflict(
            "deal_locked",
            format!("A deal that is {} cannot have its {what} changed.", stage.as_str()),
        ))
    }
}

/// Change the terms (any party's members), before the deal is signed. Needs `If-Match`.
/// Signing confirmations given so far are withdrawn; the change is an event with the terms
/// before and after.
#[utoipa::path(
    tag = "deals",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), ("If-Match" = String, Header, description = "The ETag you last read")),
    request_body = UpdateDealRequest,
    responses(
        (status = 200, body = DealDto, headers(("ETag" = String))),
        (status = 400, description = "Invalid fields"),
        (status = 401, description = "Not signed in"),
        (status = 403, description = "Exchange staff cannot change deals"),
        (status = 404, description = "No such deal, or not a party to it"),
        (status = 409, description = "Signed or later (`deal_locked`)"),
    )
)]
#[patch("/deals/{id}")]
pub async fn update_deal(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<uuid::Uuid>,
    body: Json<UpdateDealRequest>,
) -> Result<HttpResponse, ApiError> {
    let patch = body.0;
    let expected = if_match(&req);
    let body = change(
        &state,
        auth.0,
        path.0.into(),
        DealAction::Act,
        Some(expected),
        |conn, actor, deal| {
            before_signing(&deal, "terms")?;
            let terms = patch.apply(deal.terms()?);
            let mut v = Validator::new();
            validate_terms(&mut v, &terms, deal.broker_organization_id.is_some());
            v.finish()?;
            let updated = store::update_terms(conn, &deal, &terms, by(actor, &deal))?;
            full(conn, updated)
        },
    )
    .await?;
    Ok(respond(StatusCode::OK, &body))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChecklistRequest {
    pub ticked: bool,
    /// Where the contract covers the item; at most 2 000 characters.
    #[schema(example = "Điều 5 của dự thảo hợp đồng")]
    pub note: Option<String>,
}

/// Tick or untick an Art. 23 contract item with a note (any party's members), before the
/// deal is signed.
#[utoipa::path(
    tag = "deals",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), ("item" = ChecklistItem, Path)),
    request_body = ChecklistRequest,
    responses(
        (status = 200, body = DealDto, headers(("ETag" = String))),
        (status = 400, description = "Invalid fields or unknown item"),
        (status = 401, description = "Not signed in"),
        (status = 403, description = "Exchange staff cannot change deals"),
        (status = 404, description = "No such deal, or not a party to it"),
        (status = 409, description = "Signed or later (`deal_locked`), or it moved meanwhile (`deal_changed`)"),
    )
)]
#[put("/deals/{id}/checklist/{item}")]
pub async fn set_checklist_item(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<(uuid::Uuid, ChecklistItem)>,
    body: Json<ChecklistRequest>,
) -> Result<HttpResponse, ApiError> {
    let (id, item) = path.0;
    let request = body.0;
    let body =
        change(&state, auth.0, id.into(), DealAction::Act, None, move |conn, actor, deal| {
            let stage = before_signing(&deal, "checklist")?;
            let mut v = Validator::new();
            v.optional_text("note", request.note.as_deref(), 2_000);
            v.finish()?;
            let note = request.note.as_deref().map(str::trim);
            let updated =
                store::tick(conn, &deal, stage, item, request.ticked, note, by(actor, &deal))?;
            full(conn, updated)
        })
        .await?;
    Ok(respond(StatusCode::OK, &body))
}

/// Accept a deal for your side (members of the buyer or the seller) while it is `open`.
/// Accepting never moves the stage: every deal, brokered or not, stays `open` until a party
/// moves it with `POST /deals/{id}/transitions`, which needs both sides' acceptance.
#[utoipa::path(
    tag = "deals",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), ("If-None-Match" = Option<String>, Header, description = IF_NONE_MATCH_DOC)),
    responses(
        (status = 200, body = DealDto, headers(("ETag" = String), ("Cache-Control" = String))),
        (status = 304, description = "Not modified: `If-None-Match` names the current `ETag`", headers(("ETag" = String), ("Cache-Control" = String))),
        (status = 401, description = "Not signed in"),
        (status = 403, description = "Not the buyer or the seller"),
        (status = 404, description = "No such deal, or not a party to it"),
        (status = 409, description = "No longer open (`not_open`), or it moved meanwhile (`deal_changed`)"),
    )
)]
#[post("/deals/{id}/accept")]
pub async fn accept_deal(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let body =
        change(&state, auth.0, path.0.into(), DealAction::Commit, None, |conn, actor, deal| {
            let stage = deal.stage()?;
            if stage != Stage::Open {
                return Err(ApiError::conflict("not_open", "Only an open deal can be accepted."));
            }
            let updated = store::accept(conn, &deal, stage, sides(actor, &deal), by(actor, &deal))?;
            full(conn, updated)
        })
        .await?;
    Ok(respond(StatusCode::OK, &body))
}

/// Confirm, for your side (members of the buyer or the seller), that the contract is
/// signed; only in `contracting`. Moving to `signed` needs both confirmations and the whole
/// checklist. A change of terms withdraws confirmations.
#[utoipa::path(
    tag = "deals",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), ("If-None-Match" = Option<String>, Header, description = IF_NONE_MATCH_DOC)),
    responses(
        (status = 200, body = DealDto, headers(("ETag" = String), ("Cache-Control" = String))),
        (status = 304, description = "Not modified: `If-None-Match` names the current `ETag`", headers(("ETag" = String), ("Cache-Control" = String))),
        (status = 401, description = "Not signed in"),
        (status = 403, description = "Not the buyer or the seller"),
        (status = 404, description = "No such deal, or not a party to it"),
        (status = 409, description = "Not in `contracting` (`not_contracting`), or it moved meanwhile (`deal_changed`)"),
    )
)]
#[post("/deals/{id}/signing-confirmation")]
pub async fn confirm_signing(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let body =
        change(&state, auth.0, path.0.into(), DealAction::Commit, None, |conn, actor, deal| {
            let stage = deal.stage()?;
            if stage != Stage::Contracting {
                return Err(ApiError::conflict(
                    "not_contracting",
                    "Signing can be confirmed while the deal is in contracting only.",
                ));
            }
            let updated =
                store::confirm_signing(conn, &deal, stage, sides(actor, &deal), by(actor, &deal))?;
            full(conn, updated)
        })
        .await?;
    Ok(respond(StatusCode::OK, &body))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionRequest {
    pub to: Stage,
    /// Recorded in the timeline and mailed to the parties; at most 2 000 characters.
    pub note: Option<String>,
    /// Required to cancel; at most 2 000 characters.
    pub reason: Option<String>,
    /// With `completed`: the price the deal closed at (minor units, the terms' currency);
    /// defaults to the agreed price.
    #[schema(minimum = 0)]
    pub final_price: Option<i64>,
}

fn refused(from: Stage, error: TransitionError) -> ApiError {
    let names = |stages: &[Stage]| stages.iter().map(|s| s.as_str().to_owned()).collect::<Vec<_>>();
    match error {
        TransitionError::NotAllowed { to, allowed, .. } => {
            let list = names(&allowed);
            let detail = if list.is_empty() {
                format!(
                    "A deal that is {} is final: it cannot move to {}.",
                    from.as_str(),
                    to.as_str()
                )
            } else {
                format!(
                    "A deal that is {} cannot move to {}; allowed: {}.",
                    from.as_str(),
                    to.as_str(),
                    list.join(", ")
                )
            };
            let mut e = ApiError::conflict("invalid_transition", detail);
            e.allowed = Some(list);
            e
        }
        TransitionError::Unmet { to, missing } => ApiError::conflict(
            "transition_conditions_unmet",
            format!("The deal cannot move to {} yet: {}.", to.as_str(), missing.join("; ")),
        ),
    }
}

/// Move the deal to another stage (any party's members). Needs `If-Match`. Illegal moves
/// answer 409 `invalid_transition` with the `allowed` stages; unmet conditions (acceptance
/// by both sides to leave `open`; the whole checklist and both confirmations to sign; a
/// reason to cancel) answer 409 `transition_conditions_unmet` naming what is missing.
/// Every party's owners are mailed and every party gets `deal.stage_changed`.
#[utoipa::path(
    tag = "deals",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), ("If-Match" = String, Header, description = "The ETag you last read")),
    request_body = TransitionRequest,
    responses(
        (status = 200, body = DealDto, headers(("ETag" = String))),
        (status = 400, description = "Invalid fields"),
        (status = 401, description = "Not signed in"),
        (status = 403, description = "Exchange staff cannot move deals"),
        (status = 404, description = "No such deal, or not a party to it"),
        (status = 409, description = "`invalid_transition` (with `allowed`) or `transition_conditions_unmet`"),
    )
)]
#[post("/deals/{id}/transitions")]
pub async fn transition_deal(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<uuid::Uuid>,
    body: Json<TransitionRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = body.0;
    let expected = if_match(&req);
    let body = change(
        &state,
        auth.0,
        path.0.into(),
        DealAction::Act,
        Some(expected),
        move |conn, actor, deal| {
            let mut v = Validator::new();
            v.optional_text("note", request.note.as_deref(), 2_000);
            v.optional_text("reason", request.reason.as_deref(), 2_000);
            v.check(
                request.final_price.is_none_or(|p| p >= 0),
                "final_price",
                "must not be negative",
            );
            v.check(
                request.final_price.is_none() || request.to == Stage::Completed,
                "final_price",
                "is recorded on completion only",
            );
            v.finish()?;
            let from = deal.stage()?;
            let reason = request.reason.as_deref().map(str::trim).filter(|r| !r.is_empty());
            let facts = store::facts(conn, &deal, reason.map(str::to_owned))?;
            machine::check(from, request.to, &facts).map_err(|e| refused(from, e))?;
            let final_price = request.final_price.or(deal.price);
            if request.to == Stage::Completed && final_price.is_none() {
                return Err(refused(
                    from,
                    TransitionError::Unmet {
                        to: Stage::Completed,
                        missing: vec!["a final price".into()],
                    },
                ));
            }
            let m = Move {
                to: request.to,
                note: request.note.as_deref().map(str::trim).filter(|n| !n.is_empty()),
                reason,
                final_price,
            };
            let updated = store::transition(conn, &deal, &m, by(actor, &deal))?;
            full(conn, updated)
        },
    )
    .await?;
    Ok(respond(StatusCode::OK, &body))
}
