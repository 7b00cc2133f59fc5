//! Deals: rows, their Art. 23 checklist and their append-only timeline. Every change writes
//! an event in the same transaction, and every write to `deals` is guarded by the version
//! read in that transaction, so two concurrent changes cannot both apply.
//!
//! The rows and their reads are here; the changes a deal goes through (terms, acceptances,
//! checklist, notes, documents, stage transitions and what each announces) are in
//! [`progress`].

mod progress;

pub use progress::{
    Move, Sides, accept, attach_document, confirm_signing, note, tick, transition, update_terms,
};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::DbConn;
use crate::db::schema::{deal_checklist, deal_events, deals, organizations, technologies};
use crate::db::types::{
    DealEventId, DealId, DemandId, InquiryId, OrganizationId, ProposalId, TechnologyId, UserId, now,
};
use crate::domain::deals::{ChecklistItem, Facts, Stage};
use crate::store::labels::{Labels, Wanted};
use crate::store::{StoreError, json};

pub use crate::domain::deals::TransferForm;

/// What the parties negotiate. Money in the currency's minor unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "transfer_form": "usage_licence", "exclusive": false, "territory": "Việt Nam",
    "term_months": 60, "sublicensing": false, "price": 750_000_000, "currency": "VND",
    "payment_schedule": "30% khi ký, 70% khi bàn giao"
}))]
pub struct Terms {
    pub transfer_form: TransferForm,
    /// Licence only: whether the licensee is the only one.
    pub exclusive: Option<bool>,
    /// Licence only: where the licence applies.
    #[schema(example = "Việt Nam")]
    pub territory: Option<String>,
    /// Licence only: its term in months.
    #[schema(minimum = 1, example = 60)]
    pub term_months: Option<i32>,
    /// Licence only: whether the licensee may sublicense.
    pub sublicensing: Option<bool>,
    #[schema(minimum = 0, example = 750000000)]
    pub price: Option<i64>,
    /// ISO 4217; required with `price` or `broker_fee`.
    #[schema(example = "VND")]
    pub currency: Option<String>,
    #[schema(example = "30% khi ký, 70% khi bàn giao")]
    pub payment_schedule: Option<String>,
    #[schema(minimum = 0)]
    pub broker_fee: Option<i64>,
}

#[derive(Debug, Clone, Queryable)]
pub struct Deal {
    pub id: DealId,
    pub technology_id: TechnologyId,
    pub buyer_organization_id: OrganizationId,
    pub seller_organization_id: OrganizationId,
    pub broker_organization_id: Option<OrganizationId>,
    pub demand_id: Option<DemandId>,
    pub proposal_id: Option<ProposalId>,
    pub inquiry_id: Option<InquiryId>,
    pub stage: String,
    pub transfer_form: String,
    pub exclusive: Option<bool>,
    pub territory: Option<String>,
    pub term_months: Option<i32>,
    pub sublicensing: Option<bool>,
    pub price: Option<i64>,
    pub currency: Option<String>,
    pub payment_schedule: Option<String>,
    pub broker_fee: Option<i64>,
    pub final_price: Option<i64>,
    pub buyer_accepted_at: Option<NaiveDateTime>,
    pub seller_accepted_at: Option<NaiveDateTime>,
    pub buyer_confirmed_signing_at: Option<NaiveDateTime>,
    pub seller_confirmed_signing_at: Option<NaiveDateTime>,
    pub cancel_reason: Option<String>,
    pub created_by: UserId,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub signed_at: Option<NaiveDateTime>,
    pub completed_at: Option<NaiveDateTime>,
    pub version: i32,
}

impl Deal {
    pub fn stage(&self) -> Result<Stage, StoreError> {
        Stage::parse(&self.stage).ok_or_else(|| {
            tracing::error!(id = %self.id, "unreadable deal stage");
            StoreError::corrupt("deals", "stage", format!("unknown stage {:?}", self.stage))
        })
    }

    pub fn terms(&self) -> Result<Terms, StoreError> {
        Ok(Terms {
            transfer_form: TransferForm::parse(&self.transfer_form).ok_or_else(|| {
                tracing::error!(id = %self.id, "unreadable deal transfer form");
                StoreError::corrupt(
                    "deals",
                    "transfer_form",
                    format!("unknown transfer form {:?}", self.transfer_form),
                )
            })?,
            exclusive: self.exclusive,
            territory: self.territory.clone(),
            term_months: self.term_months,
            sublicensing: self.sublicensing,
            price: self.price,
            currency: self.currency.clone(),
            payment_schedule: self.payment_schedule.clone(),
            broker_fee: self.broker_fee,
        })
    }
}

