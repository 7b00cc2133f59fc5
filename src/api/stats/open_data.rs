//! The published catalogue as open data, streamed in keyset batches as CSV or JSON Lines.

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{CSV_TYPE, Csv, JSONL_TYPE, OPEN_DATA_BATCH, accepts, csv_error};
use crate::api::extract::Query;
use crate::db::Db;
use crate::db::types::{TechnologyId, utc};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::stats::{self as store};

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
        sectors: crate::store::json::list(&row.sectors),
        keywords: crate::store::json::list(&row.keywords),
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
    after: Option<TechnologyId>,
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
