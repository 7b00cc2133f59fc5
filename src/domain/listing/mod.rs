//! Technology listings: their vocabulary and the validation rules that need no database
//! (the moderation state machine they share with demands is in [`crate::domain::moderation`]).
//! `api/technologies/` maps requests onto [`Content`]; `store/technologies.rs` persists it.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::fold::fold;
use crate::domain::lang::Lang;
use crate::domain::search;

pub const MAX_TITLE: usize = 200;
pub const MAX_SUMMARY: usize = 500;
pub const MAX_DESCRIPTION: usize = 20_000;
pub const MAX_LONG_TEXT: usize = 5_000;
pub const MAX_SECTORS: usize = 10;
pub const MAX_KEYWORDS: usize = 20;
pub const MAX_KEYWORD: usize = 60;
pub const MAX_IP_RECORDS: usize = 20;
pub const MAX_IP_NUMBER: usize = 60;
pub const MAX_TERRITORY: usize = 200;
pub const MAX_NAME: usize = 300;
pub const MAX_TASK_CODE: usize = 100;
pub const MAX_REASON: usize = 2_000;
/// Largest accepted amount in minor units (10^15: a quadrillion đồng is far beyond any deal).
pub const MAX_AMOUNT: i64 = 1_000_000_000_000_000;
/// Licence terms are at most a century.
pub const MAX_TERM_MONTHS: u32 = 1_200;

/// What is offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Technology,
    Equipment,
    /// A result of a (usually state-funded) S&T task; carries `research` data.
    ResearchResult,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PriceBasis {
    /// A guide price; the final price is agreed in the contract.
    Indicative,
    /// The seller will not go below `min`.
    Floor,
    /// Fixed at `min`.
    Firm,
    /// No amount committed.
    Negotiable,
}

/// Who may see the listing's contact person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContactVisibility {
    /// Anyone who can see the listing.
    Public,
    /// Signed-in users only.
    Members,
    /// Nobody outside the organisation: enquiries go through the exchange.
    OnRequest,
}

/// Level of the budget that funded a research result (Decree 70/2018/NĐ-CP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FundingLevel {
    National,
    Ministerial,
    Provincial,
    Grassroots,
}

/// Who holds the rights to a state-funded result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RightsStatus {
    /// Still owned by the state.
    StateOwned,
    /// Usage rights assigned to `assignee`.
    UsageAssigned,
    /// Ownership assigned to `assignee`.
    OwnershipAssigned,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IpStatus {
    /// Application filed, not yet granted.
    Pending,
    Granted,
    Expired,
    /// Protection without registration (trade secrets) or no IP title.
    NotApplicable,
}

codes!(Kind { Technology => "technology", Equipment => "equipment", ResearchResult => "research_result" });
codes!(PriceBasis {
    Indicative => "indicative",
    Floor => "floor",
    Firm => "firm",
    Negotiable => "negotiable",
});
codes!(ContactVisibility { Public => "public", Members => "members", OnRequest => "on_request" });
codes!(FundingLevel {
    National => "national",
    Ministerial => "ministerial",
    Provincial => "provincial",
    Grassroots => "grassroots",
});
codes!(RightsStatus {
    StateOwned => "state_owned",
    UsageAssigned => "usage_assigned",
    OwnershipAssigned => "ownership_assigned",
});

/// ISO 4217 currencies accepted for prices, with their minor-unit exponent (amounts are
/// stored in minor units: đồng for VND, cents for USD).
pub const CURRENCIES: &[(&str, u8)] = &[
    ("VND", 0),
    ("USD", 2),
    ("EUR", 2),
    ("JPY", 0),
    ("KRW", 0),
    ("CNY", 2),
    ("GBP", 2),
    ("SGD", 2),
    ("AUD", 2),
    ("THB", 2),
    ("TWD", 2),
    ("CHF", 2),
    ("CAD", 2),
];

pub fn is_currency(code: &str) -> bool {
    CURRENCIES.iter().any(|(c, _)| *c == code)
}

/// An intellectual-property title protecting the offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IpRecord {
    /// An IP type code from `/taxonomy/ip-types`.
    #[serde(rename = "type")]
    #[schema(example = "patent")]
    pub ip_type: String,
    /// Application or registration number.
    #[schema(example = "1-0023456")]
    pub number: Option<String>,
    pub status: IpStatus,
    pub filing_date: Option<NaiveDate>,
    pub grant_date: Option<NaiveDate>,
    /// Where the title is valid.
    #[schema(example = "Việt Nam")]
    pub territory: Option<String>,
}

/// A way the offer can change hands, with licence terms for `usage_licence`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferOffer {
    /// A transfer form code from `/taxonomy/transfer-forms`.
    #[schema(example = "usage_licence")]
    pub form: String,
    /// Licences only: exclusive or not.
    pub exclusive: Option<bool>,
    /// Licences only: whether the licensee may sublicense.
    pub sublicensing: Option<bool>,
    /// Where the rights apply.
    #[schema(example = "Bắc Trung Bộ")]
    pub territory: Option<String>,
    /// Duration of the rights, in months.
    #[schema(example = 60, minimum = 1, maximum = 1200)]
    pub term_months: Option<u32>,
}

/// An asking price. Amounts are integers in the currency's minor unit (VND has none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// The lowest amount asked; required when `max` is given and for `floor` and `firm`.
    #[schema(example = 500_000_000)]
    #[schema(minimum = 0)]
    pub min: Option<i64>,
    #[schema(example = 1_200_000_000)]
    #[schema(minimum = 0)]
    pub max: Option<i64>,
    /// ISO 4217 code.
    #[schema(example = "VND")]
    pub currency: String,
    pub basis: PriceBasis,
}

