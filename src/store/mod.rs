//! Queries and transactions, one module per aggregate, as functions over `&mut DbConn`.

pub mod outbox;
