//! Enquiries: an organisation's interest in a published listing, and the thread between it
//! and the listing's owner.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::api::common::{
    Page, PageParams, etag, idempotency_key, if_match, precondition_failed, request_fingerprint,
};
use crate::api::extract::{Json, Path, Query};
use crate::api::labels::{self as label, PartyDto, TitledDto};
use crate::api::validate::Validator;
use crate::auth::extract::Auth;
use crate::auth::policy::{self, InquiryAction, OrgAction};
use crate::db::dialect;
use crate::db::types::{InquiryId, OrganizationId, TechnologyId, utc};
use crate::domain::listing::{self, Money};
use crate::domain::moderation::Status;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::deals::TransferForm;
use crate::store::inquiries::{self as store, Inquiry, Message, NewInquiry, Role};
use crate::store::labels::Labels;
use crate::store::{idempotency, technologies};

#[derive(Debug, Serialize, ToSchema)]
pub struct InquiryMessageDto {
    pub id: uuid::Uuid,
    /// The side that wrote it.
    pub organization_id: uuid::Uuid,
    pub author_id: uuid::Uuid,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum InquiryStatus {
    /// Not answered by the owner yet.
    Open,
    /// The owner side replied.
    Answered,
    /// Closed by the owner side.
    Closed,
}

/// An enquiry. Lists and single answers name the technology and both sides, so a page of
/// enquiries renders from one request.
#[derive(Debug, Serialize, ToSchema)]
pub struct InquiryDto {
    pub id: uuid::Uuid,
    pub technology_id: uuid::Uuid,
    /// The listing asked about.
    pub technology: TitledDto,
    /// The enquiring organisation.
    pub from_organization_id: uuid::Uuid,
    /// The enquiring organisation, named.
    pub inquirer: PartyDto,
    /// The listing's owner.
    pub to_organization_id: uuid::Uuid,
    /// The listing's owner, named.
    pub listing_owner: PartyDto,
    pub created_by: uuid::Uuid,
    pub message: String,
    pub intended_use: String,
    pub transfer_form: TransferForm,
    pub budget: Option<Money>,
    #[schema(value_type = InquiryStatus)]
    pub status: String,
    /// The owner side's first reply.
    pub answered_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Send as `If-Match` to close it.
    pub version: i32,
    /// The thread, oldest first (in `GET /inquiries/{id}` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<InquiryMessageDto>>,
}

fn message_dto(m: Message) -> InquiryMessageDto {
    InquiryMessageDto {
        id: m.id.into(),
        organization_id: m.organization_id.into(),
        author_id: m.author_id.into(),
        body: m.body,
        created_at: utc(m.created_at),
    }
}

fn dto(
    i: Inquiry,
    messages: Option<Vec<Message>>,
    labels: &Labels,
) -> Result<InquiryDto, ApiError> {
    let transfer_form = TransferForm::parse(&i.transfer_form).ok_or_else(ApiError::internal)?;
    Ok(InquiryDto {
        id: i.id.into(),
        technology_id: i.technology_id.into(),
        technology: label::technology(labels, i.technology_id)?,
        from_organization_id: i.from_organization_id.into(),
        inquirer: label::party(labels, i.from_organization_id)?,
        to_organization_id: i.to_organization_id.into(),
        listing_owner: label::party(labels, i.to_organization_id)?,
        created_by: i.created_by.into(),
        message: i.message,
        intended_use: i.intended_use,
        transfer_form,
        budget: match (i.budget, i.budget_currency) {
            (Some(amount), Some(currency)) => Some(Money { amount, currency }),
            _ => None,
        },
        status: i.status,
        answered_at: i.answered_at.map(utc),
        closed_at: i.closed_at.map(utc),
        created_at: utc(i.created_at),
        updated_at: utc(i.updated_at),
        version: i.version,
        messages: messages.map(|m| m.into_iter().map(message_dto).collect()),
    })
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInquiryRequest {
    /// The enquiring organisation; the caller must be a member, and it must not own the
    /// listing.
    pub organization_id: uuid::Uuid,
    /// At most 5 000 characters.
    #[schema(example = "Chúng tôi muốn tìm hiểu về quy trình và điều kiện chuyển giao.")]
    pub message: String,
    /// What the technology would be used for; at most 2 000 characters.
    #[schema(example = "Sản xuất phân bón hữu cơ tại Thanh Hóa")]
    pub intended_use: String,
    pub transfer_form: TransferForm,
    pub budget: Option<Money>,
}

fn validate_create(body: &CreateInquiryRequest) -> Result<(), ApiError> {
    let mut v = Validator::new();
    v.text("message", &body.message, 5_000);
    v.text("intended_use", &body.intended_use, 2_000);
    if let Some(budget) = &body.budget {
        v.check(budget.amount >= 0, "budget.amount", "must not be negative");
        v.check(
            listing::is_currency(&budget.currency),
            "budget.currency",
            "is not a known ISO 4217 currency code",
        );
    }
    v.finish()
}

/// Send an enquiry about a published listing in the name of an organisation you belong to.
/// The listing's owners are mailed and its organisation gets `inquiry.received`. Honours
/// `Idempotency-Key`.
#[utoipa::path(
    tag = "inquiries",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The listing"),
           ("Idempotency-Key" = Option<String>, Header, description = "Retry-safe creation: the same key and body return the first response")),
    request_body = CreateInquiryRequest,
    responses(
        (status = 201, body = InquiryDto, headers(("ETag" = String), ("Location" = String))),
        (status = 400, description = "Invalid fields, or an enquiry about your own listing (`own_listing`)"),
        (status = 401, description = "Not signed in"),
        (status = 403, description = "Not a member of `organization_id`"),
        (status = 404, description = "No such published listing"),
        (status = 422, description = "The Idempotency-Key was used with another body (`idempotency_key_reused`)"),
    )
)]
#[post("/technologies/{id}/inquiries")]
pub async fn create_inquiry(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<uuid::Uuid>,
    body: Json<CreateInquiryRequest>,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency_key(&req)?;
    let actor = auth.0;
    let body = body.0;
    let technology: TechnologyId = path.0.into();
    let from: OrganizationId = body.organization_id.into();
    policy::organization(&actor, from, OrgAction::ActFor)?;
    validate_create(&body)?;
    let fingerprint = request_fingerprint(&(technology.0, &body));
    let created = state
        .db
        .run(move |conn| {
            idempotency::create_once(conn, actor.user_id, key.as_deref(), &fingerprint, |conn| {
                let listing = technologies::find(conn, technology)?
                    .filter(|l| l.status == Status::Published)
                    .ok_or_else(|| ApiError::not_found("No such technology."))?;
                if listing.organization_id == from {
                    return Err(ApiError::bad_request(
                        "own_listing",
                        "An organisation cannot send an enquiry about its own listing.",
                    ));
                }
                let new = NewInquiry {
                    from_organization_id: from,
                    message: body.message.trim(),
                    intended_use: body.intended_use.trim(),
                    transfer_form: body.transfer_form.as_str(),
                    budget: body.budget.as_ref().map(|b| (b.amount, b.currency.as_str())),
                };
                let inquiry = store::create(conn, &listing, actor.user_id, &new)?;
                let labels = store::labels(conn, std::slice::from_ref(&inquiry))?;
                serde_json::to_value(dto(inquiry, Some(Vec::new()), &labels)?)
                    .map_err(ApiError::internal_from)
            })
        })
        .await?;
    Ok(crate::api::common::created_response("/api/v1/inquiries", created))
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InquiryRole {
    /// Sent by the caller's organisations.
    Sent,
    /// About the caller's organisations' listings.
    Received,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InquiryListParams {
    /// Default: both.
    #[param(inline)]
    pub role: Option<InquiryRole>,
}

/// Enquiries sent or received by the caller's organisations, newest first.
#[utoipa::path(
    tag = "inquiries",
    security(("bearer" = [])),
    params(InquiryListParams, PageParams),
    responses(
        (status = 200, body = Page<InquiryDto>),
        (status = 400, description = "Invalid parameters"),
        (status = 401, description = "Not signed in"),
    )
)]
#[get("/inquiries")]
pub async fn list_inquiries(
    state: web::Data<AppState>,
    auth: Auth,
    params: Query<InquiryListParams>,
    paging: Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let page = paging.0.resolve()?;
    let orgs: Vec<OrganizationId> = auth.0.memberships.iter().map(|(org, _)| *org).collect();
    let role = match params.0.role {
        Some(InquiryRole::Sent) => Role::Sent,
        Some(InquiryRole::Received) => Role::Received,
        None => Role::Both,
    };
    let (items, total, labels) = state
        .db
        .run(move |conn| -> Result<_, ApiError> {
            let (items, total) = store::list(conn, &orgs, role, page.offset(), page.limit())?;
            let labels = store::labels(conn, &items)?;
            Ok((items, total, labels))
        })
        .await?;
    let items = items.into_iter().map(|i| dto(i, None, &labels)).collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(Page::new(items, page, total)))
}

