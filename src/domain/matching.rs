//! Explained matching of a technology offer against a demand: a 0–100 score that is the sum
//! of per-criterion contributions, each labelled and explained in Vietnamese or English, with
//! codes (criterion, verdict) for programs.
//!
//! The weights live here and nowhere else; their meaning is fixed by property tests: a
//! better offer on one criterion, all else equal, never scores lower.

use serde::Serialize;
use utoipa::ToSchema;

use super::lang::Lang;
use super::taxonomy;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Criterion {
    /// How well the texts match (from the search engine's ranking).
    TextRelevance,
    /// Same sub-field scores full, same field half.
    Sector,
    /// The offer's TRL against the wanted minimum.
    Trl,
    /// The offer's price against the budget (same currency).
    Price,
    /// A wanted transfer form is offered.
    TransferForm,
    /// Same province scores full, same region half.
    Location,
}

impl Criterion {
    /// The criterion's name for people: the one place matching labels its codes.
    pub fn label(self, lang: Lang) -> &'static str {
        let (vi, en) = match self {
            Criterion::TextRelevance => ("Mức độ tương đồng nội dung", "Text relevance"),
            Criterion::Sector => ("Lĩnh vực", "Sector"),
            Criterion::Trl => ("Mức độ sẵn sàng công nghệ (TRL)", "Technology readiness (TRL)"),
            Criterion::Price => ("Giá so với ngân sách", "Price against the budget"),
            Criterion::TransferForm => ("Hình thức chuyển giao", "Transfer form"),
            Criterion::Location => ("Địa bàn", "Location"),
        };
        lang.pick(vi, en)
    }
}

/// The verdict on one criterion, stable for programs (the `reason` text may be reworded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReasonCode {
    /// `text_relevance`: the share of the best candidate's text relevance.
    TextRelevance,
    SameSubField,
    SameField,
    DifferentSectors,
    NoTrlWanted,
    TrlNotStated,
    TrlMeetsMinimum,
    TrlBelowMinimum,
    PriceNotStated,
    DifferentCurrencies,
    PriceWithinBudget,
    PriceAboveBudget,
    NoFormWanted,
    FormOffered,
    FormNotOffered,
    LocationNotStated,
    SameProvince,
    SameRegion,
    DifferentRegion,
}

/// Points each criterion can contribute; they add up to 100.
pub const WEIGHTS: [(Criterion, u32); 6] = [
    (Criterion::TextRelevance, 30),
    (Criterion::Sector, 25),
    (Criterion::Trl, 15),
    (Criterion::Price, 10),
    (Criterion::TransferForm, 10),
    (Criterion::Location, 10),
];

/// Markdown table of the weights and labels, for the OpenAPI description.
pub fn weights_table() -> String {
    let mut table = String::from("| criterion | label (vi / en) | points |\n|---|---|---|\n");
    for (criterion, weight) in WEIGHTS {
        let name = serde_json::to_value(criterion)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let (vi, en) = (criterion.label(Lang::Vi), criterion.label(Lang::En));
        table.push_str(&format!("| `{name}` | {vi} / {en} | {weight} |\n"));
    }
    table
}

/// Money as the exchange stores it: minor units and an ISO 4217 code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Money {
    pub min: Option<i64>,
    pub max: Option<i64>,
    pub currency: String,
}

/// What the technology offers.
#[derive(Debug, Clone, Default)]
pub struct Offer {
    pub sectors: Vec<String>,
    pub trl: Option<u8>,
    pub price: Option<Money>,
    pub transfer_forms: Vec<String>,
    pub province: Option<String>,
}

/// What the demand wants.
#[derive(Debug, Clone, Default)]
pub struct Need {
    pub sectors: Vec<String>,
    pub trl_min: Option<u8>,
    pub budget: Option<Money>,
    pub transfer_forms: Vec<String>,
    pub province: Option<String>,
}

/// One criterion's share of a match score, explained.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Contribution {
    /// The criterion's code, for programs.
    pub criterion: Criterion,
    /// The criterion's name in the caller's language, to show beside the reason.
    #[schema(example = "Hình thức chuyển giao")]
    pub label: String,
    /// Points earned, 0 to `max_points`.
    pub points: f64,
    pub max_points: u32,
    /// The verdict's code, for programs.
    pub reason_code: ReasonCode,
    /// Why, in the caller's language; sectors and transfer forms by name, not code.
    #[schema(example = "Có hình thức Chuyển giao quyền sử dụng công nghệ (li-xăng)")]
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// 0–100.
    pub score: u8,
    pub contributions: Vec<Contribution>,
}

