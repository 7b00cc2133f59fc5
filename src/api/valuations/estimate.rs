//! The stateless indicative calculator: cost, income and market approaches.

use actix_web::{HttpResponse, post, web};
use chrono::Datelike;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::YearAmount;
use crate::api::extract::{Json, LangParam, RequestLang};
use crate::api::validate::Validator;
use crate::auth::extract::Auth;
use crate::db::types::now;
use crate::domain::lang::Lang;
use crate::domain::listing;
use crate::domain::taxonomy;
use crate::domain::valuation::{
    self, Estimate, MIN_COMPARABLES, Obsolescence, Step, ValuationError,
};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::valuations::{self as store, Comparable};

// ---- Indicative calculator -------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RemainingLife {
    pub remaining_years: i64,
    pub total_years: i64,
}

/// Cost approach: R&D costs indexed to the valuation year, less obsolescence (give exactly
/// one of `obsolescence_bps` and `remaining_life`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CostInput {
    /// Historical costs by year, in minor units.
    pub costs: Vec<YearAmount>,
    /// Default: the current year.
    pub valuation_year: Option<i32>,
    /// Yearly inflation in basis points (500 = 5%).
    #[schema(example = 400)]
    pub inflation_rate_bps: i64,
    /// Share lost to obsolescence, basis points.
    pub obsolescence_bps: Option<i64>,
    pub remaining_life: Option<RemainingLife>,
}

/// Income approach, relief from royalty.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IncomeInput {
    /// Revenue forecast for each remaining year of useful life, from next year (1–50).
    pub revenues: Vec<i64>,
    #[schema(example = 500)]
    pub royalty_rate_bps: i64,
    #[schema(example = 2000)]
    pub tax_rate_bps: i64,
    #[schema(example = 1200)]
    pub discount_rate_bps: i64,
}

/// Market approach: completed deals on the exchange in `currency` with the same transfer
/// form, whose technology shares the sector and is within one TRL level.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarketInput {
    /// A FORD code; a field code ("4") also matches its sub-fields.
    #[schema(example = "2.7")]
    pub sector: String,
    #[schema(minimum = 1, maximum = 9, example = 6)]
    pub trl: u8,
    /// `ownership_assignment` or `usage_licence`.
    #[schema(example = "usage_licence")]
    pub transfer_form: String,
}

/// Give at least one of `cost`, `income` and `market`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "currency": "VND",
    "cost": {
        "costs": [{"year": 2022, "amount": 1_200_000_000_i64}, {"year": 2023, "amount": 800_000_000}],
        "valuation_year": 2026, "inflation_rate_bps": 400, "obsolescence_bps": 1500
    },
    "income": {
        "revenues": [2_000_000_000_i64, 2_500_000_000_i64, 3_000_000_000_i64],
        "royalty_rate_bps": 500, "tax_rate_bps": 2000, "discount_rate_bps": 1200
    }
}))]
pub struct EstimateRequest {
    /// ISO 4217 code of every amount, in and out.
    #[schema(example = "VND")]
    pub currency: String,
    pub cost: Option<CostInput>,
    pub income: Option<IncomeInput>,
    pub market: Option<MarketInput>,
}

