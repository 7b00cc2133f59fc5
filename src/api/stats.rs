//! Statistics, activity reports and open data for the Department of Science and Technology:
//! the public overview, the staff activity report (JSON or CSV), and the published catalogue
//! streamed as CSV or JSON Lines.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::{Datelike, Months, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::extract::{LangParam, Query, RequestLang};
use crate::auth::extract::Auth;
use crate::auth::policy;
use crate::db::Db;
use crate::db::types::{Id, utc};
use crate::domain::taxonomy;
use crate::error::ApiError;
use crate::state::{AppState, CachedOverview};
use crate::store::stats::{self as store, Counted, Median, Period};

const CSV_TYPE: &str = "text/csv; charset=utf-8";
const JSONL_TYPE: &str = "application/x-ndjson";
/// Byte order mark: lets Excel read the CSV as UTF-8 (Vietnamese text) instead of the
/// system code page.
const BOM: &str = "\u{feff}";
/// Rows per database round trip of the open-data stream: memory stays flat whatever the
/// catalogue's size.
pub const OPEN_DATA_BATCH: i64 = 500;
/// Longest span an activity report covers.
const MAX_REPORT_DAYS: i64 = 3660;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormat {
    Json,
    Csv,
}

/// The report format: `?format=` wins, else `Accept: text/csv` means CSV, else JSON.
pub(crate) fn report_format(req: &HttpRequest, format: Option<ReportFormat>) -> ReportFormat {
    format.unwrap_or_else(|| {
        if accepts(req, &["text/csv"]) { ReportFormat::Csv } else { ReportFormat::Json }
    })
}

fn accepts(req: &HttpRequest, types: &[&str]) -> bool {
    req.headers()
        .get_all(header::ACCEPT)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .any(|t| types.contains(&t.as_str()))
}

/// A CSV document: UTF-8 with a byte order mark, RFC 4180 quoting (the `csv` crate).
pub(crate) struct Csv {
    writer: csv::Writer<Vec<u8>>,
}

impl Csv {
    pub(crate) fn new(header: &[&str], bom: bool) -> Result<Self, ApiError> {
        let buffer = if bom { BOM.as_bytes().to_vec() } else { Vec::new() };
        let mut writer = csv::Writer::from_writer(buffer);
        writer.write_record(header).map_err(csv_error)?;
        Ok(Self { writer })
    }

    pub(crate) fn row<I, T>(&mut self, fields: I) -> Result<(), ApiError>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        let fields = fields.into_iter().map(|field| defuse_formula(field.as_ref()));
        self.writer.write_record(fields).map_err(csv_error)
    }

    pub(crate) fn finish(self) -> Result<Vec<u8>, ApiError> {
        self.writer.into_inner().map_err(|e| csv_error(e.into_error()))
    }
}

