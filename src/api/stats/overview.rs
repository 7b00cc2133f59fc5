//! The public overview: the exchange's figures now, as JSON or CSV, computed at most once per
//! `TECHX_STATS_CACHE_SECS`.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{Csv, ReportFormat, csv_response, report_format};
use crate::api::extract::{LangParam, Query, RequestLang};
use crate::domain::taxonomy;
use crate::error::ApiError;
use crate::state::{AppState, CachedOverview};
use crate::store::stats::{self as store, Counted};

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

pub(super) fn rate(part: i64, whole: i64, decimals: i32) -> Option<f64> {
    (whole > 0).then(|| round(part as f64 / whole as f64, decimals))
}

pub(super) fn round(value: f64, decimals: i32) -> f64 {
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

pub(super) const REPORT_CSV_HEADER: [&str; 5] = ["section", "key", "label", "metric", "value"];

pub(super) fn opt(value: Option<f64>) -> String {
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
