//! The machine-readable vocabulary of errors, in one place: every problem `code` the service
//! emits (the `ProblemCode` enum of the OpenAPI document is generated from [`PROBLEMS`]) and
//! the stable `code` of each rejected field ([`FieldCode`]), derived with its parameters
//! from the English message templates the validators use.

use std::borrow::Cow;

use serde::Serialize;
use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

/// One problem code: the HTTP status it comes with and an example `detail`, as sent.
pub struct ProblemCode {
    pub code: &'static str,
    pub status: u16,
    pub detail: &'static str,
}

const fn p(code: &'static str, status: u16, detail: &'static str) -> ProblemCode {
    ProblemCode { code, status, detail }
}

/// Every problem code the service emits. A test reads the source for each code passed to
/// `ApiError` and fails when one is missing here (or listed here but never emitted); in
/// debug builds `ApiError::new` (in `error.rs`) also refuses an unlisted code.
pub const PROBLEMS: &[ProblemCode] = &[
    p("validation_failed", 400, "The request has invalid fields."),
    p("bad_request", 400, "Bad Request"),
    p("unreadable_body", 400, "The request body could not be read."),
    p("unauthorized", 401, "Sign in: the access token is missing, invalid or expired."),
    p("forbidden", 403, "You may not do this."),
    p("account_disabled", 403, "This account is disabled."),
    p(
        "email_not_verified",
        403,
        "Confirm your email address first: follow the link in the verification mail.",
    ),
    p("wrong_password", 403, "The current password is wrong."),
    p("api_key_revoked", 409, "This API key is revoked."),
    p("insufficient_scope", 403, "This API key lacks the scope `listings:write`."),
    p("api_key_not_allowed", 403, "API keys cannot do this; sign in as a person."),
    p("not_found", 404, "The resource does not exist."),
    p("method_not_allowed", 405, "This resource allows GET, PATCH."),
    p("conflict", 409, "The resource already exists."),
    p("email_taken", 409, "An account with this email already exists."),
    p("admin_role_fixed", 409, "An administrator's role cannot be changed here."),
    p("cannot_disable_self", 409, "You cannot disable your own account."),
    p("already_decided", 409, "This proposal is already accepted."),
    p(
        "appraiser_not_independent",
        409,
        "The appraiser must be independent: not the requester's organisation nor the listing \
         owner's, and sharing no member with either.",
    ),
    p("deal_changed", 409, "The deal moved to another stage meanwhile; read it again."),
    p("deal_exists", 409, "This enquiry already has a deal that is not cancelled."),
    p("deal_locked", 409, "A deal that is signed cannot have its terms changed."),
    p("inquiry_closed", 409, "This enquiry is closed."),
    p("invalid_token", 400, "The link is invalid, expired or already used."),
    p("invalid_transition", 409, "A technology that is draft cannot be published."),
    p(
        "invitation_accepted",
        409,
        "This invitation was already accepted; remove the member instead.",
    ),
    p(
        "last_owner",
        409,
        "An organisation needs at least one owner: make someone else owner first.",
    ),
    p("not_contracting", 409, "Signing can be confirmed while the deal is in contracting only."),
    p("not_open", 409, "Only an open deal can be accepted."),
    p("not_published", 409, "Only published demands take proposals."),
    p("outbox_not_failed", 409, "Only failed rows can be retried; this one is sent."),
    p("own_listing", 400, "An organisation cannot send an enquiry about its own listing."),
    p("proposal_not_accepted", 409, "Only an accepted proposal opens a deal; this one is pending."),
    p(
        "proposal_without_technology",
        409,
        "A deal is over a technology, and this proposal names none; open the deal from the \
         technology (a match) instead.",
    ),
    p(
        "transition_conditions_unmet",
        409,
        "The deal cannot move to signed yet: the checklist item contract_drafted is not done.",
    ),
    p(
        "valuation_completed",
        409,
        "A completed valuation cannot change; request a new valuation instead.",
    ),
    p("webhook_inactive", 409, "This webhook is not active: set `active` to true first."),
    p(
        "webhook_limit_reached",
        409,
        "An organisation may register at most 10 webhooks; delete one first.",
    ),
    p(
        "precondition_failed",
        412,
        "The resource changed since you read it; fetch it again and retry.",
    ),
    p("payload_too_large", 413, "The request body exceeds the limit of 1048576 bytes."),
    p("unsupported_media_type", 415, "The request body must be application/json."),
    p(
        "idempotency_key_reused",
        422,
        "This Idempotency-Key was used with a different request body.",
    ),
    p(
        "precondition_required",
        428,
        "Send `If-Match` with the ETag you last read, so concurrent edits are not lost.",
    ),
    p("too_many_requests", 429, "Too many requests; try again later."),
    p("header_too_large", 431, "The request headers exceed the limit of 16384 bytes."),
    p("internal_error", 500, "An unexpected error occurred; it has been logged."),
    p("service_unavailable", 503, "The database is unavailable; try again shortly."),
    p("timeout", 503, "The request took too long and was abandoned; try again."),
];

