//! The changes a deal goes through: terms, acceptances, the checklist, notes, documents and
//! stage transitions, each guarded by the version read and recorded on the timeline.

use crate::db::DbConn;
use crate::db::schema::{deal_checklist, deal_events, deals, organizations, technologies};
use crate::db::types::{OrganizationId, now};
use crate::domain::deals::{ChecklistItem, Stage};
use crate::domain::lang::Lang;
use crate::mail::{self, Mail, Template};
use crate::store::organizations::owner_contacts;
use crate::store::{StoreError, changed, json};
use crate::webhooks::{self, EventType};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::json;

use super::{By, ChecklistRow, Deal, EventRow, NewEvent, Terms, get, item_name, record};

/// Replaces the terms. Signing confirmations are withdrawn: they were given to the old
/// terms. Run in a write transaction.
pub fn update_terms(
    conn: &mut DbConn,
    deal: &Deal,
    terms: &Terms,
    by: By,
) -> Result<Deal, StoreError> {
    let before = deal.terms()?;
    let rows = guarded!(deals, deal)
        .set((
            deals::transfer_form.eq(terms.transfer_form.as_str()),
            deals::exclusive.eq(terms.exclusive),
            deals::territory.eq(terms.territory.as_deref()),
            deals::term_months.eq(terms.term_months),
            deals::sublicensing.eq(terms.sublicensing),
            deals::price.eq(terms.price),
            deals::currency.eq(terms.currency.as_deref()),
            deals::payment_schedule.eq(terms.payment_schedule.as_deref()),
            deals::broker_fee.eq(terms.broker_fee),
            deals::buyer_confirmed_signing_at.eq(None::<NaiveDateTime>),
            deals::seller_confirmed_signing_at.eq(None::<NaiveDateTime>),
            deals::updated_at.eq(now()),
            deals::version.eq(deals::version + 1),
        ))
        .execute(conn)?;
    changed(rows)?;
    let json = |t: &Terms| json::to_value(t, "deal_events", "after");
    record(
        conn,
        deal.id,
        by,
        NewEvent {
            kind: "terms_changed",
            before: Some(json(&before)?),
            after: Some(json(terms)?),
            ..NewEvent::default()
        },
    )?;
    get(conn, deal.id)
}

/// The sides (buyer, seller) an acceptance or a confirmation is given for.
#[derive(Debug, Clone, Copy)]
pub struct Sides {
    pub buyer: bool,
    pub seller: bool,
}

/// Takes the deal's row lock and moves its version on, provided it is still in `stage`
/// (as read in this transaction): the first write of every change that does not take
/// `If-Match`, so a transition decided on what this change alters fails with 412, and this
/// change fails if the deal moved meanwhile. Returns the deal as locked.
fn touch(conn: &mut DbConn, deal: &Deal, stage: Stage) -> Result<Deal, StoreError> {
    let rows = diesel::update(deals::table.find(deal.id).filter(deals::stage.eq(stage.as_str())))
        .set((deals::updated_at.eq(now()), deals::version.eq(deals::version + 1)))
        .execute(conn)?;
    if rows != 1 {
        return Err(StoreError::conflict(
            "deal_changed",
            "The deal moved to another stage meanwhile; read it again.",
        ));
    }
    get(conn, deal.id)
}

