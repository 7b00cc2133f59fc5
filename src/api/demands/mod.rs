//! Technology demands: what an enterprise needs. Their requests, how they are shown and one
//! demand's page here; their create, edit, delete and moderation routes (the lifecycle they
//! share with listings) in `lifecycle`, search in `find`, answers in `proposals`.

mod find;
mod lifecycle;
mod proposals;

use chrono::{DateTime, NaiveDate, Utc};
use lifecycle::Demands;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::api::moderation::{Draft, Readable, moderated_read};
use crate::api::technologies::{OwnerDto, present_field, shown_etag};
use crate::auth::Actor;
use crate::auth::policy::{self, ModeratedAction};
use crate::db::Db;
use crate::db::types::{DemandId, OrganizationId, now, utc};
use crate::domain::demand::{self, Budget, DemandContent};
use crate::domain::lang::Lang;
use crate::domain::moderation::Status;
use crate::domain::search::{self, Highlight};
use crate::error::ApiError;
use crate::store::demands::{self as store, Demand};

#[derive(Debug, Serialize, ToSchema)]
pub struct DemandDto {
    pub id: uuid::Uuid,
    /// Who posted it; absent when `hide_organization` hides it from the caller.
    pub organization: Option<OwnerDto>,
    /// Public demands may hide who posted them; the organisation and staff still see it.
    pub hide_organization: bool,
    pub status: Status,
    pub language: Lang,
    #[schema(example = "Xử lý nước thải chăn nuôi lợn quy mô trang trại")]
    pub title: String,
    /// The problem to solve.
    pub problem: String,
    /// Technical requirements.
    pub requirements: Option<String>,
    #[schema(example = json!(["2.7"]))]
    pub sectors: Vec<String>,
    pub keywords: Vec<String>,
    /// Lowest acceptable TRL, 1–9.
    #[schema(minimum = 1, maximum = 9)]
    pub trl_min: Option<u8>,
    pub budget: Option<Budget>,
    /// Transfer form codes wanted.
    #[schema(example = json!(["usage_licence"]))]
    pub transfer_forms: Vec<String>,
    #[schema(example = "thanh-hoa")]
    pub province: String,
    pub deadline: Option<NaiveDate>,
    pub rejection_reason: Option<String>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub published_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Send as `If-Match` (the `ETag`) when changing the demand.
    pub version: i32,
}

/// A demand in a result list.
#[derive(Debug, Serialize, ToSchema)]
pub struct DemandSummaryDto {
    pub id: uuid::Uuid,
    /// Absent when `hide_organization` hides it from the caller.
    pub organization: Option<OwnerDto>,
    pub status: Status,
    pub title: String,
    pub sectors: Vec<String>,
    #[schema(minimum = 1, maximum = 9)]
    pub trl_min: Option<u8>,
    pub budget: Option<Budget>,
    pub transfer_forms: Vec<String>,
    pub province: String,
    pub deadline: Option<NaiveDate>,
    pub published_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    /// With `q`: an excerpt around the first match, HTML-escaped, words in `<mark>`.
    pub snippet: Option<String>,
}

fn owner_for(actor: Option<&Actor>, d: &Demand) -> Option<OwnerDto> {
    policy::demand_organization_visible(actor, d.organization_id, d.content.hide_organization).then(
        || OwnerDto {
            id: d.organization_id.into(),
            name: d.organization_name.clone(),
            verified: d.organization_verified,
        },
    )
}

fn dto(actor: Option<&Actor>, d: Demand) -> DemandDto {
    let organization = owner_for(actor, &d);
    let c = d.content;
    DemandDto {
        id: d.id.into(),
        organization,
        hide_organization: c.hide_organization,
        status: d.status,
        language: c.language,
        title: c.title,
        problem: c.problem,
        requirements: c.requirements,
        sectors: c.sectors,
        keywords: c.keywords,
        trl_min: c.trl_min,
        budget: c.budget,
        transfer_forms: c.transfer_forms,
        province: c.province,
        deadline: c.deadline,
        rejection_reason: d.rejection_reason,
        submitted_at: d.submitted_at.map(utc),
        published_at: d.published_at.map(utc),
        expires_at: d.expires_at.map(utc),
        created_at: utc(d.created_at),
        updated_at: utc(d.updated_at),
        version: d.version,
    }
}

pub(crate) fn summary(
    actor: Option<&Actor>,
    d: &Demand,
    query: Option<&Highlight>,
) -> DemandSummaryDto {
    let c = &d.content;
    let snippet = query.and_then(|q| {
        let keywords = c.keywords.join(", ");
        let texts = [
            Some(c.title.as_str()),
            Some(c.problem.as_str()),
            c.requirements.as_deref(),
            Some(keywords.as_str()),
        ];
        search::best_snippet(texts.into_iter().flatten(), q, search::SNIPPET_CHARS)
    });
    DemandSummaryDto {
        id: d.id.into(),
        organization: owner_for(actor, d),
        status: d.status,
        title: c.title.clone(),
        sectors: c.sectors.clone(),
        trl_min: c.trl_min,
        budget: c.budget.clone(),
        transfer_forms: c.transfer_forms.clone(),
        province: c.province.clone(),
        deadline: c.deadline,
        published_at: d.published_at.map(utc),
        expires_at: d.expires_at.map(utc),
        snippet,
    }
}

/// The demand's version and the owner it shows (hidden, or renamed, is another ETag).
fn etag_of(version: i32, owner: Option<&OwnerDto>) -> String {
    shown_etag(version, owner.map(|o| (o.name.as_str(), o.verified)), None)
}

