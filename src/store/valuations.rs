//! Valuation requests: rows, lifecycle transitions (each guarded by version and status, with
//! its history row, mails and webhook event in the same transaction), visibility-filtered
//! lists, and the completed deals the market approach compares with.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::json;

use crate::db::DbConn;
use crate::db::schema::{
    deals, memberships, organizations, technologies, valuation_request_events, valuation_requests,
};
use crate::db::types::{
    DealId, OrganizationId, TechnologyId, UserId, ValuationEventId, ValuationRequestId, now,
};
use crate::domain::lang::Lang;
use crate::domain::valuation_request::Status;
use crate::mail::{self, Mail, Template};
use crate::store::labels::{Labels, Wanted};
use crate::store::organizations::{owner_contacts, parse_list};
use crate::store::{StoreError, json};
use crate::webhooks::{self, EventType};

/// A `valuation_requests` row, in column order.
#[derive(Debug, Clone, Queryable)]
pub struct Row {
    pub id: ValuationRequestId,
    pub technology_id: TechnologyId,
    pub requester_organization_id: OrganizationId,
    pub requested_by: UserId,
    pub deal_id: Option<DealId>,
    pub purpose: String,
    pub rights_kind: String,
    pub rights_exclusive: Option<bool>,
    pub rights_territory: Option<String>,
    pub rights_term_months: Option<i32>,
    pub valuation_date: String,
    pub preferred_method: String,
    /// JSON object.
    pub inputs: String,
    pub deadline: Option<String>,
    pub status: String,
    pub appraiser_organization_id: Option<OrganizationId>,
    pub value_point: Option<i64>,
    pub value_low: Option<i64>,
    pub value_high: Option<i64>,
    pub currency: Option<String>,
    /// JSON array.
    pub methods: String,
    pub assumptions: Option<String>,
    pub report_summary: Option<String>,
    pub report_url: Option<String>,
    pub completed_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i32,
}

/// A request with what its checks and views need from the listing.
#[derive(Debug, Clone)]
pub struct Valuation {
    pub row: Row,
    pub status: Status,
    pub listing_owner: OrganizationId,
    pub title: String,
}

#[derive(Debug, Clone, Queryable)]
pub struct Event {
    pub id: ValuationRequestId,
    pub valuation_request_id: ValuationRequestId,
    pub from_status: Option<String>,
    pub to_status: String,
    pub actor_user_id: UserId,
    pub note: Option<String>,
    pub created_at: NaiveDateTime,
}

/// A new request, already validated.
#[derive(Debug, Clone)]
pub struct NewRequest {
    pub technology_id: TechnologyId,
    pub requester_organization_id: OrganizationId,
    pub requested_by: UserId,
    pub deal_id: Option<DealId>,
    pub purpose: &'static str,
    pub rights_kind: &'static str,
    pub rights_exclusive: Option<bool>,
    pub rights_territory: Option<String>,
    pub rights_term_months: Option<i32>,
    pub valuation_date: String,
    pub preferred_method: &'static str,
    pub inputs: String,
    pub deadline: Option<String>,
}

/// The result an appraiser records, already validated.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub value_point: Option<i64>,
    pub value_low: Option<i64>,
    pub value_high: Option<i64>,
    pub currency: String,
    pub methods: Vec<String>,
    pub assumptions: String,
    pub report_summary: String,
    pub report_url: Option<String>,
}

type Joined = (Row, OrganizationId, String);

fn assemble((row, listing_owner, title): Joined) -> Result<Valuation, StoreError> {
    // A status outside the CHECK list cannot be stored; reaching here means a bad schema.
    let status = Status::parse(&row.status).ok_or_else(|| {
        StoreError::corrupt(
            "valuation_requests",
            "status",
            format!("unknown status {:?}", row.status),
        )
    })?;
    Ok(Valuation { row, status, listing_owner, title })
}

pub fn find(conn: &mut DbConn, id: ValuationRequestId) -> Result<Option<Valuation>, StoreError> {
    let found: Option<Joined> = valuation_requests::table
        .inner_join(technologies::table)
        .filter(valuation_requests::id.eq(id))
        .select((
            valuation_requests::all_columns,
            technologies::organization_id,
            technologies::title,
        ))
        .first(conn)
        .optional()?;
    found.map(assemble).transpose()
}

pub fn get(conn: &mut DbConn, id: ValuationRequestId) -> Result<Valuation, StoreError> {
    find(conn, id)?.ok_or_else(|| StoreError::not_found("No such valuation request."))
}

