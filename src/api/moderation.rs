//! The HTTP side of the lifecycle that listings and demands share (draft → review →
//! published → archived), written once: the guarded change (404/403, `If-Match` 428/412, the
//! state machine's 409), and what edit, delete, submit, review, archive and renew answer.
//! Each resource implements [`Moderated`] (`workflows::moderation`: how it loads, authorises,
//! moves and what its publication sets off) and [`Shown`] (how it is shown); its handlers,
//! with their OpenAPI text, stay in its own module and call these.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::common::{if_match, precondition_failed};
use crate::api::validate::Validator;
use crate::auth::Actor;
use crate::auth::policy::ModeratedAction;
use crate::db::{DbConn, dialect};
use crate::domain::listing;
use crate::domain::moderation::{Status, Transition};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::moderation::Moderated as _;
use crate::workflows::moderation::{self, Moderated, Notices, Step, invalid_transition};

/// The id type of `R`'s rows (`TechnologyId`, `DemandId`).
type RowId<R> = <<R as Moderated>::Row as crate::store::moderation::Moderated>::Id;

/// How a moderated resource is shown.
pub trait Shown: Moderated {
    type Dto: Serialize + Send + 'static;
    fn present(conn: &mut DbConn, actor: &Actor, row: Self::Row) -> Result<Self::Dto, ApiError>;
    /// The ETag of what [`Shown::present`] showed.
    fn etag(dto: &Self::Dto) -> String;
}

/// `200` with the body and its `ETag`.
pub fn respond<R: Shown>(body: &R::Dto) -> HttpResponse {
    HttpResponse::Ok().insert_header((header::ETAG, R::etag(body))).json(body)
}

/// Loads the resource in a write transaction, checks that the caller may see it and act
/// (404/403), that they read the current version (428/412) and that `transition` is allowed
/// from its state (409); then `apply` makes the change, given the state it leads to.
pub async fn change<R: Shown, T: Send + 'static>(
    state: &AppState,
    req: &HttpRequest,
    actor: Actor,
    id: RowId<R>,
    action: ModeratedAction,
    transition: Option<Transition>,
    apply: impl FnOnce(&mut DbConn, &Actor, &R::Row, Status) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    // Read now, judged after visibility: a caller who may not see it gets 404, not 428.
    let expected = if_match(req);
    state
        .db
        .run(move |conn| {
            dialect::write_transaction(conn, |conn| {
                let row = R::Row::get(conn, id)?;
                R::authorize(&actor, &row, action)?;
                let read = row.lifecycle();
                if expected? != read.version {
                    return Err(precondition_failed());
                }
                let status = read.status;
                let to = match transition {
                    Some(t) => {
                        status.next(t).ok_or_else(|| invalid_transition(R::NOUN, status, t))?
                    }
                    None => status,
                };
                apply(conn, &actor, &row, to)
            })
        })
        .await
}

/// Deletes: a draft never submitted is erased; anything ever submitted is archived instead,
/// so its moderation history and the activity report stay whole. Answers 204 either way.
pub async fn delete<R: Shown>(
    state: &AppState,
    req: &HttpRequest,
    actor: Actor,
    id: RowId<R>,
) -> Result<HttpResponse, ApiError> {
    let validity_days = state.config.listing_validity_days;
    change::<R, _>(
        state,
        req,
        actor,
        id,
        ModeratedAction::Manage,
        None,
        move |conn, actor, row, _| moderation::remove::<R>(conn, actor, row, validity_days),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Submit, archive or renew: a step without a body.
pub async fn step<R: Shown>(
    state: &AppState,
    req: &HttpRequest,
    actor: Actor,
    id: RowId<R>,
    action: ModeratedAction,
    transition: Transition,
) -> Result<HttpResponse, ApiError> {
    take::<R>(state, req, actor, id, action, transition, None).await
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewDecision {
    Approve,
    Reject,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"decision": "reject", "reason": "Thiếu thông tin về văn bằng bảo hộ."}))]
pub struct ReviewRequest {
    pub decision: ReviewDecision,
    /// Required to reject (at most 2 000 characters; mailed to the owners); not for approve.
    #[schema(example = "Thiếu thông tin về văn bằng bảo hộ.")]
    pub reason: Option<String>,
}

/// A moderator's decision: approval publishes (and sets off what publication does), a
/// rejection carries its reason to the owners.
pub async fn review<R: Shown>(
    state: &AppState,
    req: &HttpRequest,
    actor: Actor,
    id: RowId<R>,
    body: ReviewRequest,
) -> Result<HttpResponse, ApiError> {
    let ReviewRequest { decision, reason } = body;
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
    take::<R>(state, req, actor, id, ModeratedAction::Review, transition, reason).await
}

async fn take<R: Shown>(
    state: &AppState,
    req: &HttpRequest,
    actor: Actor,
    id: RowId<R>,
    action: ModeratedAction,
    transition: Transition,
    reason: Option<String>,
) -> Result<HttpResponse, ApiError> {
    let validity_days = state.config.listing_validity_days;
    let (search, threshold) = (state.search.clone(), state.config.match_notify_threshold);
    let body = change::<R, _>(
        state,
        req,
        actor,
        id,
        action,
        Some(transition),
        move |conn, actor, row, to| {
            let step = Step { transition, to, by: actor.user_id, reason, validity_days };
            let notices = Notices { search: &search, threshold };
            let updated = moderation::advance::<R>(conn, row, &step, &notices)?;
            R::present(conn, actor, updated)
        },
    )
    .await?;
    Ok(respond::<R>(&body))
}
