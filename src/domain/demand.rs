//! Technology demands (nhu cầu công nghệ): what an enterprise needs. They share the listings'
//! moderation state machine ([`crate::domain::moderation::Status`]) and their validation rules
//! for sectors, keywords, province and money; this module holds only what is theirs.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::lang::Lang;
use crate::domain::listing;
use crate::domain::matching;
use crate::domain::search;
use crate::domain::taxonomy;
use crate::domain::validate::Validator;
use crate::error::FieldError;

pub const MAX_PROBLEM: usize = 20_000;
pub const MAX_APPROACH: usize = 5_000;
pub const MAX_MESSAGE: usize = 2_000;
/// Proposal timelines are at most ten years.
pub const MAX_TIMELINE_MONTHS: u32 = 120;

/// What the enterprise can spend, in the currency's minor unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    #[schema(example = 200_000_000)]
    #[schema(minimum = 0)]
    pub min: Option<i64>,
    #[schema(example = 800_000_000)]
    #[schema(minimum = 0)]
    pub max: Option<i64>,
    /// ISO 4217 code.
    #[schema(example = "VND")]
    pub currency: String,
}

/// Everything an owner edits on a demand, after trimming.
#[derive(Debug, Clone, PartialEq)]
pub struct DemandContent {
    pub language: Lang,
    pub title: String,
    pub problem: String,
    pub requirements: Option<String>,
    pub sectors: Vec<String>,
    pub keywords: Vec<String>,
    pub trl_min: Option<u8>,
    pub budget: Option<Budget>,
    pub transfer_forms: Vec<String>,
    pub province: String,
    pub deadline: Option<NaiveDate>,
    pub hide_organization: bool,
}

impl DemandContent {
    pub fn normalized(mut self) -> Self {
        self.title = listing::trimmed(&self.title);
        self.problem = listing::trimmed(&self.problem);
        self.requirements = listing::trimmed_opt(&self.requirements);
        self.province = listing::trimmed(&self.province);
        self.sectors = listing::unique_sectors(self.sectors);
        self.keywords = listing::unique_keywords(&self.keywords);
        self.transfer_forms = listing::unique_sectors(self.transfer_forms);
        self
    }

    /// The folded title and full text the search index is built from.
    pub fn search_document(&self) -> (String, String) {
        let keywords = self.keywords.join(" ");
        let mut parts = vec![self.title.as_str(), keywords.as_str(), self.problem.as_str()];
        parts.extend(self.requirements.as_deref());
        (search::index_text(&[&self.title]), search::index_text(&parts))
    }

    /// What matching looks for in the offers' index: the title and keywords (the problem
    /// statement is too long to make a selective query).
    pub fn match_text(&self) -> String {
        format!("{} {}", self.title, self.keywords.join(" "))
    }

    /// The demand as the scoring function sees it.
    pub fn need(&self) -> matching::Need {
        matching::Need {
            sectors: self.sectors.clone(),
            trl_min: self.trl_min,
            budget: self.budget.as_ref().map(|b| matching::Money {
                min: b.min,
                max: b.max,
                currency: b.currency.clone(),
            }),
            transfer_forms: self.transfer_forms.clone(),
            province: Some(self.province.clone()),
        }
    }
}

/// Checks a demand's content; returns every problem, each naming its field. `today` bounds
/// the deadline (a new deadline cannot be in the past).
pub fn validate(content: &DemandContent, today: NaiveDate) -> Vec<FieldError> {
    let mut e = Validator::new();
    e.text("title", &content.title, listing::MAX_TITLE);
    e.text("problem", &content.problem, MAX_PROBLEM);
    e.optional_text("requirements", content.requirements.as_deref(), listing::MAX_LONG_TEXT);
    listing::validate_sectors_and_keywords(&mut e, &content.sectors, &content.keywords);
    if let Some(trl) = content.trl_min {
        e.check((1..=9).contains(&trl), "trl_min", "must be between 1 and 9");
    }
    if let Some(budget) = &content.budget {
        listing::currency(&mut e, "budget.currency", &budget.currency);
        for (field, value) in [("budget.min", budget.min), ("budget.max", budget.max)] {
            if let Some(value) = value {
                listing::amount(&mut e, field, value);
            }
        }
        if let (Some(min), Some(max)) = (budget.min, budget.max) {
            e.check(min <= max, "budget.min", "must not exceed budget.max");
        }
        e.check(
            budget.min.is_some() || budget.max.is_some(),
            "budget",
            "needs min or max (leave the budget out when there is none)",
        );
    }
    if content.transfer_forms.len() > taxonomy::TRANSFER_FORMS.len() {
        e.error("transfer_forms", "has too many items");
    }
    for (i, form) in content.transfer_forms.iter().enumerate() {
        e.check(
            taxonomy::is_term(taxonomy::TRANSFER_FORMS, form),
            &format!("transfer_forms[{i}]"),
            "is not a known transfer form",
        );
    }
    listing::validate_province(&mut e, &content.province);
    if let Some(deadline) = content.deadline {
        e.check(deadline >= today, "deadline", "must not be in the past");
    }
    e.into_errors()
}