/// Creates a `submitted` request with its first history row, mails and event. Run in a write
/// transaction.
pub fn create(conn: &mut DbConn, new: &NewRequest) -> Result<Valuation, StoreError> {
    let at = now();
    let id = ValuationRequestId::new();
    diesel::insert_into(valuation_requests::table)
        .values((
            valuation_requests::id.eq(id),
            valuation_requests::technology_id.eq(new.technology_id),
            valuation_requests::requester_organization_id.eq(new.requester_organization_id),
            valuation_requests::requested_by.eq(new.requested_by),
            valuation_requests::deal_id.eq(new.deal_id),
            valuation_requests::purpose.eq(new.purpose),
            valuation_requests::rights_kind.eq(new.rights_kind),
            valuation_requests::rights_exclusive.eq(new.rights_exclusive),
            valuation_requests::rights_territory.eq(new.rights_territory.as_deref()),
            valuation_requests::rights_term_months.eq(new.rights_term_months),
            valuation_requests::valuation_date.eq(&new.valuation_date),
            valuation_requests::preferred_method.eq(new.preferred_method),
            valuation_requests::inputs.eq(&new.inputs),
            valuation_requests::deadline.eq(new.deadline.as_deref()),
            valuation_requests::status.eq(Status::Submitted.as_str()),
            valuation_requests::methods.eq("[]"),
            valuation_requests::created_at.eq(at),
            valuation_requests::updated_at.eq(at),
            valuation_requests::version.eq(1),
        ))
        .execute(conn)?;
    record_event(conn, id, None, Status::Submitted, new.requested_by, None, at)?;
    let created = get(conn, id)?;
    announce(conn, &created, None)?;
    Ok(created)
}

fn record_event(
    conn: &mut DbConn,
    id: ValuationRequestId,
    from: Option<Status>,
    to: Status,
    by: UserId,
    note: Option<&str>,
    at: NaiveDateTime,
) -> Result<(), StoreError> {
    diesel::insert_into(valuation_request_events::table)
        .values((
            valuation_request_events::id.eq(ValuationEventId::new()),
            valuation_request_events::valuation_request_id.eq(id),
            valuation_request_events::from_status.eq(from.map(Status::as_str)),
            valuation_request_events::to_status.eq(to.as_str()),
            valuation_request_events::actor_user_id.eq(by),
            valuation_request_events::note.eq(note),
            valuation_request_events::created_at.eq(at),
        ))
        .execute(conn)?;
    Ok(())
}

/// The request's history, oldest first.
pub fn events(conn: &mut DbConn, id: ValuationRequestId) -> Result<Vec<Event>, StoreError> {
    Ok(valuation_request_events::table
        .filter(valuation_request_events::valuation_request_id.eq(id))
        .order((valuation_request_events::created_at.asc(), valuation_request_events::id.asc()))
        .load(conn)?)
}

/// What a transition changes besides the status.
#[derive(Debug, Clone, Default)]
pub enum Change {
    #[default]
    None,
    Appraiser(OrganizationId),
    Complete(Outcome),
}

/// Moves `current` to `to` if nobody changed it since it was read (412 otherwise), with its
/// history row, mails, webhook event and the linked deal's timeline event. Run in a write
/// transaction.
pub fn transition(
    conn: &mut DbConn,
    current: &Valuation,
    to: Status,
    by: UserId,
    note: Option<&str>,
    change: Change,
) -> Result<Valuation, StoreError> {
    let at = now();
    let guarded = diesel::update(
        valuation_requests::table
            .find(current.row.id)
            .filter(valuation_requests::version.eq(current.row.version))
            .filter(valuation_requests::status.eq(current.status.as_str())),
    );
    let base = (
        valuation_requests::status.eq(to.as_str()),
        valuation_requests::updated_at.eq(at),
        valuation_requests::version.eq(valuation_requests::version + 1),
    );
    let rows = match change {
        Change::None => guarded.set(base).execute(conn)?,
        Change::Appraiser(org) => guarded
            .set((base, valuation_requests::appraiser_organization_id.eq(org)))
            .execute(conn)?,
        Change::Complete(outcome) => {
            let methods = json::encode(&outcome.methods, "valuation_requests", "methods")?;
            guarded
                .set((
                    base,
                    (
                        valuation_requests::value_point.eq(outcome.value_point),
                        valuation_requests::value_low.eq(outcome.value_low),
                        valuation_requests::value_high.eq(outcome.value_high),
                        valuation_requests::currency.eq(&outcome.currency),
                        valuation_requests::methods.eq(methods),
                        valuation_requests::assumptions.eq(&outcome.assumptions),
                        valuation_requests::report_summary.eq(&outcome.report_summary),
                        valuation_requests::report_url.eq(outcome.report_url.as_deref()),
                        valuation_requests::completed_at.eq(at),
                    ),
                ))
                .execute(conn)?
        }
    };
    if rows != 1 {
        return Err(StoreError::Stale);
    }
    record_event(conn, current.row.id, Some(current.status), to, by, note, at)?;
    let updated = get(conn, current.row.id)?;
    announce(conn, &updated, note)?;
    if let Some(deal) = updated.row.deal_id {
        record_deal_event(conn, deal, &updated, by, at)?;
    }
    Ok(updated)
}

