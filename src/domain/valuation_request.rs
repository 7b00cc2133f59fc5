//! The valuation request lifecycle as a pure state machine:
//! `submitted → assigned → in_progress → completed | declined`, and `cancelled` by the
//! requester from any state that is not final. A completed request never changes again: a
//! new valuation is a new request.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Generates a snake_case text enum with `ALL`, `as_str` and `parse`, for the TEXT + CHECK
/// columns.
macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident $(as $schema:ident)? { $($variant:ident = $text:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        $(#[schema(as = $schema)])?
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($variant,)*
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }

            pub fn parse(text: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == text)
            }
        }
    };
}

text_enum! {
    /// Where a valuation request stands. Named `ValuationStatus` in the OpenAPI document:
    /// a bare `Status` would collide with the listing status there.
    Status as ValuationStatus {
        Submitted = "submitted",
        Assigned = "assigned",
        InProgress = "in_progress",
        Completed = "completed",
        Declined = "declined",
        Cancelled = "cancelled",
    }
}

text_enum! {
    /// Why the value is needed.
    Purpose {
        Sale = "sale",
        Licence = "licence",
        CapitalContribution = "capital_contribution",
        StateResultAssignment = "state_result_assignment",
        AuctionReserve = "auction_reserve",
        Other = "other",
    }
}

text_enum! {
    /// The rights valued: ownership (assignment) or usage (a licence).
    RightsKind {
        Ownership = "ownership",
        Usage = "usage",
    }
}

text_enum! {
    /// Valuation approach (Circular 10/2019/TT-BTC), or several.
    Method {
        Cost = "cost",
        Market = "market",
        Income = "income",
        Mixed = "mixed",
    }
}

/// What can happen to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// A moderator names the appraiser.
    Assign,
    /// An appraiser takes an open request.
    Claim,
    Start,
    Complete,
    Decline,
    Cancel,
}

impl Action {
    pub fn verb(self) -> &'static str {
        match self {
            Action::Assign => "assigned",
            Action::Claim => "claimed",
            Action::Start => "started",
            Action::Complete => "completed",
            Action::Decline => "declined",
            Action::Cancel => "cancelled",
        }
    }
}

impl Status {
    /// No action applies any more.
    pub fn is_final(self) -> bool {
        matches!(self, Status::Completed | Status::Declined | Status::Cancelled)
    }

    /// The state `action` leads to from here, if allowed.
    pub fn next(self, action: Action) -> Option<Status> {
        use Action::*;
        use Status::*;
        match (self, action) {
            (Submitted, Assign | Claim) => Some(Assigned),
            (Assigned, Start) => Some(InProgress),
            (InProgress, Complete) => Some(Completed),
            (Assigned | InProgress, Decline) => Some(Declined),
            (Submitted | Assigned | InProgress, Cancel) => Some(Cancelled),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_and_final_states() {
        use Action::*;
        use Status::*;
        assert_eq!(Submitted.next(Assign), Some(Assigned));
        assert_eq!(Submitted.next(Claim), Some(Assigned));
        assert_eq!(Assigned.next(Start), Some(InProgress));
        assert_eq!(InProgress.next(Complete), Some(Completed));
        assert_eq!(Assigned.next(Decline), Some(Declined));
        assert_eq!(InProgress.next(Cancel), Some(Cancelled));
        assert_eq!(Submitted.next(Start), None);
        assert_eq!(Submitted.next(Complete), None);
        assert_eq!(Assigned.next(Assign), None, "re-assigning is not a transition");
        assert_eq!(Submitted.next(Decline), None);
        for status in Status::ALL.iter().copied().filter(|s| s.is_final()) {
            for action in [Assign, Claim, Start, Complete, Decline, Cancel] {
                assert_eq!(status.next(action), None, "{status:?} is final");
            }
        }
        for status in Status::ALL {
            assert_eq!(Status::parse(status.as_str()), Some(*status));
        }
    }
}
