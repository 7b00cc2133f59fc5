//! Enquiries between two organisations.

use crate::auth::Actor;
use crate::db::types::OrganizationId;
use crate::error::ApiError;

/// What can be done to an enquiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InquiryAction {
    /// Read the thread: both sides' members and exchange staff.
    View,
    /// Write in the thread: both sides' members.
    Reply,
    /// Close it: the listing owner's members.
    Close,
}

/// Enquiries are private to the enquiring organisation and the listing's owner (404 for
/// everybody else but staff, who may read).
pub fn inquiry(
    actor: &Actor,
    from: OrganizationId,
    to: OrganizationId,
    action: InquiryAction,
) -> Result<(), ApiError> {
    let sender = actor.org_role(from).is_some();
    let owner = actor.org_role(to).is_some();
    if !sender && !owner && !actor.is_staff() {
        return Err(ApiError::not_found("No such enquiry."));
    }
    let allowed = match action {
        InquiryAction::View => true,
        InquiryAction::Reply => sender || owner,
        InquiryAction::Close => owner,
    };
    if allowed {
        Ok(())
    } else if sender {
        Err(ApiError::forbidden("Only the listing's owner may close an enquiry."))
    } else {
        Err(ApiError::forbidden("Exchange staff may read enquiries but not act on them."))
    }
}
