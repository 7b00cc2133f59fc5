//! `techx seed --synthetic`: large, consistent data for load tests and statistics.
//!
//! Organisations and their owners go through the store one by one (they are few); listings,
//! demands, enquiries, deals and valuation requests go in multi-row INSERTs, `batch` rows per
//! write transaction. Every row obeys the rules the API enforces: a deal's seller owns its
//! published listing, a signed deal has its whole checklist ticked and both confirmations,
//! a completed deal has a final price, a valuation request past `submitted` has an appraiser,
//! and each deal and request has the timeline its stage implies.
//!
//! Not idempotent: each run adds a new set (its e-mail addresses carry a run tag).

use std::time::{Duration, Instant};

use chrono::{Duration as Days, NaiveDateTime};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use super::{Progress, words};
use crate::auth::PlatformRole;
use crate::db::schema::{
    deal_checklist, deal_events, deals, inquiries, inquiry_messages, valuation_request_events,
    valuation_requests,
};
use crate::db::types::{
    DealEventId, DealId, DemandId, InquiryId, InquiryMessageId, OrganizationId, TechnologyId,
    UserId, ValuationEventId, ValuationRequestId, now,
};
use crate::db::{Backend, DbConn, dialect};
use crate::domain::deals::{ChecklistItem, Stage};
use crate::domain::moderation::Status;
use crate::domain::validate::normalize_email;
use crate::domain::valuation_request::Status as VStatus;
use crate::error::ApiError;
use crate::store::organizations::{self, Profile};
use crate::store::users::{self, NewUser};
use crate::store::{demands, technologies};

/// What to generate.
#[derive(Debug, Clone)]
pub struct Options {
    pub technologies: usize,
    pub demands: usize,
    pub deals: usize,
    /// At least 10 (every kind needs members); default [`Options::default_organizations`].
    pub organizations: usize,
    /// Rows per write transaction.
    pub batch: usize,
    /// Seed of the content generator: the same seed gives the same texts.
    pub seed: u64,
}

impl Options {
    pub fn default_organizations(technologies: usize, demands: usize) -> usize {
        20 + technologies / 500 + demands / 100
    }
}

/// What a run wrote.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub organizations: usize,
    pub users: usize,
    pub technologies: usize,
    pub published_technologies: usize,
    pub demands: usize,
    pub published_demands: usize,
    pub inquiries: usize,
    pub deals: usize,
    pub completed_deals: usize,
    pub valuation_requests: usize,
    /// One organisation owner's address (the others differ in their number).
    pub sample_email: String,
    /// The password of every synthetic user.
    pub password: String,
    pub elapsed: Duration,
}

/// Every 20th listing and demand waits for review; the rest are published.
pub fn is_pending(i: usize) -> bool {
    i % 20 == 19
}

/// Deal `i`'s stage: a spread in which three in ten completed and one in ten was cancelled.
pub const DEAL_STAGES: [Stage; 10] = [
    Stage::Open,
    Stage::Negotiating,
    Stage::Valuation,
    Stage::Contracting,
    Stage::Signed,
    Stage::Delivering,
    Stage::Completed,
    Stage::Completed,
    Stage::Completed,
    Stage::Cancelled,
];

/// Every third deal is brokered (created by an intermediary naming both parties); the others
/// came from an enquiry.
pub fn is_brokered(i: usize) -> bool {
    i % 3 == 0
}

/// Every fifth deal (from the third) has a valuation request.
pub fn has_valuation(i: usize) -> bool {
    i % 5 == 2
}

/// Enquiries that did not (yet) lead to a deal, beside those that did.
pub fn loose_inquiries(deals: usize) -> usize {
    deals / 2
}

const VALUATION_STATUSES: [VStatus; 5] = [
    VStatus::Submitted,
    VStatus::Assigned,
    VStatus::InProgress,
    VStatus::Completed,
    VStatus::Declined,
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Seller,
    Buyer,
    Intermediary,
}

