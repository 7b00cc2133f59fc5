//! The staff activity report over a period: monthly series and medians, JSON or CSV.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::{Datelike, Months, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::overview::{REPORT_CSV_HEADER, opt, rate, round};
use super::{Csv, MAX_REPORT_DAYS, ReportFormat, csv_response, report_format};
use crate::api::extract::Query;
use crate::auth::extract::Auth;
use crate::auth::policy;
use crate::db::Db;
use crate::domain::taxonomy;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::stats::{self as store, Counted, Median, Period};

// ---- Activity report ------------------------------------------------------------------

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ActivityParams {
    /// First day covered, `YYYY-MM-DD`, inclusive, from 00:00 UTC. Default: the first day
    /// of the month eleven months before `to` (twelve calendar months).
    #[param(example = "2026-01-01")]
    pub from: Option<String>,
    /// Last day covered, `YYYY-MM-DD`, inclusive, to 24:00 UTC. Default: today (UTC). At
    /// most 3660 days after `from`; years 2000–2999.
    #[param(example = "2026-12-31")]
    pub to: Option<String>,
    /// Only the activity of one province (code from `/taxonomy/provinces`): listings,
    /// enquiries, deals and valuations by the listing's province; demands, proposals and
    /// match notifications by the demand's.
    #[param(example = "thanh-hoa")]
    pub province: Option<String>,
    /// `json` (default) or `csv`; `Accept: text/csv` also selects CSV.
    #[param(inline)]
    pub format: Option<ReportFormat>,
}

/// Counts of the period (or of one month). Each is counted by the date named.
#[derive(Debug, Default, Clone, Serialize, ToSchema)]
pub struct ActivityCounts {
    /// Listings created (drafts included), by creation date.
    pub listings_created: i64,
    /// Listings published for the first time, by publication date.
    pub listings_published: i64,
    /// Moderation decisions on listings, by decision date.
    pub listings_reviewed: i64,
    /// Of those, approvals.
    pub listings_approved: i64,
    /// Demands created, by creation date.
    pub demands_created: i64,
    /// Demands published for the first time, by publication date.
    pub demands_published: i64,
    /// Enquiries made, by date made.
    pub inquiries: i64,
    /// Of those, answered by the listing's organisation (so far).
    pub inquiries_answered: i64,
    /// Proposals made to demands, by date made.
    pub proposals: i64,
    /// Of those, accepted (so far).
    pub proposals_accepted: i64,
    /// Demand–listing pairs notified as a match, by notification date.
    pub matches_notified: i64,
    /// Deals created, by creation date.
    pub deals_created: i64,
    /// Deals signed, by signing date.
    pub deals_signed: i64,
    /// Deals completed, by completion date.
    pub deals_completed: i64,
    /// Valuation requests made, by request date.
    pub valuations_requested: i64,
    /// Valuations completed, by completion date.
    pub valuations_completed: i64,
}