struct Judgement {
    fraction: f64,
    code: ReasonCode,
    vi: String,
    en: String,
}

fn judged(
    fraction: f64,
    code: ReasonCode,
    vi: impl Into<String>,
    en: impl Into<String>,
) -> Judgement {
    Judgement { fraction: fraction.clamp(0.0, 1.0), code, vi: vi.into(), en: en.into() }
}

/// A code's `(vi, en)` label, or the code itself for one the taxonomy does not know (stored
/// before a taxonomy change).
fn named(label: Option<(&'static str, &'static str)>, code: &str) -> (String, String) {
    label.map_or_else(|| (code.to_owned(), code.to_owned()), |(vi, en)| (vi.into(), en.into()))
}

fn text(relevance: f64) -> Judgement {
    let r = if relevance.is_finite() { relevance.clamp(0.0, 1.0) } else { 0.0 };
    let percent = (r * 100.0).round();
    judged(
        r,
        ReasonCode::TextRelevance,
        format!("Nội dung tương đồng {percent}%"),
        format!("Text relevance {percent}%"),
    )
}

fn sector(offer: &Offer, need: &Need) -> Judgement {
    let same_sub = need.sectors.iter().find(|s| s.contains('.') && offer.sectors.contains(s));
    if let Some(code) = same_sub {
        let (vi, en) = named(taxonomy::sector_label(code), code);
        return judged(
            1.0,
            ReasonCode::SameSubField,
            format!("Cùng lĩnh vực con {vi}"),
            format!("Same sub-field: {en}"),
        );
    }
    let field_of = |code: &String| taxonomy::sector_field(code);
    let same_field = need
        .sectors
        .iter()
        .filter_map(field_of)
        .find(|f| offer.sectors.iter().filter_map(field_of).any(|o| o == *f));
    match same_field {
        Some(field) => {
            let (vi, en) = named(taxonomy::sector_label(field), field);
            judged(
                0.5,
                ReasonCode::SameField,
                format!("Cùng lĩnh vực {vi}"),
                format!("Same field: {en}"),
            )
        }
        None => judged(0.0, ReasonCode::DifferentSectors, "Khác lĩnh vực", "Different sectors"),
    }
}

fn trl(offer: &Offer, need: &Need) -> Judgement {
    match (offer.trl, need.trl_min) {
        (_, None) => judged(
            1.0,
            ReasonCode::NoTrlWanted,
            "Không yêu cầu TRL tối thiểu",
            "No minimum TRL wanted",
        ),
        (None, Some(_)) => judged(0.25, ReasonCode::TrlNotStated, "Chưa rõ TRL", "TRL not stated"),
        (Some(t), Some(min)) if t >= min => judged(
            1.0,
            ReasonCode::TrlMeetsMinimum,
            format!("TRL {t} đạt mức tối thiểu {min}"),
            format!("TRL {t} meets the minimum {min}"),
        ),
        (Some(t), Some(min)) => judged(
            1.0 - f64::from(min - t) * 0.25,
            ReasonCode::TrlBelowMinimum,
            format!("TRL {t} thấp hơn mức tối thiểu {min}"),
            format!("TRL {t} is below the minimum {min}"),
        ),
    }
}

fn price(offer: &Offer, need: &Need) -> Judgement {
    let unknown = || {
        judged(
            0.5,
            ReasonCode::PriceNotStated,
            "Chưa đủ thông tin giá",
            "Price or budget not stated",
        )
    };
    let (Some(price), Some(budget)) = (&offer.price, &need.budget) else {
        return unknown();
    };
    if price.currency != budget.currency {
        return judged(
            0.5,
            ReasonCode::DifferentCurrencies,
            "Giá và ngân sách khác loại tiền",
            "Price and budget in different currencies",
        );
    }
    let asking = price.min.or(price.max);
    let (Some(asking), Some(limit)) = (asking, budget.max.or(budget.min)) else {
        return unknown();
    };
    if asking <= limit {
        judged(
            1.0,
            ReasonCode::PriceWithinBudget,
            "Giá nằm trong ngân sách",
            "Price within the budget",
        )
    } else {
        // Decays with how far the asking price is above the budget: cheaper is never worse.
        let ratio = if asking > 0 { limit.max(0) as f64 / asking as f64 } else { 1.0 };
        judged(ratio, ReasonCode::PriceAboveBudget, "Giá vượt ngân sách", "Price above the budget")
    }
}

