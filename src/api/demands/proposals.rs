//! Proposals: an organisation's answer to a published demand, accepted, declined or withdrawn.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::api::cache::IF_MATCH_DOC;
use crate::api::common::{
    Page, PageParams, etag, idempotency_key, if_match, precondition_failed, request_fingerprint,
};
use crate::api::extract::{Json, Path, Query};
use crate::api::labels::{self as label, PartyDto, TitledDto};
use crate::auth::Actor;
use crate::auth::extract::Auth;
use crate::auth::policy::{self, ModeratedAction, ProposalAction};
use crate::db::types::{DemandId, OrganizationId, ProposalId, TechnologyId, utc};
use crate::db::{DbConn, dialect};
use crate::domain::demand::{self, ProposalStatus};
use crate::domain::listing::{self, Money};
use crate::domain::moderation::Status;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::demands::{self, Demand};
use crate::store::proposals::{self as store, NewProposal, Proposal};
use crate::store::{idempotency, technologies};

// ---- Proposals ------------------------------------------------------------------------

/// A proposal, with what its list row shows: the demand's title, the proposer's and the
/// technology's names, and the demand's organisation unless the demand hides it from the
/// caller.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProposalDto {
    pub id: uuid::Uuid,
    pub demand_id: uuid::Uuid,
    /// The demand it answers.
    pub demand: TitledDto,
    /// Who posted the demand; null when the demand hides its organisation
    /// (`hide_organization`) from the caller: its own members and staff see it.
    pub demand_organization: Option<PartyDto>,
    /// The offering organisation.
    pub organization_id: uuid::Uuid,
    /// The offering organisation, named.
    pub proposer: PartyDto,
    pub technology_id: Option<uuid::Uuid>,
    /// The technology offered, when the answer is one.
    pub technology: Option<TitledDto>,
    pub status: ProposalStatus,
    pub approach: String,
    pub price: Option<Money>,
    pub timeline_months: Option<i32>,
    pub message: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// Send as `If-Match` to accept or decline.
    pub version: i32,
}

/// Proposals to `demand` as `actor` may see them, labelled with one statement per kind of
/// label for the whole page.
fn proposal_dtos(
    conn: &mut DbConn,
    actor: &Actor,
    demand: &Demand,
    proposals: Vec<Proposal>,
) -> Result<Vec<ProposalDto>, ApiError> {
    let labels = store::labels(conn, demand, &proposals)?;
    let shown = policy::demand_organization_visible(
        Some(actor),
        demand.organization_id,
        demand.content.hide_organization,
    );
    let demand_organization =
        if shown { Some(label::party(&labels, demand.organization_id)?) } else { None };
    proposals
        .into_iter()
        .map(|p| {
            Ok(ProposalDto {
                id: p.id.into(),
                demand_id: p.demand_id.into(),
                demand: label::demand(&labels, p.demand_id)?,
                demand_organization: demand_organization.clone(),
                organization_id: p.organization_id.into(),
                proposer: label::party(&labels, p.organization_id)?,
                technology_id: p.technology_id.map(Into::into),
                technology: p.technology_id.map(|t| label::technology(&labels, t)).transpose()?,
                status: ProposalStatus::parse(&p.status).ok_or_else(ApiError::internal)?,
                approach: p.approach,
                price: match (p.price, p.currency) {
                    (Some(amount), Some(currency)) => Some(Money { amount, currency }),
                    _ => None,
                },
                timeline_months: p.timeline_months,
                message: p.message,
                decided_at: p.decided_at.map(utc),
                created_at: utc(p.created_at),
                version: p.version,
            })
        })
        .collect()
}

