//! What a list row shows beside the ids it holds: technologies' and demands' titles,
//! organisations' names and kinds. Each aggregate's `labels` names the ids of its page in a
//! [`Wanted`]; [`Wanted::load`] reads them with one statement per kind of label, however many
//! rows the page has (never one per row). Who may see a label is the caller's to decide.

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::{demands, organizations, technologies};
use crate::db::types::{DemandId, OrganizationId, TechnologyId};
use crate::store::StoreError;

/// The ids a page refers to, by kind.
#[derive(Debug, Default)]
pub struct Wanted {
    pub technologies: HashSet<TechnologyId>,
    pub demands: HashSet<DemandId>,
    pub organizations: HashSet<OrganizationId>,
}

/// Titles and names by id.
#[derive(Debug, Default)]
pub struct Labels {
    /// Technologies' titles.
    pub titles: HashMap<TechnologyId, String>,
    /// Demands' titles.
    pub demand_titles: HashMap<DemandId, String>,
    /// `(name, kind)` by organisation.
    pub organizations: HashMap<OrganizationId, (String, String)>,
}

impl Wanted {
    /// The labels of every wanted id: a statement per kind asked for, none for a kind
    /// without ids.
    pub fn load(self, conn: &mut DbConn) -> Result<Labels, StoreError> {
        let mut labels = Labels::default();
        if !self.technologies.is_empty() {
            labels.titles = technologies::table
                .filter(technologies::id.eq_any(sorted(self.technologies)))
                .select((technologies::id, technologies::title))
                .load::<(TechnologyId, String)>(conn)?
                .into_iter()
                .collect();
        }
        if !self.demands.is_empty() {
            labels.demand_titles = demands::table
                .filter(demands::id.eq_any(sorted(self.demands)))
                .select((demands::id, demands::title))
                .load::<(DemandId, String)>(conn)?
                .into_iter()
                .collect();
        }
        if !self.organizations.is_empty() {
            labels.organizations = organizations::table
                .filter(organizations::id.eq_any(sorted(self.organizations)))
                .select((organizations::id, organizations::name, organizations::kind))
                .load::<(OrganizationId, String, String)>(conn)?
                .into_iter()
                .map(|(id, name, kind)| (id, (name, kind)))
                .collect();
        }
        Ok(labels)
    }
}

/// In a stable order, so that a page's statement reads the same on each run.
fn sorted<I: Ord>(ids: HashSet<I>) -> Vec<I> {
    let mut ids: Vec<I> = ids.into_iter().collect();
    ids.sort();
    ids
}
