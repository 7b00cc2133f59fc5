//! The moderation lifecycle's steps that reach beyond the resource: what a step does in the
//! store, what publication sets off (standing matches notified), and the rule that deleting
//! erases only a never-submitted draft. Generic over [`Moderated`], implemented by listings
//! and demands in their api modules, which also say how each is shown; the steps themselves
//! are `store::moderation`'s.

use crate::auth::Actor;
use crate::auth::policy::ModeratedAction;
use crate::db::DbConn;
use crate::db::types::UserId;
use crate::domain::moderation::{Status, Transition};
use crate::error::ApiError;
use crate::search::Search;
use crate::store::moderation::{self as store, Moderated as _};

/// A step of the lifecycle as the store carries it out.
pub struct Step {
    pub transition: Transition,
    /// The state the step leads to (already checked against the state machine).
    pub to: Status,
    /// Who takes it.
    pub by: UserId,
    /// A rejection's reason.
    pub reason: Option<String>,
    /// Days a publication or renewal lasts (`TECHX_LISTING_VALIDITY_DAYS`).
    pub validity_days: u32,
}

/// A resource that goes through moderation: its rows are [`store::Moderated`] (how they
/// load and move), and this says who may act on them and what their publication sets off.
pub trait Moderated: 'static {
    /// The noun in messages ("listing", "demand").
    const NOUN: &'static str;
    type Row: store::Moderated + Send + 'static;

    /// 404 when the caller may not see it, 403 when they see it but may not take `action`.
    fn authorize(actor: &Actor, row: &Self::Row, action: ModeratedAction) -> Result<(), ApiError>;
    /// What a publication sets off beyond the resource itself (standing matches), in its
    /// transaction.
    /// `threshold` is `TECHX_MATCH_NOTIFY_THRESHOLD`.
    fn published(
        conn: &mut DbConn,
        search: &Search,
        threshold: u8,
        row: &Self::Row,
    ) -> Result<(), ApiError>;
}

/// Carries out `step` in the store (mails and events of the step included).
fn take<R: Moderated>(conn: &mut DbConn, row: &R::Row, step: &Step) -> Result<R::Row, ApiError> {
    let moved = match (step.transition, step.reason.as_deref()) {
        (Transition::Submit, _) => store::submit(conn, row),
        (Transition::Approve, _) => store::approve(conn, row, step.by, step.validity_days),
        (Transition::Reject, Some(reason)) => store::reject(conn, row, step.by, reason),
        (Transition::Archive, _) => store::archive(conn, row),
        (Transition::Renew, _) => store::renew(conn, row, step.validity_days),
        // Edits go through each store's `update_content`, expiry through its job, and a
        // rejection without a reason does not pass validation.
        (Transition::Edit | Transition::Expire | Transition::Reject, _) => {
            return Err(ApiError::internal());
        }
    };
    Ok(moved?)
}

/// Standing matches of a publication: notified when they score at least `threshold`
/// (`TECHX_MATCH_NOTIFY_THRESHOLD`).
pub struct Notices<'a> {
    pub search: &'a Search,
    pub threshold: u8,
}

/// Takes `step` on `row` and, when it publishes after review, notifies the standing matches,
/// all in the caller's transaction.
pub fn advance<R: Moderated>(
    conn: &mut DbConn,
    row: &R::Row,
    step: &Step,
    notices: &Notices,
) -> Result<R::Row, ApiError> {
    let updated = take::<R>(conn, row, step)?;
    if step.transition == Transition::Approve {
        R::published(conn, notices.search, notices.threshold, &updated)?;
    }
    Ok(updated)
}

/// Deletes: a draft never submitted is erased; anything ever submitted is archived instead,
/// so its moderation history and the activity report stay whole.
pub fn remove<R: Moderated>(
    conn: &mut DbConn,
    actor: &Actor,
    row: &R::Row,
    validity_days: u32,
) -> Result<(), ApiError> {
    let read = row.lifecycle();
    let status = read.status;
    if status.deletable(read.submitted_at.is_some()) {
        return Ok(store::erase(conn, row)?);
    }
    let to = status
        .next(Transition::Archive)
        .ok_or_else(|| invalid_transition(R::NOUN, status, Transition::Archive))?;
    let step = Step {
        transition: Transition::Archive,
        to,
        by: actor.user_id,
        reason: None,
        validity_days,
    };
    take::<R>(conn, row, &step).map(|_| ())
}

/// 409 for a moderation transition not allowed from `status`.
pub fn invalid_transition(noun: &str, status: Status, transition: Transition) -> ApiError {
    ApiError::conflict(
        "invalid_transition",
        format!("A {noun} that is {} cannot be {}.", status.as_str(), transition.verb()),
    )
}
