//! The rules a listing's content must meet, checked without the database: each problem is
//! a [`FieldError`] naming its JSON path.

use chrono::{Datelike, NaiveDate};

use super::{
    Content, IpRecord, IpStatus, Kind, MAX_AMOUNT, MAX_DESCRIPTION, MAX_IP_NUMBER, MAX_IP_RECORDS,
    MAX_KEYWORD, MAX_KEYWORDS, MAX_LONG_TEXT, MAX_NAME, MAX_SECTORS, MAX_SUMMARY, MAX_TASK_CODE,
    MAX_TERM_MONTHS, MAX_TERRITORY, MAX_TITLE, Price, PriceBasis, Research, RightsStatus,
    TransferOffer, is_currency,
};
use crate::domain::taxonomy;
use crate::error::FieldError;

/// Collects every invalid field, named by its JSON path. Shared with demands
/// (`domain/demand.rs`), which follow the same rules for the fields they have in common.
#[derive(Default)]
pub(crate) struct Errors(pub(crate) Vec<FieldError>);

impl Errors {
    pub(crate) fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    pub(crate) fn check(&mut self, ok: bool, field: impl Into<String>, message: &str) {
        if !ok {
            self.add(field, message);
        }
    }

    pub(crate) fn text(&mut self, field: &str, value: &str, max: usize) {
        let length = value.chars().count();
        if length == 0 {
            self.add(field, "must not be empty");
        } else if length > max {
            self.add(field, format!("must be at most {max} characters"));
        }
    }

    pub(crate) fn optional_text(
        &mut self,
        field: impl Into<String>,
        value: Option<&str>,
        max: usize,
    ) {
        if value.is_some_and(|v| v.chars().count() > max) {
            self.add(field, format!("must be at most {max} characters"));
        }
    }

    pub(crate) fn amount(&mut self, field: impl Into<String>, value: i64) {
        if value < 0 {
            self.add(field, "must not be negative");
        } else if value > MAX_AMOUNT {
            self.add(field, format!("must be at most {MAX_AMOUNT}"));
        }
    }

    pub(crate) fn currency(&mut self, field: impl Into<String>, code: &str) {
        if !is_currency(code) {
            self.add(field, "is not an accepted ISO 4217 currency code (e.g. VND, USD, EUR)");
        }
    }
}

/// Checks a listing's content; returns every problem, each naming its field
/// (`price.min`, `ip_records[1].type`, `research.assignee`…). `today` bounds dates.
pub fn validate(content: &Content, today: NaiveDate) -> Vec<FieldError> {
    let mut e = Errors::default();
    e.text("title", &content.title, MAX_TITLE);
    e.text("summary", &content.summary, MAX_SUMMARY);
    e.text("description", &content.description, MAX_DESCRIPTION);
    e.optional_text("advantages", content.advantages.as_deref(), MAX_LONG_TEXT);
    e.optional_text("applications", content.applications.as_deref(), MAX_LONG_TEXT);

    validate_sectors_and_keywords(&mut e, &content.sectors, &content.keywords);

    if let Some(trl) = content.trl {
        e.check((1..=9).contains(&trl), "trl", "must be between 1 and 9");
    }

    validate_province(&mut e, &content.province);

    validate_ip_records(&mut e, &content.ip_records, today);
    validate_transfer_forms(&mut e, &content.transfer_forms);
    if let Some(price) = &content.price {
        validate_price(&mut e, price);
    }

    match (&content.research, content.kind) {
        (Some(research), Kind::ResearchResult) => validate_research(&mut e, research, today),
        (None, Kind::ResearchResult) => {
            e.add("research", "is required for research_result listings")
        }
        (Some(_), _) => e.add("research", "is only for research_result listings"),
        (None, _) => {}
    }
    e.0
}

/// 1–10 known sector codes and at most 20 keywords of at most 60 characters.
pub(crate) fn validate_sectors_and_keywords(
    e: &mut Errors,
    sectors: &[String],
    keywords: &[String],
) {
    if sectors.is_empty() {
        e.add("sectors", "must name at least one sector");
    } else if sectors.len() > MAX_SECTORS {
        e.add("sectors", format!("must have at most {MAX_SECTORS} items"));
    }
    for (i, code) in sectors.iter().enumerate() {
        e.check(taxonomy::is_sector(code), format!("sectors[{i}]"), "is not a known sector code");
    }

    if keywords.len() > MAX_KEYWORDS {
        e.add("keywords", format!("must have at most {MAX_KEYWORDS} items"));
    }
    for (i, keyword) in keywords.iter().enumerate() {
        let field = format!("keywords[{i}]");
        if keyword.is_empty() {
            e.add(field, "must not be empty");
        } else if keyword.chars().count() > MAX_KEYWORD {
            e.add(field, format!("must be at most {MAX_KEYWORD} characters"));
        }
    }
}

pub(crate) fn validate_province(e: &mut Errors, province: &str) {
    e.check(taxonomy::province(province).is_some(), "province", "is not a known province code");
}

