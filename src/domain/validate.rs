//! Field validation shared by every layer that checks input: the collector of problems and
//! the pure checks it offers (text lengths, e-mail addresses, links, lists of codes).

use crate::error::FieldError;

/// Collects every invalid field, named by its JSON path (`price.min`, `ip_records[1].type`),
/// so one answer names them all. Requests (`api/`) and content rules (`domain::listing`,
/// `domain::demand`) use this one type; `api::validate` turns it into a 400.
#[derive(Default)]
pub struct Validator {
    errors: Vec<FieldError>,
}

impl Validator {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn error(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    pub fn check(&mut self, ok: bool, field: &str, message: &str) {
        if !ok {
            self.error(field, message);
        }
    }

    /// Required text: non-blank after trimming, at most `max` characters.
    pub fn text(&mut self, field: &str, value: &str, max: usize) {
        let length = value.trim().chars().count();
        if length == 0 {
            self.error(field, "must not be empty");
        } else if length > max {
            self.error(field, format!("must be at most {max} characters"));
        }
    }

    pub fn optional_text(&mut self, field: &str, value: Option<&str>, max: usize) {
        if let Some(value) = value {
            if value.chars().count() > max {
                self.error(field, format!("must be at most {max} characters"));
            }
        }
    }

    pub fn email(&mut self, field: &str, value: &str) {
        if !is_plausible_email(value) {
            self.error(field, "must be an email address");
        }
    }

    pub fn url(&mut self, field: &str, value: &str) {
        let ok = value.len() <= 2048
            && (value.starts_with("https://") || value.starts_with("http://"))
            && !value.chars().any(char::is_whitespace)
            && value.split("://").nth(1).is_some_and(|rest| !rest.is_empty());
        if !ok {
            self.error(field, "must be an http(s) URL");
        }
    }

    /// An `https://` link of at most `max` characters to a named host, without credentials
    /// (`user:password@`), whitespace or control characters. Nothing is fetched.
    pub fn https_url(&mut self, field: &str, value: &str, max: usize) {
        let authority = value
            .strip_prefix("https://")
            .map(|rest| rest.split(['/', '?', '#']).next().unwrap_or_default());
        let ok = value.chars().count() <= max
            && !value.chars().any(|c| c.is_whitespace() || c.is_control())
            && authority.is_some_and(|a| {
                !a.is_empty()
                    && a.chars().all(|c| c.is_alphanumeric() || "-.:[]".contains(c))
                    && a.chars().any(char::is_alphanumeric)
            });
        if !ok {
            self.error(
                field,
                format!("must be an https:// URL to a host, at most {max} characters"),
            );
        }
    }

    /// A list of at most `max` items, each accepted by `valid`.
    pub fn list<T>(
        &mut self,
        field: &str,
        items: &[T],
        max: usize,
        valid: impl Fn(&T) -> bool,
        what: &str,
    ) {
        if items.len() > max {
            self.error(field, format!("must have at most {max} items"));
        }
        for (i, item) in items.iter().enumerate() {
            if !valid(item) {
                self.error(format!("{field}[{i}]"), format!("is not a known {what}"));
            }
        }
    }

    /// Every problem found, in the order found (empty: valid).
    pub fn into_errors(self) -> Vec<FieldError> {
        self.errors
    }
}

/// Deliberately loose (the verification mail is the real test): one `@`, a dotted domain,
/// no spaces, at most 254 characters.
pub fn is_plausible_email(value: &str) -> bool {
    let value = value.trim();
    let Some((local, domain)) = value.split_once('@') else { return false };
    value.len() <= 254
        && !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !value.chars().any(|c| c.is_whitespace() || c.is_control())
}

pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert!(is_plausible_email("lan.nguyen@vast.vn"));
        assert!(!is_plausible_email("lan.nguyen"));
        assert!(!is_plausible_email("a@b"));
        assert!(!is_plausible_email("a b@c.vn"));
        assert!(!is_plausible_email("a@@c.vn"));
        assert_eq!(normalize_email("  Lan@VAST.vn "), "lan@vast.vn");
    }

    #[test]
    fn collects_every_error() {
        let mut v = Validator::new();
        v.text("name", "  ", 10);
        v.text("title", "ok", 10);
        v.optional_text("note", Some("toolong"), 3);
        v.list("codes", &["1.1", "9.9"], 5, |c| *c == "1.1", "sector");
        let errors = v.into_errors();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "note", "codes[1]"]);
    }
}
