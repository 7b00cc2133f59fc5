//! JSON held in TEXT columns (sets, terms, payloads), converted in one place: a stored value
//! that does not parse is a corrupt row naming its table and column, never a silent default.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::StoreError;

/// The value of `table.column`, parsed from its stored text.
pub fn decode<T: DeserializeOwned>(
    text: &str,
    table: &'static str,
    column: &'static str,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| {
        tracing::error!(table, column, error = %e, "stored JSON does not parse");
        StoreError::corrupt(table, column, e)
    })
}

/// The text to store in `table.column`.
pub fn encode<T: Serialize + ?Sized>(
    value: &T,
    table: &'static str,
    column: &'static str,
) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::corrupt(table, column, e))
}

/// [`encode`] as a JSON value (for columns written through `json!` payloads).
pub fn to_value<T: Serialize + ?Sized>(
    value: &T,
    table: &'static str,
    column: &'static str,
) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(value).map_err(|e| StoreError::corrupt(table, column, e))
}

/// A stored set of strings (sectors, keywords, scopes, event types). A set that does not
/// parse reads as empty and is logged: these sets filter and label, and one bad row must not
/// take a whole list down with it.
pub fn list(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_else(|e| {
        tracing::error!(error = %e, "stored JSON set does not parse; read as empty");
        Vec::new()
    })
}

/// The stored text of a set of strings (which always serialises).
pub fn list_text(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".to_owned())
}