/// An enquiry with its thread: both sides' members and exchange staff (404 for others).
#[utoipa::path(
    tag = "inquiries",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path)),
    responses(
        (status = 200, body = InquiryDto, headers(("ETag" = String))),
        (status = 401, description = "Not signed in"),
        (status = 404, description = "No such enquiry, or not a side of it"),
    )
)]
#[get("/inquiries/{id}")]
pub async fn get_inquiry(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id: InquiryId = path.0.into();
    let actor = auth.0;
    let (inquiry, messages, labels) = state
        .db
        .run(move |conn| -> Result<_, ApiError> {
            let inquiry = store::get(conn, id)?;
            policy::inquiry(
                &actor,
                inquiry.from_organization_id,
                inquiry.to_organization_id,
                InquiryAction::View,
            )?;
            let messages = store::messages(conn, id)?;
            let labels = store::labels(conn, std::slice::from_ref(&inquiry))?;
            Ok((inquiry, messages, labels))
        })
        .await?;
    let body = dto(inquiry, Some(messages), &labels)?;
    Ok(HttpResponse::Ok().insert_header((header::ETAG, etag(body.version))).json(body))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InquiryMessageRequest {
    /// At most 5 000 characters.
    #[schema(example = "Cảm ơn quý đơn vị. Chúng tôi gửi kèm hồ sơ kỹ thuật.")]
    pub body: String,
}

/// Write in an enquiry's thread (either side's members). The owner side's first message
/// marks the enquiry answered.
#[utoipa::path(
    tag = "inquiries",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path)),
    request_body = InquiryMessageRequest,
    responses(
        (status = 201, body = InquiryMessageDto),
        (status = 400, description = "Invalid fields"),
        (status = 401, description = "Not signed in"),
        (status = 403, description = "Exchange staff cannot write in a thread"),
        (status = 404, description = "No such enquiry, or not a side of it"),
        (status = 409, description = "The enquiry is closed (`inquiry_closed`)"),
    )
)]
#[post("/inquiries/{id}/messages")]
pub async fn post_inquiry_message(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<uuid::Uuid>,
    body: Json<InquiryMessageRequest>,
) -> Result<HttpResponse, ApiError> {
    let id: InquiryId = path.0.into();
    let actor = auth.0;
    let text = body.0.body;
    let message = state
        .db
        .run(move |conn| {
            dialect::write_transaction(conn, |conn| {
                let inquiry = store::get(conn, id)?;
                policy::inquiry(
                    &actor,
                    inquiry.from_organization_id,
                    inquiry.to_organization_id,
                    InquiryAction::Reply,
                )?;
                let mut v = Validator::new();
                v.text("body", &text, 5_000);
                v.finish()?;
                // A member of both sides writes as the owner: they can answer.
                let side = if actor.org_role(inquiry.to_organization_id).is_some() {
                    inquiry.to_organization_id
                } else {
                    inquiry.from_organization_id
                };
                store::add_message(conn, &inquiry, side, actor.user_id, text.trim())
                    .map_err(ApiError::from)
            })
        })
        .await?;
    Ok(HttpResponse::Created().json(message_dto(message)))
}

