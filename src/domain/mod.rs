//! Pure rules of the exchange: no I/O, unit-tested next to the code.

pub mod deals;
pub mod demand;
pub mod fold;
pub mod lang;
pub mod listing;
pub mod matching;
pub mod scopes;
pub mod search;
pub mod synonyms;
pub mod taxonomy;
pub mod valuation;
pub mod valuation_request;
pub mod webhooks;
