//! One error type for the whole API, rendered as RFC 9457 `application/problem+json` with a
//! stable machine `code`. Internals (SQL, panics, pool state) are logged, never sent.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::DbError;
use crate::error_codes::{FieldCode, FieldParams};
use crate::store::StoreError;

/// What caused an error, kept to be logged (never sent). Boxed twice (a thin pointer) so
/// that an `ApiError` stays small: every `Result` in the API pays for its size.
pub type Source = Box<Box<dyn std::error::Error + Send + Sync>>;

pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// One rejected input, named by its JSON path (`price.min`, `sectors[2]`) or parameter name,
/// with a stable `code` (and its `params`) for programs and an English `message` for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(example = json!({"field": "title", "code": "too_long", "message": "must be at most 200 characters", "params": {"max": 200}}))]
pub struct FieldError {
    #[schema(example = "title")]
    pub field: String,
    pub code: FieldCode,
    #[schema(example = "must be at most 200 characters")]
    pub message: String,
    /// The values `code` refers to (`max` for `too_long`, …); absent when it needs none.
    #[serde(skip_serializing_if = "FieldParams::is_empty")]
    #[schema(nullable = false)]
    pub params: FieldParams,
}

impl FieldError {
    /// The code and parameters follow from the message template
    /// ([`crate::error_codes::classify`]).
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        let message = message.into();
        let (code, params) = crate::error_codes::classify(&message);
        Self { field: field.into(), code, message, params }
    }
}

/// Problem details (RFC 9457). `code` is stable and meant for programs; `title` and `detail`
/// are for people.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "urn:techx:problem:validation_failed",
    "title": "Bad Request",
    "status": 400,
    "detail": "The request has invalid fields.",
    "code": "validation_failed",
    "errors": [{"field": "title", "code": "required", "message": "must not be empty"}]
}))]
pub struct Problem {
    #[serde(rename = "type")]
    #[schema(example = "urn:techx:problem:not_found")]
    pub type_uri: String,
    #[schema(example = "Not Found")]
    pub title: String,
    #[schema(example = 404)]
    pub status: u16,
    pub detail: String,
    #[schema(value_type = crate::error_codes::ProblemCodeSchema)]
    pub code: String,
    /// Present for validation failures: every rejected field with its reason.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Present for an illegal state transition: the states reachable from the current one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed: Option<Vec<String>>,
    /// Present when an API key lacks the scope the operation needs (`insufficient_scope`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "listings:write")]
    pub required_scope: Option<String>,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: String,
    /// A boxed slice, not a `Vec`: every `Result` in the API pays for this struct's size.
    pub errors: Box<[FieldError]>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// See [`Problem::allowed`].
    pub allowed: Option<Vec<String>>,
    /// See [`Problem::required_scope`] (an enum: a string would push the error over the size
    /// every `Result` pays for).
    pub required_scope: Option<crate::domain::scopes::Scope>,
    /// The cause, logged with the request id when the answer is a 5xx.
    pub source: Option<Source>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        debug_assert!(
            crate::error_codes::problem(code).is_some(),
            "problem code {code} is not in error_codes::PROBLEMS"
        );
        Self {
            status,
            code,
            detail: detail.into(),
            errors: Box::default(),
            headers: Vec::new(),
            allowed: None,
            required_scope: None,
            source: None,
        }
    }

    /// Keeps `source` as the cause (logged when the answer is a 5xx, never sent).
    pub fn with_source(
        mut self,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        self.source = Some(Box::new(source.into()));
        self
    }

    pub fn with_header(mut self, name: HeaderName, value: impl AsRef<str>) -> Self {
        if let Ok(value) = HeaderValue::from_str(value.as_ref()) {
            self.headers.push((name, value));
        }
        self
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        let mut e = Self::new(
            StatusCode::BAD_REQUEST,
            "validation_failed",
            "The request has invalid fields.",
        );
        e.errors = errors.into_boxed_slice();
        e
    }

    /// A single invalid input (a path segment, a query parameter, a header).
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError::new(field, message)])
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
            .with_header(header::WWW_AUTHENTICATE, "Bearer")
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    pub fn method_not_allowed(allowed: &[&str]) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("This resource allows {}.", allowed.join(", ")),
        )
        .with_header(header::ALLOW, allowed.join(", "))
    }

    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, detail)
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("The request body exceeds the limit of {limit} bytes."),
        )
    }

    pub fn header_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "header_too_large",
            format!("The request headers exceed the limit of {limit} bytes."),
        )
    }

    pub fn unsupported_media_type(expected: &str) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("The request body must be {expected}."),
        )
    }

    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            "Too many requests; try again later.",
        )
        .with_header(header::RETRY_AFTER, retry_after_secs.to_string())
    }

    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "service_unavailable", detail)
            .with_header(header::RETRY_AFTER, "5")
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "An unexpected error occurred; it has been logged.",
        )
    }

    /// A 500 that keeps what caused it: `.map_err(ApiError::internal_from)`.
    pub fn internal_from(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::internal().with_source(source)
    }

    /// 412: the resource changed since the caller read it.
    pub fn precondition_failed() -> Self {
        Self::new(
            StatusCode::PRECONDITION_FAILED,
            "precondition_failed",
            "The resource changed since you read it; fetch it again and retry.",
        )
    }

    pub fn problem(&self) -> Problem {
        let mut problem = problem(self.status, self.code, &self.detail, self.errors.to_vec());
        problem.allowed.clone_from(&self.allowed);
        problem.required_scope = self.required_scope.map(|s| s.as_str().to_owned());
        problem
    }
}

