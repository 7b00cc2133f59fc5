//! Technology listings (technologies, equipment, research results): their requests and one
//! listing's page here; how they are shown is in `view`, search in `find`, and their create,
//! edit, delete and moderation routes (the lifecycle they share with demands) in `lifecycle`.

mod find;
mod lifecycle;
mod view;

use lifecycle::Listings;
use view::{ContactDto, contact_visible, dto};
pub(crate) use view::{OwnerDto, TechnologyDto, TechnologySummaryDto, shown_etag, summary};

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::api::moderation::{Draft, Readable, moderated_read};
use crate::auth::Actor;
use crate::auth::policy::{self, ModeratedAction};
use crate::db::Db;
use crate::db::types::{OrganizationId, TechnologyId, now};
use crate::domain::lang::Lang;
use crate::domain::listing::{
    self, ContactVisibility, Content, IpRecord, Kind, Price, Research, TransferOffer,
};
use crate::error::ApiError;
use crate::store::technologies::{self as store, Listing};

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTechnologyRequest {
    /// The organisation offering it; the caller must be a member.
    pub organization_id: uuid::Uuid,
    pub kind: Kind,
    /// At most 200 characters.
    #[schema(example = "Quy trình nhân giống lan bằng nuôi cấy mô")]
    pub title: String,
    /// Public summary, at most 500 characters.
    #[schema(example = "Nhân nhanh giống lan Hồ Điệp sạch bệnh, hệ số nhân 5–7 lần sau 8 tuần.")]
    pub summary: String,
    /// At most 20 000 characters.
    pub description: String,
    /// At most 5 000 characters.
    pub advantages: Option<String>,
    /// At most 5 000 characters.
    pub applications: Option<String>,
    /// 1–10 FORD sector codes from `/taxonomy/sectors`.
    #[schema(example = json!(["4.4"]))]
    pub sectors: Vec<String>,
    /// At most 20, each at most 60 characters.
    #[serde(default)]
    #[schema(example = json!(["nuôi cấy mô", "hoa lan"]))]
    pub keywords: Vec<String>,
    #[schema(minimum = 1, maximum = 9, example = 7)]
    pub trl: Option<u8>,
    /// At most 20.
    #[serde(default)]
    pub ip_records: Vec<IpRecord>,
    /// At least one; each form once.
    pub transfer_forms: Vec<TransferOffer>,
    pub price: Option<Price>,
    /// A province code from `/taxonomy/provinces`.
    #[schema(example = "thanh-hoa")]
    pub province: String,
    /// Default `members`.
    pub contact_visibility: Option<ContactVisibility>,
    /// Language of the text; default `vi`.
    pub language: Option<Lang>,
    /// Required for `research_result`, refused otherwise.
    pub research: Option<Research>,
}

impl Draft for CreateTechnologyRequest {
    type Content = Content;

    fn organization(&self) -> OrganizationId {
        self.organization_id.into()
    }

    fn content(&self) -> Result<Content, ApiError> {
        let content = Content {
            kind: self.kind,
            language: self.language.unwrap_or_default(),
            title: self.title.clone(),
            summary: self.summary.clone(),
            description: self.description.clone(),
            advantages: self.advantages.clone(),
            applications: self.applications.clone(),
            sectors: self.sectors.clone(),
            keywords: self.keywords.clone(),
            trl: self.trl,
            ip_records: self.ip_records.clone(),
            transfer_forms: self.transfer_forms.clone(),
            price: self.price.clone(),
            province: self.province.clone(),
            contact_visibility: self.contact_visibility.unwrap_or(ContactVisibility::Members),
            research: self.research.clone(),
        }
        .normalized();
        validate(&content)?;
        Ok(content)
    }
}

/// A field that is present (even as `null`) is `Some`, so a PATCH tells "leave it" (absent)
/// from "clear it" (`null`).
pub(crate) fn present_field<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Fields to change; absent fields stay, `null` clears an optional one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTechnologyRequest {
    pub kind: Option<Kind>,
    pub title: Option<String>,
    pub summary: Option<String>,
    pub description: Option<String>,
    #[serde(default, deserialize_with = "present_field")]
    #[schema(value_type = Option<String>)]
    pub advantages: Option<Option<String>>,
    #[serde(default, deserialize_with = "present_field")]
    #[schema(value_type = Option<String>)]
    pub applications: Option<Option<String>>,
    pub sectors: Option<Vec<String>>,
    pub keywords: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present_field")]
    #[schema(value_type = Option<u8>, minimum = 1, maximum = 9)]
    pub trl: Option<Option<u8>>,
    pub ip_records: Option<Vec<IpRecord>>,
    pub transfer_forms: Option<Vec<TransferOffer>>,
    #[serde(default, deserialize_with = "present_field")]
    #[schema(value_type = Option<Price>)]
    pub price: Option<Option<Price>>,
    pub province: Option<String>,
    pub contact_visibility: Option<ContactVisibility>,
    pub language: Option<Lang>,
    #[serde(default, deserialize_with = "present_field")]
    #[schema(value_type = Option<Research>)]
    pub research: Option<Option<Research>>,
}

impl UpdateTechnologyRequest {
    fn apply(self, mut c: Content) -> Content {
        macro_rules! set {
            ($($field:ident),*) => {$(
                if let Some(value) = self.$field {
                    c.$field = value;
                }
            )*};
        }
        set!(kind, title, summary, description, advantages, applications, sectors, keywords, trl);
        set!(ip_records, transfer_forms, price, province, contact_visibility, language, research);
        c.normalized()
    }
}

fn validate(content: &Content) -> Result<(), ApiError> {
    let errors = listing::validate(content, now().date());
    if errors.is_empty() { Ok(()) } else { Err(ApiError::validation(errors)) }
}

impl Readable for Listings {
    type Loaded = (Listing, Option<store::Contact>);
    type Read = (Listing, Option<ContactDto>);

    async fn load(db: &Db, id: TechnologyId) -> Result<Self::Loaded, ApiError> {
        // One statement: the listing, its owner, research data and contact person.
        Ok(store::read(db, id).await?)
    }

    fn read(
        (listing, contact): Self::Loaded,
        actor: Option<&Actor>,
    ) -> Result<Self::Read, ApiError> {
        let public = listing.status.is_public();
        policy::listing(actor, listing.organization_id, public, ModeratedAction::View)?;
        let contact = contact
            .filter(|_| contact_visible(actor, &listing))
            .map(|c| ContactDto { name: c.name, email: c.email });
        Ok((listing, contact))
    }

    fn shown((listing, contact): &Self::Read, _: Option<&Actor>) -> (String, bool) {
        let owner = (listing.organization_name.as_str(), listing.organization_verified);
        let etag = shown_etag(listing.version, Some(owner), contact.as_ref());
        (etag, listing.status.is_public())
    }

    fn body((listing, contact): Self::Read, _: Option<&Actor>) -> TechnologyDto {
        dto(listing, contact)
    }
}

moderated_read! {
    resource: Listings,
    dto: TechnologyDto,
    tag: "technologies",
    not_visible: "No such listing, or not visible to the caller",
    /// A listing. Published ones are public; others only for the owning organisation's members
    /// and staff (404 for everybody else).
    get: get_technology("/technologies/{id}"),
}

/// The listing routes, in the order the OpenAPI document lists them.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(find::search_technologies).service(get_technology);
    // Create, edit, delete and the moderation steps.
    lifecycle::configure(cfg);
    cfg.service(find::organization_technologies);
}
