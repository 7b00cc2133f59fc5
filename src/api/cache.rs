//! HTTP caching, one mechanism for every GET (RFC 9110 §13, RFC 9111):
//!
//! - A handler that knows its representation's validator before building the body (a
//!   single resource: its version, plus what it joins) answers through [`respond`], which
//!   compares `If-None-Match` first and, on a match, answers 304 without building the body.
//! - The [`conditional`] middleware covers every other GET under `/api/`: it gives a `200`
//!   JSON answer without an `ETag` a weak one over its bytes (lists, the statistics
//!   overview, taxonomy); to a handler's version ETag (`"3"`) it adds a digest of the bytes
//!   (`"3-…"`), since only `respond`'s callers vouch that their version covers all the body
//!   shows (an enquiry's thread grows without its version); it answers 304 when
//!   `If-None-Match` matches, and gives an answer without `Cache-Control` the safe default
//!   (`private, no-store` with credentials, `no-cache` without).
//!
//! A 304 carries the `ETag`, `Cache-Control` and `Vary` the 200 would have, and no body.

use std::hash::{Hash, Hasher};

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;

use crate::db::types::{EntityId, TypedId};
use crate::error::ApiError;
use crate::search::Validators;

/// The OpenAPI text of an `If-Match` header.
pub const IF_MATCH_DOC: &str = "The ETag you last read";
/// The OpenAPI text of an `If-None-Match` header.
pub const IF_NONE_MATCH_DOC: &str = "ETags you hold: 304 without a body when one is current";

/// Who may keep a response, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Reference data that changes with a release: a day, in any cache.
    Static,
    /// Public data (a published listing, an organisation's profile): a minute in any cache,
    /// then served stale for five more while one request revalidates it.
    Public,
    /// Seen with credentials or not public: never stored.
    Private,
    /// The middleware's default for anonymous answers no handler classified: any cache may
    /// keep it but must revalidate (cheap with the `ETag`) before each use.
    Revalidate,
}

impl Policy {
    pub fn cache_control(self) -> &'static str {
        match self {
            Policy::Static => "public, max-age=86400",
            Policy::Public => "public, max-age=60, stale-while-revalidate=300",
            Policy::Private => "private, no-store",
            Policy::Revalidate => "no-cache",
        }
    }

    /// `Public` for public data shown to an anonymous caller, `Private` otherwise: a body
    /// read with credentials may hold what only that caller may see.
    pub fn for_caller(public_data: bool, signed_in: bool) -> Self {
        if public_data && !signed_in { Policy::Public } else { Policy::Private }
    }
}

/// What a representation depends on besides its URL.
pub const VARY_AUTH: &str = "Authorization";
pub const VARY_LANG: &str = "Accept-Language";

/// A strong ETag for a body that shows other rows besides the resource (the owner's name, a
/// contact person): its version and a short digest of what it shows of them, so a change
/// there is a new ETag too. `If-Match` reads the version alone (see `common::if_match`).
pub fn joined_etag(version: i32, joined: impl Hash) -> String {
    let mut hasher = std::hash::DefaultHasher::new();
    joined.hash(&mut hasher);
    format!("\"{version}-{:08x}\"", hasher.finish() as u32)
}

/// A weak ETag over a body's bytes.
pub fn weak_etag(body: &[u8]) -> String {
    let mut hasher = std::hash::DefaultHasher::new();
    body.hash(&mut hasher);
    format!("W/\"{:016x}\"", hasher.finish())
}

/// Whether `If-None-Match` names `etag` (weak comparison, RFC 9110 §13.1.2), or is `*`.
pub fn none_match(headers: &HeaderMap, etag: &str) -> bool {
    let opaque = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
    let ours = opaque(etag);
    headers.get_all(header::IF_NONE_MATCH).filter_map(|v| v.to_str().ok()).any(|v| {
        v.split(',').any(|tag| {
            let tag = tag.trim();
            tag == "*" || opaque(tag) == ours
        })
    })
}

fn insert(headers: &mut HeaderMap, name: header::HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}

/// Marks an answer whose `ETag` its handler decided (see [`respond`]): the middleware
/// leaves it as it is.
struct Decided;

/// The `200` with `body`, or `304` without building it when the caller already holds
/// `etag`.
pub fn respond<T: Serialize>(
    req: &HttpRequest,
    etag: &str,
    policy: Policy,
    vary: Option<&str>,
    body: impl FnOnce() -> Result<T, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let response = if none_match(req.headers(), etag) {
        HttpResponse::NotModified().finish()
    } else {
        HttpResponse::Ok().json(body()?)
    };
    Ok(decided(response, etag, policy, vary))
}