/// Spreadsheet formula injection ("CSV injection"): Excel runs a cell starting with `=`, `+`,
/// `-`, `@`, tab or carriage return as a formula, and listing titles are anyone's text. Such a
/// cell gets a leading apostrophe, which spreadsheets show as text; numbers stay as they are.
fn defuse_formula(field: &[u8]) -> Vec<u8> {
    let risky = matches!(field.first(), Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r'));
    let number = std::str::from_utf8(field).is_ok_and(|s| s.parse::<f64>().is_ok());
    if risky && !number { [b"'".as_slice(), field].concat() } else { field.to_vec() }
}

fn csv_error(error: impl std::fmt::Display) -> ApiError {
    tracing::error!(%error, "writing CSV");
    ApiError::internal()
}

pub(crate) fn csv_response(body: Vec<u8>, name: &str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(CSV_TYPE)
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")))
        .body(body)
}

/// A count in a group.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupCount {
    #[schema(example = "thanh-hoa")]
    pub key: String,
    /// Label of the key in the caller's language, where it has one.
    #[schema(example = "Thanh Hóa")]
    pub label: Option<String>,
    pub count: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TechnologyStats {
    /// Listings published now.
    pub published: i64,
    /// By kind: `technology`, `equipment`, `research_result`.
    pub by_kind: Vec<GroupCount>,
    /// By FORD field ("1"–"6"); a listing counts once in every field it has a sector in.
    pub by_sector_field: Vec<GroupCount>,
    /// By province code, largest first.
    pub by_province: Vec<GroupCount>,
}

/// Commercialisation of state-funded research results (Decree 70/2018/NĐ-CP).
#[derive(Debug, Serialize, ToSchema)]
pub struct ResearchResultStats {
    /// Research-result listings ever published on the exchange (published now, or since
    /// archived or expired).
    pub listed: i64,
    /// Of those, how many have a deal that is signed, delivering or completed.
    pub commercialised: i64,
    /// `commercialised / listed`, rounded to 4 decimals; null when nothing is listed.
    #[schema(example = 0.125)]
    pub commercialisation_rate: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OverviewDto {
    pub technologies: TechnologyStats,
    /// Demands published now.
    pub demands_published: i64,
    /// Deals completed, all time.
    pub deals_completed: i64,
    pub research_results: ResearchResultStats,
    /// Organisations verified by exchange staff.
    pub verified_organizations: i64,
    /// Verified organisations by kind.
    pub verified_organizations_by_kind: Vec<GroupCount>,
    pub generated_at: chrono::DateTime<Utc>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OverviewParams {
    /// `json` (default) or `csv`; `Accept: text/csv` also selects CSV.
    #[param(inline)]
    pub format: Option<ReportFormat>,
}

fn rate(part: i64, whole: i64, decimals: i32) -> Option<f64> {
    (whole > 0).then(|| round(part as f64 / whole as f64, decimals))
}

fn round(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

fn overview_dto(
    rows: &[Counted],
    generated_at: chrono::DateTime<Utc>,
    lang: RequestLang,
) -> OverviewDto {
    let lang = lang.0;
    let group = |section: &str| -> Vec<GroupCount> {
        let mut out: Vec<GroupCount> = rows
            .iter()
            .filter(|r| r.s == section)
            .map(|r| GroupCount {
                key: r.k.clone(),
                label: match section {
                    "province" => {
                        taxonomy::province(&r.k).map(|p| lang.pick(p.name_vi, p.name_en).into())
                    }
                    "sector_field" => taxonomy::SECTORS
                        .iter()
                        .find(|s| s.field.0 == r.k)
                        .map(|s| lang.pick(s.field.1, s.field.2).into()),
                    _ => None,
                },
                count: r.n,
            })
            .collect();
        out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
        out
    };
    let total = |name: &str| rows.iter().find(|r| r.s == "total" && r.k == name).map_or(0, |r| r.n);
    let by_kind = group("kind");
    let by_org_kind = group("organization_kind");
    let listed = total("research_results_listed");
    let commercialised = total("research_results_commercialised");
    OverviewDto {
        technologies: TechnologyStats {
            published: by_kind.iter().map(|g| g.count).sum(),
            by_kind,
            by_sector_field: group("sector_field"),
            by_province: group("province"),
        },
        demands_published: total("demands_published"),
        deals_completed: total("deals_completed"),
        research_results: ResearchResultStats {
            listed,
            commercialised,
            commercialisation_rate: rate(commercialised, listed, 4),
        },
        verified_organizations: by_org_kind.iter().map(|g| g.count).sum(),
        verified_organizations_by_kind: by_org_kind,
        generated_at,
    }
}

const REPORT_CSV_HEADER: [&str; 5] = ["section", "key", "label", "metric", "value"];

fn opt(value: Option<f64>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

fn overview_csv(o: &OverviewDto) -> Result<Vec<u8>, ApiError> {
    let mut csv = Csv::new(&REPORT_CSV_HEADER, true)?;
    csv.row(["technologies", "", "", "published", &o.technologies.published.to_string()])?;
    for (section, groups) in [
        ("technologies_by_kind", &o.technologies.by_kind),
        ("technologies_by_sector_field", &o.technologies.by_sector_field),
        ("technologies_by_province", &o.technologies.by_province),
    ] {
        for g in groups {
            let label = g.label.as_deref().unwrap_or("");
            csv.row([section, &g.key, label, "published", &g.count.to_string()])?;
        }
    }
    csv.row(["demands", "", "", "published", &o.demands_published.to_string()])?;
    csv.row(["deals", "", "", "completed", &o.deals_completed.to_string()])?;
    let r = &o.research_results;
    csv.row(["research_results", "", "", "listed", &r.listed.to_string()])?;
    csv.row(["research_results", "", "", "commercialised", &r.commercialised.to_string()])?;
    csv.row([
        "research_results",
        "",
        "",
        "commercialisation_rate",
        &opt(r.commercialisation_rate),
    ])?;
    csv.row(["organizations", "", "", "verified", &o.verified_organizations.to_string()])?;
    for g in &o.verified_organizations_by_kind {
        csv.row(["organizations_by_kind", &g.key, "", "verified", &g.count.to_string()])?;
    }
    csv.finish()
}

/// Public figures of the exchange now: published listings by kind, sector field and
/// province; published demands; completed deals; state-funded research results listed and
/// commercialised (a signed, delivering or completed deal); verified organisations by kind.
///
/// JSON by default; CSV (UTF-8 with a byte order mark, columns `section,key,label,metric,
/// value`) with `?format=csv` or `Accept: text/csv`.
#[utoipa::path(
    tag = "statistics",
    params(OverviewParams, LangParam),
    responses(
        (status = 200, description = "The overview", content(
            (OverviewDto = "application/json"),
            (String = "text/csv", example = "\u{feff}section,key,label,metric,value\ntechnologies,,,published,42\n")
        )),
        (status = 400, description = "Invalid query parameter"),
    )
)]
#[get("/stats/overview")]
pub async fn stats_overview(
    state: web::Data<AppState>,
    req: HttpRequest,
    params: Query<OverviewParams>,
    lang: RequestLang,
) -> Result<HttpResponse, ApiError> {
    let format = report_format(&req, params.0.format);
    let (rows, generated_at) = {
        // Every figure scans the catalogue (~0.3 s at 100 000 listings): a process computes
        // it at most once per `TECHX_STATS_CACHE_SECS`, and a burst of visitors waits for
        // the one computation under way instead of each starting its own.
        let mut cached = state.overview_cache.lock().await;
        match cached.as_ref() {
            Some(c) if c.computed.elapsed() < state.config.stats_cache_ttl => {
                (c.rows.clone(), c.generated_at)
            }
            _ => {
                let rows = Arc::new(state.db.run(store::overview).await?);
                let generated_at = Utc::now();
                let computed = std::time::Instant::now();
                *cached = Some(CachedOverview { computed, generated_at, rows: rows.clone() });
                (rows, generated_at)
            }
        }
    };
    let dto = overview_dto(&rows, generated_at, lang);
    let mut response = match format {
        ReportFormat::Json => HttpResponse::Ok().json(dto),
        ReportFormat::Csv => csv_response(overview_csv(&dto)?, "overview.csv"),
    };
    // Public and the same for everyone: caches in front may keep it a few minutes, which
    // spares the database a full scan of the catalogue per visitor.
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, header::HeaderValue::from_static("public, max-age=300"));
    headers.insert(header::VARY, header::HeaderValue::from_static("Accept, Accept-Language"));
    Ok(response)
}

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

/// Reads every figure of an activity report for `period`, on one connection.
async fn load_activity(db: &Db, period: Period) -> Result<ActivityRows, ApiError> {
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

// ---- Open data -----------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OpenDataFormat {
    Csv,
    Jsonl,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OpenDataParams {
    /// `csv` (default) or `jsonl` (JSON Lines); `Accept: application/x-ndjson` or
    /// `application/jsonl` also selects JSON Lines.
    #[param(inline)]
    pub format: Option<OpenDataFormat>,
}

/// One published listing, as a JSON Lines record (CSV has the same columns; lists joined
/// with `; `).
#[derive(Debug, Serialize, ToSchema)]
pub struct OpenTechnology {
    pub id: uuid::Uuid,
    #[schema(value_type = crate::domain::listing::Kind)]
    pub kind: String,
    pub title: String,
    pub summary: String,
    #[schema(value_type = crate::domain::lang::Lang)]
    pub language: String,
    /// FORD sector codes.
    pub sectors: Vec<String>,
    pub keywords: Vec<String>,
    #[schema(minimum = 1, maximum = 9)]
    pub trl: Option<i32>,
    /// Transfer form codes offered.
    pub transfer_forms: Vec<String>,
    #[schema(minimum = 0)]
    pub price_min: Option<i64>,
    #[schema(minimum = 0)]
    pub price_max: Option<i64>,
    pub currency: Option<String>,
    pub price_basis: Option<String>,
    pub province: String,
    pub published_at: Option<chrono::DateTime<Utc>>,
    pub expires_at: Option<chrono::DateTime<Utc>>,
    pub organization_id: uuid::Uuid,
    pub organization_name: String,
    pub organization_verified: bool,
    /// Research results: funding level, programme, task code, host organisation, managing
    /// agency and rights status.
    #[schema(value_type = Option<crate::domain::listing::FundingLevel>)]
    pub funding_level: Option<String>,
    pub programme: Option<String>,
    pub task_code: Option<String>,
    pub host_organization: Option<String>,
    pub managing_agency: Option<String>,
    #[schema(value_type = Option<crate::domain::listing::RightsStatus>)]
    pub rights_status: Option<String>,
    /// The contact person, only where the listing's organisation made it public.
    pub contact_name: Option<String>,
    pub contact_email: Option<String>,
}

const OPEN_DATA_COLUMNS: [&str; 27] = [
    "id",
    "kind",
    "title",
    "summary",
    "language",
    "sectors",
    "keywords",
    "trl",
    "transfer_forms",
    "price_min",
    "price_max",
    "currency",
    "price_basis",
    "province",
    "published_at",
    "expires_at",
    "organization_id",
    "organization_name",
    "organization_verified",
    "funding_level",
    "programme",
    "task_code",
    "host_organization",
    "managing_agency",
    "rights_status",
    "contact_name",
    "contact_email",
];

fn json_list(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

fn open_technology(row: store::OpenListing) -> OpenTechnology {
    // Transfer forms are stored as offers ({"form", …}); open data names the forms.
    let forms: Vec<serde_json::Value> =
        serde_json::from_str(&row.transfer_forms).unwrap_or_default();
    OpenTechnology {
        id: row.id.into(),
        kind: row.kind,
        title: row.title,
        summary: row.summary,
        language: row.language,
        sectors: json_list(&row.sectors),
        keywords: json_list(&row.keywords),
        trl: row.trl,
        transfer_forms: forms
            .iter()
            .filter_map(|f| f.get("form").and_then(|v| v.as_str()).map(str::to_owned))
            .collect(),
        price_min: row.price_min,
        price_max: row.price_max,
        currency: row.currency,
        price_basis: row.price_basis,
        province: row.province,
        published_at: row.published_at.map(utc),
        expires_at: row.expires_at.map(utc),
        organization_id: row.organization_id.into(),
        organization_name: row.organization_name,
        organization_verified: row.organization_verified,
        funding_level: row.funding_level,
        programme: row.programme,
        task_code: row.task_code,
        host_organization: row.host_organization,
        managing_agency: row.managing_agency,
        rights_status: row.rights_status,
        contact_name: row.contact_name,
        contact_email: row.contact_email,
    }
}

fn csv_fields(t: &OpenTechnology) -> Vec<String> {
    let o = |v: &Option<String>| v.clone().unwrap_or_default();
    let n = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    let time = |v: Option<chrono::DateTime<Utc>>| {
        v.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)).unwrap_or_default()
    };
    vec![
        t.id.to_string(),
        t.kind.clone(),
        t.title.clone(),
        t.summary.clone(),
        t.language.clone(),
        t.sectors.join("; "),
        t.keywords.join("; "),
        n(t.trl.map(i64::from)),
        t.transfer_forms.join("; "),
        n(t.price_min),
        n(t.price_max),
        o(&t.currency),
        o(&t.price_basis),
        t.province.clone(),
        time(t.published_at),
        time(t.expires_at),
        t.organization_id.to_string(),
        t.organization_name.clone(),
        t.organization_verified.to_string(),
        o(&t.funding_level),
        o(&t.programme),
        o(&t.task_code),
        o(&t.host_organization),
        o(&t.managing_agency),
        o(&t.rights_status),
        o(&t.contact_name),
        o(&t.contact_email),
    ]
}

/// Encodes one batch of rows (with the header and BOM before the first CSV batch).
fn encode_batch(
    rows: Vec<store::OpenListing>,
    format: OpenDataFormat,
    first: bool,
) -> Result<Bytes, ApiError> {
    match format {
        OpenDataFormat::Csv => {
            let mut csv = if first {
                Csv::new(&OPEN_DATA_COLUMNS, true)?
            } else {
                Csv { writer: csv::Writer::from_writer(Vec::new()) }
            };
            for row in rows {
                csv.row(csv_fields(&open_technology(row)))?;
            }
            Ok(Bytes::from(csv.finish()?))
        }
        OpenDataFormat::Jsonl => {
            let mut out = Vec::new();
            for row in rows {
                serde_json::to_writer(&mut out, &open_technology(row)).map_err(csv_error)?;
                out.push(b'\n');
            }
            Ok(Bytes::from(out))
        }
    }
}

struct Cursor {
    db: Db,
    format: OpenDataFormat,
    after: Option<Id>,
    first: bool,
    done: bool,
}

/// The next chunk of the export: one keyset batch read off the async workers, encoded.
async fn next_chunk(mut c: Cursor) -> Option<(Result<Bytes, actix_web::Error>, Cursor)> {
    if c.done {
        return None;
    }
    let after = c.after;
    let batch = c.db.run(move |conn| store::open_listings(conn, after, OPEN_DATA_BATCH)).await;
    let rows = match batch {
        Ok(rows) => rows,
        Err(error) => {
            // Headers are already sent: all that can be done is cut the body short.
            let error = ApiError::from(error);
            tracing::error!(detail = %error.detail, "open-data export failed mid-stream");
            c.done = true;
            return Some((Err(error.into()), c));
        }
    };
    if (rows.len() as i64) < OPEN_DATA_BATCH {
        c.done = true;
    }
    c.after = rows.last().map(|r| r.id).or(c.after);
    let first = std::mem::replace(&mut c.first, false);
    if rows.is_empty() && !first {
        return None;
    }
    let chunk = encode_batch(rows, c.format, first).map_err(actix_web::Error::from);
    Some((chunk, c))
}

/// Every published listing as open data, streamed: CSV (UTF-8 with a byte order mark, the
/// default) or JSON Lines (one `OpenTechnology` per line). The export reads the catalogue
/// in batches of 500 in id order, so memory stays flat however large it is; listings
/// published while it runs may or may not be included. The contact person appears only
/// where the listing's organisation made it public.
#[utoipa::path(
    tag = "statistics",
    params(OpenDataParams),
    responses(
        (status = 200, description = "The published catalogue", content(
            (String = "text/csv", example = "\u{feff}id,kind,title,…\n"),
            (OpenTechnology = "application/x-ndjson")
        )),
        (status = 400, description = "Unknown format"),
    )
)]
#[get("/open-data/technologies")]
pub async fn open_data_technologies(
    state: web::Data<AppState>,
    req: HttpRequest,
    params: Query<OpenDataParams>,
) -> Result<HttpResponse, ApiError> {
    let format = params.0.format.unwrap_or_else(|| {
        if accepts(&req, &["application/x-ndjson", "application/jsonl"]) {
            OpenDataFormat::Jsonl
        } else {
            OpenDataFormat::Csv
        }
    });
    let cursor = Cursor { db: state.db.clone(), format, after: None, first: true, done: false };
    let body = futures_util::stream::unfold(cursor, next_chunk);
    let (content_type, name) = match format {
        OpenDataFormat::Csv => (CSV_TYPE, "technologies.csv"),
        OpenDataFormat::Jsonl => (JSONL_TYPE, "technologies.jsonl"),
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")))
        .streaming(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_that_a_spreadsheet_would_run_are_defused() {
        let mut csv = Csv::new(&["a", "b", "c", "d", "e"], false).unwrap();
        csv.row(["=HYPERLINK(\"http://x\")", "-5", "+84 912", "@SUM(A1)", "Máy sấy = tốt"])
            .unwrap();
        let text = String::from_utf8(csv.finish().unwrap()).unwrap();
        let row = text.lines().nth(1).unwrap();
        assert_eq!(row, "\"'=HYPERLINK(\"\"http://x\"\")\",-5,'+84 912,'@SUM(A1),Máy sấy = tốt");
    }
}