/// "A linked deal gets a timeline event": one append-only entry per status change.
pub fn record_deal_event(
    conn: &mut DbConn,
    deal_id: DealId,
    valuation: &Valuation,
    by: UserId,
    _at: NaiveDateTime,
) -> Result<(), StoreError> {
    crate::store::deals::record_valuation_event(
        conn,
        deal_id,
        crate::store::deals::By { user: by, organization: None },
        serde_json::json!({
            "valuation_request_id": valuation.row.id.to_string(),
            "status": valuation.status.as_str(),
        }),
        None,
    )
}

/// The status in words, for mails.
pub fn status_label(status: Status, lang: Lang) -> &'static str {
    match status {
        Status::Submitted => lang.pick("đã gửi", "submitted"),
        Status::Assigned => lang.pick("đã giao cho tổ chức định giá", "assigned to an appraiser"),
        Status::InProgress => lang.pick("đang định giá", "in progress"),
        Status::Completed => lang.pick("đã hoàn thành", "completed"),
        Status::Declined => lang.pick("bị từ chối", "declined"),
        Status::Cancelled => lang.pick("đã hủy", "cancelled"),
    }
}

/// Mails the requesting organisation's owners and emits `valuation.status_changed` to the
/// requester and, if different, the appraiser.
fn announce(conn: &mut DbConn, v: &Valuation, note: Option<&str>) -> Result<(), StoreError> {
    let requester = v.row.requester_organization_id;
    let name: String =
        organizations::table.find(requester).select(organizations::name).first(conn)?;
    for owner in owner_contacts(conn, requester)? {
        let lang = Lang::parse(&owner.language).unwrap_or_default();
        mail::enqueue(
            conn,
            &Mail {
                to: owner.email.clone(),
                template: Template::ValuationStatusChanged,
                lang,
                context: json!({
                    "valuation_request_id": v.row.id.to_string(),
                    "title": v.title,
                    "organization_name": name,
                    "status": status_label(v.status, lang),
                    "valuation_path": format!("/valuation-requests/{}", v.row.id),
                    "note": note.unwrap_or_default(),
                }),
            },
        )?;
    }
    let data = json!({
        "valuation_request_id": v.row.id.to_string(),
        "technology_id": v.row.technology_id.to_string(),
        "status": v.status.as_str(),
        "version": v.row.version,
    });
    webhooks::emit(conn, requester, EventType::ValuationStatusChanged, data.clone())?;
    if let Some(appraiser) = v.row.appraiser_organization_id.filter(|a| *a != requester) {
        webhooks::emit(conn, appraiser, EventType::ValuationStatusChanged, data)?;
    }
    Ok(())
}

/// Who sees which requests: everything for staff; otherwise those the caller's organisations
/// requested, own the listing of, or appraise, plus open ones for appraisers.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub all: bool,
    pub organizations: Vec<OrganizationId>,
    pub appraiser: bool,
}

/// A page of visible requests, newest first, optionally of one technology and one status.
pub fn list(
    conn: &mut DbConn,
    scope: &Scope,
    technology: Option<TechnologyId>,
    status: Option<Status>,
    offset: i64,
    limit: i64,
) -> Result<(Vec<Valuation>, i64), StoreError> {
    let query = || {
        let mut q = valuation_requests::table.inner_join(technologies::table).into_boxed();
        if !scope.all {
            let orgs = scope.organizations.clone();
            let visible = valuation_requests::requester_organization_id
                .eq_any(orgs.clone())
                .or(technologies::organization_id.eq_any(orgs.clone()))
                .or(valuation_requests::appraiser_organization_id.assume_not_null().eq_any(orgs));
            q = if scope.appraiser {
                q.filter(visible.or(valuation_requests::status.eq(Status::Submitted.as_str())))
            } else {
                q.filter(visible)
            };
        }
        if let Some(technology) = technology {
            q = q.filter(valuation_requests::technology_id.eq(technology));
        }
        if let Some(status) = status {
            q = q.filter(valuation_requests::status.eq(status.as_str()));
        }
        q
    };
    let total: i64 = query().count().get_result(conn)?;
    let rows: Vec<Joined> = query()
        .select((
            valuation_requests::all_columns,
            technologies::organization_id,
            technologies::title,
        ))
        .order((valuation_requests::created_at.desc(), valuation_requests::id.desc()))
        .offset(offset)
        .limit(limit)
        .load(conn)?;
    Ok((rows.into_iter().map(assemble).collect::<Result<_, _>>()?, total))
}