/// Records the acceptance of the given sides (idempotent per side) of a deal in `stage`.
/// Run in a write transaction.
pub fn accept(
    conn: &mut DbConn,
    deal: &Deal,
    stage: Stage,
    sides: Sides,
    by: By,
) -> Result<Deal, StoreError> {
    let wanted = |side: bool, at: Option<NaiveDateTime>| side && at.is_none();
    if !wanted(sides.buyer, deal.buyer_accepted_at)
        && !wanted(sides.seller, deal.seller_accepted_at)
    {
        return Ok(deal.clone());
    }
    let deal = touch(conn, deal, stage)?;
    let at = now();
    let buyer =
        if sides.buyer { deal.buyer_accepted_at.or(Some(at)) } else { deal.buyer_accepted_at };
    let seller =
        if sides.seller { deal.seller_accepted_at.or(Some(at)) } else { deal.seller_accepted_at };
    diesel::update(deals::table.find(deal.id))
        .set((deals::buyer_accepted_at.eq(buyer), deals::seller_accepted_at.eq(seller)))
        .execute(conn)?;
    let after = json!({"buyer_accepted": buyer.is_some(), "seller_accepted": seller.is_some()});
    record(
        conn,
        deal.id,
        by,
        NewEvent { kind: "accepted", after: Some(after), ..NewEvent::default() },
    )?;
    get(conn, deal.id)
}

/// Records that the given sides confirm signing the contract (idempotent per side). Run in
/// a write transaction.
pub fn confirm_signing(
    conn: &mut DbConn,
    deal: &Deal,
    stage: Stage,
    sides: Sides,
    by: By,
) -> Result<Deal, StoreError> {
    let wanted = |side: bool, at: Option<NaiveDateTime>| side && at.is_none();
    if !wanted(sides.buyer, deal.buyer_confirmed_signing_at)
        && !wanted(sides.seller, deal.seller_confirmed_signing_at)
    {
        return Ok(deal.clone());
    }
    let deal = touch(conn, deal, stage)?;
    let at = now();
    let pick = |side: bool, current: Option<NaiveDateTime>| {
        if side { current.or(Some(at)) } else { current }
    };
    let buyer = pick(sides.buyer, deal.buyer_confirmed_signing_at);
    let seller = pick(sides.seller, deal.seller_confirmed_signing_at);
    diesel::update(deals::table.find(deal.id))
        .set((
            deals::buyer_confirmed_signing_at.eq(buyer),
            deals::seller_confirmed_signing_at.eq(seller),
        ))
        .execute(conn)?;
    let after = json!({"buyer_confirmed": buyer.is_some(), "seller_confirmed": seller.is_some()});
    record(
        conn,
        deal.id,
        by,
        NewEvent { kind: "signing_confirmed", after: Some(after), ..NewEvent::default() },
    )?;
    get(conn, deal.id)
}

/// Ticks or unticks one checklist item with a note, on a deal in `stage`. Run in a write
/// transaction.
pub fn tick(
    conn: &mut DbConn,
    deal: &Deal,
    stage: Stage,
    item: ChecklistItem,
    ticked: bool,
    note: Option<&str>,
    by: By,
) -> Result<Deal, StoreError> {
    let deal = touch(conn, deal, stage)?;
    let name = item_name(item);
    let before: ChecklistRow = deal_checklist::table.find((deal.id, &name)).first(conn)?;
    diesel::update(deal_checklist::table.find((deal.id, &name)))
        .set((
            deal_checklist::ticked.eq(ticked),
            deal_checklist::note.eq(note),
            deal_checklist::ticked_by.eq(Some(by.user)),
            deal_checklist::ticked_at.eq(Some(now())),
        ))
        .execute(conn)?;
    record(
        conn,
        deal.id,
        by,
        NewEvent {
            kind: "checklist",
            before: Some(json!({"item": name, "ticked": before.ticked, "note": before.note})),
            after: Some(json!({"item": name, "ticked": ticked, "note": note})),
            ..NewEvent::default()
        },
    )?;
    get(conn, deal.id)
}

/// Adds a note to the timeline.
pub fn note(conn: &mut DbConn, deal: &Deal, text: &str, by: By) -> Result<(), StoreError> {
    record(conn, deal.id, by, NewEvent { kind: "note", note: Some(text), ..NewEvent::default() })?;
    Ok(())
}

