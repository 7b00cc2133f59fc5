//! Conventions every resource shares: pagination, ETag/If-Match, Idempotency-Key.

use actix_web::HttpRequest;
use actix_web::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;

pub const MAX_PER_PAGE: u32 = 100;
pub const DEFAULT_PER_PAGE: u32 = 20;

#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// 1-based page number.
    #[param(minimum = 1, example = 1)]
    pub page: Option<u32>,
    /// Items per page (default 20, at most 100).
    #[param(minimum = 1, maximum = 100, example = 20)]
    pub per_page: Option<u32>,
}

#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    pub page: u32,
    pub per_page: u32,
}

impl PageRequest {
    pub fn offset(self) -> i64 {
        i64::from(self.page - 1) * i64::from(self.per_page)
    }

    pub fn limit(self) -> i64 {
        i64::from(self.per_page)
    }
}

impl PageParams {
    pub fn resolve(&self) -> Result<PageRequest, ApiError> {
        let page = self.page.unwrap_or(1);
        let per_page = self.per_page.unwrap_or(DEFAULT_PER_PAGE);
        if page == 0 || page > 1_000_000 {
            return Err(ApiError::invalid("page", "must be between 1 and 1000000"));
        }
        if per_page == 0 || per_page > MAX_PER_PAGE {
            return Err(ApiError::invalid(
                "per_page",
                format!("must be between 1 and {MAX_PER_PAGE}"),
            ));
        }
        Ok(PageRequest { page, per_page })
    }
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub page: u32,
    pub per_page: u32,
    /// Items matching the filters, on every page.
    pub total: i64,
}

impl<T> Page<T> {
    pub fn new(items: Vec<T>, request: PageRequest, total: i64) -> Self {
        Self { items, page: request.page, per_page: request.per_page, total }
    }
}

/// The strong ETag of a resource version whose body shows no other row.
pub fn etag(version: i32) -> String {
    format!("\"{version}\"")
}

/// The version an `If-Match` header names: 428 without one, 400 when it is not one of our
/// ETags. An ETag may carry a digest of joined rows after the version (`"3-1a2b3c4d"`, see
/// `cache::strong_etag`); a write is guarded by the resource's own version alone.
pub fn if_match(req: &HttpRequest) -> Result<i32, ApiError> {
    let value = req.headers().get("if-match").ok_or_else(|| {
        ApiError::new(
            StatusCode::PRECONDITION_REQUIRED,
            "precondition_required",
            "Send `If-Match` with the ETag you last read, so concurrent edits are not lost.",
        )
    })?;
    let text = value.to_str().unwrap_or_default().trim();
    // RFC 9110 §13.1.1: If-Match uses the strong comparison, so a weak tag never matches.
    if text.starts_with("W/") {
        return Err(precondition_failed());
    }
    let tag = text.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(text);
    // A page's ETag may be `"version-digest"` (`api::cache`): the version decides.
    tag.split_once('-')
        .map_or(tag, |(version, _)| version)
        .parse::<i32>()
        .map_err(|_| ApiError::invalid("If-Match", "must be an ETag returned by this API"))
}

/// 412: the `If-Match` version is not the current one (the store reports the same as
/// `StoreError::Stale`; both answer this).
pub fn precondition_failed() -> ApiError {
    ApiError::precondition_failed()
}

/// The `Idempotency-Key` header, if sent: 1–255 visible ASCII characters.
pub fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get("idempotency-key") else { return Ok(None) };
    let key = value.to_str().unwrap_or_default().trim();
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::invalid(
            "Idempotency-Key",
            "must be 1 to 255 visible ASCII characters",
        ));
    }
    Ok(Some(key.to_owned()))
}

/// Fingerprint of a request body, to tell a retry from a different request with the same
/// key.
pub fn request_fingerprint<T: Serialize>(body: &T) -> String {
    use sha2::{Digest, Sha256};
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    crate::auth::tokens::hex(&Sha256::digest(&bytes))
}

/// The 201 answer to an idempotent create: `Location` (`collection` + the new id), `ETag`,
/// and `Idempotent-Replayed: true` when this repeats the first answer to the same key.
pub fn created_response(
    collection: &str,
    created: crate::store::idempotency::Created,
) -> actix_web::HttpResponse {
    let id = created.body["id"].as_str().unwrap_or_default().to_owned();
    let version = created.body["version"].as_i64().unwrap_or(1);
    let mut response = actix_web::HttpResponse::Created();
    response
        .insert_header((actix_web::http::header::LOCATION, format!("{collection}/{id}")))
        .insert_header((
            actix_web::http::header::ETAG,
            etag(i32::try_from(version).unwrap_or(i32::MAX)),
        ));
    if created.replayed {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    response.json(created.body)
}