/// One proposal to `demand` as `actor` may see it.
fn proposal_dto(
    conn: &mut DbConn,
    actor: &Actor,
    demand: &Demand,
    proposal: Proposal,
) -> Result<ProposalDto, ApiError> {
    proposal_dtos(conn, actor, demand, vec![proposal])?.pop().ok_or_else(ApiError::internal)
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProposalRequest {
    /// The offering organisation; the caller must be a member (not of the demand's own).
    pub organization_id: uuid::Uuid,
    /// A published technology of the offering organisation, if the answer is one.
    pub technology_id: Option<uuid::Uuid>,
    /// How the need would be met, at most 5 000 characters.
    #[schema(example = "Hệ thống biogas kết hợp lọc sinh học, lắp đặt trong 4 tháng.")]
    pub approach: String,
    pub price: Option<Money>,
    /// Months to deliver, 1–120.
    #[schema(minimum = 1, maximum = 120, example = 4)]
    pub timeline_months: Option<u32>,
    /// At most 2 000 characters.
    pub message: Option<String>,
}

/// Answer a published demand with a proposal in the name of an organisation you belong to;
/// the demand's owners are mailed. Honours `Idempotency-Key`.
#[utoipa::path(
    tag = "demands",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), ("Idempotency-Key" = Option<String>, Header, description = "Retry-safe creation")),
    request_body = CreateProposalRequest,
    responses(
        (status = 201, body = ProposalDto),
        (status = 400, description = "Invalid fields; `technology_id` is not a published listing of the offering organisation"),
        (status = 403, description = "Not a member of the offering organisation, or it is the demand's own"),
        (status = 404, description = "No such demand, or not visible to the caller"),
        (status = 409, description = "The demand is not published (`not_published`)"),
        (status = 422, description = "The Idempotency-Key was used with another body (`idempotency_key_reused`)"),
    )
)]
#[post("/demands/{id}/proposals")]
pub async fn create_proposal(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<uuid::Uuid>,
    body: Json<CreateProposalRequest>,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency_key(&req)?;
    let actor = auth.0;
    let demand_id: DemandId = path.0.into();
    let body = body.0;
    let fingerprint = request_fingerprint(&(demand_id.to_string(), &body));
    let approach = body.approach.trim().to_owned();
    let message = listing::trimmed_opt(&body.message);
    let errors = demand::validate_proposal(
        &approach,
        message.as_deref(),
        body.price.as_ref().map(|p| (p.amount, p.currency.as_str())),
        body.timeline_months,
    );
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let new = NewProposal {
        organization_id: body.organization_id.into(),
        technology_id: body.technology_id.map(TechnologyId::from),
        approach,
        price: body.price.map(|p| (p.amount, p.currency)),
        timeline_months: body.timeline_months,
        message,
    };
    let created = state
        .db
        .run(move |conn| {
            idempotency::create_once(conn, actor.user_id, key.as_deref(), &fingerprint, |conn| {
                let demand = demands::get(conn, demand_id)?;
                policy::demand(
                    Some(&actor),
                    demand.organization_id,
                    demand.status.is_public(),
                    ModeratedAction::View,
                )?;
                policy::proposal(
                    &actor,
                    demand.organization_id,
                    ProposalAction::Create { offering: new.organization_id },
                )?;
                if demand.status != Status::Published {
                    return Err(ApiError::conflict(
                        "not_published",
                        "Only published demands take proposals.",
                    ));
                }
                if let Some(technology) = new.technology_id {
                    let listing = technologies::find(conn, technology)?;
                    if listing.is_none_or(|l| {
                        l.organization_id != new.organization_id || l.status != Status::Published
                    }) {
                        return Err(ApiError::invalid(
                            "technology_id",
                            "is not a published listing of the offering organisation",
                        ));
                    }
                }
                let proposal = store::create(conn, &demand, actor.user_id, &new)?;
                serde_json::to_value(proposal_dto(conn, &actor, &demand, proposal)?)
                    .map_err(ApiError::internal_from)
            })
        })
        .await?;
    let mut response = HttpResponse::Created();
    if created.replayed {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(response.json(created.body))
}

/// A demand's proposals, oldest first: all of them for the demand's organisation and staff,
/// the caller's own organisations' for everybody else.
#[utoipa::path(
    tag = "demands",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), PageParams),
    responses(
        (status = 200, body = Page<ProposalDto>),
        (status = 404, description = "No such demand, or not visible to the caller"),
    )
)]
#[get("/demands/{id}/proposals")]
pub async fn list_proposals(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<uuid::Uuid>,
    paging: Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let page = paging.0.resolve()?;
    let actor = auth.0;
    let demand_id: DemandId = path.0.into();
    let (items, total) = state
        .db
        .run(move |conn| -> Result<_, ApiError> {
            let demand = demands::get(conn, demand_id)?;
            policy::demand(
                Some(&actor),
                demand.organization_id,
                demand.status.is_public(),
                ModeratedAction::View,
            )?;
            let own: Vec<OrganizationId> = actor.memberships.iter().map(|(org, _)| *org).collect();
            let only = (!policy::sees_all_proposals(&actor, demand.organization_id))
                .then_some(own.as_slice());
            let (items, total) = store::list(conn, demand_id, only, page.offset(), page.limit())?;
            Ok((proposal_dtos(conn, &actor, &demand, items)?, total))
        })
        .await?;
    Ok(HttpResponse::Ok().json(Page::new(items, page, total)))
}

/// What the demand's side (accept, decline) or the offering side (withdraw) does to a
/// pending proposal.
#[derive(Clone, Copy)]
enum ProposalMove {
    Accept,
    Decline,
    Withdraw,
}