pub fn problem(code: &str) -> Option<&'static ProblemCode> {
    PROBLEMS.iter().find(|p| p.code == code)
}

/// The code a status carries when a response names none of its own.
pub fn default_for_status(status: u16) -> Option<&'static ProblemCode> {
    let code = match status {
        400 => "validation_failed",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        409 => "conflict",
        500 => "internal_error",
        503 => "service_unavailable",
        _ => return PROBLEMS.iter().find(|p| p.status == status),
    };
    problem(code)
}

/// The `code` schema of `Problem`: an enum of [`PROBLEMS`], described with each status.
pub struct ProblemCodeSchema;

impl PartialSchema for ProblemCodeSchema {
    fn schema() -> RefOr<Schema> {
        let mut description = String::from(
            "Stable and meant for programs (`title` and `detail` are for people). Each code with \
             the status it comes with:\n\n| code | status |\n|---|---|\n",
        );
        for p in PROBLEMS {
            description.push_str(&format!("| `{}` | {} |\n", p.code, p.status));
        }
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::String))
            .enum_values(Some(PROBLEMS.iter().map(|p| p.code)))
            .description(Some(description))
            .into()
    }
}

impl ToSchema for ProblemCodeSchema {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("ProblemCode")
    }
}

/// The stable code of one rejected field, for front-ends to translate; `message` is the
/// English text and `params` the values a translation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldCode {
    /// Missing or blank.
    Required,
    /// Fewer characters than `params.min`.
    TooShort,
    /// More characters than `params.max`.
    TooLong,
    /// More items than `params.max`.
    TooMany,
    /// A number outside `params.min`..`params.max` (either may be absent).
    OutOfRange,
    /// Not one of the known values (`params.allowed` when they are few, else `params.what`
    /// names the reference list, e.g. `province code`).
    UnknownValue,
    /// A field the request type does not have (unknown fields are rejected).
    UnknownField,
    /// The JSON type or the text does not parse as what the field holds.
    WrongType,
    /// Not in the expected format (an email address, an https URL, a JSON object, no NUL).
    InvalidFormat,
    /// A date in the past where a future one is needed.
    InPast,
    /// A date in the future where a past one is needed.
    InFuture,
    /// Not allowed in this combination (e.g. `exclusive` for an ownership assignment).
    NotAllowed,
    /// Another rule: `message` says which.
    Invalid,
}

impl FieldCode {
    pub const ALL: [Self; 13] = [
        Self::Required,
        Self::TooShort,
        Self::TooLong,
        Self::TooMany,
        Self::OutOfRange,
        Self::UnknownValue,
        Self::UnknownField,
        Self::WrongType,
        Self::InvalidFormat,
        Self::InPast,
        Self::InFuture,
        Self::NotAllowed,
        Self::Invalid,
    ];
}

/// What a translation needs beside the code.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldParams {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<i64>,
    /// The accepted values, when the set is small.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed: Option<Vec<String>>,
    /// The reference list the value must come from (`sector code`, `ISO 4217 code`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "province code")]
    pub what: Option<String>,
}