/// One approach's answer with its working.
#[derive(Debug, Serialize, ToSchema)]
pub struct MethodEstimate {
    /// Minor units.
    pub value: i64,
    pub steps: Vec<Step>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MarketEstimateDto {
    /// `false`: fewer than `minimum` comparables were found, and no value is given.
    pub enough: bool,
    /// Comparable deals found.
    pub count: usize,
    pub minimum: usize,
    /// The median final price.
    pub value: Option<i64>,
    /// Interquartile range.
    pub q1: Option<i64>,
    pub q3: Option<i64>,
    pub steps: Vec<Step>,
    /// In the caller's language.
    pub message: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ValueRange {
    #[schema(minimum = 0)]
    pub min: i64,
    #[schema(minimum = 0)]
    pub max: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EstimateResponse {
    pub currency: String,
    pub cost: Option<MethodEstimate>,
    pub income: Option<MethodEstimate>,
    pub market: Option<MarketEstimateDto>,
    /// Lowest and highest value across the approaches that gave one.
    pub range: Option<ValueRange>,
}

fn calc_error(prefix: &str, e: ValuationError) -> ApiError {
    match e {
        ValuationError::Invalid(field, message) => {
            ApiError::invalid(format!("{prefix}.{field}"), message)
        }
        ValuationError::Overflow => ApiError::invalid(prefix, "the amounts are too large"),
    }
}

fn estimate_of(e: Estimate) -> MethodEstimate {
    MethodEstimate { value: e.value, steps: e.steps }
}

fn market_dto(prices: &[i64], lang: Lang) -> MarketEstimateDto {
    let count = prices.len();
    match valuation::market_approach(prices) {
        Some(m) => MarketEstimateDto {
            enough: true,
            count,
            minimum: MIN_COMPARABLES,
            value: Some(m.median),
            q1: Some(m.q1),
            q3: Some(m.q3),
            steps: vec![
                Step {
                    description: lang
                        .pick("Tứ phân vị thứ nhất (Q1)", "First quartile (Q1)")
                        .to_owned(),
                    amount: m.q1,
                },
                Step {
                    description: lang
                        .pick("Trung vị giá giao dịch", "Median final price")
                        .to_owned(),
                    amount: m.median,
                },
                Step {
                    description: lang
                        .pick("Tứ phân vị thứ ba (Q3)", "Third quartile (Q3)")
                        .to_owned(),
                    amount: m.q3,
                },
            ],
            message: match lang {
                Lang::Vi => format!("Dựa trên {count} giao dịch so sánh đã hoàn tất."),
                Lang::En => format!("Based on {count} comparable completed deals."),
            },
        },
        None => MarketEstimateDto {
            enough: false,
            count,
            minimum: MIN_COMPARABLES,
            value: None,
            q1: None,
            q3: None,
            steps: Vec::new(),
            message: match lang {
                Lang::Vi => format!(
                    "Chưa đủ giao dịch so sánh: tìm thấy {count}, cần ít nhất {MIN_COMPARABLES}."
                ),
                Lang::En => format!(
                    "Not enough comparables: {count} found, at least {MIN_COMPARABLES} needed."
                ),
            },
        },
    }
}

/// An indicative value with every step shown, by any of the cost, income (relief from
/// royalty) and market approaches; with several, a range across them. Stateless; steps are
/// in the caller's language. Not an appraisal.
#[utoipa::path(
    tag = "valuations",
    security(("bearer" = [])),
    params(LangParam),
    request_body = EstimateRequest,
    responses(
        (status = 200, body = EstimateResponse),
        (status = 400, description = "Invalid input; the field names the approach (`validation_failed`)"),
        (status = 401, description = "Not signed in"),
    )
)]
#[post("/valuations/estimate")]
pub async fn estimate_valuation(
    state: web::Data<AppState>,
    _auth: Auth,
    lang: RequestLang,
    body: Json<EstimateRequest>,
) -> Result<HttpResponse, ApiError> {
    let lang = lang.0;
    let b = body.0;
    let mut v = Validator::new();
    v.check(listing::is_currency(&b.currency), "currency", "is not a known ISO 4217 code");
    v.check(
        b.cost.is_some() || b.income.is_some() || b.market.is_some(),
        "cost",
        "give at least one of cost, income and market",
    );
    if let Some(c) = &b.cost {
        v.check(
            c.obsolescence_bps.is_some() != c.remaining_life.is_some(),
            "cost.obsolescence_bps",
            "give exactly one of obsolescence_bps and remaining_life",
        );
    }
    if let Some(m) = &b.market {
        v.check(taxonomy::is_sector(&m.sector), "market.sector", "is not a known sector code");
        v.check((1..=9).contains(&m.trl), "market.trl", "must be between 1 and 9");
        v.check(
            matches!(m.transfer_form.as_str(), "ownership_assignment" | "usage_licence"),
            "market.transfer_form",
            "must be ownership_assignment or usage_licence",
        );
    }
    v.finish()?;
    let cost = match &b.cost {
        Some(c) => {
            let obsolescence = match (&c.remaining_life, c.obsolescence_bps) {
                (Some(life), _) => Obsolescence::RemainingLife {
                    remaining_years: life.remaining_years,
                    total_years: life.total_years,
                },
                (None, bps) => Obsolescence::Percent(bps.unwrap_or(0)),
            };
            let costs: Vec<(i32, i64)> = c.costs.iter().map(|y| (y.year, y.amount)).collect();
            let year = c.valuation_year.unwrap_or_else(|| now().date().year());
            Some(estimate_of(
                valuation::cost_approach(&costs, year, c.inflation_rate_bps, obsolescence, lang)
                    .map_err(|e| calc_error("cost", e))?,
            ))
        }
        None => None,
    };
    let income = match &b.income {
        Some(i) => Some(estimate_of(
            valuation::income_approach(
                &i.revenues,
                i.royalty_rate_bps,
                i.tax_rate_bps,
                i.discount_rate_bps,
                lang,
            )
            .map_err(|e| calc_error("income", e))?,
        )),
        None => None,
    };
    let market = match b.market {
        Some(m) => {
            let comparable = Comparable {
                sector: m.sector,
                trl: i32::from(m.trl),
                transfer_form: m.transfer_form,
                currency: b.currency.clone(),
            };
            let prices =
                state.db.run(move |conn| store::comparable_prices(conn, &comparable)).await?;
            Some(market_dto(&prices, lang))
        }
        None => None,
    };
    let values: Vec<i64> = [
        cost.as_ref().map(|c| c.value),
        income.as_ref().map(|i| i.value),
        market.as_ref().and_then(|m| m.value),
    ]
    .into_iter()
    .flatten()
    .collect();
    let range = match (values.iter().min(), values.iter().max()) {
        (Some(&min), Some(&max)) => Some(ValueRange { min, max }),
        _ => None,
    };
    Ok(HttpResponse::Ok().json(EstimateResponse {
        currency: b.currency,
        cost,
        income,
        market,
        range,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn market_answer_says_when_comparables_are_too_few() {
        let few = market_dto(&[100, 200], Lang::En);
        assert!(!few.enough);
        assert_eq!((few.count, few.minimum, few.value), (2, 3, None));
        assert!(few.message.contains("2 found"), "{}", few.message);
        let enough = market_dto(&[100, 300, 200], Lang::Vi);
        assert!(enough.enough);
        assert_eq!((enough.value, enough.q1, enough.q3), (Some(200), Some(150), Some(250)));
        assert_eq!(enough.steps.len(), 3);
    }
}