pub fn problem(status: StatusCode, code: &str, detail: &str, errors: Vec<FieldError>) -> Problem {
    Problem {
        type_uri: format!("urn:techx:problem:{code}"),
        title: status.canonical_reason().unwrap_or("Error").to_owned(),
        status: status.as_u16(),
        detail: detail.to_owned(),
        code: code.to_owned(),
        errors,
        allowed: None,
        required_scope: None,
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.detail)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        // Rendered inside the request's span, so the line carries the request id.
        if self.status.is_server_error() {
            match &self.source {
                Some(source) => {
                    tracing::error!(status = self.status.as_u16(), code = self.code, error = %source, cause = ?source, "request failed");
                }
                None => tracing::debug!(
                    status = self.status.as_u16(),
                    code = self.code,
                    "request failed"
                ),
            }
        }
        let mut response = HttpResponse::build(self.status);
        response.content_type(PROBLEM_CONTENT_TYPE);
        for (name, value) in &self.headers {
            response.insert_header((name.clone(), value.clone()));
        }
        response.json(self.problem())
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(error: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind as Kind, Error};
        match &error {
            Error::NotFound => Self::not_found("The resource does not exist."),
            Error::DatabaseError(Kind::UniqueViolation, _) => {
                Self::conflict("conflict", "The resource already exists.")
            }
            Error::DatabaseError(
                Kind::ClosedConnection | Kind::UnableToSendCommand | Kind::SerializationFailure,
                _,
            ) => {
                tracing::warn!(%error, "database unavailable");
                Self::unavailable("The database is unavailable; try again shortly.")
            }
            // PostgreSQL's statement_timeout (SQLSTATE 57014): the database is stuck or
            // overloaded; the client may retry.
            Error::DatabaseError(Kind::Unknown, info)
                if info.message().contains("canceling statement due to statement timeout") =>
            {
                tracing::warn!(%error, "database statement timed out");
                Self::unavailable("The database did not answer in time; try again shortly.")
            }
            Error::DatabaseError(Kind::Unknown, info)
                if info.message().contains("database is locked") =>
            {
                tracing::warn!(%error, "database busy");
                Self::unavailable("The database is busy; try again shortly.")
            }
            // Logged when the answer is rendered (with the request id).
            _ => Self::internal_from(error),
        }
    }
}

impl From<diesel::r2d2::PoolError> for ApiError {
    fn from(error: diesel::r2d2::PoolError) -> Self {
        Self::from(DbError::Pool(error))
    }
}

impl From<DbError> for ApiError {
    fn from(error: DbError) -> Self {
        match error {
            DbError::Pool(error) => {
                tracing::warn!(%error, "no database connection");
                Self::unavailable("The database is unavailable; try again shortly.")
            }
            DbError::Connect(_) => {
                tracing::warn!(%error, "no database connection");
                Self::unavailable("The database is unavailable; try again shortly.")
            }
            DbError::Busy(_) => {
                tracing::warn!(%error, "no database connection");
                Self::unavailable("The database is busy; try again shortly.")
            }
            DbError::Timeout(_) => {
                Self::unavailable("The database did not answer in time; try again shortly.")
            }
            DbError::Query(error) => Self::from(error),
            DbError::Panicked(_) | DbError::Hook(_) => Self::internal_from(error),
        }
    }
}

/// A unique constraint's refusal, whether it came from the store or a handler's own call.
impl crate::store::error::UniqueViolation for ApiError {
    fn is_unique_violation(&self) -> bool {
        self.code == "conflict"
    }
}

/// The data layer's answers in HTTP terms: the one place a store error gets a status.
impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound(detail) => Self::not_found(detail),
            StoreError::Stale => Self::precondition_failed(),
            StoreError::Conflict { code, detail } => Self::conflict(code, detail),
            StoreError::Refused { code, detail } => Self::bad_request(code, detail),
            StoreError::Forbidden(detail) => Self::forbidden(detail),
            StoreError::KeyReused => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "This Idempotency-Key was used with a different request body.",
            ),
            StoreError::Invalid { field, message } => Self::invalid(field, message),
            StoreError::Corrupt { .. } => Self::internal_from(error),
            StoreError::Database(error) => Self::from(error),
            StoreError::Db(error) => Self::from(error),
        }
    }
}
