//! A demand's moderation: how demands take part in the lifecycle they share with listings
//! ([`crate::api::moderation`]), and its create, edit, delete, submit, review, archive and
//! renew routes.

use super::{CreateDemandRequest, DemandDto, UpdateDemandRequest, demand_etag, dto, validate};
use crate::api::moderation::{Draft, Resource, moderated_routes};
use crate::auth::Actor;
use crate::auth::policy::{self, ModeratedAction};
use crate::db::DbConn;
use crate::db::types::{OrganizationId, UserId};
use crate::domain::moderation::Status;
use crate::error::ApiError;
use crate::search::Search;
use crate::store::demands::{self as store, Demand};
use crate::workflows::moderation::Moderated;

/// Demands in the moderation lifecycle.
pub struct Demands;

impl Moderated for Demands {
    const NOUN: &'static str = "demand";
    type Row = Demand;

    fn authorize(actor: &Actor, row: &Demand, action: ModeratedAction) -> Result<(), ApiError> {
        policy::demand(Some(actor), row.organization_id, row.status.is_public(), action)
    }

    fn published(
        conn: &mut DbConn,
        search: &Search,
        threshold: u8,
        row: &Demand,
    ) -> Result<(), ApiError> {
        crate::search::matching::notify_for_demand(conn, search, row, threshold).map(|_| ())
    }
}

impl Resource for Demands {
    type Dto = DemandDto;
    type Draft = CreateDemandRequest;
    type Patch = UpdateDemandRequest;
    const COLLECTION: &'static str = "/api/v1/demands";

    fn present(_: &mut DbConn, actor: &Actor, row: Demand) -> Result<DemandDto, ApiError> {
        Ok(dto(Some(actor), row))
    }

    fn etag(body: &DemandDto) -> String {
        demand_etag(body)
    }

    fn insert(
        conn: &mut DbConn,
        organization: OrganizationId,
        creator: UserId,
        content: &<CreateDemandRequest as Draft>::Content,
    ) -> Result<Demand, ApiError> {
        Ok(store::create(conn, organization, creator, content)?)
    }

    fn edit(
        conn: &mut DbConn,
        actor: &Actor,
        demand: &Demand,
        patch: UpdateDemandRequest,
        to: Status,
    ) -> Result<DemandDto, ApiError> {
        let content = patch.apply(demand.content.clone());
        validate(&content)?;
        Ok(dto(Some(actor), store::update_content(conn, demand, &content, to)?))
    }
}

moderated_routes! {
    resource: Demands,
    dto: DemandDto,
    tag: "demands",
    not_visible: "No such demand, or not visible to the caller",
    not_found: "No such demand",

    /// Create a draft demand for an organisation you belong to. Honours `Idempotency-Key`.
    create: create_demand("/demands", CreateDemandRequest),

    /// Edit a demand (members of the owning organisation). Needs `If-Match`. Same rules as
    /// listings: a rejected demand becomes a draft, a published one goes back to review.
    update: update_demand("/demands/{id}", UpdateDemandRequest),

    /// Delete a demand (members of the owning organisation). Needs `If-Match`. A draft that
    /// was never submitted is erased; a demand that was ever submitted is archived instead, so
    /// its moderation history and the activity report stay whole. Either way it answers 204.
    delete: delete_demand("/demands/{id}"),

    /// Submit a draft demand for review (members of the owning organisation). Needs `If-Match`.
    submit: submit_demand("/demands/{id}/submit", not_a_draft: "Not a draft (`invalid_transition`)"),

    /// Approve or reject a demand under review (moderators). Needs `If-Match`. Approval
    /// publishes it until now + `TECHX_LISTING_VALIDITY_DAYS` and notifies its standing matches
    /// scoring at least `TECHX_MATCH_NOTIFY_THRESHOLD` (once per pair, both sides mailed).
    review: review_demand("/demands/{id}/review"),

    /// Take a demand off the exchange (members of the owning organisation, or staff). Needs
    /// `If-Match`; final.
    archive: archive_demand("/demands/{id}/archive"),

    /// Extend a published demand to now + `TECHX_LISTING_VALIDITY_DAYS` (members of the owning
    /// organisation). Needs `If-Match`.
    renew: renew_demand("/demands/{id}/renew"),
}