#[derive(Debug, Clone, Queryable)]
pub struct ChecklistRow {
    #[allow(dead_code)]
    pub deal_id: DealId,
    pub item: String,
    pub ticked: bool,
    pub note: Option<String>,
    pub ticked_by: Option<UserId>,
    pub ticked_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable)]
pub struct EventRow {
    pub id: DealId,
    #[allow(dead_code)]
    pub deal_id: DealId,
    pub actor_id: UserId,
    pub actor_organization_id: Option<OrganizationId>,
    pub kind: String,
    pub from_stage: Option<String>,
    pub to_stage: Option<String>,
    pub data_before: Option<String>,
    pub data_after: Option<String>,
    pub note: Option<String>,
    pub created_at: NaiveDateTime,
}

/// Who did something, and for which party.
#[derive(Debug, Clone, Copy)]
pub struct By {
    pub user: UserId,
    pub organization: Option<OrganizationId>,
}

/// One timeline entry to write.
#[derive(Debug, Default)]
pub struct NewEvent<'a> {
    pub kind: &'a str,
    pub from_stage: Option<Stage>,
    pub to_stage: Option<Stage>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub note: Option<&'a str>,
}

fn record(
    conn: &mut DbConn,
    deal: DealId,
    by: By,
    event: NewEvent<'_>,
) -> Result<DealEventId, StoreError> {
    let id = DealEventId::new();
    diesel::insert_into(deal_events::table)
        .values((
            deal_events::id.eq(id),
            deal_events::deal_id.eq(deal),
            deal_events::actor_id.eq(by.user),
            deal_events::actor_organization_id.eq(by.organization),
            deal_events::kind.eq(event.kind),
            deal_events::from_stage.eq(event.from_stage.map(Stage::as_str)),
            deal_events::to_stage.eq(event.to_stage.map(Stage::as_str)),
            deal_events::data_before.eq(event.before.map(|v| v.to_string())),
            deal_events::data_after.eq(event.after.map(|v| v.to_string())),
            deal_events::note.eq(event.note),
            deal_events::created_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(id)
}

/// Records on the deal's timeline that a linked valuation request changed status.
pub fn record_valuation_event(
    conn: &mut DbConn,
    deal: DealId,
    by: By,
    after: serde_json::Value,
    note: Option<&str>,
) -> Result<(), StoreError> {
    record(
        conn,
        deal,
        by,
        NewEvent { kind: "valuation", after: Some(after), note, ..Default::default() },
    )?;
    Ok(())
}

fn item_name(item: ChecklistItem) -> String {
    serde_json::to_value(item).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

pub struct NewDeal<'a> {
    pub technology_id: TechnologyId,
    pub buyer: OrganizationId,
    pub seller: OrganizationId,
    pub broker: Option<OrganizationId>,
    pub inquiry_id: Option<InquiryId>,
    /// The demand a deal from a proposal or a match answers.
    pub demand_id: Option<DemandId>,
    pub proposal_id: Option<ProposalId>,
    pub terms: &'a Terms,
    /// The party the creator commits (buyer or seller), if any: that side is accepted.
    pub accepted_side: Option<OrganizationId>,
}

/// Creates a deal in `open` with an unticked checklist and a `created` event. Run in a write
/// transaction.
pub fn create(conn: &mut DbConn, new: &NewDeal<'_>, by: By) -> Result<Deal, StoreError> {
    let at = now();
    let id = DealId::new();
    let t = new.terms;
    let accepted = |side: OrganizationId| (new.accepted_side == Some(side)).then_some(at);
    diesel::insert_into(deals::table)
        .values((
            deals::id.eq(id),
            deals::technology_id.eq(new.technology_id),
            deals::buyer_organization_id.eq(new.buyer),
            deals::seller_organization_id.eq(new.seller),
            deals::broker_organization_id.eq(new.broker),
            deals::inquiry_id.eq(new.inquiry_id),
            deals::demand_id.eq(new.demand_id),
            deals::proposal_id.eq(new.proposal_id),
            deals::stage.eq(Stage::Open.as_str()),
            deals::transfer_form.eq(t.transfer_form.as_str()),
            deals::exclusive.eq(t.exclusive),
            deals::territory.eq(t.territory.as_deref()),
            deals::term_months.eq(t.term_months),
            deals::sublicensing.eq(t.sublicensing),
            deals::price.eq(t.price),
            deals::currency.eq(t.currency.as_deref()),
            deals::payment_schedule.eq(t.payment_schedule.as_deref()),
            deals::broker_fee.eq(t.broker_fee),
            deals::buyer_accepted_at.eq(accepted(new.buyer)),
            deals::seller_accepted_at.eq(accepted(new.seller)),
            deals::created_by.eq(by.user),
            deals::created_at.eq(at),
            deals::updated_at.eq(at),
            deals::version.eq(1),
        ))
        .execute(conn)?;
    for item in ChecklistItem::ALL {
        diesel::insert_into(deal_checklist::table)
            .values((
                deal_checklist::deal_id.eq(id),
                deal_checklist::item.eq(item_name(item)),
                deal_checklist::ticked.eq(false),
            ))
            .execute(conn)?;
    }
    let terms = json::to_value(t, "deal_events", "after")?;
    record(
        conn,
        id,
        by,
        NewEvent {
            kind: "created",
            to_stage: Some(Stage::Open),
            after: Some(terms),
            ..NewEvent::default()
        },
    )?;
    get(conn, id)
}

/// Whether the enquiry already led to a deal that was not cancelled.
pub fn live_for_inquiry(conn: &mut DbConn, inquiry: InquiryId) -> Result<bool, StoreError> {
    let count: i64 = deals::table
        .filter(deals::inquiry_id.eq(inquiry))
        .filter(deals::stage.ne(Stage::Cancelled.as_str()))
        .count()
        .get_result(conn)?;
    Ok(count > 0)
}

/// Whether the technology and the demand already have a deal that was not cancelled (from
/// a proposal or a match; the unique index `deals_one_live_per_match` settles a race).
pub fn live_for_match(
    conn: &mut DbConn,
    technology: TechnologyId,
    demand: DemandId,
) -> Result<bool, StoreError> {
    let count: i64 = deals::table
        .filter(deals::technology_id.eq(technology))
        .filter(deals::demand_id.eq(demand))
        .filter(deals::stage.ne(Stage::Cancelled.as_str()))
        .count()
        .get_result(conn)?;
    Ok(count > 0)
}

pub fn find(conn: &mut DbConn, id: DealId) -> Result<Option<Deal>, StoreError> {
    Ok(deals::table.find(id).first(conn).optional()?)
}

pub fn get(conn: &mut DbConn, id: DealId) -> Result<Deal, StoreError> {
    find(conn, id)?.ok_or_else(|| StoreError::not_found("No such deal."))
}

/// Deals with any of `orgs` as a party (every deal when `orgs` is `None`: staff), newest
/// first.
pub fn list(
    conn: &mut DbConn,
    orgs: Option<&[OrganizationId]>,
    stage: Option<Stage>,
    offset: i64,
    limit: i64,
) -> Result<(Vec<Deal>, i64), StoreError> {
    let query = || {
        let mut q = deals::table.into_boxed();
        if let Some(orgs) = orgs {
            q = q.filter(
                deals::buyer_organization_id
                    .eq_any(orgs.to_vec())
                    .or(deals::seller_organization_id.eq_any(orgs.to_vec()))
                    .or(deals::broker_organization_id.eq_any(orgs.to_vec())),
            );
        }
        if let Some(stage) = stage {
            q = q.filter(deals::stage.eq(stage.as_str()));
        }
        q
    };
    let total = query().count().get_result(conn)?;
    let items = query()
        .order((deals::created_at.desc(), deals::id.desc()))
        .offset(offset)
        .limit(limit)
        .load(conn)?;
    Ok((items, total))
}

/// The labels of a page of deals (the technologies' titles, the parties' names and kinds):
/// two statements, whatever the number of deals.
pub fn labels(conn: &mut DbConn, deals: &[Deal]) -> Result<Labels, StoreError> {
    let mut wanted = Wanted::default();
    for d in deals {
        wanted.technologies.insert(d.technology_id);
        wanted.organizations.extend(
            [
                Some(d.buyer_organization_id),
                Some(d.seller_organization_id),
                d.broker_organization_id,
            ]
            .into_iter()
            .flatten(),
        );
    }
    wanted.load(conn)
}

pub fn checklist(conn: &mut DbConn, id: DealId) -> Result<Vec<ChecklistRow>, StoreError> {
    let rows: Vec<ChecklistRow> =
        deal_checklist::table.filter(deal_checklist::deal_id.eq(id)).load(conn)?;
    // In Art. 23 order, not the database's.
    let position = |name: &str| ChecklistItem::ALL.iter().position(|i| item_name(*i) == name);
    let mut rows = rows;
    rows.sort_by_key(|r| position(&r.item));
    Ok(rows)
}

/// A deal with its checklist and its labels (the technology's title, the parties' names
/// and kinds) in one statement (the deal's columns repeat on each of the few checklist
/// rows): the read path of `GET /deals/{id}`.
pub fn read(
    conn: &mut DbConn,
    id: DealId,
) -> Result<(Deal, Vec<ChecklistRow>, Labels), StoreError> {
    let (buyer, seller, broker) = diesel::alias!(
        organizations as buyer_org,
        organizations as seller_org,
        organizations as broker_org
    );
    type Party = (String, String);
    type Row = (Deal, Option<ChecklistRow>, String, Party, Party, Option<Party>);
    let rows: Vec<Row> = deals::table
        .inner_join(technologies::table.on(technologies::id.eq(deals::technology_id)))
        .inner_join(buyer.on(buyer.field(organizations::id).eq(deals::buyer_organization_id)))
        .inner_join(seller.on(seller.field(organizations::id).eq(deals::seller_organization_id)))
        .left_join(
            broker.on(broker.field(organizations::id).nullable().eq(deals::broker_organization_id)),
        )
        .left_join(deal_checklist::table.on(deal_checklist::deal_id.eq(deals::id)))
        .filter(deals::id.eq(id))
        .select((
            deals::all_columns,
            deal_checklist::all_columns.nullable(),
            technologies::title,
            buyer.fields((organizations::name, organizations::kind)),
            seller.fields((organizations::name, organizations::kind)),
            broker.fields((organizations::name, organizations::kind)).nullable(),
        ))
        .load(conn)?;
    let mut rows = rows.into_iter();
    let (deal, first, title, buyer, seller, broker) =
        rows.next().ok_or_else(|| StoreError::not_found("No such deal."))?;
    let position = |name: &str| ChecklistItem::ALL.iter().position(|i| item_name(*i) == name);
    let mut checklist: Vec<ChecklistRow> =
        first.into_iter().chain(rows.filter_map(|(_, item, ..)| item)).collect();
    checklist.sort_by_key(|r| position(&r.item));
    let mut labels = Labels::default();
    labels.titles.insert(deal.technology_id, title);
    labels.organizations.insert(deal.buyer_organization_id, buyer);
    labels.organizations.insert(deal.seller_organization_id, seller);
    if let (Some(id), Some(broker)) = (deal.broker_organization_id, broker) {
        labels.organizations.insert(id, broker);
    }
    Ok((deal, checklist, labels))
}

/// The timeline, oldest first.
pub fn events(
    conn: &mut DbConn,
    id: DealId,
    kind: Option<&str>,
    offset: i64,
    limit: i64,
) -> Result<(Vec<EventRow>, i64), StoreError> {
    let query = || {
        let mut q = deal_events::table.filter(deal_events::deal_id.eq(id)).into_boxed();
        if let Some(kind) = kind {
            q = q.filter(deal_events::kind.eq(kind));
        }
        q
    };
    let total = query().count().get_result(conn)?;
    let items = query()
        .order((deal_events::created_at.asc(), deal_events::id.asc()))
        .offset(offset)
        .limit(limit)
        .load(conn)?;
    Ok((items, total))
}

/// What the state machine needs to know about `deal`.
pub fn facts(conn: &mut DbConn, deal: &Deal, reason: Option<String>) -> Result<Facts, StoreError> {
    let ticked = checklist(conn, deal.id)?
        .into_iter()
        .filter(|r| r.ticked)
        .filter_map(|r| ChecklistItem::ALL.into_iter().find(|i| item_name(*i) == r.item))
        .collect();
    Ok(Facts {
        parties_accepted: deal.buyer_accepted_at.is_some() && deal.seller_accepted_at.is_some(),
        ticked,
        buyer_confirmed_signing: deal.buyer_confirmed_signing_at.is_some(),
        seller_confirmed_signing: deal.seller_confirmed_signing_at.is_some(),
        reason,
    })
}
