//! Deals between a buyer and a seller organisation, optionally brokered: terms, the Art. 23
//! checklist, acceptance, signing confirmations, stage transitions and the timeline.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, get, patch, post, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::cache::{self, Policy};
use crate::api::common::{
    Page, PageParams, etag, idempotency_key, if_match, precondition_failed, request_fingerprint,
};
use crate::api::extract::{Json, Path, Query};
use crate::api::technologies::IF_NONE_MATCH_DOC;
use crate::api::validate::Validator;
use crate::auth::Actor;
use crate::auth::extract::Auth;
use crate::auth::policy::{self, DealAction, DealOrigin, DealParties, InquiryAction, OrgAction};
use crate::db::types::{Id, utc};
use crate::db::{DbConn, dialect};
use crate::domain::deals::{self as machine, ChecklistItem, Stage, TransitionError};
use crate::domain::demand::ProposalStatus;
use crate::domain::listing::{self, Status};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::deals::{
    self as store, By, Deal, EventRow, Move, NewDeal, Sides, Terms, TransferForm,
};
use crate::store::{demands, idempotency, inquiries, organizations, technologies};

#[derive(Debug, Serialize, ToSchema)]
pub struct ChecklistEntryDto {
    pub item: ChecklistItem,
    pub ticked: bool,
    pub note: Option<String>,
    /// Who last ticked or unticked it.
    pub ticked_by: Option<uuid::Uuid>,
    pub ticked_at: Option<DateTime<Utc>>,
}

/// The listing a deal is over, as a list row shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct DealTechnologyDto {
    pub id: uuid::Uuid,
    pub title: String,
}

/// A party of a deal, as a list row shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct DealPartyDto {
    pub id: uuid::Uuid,
    pub name: String,
    #[schema(value_type = crate::api::organizations::OrganizationKind)]
    pub kind: String,
}

/// A deal. Lists and single-deal answers carry the technology's title and the parties'
/// names and kinds, so a deals page renders from one request.
#[derive(Debug, Serialize, ToSchema)]
pub struct DealDto {
    pub id: uuid::Uuid,
    pub technology: DealTechnologyDto,
    pub buyer: DealPartyDto,
    pub seller: DealPartyDto,
    pub broker: Option<DealPartyDto>,
    pub technology_id: uuid::Uuid,
    pub buyer_organization_id: uuid::Uuid,
    pub seller_organization_id: uuid::Uuid,
    pub broker_organization_id: Option<uuid::Uuid>,
    /// The enquiry it came from.
    pub inquiry_id: Option<uuid::Uuid>,
    /// The demand it answers (opened from a proposal or a match).
    pub demand_id: Option<uuid::Uuid>,
    /// The accepted proposal it came from.
    pub proposal_id: Option<uuid::Uuid>,
    pub stage: Stage,
    pub terms: Terms,
    /// Recorded on completion.
    #[schema(minimum = 0)]
    pub final_price: Option<i64>,
    pub buyer_accepted_at: Option<DateTime<Utc>>,
    pub seller_accepted_at: Option<DateTime<Utc>>,
    pub buyer_confirmed_signing_at: Option<DateTime<Utc>>,
    pub seller_confirmed_signing_at: Option<DateTime<Utc>>,
    pub cancel_reason: Option<String>,
    /// The Art. 23 contract items (in `GET /deals/{id}` and after changes; not in lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checklist: Option<Vec<ChecklistEntryDto>>,
    pub created_by: uuid::Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub signed_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    /// Send as `If-Match` (the `ETag`) to change terms or move the deal.
    pub version: i32,
}