/// The read of a published listing or demand, whose anonymous revalidations are answered
/// from the ETag the read model remembers (`search::Validators`), without the database.
pub struct PublicPage<'a> {
    /// Only for anonymous callers, once the index follows the feed.
    validators: Option<&'a Validators>,
    id: EntityId,
    /// The validators' generation before the read: a page read across a change is not
    /// remembered.
    read_at: u64,
}

impl<'a> PublicPage<'a> {
    /// `Err` is the 304 to send: an anonymous caller holds the remembered ETag of `id`.
    pub fn start(
        req: &HttpRequest,
        validators: Option<&'a Validators>,
        anonymous: bool,
        id: impl TypedId,
    ) -> Result<Self, HttpResponse> {
        let id = EntityId::of(id);
        let validators = validators.filter(|_| anonymous);
        if let Some(etag) = validators.and_then(|v| v.current(id))
            && none_match(req.headers(), &etag)
        {
            let not_modified = HttpResponse::NotModified().finish();
            return Err(decided(not_modified, &etag, Policy::Public, Some(VARY_AUTH)));
        }
        let read_at = validators.map_or(0, Validators::generation);
        Ok(Self { validators, id, read_at })
    }

    /// [`respond`] with `Vary: Authorization`, remembering `etag` when the page is public.
    pub fn respond<T: Serialize>(
        self,
        req: &HttpRequest,
        etag: &str,
        policy: Policy,
        body: impl FnOnce() -> Result<T, ApiError>,
    ) -> Result<HttpResponse, ApiError> {
        if let (Policy::Public, Some(validators)) = (policy, self.validators) {
            validators.remember(self.id, etag, self.read_at);
        }
        respond(req, etag, policy, Some(VARY_AUTH), body)
    }
}

fn decided(
    mut response: HttpResponse,
    etag: &str,
    policy: Policy,
    vary: Option<&str>,
) -> HttpResponse {
    let headers = response.headers_mut();
    insert(headers, header::ETAG, etag);
    insert(headers, header::CACHE_CONTROL, policy.cache_control());
    if let Some(vary) = vary {
        insert(headers, header::VARY, vary);
    }
    response.extensions_mut().insert(Decided);
    response
}

/// The middleware half: see the module documentation.
pub async fn conditional(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let applies =
        matches!(*req.method(), Method::GET | Method::HEAD) && req.path().starts_with("/api/");
    let signed_in = req.headers().contains_key(header::AUTHORIZATION);
    let res = next.call(req).await?;
    if !applies
        || res.status() != StatusCode::OK
        || res.response().extensions().get::<Decided>().is_some()
    {
        return Ok(res.map_into_boxed_body());
    }
    let (request, response) = res.into_parts();
    let (mut head, body) = response.into_parts();
    let headers = head.headers_mut();
    if !headers.contains_key(header::CACHE_CONTROL) {
        let policy = if signed_in { Policy::Private } else { Policy::Revalidate };
        insert(headers, header::CACHE_CONTROL, policy.cache_control());
    }
    let json =
        headers.get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes() == b"application/json");
    let version = headers.get(header::ETAG).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body = match body.size() {
        // A JSON answer built in memory (never a streamed export): hash what it says.
        BodySize::Sized(_) if json => {
            let bytes = actix_web::body::to_bytes(body).await.map_err(|e| {
                let e: Box<dyn std::error::Error> = e.into();
                actix_web::error::ErrorInternalServerError(e.to_string())
            })?;
            let etag = match version.as_deref() {
                None => weak_etag(&bytes),
                // `If-Match` still reads the version before the `-`.
                Some(version) => {
                    format!("\"{}-{}\"", version.trim_matches('"'), &weak_etag(&bytes)[3..11])
                }
            };
            insert(head.headers_mut(), header::ETAG, &etag);
            let path = request.path();
            if let Some(links) = super::links::header_value(path, request.query_string(), &bytes) {
                insert(head.headers_mut(), header::LINK, &links);
            }
            BoxBody::new(bytes)
        }
        _ => body.boxed(),
    };
    let etag = head.headers().get(header::ETAG).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let matched = etag.is_some_and(|etag| none_match(request.headers(), &etag));
    let response = if matched {
        let mut not_modified = HttpResponse::NotModified().finish();
        // RFC 9110 §15.4.5: what the 200 would have sent to keep a cached copy current.
        for name in
            [header::ETAG, header::CACHE_CONTROL, header::VARY, header::EXPIRES, header::LINK]
        {
            if let Some(value) = head.headers().get(&name) {
                not_modified.headers_mut().insert(name, value.clone());
            }
        }
        not_modified
    } else {
        head.set_body(body)
    };
    Ok(ServiceResponse::new(request, response))
}
