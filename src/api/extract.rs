//! Request extractors whose failures are problem+json naming the offending field: JSON
//! bodies (size-limited, unknown fields rejected by the types), query strings, path
//! segments and the response language.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::StreamExt;
use futures_util::future::LocalBoxFuture;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use utoipa::IntoParams;

use crate::domain::lang::Lang;
use crate::error::{ApiError, FieldError};
use crate::state::AppState;

const DEFAULT_BODY_LIMIT: usize = 1_048_576;

/// A JSON request body. Rejects a wrong content type (415), a body over
/// `TECHX_MAX_BODY_BYTES` (413) and malformed or mistyped JSON (400 with the field's path).
pub struct Json<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<web::Data<AppState>>()
            .map_or(DEFAULT_BODY_LIMIT, |s| s.config.max_body_bytes);
        let content_type_ok = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|essence| {
                let essence = essence.trim().to_ascii_lowercase();
                essence == "application/json" || essence.ends_with("+json")
            })
            .unwrap_or(false);
        let declared_length = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            if declared_length.is_some_and(|n| n > limit) {
                return Err(ApiError::payload_too_large(limit));
            }
            if !content_type_ok {
                return Err(ApiError::unsupported_media_type("application/json"));
            }
            let mut body = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|_| {
                    ApiError::bad_request("unreadable_body", "The request body could not be read.")
                })?;
                if body.len() + chunk.len() > limit {
                    return Err(ApiError::payload_too_large(limit));
                }
                body.extend_from_slice(&chunk);
            }
            parse_json(&body).map(Json)
        })
    }
}

/// Deserialises a JSON object, reporting the path of the first bad field.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    // serde also builds a struct from a JSON array of its fields in order (`[null, null]`);
    // every request body here is an object, so anything else is refused up front.
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b != b'{') {
        return Err(ApiError::invalid("body", "must be a JSON object"));
    }
    // Parsed to a tree first: strings with NUL are refused here, naming the field, because
    // PostgreSQL cannot store them (and nothing legitimate needs them).
    let tree: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid("body", strip_position(&e.to_string())))?;
    if let Some(field) = nul_in(&tree, String::new()) {
        return Err(ApiError::invalid(field, NUL_MESSAGE));
    }
    serde_path_to_error::deserialize(tree).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        ApiError::validation(vec![field_error(&path, &strip_position(&inner.to_string()))])
    })
}

const NUL_MESSAGE: &str = "must not contain NUL characters";

/// The path of the first string (or key) in `value` that contains a NUL character.
fn nul_in(value: &serde_json::Value, path: String) -> Option<String> {
    let join = |key: &str| if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") };
    match value {
        serde_json::Value::String(s) if s.contains('\0') => {
            Some(if path.is_empty() { "body".into() } else { path })
        }
        serde_json::Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
            nul_in(item, format!("{}[{i}]", if path.is_empty() { "body" } else { &path }))
        }),
        serde_json::Value::Object(map) => map.iter().find_map(|(k, v)| {
            if k.contains('\0') { Some(join(&k.replace('\0', ""))) } else { nul_in(v, join(k)) }
        }),
        _ => None,
    }
}

/// Query parameters, deserialised so that a bad value names its parameter.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(parse_query(req.query_string()).map(Query))
    }
}

pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    // NUL characters are dropped from parameters (PostgreSQL cannot take them, and a search
    // must never fail on hostile text); bodies and path segments refuse them instead.
    let cleaned;
    let query = if form_urlencoded::parse(query.as_bytes())
        .any(|(k, v)| k.contains('\0') || v.contains('\0'))
    {
        cleaned = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(
                form_urlencoded::parse(query.as_bytes())
                    .map(|(k, v)| (k.replace('\0', ""), v.replace('\0', ""))),
            )
            .finish();
        cleaned.as_str()
    } else {
        query
    };
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        ApiError::validation(vec![field_error(&path, &message)])
    })
}

/// Path segments (`{id}`), deserialised so that a malformed one names its segment.
pub struct Path<T>(pub T);

impl<T: DeserializeOwned> FromRequest for Path<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        if let Some((name, _)) = req.match_info().iter().find(|(_, v)| v.contains('\0')) {
            return std::future::ready(Err(ApiError::invalid(name, NUL_MESSAGE)));
        }
        let de = actix_router::PathDeserializer::new(req.match_info());
        let result = serde_path_to_error::deserialize(de).map(Path).map_err(|e| {
            let mut path = e.path().to_string();
            if path == "." {
                // A single unnamed segment: name it by the route's one placeholder.
                path = req
                    .match_info()
                    .iter()
                    .next()
                    .map_or_else(|| "path".to_owned(), |(name, _)| name.to_owned());
            }
            ApiError::validation(vec![FieldError::new(
                path,
                strip_position(&e.into_inner().to_string()),
            )])
        });
        std::future::ready(result)
    }
}

