//! Use cases that span several aggregates. A handler parses the request, authorises what it
//! can without the database and calls one of these in its transaction; the workflow checks
//! what needs the database, changes every aggregate involved and queues the mails and webhook
//! events that follow. The store below it only reads and writes rows.

pub mod deals;
pub mod moderation;
