//! Indicative valuation maths (Circular 10/2019/TT-BTC approaches): cost, income
//! (relief-from-royalty) and market. Money is integer minor units; rates are basis points;
//! every division rounds half away from zero, step by step, so a result can be checked by
//! hand from the steps shown.

use serde::Serialize;
use utoipa::ToSchema;

use super::lang::Lang;

const BPS: i128 = 10_000;

/// `n / d` rounded half away from zero (`d > 0`).
pub fn round_div(n: i128, d: i128) -> i128 {
    let half = d / 2;
    if n >= 0 { (n + half) / d } else { (n - half) / d }
}

fn to_i64(v: i128) -> Result<i64, ValuationError> {
    i64::try_from(v).map_err(|_| ValuationError::Overflow)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValuationError {
    /// An input is out of range; names the input.
    Invalid(&'static str, String),
    Overflow,
}

/// One line of the working.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Step {
    pub description: String,
    /// Amount in minor units after this step.
    pub amount: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Estimate {
    pub value: i64,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Obsolescence {
    /// A share of the indexed cost that is lost, in basis points.
    Percent(i64),
    /// Value kept in proportion to the life left.
    RemainingLife { remaining_years: i64, total_years: i64 },
}

/// Cost approach: historical R&D costs indexed to the valuation year by an inflation rate,
/// less obsolescence.
pub fn cost_approach(
    costs: &[(i32, i64)],
    valuation_year: i32,
    inflation_bps: i64,
    obsolescence: Obsolescence,
    lang: Lang,
) -> Result<Estimate, ValuationError> {
    if costs.is_empty() {
        return Err(ValuationError::Invalid(
            "costs",
            "at least one year of costs is needed".into(),
        ));
    }
    if !(-5_000..=100_000).contains(&inflation_bps) {
        return Err(ValuationError::Invalid(
            "inflation_rate_bps",
            "must be between -5000 and 100000".into(),
        ));
    }
    let mut steps = Vec::new();
    let mut total: i128 = 0;
    for &(year, amount) in costs {
        // In i64: hostile years (i32::MIN) must not overflow the difference.
        let age = i64::from(valuation_year) - i64::from(year);
        if !(0..=100).contains(&age) {
            return Err(ValuationError::Invalid(
                "costs.year",
                format!("{year} must be within 100 years before {valuation_year}"),
            ));
        }
        if amount < 0 {
            return Err(ValuationError::Invalid("costs.amount", "must not be negative".into()));
        }
        let mut indexed = i128::from(amount);
        for _ in year..valuation_year {
            let grown = indexed
                .checked_mul(BPS + i128::from(inflation_bps))
                .ok_or(ValuationError::Overflow)?;
            indexed = round_div(grown, BPS);
        }
        let indexed = to_i64(indexed)?;
        steps.push(Step {
            description: lang
                .pick(
                    &format!("Chi phí năm {year} quy về năm {valuation_year}"),
                    &format!("{year} cost indexed to {valuation_year}"),
                )
                .to_owned(),
            amount: indexed,
        });
        total += i128::from(indexed);
    }
    let total_i64 = to_i64(total)?;
    steps.push(Step {
        description: lang.pick("Tổng chi phí quy đổi", "Total indexed cost").to_owned(),
        amount: total_i64,
    });
    let (kept, description) = match obsolescence {
        Obsolescence::Percent(bps) => {
            if !(0..=10_000).contains(&bps) {
                return Err(ValuationError::Invalid(
                    "obsolescence_bps",
                    "must be between 0 and 10000".into(),
                ));
            }
            (
                round_div(total * (BPS - i128::from(bps)), BPS),
                lang.pick(
                    &format!("Trừ hao mòn {}%", bps as f64 / 100.0),
                    &format!("Less obsolescence of {}%", bps as f64 / 100.0),
                )
                .to_owned(),
            )
        }
        Obsolescence::RemainingLife { remaining_years, total_years } => {
            if total_years <= 0 || !(0..=total_years).contains(&remaining_years) {
                return Err(ValuationError::Invalid(
                    "remaining_life",
                    "needs 0 ≤ remaining ≤ total, total > 0".into(),
                ));
            }
            (
                round_div(total * i128::from(remaining_years), i128::from(total_years)),
                lang.pick(
                    &format!("Nhân tỷ lệ đời sống còn lại {remaining_years}/{total_years}"),
                    &format!("Times remaining life {remaining_years}/{total_years}"),
                )
                .to_owned(),
            )
        }
    };
    let value = to_i64(kept)?;
    steps.push(Step { description, amount: value });
    Ok(Estimate { value, steps })
}

/// Income approach, relief from royalty: the present value of the after-tax royalties the
/// owner is spared over the remaining useful life (one revenue forecast per year).
pub fn income_approach(
    revenues: &[i64],
    royalty_bps: i64,
    tax_bps: i64,
    discount_bps: i64,
    lang: Lang,
) -> Result<Estimate, ValuationError> {
    if revenues.is_empty() || revenues.len() > 50 {
        return Err(ValuationError::Invalid(
            "revenues",
            "one forecast per year of remaining life, 1 to 50 years".into(),
        ));
    }
    for (field, value, max) in [
        ("royalty_rate_bps", royalty_bps, 10_000),
        ("tax_rate_bps", tax_bps, 10_000),
        ("discount_rate_bps", discount_bps, 100_000),
    ] {
        if !(0..=max).contains(&value) {
            return Err(ValuationError::Invalid(field, format!("must be between 0 and {max}")));
        }
    }
    let mut steps = Vec::new();
    let mut total: i128 = 0;
    for (i, &revenue) in revenues.iter().enumerate() {
        if revenue < 0 {
            return Err(ValuationError::Invalid("revenues", "must not be negative".into()));
        }
        let year = i + 1;
        let royalty = round_div(i128::from(revenue) * i128::from(royalty_bps), BPS);
        let after_tax = round_div(royalty * (BPS - i128::from(tax_bps)), BPS);
        let mut present = after_tax;
        for _ in 0..year {
            present = round_div(present * BPS, BPS + i128::from(discount_bps));
        }
        let present = to_i64(present)?;
        steps.push(Step {
            description: lang
                .pick(
                    &format!(
                        "Năm {year}: tiền bản quyền sau thuế {} chiết khấu về hiện tại",
                        to_i64(after_tax)?
                    ),
                    &format!(
                        "Year {year}: after-tax royalty {} discounted to today",
                        to_i64(after_tax)?
                    ),
                )
                .to_owned(),
            amount: present,
        });
        total += i128::from(present);
    }
    let value = to_i64(total)?;
    steps.push(Step {
        description: lang.pick("Tổng giá trị hiện tại", "Total present value").to_owned(),
        amount: value,
    });
    Ok(Estimate { value, steps })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketEstimate {
    pub median: i64,
    pub q1: i64,
    pub q3: i64,
    pub count: usize,
}

/// Fewer comparables than this give no market estimate.
pub const MIN_COMPARABLES: usize = 3;

/// Market approach: median and interquartile range of comparable prices (quartiles by
/// linear interpolation between order statistics), or `None` below three comparables.
pub fn market_approach(comparables: &[i64]) -> Option<MarketEstimate> {
    if comparables.len() < MIN_COMPARABLES {
        return None;
    }
    let mut sorted = comparables.to_vec();
    sorted.sort_unstable();
    let quantile = |numerator: usize, denominator: usize| -> i64 {
        let position = (sorted.len() - 1) * numerator;
        let (index, fraction) = (position / denominator, position % denominator);
        let low = i128::from(sorted[index]);
        if fraction == 0 {
            return sorted[index];
        }
        let high = i128::from(sorted[index + 1]);
        (low + round_div((high - low) * fraction as i128, denominator as i128)) as i64
    };
    Some(MarketEstimate {
        median: quantile(1, 2),
        q1: quantile(1, 4),
        q3: quantile(3, 4),
        count: sorted.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rounding_is_half_away_from_zero() {
        assert_eq!(round_div(5, 2), 3);
        assert_eq!(round_div(-5, 2), -3);
        assert_eq!(round_div(4, 3), 1);
        assert_eq!(round_div(0, 7), 0);
    }

    #[test]
    fn cost_approach_by_hand() {
        // 100,000,000 VND spent in 2023 and 50,000,000 in 2025, valued in 2026 at 4% a year:
        // 100,000,000 × 1.04³ = 112,486,400; 50,000,000 × 1.04 = 52,000,000; total
        // 164,486,400; less 20% obsolescence = 131,589,120.
        let e = cost_approach(
            &[(2023, 100_000_000), (2025, 50_000_000)],
            2026,
            400,
            Obsolescence::Percent(2_000),
            Lang::En,
        )
        .unwrap();
        let amounts: Vec<i64> = e.steps.iter().map(|s| s.amount).collect();
        assert_eq!(amounts, [112_486_400, 52_000_000, 164_486_400, 131_589_120]);
        assert_eq!(e.value, 131_589_120);
        assert_eq!(e.steps[3].description, "Less obsolescence of 20%");
        let life = cost_approach(
            &[(2026, 90_000_000)],
            2026,
            400,
            Obsolescence::RemainingLife { remaining_years: 2, total_years: 3 },
            Lang::Vi,
        )
        .unwrap();
        assert_eq!(life.value, 60_000_000);
        assert!(cost_approach(&[(2027, 1)], 2026, 0, Obsolescence::Percent(0), Lang::En).is_err());
        // A century at 1000% a year overflows: reported, not a panic.
        assert_eq!(
            cost_approach(&[(1926, i64::MAX)], 2026, 100_000, Obsolescence::Percent(0), Lang::En),
            Err(ValuationError::Overflow)
        );
        // Extreme years are refused, not overflowed (found by schemathesis).
        assert!(cost_approach(&[(i32::MIN, 1)], 0, 0, Obsolescence::Percent(0), Lang::En).is_err());
        assert!(
            cost_approach(&[(i32::MAX, 1)], i32::MIN, 0, Obsolescence::Percent(0), Lang::En)
                .is_err()
        );
    }

    #[test]
    fn income_approach_by_hand() {
        // Revenue 1,000,000,000 a year for 3 years, royalty 5%, tax 20%, discount 10%:
        // royalty 50,000,000, after tax 40,000,000; PV 36,363,636 + 33,057,851 + 30,052,592.
        let e = income_approach(&[1_000_000_000; 3], 500, 2_000, 1_000, Lang::En).unwrap();
        let amounts: Vec<i64> = e.steps.iter().map(|s| s.amount).collect();
        assert_eq!(amounts, [36_363_636, 33_057_851, 30_052_592, 99_474_079]);
        assert_eq!(
            e.steps[0].description,
            "Year 1: after-tax royalty 40000000 discounted to today"
        );
    }

    #[test]
    fn market_approach_by_hand() {
        assert_eq!(market_approach(&[10, 20]), None);
        // Sorted 100, 200, 300, 400: median 250, Q1 at 0.75 → 175, Q3 at 2.25 → 325.
        assert_eq!(
            market_approach(&[400, 100, 300, 200]),
            Some(MarketEstimate { median: 250, q1: 175, q3: 325, count: 4 })
        );
        assert_eq!(
            market_approach(&[7, 7, 7]),
            Some(MarketEstimate { median: 7, q1: 7, q3: 7, count: 3 })
        );
    }

    proptest! {
        #[test]
        fn present_value_falls_as_the_discount_rate_rises(
            revenues in proptest::collection::vec(0i64..10_000_000_000, 1..15),
            royalty in 0i64..3_000, tax in 0i64..5_000, a in 0i64..5_000, b in 0i64..5_000,
        ) {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            let cheap = income_approach(&revenues, royalty, tax, lo, Lang::En).unwrap().value;
            let dear = income_approach(&revenues, royalty, tax, hi, Lang::En).unwrap().value;
            prop_assert!(dear <= cheap);
        }

        #[test]
        fn more_obsolescence_never_raises_the_cost_value(
            costs in proptest::collection::vec((2000i32..=2026, 0i64..1_000_000_000), 1..6),
            inflation in 0i64..2_000, a in 0i64..=10_000, b in 0i64..=10_000,
        ) {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            let v = |o| cost_approach(&costs, 2026, inflation, Obsolescence::Percent(o), Lang::En).unwrap().value;
            prop_assert!(v(hi) <= v(lo));
        }

        #[test]
        fn quartiles_are_ordered_and_inside_the_data(values in proptest::collection::vec(0i64..1_000_000_000, 3..40)) {
            let m = market_approach(&values).unwrap();
            let (min, max) = (*values.iter().min().unwrap(), *values.iter().max().unwrap());
            prop_assert!(min <= m.q1 && m.q1 <= m.median && m.median <= m.q3 && m.q3 <= max);
            prop_assert_eq!(m.count, values.len());
        }
    }
}
