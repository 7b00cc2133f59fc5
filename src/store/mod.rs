//! Queries and transactions, one module per aggregate, as functions over `&mut DbConn`.

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
