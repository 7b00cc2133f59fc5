//! Pure rules of the exchange: no I/O, unit-tested next to the code.

pub mod fold;
pub mod lang;
pub mod listing;
pub mod search;
pub mod taxonomy;
