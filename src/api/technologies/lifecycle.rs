//! A listing's moderation: how listings take part in the shared lifecycle
//! ([`crate::api::moderation`]), and its create, edit, delete, submit, review, archive and
//! renew routes.

use super::view::{TechnologyDto, present, technology_etag};
use super::{CreateTechnologyRequest, UpdateTechnologyRequest, validate};
use crate::api::moderation::{Draft, Resource, moderated_routes};
use crate::auth::Actor;
use crate::auth::policy::{self, ModeratedAction};
use crate::db::DbConn;
use crate::db::types::{OrganizationId, UserId};
use crate::domain::moderation::Status;
use crate::error::ApiError;
use crate::search::Search;
use crate::store::technologies::{self as store, Listing};
use crate::workflows::moderation::Moderated;

/// Listings in the moderation lifecycle.
pub struct Listings;

impl Moderated for Listings {
    const NOUN: &'static str = "listing";
    type Row = Listing;

    fn authorize(actor: &Actor, row: &Listing, action: ModeratedAction) -> Result<(), ApiError> {
        policy::listing(Some(actor), row.organization_id, row.status.is_public(), action)
    }

    fn published(
        conn: &mut DbConn,
        search: &Search,
        threshold: u8,
        row: &Listing,
    ) -> Result<(), ApiError> {
        crate::search::matching::notify_for_technology(conn, search, row, threshold).map(|_| ())
    }
}

impl Resource for Listings {
    type Dto = TechnologyDto;
    type Draft = CreateTechnologyRequest;
    type Patch = UpdateTechnologyRequest;
    const COLLECTION: &'static str = "/api/v1/technologies";

    fn present(conn: &mut DbConn, actor: &Actor, row: Listing) -> Result<TechnologyDto, ApiError> {
        present(conn, Some(actor), row)
    }

    fn etag(dto: &TechnologyDto) -> String {
        technology_etag(dto)
    }

    fn insert(
        conn: &mut DbConn,
        organization: OrganizationId,
        creator: UserId,
        content: &<CreateTechnologyRequest as Draft>::Content,
    ) -> Result<Listing, ApiError> {
        Ok(store::create(conn, organization, creator, content)?)
    }

    fn edit(
        conn: &mut DbConn,
        actor: &Actor,
        listing: &Listing,
        patch: UpdateTechnologyRequest,
        to: Status,
    ) -> Result<TechnologyDto, ApiError> {
        let content = patch.apply(listing.content.clone());
        validate(&content)?;
        let updated = store::update_content(conn, listing, &content, to)?;
        present(conn, Some(actor), updated)
    }
}

moderated_routes! {
    resource: Listings,
    dto: TechnologyDto,
    tag: "technologies",
    not_visible: "No such listing, or not visible to the caller",
    not_found: "No such listing",

    /// Create a draft listing for an organisation you belong to. Honours `Idempotency-Key`.
    create: create_technology("/technologies", CreateTechnologyRequest),

    /// Edit a listing (members of the owning organisation). Needs `If-Match`.
    ///
    /// A rejected listing becomes a draft again; a published one goes back to review (hidden
    /// until a moderator approves it again); one under review stays there. Archived listings
    /// cannot be edited.
    update: update_technology("/technologies/{id}", UpdateTechnologyRequest),

    /// Delete a listing (members of the owning organisation). Needs `If-Match`. A draft that
    /// was never submitted is erased; a listing that was ever submitted (including a rejected
    /// one edited back to a draft) is archived instead, so its moderation history and the
    /// activity report stay whole. Either way it answers 204.
    delete: delete_technology("/technologies/{id}"),

    /// Submit a draft for review (members of the owning organisation). Needs `If-Match`.
    submit: submit_technology(
        "/technologies/{id}/submit",
        not_a_draft: "Not a draft (`invalid_transition`); edit a rejected listing first"
    ),

    /// Approve or reject a listing under review (moderators). Needs `If-Match`, so the version
    /// approved is the one read. Approval publishes it until now + `TECHX_LISTING_VALIDITY_DAYS`;
    /// either way the owning organisation's owners are mailed. Approval also notifies the
    /// standing matches scoring at least `TECHX_MATCH_NOTIFY_THRESHOLD` (once per pair).
    review: review_technology("/technologies/{id}/review"),

    /// Take a listing off the exchange (members of the owning organisation, or staff). Needs
    /// `If-Match`. Archived listings stay readable by their organisation; it is final.
    archive: archive_technology("/technologies/{id}/archive"),

    /// Extend a published listing to now + `TECHX_LISTING_VALIDITY_DAYS` (members of the owning
    /// organisation). Needs `If-Match`.
    renew: renew_technology("/technologies/{id}/renew"),
}
