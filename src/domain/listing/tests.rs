//! The listing rules, by example.

use super::*;
use crate::domain::moderation::Status;
use crate::error::FieldError;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 27).unwrap()
}

fn content() -> Content {
    Content {
        kind: Kind::Technology,
        language: Lang::Vi,
        title: "  Quy trình nhân giống lan bằng nuôi cấy mô ".into(),
        summary: "Nhân nhanh giống lan sạch bệnh.".into(),
        description: "Quy trình hoàn chỉnh, đã chuyển giao cho 3 hợp tác xã.".into(),
        advantages: Some("   ".into()),
        applications: None,
        sectors: vec!["4.4".into(), "4.1".into(), "4.4".into()],
        keywords: vec!["Nuôi cấy mô".into(), "nuoi cay mo".into(), " lan ".into()],
        trl: Some(7),
        ip_records: vec![IpRecord {
            ip_type: "utility_solution".into(),
            number: Some("2-0001234".into()),
            status: IpStatus::Granted,
            filing_date: NaiveDate::from_ymd_opt(2021, 3, 1),
            grant_date: NaiveDate::from_ymd_opt(2023, 5, 2),
            territory: Some("Việt Nam".into()),
        }],
        transfer_forms: vec![TransferOffer {
            form: "usage_licence".into(),
            exclusive: Some(false),
            sublicensing: Some(false),
            territory: Some("Thanh Hóa".into()),
            term_months: Some(36),
        }],
        price: Some(Price {
            min: Some(150_000_000),
            max: Some(300_000_000),
            currency: "VND".into(),
            basis: PriceBasis::Indicative,
        }),
        province: "thanh-hoa".into(),
        contact_visibility: ContactVisibility::Members,
        research: None,
    }
    .normalized()
}

fn research() -> Research {
    Research {
        funding_level: FundingLevel::Provincial,
        programme: None,
        task_code: "ĐTKHCN.12/2022".into(),
        host_organization: "Trường Đại học Hồng Đức".into(),
        managing_agency: "Sở KH&CN Thanh Hóa".into(),
        budget_spent: Some(Money { amount: 1_200_000_000, currency: "VND".into() }),
        completion_year: Some(2024),
        rights_status: RightsStatus::StateOwned,
        assignee: None,
    }
}

fn fields(errors: &[FieldError]) -> Vec<&str> {
    errors.iter().map(|e| e.field.as_str()).collect()
}

#[test]
fn a_complete_listing_is_valid_and_normalised() {
    let c = content();
    assert!(validate(&c, today()).is_empty(), "{:?}", validate(&c, today()));
    assert_eq!(c.title, "Quy trình nhân giống lan bằng nuôi cấy mô");
    assert_eq!(c.advantages, None);
    assert_eq!(c.sectors, ["4.4", "4.1"]);
    assert_eq!(c.keywords, ["Nuôi cấy mô", "lan"]);
}

#[test]
fn every_bad_field_is_named() {
    let mut c = content();
    c.title = String::new();
    c.summary = "x".repeat(MAX_SUMMARY + 1);
    c.sectors = vec!["4.1".into(), "9.9".into()];
    c.keywords = vec!["k".repeat(MAX_KEYWORD + 1)];
    c.trl = Some(10);
    c.province = "sai-gon".into();
    c.ip_records[0].ip_type = "trademark".into();
    c.ip_records[0].grant_date = NaiveDate::from_ymd_opt(2020, 1, 1);
    c.transfer_forms.push(TransferOffer {
        form: "capital_contribution".into(),
        exclusive: Some(true),
        sublicensing: None,
        territory: None,
        term_months: Some(0),
    });
    c.transfer_forms.push(c.transfer_forms[0].clone());
    c.price = Some(Price {
        min: Some(5),
        max: Some(4),
        currency: "XYZ".into(),
        basis: PriceBasis::Floor,
    });
    let errors = validate(&c, today());
    assert_eq!(
        fields(&errors),
        [
            "title",
            "summary",
            "sectors[1]",
            "keywords[0]",
            "trl",
            "province",
            "ip_records[0].type",
            "ip_records[0].grant_date",
            "transfer_forms[1].exclusive",
            "transfer_forms[1].term_months",
            "transfer_forms[2].form",
            "price.currency",
            "price.min",
        ]
    );
}

#[test]
fn price_rules() {
    let check = |min, max, basis| {
        let mut c = content();
        c.price = Some(Price { min, max, currency: "USD".into(), basis });
        fields(&validate(&c, today())).into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    assert!(check(Some(1), Some(1), PriceBasis::Firm).is_empty());
    assert!(check(None, None, PriceBasis::Negotiable).is_empty());
    assert_eq!(check(Some(1), Some(2), PriceBasis::Firm), ["price.max"]);
    assert_eq!(check(None, None, PriceBasis::Floor), ["price.min"]);
    assert_eq!(check(None, Some(5), PriceBasis::Negotiable), ["price.min"]);
    assert_eq!(check(Some(-1), None, PriceBasis::Negotiable), ["price.min"]);
    assert_eq!(check(Some(0), Some(MAX_AMOUNT + 1), PriceBasis::Indicative), ["price.max"]);
}

#[test]
fn research_fields_belong_to_research_results_only() {
    let mut c = content();
    c.research = Some(research());
    assert_eq!(fields(&validate(&c, today())), ["research"]);
    c.kind = Kind::ResearchResult;
    assert!(validate(&c, today()).is_empty());
    c.research = None;
    assert_eq!(fields(&validate(&c, today())), ["research"]);

    let mut r = research();
    r.task_code = String::new();
    r.rights_status = RightsStatus::UsageAssigned;
    r.completion_year = Some(2031);
    r.budget_spent = Some(Money { amount: -1, currency: "VN".into() });
    c.research = Some(r);
    assert_eq!(
        fields(&validate(&c, today())),
        [
            "research.task_code",
            "research.budget_spent.amount",
            "research.budget_spent.currency",
            "research.completion_year",
            "research.assignee",
        ]
    );
    let mut r = research();
    r.assignee = Some("Công ty CP Giống cây trồng".into());
    c.research = Some(r);
    assert_eq!(fields(&validate(&c, today())), ["research.assignee"]);
}

#[test]
fn codes_round_trip_through_serde() {
    for s in Status::ALL {
        assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        assert_eq!(Status::parse(s.as_str()), Some(*s));
    }
    for k in Kind::ALL {
        assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
    }
    assert_eq!(serde_json::to_value(RightsStatus::UsageAssigned).unwrap(), "usage_assigned");
    assert_eq!(serde_json::to_value(ContactVisibility::OnRequest).unwrap(), "on_request");
}

#[test]
fn the_search_document_is_folded_words() {
    let mut c = content();
    c.kind = Kind::ResearchResult;
    c.research = Some(research());
    let (title, text) = c.search_document();
    assert_eq!(title, "quy trinh nhan giong lan bang nuoi cay mo");
    assert!(text.starts_with("quy trinh nhan giong lan bang nuoi cay mo nhan nhanh giong lan sach benh nuoi cay mo lan quy trinh"), "{text}");
    assert!(text.contains("dtkhcn 12 2022 truong dai hoc hong duc so kh cn thanh hoa"), "{text}");
}
