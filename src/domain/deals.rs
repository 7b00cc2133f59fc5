//! The deal pipeline as a pure state machine (Law on Technology Transfer 07/2017/QH14):
//! `open → negotiating → (valuation) → contracting → signed → delivering → completed`, and
//! `cancelled` from any stage that is not final.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The transfer form of a deal (Law on Technology Transfer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TransferForm {
    /// Chuyển nhượng quyền sở hữu.
    OwnershipAssignment,
    /// Chuyển giao quyền sử dụng: a licence.
    UsageLicence,
}

impl TransferForm {
    pub fn as_str(self) -> &'static str {
        match self {
            TransferForm::OwnershipAssignment => "ownership_assignment",
            TransferForm::UsageLicence => "usage_licence",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [TransferForm::OwnershipAssignment, TransferForm::UsageLicence]
            .into_iter()
            .find(|f| f.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Open,
    Negotiating,
    Valuation,
    Contracting,
    Signed,
    Delivering,
    Completed,
    Cancelled,
}

impl Stage {
    pub const ALL: [Stage; 8] = [
        Stage::Open,
        Stage::Negotiating,
        Stage::Valuation,
        Stage::Contracting,
        Stage::Signed,
        Stage::Delivering,
        Stage::Completed,
        Stage::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Open => "open",
            Stage::Negotiating => "negotiating",
            Stage::Valuation => "valuation",
            Stage::Contracting => "contracting",
            Stage::Signed => "signed",
            Stage::Delivering => "delivering",
            Stage::Completed => "completed",
            Stage::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|stage| stage.as_str() == s)
    }

    pub fn is_final(self) -> bool {
        matches!(self, Stage::Completed | Stage::Cancelled)
    }

    /// Stages reachable in one step, whatever the deal's data.
    pub fn next(self) -> &'static [Stage] {
        use Stage::*;
        match self {
            Open => &[Negotiating, Cancelled],
            Negotiating => &[Valuation, Contracting, Cancelled],
            // After an appraisal the parties go on negotiating or straight to the contract.
            Valuation => &[Negotiating, Contracting, Cancelled],
            // A contract draft can send the parties back to the table.
            Contracting => &[Negotiating, Signed, Cancelled],
            Signed => &[Delivering, Cancelled],
            Delivering => &[Completed, Cancelled],
            Completed | Cancelled => &[],
        }
    }
}

/// The contract items of Art. 23 of the Law on Technology Transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChecklistItem {
    Object,
    ScopeOfRights,
    TransferMethod,
    PriceAndPayment,
    Term,
    Schedule,
    Warranty,
    Penalties,
    DisputeResolution,
}

impl ChecklistItem {
    pub const ALL: [ChecklistItem; 9] = [
        ChecklistItem::Object,
        ChecklistItem::ScopeOfRights,
        ChecklistItem::TransferMethod,
        ChecklistItem::PriceAndPayment,
        ChecklistItem::Term,
        ChecklistItem::Schedule,
        ChecklistItem::Warranty,
        ChecklistItem::Penalties,
        ChecklistItem::DisputeResolution,
    ];
}

/// What a transition may depend on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// Both parties accepted the deal (a broker-created deal waits for them).
    pub parties_accepted: bool,
    /// Checklist items ticked so far.
    pub ticked: Vec<ChecklistItem>,
    pub buyer_confirmed_signing: bool,
    pub seller_confirmed_signing: bool,
    /// A reason, required to cancel.
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransitionError {
    /// The target is not reachable from the current stage.
    NotAllowed { from: Stage, to: Stage, allowed: Vec<Stage> },
    /// Reachable, but conditions are missing (each named).
    Unmet { to: Stage, missing: Vec<String> },
}

