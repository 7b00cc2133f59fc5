//! A deal's timeline: notes, document links and every change, append-only.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::progress::change;
use super::{by, load};
use crate::api::common::{Page, PageParams};
use crate::api::extract::{Json, Path, Query};
use crate::api::validate::Validator;
use crate::auth::extract::Auth;
use crate::auth::policy::DealAction;
use crate::db::types::{DealId, utc};
use crate::domain::deals::Stage;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::deals::{self as store, EventRow};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DealNoteRequest {
    /// At most 5 000 characters.
    #[schema(example = "Hai bên đã họp trực tuyến ngày 27/11.")]
    pub note: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DealEventDto {
    pub id: uuid::Uuid,
    /// What happened; it says which payload `before` and `after` hold (see
    /// `DealEventPayload`).
    #[schema(value_type = DealEventKind, example = "stage_changed")]
    pub kind: String,
    pub actor_id: uuid::Uuid,
    /// The party the actor acted for.
    pub actor_organization_id: Option<uuid::Uuid>,
    pub from_stage: Option<Stage>,
    pub to_stage: Option<Stage>,
    /// The state before the event (`terms_changed`, `checklist`), else null.
    #[schema(value_type = Option<crate::api::payloads::DealEventPayload>)]
    pub before: Option<serde_json::Value>,
    /// The state after the event, by `kind`; null for `note` and most stage changes.
    #[schema(value_type = Option<crate::api::payloads::DealEventPayload>)]
    pub after: Option<serde_json::Value>,
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
}

fn event_dto(e: EventRow) -> DealEventDto {
    let json = |t: Option<String>| t.and_then(|t| serde_json::from_str(&t).ok());
    DealEventDto {
        id: e.id.into(),
        kind: e.kind,
        actor_id: e.actor_id.into(),
        actor_organization_id: e.actor_organization_id.map(Into::into),
        from_stage: e.from_stage.as_deref().and_then(Stage::parse),
        to_stage: e.to_stage.as_deref().and_then(Stage::parse),
        before: json(e.data_before),
        after: json(e.data_after),
        note: e.note,
        created_at: utc(e.created_at),
    }
}

/// Add a note to the timeline (any party's members).
#[utoipa::path(
    tag = "deals",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path)),
    request_body = DealNoteRequest,
    responses(
        (status = 204, description = "Recorded"),
        (status = 400, description = "Invalid fields"),
        (status = 401, description = "Not signed in"),
        (status = 403, description = "Exchange staff cannot write in deals"),
        (status = 404, description = "No such deal, or not a party to it"),
    )
)]
#[post("/deals/{id}/notes")]
pub async fn add_deal_note(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<uuid::Uuid>,
    body: Json<DealNoteRequest>,
) -> Result<HttpResponse, ApiError> {
    let text = body.0.note;
    change(&state, auth.0, path.0.into(), DealAction::Act, None, move |conn, actor, deal| {
        let mut v = Validator::new();
        v.text("note", &text, 5_000);
        v.finish()?;
        store::note(conn, &deal, text.trim(), by(actor, &deal)).map_err(ApiError::from)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentLinkRequest {
    /// What the document is; at most 200 characters.
    #[schema(example = "Dự thảo hợp đồng chuyển giao công nghệ, bản 2")]
    pub title: String,
    /// Where the parties keep it: an `https://` URL of at most 2 000 characters, without
    /// credentials. Nothing is uploaded or fetched; the link is recorded as given.
    #[schema(example = "https://tailieu.example.vn/hop-dong-v2.pdf")]
    pub url: String,
}

/// Attach a document link to the deal (any party's members): an append-only
/// `document_link` event on the timeline with the actor and time, its `after` holding
/// `{title, url}`. List them with `GET /deals/{id}/events?kind=document_link`.
#[utoipa::path(
    tag = "deals",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path)),
    request_body = DocumentLinkRequest,
    responses(
        (status = 201, description = "Recorded", body = DealEventDto),
        (status = 400, description = "Invalid fields (the URL must be https)"),
        (status = 401, description = "Not signed in"),
        (status = 403, description = "Exchange staff cannot write in deals"),
        (status = 404, description = "No such deal, or not a party to it"),
    )
)]
#[post("/deals/{id}/documents")]
pub async fn attach_deal_document(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<uuid::Uuid>,
    body: Json<DocumentLinkRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = body.0;
    let event =
        change(&state, auth.0, path.0.into(), DealAction::Act, None, move |conn, actor, deal| {
            let (title, url) = (request.title.trim(), request.url.trim());
            let mut v = Validator::new();
            v.text("title", title, 200);
            v.https_url("url", url, 2_000);
            v.finish()?;
            store::attach_document(conn, &deal, title, url, by(actor, &deal))
                .map_err(ApiError::from)
        })
        .await?;
    Ok(HttpResponse::Created().json(event_dto(event)))
}

/// Kinds of timeline events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DealEventKind {
    Created,
    Accepted,
    StageChanged,
    TermsChanged,
    Checklist,
    SigningConfirmed,
    Note,
    Valuation,
    DocumentLink,
}

impl DealEventKind {
    fn as_str(self) -> &'static str {
        match self {
            DealEventKind::Created => "created",
            DealEventKind::Accepted => "accepted",
            DealEventKind::StageChanged => "stage_changed",
            DealEventKind::TermsChanged => "terms_changed",
            DealEventKind::Checklist => "checklist",
            DealEventKind::SigningConfirmed => "signing_confirmed",
            DealEventKind::Note => "note",
            DealEventKind::Valuation => "valuation",
            DealEventKind::DocumentLink => "document_link",
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DealEventListParams {
    /// Only events of this kind (e.g. `document_link` for the deal's documents).
    #[param(inline)]
    pub kind: Option<DealEventKind>,
}

/// The deal's timeline, oldest first: every change with who, when, from/to and before/after.
/// Nothing edits or deletes it.
#[utoipa::path(
    tag = "deals",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), DealEventListParams, PageParams),
    responses(
        (status = 200, body = Page<DealEventDto>),
        (status = 400, description = "Invalid parameters"),
        (status = 401, description = "Not signed in"),
        (status = 404, description = "No such deal, or not a party to it"),
    )
)]
#[get("/deals/{id}/events")]
pub async fn list_deal_events(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<uuid::Uuid>,
    params: Query<DealEventListParams>,
    paging: Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let page = paging.0.resolve()?;
    let id: DealId = path.0.into();
    let actor = auth.0;
    let kind = params.0.kind.map(DealEventKind::as_str);
    let (items, total) = state
        .db
        .run(move |conn| -> Result<_, ApiError> {
            load(conn, &actor, id, DealAction::View)?;
            store::events(conn, id, kind, page.offset(), page.limit()).map_err(ApiError::from)
        })
        .await?;
    let items = items.into_iter().map(event_dto).collect();
    Ok(HttpResponse::Ok().json(Page::new(items, page, total)))
}