fn dto(
    d: Deal,
    checklist: Option<Vec<store::ChecklistRow>>,
    labels: &store::Labels,
) -> Result<DealDto, ApiError> {
    let party = |id: Id| -> Result<DealPartyDto, ApiError> {
        let (name, kind) = labels.organizations.get(&id).cloned().ok_or_else(ApiError::internal)?;
        Ok(DealPartyDto { id: id.into(), name, kind })
    };
    let technology = DealTechnologyDto {
        id: d.technology_id.into(),
        title: labels.titles.get(&d.technology_id).cloned().ok_or_else(ApiError::internal)?,
    };
    let (buyer, seller) = (party(d.buyer_organization_id)?, party(d.seller_organization_id)?);
    let broker = d.broker_organization_id.map(party).transpose()?;
    let checklist = match checklist {
        None => None,
        Some(rows) => Some(
            rows.into_iter()
                .map(|r| {
                    let item = serde_json::from_value(serde_json::Value::String(r.item))
                        .map_err(ApiError::internal_from)?;
                    Ok(ChecklistEntryDto {
                        item,
                        ticked: r.ticked,
                        note: r.note,
                        ticked_by: r.ticked_by.map(Into::into),
                        ticked_at: r.ticked_at.map(utc),
                    })
                })
                .collect::<Result<Vec<_>, ApiError>>()?,
        ),
    };
    Ok(DealDto {
        id: d.id.into(),
        technology,
        buyer,
        seller,
        broker,
        technology_id: d.technology_id.into(),
        buyer_organization_id: d.buyer_organization_id.into(),
        seller_organization_id: d.seller_organization_id.into(),
        broker_organization_id: d.broker_organization_id.map(Into::into),
        inquiry_id: d.inquiry_id.map(Into::into),
        demand_id: d.demand_id.map(Into::into),
        proposal_id: d.proposal_id.map(Into::into),
        stage: d.stage()?,
        terms: d.terms()?,
        final_price: d.final_price,
        buyer_accepted_at: d.buyer_accepted_at.map(utc),
        seller_accepted_at: d.seller_accepted_at.map(utc),
        buyer_confirmed_signing_at: d.buyer_confirmed_signing_at.map(utc),
        seller_confirmed_signing_at: d.seller_confirmed_signing_at.map(utc),
        cancel_reason: d.cancel_reason,
        checklist,
        created_by: d.created_by.into(),
        created_at: utc(d.created_at),
        updated_at: utc(d.updated_at),
        signed_at: d.signed_at.map(utc),
        completed_at: d.completed_at.map(utc),
        version: d.version,
    })
}

/// The deal with its checklist, as every single-deal response shows it.
fn full(conn: &mut DbConn, deal: Deal) -> Result<DealDto, ApiError> {
    let checklist = store::checklist(conn, deal.id)?;
    let labels = store::labels(conn, std::slice::from_ref(&deal))?;
    dto(deal, Some(checklist), &labels)
}

fn respond(status: StatusCode, body: &DealDto) -> HttpResponse {
    HttpResponse::build(status).insert_header((header::ETAG, etag(body.version))).json(body)
}

fn parties(deal: &Deal) -> DealParties {
    DealParties {
        buyer: deal.buyer_organization_id,
        seller: deal.seller_organization_id,
        broker: deal.broker_organization_id,
    }
}

/// The party the actor acts for: the buyer or seller first, the broker otherwise.
fn by(actor: &Actor, deal: &Deal) -> By {
    let organization = [
        Some(deal.buyer_organization_id),
        Some(deal.seller_organization_id),
        deal.broker_organization_id,
    ]
    .into_iter()
    .flatten()
    .find(|org| actor.org_role(*org).is_some());
    By { user: actor.user_id, organization }
}

fn sides(actor: &Actor, deal: &Deal) -> Sides {
    Sides {
        buyer: actor.org_role(deal.buyer_organization_id).is_some(),
        seller: actor.org_role(deal.seller_organization_id).is_some(),
    }
}

fn validate_terms(v: &mut Validator, t: &Terms, brokered: bool) {
    if t.transfer_form == TransferForm::OwnershipAssignment {
        for (field, set) in [
            ("terms.exclusive", t.exclusive.is_some()),
            ("terms.territory", t.territory.is_some()),
            ("terms.term_months", t.term_months.is_some()),
            ("terms.sublicensing", t.sublicensing.is_some()),
        ] {
            v.check(!set, field, "applies to a usage licence only");
        }
    }
    v.optional_text("terms.territory", t.territory.as_deref(), 200);
    v.optional_text("terms.payment_schedule", t.payment_schedule.as_deref(), 2_000);
    v.check(
        t.term_months.is_none_or(|m| (1..=1200).contains(&m)),
        "terms.term_months",
        "must be between 1 and 1200",
    );
    v.check(t.price.is_none_or(|p| p >= 0), "terms.price", "must not be negative");
    v.check(t.broker_fee.is_none_or(|p| p >= 0), "terms.broker_fee", "must not be negative");
    v.check(brokered || t.broker_fee.is_none(), "terms.broker_fee", "needs a broker");
    let money = t.price.is_some() || t.broker_fee.is_some();
    match &t.currency {
        Some(c) => v.check(
            listing::is_currency(c),
            "terms.currency",
            "is not a known ISO 4217 currency code",
        ),
        None => v.check(!money, "terms.currency", "is required with a price or a broker fee"),
    }
}

