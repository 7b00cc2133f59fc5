//! The moderation lifecycle that listings and demands share: draft → review → published →
//! archived, as a state machine. What the exchange does at each step (mails, matches, the
//! guarded update) is in `api/moderation.rs`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where a listing or demand is in moderation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Draft,
    PendingReview,
    Published,
    Rejected,
    Archived,
}

codes!(Status {
    Draft => "draft",
    PendingReview => "pending_review",
    Published => "published",
    Rejected => "rejected",
    Archived => "archived",
});
/// Something that can happen to a listing or demand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// The owner changes its content.
    Edit,
    Submit,
    Approve,
    Reject,
    Archive,
    Renew,
    /// The expiry job retires a published listing past `expires_at`.
    Expire,
}

impl Transition {
    pub fn verb(self) -> &'static str {
        match self {
            Transition::Edit => "edited",
            Transition::Submit => "submitted for review",
            Transition::Approve => "approved",
            Transition::Reject => "rejected",
            Transition::Archive => "archived",
            Transition::Renew => "renewed",
            Transition::Expire => "expired",
        }
    }
}

impl Status {
    /// The moderation state machine: the state after `transition`, or `None` when it is not
    /// allowed from here.
    ///
    /// Editing a published listing sends it back to review: moderation would mean little if
    /// an approved listing could be rewritten unseen. Editing a rejected one makes it a
    /// draft again; editing one under review keeps it there (the reviewer's `If-Match`
    /// then fails, so nobody approves a version they did not read).
    pub fn next(self, transition: Transition) -> Option<Status> {
        use Status::*;
        use Transition::*;
        match (self, transition) {
            (Draft | Rejected, Edit) => Some(Draft),
            (PendingReview | Published, Edit) => Some(PendingReview),
            (Draft, Submit) => Some(PendingReview),
            (PendingReview, Approve) => Some(Published),
            (PendingReview, Reject) => Some(Rejected),
            (Draft | PendingReview | Published | Rejected, Archive) => Some(Archived),
            (Published, Renew) => Some(Published),
            (Published, Expire) => Some(Archived),
            _ => None,
        }
    }

    /// Only drafts never submitted are erased; anything that was ever submitted (even a
    /// rejected listing edited back to a draft) is archived instead, so the moderation
    /// history and the activity report keep their subject.
    pub fn deletable(self, ever_submitted: bool) -> bool {
        self == Status::Draft && !ever_submitted
    }

    /// Only published listings are public.
    pub fn is_public(self) -> bool {
        self == Status::Published
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_machine() {
        use Status::*;
        use Transition::*;
        let transitions = [Edit, Submit, Approve, Reject, Archive, Renew, Expire];
        let table: Vec<(Status, Transition, Option<Status>)> = Status::ALL
            .iter()
            .flat_map(|s| transitions.iter().map(move |t| (*s, *t, s.next(*t))))
            .filter(|(_, _, to)| to.is_some())
            .collect();
        assert_eq!(
            table,
            [
                (Draft, Edit, Some(Draft)),
                (Draft, Submit, Some(PendingReview)),
                (Draft, Archive, Some(Archived)),
                (PendingReview, Edit, Some(PendingReview)),
                (PendingReview, Approve, Some(Published)),
                (PendingReview, Reject, Some(Rejected)),
                (PendingReview, Archive, Some(Archived)),
                (Published, Edit, Some(PendingReview)),
                (Published, Archive, Some(Archived)),
                (Published, Renew, Some(Published)),
                (Published, Expire, Some(Archived)),
                (Rejected, Edit, Some(Draft)),
                (Rejected, Archive, Some(Archived)),
            ]
        );
        // Laws: archived is final; only review publishes; only drafts are deleted.
        assert!(transitions.iter().all(|t| Archived.next(*t).is_none()));
        assert!(
            table
                .iter()
                .filter(|(_, _, to)| *to == Some(Published))
                .all(|(from, t, _)| *t == Approve || (*from == Published && *t == Renew))
        );
        assert_eq!(Status::ALL.iter().filter(|s| s.deletable(false)).collect::<Vec<_>>(), [&Draft]);
        assert!(Status::ALL.iter().all(|s| !s.deletable(true)));
        assert_eq!(Status::ALL.iter().filter(|s| s.is_public()).collect::<Vec<_>>(), [&Published]);
    }
}