/// Appends a `document_link` event (`after` = `{"title", "url"}`) and returns it. The URL is
/// validated by the caller; nothing is fetched or stored but the link.
pub fn attach_document(
    conn: &mut DbConn,
    deal: &Deal,
    title: &str,
    url: &str,
    by: By,
) -> Result<EventRow, StoreError> {
    let id = record(
        conn,
        deal.id,
        by,
        NewEvent {
            kind: "document_link",
            after: Some(json!({"title": title, "url": url})),
            ..NewEvent::default()
        },
    )?;
    Ok(deal_events::table.find(id).first(conn)?)
}

pub struct Move<'a> {
    pub to: Stage,
    pub note: Option<&'a str>,
    pub reason: Option<&'a str>,
    pub final_price: Option<i64>,
}

/// Moves `deal` (already checked against the state machine) to `m.to`: one guarded update,
/// one `stage_changed` event, mails to every party's owners and `deal.stage_changed` to every
/// party. Run in a write transaction.
pub fn transition(
    conn: &mut DbConn,
    deal: &Deal,
    m: &Move<'_>,
    by: By,
) -> Result<Deal, StoreError> {
    let from = deal.stage()?;
    let at = now();
    let rows = guarded!(deals, deal)
        .set((
            deals::stage.eq(m.to.as_str()),
            deals::signed_at.eq(if m.to == Stage::Signed { Some(at) } else { deal.signed_at }),
            deals::completed_at.eq(if m.to == Stage::Completed {
                Some(at)
            } else {
                deal.completed_at
            }),
            deals::final_price.eq(if m.to == Stage::Completed {
                m.final_price
            } else {
                deal.final_price
            }),
            deals::cancel_reason.eq(if m.to == Stage::Cancelled {
                m.reason.map(str::to_owned)
            } else {
                deal.cancel_reason.clone()
            }),
            deals::updated_at.eq(at),
            deals::version.eq(deals::version + 1),
        ))
        .execute(conn)?;
    changed(rows)?;
    let after = match m.to {
        Stage::Completed => Some(json!({"final_price": m.final_price, "currency": deal.currency})),
        Stage::Cancelled => Some(json!({"reason": m.reason})),
        _ => None,
    };
    record(
        conn,
        deal.id,
        by,
        NewEvent {
            kind: "stage_changed",
            from_stage: Some(from),
            to_stage: Some(m.to),
            after,
            note: m.note,
            ..NewEvent::default()
        },
    )?;
    announce(conn, deal, from, m)?;
    get(conn, deal.id)
}

fn announce(conn: &mut DbConn, deal: &Deal, from: Stage, m: &Move<'_>) -> Result<(), StoreError> {
    let title: String =
        technologies::table.find(deal.technology_id).select(technologies::title).first(conn)?;
    let mut name = |id: OrganizationId| -> Result<String, StoreError> {
        Ok(organizations::table.find(id).select(organizations::name).first(conn)?)
    };
    let seller_name = name(deal.seller_organization_id)?;
    let buyer_name = name(deal.buyer_organization_id)?;
    let note = m.note.or(m.reason).unwrap_or("—");
    let context = json!({
        "title": title,
        "seller_name": seller_name,
        "buyer_name": buyer_name,
        "from_stage": from.as_str(),
        "to_stage": m.to.as_str(),
        "note": note,
        "deal_path": format!("/deals/{}", deal.id),
    });
    let data = json!({
        "deal_id": deal.id.to_string(),
        "technology_id": deal.technology_id.to_string(),
        "from": from.as_str(),
        "to": m.to.as_str(),
    });
    let parties = [
        Some(deal.seller_organization_id),
        Some(deal.buyer_organization_id),
        deal.broker_organization_id,
    ];
    for org in parties.into_iter().flatten() {
        for owner in owner_contacts(conn, org)? {
            mail::enqueue(
                conn,
                &Mail {
                    to: owner.email,
                    template: Template::DealStageChanged,
                    lang: Lang::parse(&owner.language).unwrap_or_default(),
                    context: context.clone(),
                },
            )?;
        }
        webhooks::emit(conn, org, EventType::DealStageChanged, data.clone())?;
    }
    Ok(())
}