/// Where a deal comes from is told by which of the id fields are set — exactly one of these
/// four shapes (any other field set answers 400 naming it):
///
/// | origin | fields | who | buyer / seller |
/// |---|---|---|---|
/// | enquiry | `inquiry_id` | a member of either side | the enquirer / the listing's owner |
/// | accepted proposal | `proposal_id` | a member of either side (the demand's side only, for a demand hiding its organisation) | the demand's organisation / the proposer, over the proposal's technology, which must still be published |
/// | match | `technology_id` + `demand_id` | a member of either side (the demand's side only, for a demand hiding its organisation) | the demand's organisation / the technology's |
/// | broker | `broker_organization_id` + `technology_id` + `buyer_organization_id` + `seller_organization_id` | a member of the intermediary | as named |
///
/// A side opening the deal accepts it for that side by doing so; the other side (both, for
/// a broker) accepts with `POST /deals/{id}/accept`.
///
/// A demand that hides its organisation (`hide_organization`) keeps it hidden from
/// sellers: only a member of the demand's own organisation may open a deal from it (from
/// a proposal or a match); the seller's members get 403 and wait for the buyer to open it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDealRequest {
    /// From an enquiry: the enquirer buys, the listing's owner sells.
    pub inquiry_id: Option<uuid::Uuid>,
    /// From an accepted proposal that names a technology: the demand's organisation buys,
    /// the proposing organisation sells. The deal records the demand and the proposal.
    pub proposal_id: Option<uuid::Uuid>,
    /// From a match, with `technology_id`: both published; the demand's organisation buys.
    pub demand_id: Option<uuid::Uuid>,
    /// A broker (an `intermediary` organisation the caller belongs to) names both parties.
    pub broker_organization_id: Option<uuid::Uuid>,
    /// Brokered deals and matches: a published listing of the seller.
    pub technology_id: Option<uuid::Uuid>,
    pub buyer_organization_id: Option<uuid::Uuid>,
    pub seller_organization_id: Option<uuid::Uuid>,
    pub terms: Terms,
}