/// The ETag of a demand as shown.
pub(crate) fn demand_etag(body: &DemandDto) -> String {
    etag_of(body.version, body.organization.as_ref())
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDemandRequest {
    /// The organisation that needs it; the caller must be a member.
    pub organization_id: uuid::Uuid,
    /// At most 200 characters.
    #[schema(example = "Xử lý nước thải chăn nuôi lợn quy mô trang trại")]
    pub title: String,
    /// The problem to solve, at most 20 000 characters.
    #[schema(example = "Trang trại 2 000 con lợn cần xử lý nước thải đạt QCVN 62:2016.")]
    pub problem: String,
    /// Technical requirements, at most 5 000 characters.
    pub requirements: Option<String>,
    /// 1–10 FORD sector codes.
    #[schema(example = json!(["2.7"]))]
    pub sectors: Vec<String>,
    #[serde(default)]
    #[schema(example = json!(["nước thải", "chăn nuôi"]))]
    pub keywords: Vec<String>,
    #[schema(minimum = 1, maximum = 9, example = 6)]
    pub trl_min: Option<u8>,
    pub budget: Option<Budget>,
    /// Transfer form codes from `/taxonomy/transfer-forms`.
    #[serde(default)]
    #[schema(example = json!(["usage_licence"]))]
    pub transfer_forms: Vec<String>,
    #[schema(example = "thanh-hoa")]
    pub province: String,
    /// Not in the past.
    pub deadline: Option<NaiveDate>,
    /// Hide the organisation from the public (default false).
    #[serde(default)]
    pub hide_organization: bool,
    /// Default `vi`.
    pub language: Option<Lang>,
}

impl Draft for CreateDemandRequest {
    type Content = DemandContent;

    fn organization(&self) -> OrganizationId {
        self.organization_id.into()
    }

    fn content(&self) -> Result<DemandContent, ApiError> {
        let content = DemandContent {
            language: self.language.unwrap_or_default(),
            title: self.title.clone(),
            problem: self.problem.clone(),
            requirements: self.requirements.clone(),
            sectors: self.sectors.clone(),
            keywords: self.keywords.clone(),
            trl_min: self.trl_min,
            budget: self.budget.clone(),
            transfer_forms: self.transfer_forms.clone(),
            province: self.province.clone(),
            deadline: self.deadline,
            hide_organization: self.hide_organization,
        }
        .normalized();
        validate(&content)?;
        Ok(content)
    }
}

/// Fields to change; absent fields stay, `null` clears an optional one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateDemandRequest {
    pub title: Option<String>,
    pub problem: Option<String>,
    #[serde(default, deserialize_with = "present_field")]
    #[schema(value_type = Option<String>)]
    pub requirements: Option<Option<String>>,
    pub sectors: Option<Vec<String>>,
    pub keywords: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present_field")]
    #[schema(value_type = Option<u8>, minimum = 1, maximum = 9)]
    pub trl_min: Option<Option<u8>>,
    #[serde(default, deserialize_with = "present_field")]
    #[schema(value_type = Option<Budget>)]
    pub budget: Option<Option<Budget>>,
    pub transfer_forms: Option<Vec<String>>,
    pub province: Option<String>,
    #[serde(default, deserialize_with = "present_field")]
    #[schema(value_type = Option<NaiveDate>)]
    pub deadline: Option<Option<NaiveDate>>,
    pub hide_organization: Option<bool>,
    pub language: Option<Lang>,
}

impl UpdateDemandRequest {
    fn apply(self, mut c: DemandContent) -> DemandContent {
        macro_rules! set {
            ($($field:ident),*) => {$(
                if let Some(value) = self.$field {
                    c.$field = value;
                }
            )*};
        }
        set!(title, problem, requirements, sectors, keywords, trl_min, budget, transfer_forms);
        set!(province, deadline, hide_organization, language);
        c.normalized()
    }
}

fn validate(content: &DemandContent) -> Result<(), ApiError> {
    let errors = demand::validate(content, now().date());
    if errors.is_empty() { Ok(()) } else { Err(ApiError::validation(errors)) }
}

impl Readable for Demands {
    type Loaded = Demand;
    type Read = Demand;

    async fn load(db: &Db, id: DemandId) -> Result<Demand, ApiError> {
        Ok(store::read(db, id).await?)
    }

    fn read(demand: Demand, actor: Option<&Actor>) -> Result<Demand, ApiError> {
        let public = demand.status.is_public();
        policy::demand(actor, demand.organization_id, public, ModeratedAction::View)?;
        Ok(demand)
    }

    fn shown(demand: &Demand, actor: Option<&Actor>) -> (String, bool) {
        let etag = etag_of(demand.version, owner_for(actor, demand).as_ref());
        (etag, demand.status.is_public())
    }

    fn body(demand: Demand, actor: Option<&Actor>) -> DemandDto {
        dto(actor, demand)
    }
}

moderated_read! {
    resource: Demands,
    dto: DemandDto,
    tag: "demands",
    not_visible: "No such demand, or not visible to the caller",
    /// A demand. Published ones are public (without the organisation when it is hidden); others
    /// only for the owning organisation's members and staff (404 for everybody else).
    get: get_demand("/demands/{id}"),
}

/// The demand routes, proposals included, in the order the OpenAPI document lists them.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(find::search_demands).service(get_demand);
    // Create, edit, delete and the moderation steps.
    lifecycle::configure(cfg);
    proposals::configure(cfg);
}