/// `?lang=` query parameter, documented on every operation that returns labels.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LangParam {
    /// Language of labels and messages; without it `Accept-Language` decides, then Vietnamese.
    #[param(inline)]
    pub lang: Option<Lang>,
}

/// The language a response should speak: `?lang=vi|en`, else `Accept-Language`, else `vi`.
#[derive(Debug, Clone, Copy)]
pub struct RequestLang(pub Lang);

impl FromRequest for RequestLang {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(request_lang(req).map(RequestLang))
    }
}

pub fn request_lang(req: &HttpRequest) -> Result<Lang, ApiError> {
    let from_query = form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "lang")
        .map(|(_, v)| v.into_owned());
    if let Some(code) = from_query {
        return Lang::parse(&code).ok_or_else(|| ApiError::invalid("lang", "expected vi or en"));
    }
    Ok(req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(Lang::from_accept_language)
        .unwrap_or_default())
}

/// Names the field that serde complained about, with a short message for unknown and
/// missing fields.
fn field_error(path: &str, message: &str) -> FieldError {
    let base = if path == "." { "" } else { path };
    for prefix in ["unknown field `", "missing field `"] {
        if let Some(rest) = message.strip_prefix(prefix) {
            if let Some(name) = rest.split('`').next() {
                // serde_path_to_error already ends the path with an unknown key, but stops
                // at the container for a missing one.
                let field = if base.is_empty() {
                    name.to_owned()
                } else if base.rsplit('.').next() == Some(name) {
                    base.to_owned()
                } else {
                    format!("{base}.{name}")
                };
                let message = if prefix.starts_with("unknown") {
                    "unknown field".to_owned()
                } else {
                    "is required".to_owned()
                };
                return FieldError::new(field, message);
            }
        }
    }
    FieldError::new(if base.is_empty() { "body" } else { base }, message)
}

/// serde_json appends "at line 1 column 7"; the field path already says where.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        title: String,
        price: Price,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Price {
        min: i64,
    }

    fn first_error(result: Result<Body, ApiError>) -> FieldError {
        result.unwrap_err().errors.into_iter().next().unwrap()
    }

    #[test]
    fn json_errors_name_the_field() {
        let e = first_error(parse_json(br#"{"title": "x", "price": {"min": "cheap"}}"#));
        assert_eq!(e.field, "price.min");
        assert!(e.message.starts_with("invalid type: string"), "{}", e.message);
        assert!(!e.message.contains("line"), "{}", e.message);

        let e = first_error(parse_json(
            br#"{"title": "x", "price": {"min": 1}, "status": "published"}"#,
        ));
        assert_eq!(e, FieldError::new("status", "unknown field"));

        let e = first_error(parse_json(br#"{"title": "x", "price": {}}"#));
        assert_eq!(e, FieldError::new("price.min", "is required"));

        let e = first_error(parse_json(br#"{"title": "x", "#));
        assert_eq!(e.field, "body");

        let e = first_error(parse_json(br#"{"title": "x", "price": {"min": 1}} []"#));
        assert_eq!(e.field, "body");
        let q: std::collections::HashMap<String, String> = parse_query("q=a%00b&x=1").unwrap();
        assert_eq!(q["q"], "ab", "NUL dropped from query parameters");

        let e = first_error(parse_json(br#" ["x", {"min": 1}]"#));
        assert_eq!(e, FieldError::new("body", "must be a JSON object"));

        let e = first_error(parse_json(br#"{"title": "a\u0000b", "price": {"min": 1}}"#));
        assert_eq!(e, FieldError::new("title", "must not contain NUL characters"));
        let e = first_error(parse_json(
            br#"{"title": "x", "price": {"min": 1}, "tags": ["ok", "\u0000"]}"#,
        ));
        assert_eq!(e, FieldError::new("tags[1]", "must not contain NUL characters"));
        // An escaped backslash followed by "u0000" is ordinary text.
        let ok: Result<Body, _> = parse_json(br#"{"title": "\\u0000", "price": {"min": 1}}"#);
        assert_eq!(ok.unwrap().title, "\\u0000");
    }
}