impl CreateDealRequest {
    /// The id fields that are set, by name.
    fn present(&self) -> Vec<&'static str> {
        [
            ("inquiry_id", self.inquiry_id.is_some()),
            ("proposal_id", self.proposal_id.is_some()),
            ("demand_id", self.demand_id.is_some()),
            ("broker_organization_id", self.broker_organization_id.is_some()),
            ("technology_id", self.technology_id.is_some()),
            ("buyer_organization_id", self.buyer_organization_id.is_some()),
            ("seller_organization_id", self.seller_organization_id.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect()
    }

    /// 400 naming every set field outside `allowed` (the origin's own fields).
    fn only(&self, allowed: &[&str], why: &str) -> Result<(), ApiError> {
        let mut v = Validator::new();
        for field in self.present() {
            v.check(allowed.contains(&field), field, why);
        }
        v.finish()
    }
}

/// What a deal will link, decided from the request and the database.
struct Plan {
    technology_id: Id,
    buyer: Id,
    seller: Id,
    broker: Option<Id>,
    inquiry_id: Option<Id>,
    demand_id: Option<Id>,
    proposal_id: Option<Id>,
    /// The side the creator commits by creating.
    accepted_side: Option<Id>,
}

fn plan(conn: &mut DbConn, actor: &Actor, body: &CreateDealRequest) -> Result<Plan, ApiError> {
    if let Some(inquiry_id) = body.inquiry_id {
        body.only(&["inquiry_id"], "does not go with inquiry_id, which names the parties")?;
        let inquiry = inquiries::get(conn, inquiry_id.into())?;
        let (buyer, seller) = (inquiry.from_organization_id, inquiry.to_organization_id);
        policy::inquiry(actor, buyer, seller, InquiryAction::Reply)?;
        if inquiry.status == "closed" {
            return Err(ApiError::conflict("inquiry_closed", "This enquiry is closed."));
        }
        // The unique index `deals_one_live_per_inquiry` settles a race; this names it.
        if store::live_for_inquiry(conn, inquiry.id)? {
            return Err(ApiError::conflict(
                "deal_exists",
                "This enquiry already has a deal that is not cancelled.",
            ));
        }
        // The creator's side accepts by creating; the seller first for a member of both.
        let side = if actor.org_role(seller).is_some() { seller } else { buyer };
        return Ok(Plan {
            technology_id: inquiry.technology_id,
            buyer,
            seller,
            broker: None,
            inquiry_id: Some(inquiry.id),
            demand_id: None,
            proposal_id: None,
            accepted_side: Some(side),
        });
    }
    if let Some(proposal_id) = body.proposal_id {
        body.only(&["proposal_id"], "does not go with proposal_id, which names the parties")?;
        return from_proposal(conn, actor, proposal_id.into());
    }
    if body.broker_organization_id.is_none() && body.demand_id.is_some() {
        body.only(
            &["demand_id", "technology_id"],
            "does not go with a match (demand_id and technology_id name the parties)",
        )?;
        let technology = body
            .technology_id
            .ok_or_else(|| ApiError::invalid("technology_id", "is required with demand_id"))?;
        return from_match(
            conn,
            actor,
            technology.into(),
            body.demand_id.unwrap_or_default().into(),
        );
    }
    body.only(
        &[
            "broker_organization_id",
            "technology_id",
            "buyer_organization_id",
            "seller_organization_id",
        ],
        "does not go with a brokered deal",
    )?;
    let mut v = Validator::new();
    for (field, value) in [
        ("broker_organization_id", body.broker_organization_id),
        ("technology_id", body.technology_id),
        ("buyer_organization_id", body.buyer_organization_id),
        ("seller_organization_id", body.seller_organization_id),
    ] {
        v.check(value.is_some(), field, "is required for a brokered deal");
    }
    v.finish()?;
    let id = |u: Option<uuid::Uuid>| Id::from(u.unwrap_or_default());
    let (broker, technology) = (id(body.broker_organization_id), id(body.technology_id));
    let (buyer, seller) = (id(body.buyer_organization_id), id(body.seller_organization_id));
    policy::organization(actor, broker, OrgAction::ActFor)?;
    if organizations::get(conn, broker)?.kind != "intermediary" {
        return Err(ApiError::forbidden("Only intermediary organisations broker deals."));
    }
    let mut v = Validator::new();
    v.check(buyer != seller, "buyer_organization_id", "must differ from the seller");
    v.check(broker != buyer && broker != seller, "broker_organization_id", "must not be a party");
    v.finish()?;
    let listing =
        technologies::find(conn, technology)?
            .filter(|l| l.status == Status::Published)
            .ok_or_else(|| ApiError::invalid("technology_id", "is not a published listing"))?;
    if listing.organization_id != seller {
        return Err(ApiError::invalid("seller_organization_id", "must own the listing"));
    }
    if organizations::find(conn, buyer)?.is_none() {
        return Err(ApiError::invalid("buyer_organization_id", "is not an organisation"));
    }
    Ok(Plan {
        technology_id: technology,
        buyer,
        seller,
        broker: Some(broker),
        inquiry_id: None,
        demand_id: None,
        proposal_id: None,
        accepted_side: None,
    })
}

/// 409 when the pair already has a live deal (from a proposal or a match).
fn no_live_deal(conn: &mut DbConn, technology: Id, demand: Id) -> Result<(), ApiError> {
    // The unique index `deals_one_live_per_match` settles a race; this names it.
    if store::live_for_match(conn, technology, demand)? {
        return Err(ApiError::conflict(
            "deal_exists",
            "This technology and demand already have a deal that is not cancelled.",
        ));
    }
    Ok(())
}

/// An accepted proposal naming a technology: the demand's organisation buys it from the
/// proposer. Outsiders do not learn that the proposal exists (404).
fn from_proposal(conn: &mut DbConn, actor: &Actor, id: Id) -> Result<Plan, ApiError> {
    let proposal = demands::find_proposal(conn, id)?
        .ok_or_else(|| ApiError::not_found("No such proposal."))?;
    let demand = demands::get(conn, proposal.demand_id)?;
    let (buyer, seller) = (demand.organization_id, proposal.organization_id);
    let origin =
        DealOrigin { buyer, seller, private: true, buyer_hidden: demand.content.hide_organization };
    let side = policy::deal_side(actor, &origin)?;
    if proposal.status != ProposalStatus::Accepted.as_str() {
        return Err(ApiError::conflict(
            "proposal_not_accepted",
            format!("Only an accepted proposal opens a deal; this one is {}.", proposal.status),
        ));
    }
    let technology = proposal.technology_id.ok_or_else(|| {
        ApiError::conflict(
            "proposal_without_technology",
            "A deal is over a technology, and this proposal names none; open the deal from \
             the technology (a match) instead.",
        )
    })?;
    // The listing may have been withdrawn or sent back to review since the proposal.
    technologies::find(conn, technology)?
        .filter(|l| l.status == Status::Published && l.organization_id == seller)
        .ok_or_else(|| ApiError::invalid("technology_id", "is not a published listing"))?;
    no_live_deal(conn, technology, demand.id)?;
    Ok(Plan {
        technology_id: technology,
        buyer,
        seller,
        broker: None,
        inquiry_id: None,
        demand_id: Some(demand.id),
        proposal_id: Some(proposal.id),
        accepted_side: Some(side),
    })
}

/// A match: a published technology and a published demand of two organisations; the
/// demand's organisation buys.
fn from_match(
    conn: &mut DbConn,
    actor: &Actor,
    technology: Id,
    demand: Id,
) -> Result<Plan, ApiError> {
    let listing =
        technologies::find(conn, technology)?
            .filter(|l| l.status == Status::Published)
            .ok_or_else(|| ApiError::invalid("technology_id", "is not a published listing"))?;
    let demand = demands::find(conn, demand)?
        .filter(|d| d.status == Status::Published)
        .ok_or_else(|| ApiError::invalid("demand_id", "is not a published demand"))?;
    let (buyer, seller) = (demand.organization_id, listing.organization_id);
    if buyer == seller {
        return Err(ApiError::invalid("demand_id", "is the technology owner's own demand"));
    }
    let origin = DealOrigin {
        buyer,
        seller,
        private: false,
        buyer_hidden: demand.content.hide_organization,
    };
    let side = policy::deal_side(actor, &origin)?;
    no_live_deal(conn, listing.id, demand.id)?;
    Ok(Plan {
        technology_id: listing.id,
        buyer,
        seller,
        broker: None,
        inquiry_id: None,
        demand_id: Some(demand.id),
        proposal_id: None,
        accepted_side: Some(side),
    })
}

/// Open a deal: a side from an enquiry, an accepted proposal or a match (that side accepts by
/// creating it), or a broker naming both parties (each must accept). Which fields to send for
/// each origin: see `CreateDealRequest`. Honours `Idempotency-Key`.
#[utoipa::path(
    tag = "deals",
    security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry-safe creation: the same key and body return the first response")),
    request_body = CreateDealRequest,
    responses(
        (status = 201, description = "Open", body = DealDto, headers(("ETag" = String), ("Location" = String))),
        (status = 400, description = "Invalid fields; `technology_id` is not a published listing (a match, a broker, or a proposal whose technology is no longer published)"),
        (status = 401, description = "Not signed in"),
        (status = 403, description = "Not a member of the broker, or it is not an intermediary; not a member of either side of a match; the seller, when the demand hides its organisation"),
        (status = 404, description = "No such enquiry or proposal, or not a side of it"),
        (status = 409, description = "The enquiry is closed (`inquiry_closed`); the enquiry, or the technology and demand, already have a live deal (`deal_exists`); the proposal is not accepted (`proposal_not_accepted`) or names no technology (`proposal_without_technology`)"),
        (status = 422, description = "The Idempotency-Key was used with another body (`idempotency_key_reused`)"),
    )
)]
#[post("/deals")]
pub async fn create_deal(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    body: Json<CreateDealRequest>,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency_key(&req)?;
    let actor = auth.0;
    let body = body.0;
    let mut v = Validator::new();
    validate_terms(&mut v, &body.terms, body.broker_organization_id.is_some());
    v.finish()?;
    let fingerprint = request_fingerprint(&body);
    let created = state
        .db
        .run(move |conn| {
            idempotency::create_once(conn, actor.user_id, key.as_deref(), &fingerprint, |conn| {
                let p = plan(conn, &actor, &body)?;
                let new = NewDeal {
                    technology_id: p.technology_id,
                    buyer: p.buyer,
                    seller: p.seller,
                    broker: p.broker,
                    inquiry_id: p.inquiry_id,
                    demand_id: p.demand_id,
                    proposal_id: p.proposal_id,
                    terms: &body.terms,
                    accepted_side: p.accepted_side,
                };
                let organization = p.accepted_side.or(p.broker);
                let deal = store::create(conn, &new, By { user: actor.user_id, organization })?;
                serde_json::to_value(full(conn, deal)?).map_err(ApiError::internal_from)
            })
        })
        .await?;
    Ok(crate::api::common::created_response("/api/v1/deals", created))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DealListParams {
    #[param(inline)]
    pub stage: Option<Stage>,
}

/// Deals of the caller's organisations (as buyer, seller or broker), newest first; exchange
/// staff see every deal.
#[utoipa::path(
    tag = "deals",
    security(("bearer" = [])),
    params(DealListParams, PageParams),
    responses(
        (status = 200, body = Page<DealDto>),
        (status = 400, description = "Invalid parameters"),
        (status = 401, description = "Not signed in"),
    )
)]
#[get("/deals")]
pub async fn list_deals(
    state: web::Data<AppState>,
    auth: Auth,
    params: Query<DealListParams>,
    paging: Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let page = paging.0.resolve()?;
    let actor = auth.0;
    let orgs: Option<Vec<Id>> =
        (!actor.is_staff()).then(|| actor.memberships.iter().map(|(org, _)| *org).collect());
    let stage = params.0.stage;
    let (items, total, labels) = state
        .db
        .run(move |conn| {
            let (items, total) =
                store::list(conn, orgs.as_deref(), stage, page.offset(), page.limit())?;
            let labels = store::labels(conn, &items)?;
            Ok::<_, ApiError>((items, total, labels))
        })
        .await?;
    let items = items.into_iter().map(|d| dto(d, None, &labels)).collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(Page::new(items, page, total)))
}

