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
use crate::domain::validate::Validator;
use crate::error::FieldError;

/// A money amount: not negative, at most [`MAX_AMOUNT`] (demands and proposals use it too).
pub(crate) fn amount(e: &mut Validator, field: impl Into<String>, value: i64) {
    if value < 0 {
        e.error(field, "must not be negative");
    } else if value > MAX_AMOUNT {
        e.error(field, format!("must be at most {MAX_AMOUNT}"));
    }
}

/// An accepted ISO 4217 currency code ([`is_currency`]).
pub(crate) fn currency(e: &mut Validator, field: impl Into<String>, code: &str) {
    if !is_currency(code) {
        e.error(field, "is not an accepted ISO 4217 currency code (e.g. VND, USD, EUR)");
    }
}

/// Checks a listing's content; returns every problem, each naming its field
/// (`price.min`, `ip_records[1].type`, `research.assignee`…). `today` bounds dates.
pub fn validate(content: &Content, today: NaiveDate) -> Vec<FieldError> {
    let mut e = Validator::new();
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
            e.error("research", "is required for research_result listings")
        }
        (Some(_), _) => e.error("research", "is only for research_result listings"),
        (None, _) => {}
    }
    e.into_errors()
}

/// 1–10 known sector codes and at most 20 keywords of at most 60 characters.
pub(crate) fn validate_sectors_and_keywords(
    e: &mut Validator,
    sectors: &[String],
    keywords: &[String],
) {
    if sectors.is_empty() {
        e.error("sectors", "must name at least one sector");
    } else if sectors.len() > MAX_SECTORS {
        e.error("sectors", format!("must have at most {MAX_SECTORS} items"));
    }
    for (i, code) in sectors.iter().enumerate() {
        e.check(taxonomy::is_sector(code), &format!("sectors[{i}]"), "is not a known sector code");
    }

    if keywords.len() > MAX_KEYWORDS {
        e.error("keywords", format!("must have at most {MAX_KEYWORDS} items"));
    }
    for (i, keyword) in keywords.iter().enumerate() {
        let field = format!("keywords[{i}]");
        if keyword.is_empty() {
            e.error(field, "must not be empty");
        } else if keyword.chars().count() > MAX_KEYWORD {
            e.error(field, format!("must be at most {MAX_KEYWORD} characters"));
        }
    }
}

pub(crate) fn validate_province(e: &mut Validator, province: &str) {
    e.check(taxonomy::province(province).is_some(), "province", "is not a known province code");
}

fn validate_ip_records(e: &mut Validator, records: &[IpRecord], today: NaiveDate) {
    if records.len() > MAX_IP_RECORDS {
        e.error("ip_records", format!("must have at most {MAX_IP_RECORDS} items"));
    }
    for (i, record) in records.iter().enumerate() {
        let at = |field: &str| format!("ip_records[{i}].{field}");
        e.check(
            taxonomy::is_term(taxonomy::IP_TYPES, &record.ip_type),
            &at("type"),
            "is not a known IP type",
        );
        e.optional_text(&at("number"), record.number.as_deref(), MAX_IP_NUMBER);
        e.optional_text(&at("territory"), record.territory.as_deref(), MAX_TERRITORY);
        if let Some(filed) = record.filing_date {
            e.check(filed <= today, &at("filing_date"), "must not be in the future");
        }
        if let Some(granted) = record.grant_date {
            e.check(granted <= today, &at("grant_date"), "must not be in the future");
            if record.filing_date.is_some_and(|filed| granted < filed) {
                e.error(at("grant_date"), "must not be before filing_date");
            }
            e.check(
                matches!(record.status, IpStatus::Granted | IpStatus::Expired),
                &at("grant_date"),
                "only granted or expired titles have a grant date",
            );
        }
    }
}

fn validate_transfer_forms(e: &mut Validator, offers: &[TransferOffer]) {
    if offers.is_empty() {
        e.error("transfer_forms", "must offer at least one transfer form");
    } else if offers.len() > taxonomy::TRANSFER_FORMS.len() {
        e.error(
            "transfer_forms",
            format!("must have at most {} items", taxonomy::TRANSFER_FORMS.len()),
        );
    }
    for (i, offer) in offers.iter().enumerate() {
        let at = |field: &str| format!("transfer_forms[{i}].{field}");
        if !taxonomy::is_term(taxonomy::TRANSFER_FORMS, &offer.form) {
            e.error(at("form"), "is not a known transfer form");
        } else if offers[..i].iter().any(|o| o.form == offer.form) {
            e.error(at("form"), "is listed twice");
        }
        let licence = offer.form == "usage_licence";
        e.check(
            licence || offer.exclusive.is_none(),
            &at("exclusive"),
            "only licences (usage_licence) are exclusive or not",
        );
        e.check(
            licence || offer.sublicensing.is_none(),
            &at("sublicensing"),
            "only licences (usage_licence) allow sublicensing",
        );
        e.optional_text(&at("territory"), offer.territory.as_deref(), MAX_TERRITORY);
        if let Some(months) = offer.term_months {
            e.check(
                (1..=MAX_TERM_MONTHS).contains(&months),
                &at("term_months"),
                "must be between 1 and 1200",
            );
        }
    }
}

fn validate_price(e: &mut Validator, price: &Price) {
    currency(e, "price.currency", &price.currency);
    if let Some(min) = price.min {
        amount(e, "price.min", min);
    }
    if let Some(max) = price.max {
        amount(e, "price.max", max);
    }
    match (price.min, price.max) {
        (Some(min), Some(max)) if min > max => e.error("price.min", "must not exceed price.max"),
        (None, Some(_)) => e.error("price.min", "is required with price.max (use 0 for \"up to\")"),
        _ => {}
    }
    match price.basis {
        PriceBasis::Floor | PriceBasis::Firm if price.min.is_none() => {
            e.error("price.min", "is required for a floor or firm price");
        }
        PriceBasis::Firm if price.max.is_some_and(|max| Some(max) != price.min) => {
            e.error("price.max", "a firm price has one amount: leave max out or equal to min");
        }
        PriceBasis::Indicative if price.min.is_none() => {
            e.error("price.min", "an indicative price needs an amount");
        }
        _ => {}
    }
}

fn validate_research(e: &mut Validator, r: &Research, today: NaiveDate) {
    e.optional_text("research.programme", r.programme.as_deref(), MAX_NAME);
    e.text("research.task_code", &r.task_code, MAX_TASK_CODE);
    e.text("research.host_organization", &r.host_organization, MAX_NAME);
    e.text("research.managing_agency", &r.managing_agency, MAX_NAME);
    if let Some(budget) = &r.budget_spent {
        amount(e, "research.budget_spent.amount", budget.amount);
        currency(e, "research.budget_spent.currency", &budget.currency);
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
            e.error("research.assignee", "a state-owned result has no assignee");
        }
        (RightsStatus::UsageAssigned | RightsStatus::OwnershipAssigned, None) => {
            e.error("research.assignee", "is required once rights are assigned");
        }
        (_, assignee) => e.optional_text("research.assignee", assignee, MAX_NAME),
    }
}