impl ActivityCounts {
    fn from_rows<'a>(rows: impl Iterator<Item = &'a Counted>) -> Self {
        let mut c = Self::default();
        for row in rows {
            if let Some(slot) = c.slot(&row.k) {
                *slot += row.n;
            }
        }
        c
    }

    fn slot(&mut self, name: &str) -> Option<&mut i64> {
        Some(match name {
            "listings_created" => &mut self.listings_created,
            "listings_published" => &mut self.listings_published,
            "listings_reviewed" => &mut self.listings_reviewed,
            "listings_approved" => &mut self.listings_approved,
            "demands_created" => &mut self.demands_created,
            "demands_published" => &mut self.demands_published,
            "inquiries" => &mut self.inquiries,
            "inquiries_answered" => &mut self.inquiries_answered,
            "proposals" => &mut self.proposals,
            "proposals_accepted" => &mut self.proposals_accepted,
            "matches_notified" => &mut self.matches_notified,
            "deals_created" => &mut self.deals_created,
            "deals_signed" => &mut self.deals_signed,
            "deals_completed" => &mut self.deals_completed,
            "valuations_requested" => &mut self.valuations_requested,
            "valuations_completed" => &mut self.valuations_completed,
            _ => return None,
        })
    }

    /// `(figure, value)` in report order.
    fn pairs(&self) -> Vec<(&'static str, i64)> {
        let mut copy = self.clone();
        store::activity_figures().map(|name| (name, copy.slot(name).map_or(0, |v| *v))).collect()
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MonthActivity {
    /// `YYYY-MM` (UTC).
    #[schema(example = "2026-11")]
    pub month: String,
    #[serde(flatten)]
    pub counts: ActivityCounts,
}

/// Median durations; null when there was nothing to measure.
#[derive(Debug, Serialize, ToSchema)]
pub struct Turnaround {
    /// Listing submission → moderation decision, in hours: every decision in the period,
    /// each from the submission it decided (a listing rejected, approved and re-approved
    /// counts three).
    pub review_median_hours: Option<f64>,
    /// Decisions measured: every decision in the period whose submission is known.
    pub reviews_measured: i64,
    /// Enquiry → first answer, for enquiries made in the period, in hours.
    pub inquiry_response_median_hours: Option<f64>,
    /// Valuation request → completion, for completions in the period, in days.
    pub valuation_median_days: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Rates {
    /// `inquiries_answered / inquiries` (4 decimals); null without enquiries.
    pub inquiry_response_rate: Option<f64>,
    /// `proposals_accepted / proposals` (4 decimals); null without proposals.
    pub proposal_acceptance_rate: Option<f64>,
}

/// Money in one currency, in its minor unit (VND has none); currencies are never added up.
#[derive(Debug, Serialize, ToSchema)]
pub struct CurrencyAmount {
    #[schema(example = "VND")]
    pub currency: String,
    /// Deals carrying a price in this currency.
    pub deals: i64,
    #[schema(example = 750000000)]
    #[schema(minimum = 0)]
    pub amount: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StageCount {
    #[schema(value_type = crate::domain::deals::Stage, example = "signed")]
    pub stage: String,
    pub count: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DealActivity {
    /// Deals created in the period by their current stage.
    pub by_stage: Vec<StageCount>,
    /// Agreed prices of deals signed in the period, per currency.
    pub value_signed: Vec<CurrencyAmount>,
    /// Final prices (else the agreed price) of deals completed in the period, per currency.
    pub value_completed: Vec<CurrencyAmount>,
}

/// An intermediary's deals created in the period.
#[derive(Debug, Serialize, ToSchema)]
pub struct IntermediaryActivity {
    pub organization_id: uuid::Uuid,
    #[schema(example = "Trung tâm Chuyển giao Công nghệ")]
    pub name: String,
    pub deals_brokered: i64,
    /// Of those, completed so far.
    pub deals_completed: i64,
    /// `deals_completed / deals_brokered` (4 decimals).
    pub completion_rate: f64,
    /// Creation → completion of the completed ones, in days; null when none is completed.
    pub median_days_to_close: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityReportDto {
    /// First day covered (inclusive, UTC).
    #[schema(example = "2026-01-01")]
    pub from: String,
    /// Last day covered (inclusive, UTC).
    #[schema(example = "2026-12-31")]
    pub to: String,
    pub province: Option<String>,
    pub totals: ActivityCounts,
    pub rates: Rates,
    pub turnaround: Turnaround,
    pub deals: DealActivity,
    /// Intermediaries that broker deals created in the period, busiest first.
    pub intermediaries: Vec<IntermediaryActivity>,
    /// One entry per calendar month of the period, oldest first, zeros included.
    pub monthly: Vec<MonthActivity>,
    pub generated_at: chrono::DateTime<Utc>,
}

fn parse_date(field: &str, text: &str) -> Result<NaiveDate, ApiError> {
    let bad = || ApiError::invalid(field, "expected a date YYYY-MM-DD between 2000 and 2999");
    if text.len() != 10 || !text.is_ascii() {
        return Err(bad());
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| bad())?;
    if !(2000..=2999).contains(&date.year()) {
        return Err(bad());
    }
    Ok(date)
}

/// The dates a report covers: `from` and `to` inclusive, whole UTC days.
pub fn report_dates(
    from: Option<&str>,
    to: Option<&str>,
    today: NaiveDate,
) -> Result<(NaiveDate, NaiveDate), ApiError> {
    let to = match to {
        Some(text) => parse_date("to", text)?,
        None => today,
    };
    let from = match from {
        Some(text) => parse_date("from", text)?,
        None => to
            .with_day(1)
            .and_then(|first| first.checked_sub_months(Months::new(11)))
            .ok_or_else(|| ApiError::invalid("to", "no default start for this date"))?,
    };
    if from > to {
        return Err(ApiError::invalid("from", "must not be after `to`"));
    }
    if (to - from).num_days() + 1 > MAX_REPORT_DAYS {
        return Err(ApiError::invalid(
            "to",
            format!("a report covers at most {MAX_REPORT_DAYS} days"),
        ));
    }
    Ok((from, to))
}

/// Every month from `from`'s to `to`'s, as `YYYY-MM`.
fn months(from: NaiveDate, to: NaiveDate) -> Vec<String> {
    let mut out = Vec::new();
    let mut month = from.with_day(1);
    while let Some(m) = month {
        if m > to {
            break;
        }
        out.push(m.format("%Y-%m").to_string());
        month = m.checked_add_months(Months::new(1));
    }
    out
}

fn hours(m: Option<&Median>) -> Option<f64> {
    m.map(|m| round(m.median / 3600.0, 2))
}

fn days(m: Option<&Median>) -> Option<f64> {
    m.map(|m| round(m.median / 86400.0, 2))
}

/// Everything the report needs, read on one connection.
struct ActivityRows {
    counts: Vec<Counted>,
    stages: Vec<Counted>,
    money: Vec<store::Money>,
    turnarounds: Vec<Median>,
    brokers: Vec<store::Broker>,
    close_times: Vec<Median>,
}

fn activity_dto(
    rows: ActivityRows,
    from: NaiveDate,
    to: NaiveDate,
    province: Option<String>,
) -> ActivityReportDto {
    let totals = ActivityCounts::from_rows(rows.counts.iter().filter(|r| r.s == "total"));
    let monthly = months(from, to)
        .into_iter()
        .map(|month| MonthActivity {
            counts: ActivityCounts::from_rows(rows.counts.iter().filter(|r| r.s == month)),
            month,
        })
        .collect();
    let turnaround = |k: &str| rows.turnarounds.iter().find(|m| m.k == k);
    let money = |s: &str| {
        let mut out: Vec<CurrencyAmount> = rows
            .money
            .iter()
            .filter(|m| m.s == s)
            .map(|m| CurrencyAmount { currency: m.currency.clone(), deals: m.n, amount: m.amount })
            .collect();
        out.sort_by(|a, b| a.currency.cmp(&b.currency));
        out
    };
    let close_times: HashMap<&str, &Median> =
        rows.close_times.iter().map(|m| (m.k.as_str(), m)).collect();
    let mut stages: Vec<StageCount> =
        rows.stages.iter().map(|r| StageCount { stage: r.k.clone(), count: r.n }).collect();
    stages.sort_by(|a, b| a.stage.cmp(&b.stage));
    ActivityReportDto {
        from: from.to_string(),
        to: to.to_string(),
        province,
        rates: Rates {
            inquiry_response_rate: rate(totals.inquiries_answered, totals.inquiries, 4),
            proposal_acceptance_rate: rate(totals.proposals_accepted, totals.proposals, 4),
        },
        turnaround: Turnaround {
            review_median_hours: hours(turnaround("review")),
            reviews_measured: turnaround("review").map_or(0, |m| m.n),
            inquiry_response_median_hours: hours(turnaround("inquiry")),
            valuation_median_days: days(turnaround("valuation")),
        },
        totals,
        deals: DealActivity {
            by_stage: stages,
            value_signed: money("signed"),
            value_completed: money("completed"),
        },
        intermediaries: rows
            .brokers
            .iter()
            .map(|b| IntermediaryActivity {
                organization_id: b.id.into(),
                name: b.name.clone(),
                deals_brokered: b.brokered,
                deals_completed: b.completed,
                completion_rate: rate(b.completed, b.brokered, 4).unwrap_or(0.0),
                median_days_to_close: days(close_times.get(b.id.to_string().as_str()).copied()),
            })
            .collect(),
        monthly,
        generated_at: Utc::now(),
    }
}

fn activity_csv(r: &ActivityReportDto) -> Result<Vec<u8>, ApiError> {
    let mut csv = Csv::new(&REPORT_CSV_HEADER, true)?;
    csv.row(["period", "", "", "from", &r.from])?;
    csv.row(["period", "", "", "to", &r.to])?;
    csv.row(["period", "", "", "province", r.province.as_deref().unwrap_or("")])?;
    for (name, value) in r.totals.pairs() {
        csv.row(["totals", "", "", name, &value.to_string()])?;
    }
    csv.row(["rates", "", "", "inquiry_response_rate", &opt(r.rates.inquiry_response_rate)])?;
    csv.row(["rates", "", "", "proposal_acceptance_rate", &opt(r.rates.proposal_acceptance_rate)])?;
    let t = &r.turnaround;
    csv.row(["turnaround", "", "", "review_median_hours", &opt(t.review_median_hours)])?;
    csv.row(["turnaround", "", "", "reviews_measured", &t.reviews_measured.to_string()])?;
    csv.row([
        "turnaround",
        "",
        "",
        "inquiry_response_median_hours",
        &opt(t.inquiry_response_median_hours),
    ])?;
    csv.row(["turnaround", "", "", "valuation_median_days", &opt(t.valuation_median_days)])?;
    for s in &r.deals.by_stage {
        csv.row(["deals_by_stage", &s.stage, "", "deals", &s.count.to_string()])?;
    }
    for (section, amounts) in
        [("value_signed", &r.deals.value_signed), ("value_completed", &r.deals.value_completed)]
    {
        for a in amounts {
            csv.row([section, &a.currency, "", "deals", &a.deals.to_string()])?;
            csv.row([section, &a.currency, "", "amount", &a.amount.to_string()])?;
        }
    }
    for i in &r.intermediaries {
        let id = i.organization_id.to_string();
        csv.row(["intermediaries", &id, &i.name, "deals_brokered", &i.deals_brokered.to_string()])?;
        csv.row([
            "intermediaries",
            &id,
            &i.name,
            "deals_completed",
            &i.deals_completed.to_string(),
        ])?;
        csv.row([
            "intermediaries",
            &id,
            &i.name,
            "completion_rate",
            &i.completion_rate.to_string(),
        ])?;
        csv.row([
            "intermediaries",
            &id,
            &i.name,
            "median_days_to_close",
            &opt(i.median_days_to_close),
        ])?;
    }
    for m in &r.monthly {
        for (name, value) in m.counts.pairs() {
            csv.row(["monthly", &m.month, "", name, &value.to_string()])?;
        }
    }
    csv.finish()
}

/// Reads every figure of an activity report for `period`, on one connection — at most one
/// report per core at a time. A report reads much of the database: more at once only slow
/// each other down, and on SQLite each one running holds its connection's page cache and
/// sorter memory (32 callers at once raised a 100 000-listing server's peak by 143 MB).
async fn load_activity(db: &Db, period: Period) -> Result<ActivityRows, ApiError> {
    static RUNNING: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    let permits = RUNNING.get_or_init(|| {
        tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
    });
    let _permit = permits.acquire().await.map_err(ApiError::internal_from)?;
    db.run(move |conn| {
        Ok(ActivityRows {
            counts: store::activity_counts(conn, &period)?,
            stages: store::deals_by_stage(conn, &period)?,
            money: store::deal_money(conn, &period)?,
            turnarounds: store::turnarounds(conn, &period)?,
            brokers: store::brokers(conn, &period)?,
            close_times: store::broker_close_times(conn, &period)?,
        })
    })
    .await
}

/// What the exchange did in a period, for the Department's periodic reports (exchange staff
/// only): new listings and demands, moderation turnaround, enquiries and their response,
/// proposals, matches notified, deals by stage and the money signed and completed per
/// currency, valuations, each intermediary's results, and every figure per month.
///
/// `from` and `to` are inclusive calendar dates in UTC: the report covers
/// `[from 00:00, to + 1 day 00:00)`. Each figure counts rows by the date named in its
/// description. JSON by default; CSV (UTF-8 with a byte order mark, columns
/// `section,key,label,metric,value`) with `?format=csv` or `Accept: text/csv`.
#[utoipa::path(
    tag = "statistics",
    security(("bearer" = [])),
    params(ActivityParams),
    responses(
        (status = 200, description = "The report", content(
            (ActivityReportDto = "application/json"),
            (String = "text/csv", example = "\u{feff}section,key,label,metric,value\ntotals,,,listings_published,12\n")
        )),
        (status = 400, description = "Bad dates (not YYYY-MM-DD, `from` after `to`, more than 3660 days), unknown province or format"),
        (status = 401, description = "Not signed in"),
        (status = 403, description = "Not exchange staff"),
    )
)]
#[get("/reports/activity")]
pub async fn activity_report(
    state: web::Data<AppState>,
    auth: Auth,
    req: HttpRequest,
    params: Query<ActivityParams>,
) -> Result<HttpResponse, ApiError> {
    policy::activity_reports(&auth.0)?;
    let params = params.0;
    let format = report_format(&req, params.format);
    let (from, to) =
        report_dates(params.from.as_deref(), params.to.as_deref(), Utc::now().date_naive())?;
    if let Some(code) = &params.province {
        if taxonomy::province(code).is_none() {
            return Err(ApiError::invalid("province", "unknown province code"));
        }
    }
    let period = period(from, to, params.province.clone())?;
    let rows = load_activity(&state.db, period).await?;
    let dto = activity_dto(rows, from, to, params.province);
    Ok(match format {
        ReportFormat::Json => HttpResponse::Ok().json(dto),
        ReportFormat::Csv => csv_response(activity_csv(&dto)?, "activity.csv"),
    })
}

/// The instants `[from 00:00, to + 1 day 00:00)` of inclusive UTC dates.
pub fn period(
    from: NaiveDate,
    to: NaiveDate,
    province: Option<String>,
) -> Result<Period, ApiError> {
    let until = to.succ_opt().ok_or_else(|| ApiError::invalid("to", "date out of range"))?;
    Ok(Period {
        from: from.and_time(chrono::NaiveTime::MIN),
        until: until.and_time(chrono::NaiveTime::MIN),
        province,
    })
}