/// Close an enquiry (the listing owner's members). Needs `If-Match`.
#[utoipa::path(
    tag = "inquiries",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), ("If-Match" = String, Header, description = "The ETag you last read")),
    responses(
        (status = 200, body = InquiryDto, headers(("ETag" = String))),
        (status = 401, description = "Not signed in"),
        (status = 403, description = "Not the listing's owner"),
        (status = 404, description = "No such enquiry, or not a side of it"),
        (status = 409, description = "Already closed (`inquiry_closed`)"),
    )
)]
#[post("/inquiries/{id}/close")]
pub async fn close_inquiry(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id: InquiryId = path.0.into();
    let actor = auth.0;
    // Judged after visibility: an outsider gets 404, not 428.
    let expected = if_match(&req);
    let body = state
        .db
        .run(move |conn| {
            dialect::write_transaction(conn, |conn| {
                let inquiry = store::get(conn, id)?;
                policy::inquiry(
                    &actor,
                    inquiry.from_organization_id,
                    inquiry.to_organization_id,
                    InquiryAction::Close,
                )?;
                if expected? != inquiry.version {
                    return Err(precondition_failed());
                }
                let closed = store::close(conn, &inquiry)?;
                let labels = store::labels(conn, std::slice::from_ref(&closed))?;
                dto(closed, None, &labels)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().insert_header((header::ETAG, etag(body.version))).json(body))
}

/// The inquiries routes, in the order the OpenAPI document lists them.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_inquiry)
        .service(list_inquiries)
        .service(get_inquiry)
        .service(post_inquiry_message)
        .service(close_inquiry);
}