struct Org {
    id: OrganizationId,
    owner: UserId,
    role: Role,
}

/// A published listing a deal or enquiry can be about.
struct Offer {
    id: TechnologyId,
    org: usize,
    price: Option<i64>,
    published_at: NaiveDateTime,
}

fn password(rng: &mut impl Rng) -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    (0..16).map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())])).collect()
}

/// A time in the past two years, as the activity of a live exchange would be spread.
fn past(rng: &mut StdRng, at: NaiveDateTime) -> NaiveDateTime {
    at - Days::minutes(rng.gen_range(60..730 * 24 * 60))
}

/// Between `from` and now, `from` plus up to `days` days.
fn after(rng: &mut StdRng, from: NaiveDateTime, days: i64, at: NaiveDateTime) -> NaiveDateTime {
    (from + Days::minutes(rng.gen_range(1..days.max(1) * 24 * 60))).min(at)
}

pub fn run(conn: &mut DbConn, o: &Options, show: bool) -> Result<Report, ApiError> {
    if o.organizations < 10 {
        return Err(ApiError::invalid("organizations", "must be at least 10"));
    }
    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(o.seed);
    let mut report = Report { password: password(&mut rand::thread_rng()), ..Report::default() };
    let progress = |label: &str, total: usize| {
        if show {
            Progress::new(label, total as u64)
        } else {
            Progress::hidden(label, total as u64)
        }
    };
    let batch = o.batch.max(1);
    let at = now();

    // Organisations and owners: one password hash shared by all (hashing is slow on
    // purpose), e-mails tagged per run so that a second run adds rather than collides.
    let hash = crate::auth::password::hash(&report.password)?;
    // The random end of a fresh id (its start is a timestamp, shared by runs close together).
    let id = uuid::Uuid::now_v7().to_string();
    let tag = &id[id.len() - 8..];
    let mut orgs: Vec<Org> = Vec::with_capacity(o.organizations);
    let mut bar = progress("organisations", o.organizations);
    for chunk_start in (0..o.organizations).step_by(batch) {
        let end = (chunk_start + batch).min(o.organizations);
        let created = dialect::write_transaction(conn, |conn| {
            let mut created = Vec::new();
            for i in chunk_start..end {
                let (kind, role) = match i % 10 {
                    0..=2 => ("research_institute", Role::Seller),
                    3..=4 => ("university", Role::Seller),
                    5..=8 => ("enterprise", Role::Buyer),
                    _ => ("intermediary", Role::Intermediary),
                };
                let email = format!("owner{i}.{tag}@synthetic.techx.vn");
                let user = users::create(
                    conn,
                    &NewUser {
                        email: &email,
                        email_normalized: &normalize_email(&email),
                        password_hash: &hash,
                        display_name: &format!("Chủ tổ chức {i}"),
                        language: "vi",
                        role: PlatformRole::Member,
                        verified: true,
                    },
                )?;
                let province = words::PROVINCES[i % words::PROVINCES.len()];
                let profile = Profile {
                    name: match role {
                        Role::Seller if kind == "university" => format!("Trường Đại học số {i}"),
                        Role::Seller => format!("Viện Nghiên cứu Ứng dụng số {i}"),
                        Role::Buyer => format!("Công ty Cổ phần Sản xuất số {i}"),
                        Role::Intermediary => format!("Trung tâm Chuyển giao Công nghệ số {i}"),
                    },
                    kind: kind.into(),
                    tax_code: None,
                    province: province.into(),
                    address: None,
                    website: None,
                    description: None,
                    sectors: vec![words::SECTORS[i % words::SECTORS.len()].into()],
                    services: if role == Role::Intermediary {
                        vec!["brokering".into(), "valuation".into()]
                    } else {
                        Vec::new()
                    },
                };
                let org = organizations::create(conn, &profile, user.id)?;
                if i % 2 == 0 {
                    organizations::set_verification(conn, org.id, true, None, user.id)?;
                }
                created.push(Org { id: org.id, owner: user.id, role });
                if i == 0 {
                    report.sample_email = email;
                }
            }
            Ok::<_, ApiError>(created)
        })?;
        bar.add(created.len() as u64);
        orgs.extend(created);
    }
    bar.finish();
    report.organizations = orgs.len();
    report.users = orgs.len();
    let of_role = |role: Role| -> Vec<usize> {
        orgs.iter().enumerate().filter(|(_, o)| o.role == role).map(|(i, _)| i).collect()
    };
    let (sellers, buyers, brokers) =
        (of_role(Role::Seller), of_role(Role::Buyer), of_role(Role::Intermediary));

    // Listings.
    let mut offers: Vec<Offer> = Vec::new();
    let mut bar = progress("technologies", o.technologies);
    let mut done = 0;
    while done < o.technologies {
        let n = batch.min(o.technologies - done);
        let mut rows = Vec::with_capacity(n);
        for i in done..done + n {
            let org = *sellers.choose(&mut rng).unwrap_or(&0);
            let content = words::listing_content(&mut rng);
            let created_at = past(&mut rng, at);
            let submitted = after(&mut rng, created_at, 3, at);
            let (status, published_at, expires_at) = if is_pending(i) {
                (Status::PendingReview, None, None)
            } else {
                let published = after(&mut rng, submitted, 7, at);
                // Renewed as owners do, so the expiry job leaves them published.
                (Status::Published, Some(published), Some(at + Days::days(rng.gen_range(30..365))))
            };
            let id = TechnologyId::new();
            if let Some(published_at) = published_at {
                offers.push(Offer {
                    id,
                    org,
                    price: content.price.as_ref().and_then(|p| p.min),
                    published_at,
                });
            }
            rows.push(technologies::BulkListing {
                id,
                organization_id: orgs[org].id,
                created_by: orgs[org].owner,
                status,
                content,
                submitted_at: Some(submitted),
                published_at,
                expires_at,
                created_at,
            });
        }
        dialect::write_transaction(conn, |conn| technologies::insert_bulk(conn, &rows))?;
        done += n;
        bar.add(n as u64);
    }
    bar.finish();
    report.technologies = o.technologies;
    report.published_technologies = offers.len();

    // Demands.
    let mut bar = progress("demands", o.demands);
    let mut done = 0;
    while done < o.demands {
        let n = batch.min(o.demands - done);
        let mut rows = Vec::with_capacity(n);
        for i in done..done + n {
            let org = *buyers.choose(&mut rng).unwrap_or(&0);
            let created_at = past(&mut rng, at);
            let submitted = after(&mut rng, created_at, 3, at);
            let pending = is_pending(i);
            if !pending {
                report.published_demands += 1;
            }
            rows.push(demands::BulkDemand {
                id: DemandId::new(),
                organization_id: orgs[org].id,
                created_by: orgs[org].owner,
                status: if pending { Status::PendingReview } else { Status::Published },
                content: words::demand_content(&mut rng),
                submitted_at: Some(submitted),
                published_at: (!pending).then(|| after(&mut rng, submitted, 7, at)),
                expires_at: (!pending).then(|| at + Days::days(rng.gen_range(30..365))),
                created_at,
            });
        }
        dialect::write_transaction(conn, |conn| demands::insert_bulk(conn, &rows))?;
        done += n;
        bar.add(n as u64);
    }
    bar.finish();
    report.demands = o.demands;

    // Deals, with the enquiries they came from and their valuation requests; then enquiries
    // that led nowhere yet.
    if o.deals > 0 && offers.is_empty() {
        return Err(ApiError::invalid("deals", "need at least one published technology"));
    }
    let mut bar = progress("deals", o.deals);
    let mut done = 0;
    while done < o.deals {
        let n = batch.min(o.deals - done);
        let mut out = DealBatch::default();
        for i in done..done + n {
            deal(&mut rng, &mut out, i, &orgs, &offers, &buyers, &brokers, at);
        }
        report.inquiries += out.inquiries.len();
        report.valuation_requests += out.valuations.len();
        report.completed_deals += out.completed;
        dialect::write_transaction(conn, |conn| out.insert(conn))?;
        done += n;
        bar.add(n as u64);
    }
    bar.finish();
    report.deals = o.deals;
    let loose = if offers.is_empty() { 0 } else { loose_inquiries(o.deals) };
    let mut done = 0;
    while done < loose {
        let n = batch.min(loose - done);
        let mut out = DealBatch::default();
        for _ in 0..n {
            let offer = &offers[rng.gen_range(0..offers.len())];
            let buyer = *buyers.choose(&mut rng).unwrap_or(&0);
            let created = after(&mut rng, offer.published_at, 60, at);
            out.inquiry(&mut rng, &orgs, offer, buyer, created, false);
        }
        report.inquiries += out.inquiries.len();
        dialect::write_transaction(conn, |conn| out.insert(conn))?;
        done += n;
    }

    // Fresh planner statistics for the loaded tables (and on PostgreSQL a visibility map, so
    // counts can be index-only), as autovacuum would give a live server.
    match dialect::backend(conn) {
        Backend::Postgres => conn.batch_execute("VACUUM ANALYZE")?,
        Backend::Sqlite => conn.batch_execute("ANALYZE")?,
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

#[derive(Insertable)]
#[diesel(table_name = deals)]
#[diesel(treat_none_as_null = true)]
struct DealRow {
    id: DealId,
    technology_id: TechnologyId,
    buyer_organization_id: OrganizationId,
    seller_organization_id: OrganizationId,
    broker_organization_id: Option<OrganizationId>,
    inquiry_id: Option<InquiryId>,
    stage: &'static str,
    transfer_form: &'static str,
    exclusive: Option<bool>,
    territory: Option<&'static str>,
    term_months: Option<i32>,
    sublicensing: Option<bool>,
    price: Option<i64>,
    currency: Option<&'static str>,
    payment_schedule: Option<&'static str>,
    broker_fee: Option<i64>,
    final_price: Option<i64>,
    buyer_accepted_at: Option<NaiveDateTime>,
    seller_accepted_at: Option<NaiveDateTime>,
    buyer_confirmed_signing_at: Option<NaiveDateTime>,
    seller_confirmed_signing_at: Option<NaiveDateTime>,
    cancel_reason: Option<&'static str>,
    created_by: UserId,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    signed_at: Option<NaiveDateTime>,
    completed_at: Option<NaiveDateTime>,
    version: i32,
}

#[derive(Insertable)]
#[diesel(table_name = deal_events)]
#[diesel(treat_none_as_null = true)]
struct EventRow {
    id: DealEventId,
    deal_id: DealId,
    actor_id: UserId,
    actor_organization_id: Option<OrganizationId>,
    kind: &'static str,
    from_stage: Option<&'static str>,
    to_stage: Option<&'static str>,
    data_before: Option<String>,
    data_after: Option<String>,
    note: Option<&'static str>,
    created_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = deal_checklist)]
#[diesel(treat_none_as_null = true)]
struct ChecklistRow {
    deal_id: DealId,
    item: &'static str,
    ticked: bool,
    note: Option<&'static str>,
    ticked_by: Option<UserId>,
    ticked_at: Option<NaiveDateTime>,
}

#[derive(Insertable)]
#[diesel(table_name = inquiries)]
#[diesel(treat_none_as_null = true)]
struct InquiryRow {
    id: InquiryId,
    technology_id: TechnologyId,
    from_organization_id: OrganizationId,
    to_organization_id: OrganizationId,
    created_by: UserId,
    message: &'static str,
    intended_use: &'static str,
    transfer_form: &'static str,
    budget: Option<i64>,
    budget_currency: Option<&'static str>,
    status: &'static str,
    answered_at: Option<NaiveDateTime>,
    closed_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    version: i32,
}

#[derive(Insertable)]
#[diesel(table_name = inquiry_messages)]
struct MessageRow {
    id: InquiryMessageId,
    inquiry_id: InquiryId,
    organization_id: OrganizationId,
    author_id: UserId,
    body: &'static str,
    created_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = valuation_requests)]