async fn move_proposal(
    req: HttpRequest,
    state: web::Data<AppState>,
    actor: Actor,
    demand_id: DemandId,
    proposal_id: ProposalId,
    step: ProposalMove,
) -> Result<HttpResponse, ApiError> {
    let expected = if_match(&req);
    let body = state
        .db
        .run(move |conn| {
            dialect::write_transaction(conn, |conn| {
                let demand = demands::get(conn, demand_id)?;
                policy::demand(
                    Some(&actor),
                    demand.organization_id,
                    demand.status.is_public(),
                    ModeratedAction::View,
                )?;
                let proposal = match step {
                    ProposalMove::Accept | ProposalMove::Decline => {
                        policy::proposal(&actor, demand.organization_id, ProposalAction::Decide)?;
                        store::get(conn, demand_id, proposal_id)?
                    }
                    ProposalMove::Withdraw => {
                        let proposal = store::get(conn, demand_id, proposal_id)?;
                        // Outsiders do not learn that another organisation's proposal
                        // exists, as in the list of proposals.
                        if !policy::sees_all_proposals(&actor, demand.organization_id)
                            && actor.org_role(proposal.organization_id).is_none()
                        {
                            return Err(ApiError::not_found("No such proposal."));
                        }
                        let offering = proposal.organization_id;
                        let action = ProposalAction::Withdraw { offering };
                        policy::proposal(&actor, demand.organization_id, action)?;
                        proposal
                    }
                };
                if expected? != proposal.version {
                    return Err(precondition_failed());
                }
                let status =
                    ProposalStatus::parse(&proposal.status).ok_or_else(ApiError::internal)?;
                let to = match step {
                    ProposalMove::Accept => status.decide(true),
                    ProposalMove::Decline => status.decide(false),
                    ProposalMove::Withdraw => status.withdraw(),
                };
                let to = to.ok_or_else(|| {
                    ApiError::conflict(
                        "already_decided",
                        format!("This proposal is already {}.", status.as_str()),
                    )
                })?;
                let settled = store::settle(conn, &demand, &proposal, to, actor.user_id)?;
                proposal_dto(conn, &actor, &demand, settled)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().insert_header((header::ETAG, etag(body.version))).json(body))
}

/// Accept a pending proposal (members of the demand's organisation). Needs `If-Match`; both
/// sides' owners are mailed.
#[utoipa::path(
    tag = "demands",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), ("proposal_id" = uuid::Uuid, Path), ("If-Match" = String, Header, description = IF_MATCH_DOC)),
    responses(
        (status = 200, body = ProposalDto, headers(("ETag" = String))),
        (status = 403, description = "Not a member of the demand's organisation"),
        (status = 404, description = "No such demand or proposal"),
        (status = 409, description = "Already decided or withdrawn (`already_decided`)"),
    )
)]
#[post("/demands/{id}/proposals/{proposal_id}/accept")]
pub async fn accept_proposal(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<(uuid::Uuid, uuid::Uuid)>,
) -> Result<HttpResponse, ApiError> {
    move_proposal(req, state, auth.0, path.0.0.into(), path.0.1.into(), ProposalMove::Accept).await
}

/// Decline a pending proposal (members of the demand's organisation). Needs `If-Match`;
/// both sides' owners are mailed.
#[utoipa::path(
    tag = "demands",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), ("proposal_id" = uuid::Uuid, Path), ("If-Match" = String, Header, description = IF_MATCH_DOC)),
    responses(
        (status = 200, body = ProposalDto, headers(("ETag" = String))),
        (status = 403, description = "Not a member of the demand's organisation"),
        (status = 404, description = "No such demand or proposal"),
        (status = 409, description = "Already decided or withdrawn (`already_decided`)"),
    )
)]
#[post("/demands/{id}/proposals/{proposal_id}/decline")]
pub async fn decline_proposal(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<(uuid::Uuid, uuid::Uuid)>,
) -> Result<HttpResponse, ApiError> {
    move_proposal(req, state, auth.0, path.0.0.into(), path.0.1.into(), ProposalMove::Decline).await
}

/// Withdraw a pending proposal (members of the offering organisation). Needs `If-Match`; the
/// demand's owners are mailed. A withdrawn proposal can no longer be accepted or declined.
#[utoipa::path(
    tag = "demands",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), ("proposal_id" = uuid::Uuid, Path), ("If-Match" = String, Header, description = IF_MATCH_DOC)),
    responses(
        (status = 200, body = ProposalDto, headers(("ETag" = String))),
        (status = 403, description = "Not a member of the offering organisation"),
        (status = 404, description = "No such demand or proposal, or not visible to the caller"),
        (status = 409, description = "No longer pending (`already_decided`)"),
    )
)]
#[post("/demands/{id}/proposals/{proposal_id}/withdraw")]
pub async fn withdraw_proposal(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<(uuid::Uuid, uuid::Uuid)>,
) -> Result<HttpResponse, ApiError> {
    move_proposal(req, state, auth.0, path.0.0.into(), path.0.1.into(), ProposalMove::Withdraw)
        .await
}

pub(super) fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_proposal)
        .service(list_proposals)
        .service(accept_proposal)
        .service(decline_proposal)
        .service(withdraw_proposal);
}