/// The labels of a page of requests: the technologies' titles (already read with each
/// request) and the requesters', listing owners' and appraisers' names and kinds, in one
/// statement whatever the number of requests.
pub fn labels(conn: &mut DbConn, requests: &[Valuation]) -> Result<Labels, StoreError> {
    let mut wanted = Wanted::default();
    for v in requests {
        wanted.organizations.extend(
            [
                Some(v.row.requester_organization_id),
                Some(v.listing_owner),
                v.row.appraiser_organization_id,
            ]
            .into_iter()
            .flatten(),
        );
    }
    let mut labels = wanted.load(conn)?;
    labels.titles.extend(requests.iter().map(|v| (v.row.technology_id, v.title.clone())));
    Ok(labels)
}

/// Whether an organisation takes valuation work: an intermediary offering `valuation`.
fn is_appraiser(kind: &str, services: &str) -> bool {
    kind == "intermediary" && parse_list(services).iter().any(|s| s == "valuation")
}

/// Which of `orgs` are appraiser organisations.
pub fn appraisers_among(
    conn: &mut DbConn,
    orgs: &[OrganizationId],
) -> Result<Vec<OrganizationId>, StoreError> {
    if orgs.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<(OrganizationId, String, String)> = organizations::table
        .filter(organizations::id.eq_any(orgs))
        .select((organizations::id, organizations::kind, organizations::services))
        .load(conn)?;
    Ok(rows.into_iter().filter(|(_, k, s)| is_appraiser(k, s)).map(|(id, _, _)| id).collect())
}

/// Whether `org` shares a member (one user in both) with any of `others`: an appraiser
/// that does is not independent of them.
pub fn shares_member(
    conn: &mut DbConn,
    org: OrganizationId,
    others: &[OrganizationId],
) -> Result<bool, StoreError> {
    let users: Vec<UserId> = memberships::table
        .filter(memberships::organization_id.eq(org))
        .select(memberships::user_id)
        .load(conn)?;
    if users.is_empty() || others.is_empty() {
        return Ok(false);
    }
    let shared: i64 = memberships::table
        .filter(memberships::organization_id.eq_any(others))
        .filter(memberships::user_id.eq_any(&users))
        .count()
        .get_result(conn)?;
    Ok(shared > 0)
}

/// A deal's parties: buyer, seller and broker.
pub type DealParties = [Option<OrganizationId>; 3];

/// A deal's technology and its parties, if it exists.
pub fn deal_parties(
    conn: &mut DbConn,
    deal: DealId,
) -> Result<Option<(TechnologyId, DealParties)>, StoreError> {
    let found: Option<(TechnologyId, OrganizationId, OrganizationId, Option<OrganizationId>)> =
        deals::table
            .find(deal)
            .select((
                deals::technology_id,
                deals::buyer_organization_id,
                deals::seller_organization_id,
                deals::broker_organization_id,
            ))
            .first(conn)
            .optional()?;
    Ok(found.map(|(t, b, s, k)| (t, [Some(b), Some(s), k])))
}

/// What makes a completed deal comparable.
#[derive(Debug, Clone)]
pub struct Comparable {
    /// A FORD code; a field code ("4") also matches its sub-fields ("4.1").
    pub sector: String,
    pub trl: i32,
    pub transfer_form: String,
    pub currency: String,
}

/// Final prices of completed deals in the same currency and transfer form whose technology
/// shares the sector and is within one TRL level.
pub fn comparable_prices(conn: &mut DbConn, c: &Comparable) -> Result<Vec<i64>, StoreError> {
    let rows: Vec<(Option<i64>, String)> = deals::table
        .inner_join(technologies::table)
        .filter(deals::stage.eq("completed"))
        .filter(deals::final_price.is_not_null())
        .filter(deals::currency.eq(&c.currency))
        .filter(deals::transfer_form.eq(&c.transfer_form))
        .filter(technologies::trl.between(c.trl - 1, c.trl + 1))
        .select((deals::final_price, technologies::sectors))
        .load(conn)?;
    // Sectors are a JSON array; completed deals are few, so they are matched here rather
    // than with backend-specific JSON SQL.
    let prefix = format!("{}.", c.sector);
    Ok(rows
        .into_iter()
        .filter(|(_, sectors)| {
            parse_list(sectors).iter().any(|s| *s == c.sector || s.starts_with(&prefix))
        })
        .filter_map(|(price, _)| price)
        .collect())
}