/// Loads a deal the caller may see (404 otherwise) and checks `action`.
fn load(conn: &mut DbConn, actor: &Actor, id: Id, action: DealAction) -> Result<Deal, ApiError> {
    let deal = store::get(conn, id)?;
    policy::deal(actor, &parties(&deal), action)?;
    Ok(deal)
}

/// A deal with its checklist: the parties' members and exchange staff (404 for others).
#[utoipa::path(
    tag = "deals",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), ("If-None-Match" = Option<String>, Header, description = IF_NONE_MATCH_DOC)),
    responses(
        (status = 200, body = DealDto, headers(("ETag" = String), ("Cache-Control" = String))),
        (status = 304, description = "Not modified: `If-None-Match` names the current `ETag`", headers(("ETag" = String), ("Cache-Control" = String))),
        (status = 401, description = "Not signed in"),
        (status = 404, description = "No such deal, or not a party to it"),
    )
)]
#[get("/deals/{id}")]
pub async fn get_deal(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id: Id = path.0.into();
    let actor = auth.0;
    let (deal, checklist, labels) = state
        .db
        .run(move |conn| -> Result<_, ApiError> {
            let (deal, checklist, labels) = store::read(conn, id)?;
            policy::deal(&actor, &parties(&deal), DealAction::View)?;
            Ok((deal, checklist, labels))
        })
        .await?;
    // The version counts every change the body shows, the checklist's included.
    cache::respond(&req, &etag(deal.version), Policy::Private, Some(cache::VARY_AUTH), || {
        dto(deal, Some(checklist), &labels)
    })
}

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
async fn change<T: Send + 'static>(
    state: &AppState,
    actor: Actor,
    id: Id,
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
        (status = 412, description = "Changed since you read it"),
        (status = 428, description = "`If-Match` missing"),
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
        (status = 412, description = "Changed since you read it"),
        (status = 428, description = "`If-Match` missing"),
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
    let id: Id = path.0.into();
    let actor = auth.0;
    let kind = params.0.kind.map(DealEventKind::as_str);
    let (items, total) = state
        .db
        .run(move |conn| {
            load(conn, &actor, id, DealAction::View)?;
            store::events(conn, id, kind, page.offset(), page.limit()).map_err(ApiError::from)
        })
        .await?;
    let items = items.into_iter().map(event_dto).collect();
    Ok(HttpResponse::Ok().json(Page::new(items, page, total)))
}
