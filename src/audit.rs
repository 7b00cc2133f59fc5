//! Recording one request's write in the audit log.
//!
//! The audit middleware (`api::audit::record`) gives each writing request a [`Recorder`]
//! and sets it as the request's [`WriteHook`]. Whoever authenticates the caller (the bearer
//! extractor, the API key middleware) names the actor on it. The first database call of the
//! request that changes something appends a `succeeded` entry inside its own transaction,
//! so the entry commits or rolls back with the change. A write that ends in an error
//! status without having committed gets a `failed` entry afterwards, in a transaction of
//! its own: a rolled-back write leaves exactly one entry, saying it failed.

use std::sync::Mutex;

use crate::db::types::{ApiKeyId, AuditEventId, EntityId, OrganizationId, UserId, now};
use crate::db::{DbConn, DbError, WriteHook};
use crate::domain::scopes::Operation;
use crate::error::ApiError;
use crate::store::StoreError;
use crate::store::audit::{self, Entry};
use crate::store::idempotency::Created;

/// Who made the request.
#[derive(Debug, Clone)]
pub struct AuditActor {
    pub user_id: UserId,
    pub api_key: Option<(ApiKeyId, OrganizationId)>,
    /// Organisations the user belongs to (a key: its own alone).
    pub organizations: Vec<OrganizationId>,
}

/// What the request is, as the middleware saw it.
#[derive(Debug, Clone)]
pub struct RequestInfo {
    pub operation: &'static Operation,
    pub method: String,
    pub path: String,
    /// The value of the operation's resource parameter in the path.
    pub resource_id: Option<String>,
    /// `{id}` of an `/organizations/{id}/…` path.
    pub path_organization: Option<OrganizationId>,
    pub address: Option<String>,
    pub request_id: Option<String>,
}

#[derive(Default)]
struct State {
    actor: Option<AuditActor>,
    appended: bool,
}

pub struct Recorder {
    info: RequestInfo,
    state: Mutex<State>,
}

impl Recorder {
    pub fn new(info: RequestInfo) -> Self {
        Self { info, state: Mutex::new(State::default()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic elsewhere cannot leave State half-changed: recover the guard.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn set_actor(&self, actor: AuditActor) {
        self.lock().actor = Some(actor);
    }

    /// A `failed` entry is due: the write ended in an error and nothing committed.
    pub fn failure_due(&self, status: u16) -> bool {
        let state = self.lock();
        status >= 400 && state.actor.is_some() && !state.appended
    }

    fn entry(
        &self,
        conn: &mut DbConn,
        actor: &AuditActor,
        resource_id: Option<String>,
        outcome: &str,
        status: Option<i32>,
    ) -> Result<Entry, StoreError> {
        let organization_id = match (actor.api_key, self.info.path_organization) {
            (Some((_, org)), _) => Some(org),
            (None, Some(org)) => Some(org),
            (None, None) => {
                let owners = match resource_id
                    .as_deref()
                    .and_then(|id| uuid::Uuid::parse_str(id).ok())
                    .map(EntityId::from)
                {
                    Some(id) => audit::owners_of(conn, self.info.operation.resource, id)?,
                    None => Vec::new(),
                };
                // The side the caller acts for; else the resource's owner (a moderator's
                // decision shows in the owner's log); else the caller's only organisation.
                owners
                    .iter()
                    .find(|o| actor.organizations.contains(o))
                    .or(owners.first())
                    .copied()
                    .or(match actor.organizations.as_slice() {
                        [only] => Some(*only),
                        _ => None,
                    })
            }
        };
        Ok(Entry {
            id: AuditEventId::new(),
            occurred_at: now(),
            organization_id,
            actor_type: if actor.api_key.is_some() { "api_key" } else { "user" }.to_owned(),
            user_id: Some(actor.user_id),
            api_key_id: actor.api_key.map(|(key, _)| key),
            operation_id: self.info.operation.operation_id.to_owned(),
            method: self.info.method.clone(),
            path: self.info.path.clone(),
            resource_type: self.info.operation.resource.to_owned(),
            resource_id,
            address: self.info.address.clone(),
            request_id: self.info.request_id.clone(),
            outcome: outcome.to_owned(),
            status,
        })
    }

    /// Appends the `failed` entry (its own transaction, after the response was decided).
    pub fn append_failure(&self, conn: &mut DbConn, status: u16) -> Result<(), ApiError> {
        let Some(actor) = self.lock().actor.clone() else { return Ok(()) };
        let entry =
            self.entry(conn, &actor, self.info.resource_id.clone(), "failed", Some(status.into()))?;
        Ok(audit::append(conn, &entry)?)
    }
}

/// A statement's failure stays one (the database may be busy: 503); anything else is the
/// hook's own failure (500), its cause kept.
fn hook_error(error: StoreError) -> DbError {
    match error {
        StoreError::Database(e) => DbError::Query(e),
        StoreError::Db(e) => e,
        other => DbError::Hook(Box::new(other)),
    }
}

/// The id of what a creating call made, from the body it returns.
fn created_id(value: &dyn std::any::Any) -> Option<String> {
    let body = value
        .downcast_ref::<Created>()
        .map(|c| &c.body)
        .or_else(|| value.downcast_ref::<serde_json::Value>())?;
    body["id"].as_str().map(str::to_owned)
}

impl WriteHook for Recorder {
    fn pending(&self) -> bool {
        let state = self.lock();
        state.actor.is_some() && !state.appended
    }

    fn after_write(&self, conn: &mut DbConn, value: &dyn std::any::Any) -> Result<(), DbError> {
        let Some(actor) = self.lock().actor.clone() else { return Ok(()) };
        // A replayed Idempotency-Key answer changed nothing (its attempted insert lost a
        // race and rolled back to its savepoint).
        if value.downcast_ref::<Created>().is_some_and(|c| c.replayed) {
            return Ok(());
        }
        let resource_id = self.info.resource_id.clone().or_else(|| created_id(value));
        let entry = self.entry(conn, &actor, resource_id, "succeeded", None).map_err(hook_error)?;
        audit::append(conn, &entry).map_err(hook_error)?;
        self.lock().appended = true;
        Ok(())
    }

    fn rolled_back(&self) {
        self.lock().appended = false;
    }
}