fn transfer_form(offer: &Offer, need: &Need) -> Judgement {
    if need.transfer_forms.is_empty() {
        return judged(
            1.0,
            ReasonCode::NoFormWanted,
            "Không yêu cầu hình thức chuyển giao",
            "No transfer form wanted",
        );
    }
    match need.transfer_forms.iter().find(|f| offer.transfer_forms.contains(f)) {
        Some(form) => {
            let (vi, en) = named(taxonomy::transfer_form_label(form), form);
            judged(
                1.0,
                ReasonCode::FormOffered,
                format!("Có hình thức {vi}"),
                format!("Offers: {en}"),
            )
        }
        None => judged(
            0.0,
            ReasonCode::FormNotOffered,
            "Không có hình thức chuyển giao mong muốn",
            "Wanted transfer form not offered",
        ),
    }
}

fn location(offer: &Offer, need: &Need) -> Judgement {
    let (Some(a), Some(b)) = (offer.province.as_deref(), need.province.as_deref()) else {
        return judged(
            0.0,
            ReasonCode::LocationNotStated,
            "Chưa rõ địa bàn",
            "Location not stated",
        );
    };
    if a == b {
        return judged(1.0, ReasonCode::SameProvince, "Cùng tỉnh, thành phố", "Same province");
    }
    let region = |code: &str| taxonomy::province(code).map(|p| p.region);
    match (region(a), region(b)) {
        (Some(x), Some(y)) if x == y => {
            judged(0.5, ReasonCode::SameRegion, "Cùng vùng", "Same region")
        }
        _ => judged(0.0, ReasonCode::DifferentRegion, "Khác vùng", "Different region"),
    }
}

/// The other criteria count in proportion to the text relevance (0–1): without that, TRL,
/// price and transfer form alone (about 45 points) carried a listing whose text barely
/// relates to the demand (a salt-tolerant rice variety scored 59 against a pig-farm
/// wastewater demand). It also bounds what a weaker text match can reach, which lets
/// matching stop taking candidates once no weaker one can overtake the best it holds.
fn gate(text_relevance: f64) -> f64 {
    if text_relevance.is_finite() { text_relevance.clamp(0.0, 1.0) } else { 0.0 }
}

/// The highest score any candidate with at most this text relevance can reach: a matcher
/// that has scored every candidate above it knows no other can overtake its best.
pub fn best_possible(text_relevance: f64) -> u8 {
    let r = if text_relevance.is_finite() { text_relevance.clamp(0.0, 1.0) } else { 0.0 };
    let text_points = f64::from(WEIGHTS[0].1);
    (r * text_points + gate(r) * (100.0 - text_points)).round().clamp(0.0, 100.0) as u8
}