/// An amount of money in a currency's minor unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Money {
    #[schema(example = 2_400_000_000_i64)]
    #[schema(minimum = 0)]
    pub amount: i64,
    #[schema(example = "VND")]
    pub currency: String,
}

/// Data of a research result (Decree 70/2018/NĐ-CP): who funded it and who holds the rights.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Research {
    pub funding_level: FundingLevel,
    #[schema(example = "Chương trình KC.07/21-30")]
    pub programme: Option<String>,
    #[schema(example = "KC.07.12/21-30")]
    pub task_code: String,
    /// Tổ chức chủ trì.
    #[schema(example = "Viện Công nghệ sinh học")]
    pub host_organization: String,
    /// Cơ quan chủ quản.
    #[schema(example = "Bộ Khoa học và Công nghệ")]
    pub managing_agency: String,
    pub budget_spent: Option<Money>,
    #[schema(example = 2024)]
    pub completion_year: Option<i32>,
    pub rights_status: RightsStatus,
    /// Who the rights were assigned to; required unless `state_owned`.
    pub assignee: Option<String>,
}

/// Everything an owner edits on a listing, after trimming.
#[derive(Debug, Clone, PartialEq)]
pub struct Content {
    pub kind: Kind,
    pub language: Lang,
    pub title: String,
    pub summary: String,
    pub description: String,
    pub advantages: Option<String>,
    pub applications: Option<String>,
    pub sectors: Vec<String>,
    pub keywords: Vec<String>,
    pub trl: Option<u8>,
    pub ip_records: Vec<IpRecord>,
    pub transfer_forms: Vec<TransferOffer>,
    pub price: Option<Price>,
    pub province: String,
    pub contact_visibility: ContactVisibility,
    pub research: Option<Research>,
}

pub(crate) fn trimmed(value: &str) -> String {
    value.trim().to_owned()
}

pub(crate) fn trimmed_opt(value: &Option<String>) -> Option<String> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned)
}

/// Sector codes without repeats, in their first order.
pub(crate) fn unique_sectors(mut sectors: Vec<String>) -> Vec<String> {
    let mut seen = Vec::new();
    sectors.retain(|s| {
        let fresh = !seen.contains(s);
        seen.push(s.clone());
        fresh
    });
    sectors
}

/// Trimmed keywords without repeats; they compare folded, so "Nông nghiệp" and
/// "nong nghiep" are one.
pub(crate) fn unique_keywords(keywords: &[String]) -> Vec<String> {
    let mut seen = Vec::new();
    keywords
        .iter()
        .map(|k| trimmed(k))
        .filter(|k| {
            let folded = fold(k);
            let fresh = !seen.contains(&folded);
            seen.push(folded);
            fresh
        })
        .collect()
}

impl Content {
    /// Trims text, drops blank optional text, removes repeated sectors and keywords (keywords
    /// compare folded, so "Nông nghiệp" and "nong nghiep" are one).
    pub fn normalized(mut self) -> Self {
        self.title = trimmed(&self.title);
        self.summary = trimmed(&self.summary);
        self.description = trimmed(&self.description);
        self.advantages = trimmed_opt(&self.advantages);
        self.applications = trimmed_opt(&self.applications);
        self.province = trimmed(&self.province);
        self.sectors = unique_sectors(std::mem::take(&mut self.sectors));
        self.keywords = unique_keywords(&self.keywords);
        for record in &mut self.ip_records {
            record.number = trimmed_opt(&record.number);
            record.territory = trimmed_opt(&record.territory);
        }
        for offer in &mut self.transfer_forms {
            offer.territory = trimmed_opt(&offer.territory);
        }
        if let Some(research) = &mut self.research {
            research.programme = trimmed_opt(&research.programme);
            research.task_code = trimmed(&research.task_code);
            research.host_organization = trimmed(&research.host_organization);
            research.managing_agency = trimmed(&research.managing_agency);
            research.assignee = trimmed_opt(&research.assignee);
        }
        self
    }

    /// The offer as the scoring function sees it.
    pub fn offer(&self) -> crate::domain::matching::Offer {
        crate::domain::matching::Offer {
            sectors: self.sectors.clone(),
            trl: self.trl,
            price: self.price.as_ref().map(|p| crate::domain::matching::Money {
                min: p.min,
                max: p.max,
                currency: p.currency.clone(),
            }),
            transfer_forms: self.transfer_forms.iter().map(|t| t.form.clone()).collect(),
            province: Some(self.province.clone()),
        }
    }

    /// What matching looks for in the demands' index: the title and keywords.
    pub fn match_text(&self) -> String {
        format!("{} {}", self.title, self.keywords.join(" "))
    }

    /// The folded title and the folded full text the search index is built from.
    pub fn search_document(&self) -> (String, String) {
        let keywords = self.keywords.join(" ");
        let mut parts = vec![
            self.title.as_str(),
            self.summary.as_str(),
            keywords.as_str(),
            self.description.as_str(),
        ];
        parts.extend(self.advantages.as_deref());
        parts.extend(self.applications.as_deref());
        if let Some(r) = &self.research {
            parts.extend(r.programme.as_deref());
            parts.push(&r.task_code);
            parts.push(&r.host_organization);
            parts.push(&r.managing_agency);
        }
        (search::index_text(&[&self.title]), search::index_text(&parts))
    }
}

mod validate;

pub use validate::validate;
pub(crate) use validate::{amount, currency, validate_province, validate_sectors_and_keywords};

#[cfg(test)]
mod tests;
