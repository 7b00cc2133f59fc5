//! Deals between a buyer and a seller organisation, optionally brokered: how a deal is shown,
//! opened, listed and read. What opening one links is decided in `opening`; terms, the Art. 23
//! checklist, acceptance, signing and stage moves are in `progress`; the timeline in `timeline`.

mod progress;
mod timeline;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::api::cache::IF_NONE_MATCH_DOC;
use crate::api::cache::{self, Policy};
use crate::api::common::{Page, PageParams, etag, idempotency_key, request_fingerprint};
use crate::api::extract::{Json, Path, Query};
use crate::api::labels::{self as label, PartyDto, TitledDto};
use crate::api::validate::Validator;
use crate::auth::Actor;
use crate::auth::extract::Auth;
use crate::auth::policy::{self, DealAction, DealParties};
use crate::db::DbConn;
use crate::db::types::{DealId, OrganizationId, utc};
use crate::domain::deals::{ChecklistItem, Stage};
use crate::domain::listing;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::deals::{self as store, By, Deal, Sides, Terms, TransferForm};
use crate::store::idempotency;
use crate::store::labels::Labels;
use crate::workflows::{self, deals::Origin};

#[derive(Debug, Serialize, ToSchema)]
pub struct ChecklistEntryDto {
    pub item: ChecklistItem,
    pub ticked: bool,
    pub note: Option<String>,
    /// Who last ticked or unticked it.
    pub ticked_by: Option<uuid::Uuid>,
    pub ticked_at: Option<DateTime<Utc>>,
}

/// A deal. Lists and single-deal answers carry the technology's title and the parties'
/// names and kinds, so a deals page renders from one request.
#[derive(Debug, Serialize, ToSchema)]
pub struct DealDto {
    pub id: uuid::Uuid,
    pub technology: TitledDto,
    pub buyer: PartyDto,
    pub seller: PartyDto,
    pub broker: Option<PartyDto>,
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
    labels: &Labels,
) -> Result<DealDto, ApiError> {
    let party = |id: OrganizationId| label::party(labels, id);
    let technology = label::technology(labels, d.technology_id)?;
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
#[schema(example = json!({
    "inquiry_id": "0193a5b2-7c4e-7d10-9f3a-5b6c7d8e9f01",
    "terms": {"transfer_form": "usage_licence", "exclusive": false, "territory": "Việt Nam",
              "term_months": 60, "price": 750_000_000, "currency": "VND"}
}))]
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

    /// Where the deal comes from, with 400 naming the fields that do not go together or are
    /// missing; what needs the database is the workflow's.
    fn origin(&self) -> Result<Origin, ApiError> {
        if let Some(inquiry_id) = self.inquiry_id {
            self.only(&["inquiry_id"], "does not go with inquiry_id, which names the parties")?;
            return Ok(Origin::Inquiry(inquiry_id.into()));
        }
        if let Some(proposal_id) = self.proposal_id {
            self.only(&["proposal_id"], "does not go with proposal_id, which names the parties")?;
            return Ok(Origin::Proposal(proposal_id.into()));
        }
        if let (None, Some(demand)) = (self.broker_organization_id, self.demand_id) {
            self.only(
                &["demand_id", "technology_id"],
                "does not go with a match (demand_id and technology_id name the parties)",
            )?;
            let technology = self
                .technology_id
                .ok_or_else(|| ApiError::invalid("technology_id", "is required with demand_id"))?;
            return Ok(Origin::Match { technology: technology.into(), demand: demand.into() });
        }
        self.only(
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
            ("broker_organization_id", self.broker_organization_id),
            ("technology_id", self.technology_id),
            ("buyer_organization_id", self.buyer_organization_id),
            ("seller_organization_id", self.seller_organization_id),
        ] {
            v.check(value.is_some(), field, "is required for a brokered deal");
        }
        v.finish()?;
        fn id<I: From<uuid::Uuid>>(u: Option<uuid::Uuid>) -> I {
            u.unwrap_or_default().into()
        }
        Ok(Origin::Brokered {
            broker: id(self.broker_organization_id),
            technology: id(self.technology_id),
            buyer: id(self.buyer_organization_id),
            seller: id(self.seller_organization_id),
        })
    }
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
    let origin = body.origin()?;
    let fingerprint = request_fingerprint(&body);
    let created = state
        .db
        .run(move |conn| {
            idempotency::create_once(
                conn,
                actor.user_id,
                key.as_deref(),
                &fingerprint,
                |conn| -> Result<_, ApiError> {
                    let deal = workflows::deals::open(conn, &actor, origin, &body.terms)?;
                    serde_json::to_value(full(conn, deal)?).map_err(ApiError::internal_from)
                },
            )
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
    let orgs: Option<Vec<OrganizationId>> =
        (!actor.is_staff()).then(|| actor.memberships.iter().map(|(org, _)| *org).collect());
    let stage = params.0.stage;
    let (items, total, labels) = state
        .db
        .run(move |conn| -> Result<_, ApiError> {
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
fn load(
    conn: &mut DbConn,
    actor: &Actor,
    id: DealId,
    action: DealAction,
) -> Result<Deal, ApiError> {
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
    let id: DealId = path.0.into();
    let actor = auth.0;
    let (deal, checklist, labels) = state
        .db
        .run(move |conn| -> Result<_, ApiError> {
            let (deal, checklist, labels) = store::read(conn, id)?;
            policy::deal(&actor, &parties(&deal), DealAction::View)?;
            Ok((deal, checklist, labels))
        })
        .await?;
    // The version counts every change of the deal, its checklist's included; the labels (a
    // party renamed, a title corrected) change without it, so the ETag adds their digest.
    let party = |id: OrganizationId| labels.organizations.get(&id);
    let shown = (
        labels.titles.get(&deal.technology_id),
        [deal.buyer_organization_id, deal.seller_organization_id].map(party),
        deal.broker_organization_id.and_then(party),
    );
    let etag = cache::joined_etag(deal.version, shown);
    cache::respond(&req, &etag, Policy::Private, Some(cache::VARY_AUTH), || {
        dto(deal, Some(checklist), &labels)
    })
}

/// The deal routes, in the order the OpenAPI document lists them.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_deal)
        .service(list_deals)
        .service(get_deal)
        .service(progress::update_deal)
        .service(progress::set_checklist_item)
        .service(progress::accept_deal)
        .service(progress::confirm_signing)
        .service(progress::transition_deal)
        .service(timeline::add_deal_note)
        .service(timeline::attach_deal_document)
        .service(timeline::list_deal_events);
}