/// Where a proposal is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProposalStatus {
    Pending,
    Accepted,
    Declined,
    Withdrawn,
}

impl ProposalStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ProposalStatus::Pending => "pending",
            ProposalStatus::Accepted => "accepted",
            ProposalStatus::Declined => "declined",
            ProposalStatus::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        [Self::Pending, Self::Accepted, Self::Declined, Self::Withdrawn]
            .into_iter()
            .find(|s| s.as_str() == code)
    }

    /// Only a pending proposal is decided; decisions are final.
    pub fn decide(self, accept: bool) -> Option<ProposalStatus> {
        match (self, accept) {
            (ProposalStatus::Pending, true) => Some(ProposalStatus::Accepted),
            (ProposalStatus::Pending, false) => Some(ProposalStatus::Declined),
            _ => None,
        }
    }

    /// Only a pending proposal is withdrawn (by its offering organisation); it is final.
    pub fn withdraw(self) -> Option<ProposalStatus> {
        (self == ProposalStatus::Pending).then_some(ProposalStatus::Withdrawn)
    }
}

/// Checks a proposal's own fields.
pub fn validate_proposal(
    approach: &str,
    message: Option<&str>,
    price: Option<(i64, &str)>,
    timeline_months: Option<u32>,
) -> Vec<FieldError> {
    let mut e = Validator::new();
    e.text("approach", approach, MAX_APPROACH);
    e.optional_text("message", message, MAX_MESSAGE);
    if let Some((amount, currency)) = price {
        listing::amount(&mut e, "price.amount", amount);
        listing::currency(&mut e, "price.currency", currency);
    }
    if let Some(months) = timeline_months {
        e.check(
            (1..=MAX_TIMELINE_MONTHS).contains(&months),
            "timeline_months",
            "must be between 1 and 120",
        );
    }
    e.into_errors()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 27).unwrap()
    }

    fn content() -> DemandContent {
        DemandContent {
            language: Lang::Vi,
            title: " Xử lý nước thải chăn nuôi ".into(),
            problem: "Trang trại 2 000 con lợn cần xử lý nước thải đạt QCVN.".into(),
            requirements: Some("  ".into()),
            sectors: vec!["2.7".into(), "2.7".into()],
            keywords: vec!["nước thải".into(), "nuoc thai".into()],
            trl_min: Some(6),
            budget: Some(Budget { min: Some(1), max: Some(2), currency: "VND".into() }),
            transfer_forms: vec!["usage_licence".into()],
            province: "thanh-hoa".into(),
            deadline: NaiveDate::from_ymd_opt(2027, 1, 1),
            hide_organization: true,
        }
        .normalized()
    }

    fn fields(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn a_complete_demand_is_valid_and_normalised() {
        let c = content();
        assert!(validate(&c, today()).is_empty());
        assert_eq!(c.title, "Xử lý nước thải chăn nuôi");
        assert_eq!(c.requirements, None);
        assert_eq!(c.sectors, ["2.7"]);
        assert_eq!(c.keywords, ["nước thải"]);
        assert_eq!(c.search_document().0, "xu ly nuoc thai chan nuoi");
    }

    #[test]
    fn every_bad_field_is_named() {
        let mut c = content();
        c.title = String::new();
        c.sectors = vec!["9.9".into()];
        c.trl_min = Some(0);
        c.budget = Some(Budget { min: Some(5), max: Some(4), currency: "XX".into() });
        c.transfer_forms = vec!["barter".into()];
        c.province = "sai-gon".into();
        c.deadline = NaiveDate::from_ymd_opt(2020, 1, 1);
        assert_eq!(
            fields(&validate(&c, today())),
            [
                "title",
                "sectors[0]",
                "trl_min",
                "budget.currency",
                "budget.min",
                "transfer_forms[0]",
                "province",
                "deadline"
            ]
        );
    }

    #[test]
    fn proposals_are_decided_once() {
        use ProposalStatus::*;
        assert_eq!(Pending.decide(true), Some(Accepted));
        assert_eq!(Pending.decide(false), Some(Declined));
        for s in [Accepted, Declined, Withdrawn] {
            assert_eq!(s.decide(true), None);
            assert_eq!(ProposalStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(
            fields(&validate_proposal("", None, Some((-1, "VND")), Some(0))),
            ["approach", "price.amount", "timeline_months"]
        );
    }
}
