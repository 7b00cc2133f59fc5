//! Pure rules of the exchange: no I/O, unit-tested next to the code.

/// `as_str`, `parse` and `ALL` for an enum of stable codes.
macro_rules! codes {
    ($ty:ty { $($variant:ident => $code:literal),* $(,)? }) => {
        impl $ty {
            pub const ALL: &'static [$ty] = &[$(<$ty>::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $(<$ty>::$variant => $code),* }
            }

            pub fn parse(code: &str) -> Option<Self> {
                match code { $($code => Some(<$ty>::$variant),)* _ => None }
            }
        }
    };
}

pub mod deals;
pub mod demand;
pub mod fold;
pub mod lang;
pub mod listing;
pub mod matching;
pub mod moderation;
pub mod scopes;
pub mod search;
pub mod synonyms;
pub mod taxonomy;
pub mod validate;
pub mod valuation;
pub mod valuation_request;
pub mod webhooks;