impl FieldParams {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

fn number_after(text: &str, prefix: &str) -> Option<i64> {
    let rest = text.strip_prefix(prefix)?;
    rest.split(|c: char| !c.is_ascii_digit() && c != '-').next()?.parse().ok()
}

/// The backticked words of a serde message after `expected` (`` `vi` or `en` ``).
fn backticked(text: &str) -> Vec<String> {
    text.split('`').skip(1).step_by(2).map(str::to_owned).collect()
}

/// The code and parameters of a validation message (the templates of
/// the API's `Validator` (`api/validate.rs`), the domain rules and serde's).
pub fn classify(message: &str) -> (FieldCode, FieldParams) {
    use FieldCode as C;
    let none = FieldParams::default();
    let m = message;
    if m == "must not be empty" || m.starts_with("is required") || m.starts_with("missing field") {
        return (C::Required, none);
    }
    if m.starts_with("needs ") {
        return (C::Required, none);
    }
    if m.starts_with("must be an https:// URL")
        || m.starts_with("must be an http(s) URL")
        || m.starts_with("must be an email address")
        || m == "must be a JSON object"
        || m == "must not contain NUL characters"
    {
        return (C::InvalidFormat, none);
    }
    if m.ends_with(" characters") {
        if let Some(max) = number_after(m, "must be at most ") {
            return (C::TooLong, FieldParams { max: Some(max), ..none });
        }
        if let Some(min) = number_after(m, "must be at least ") {
            return (C::TooShort, FieldParams { min: Some(min), ..none });
        }
    }
    if let Some(max) = number_after(m, "must have at most ") {
        return (C::TooMany, FieldParams { max: Some(max), ..none });
    }
    if let Some(rest) = m.strip_prefix("must be between ") {
        let mut bounds = rest.split(" and ").map(|n| n.trim().parse::<i64>().ok());
        if let (Some(min), Some(max)) = (bounds.next().flatten(), bounds.next().flatten()) {
            return (C::OutOfRange, FieldParams { min: Some(min), max: Some(max), ..none });
        }
    }
    if m == "must not be negative" {
        return (C::OutOfRange, FieldParams { min: Some(0), ..none });
    }
    if let Some(min) = number_after(m, "must be at least ") {
        return (C::OutOfRange, FieldParams { min: Some(min), ..none });
    }
    if let Some(max) = number_after(m, "must be at most ") {
        return (C::OutOfRange, FieldParams { max: Some(max), ..none });
    }
    if m == "must not be in the past" {
        return (C::InPast, none);
    }
    if m == "must not be in the future" {
        return (C::InFuture, none);
    }
    if m == "unknown field" || m.starts_with("unknown field `") {
        return (C::UnknownField, none);
    }
    if let Some(rest) = m.strip_prefix("unknown variant ") {
        let allowed = rest.split_once("expected").map(|(_, e)| backticked(e));
        return (C::UnknownValue, FieldParams { allowed, ..none });
    }
    if let Some(what) = m.strip_prefix("is not a known ").or_else(|| m.strip_prefix("unknown ")) {
        return (C::UnknownValue, FieldParams { what: Some(what.to_owned()), ..none });
    }
    if let Some(rest) = m.strip_prefix("expected ") {
        let allowed: Vec<String> = rest.split(" or ").map(|s| s.trim().to_owned()).collect();
        return (C::UnknownValue, FieldParams { allowed: Some(allowed), ..none });
    }
    if m.starts_with("invalid type")
        || m.starts_with("invalid digit")
        || m.starts_with("invalid value")
        || m.starts_with("invalid length")
        || m.starts_with("invalid character")
        || m.starts_with("cannot parse")
        || m.starts_with("number too large")
        || m.starts_with("input contains invalid characters")
        || m.starts_with("premature end of input")
        || m.starts_with("trailing input")
        || m.starts_with("expected value")
        || m.starts_with("EOF while parsing")
        || m.contains("UUID")
    {
        return (C::WrongType, none);
    }
    if m.starts_with("only ") || m.starts_with("is only for") || m.contains(" only ") {
        return (C::NotAllowed, none);
    }
    (C::Invalid, none)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_map_to_codes_and_params() {
        let max = |n| FieldParams { max: Some(n), ..Default::default() };
        assert_eq!(classify("must not be empty"), (FieldCode::Required, FieldParams::default()));
        assert_eq!(classify("is required").0, FieldCode::Required);
        assert_eq!(classify("must be at most 200 characters"), (FieldCode::TooLong, max(200)));
        assert_eq!(classify("must have at most 20 items"), (FieldCode::TooMany, max(20)));
        assert_eq!(
            classify("must be between 1 and 9"),
            (
                FieldCode::OutOfRange,
                FieldParams { min: Some(1), max: Some(9), ..Default::default() }
            )
        );
        assert_eq!(classify("must not be negative").1.min, Some(0));
        let (code, params) = classify("is not a known province code");
        assert_eq!(
            (code, params.what.as_deref()),
            (FieldCode::UnknownValue, Some("province code"))
        );
        let (code, params) = classify("unknown variant `fr`, expected `vi` or `en`");
        assert_eq!(code, FieldCode::UnknownValue);
        assert_eq!(params.allowed, Some(vec!["vi".to_owned(), "en".to_owned()]));
        assert_eq!(classify("unknown field").0, FieldCode::UnknownField);
        assert_eq!(
            classify("invalid type: integer `5`, expected a string").0,
            FieldCode::WrongType
        );
        assert_eq!(classify("invalid digit found in string").0, FieldCode::WrongType);
        assert_eq!(classify("must be an email address").0, FieldCode::InvalidFormat);
        assert_eq!(classify("must not be in the past").0, FieldCode::InPast);
        assert_eq!(classify("only intermediaries offer services").0, FieldCode::NotAllowed);
        assert_eq!(classify("expected vi or en").0, FieldCode::UnknownValue);
    }
}
