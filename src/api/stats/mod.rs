//! Statistics, activity reports and open data for the Department of Science and Technology:
//! the public overview (`overview`), the staff activity report (`activity`) and the published
//! catalogue streamed as CSV or JSON Lines (`open_data`); here the formats they share.

mod activity;
mod open_data;
mod overview;

pub use activity::{period, report_dates};

use utoipa_actix_web::service_config::ServiceConfig;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::error::ApiError;

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

/// The statistics, report and open-data routes, in the order the OpenAPI document lists them.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(overview::stats_overview)
        .service(activity::activity_report)
        .service(open_data::open_data_technologies);
}
