//! The HTTP side of the lifecycle that listings and demands share (draft → review →
//! published → archived), written once: the guarded change (404/403, `If-Match` 428/412, the
//! state machine's 409), and what create, edit, delete, submit, review, archive and renew
//! answer. Each resource implements [`Moderated`] (`workflows::moderation`: how it loads,
//! authorises, moves and what its publication sets off) and [`Resource`] (how it is
//! created, shown and edited); [`moderated_routes!`] writes its handlers, with the OpenAPI
//! text it is given, in the resource's own module, each one call to a function here.

mod routes;
pub(crate) use routes::{moderated_read, moderated_routes};

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::cache::{Policy, PublicPage};
use crate::api::common::{
    created_response, idempotency_key, if_match, precondition_failed, request_fingerprint,
};
use crate::api::validate::Validator;
use crate::auth::Actor;
use crate::auth::policy::{self, ModeratedAction, OrgAction};
use crate::db::types::{OrganizationId, UserId};
use crate::db::{Db, DbConn, dialect};
use crate::domain::listing;
use crate::domain::moderation::{Status, Transition};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::idempotency;
use crate::store::moderation::Moderated as _;
use crate::workflows::moderation::{self, Moderated, Notices, Step, invalid_transition};

/// The id type of `R`'s rows (`TechnologyId`, `DemandId`).
type RowId<R> = <<R as Moderated>::Row as crate::store::moderation::Moderated>::Id;

/// A moderated resource as the API serves it: how it is created, shown and edited.
pub trait Resource: Moderated {
    type Dto: Serialize + Send + 'static;
    /// The body of a creation (`POST` to [`Resource::COLLECTION`]).
    type Draft: Draft;
    /// The body of an edit (`PATCH`).
    type Patch: Send + 'static;
    /// Where the created ones are: their `Location` is this and `/{id}`.
    const COLLECTION: &'static str;
    fn present(conn: &mut DbConn, actor: &Actor, row: Self::Row) -> Result<Self::Dto, ApiError>;
    /// The ETag of what [`Resource::present`] showed.
    fn etag(dto: &Self::Dto) -> String;
    /// Writes a new draft of `organization` with `content`, created by `creator`.
    fn insert(
        conn: &mut DbConn,
        organization: OrganizationId,
        creator: UserId,
        content: &<Self::Draft as Draft>::Content,
    ) -> Result<Self::Row, ApiError>;
    /// Validates and writes `patch` over `row` (as read in this transaction), moving it to
    /// `to`; shows the result.
    fn edit(
        conn: &mut DbConn,
        actor: &Actor,
        row: &Self::Row,
        patch: Self::Patch,
        to: Status,
    ) -> Result<Self::Dto, ApiError>;
}

/// How a moderated resource is read by id (`GET …/{id}`) by anyone who may see it.
pub trait Readable: Resource {
    /// The row with all its page shows, as stored.
    type Loaded: Send + 'static;
    /// What one read gives, already cut to what its caller may see.
    type Read: Send + 'static;
    /// Loads the row with all its page shows, in one statement.
    fn load(
        db: &Db,
        id: RowId<Self>,
    ) -> impl std::future::Future<Output = Result<Self::Loaded, ApiError>>;
    /// What of the row `actor` may see (404 if nothing).
    fn read(loaded: Self::Loaded, actor: Option<&Actor>) -> Result<Self::Read, ApiError>;
    /// The ETag of what `read` shows `actor`, and whether the row is public data.
    fn shown(read: &Self::Read, actor: Option<&Actor>) -> (String, bool);
    /// The body, built only when it is sent (not for a 304).
    fn body(read: Self::Read, actor: Option<&Actor>) -> Self::Dto;
}

/// A row as `actor` may see it. An anonymous caller holding the ETag remembered for it is
/// answered 304 without the database; anyone else costs one read.
pub async fn get<R: Readable>(
    req: &HttpRequest,
    state: &AppState,
    actor: Option<Actor>,
    id: RowId<R>,
) -> Result<HttpResponse, ApiError> {
    let page = match PublicPage::start(req, state.search.validators(), actor.is_none(), id) {
        Ok(page) => page,
        Err(not_modified) => return Ok(not_modified),
    };
    let read = R::read(R::load(&state.db, id).await?, actor.as_ref())?;
    let (etag, public) = R::shown(&read, actor.as_ref());
    let policy = Policy::for_caller(public, actor.is_some());
    page.respond(req, &etag, policy, || Ok(R::body(read, actor.as_ref())))
}

/// A request creating a draft (serialised, it is the `Idempotency-Key`'s fingerprint).
pub trait Draft: Serialize + Send + 'static {
    type Content: Send + 'static;
    /// The organisation it is for; the caller must act for it.
    fn organization(&self) -> OrganizationId;
    /// Its content, normalised and validated (422).
    fn content(&self) -> Result<Self::Content, ApiError>;
}

/// `200` with the body and its `ETag`.
fn respond<R: Resource>(body: &R::Dto) -> HttpResponse {
    HttpResponse::Ok().insert_header((header::ETAG, R::etag(body))).json(body)
}

/// Loads the resource in a write transaction, checks that the caller may see it and act
/// (404/403), that they read the current version (428/412) and that `transition` is allowed
/// from its state (409); then `apply` makes the change, given the state it leads to.
async fn change<R: Resource, T: Send + 'static>(
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

/// Creates a draft for an organisation the caller acts for (403), once per
/// `Idempotency-Key`: a retry with the same key and body answers the first 201 again.
pub async fn create<R: Resource>(
    state: &AppState,
    req: &HttpRequest,
    actor: Actor,
    body: R::Draft,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency_key(req)?;
    let organization = body.organization();
    policy::organization(&actor, organization, OrgAction::ActFor)?;
    let fingerprint = request_fingerprint(&body);
    let content = body.content()?;
    let created = state
        .db
        .run(move |conn| -> Result<_, ApiError> {
            idempotency::create_once(
                conn,
                actor.user_id,
                key.as_deref(),
                &fingerprint,
                |conn| -> Result<_, ApiError> {
                    let row = R::insert(conn, organization, actor.user_id, &content)?;
                    let body = R::present(conn, &actor, row)?;
                    serde_json::to_value(body).map_err(ApiError::internal_from)
                },
            )
        })
        .await?;
    Ok(created_response(R::COLLECTION, created))
}

/// Edits: a rejected row becomes a draft again, a published one goes back to review, one
/// under review stays; an archived one cannot be edited (409).
pub async fn update<R: Resource>(
    state: &AppState,
    req: &HttpRequest,
    actor: Actor,
    id: RowId<R>,
    patch: R::Patch,
) -> Result<HttpResponse, ApiError> {
    let body = change::<R, _>(
        state,
        req,
        actor,
        id,
        ModeratedAction::Manage,
        Some(Transition::Edit),
        move |conn, actor, row, to| R::edit(conn, actor, row, patch, to),
    )
    .await?;
    Ok(respond::<R>(&body))
}

/// Deletes: a draft never submitted is erased; anything ever submitted is archived instead,
/// so its moderation history and the activity report stay whole. Answers 204 either way.
pub async fn delete<R: Resource>(
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
pub async fn step<R: Resource>(
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
pub async fn review<R: Resource>(
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

async fn take<R: Resource>(
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
