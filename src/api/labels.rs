//! How a list row names what it refers to, the same in deals, enquiries, proposals and
//! valuation requests: a technology or demand by its title ([`TitledDto`]), an organisation
//! by its name and kind ([`PartyDto`]). The labels come from `store::labels`, one statement
//! per kind for a whole page.

use serde::Serialize;
use utoipa::ToSchema;

use crate::db::types::{DemandId, OrganizationId, TechnologyId};
use crate::error::ApiError;
use crate::store::labels::Labels;

/// A technology or a demand, as a list row names it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TitledDto {
    pub id: uuid::Uuid,
    pub title: String,
}

/// An organisation taking part (a deal's party, an enquiry's side, a proposal's proposer,
/// a valuation's requester…), as a list row names it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PartyDto {
    pub id: uuid::Uuid,
    pub name: String,
    #[schema(value_type = crate::api::organizations::OrganizationKind)]
    pub kind: String,
}

// A label missing for an id the row holds is a broken foreign key: a 500, not a guess.

pub fn technology(labels: &Labels, id: TechnologyId) -> Result<TitledDto, ApiError> {
    let title = labels.titles.get(&id).cloned().ok_or_else(ApiError::internal)?;
    Ok(TitledDto { id: id.into(), title })
}

pub fn demand(labels: &Labels, id: DemandId) -> Result<TitledDto, ApiError> {
    let title = labels.demand_titles.get(&id).cloned().ok_or_else(ApiError::internal)?;
    Ok(TitledDto { id: id.into(), title })
}

pub fn party(labels: &Labels, id: OrganizationId) -> Result<PartyDto, ApiError> {
    let (name, kind) = labels.organizations.get(&id).cloned().ok_or_else(ApiError::internal)?;
    Ok(PartyDto { id: id.into(), name, kind })
}