#[diesel(treat_none_as_null = true)]
struct ValuationRow {
    id: ValuationRequestId,
    technology_id: TechnologyId,
    requester_organization_id: OrganizationId,
    requested_by: UserId,
    deal_id: Option<DealId>,
    purpose: &'static str,
    rights_kind: &'static str,
    rights_exclusive: Option<bool>,
    rights_territory: Option<&'static str>,
    rights_term_months: Option<i32>,
    valuation_date: String,
    preferred_method: &'static str,
    inputs: String,
    deadline: Option<String>,
    status: &'static str,
    appraiser_organization_id: Option<OrganizationId>,
    value_point: Option<i64>,
    value_low: Option<i64>,
    value_high: Option<i64>,
    currency: Option<&'static str>,
    methods: &'static str,
    assumptions: Option<&'static str>,
    report_summary: Option<&'static str>,
    report_url: Option<&'static str>,
    completed_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    version: i32,
}

#[derive(Insertable)]
#[diesel(table_name = valuation_request_events)]
struct ValuationEventRow {
    id: ValuationEventId,
    valuation_request_id: ValuationRequestId,
    from_status: Option<&'static str>,
    to_status: &'static str,
    actor_user_id: UserId,
    note: Option<&'static str>,
    created_at: NaiveDateTime,
}