/// Decides whether a deal in `from` may move to `to` given `facts`.
pub fn check(from: Stage, to: Stage, facts: &Facts) -> Result<(), TransitionError> {
    if !from.next().contains(&to) {
        return Err(TransitionError::NotAllowed { from, to, allowed: from.next().to_vec() });
    }
    let mut missing = Vec::new();
    match to {
        Stage::Negotiating if from == Stage::Open && !facts.parties_accepted => {
            missing.push("both parties must accept the deal".to_owned());
        }
        Stage::Signed => {
            for item in ChecklistItem::ALL {
                if !facts.ticked.contains(&item) {
                    let name = serde_json::to_value(item)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default();
                    missing.push(format!("checklist item `{name}` is not ticked"));
                }
            }
            if !facts.buyer_confirmed_signing {
                missing.push("the buyer has not confirmed signing".to_owned());
            }
            if !facts.seller_confirmed_signing {
                missing.push("the seller has not confirmed signing".to_owned());
            }
        }
        Stage::Cancelled if facts.reason.as_deref().is_none_or(|r| r.trim().is_empty()) => {
            missing.push("a reason is required to cancel".to_owned());
        }
        _ => {}
    }
    if missing.is_empty() { Ok(()) } else { Err(TransitionError::Unmet { to, missing }) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Stage::*;

    fn ready() -> Facts {
        Facts {
            parties_accepted: true,
            ticked: ChecklistItem::ALL.to_vec(),
            buyer_confirmed_signing: true,
            seller_confirmed_signing: true,
            reason: Some("Bên mua rút lui".into()),
        }
    }

    #[test]
    fn the_happy_path_with_and_without_valuation() {
        let f = ready();
        for path in [
            vec![Open, Negotiating, Contracting, Signed, Delivering, Completed],
            vec![Open, Negotiating, Valuation, Contracting, Signed, Delivering, Completed],
            vec![
                Open,
                Negotiating,
                Valuation,
                Negotiating,
                Contracting,
                Negotiating,
                Contracting,
                Signed,
            ],
        ] {
            for pair in path.windows(2) {
                assert_eq!(check(pair[0], pair[1], &f), Ok(()), "{:?} → {:?}", pair[0], pair[1]);
            }
        }
    }

    #[test]
    fn illegal_moves_name_the_allowed_ones() {
        let f = ready();
        assert_eq!(
            check(Open, Signed, &f),
            Err(TransitionError::NotAllowed {
                from: Open,
                to: Signed,
                allowed: vec![Negotiating, Cancelled]
            })
        );
        assert!(matches!(check(Signed, Negotiating, &f), Err(TransitionError::NotAllowed { .. })));
        for stage in [Completed, Cancelled] {
            for to in Stage::ALL {
                assert!(
                    matches!(check(stage, to, &f), Err(TransitionError::NotAllowed { allowed, .. }) if allowed.is_empty())
                );
            }
        }
    }

    #[test]
    fn every_stage_that_is_not_final_can_be_cancelled_with_a_reason() {
        for from in Stage::ALL.into_iter().filter(|s| !s.is_final()) {
            assert_eq!(check(from, Cancelled, &ready()), Ok(()));
            let no_reason = Facts { reason: Some("  ".into()), ..ready() };
            assert_eq!(
                check(from, Cancelled, &no_reason),
                Err(TransitionError::Unmet {
                    to: Cancelled,
                    missing: vec!["a reason is required to cancel".into()]
                })
            );
        }
    }

    #[test]
    fn signing_needs_the_whole_checklist_and_both_confirmations() {
        let mut f = ready();
        f.ticked.retain(|i| *i != ChecklistItem::Warranty && *i != ChecklistItem::Penalties);
        f.seller_confirmed_signing = false;
        let Err(TransitionError::Unmet { missing, .. }) = check(Contracting, Signed, &f) else {
            panic!()
        };
        assert_eq!(
            missing,
            [
                "checklist item `warranty` is not ticked",
                "checklist item `penalties` is not ticked",
                "the seller has not confirmed signing"
            ]
        );
    }

    #[test]
    fn a_brokered_deal_waits_for_both_parties() {
        let f = Facts { parties_accepted: false, ..ready() };
        assert!(matches!(check(Open, Negotiating, &f), Err(TransitionError::Unmet { .. })));
        assert_eq!(check(Open, Cancelled, &f), Ok(()), "it can still be called off");
    }

    #[test]
    fn stage_names_round_trip() {
        for stage in Stage::ALL {
            assert_eq!(Stage::parse(stage.as_str()), Some(stage));
            assert_eq!(serde_json::to_value(stage).unwrap(), stage.as_str());
        }
    }
}
