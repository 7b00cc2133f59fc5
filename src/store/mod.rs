//! Queries and transactions, one module per aggregate, as functions over `&mut DbConn`.

/// `diesel::update` of `$row` (read in this transaction) that applies only while its `id` and
/// `version` (and, with `status`, its status) are still what was read; `changed(rows)` then
/// tells a lost race. `$table` is the schema module.
macro_rules! guarded {
    ($table:ident, $row:expr) => {
        diesel::update($table::table.find($row.id).filter($table::version.eq($row.version)))
    };
    ($table:ident, $row:expr, status) => {
        diesel::update(
            $table::table
                .find($row.id)
                .filter($table::version.eq($row.version))
                .filter($table::status.eq($row.status.as_str())),
        )
    };
}

pub mod api_keys;
pub mod audit;
pub mod deals;
pub mod demands;
pub mod error;
pub mod expiry;
pub mod idempotency;
pub mod inquiries;
pub mod json;
pub mod labels;
pub mod matches;
pub mod moderation;
pub mod organizations;
pub mod outbox;
pub mod proposals;
pub mod search_feed;
pub mod sessions;
pub mod stats;
pub mod technologies;
pub mod users;
pub mod valuations;
pub mod webhooks;

pub use error::{StoreError, changed};