fn validate_ip_records(e: &mut Errors, records: &[IpRecord], today: NaiveDate) {
    if records.len() > MAX_IP_RECORDS {
        e.add("ip_records", format!("must have at most {MAX_IP_RECORDS} items"));
    }
    for (i, record) in records.iter().enumerate() {
        let at = |field: &str| format!("ip_records[{i}].{field}");
        e.check(
            taxonomy::is_term(taxonomy::IP_TYPES, &record.ip_type),
            at("type"),
            "is not a known IP type",
        );
        e.optional_text(at("number"), record.number.as_deref(), MAX_IP_NUMBER);
        e.optional_text(at("territory"), record.territory.as_deref(), MAX_TERRITORY);
        if let Some(filed) = record.filing_date {
            e.check(filed <= today, at("filing_date"), "must not be in the future");
        }
        if let Some(granted) = record.grant_date {
            e.check(granted <= today, at("grant_date"), "must not be in the future");
            if record.filing_date.is_some_and(|filed| granted < filed) {
                e.add(at("grant_date"), "must not be before filing_date");
            }
            e.check(
                matches!(record.status, IpStatus::Granted | IpStatus::Expired),
                at("grant_date"),
                "only granted or expired titles have a grant date",
            );
        }
    }
}

fn validate_transfer_forms(e: &mut Errors, offers: &[TransferOffer]) {
    if offers.is_empty() {
        e.add("transfer_forms", "must offer at least one transfer form");
    } else if offers.len() > taxonomy::TRANSFER_FORMS.len() {
        e.add(
            "transfer_forms",
            format!("must have at most {} items", taxonomy::TRANSFER_FORMS.len()),
        );
    }
    for (i, offer) in offers.iter().enumerate() {
        let at = |field: &str| format!("transfer_forms[{i}].{field}");
        if !taxonomy::is_term(taxonomy::TRANSFER_FORMS, &offer.form) {
            e.add(at("form"), "is not a known transfer form");
        } else if offers[..i].iter().any(|o| o.form == offer.form) {
            e.add(at("form"), "is listed twice");
        }
        let licence = offer.form == "usage_licence";
        e.check(
            licence || offer.exclusive.is_none(),
            at("exclusive"),
            "only licences (usage_licence) are exclusive or not",
        );
        e.check(
            licence || offer.sublicensing.is_none(),
            at("sublicensing"),
            "only licences (usage_licence) allow sublicensing",
        );
        e.optional_text(at("territory"), offer.territory.as_deref(), MAX_TERRITORY);
        if let Some(months) = offer.term_months {
            e.check(
                (1..=MAX_TERM_MONTHS).contains(&months),
                at("term_months"),
                "must be between 1 and 1200",
            );
        }
    }
}

fn validate_price(e: &mut Errors, price: &Price) {
    e.currency("price.currency", &price.currency);
    if let Some(min) = price.min {
        e.amount("price.min", min);
    }
    if let Some(max) = price.max {
        e.amount("price.max", max);
    }
    match (price.min, price.max) {
        (Some(min), Some(max)) if min > max => e.add("price.min", "must not exceed price.max"),
        (None, Some(_)) => e.add("price.min", "is required with price.max (use 0 for \"up to\")"),
        _ => {}
    }
    match price.basis {
        PriceBasis::Floor | PriceBasis::Firm if price.min.is_none() => {
            e.add("price.min", "is required for a floor or firm price");
        }
        PriceBasis::Firm if price.max.is_some_and(|max| Some(max) != price.min) => {
            e.add("price.max", "a firm price has one amount: leave max out or equal to min");
        }
        PriceBasis::Indicative if price.min.is_none() => {
            e.add("price.min", "an indicative price needs an amount");
        }
        _ => {}
    }
}

fn validate_research(e: &mut Errors, r: &Research, today: NaiveDate) {
    e.optional_text("research.programme", r.programme.as_deref(), MAX_NAME);
    e.text("research.task_code", &r.task_code, MAX_TASK_CODE);
    e.text("research.host_organization", &r.host_organization, MAX_NAME);
    e.text("research.managing_agency", &r.managing_agency, MAX_NAME);
    if let Some(budget) = &r.budget_spent {
        e.amount("research.budget_spent.amount", budget.amount);
        e.currency("research.budget_spent.currency", &budget.currency);
    }
    if let Some(year) = r.completion_year {
        e.check(
            (1945..=today.year()).contains(&year),
            "research.completion_year",
            "must be a year between 1945 and this year",
        );
    }
    match (r.rights_status, r.assignee.as_deref()) {
        (RightsStatus::StateOwned, Some(_)) => {
            e.add("research.assignee", "a state-owned result has no assignee");
        }
        (RightsStatus::UsageAssigned | RightsStatus::OwnershipAssigned, None) => {
            e.add("research.assignee", "is required once rights are assigned");
        }
        (_, assignee) => e.optional_text("research.assignee", assignee, MAX_NAME),
    }
}
