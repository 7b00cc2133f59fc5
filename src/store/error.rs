//! What the data layer reports: data facts (absent, stale, in conflict, corrupt) and the
//! database's own failures, each with its cause kept. It knows nothing of HTTP;
//! the API (`error.rs`) turns it into problem+json.

use std::error::Error as StdError;

use crate::db::DbError;

pub type Boxed = Box<dyn StdError + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No such row, or one the caller may not know exists.
    #[error("not found: {0}")]
    NotFound(String),
    /// The version the caller read is no longer the current one (optimistic concurrency).
    #[error("the row changed since it was read")]
    Stale,
    /// The change breaks a rule of the data; `code` is the stable problem code.
    #[error("conflict {code}: {detail}")]
    Conflict { code: &'static str, detail: String },
    /// A request the data refuses (a token unknown or used, an invitation no longer open);
    /// `code` is the stable problem code.
    #[error("refused {code}: {detail}")]
    Refused { code: &'static str, detail: String },
    /// The data says the caller may not do this (an invitation for another address).
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// An Idempotency-Key reused with another request body.
    #[error("idempotency key reused with a different request")]
    KeyReused,
    /// One input field the store checks itself (an email address, a page number).
    #[error("invalid {field}: {message}")]
    Invalid { field: &'static str, message: String },
    /// A stored value this code cannot read (or a value it cannot store).
    #[error("corrupt {table}.{column}: {source}")]
    Corrupt { table: &'static str, column: &'static str, source: Boxed },
    /// A statement failed.
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
    /// No connection, a call past its deadline, a panic.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl StoreError {
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::NotFound(detail.into())
    }

    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::Conflict { code, detail: detail.into() }
    }

    pub fn refused(code: &'static str, detail: impl Into<String>) -> Self {
        Self::Refused { code, detail: detail.into() }
    }

    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid { field, message: message.into() }
    }

    /// A stored value of `table.column` that does not parse.
    pub fn corrupt(table: &'static str, column: &'static str, source: impl Into<Boxed>) -> Self {
        Self::Corrupt { table, column, source: source.into() }
    }

    /// A unique constraint refused the row (to turn into a specific conflict).
    pub fn is_unique_violation(&self) -> bool {
        matches!(
            self,
            Self::Database(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _
            ))
        )
    }
}

/// An error that can tell a unique constraint refused a row: an idempotent create that
/// lost a race to the same key answers with the winner's row instead.
pub trait UniqueViolation {
    fn is_unique_violation(&self) -> bool;
}

impl UniqueViolation for StoreError {
    fn is_unique_violation(&self) -> bool {
        StoreError::is_unique_violation(self)
    }
}

/// `Ok(())` when a guarded update (`WHERE version = expected`) changed its one row.
pub fn changed(rows: usize) -> Result<(), StoreError> {
    if rows == 1 { Ok(()) } else { Err(StoreError::Stale) }
}