#[derive(Default)]
struct DealBatch {
    deals: Vec<DealRow>,
    events: Vec<EventRow>,
    checklist: Vec<ChecklistRow>,
    inquiries: Vec<InquiryRow>,
    messages: Vec<MessageRow>,
    valuations: Vec<ValuationRow>,
    valuation_events: Vec<ValuationEventRow>,
    completed: usize,
}

fn item_name(item: ChecklistItem) -> &'static str {
    match item {
        ChecklistItem::Object => "object",
        ChecklistItem::ScopeOfRights => "scope_of_rights",
        ChecklistItem::TransferMethod => "transfer_method",
        ChecklistItem::PriceAndPayment => "price_and_payment",
        ChecklistItem::Term => "term",
        ChecklistItem::Schedule => "schedule",
        ChecklistItem::Warranty => "warranty",
        ChecklistItem::Penalties => "penalties",
        ChecklistItem::DisputeResolution => "dispute_resolution",
    }
}

/// The stages a deal passed through to reach `stage` (after `open`).
fn path_to(stage: Stage) -> &'static [Stage] {
    use Stage::*;
    match stage {
        Open => &[],
        Negotiating => &[Negotiating],
        Valuation => &[Negotiating, Valuation],
        Contracting => &[Negotiating, Contracting],
        Signed => &[Negotiating, Contracting, Signed],
        Delivering => &[Negotiating, Contracting, Signed, Delivering],
        Completed => &[Negotiating, Contracting, Signed, Delivering, Completed],
        Cancelled => &[Negotiating, Cancelled],
    }
}