/// Scores `offer` for `need`. `text_relevance` is the engine's rank normalised to 0–1; the
/// other criteria are scaled by it.
pub fn score(offer: &Offer, need: &Need, text_relevance: f64, lang: Lang) -> Scored {
    let gated = gate(text_relevance);
    let mut total = 0.0;
    let contributions: Vec<Contribution> = WEIGHTS
        .iter()
        .map(|&(criterion, weight)| {
            let j = match criterion {
                Criterion::TextRelevance => text(text_relevance),
                Criterion::Sector => sector(offer, need),
                Criterion::Trl => trl(offer, need),
                Criterion::Price => price(offer, need),
                Criterion::TransferForm => transfer_form(offer, need),
                Criterion::Location => location(offer, need),
            };
            let scale = if criterion == Criterion::TextRelevance { 1.0 } else { gated };
            let points = j.fraction * f64::from(weight) * scale;
            total += points;
            Contribution {
                criterion,
                label: criterion.label(lang).to_owned(),
                points: (points * 10.0).round() / 10.0,
                max_points: weight,
                reason_code: j.code,
                reason: lang.pick(&j.vi, &j.en).to_owned(),
            }
        })
        .collect();
    Scored { score: total.round().clamp(0.0, 100.0) as u8, contributions }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn weights_sum_to_one_hundred() {
        assert_eq!(WEIGHTS.iter().map(|(_, w)| w).sum::<u32>(), 100);
        assert!(weights_table().contains("| `sector` | Lĩnh vực / Sector | 25 |"));
    }

    fn vnd(min: Option<i64>, max: Option<i64>) -> Option<Money> {
        Some(Money { min, max, currency: "VND".into() })
    }

    #[test]
    fn a_perfect_pair_scores_one_hundred_and_explains_itself() {
        let need = Need {
            sectors: vec!["4.1".into()],
            trl_min: Some(6),
            budget: vnd(Some(100), Some(500)),
            transfer_forms: vec!["usage_licence".into()],
            province: Some("thanh-hoa".into()),
        };
        let offer = Offer {
            sectors: vec!["4.1".into(), "2.9".into()],
            trl: Some(7),
            price: vnd(Some(400), Some(600)),
            transfer_forms: vec!["usage_licence".into(), "ownership_assignment".into()],
            province: Some("thanh-hoa".into()),
        };
        let scored = score(&offer, &need, 1.0, Lang::En);
        assert_eq!(scored.score, 100);
        let reasons: Vec<&str> = scored.contributions.iter().map(|c| c.reason.as_str()).collect();
        assert_eq!(
            reasons,
            [
                "Text relevance 100%",
                "Same sub-field: Agriculture, forestry and fisheries",
                "TRL 7 meets the minimum 6",
                "Price within the budget",
                "Offers: Licence of usage rights",
                "Same province"
            ]
        );
        let codes: Vec<ReasonCode> = scored.contributions.iter().map(|c| c.reason_code).collect();
        assert_eq!(
            codes,
            [
                ReasonCode::TextRelevance,
                ReasonCode::SameSubField,
                ReasonCode::TrlMeetsMinimum,
                ReasonCode::PriceWithinBudget,
                ReasonCode::FormOffered,
                ReasonCode::SameProvince
            ]
        );
        assert_eq!(scored.contributions[4].label, "Transfer form");
        let vi = score(&offer, &need, 1.0, Lang::Vi);
        assert_eq!(vi.contributions[1].label, "Lĩnh vực");
        assert_eq!(
            vi.contributions[1].reason,
            "Cùng lĩnh vực con Nông nghiệp, lâm nghiệp và thủy sản"
        );
        assert_eq!(
            vi.contributions[4].reason,
            "Có hình thức Chuyển giao quyền sử dụng công nghệ (li-xăng)"
        );
    }

    #[test]
    fn partial_credit_is_what_the_rules_say() {
        let need = Need {
            sectors: vec!["4.1".into()],
            trl_min: Some(6),
            province: Some("thanh-hoa".into()),
            ..Default::default()
        };
        let offer = Offer {
            sectors: vec!["4.4".into()],
            trl: Some(4),
            province: Some("nghe-an".into()),
            ..Default::default()
        };
        let s = score(&offer, &need, 1.0, Lang::En);
        let points: Vec<f64> = s.contributions.iter().map(|c| c.points).collect();
        // text 30, same field 12.5, TRL two below → 7.5, price unknown 5, no form wanted 10,
        // same region (north central) 5.
        assert_eq!(points, [30.0, 12.5, 7.5, 5.0, 10.0, 5.0]);
        assert_eq!(s.score, 70);
        // Half as relevant a text: every criterion counts half.
        let half = score(&offer, &need, 0.5, Lang::En);
        let points: Vec<f64> = half.contributions.iter().map(|c| c.points).collect();
        assert_eq!(points, [15.0, 6.3, 3.8, 2.5, 5.0, 2.5]);
        assert_eq!(half.score, 35);
    }

    #[test]
    fn no_candidate_scores_above_its_bound() {
        let need = Need { sectors: vec!["4.1".into()], ..Default::default() };
        let offer = Offer { sectors: vec!["4.1".into()], ..Default::default() };
        for r in [0.0, 0.1, 0.33, 0.5, 0.9, 1.0] {
            assert!(score(&offer, &need, r, Lang::En).score <= best_possible(r), "{r}");
        }
        assert_eq!(best_possible(1.0), 100);
        assert_eq!(best_possible(0.2), 20);
    }

    fn arb_money() -> impl Strategy<Value = Option<Money>> {
        prop_oneof![
            Just(None),
            (
                proptest::option::of(0i64..1_000_000),
                proptest::option::of(0i64..1_000_000),
                prop_oneof![Just("VND"), Just("USD")]
            )
                .prop_map(|(min, max, c)| Some(Money { min, max, currency: c.into() })),
        ]
    }

    const SECTORS: &[&str] = &["1.2", "2.9", "3.2", "4.1", "4.4", "4", "2"];
    const FORMS: &[&str] =
        &["ownership_assignment", "usage_licence", "capital_contribution", "technical_services"];
    const PROVINCES: &[&str] = &["thanh-hoa", "nghe-an", "ha-noi", "can-tho", "ho-chi-minh"];

    fn arb_codes(pool: &'static [&'static str]) -> impl Strategy<Value = Vec<String>> {
        proptest::sample::subsequence(pool, 0..=3)
            .prop_map(|v| v.into_iter().map(String::from).collect())
    }

    fn arb_province() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(proptest::sample::select(PROVINCES).prop_map(String::from))
    }

    prop_compose! {
        fn arb_offer()(sectors in arb_codes(SECTORS), trl in proptest::option::of(1u8..=9), price in arb_money(),
                       transfer_forms in arb_codes(FORMS), province in arb_province()) -> Offer {
            Offer { sectors, trl, price, transfer_forms, province }
        }
    }

    prop_compose! {
        fn arb_need()(sectors in arb_codes(SECTORS), trl_min in proptest::option::of(1u8..=9), budget in arb_money(),
                      transfer_forms in arb_codes(FORMS), province in arb_province()) -> Need {
            Need { sectors, trl_min, budget, transfer_forms, province }
        }
    }

    proptest! {
        #[test]
        fn score_is_bounded_and_the_sum_of_its_parts(offer in arb_offer(), need in arb_need(), r in -1.0f64..2.0) {
            let s = score(&offer, &need, r, Lang::En);
            prop_assert!(s.score <= 100);
            let sum: f64 = s.contributions.iter().map(|c| c.points).sum();
            prop_assert!((sum - f64::from(s.score)).abs() <= 1.0);
            for c in &s.contributions {
                prop_assert!(c.points >= 0.0 && c.points <= f64::from(c.max_points));
                prop_assert!(!c.reason.is_empty());
            }
        }

        #[test]
        fn more_text_relevance_never_scores_lower(offer in arb_offer(), need in arb_need(), a in 0.0f64..1.0, b in 0.0f64..1.0) {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            prop_assert!(score(&offer, &need, hi, Lang::En).score >= score(&offer, &need, lo, Lang::En).score);
        }

        #[test]
        fn a_higher_trl_never_scores_lower(offer in arb_offer(), need in arb_need(), r in 0.0f64..1.0) {
            let better = Offer { trl: Some(offer.trl.map_or(9, |t| (t + 1).min(9))), ..offer.clone() };
            prop_assert!(score(&better, &need, r, Lang::En).score >= score(&offer, &need, r, Lang::En).score);
        }

        #[test]
        fn a_cheaper_price_never_scores_lower(offer in arb_offer(), need in arb_need(), r in 0.0f64..1.0, cut in 0i64..1_000_000) {
            let Some(price) = offer.price.clone() else { return Ok(()) };
            let cheaper = Money { min: price.min.map(|m| (m - cut).max(0)), max: price.max.map(|m| (m - cut).max(0)), ..price };
            let better = Offer { price: Some(cheaper), ..offer.clone() };
            prop_assert!(score(&better, &need, r, Lang::En).score >= score(&offer, &need, r, Lang::En).score);
        }

        #[test]
        fn offering_a_wanted_form_or_sector_never_scores_lower(offer in arb_offer(), need in arb_need(), r in 0.0f64..1.0) {
            let mut more = offer.clone();
            more.transfer_forms.extend(need.transfer_forms.first().cloned());
            more.sectors.extend(need.sectors.first().cloned());
            prop_assert!(score(&more, &need, r, Lang::En).score >= score(&offer, &need, r, Lang::En).score);
        }

        #[test]
        fn moving_to_the_demands_province_never_scores_lower(offer in arb_offer(), need in arb_need(), r in 0.0f64..1.0) {
            let near = Offer { province: need.province.clone(), ..offer.clone() };
            prop_assert!(score(&near, &need, r, Lang::En).score >= score(&offer, &need, r, Lang::En).score);
        }
    }
}