#[allow(clippy::too_many_arguments)]
fn deal(
    rng: &mut StdRng,
    out: &mut DealBatch,
    i: usize,
    orgs: &[Org],
    offers: &[Offer],
    buyers: &[usize],
    brokers: &[usize],
    at: NaiveDateTime,
) {
    let offer = &offers[rng.gen_range(0..offers.len())];
    let buyer = *buyers.choose(rng).unwrap_or(&0);
    let stage = DEAL_STAGES[i % DEAL_STAGES.len()];
    let broker = is_brokered(i).then(|| *brokers.choose(rng).unwrap_or(&0));
    let id = DealId::new();
    let mut t = after(rng, offer.published_at, 30, at);
    let inquiry = match broker {
        Some(_) => None,
        None => {
            let inquiry = out.inquiry(rng, orgs, offer, buyer, t, true);
            t = after(rng, t, 5, at);
            Some(inquiry)
        }
    };
    let created = t;
    let licence = rng.gen_bool(0.7);
    // Prices in the currency's minor unit: one deal in ten in US cents.
    let (price, currency) = if i % 10 == 4 {
        (rng.gen_range(5_000..200_000) * 100, "USD")
    } else {
        (offer.price.unwrap_or(rng.gen_range(50..5_000) * 1_000_000), "VND")
    };
    let creator = orgs[broker.unwrap_or(buyer)].owner;
    let seller = offer.org;
    let event = |kind: &'static str,
                 from: Option<Stage>,
                 to: Option<Stage>,
                 by: usize,
                 when: NaiveDateTime,
                 data: Option<String>| {
        EventRow {
            id: DealEventId::new(),
            deal_id: id,
            actor_id: orgs[by].owner,
            actor_organization_id: Some(orgs[by].id),
            kind,
            from_stage: from.map(Stage::as_str),
            to_stage: to.map(Stage::as_str),
            data_before: None,
            data_after: data,
            note: None,
            created_at: when,
        }
    };
    let terms = serde_json::json!({
        "transfer_form": if licence { "usage_licence" } else { "ownership_assignment" },
        "price": price, "currency": currency,
    });
    out.events.push(event(
        "created",
        None,
        Some(Stage::Open),
        broker.unwrap_or(buyer),
        created,
        Some(terms.to_string()),
    ));
    let both_accepted = stage != Stage::Open;
    let accepted = |side: bool| side.then_some(created);
    // Acceptances: a buyer who opened the deal from its enquiry accepted by creating it.
    let accepting: &[usize] = match (both_accepted, broker) {
        (false, _) => &[],
        (true, None) => &[seller],
        (true, Some(_)) => &[buyer, seller],
    };
    for &side in accepting {
        let flags = serde_json::json!({"buyer_accepted": side == buyer || broker.is_none(),
            "seller_accepted": side == seller});
        out.events.push(event("accepted", None, None, side, created, Some(flags.to_string())));
    }
    let signing = matches!(stage, Stage::Signed | Stage::Delivering | Stage::Completed);
    let mut from = Stage::Open;
    let mut signed_at = None;
    let mut completed_at = None;
    let mut final_price = None;
    for &to in path_to(stage) {
        t = after(rng, t, 20, at);
        if to == Stage::Signed {
            // The checklist and both confirmations come before signing.
            for item in ChecklistItem::ALL {
                let change = |ticked: bool| {
                    serde_json::json!({"item": item_name(item), "ticked": ticked, "note": null})
                        .to_string()
                };
                out.events.push(EventRow {
                    data_before: Some(change(false)),
                    ..event("checklist", None, None, seller, t, Some(change(true)))
                });
                out.checklist.push(ChecklistRow {
                    deal_id: id,
                    item: item_name(item),
                    ticked: true,
                    note: None,
                    ticked_by: Some(orgs[seller].owner),
                    ticked_at: Some(t),
                });
            }
            for (side, after) in [
                (buyer, r#"{"buyer_confirmed":true,"seller_confirmed":false}"#),
                (seller, r#"{"buyer_confirmed":true,"seller_confirmed":true}"#),
            ] {
                out.events.push(event(
                    "signing_confirmed",
                    None,
                    None,
                    side,
                    t,
                    Some(after.into()),
                ));
            }
            signed_at = Some(t);
        }
        let data = match to {
            Stage::Completed => {
                let agreed = price / 100 * rng.gen_range(85..=110);
                final_price = Some(agreed);
                completed_at = Some(t);
                Some(serde_json::json!({"final_price": agreed, "currency": currency}).to_string())
            }
            Stage::Cancelled => Some(
                serde_json::json!({"reason": "Hai bên không thống nhất được giá."}).to_string(),
            ),
            _ => None,
        };
        let by = if to == Stage::Completed { buyer } else { seller };
        out.events.push(event("stage_changed", Some(from), Some(to), by, t, data));
        from = to;
    }
    if !signing {
        for item in ChecklistItem::ALL {
            out.checklist.push(ChecklistRow {
                deal_id: id,
                item: item_name(item),
                ticked: false,
                note: None,
                ticked_by: None,
                ticked_at: None,
            });
        }
    }
    if stage == Stage::Completed {
        out.completed += 1;
    }
    out.deals.push(DealRow {
        id,
        technology_id: offer.id,
        buyer_organization_id: orgs[buyer].id,
        seller_organization_id: orgs[seller].id,
        broker_organization_id: broker.map(|b| orgs[b].id),
        inquiry_id: inquiry,
        stage: stage.as_str(),
        transfer_form: if licence { "usage_licence" } else { "ownership_assignment" },
        exclusive: licence.then(|| rng.gen_bool(0.3)),
        territory: licence.then_some("Việt Nam"),
        term_months: licence.then(|| [24, 36, 60][rng.gen_range(0..3)]),
        sublicensing: licence.then_some(false),
        price: Some(price),
        currency: Some(currency),
        payment_schedule: Some("30% khi ký, 70% khi bàn giao"),
        broker_fee: broker.map(|_| price / 20),
        final_price,
        buyer_accepted_at: accepted(both_accepted || broker.is_none()),
        seller_accepted_at: accepted(both_accepted),
        buyer_confirmed_signing_at: signed_at,
        seller_confirmed_signing_at: signed_at,
        cancel_reason: (stage == Stage::Cancelled).then_some("Hai bên không thống nhất được giá."),
        created_by: creator,
        created_at: created,
        updated_at: t,
        signed_at,
        completed_at,
        version: 1 + path_to(stage).len() as i32,
    });
    if has_valuation(i) {
        let status = VALUATION_STATUSES[(i / 5) % VALUATION_STATUSES.len()];
        let requested = after(rng, created, 10, at);
        let vid = ValuationRequestId::new();
        let appraiser = *brokers.choose(rng).unwrap_or(&0);
        let steps: &[VStatus] = match status {
            VStatus::Submitted => &[],
            VStatus::Assigned => &[VStatus::Assigned],
            VStatus::InProgress => &[VStatus::Assigned, VStatus::InProgress],
            VStatus::Completed => &[VStatus::Assigned, VStatus::InProgress, VStatus::Completed],
            _ => &[VStatus::Assigned, VStatus::Declined],
        };
        let mut when = requested;
        let mut previous = VStatus::Submitted;
        out.valuation_events.push(ValuationEventRow {
            id: ValuationEventId::new(),
            valuation_request_id: vid,
            from_status: None,
            to_status: VStatus::Submitted.as_str(),
            actor_user_id: orgs[buyer].owner,
            note: None,
            created_at: when,
        });
        for &s in steps {
            when = after(rng, when, 10, at);
            out.valuation_events.push(ValuationEventRow {
                id: ValuationEventId::new(),
                valuation_request_id: vid,
                from_status: Some(previous.as_str()),
                to_status: s.as_str(),
                actor_user_id: orgs[appraiser].owner,
                note: None,
                created_at: when,
            });
            previous = s;
        }
        let done = status == VStatus::Completed;
        let value = price / 100 * rng.gen_range(80..=120);
        out.valuations.push(ValuationRow {
            id: vid,
            technology_id: offer.id,
            requester_organization_id: orgs[buyer].id,
            requested_by: orgs[buyer].owner,
            deal_id: Some(id),
            purpose: if licence { "licence" } else { "sale" },
            rights_kind: if licence { "usage" } else { "ownership" },
            rights_exclusive: licence.then_some(false),
            rights_territory: licence.then_some("Việt Nam"),
            rights_term_months: licence.then_some(36),
            valuation_date: requested.date().format("%Y-%m-%d").to_string(),
            preferred_method: "income",
            inputs: serde_json::json!({"currency": currency, "revenue_forecasts": [price / 2, price, price * 2]})
                .to_string(),
            deadline: None,
            status: status.as_str(),
            appraiser_organization_id: (status != VStatus::Submitted)
                .then_some(orgs[appraiser].id),
            value_point: done.then_some(value),
            value_low: done.then_some(value / 10 * 8),
            value_high: done.then_some(value / 10 * 12),
            currency: done.then_some(currency),
            methods: if done { r#"["income","market"]"# } else { "[]" },
            assumptions: done.then_some("Tỷ lệ chiết khấu 12%/năm; tiền bản quyền 3% doanh thu."),
            report_summary: done.then_some("Giá trị theo phương pháp thu nhập, đối chiếu thị trường."),
            report_url: None,
            completed_at: done.then_some(when),
            created_at: requested,
            updated_at: when,
            version: 1 + steps.len() as i32,
        });
    }
}

impl DealBatch {
    /// An enquiry from `buyer` about `offer`, answered by the seller when it led to a deal.
    fn inquiry(
        &mut self,
        rng: &mut StdRng,
        orgs: &[Org],
        offer: &Offer,
        buyer: usize,
        created: NaiveDateTime,
        answered: bool,
    ) -> InquiryId {
        let id = InquiryId::new();
        let answered_at = answered.then(|| after(rng, created, 3, created + Days::days(3)));
        self.inquiries.push(InquiryRow {
            id,
            technology_id: offer.id,
            from_organization_id: orgs[buyer].id,
            to_organization_id: orgs[offer.org].id,
            created_by: orgs[buyer].owner,
            message: "Chúng tôi quan tâm đến công nghệ này, xin gửi thông tin chi tiết và báo giá.",
            intended_use: "Áp dụng tại nhà máy của công ty.",
            transfer_form: "usage_licence",
            budget: None,
            budget_currency: None,
            status: if answered { "answered" } else { "open" },
            answered_at,
            closed_at: None,
            created_at: created,
            updated_at: answered_at.unwrap_or(created),
            version: if answered { 2 } else { 1 },
        });
        if let Some(when) = answered_at {
            self.messages.push(MessageRow {
                id: InquiryMessageId::new(),
                inquiry_id: id,
                organization_id: orgs[offer.org].id,
                author_id: orgs[offer.org].owner,
                body: "Cảm ơn quý công ty, chúng tôi gửi kèm hồ sơ kỹ thuật và đề nghị họp trao đổi.",
                created_at: when,
            });
        }
        id
    }

    fn insert(&self, conn: &mut DbConn) -> Result<(), ApiError> {
        // Small enough per row that 500 rows stay under SQLite's bind limit.
        for c in self.inquiries.chunks(500) {
            dialect::insert_rows(conn, inquiries::table, c)?;
        }
        for c in self.messages.chunks(500) {
            dialect::insert_rows(conn, inquiry_messages::table, c)?;
        }
        for c in self.deals.chunks(500) {
            dialect::insert_rows(conn, deals::table, c)?;
        }
        for c in self.events.chunks(500) {
            dialect::insert_rows(conn, deal_events::table, c)?;
        }
        for c in self.checklist.chunks(1_000) {
            dialect::insert_rows(conn, deal_checklist::table, c)?;
        }
        for c in self.valuations.chunks(500) {
            dialect::insert_rows(conn, valuation_requests::table, c)?;
        }
        for c in self.valuation_events.chunks(1_000) {
            dialect::insert_rows(conn, valuation_request_events::table, c)?;
        }
        Ok(())
    }
}
