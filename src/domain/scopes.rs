//! API key scopes and the one table saying, for every operation of the API, what a key
//! needs to call it, and what a write to it is recorded as in the audit log. The key
//! middleware, the OpenAPI document (`x-scopes`) and the tests all read this table; a test
//! fails when an operation of the document is missing from it.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What an API key may be allowed to do. A key never does more than its organisation
/// (with the role chosen at creation) may do; scopes narrow that further.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum Scope {
    #[serde(rename = "listings:read")]
    ListingsRead,
    #[serde(rename = "listings:write")]
    ListingsWrite,
    #[serde(rename = "demands:read")]
    DemandsRead,
    #[serde(rename = "demands:write")]
    DemandsWrite,
    #[serde(rename = "inquiries:read")]
    InquiriesRead,
    #[serde(rename = "inquiries:write")]
    InquiriesWrite,
    #[serde(rename = "deals:read")]
    DealsRead,
    #[serde(rename = "deals:write")]
    DealsWrite,
    #[serde(rename = "valuations:read")]
    ValuationsRead,
    #[serde(rename = "valuations:write")]
    ValuationsWrite,
    #[serde(rename = "webhooks:manage")]
    WebhooksManage,
    #[serde(rename = "reports:read")]
    ReportsRead,
}

impl Scope {
    pub const ALL: [Scope; 12] = [
        Scope::ListingsRead,
        Scope::ListingsWrite,
        Scope::DemandsRead,
        Scope::DemandsWrite,
        Scope::InquiriesRead,
        Scope::InquiriesWrite,
        Scope::DealsRead,
        Scope::DealsWrite,
        Scope::ValuationsRead,
        Scope::ValuationsWrite,
        Scope::WebhooksManage,
        Scope::ReportsRead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::ListingsRead => "listings:read",
            Scope::ListingsWrite => "listings:write",
            Scope::DemandsRead => "demands:read",
            Scope::DemandsWrite => "demands:write",
            Scope::InquiriesRead => "inquiries:read",
            Scope::InquiriesWrite => "inquiries:write",
            Scope::DealsRead => "deals:read",
            Scope::DealsWrite => "deals:write",
            Scope::ValuationsRead => "valuations:read",
            Scope::ValuationsWrite => "valuations:write",
            Scope::WebhooksManage => "webhooks:manage",
            Scope::ReportsRead => "reports:read",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == s)
    }
}

/// What an API key needs to call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Public data: any valid key (or none) may call it.
    Public,
    /// A key needs this scope.
    Scope(Scope),
    /// Never with a key: people's accounts, sessions, members, keys themselves, and the
    /// exchange staff's powers.
    NoKey,
}

/// One operation of the API.
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    pub method: &'static str,
    /// The route template, as in the OpenAPI document.
    pub path: &'static str,
    pub operation_id: &'static str,
    pub access: Access,
    /// Recorded in the audit log: false for reads, and for the few POSTs that change
    /// nothing (a calculator).
    pub audited: bool,
    /// The audit log's resource type.
    pub resource: &'static str,
    /// The path parameter naming the resource acted on; `None` for a creation (the id then
    /// comes from the created body) or a collection.
    pub resource_param: Option<&'static str>,
}

use Access::{NoKey, Public};
use Scope::*;

const fn op(
    method: &'static str,
    path: &'static str,
    operation_id: &'static str,
    access: Access,
    resource: &'static str,
    resource_param: Option<&'static str>,
) -> Operation {
    let audited = !matches!(method.as_bytes(), b"GET");
    Operation { method, path, operation_id, access, audited, resource, resource_param }
}

const fn s(scope: Scope) -> Access {
    Access::Scope(scope)
}

const ID: Option<&str> = Some("id");
const NEW: Option<&str> = None;

/// Every operation of `/api/v1` and the ops endpoints.
#[rustfmt::skip]
pub const OPERATIONS: &[Operation] = &[
    // Staff and accounts: never with a key.
    op("GET", "/api/v1/admin/outbox", "list_outbox", NoKey, "outbox", NEW),
    op("POST", "/api/v1/admin/outbox/{id}/retry", "retry_outbox", NoKey, "outbox", ID),
    op("GET", "/api/v1/admin/users", "list_users", NoKey, "user", NEW),
    op("PATCH", "/api/v1/admin/users/{id}", "update_user", NoKey, "user", ID),
    op("GET", "/api/v1/audit-events", "list_all_audit_events", NoKey, "audit_event", NEW),
    op("POST", "/api/v1/auth/login", "login", NoKey, "session", NEW),
    op("POST", "/api/v1/auth/logout", "logout", NoKey, "session", NEW),
    op("POST", "/api/v1/auth/password-reset", "password_reset", NoKey, "user", NEW),
    op("POST", "/api/v1/auth/password-reset/confirm", "password_reset_confirm", NoKey, "user", NEW),
    op("POST", "/api/v1/auth/refresh", "refresh_tokens", NoKey, "session", NEW),
    op("POST", "/api/v1/auth/register", "register", NoKey, "user", NEW),
    op("POST", "/api/v1/auth/verify-email", "verify_email", NoKey, "user", NEW),
    op("POST", "/api/v1/auth/verify-email/resend", "resend_verification", NoKey, "user", NEW),
    op("GET", "/api/v1/me", "get_me", NoKey, "user", NEW),
    op("PATCH", "/api/v1/me", "update_me", NoKey, "user", NEW),
    op("POST", "/api/v1/me/password", "change_password", NoKey, "user", NEW),
    op("POST", "/api/v1/invitations/accept", "accept_invitation", NoKey, "membership", NEW),
    // Deals.
    op("GET", "/api/v1/deals", "list_deals", s(DealsRead), "deal", NEW),
    op("POST", "/api/v1/deals", "create_deal", s(DealsWrite), "deal", NEW),
    op("GET", "/api/v1/deals/{id}", "get_deal", s(DealsRead), "deal", ID),
    op("PATCH", "/api/v1/deals/{id}", "update_deal", s(DealsWrite), "deal", ID),
    op("POST", "/api/v1/deals/{id}/accept", "accept_deal", s(DealsWrite), "deal", ID),
    op("PUT", "/api/v1/deals/{id}/checklist/{item}", "set_checklist_item", s(DealsWrite), "deal", ID),
    op("POST", "/api/v1/deals/{id}/documents", "attach_deal_document", s(DealsWrite), "deal", ID),
    op("GET", "/api/v1/deals/{id}/events", "list_deal_events", s(DealsRead), "deal", ID),
    op("POST", "/api/v1/deals/{id}/notes", "add_deal_note", s(DealsWrite), "deal", ID),
    op("POST", "/api/v1/deals/{id}/signing-confirmation", "confirm_signing", s(DealsWrite), "deal", ID),
    op("POST", "/api/v1/deals/{id}/transitions", "transition_deal", s(DealsWrite), "deal", ID),
    // Demands, proposals and matches.
    op("GET", "/api/v1/demands", "search_demands", s(DemandsRead), "demand", NEW),
    op("POST", "/api/v1/demands", "create_demand", s(DemandsWrite), "demand", NEW),
    op("GET", "/api/v1/demands/{id}", "get_demand", s(DemandsRead), "demand", ID),
    op("DELETE", "/api/v1/demands/{id}", "delete_demand", s(DemandsWrite), "demand", ID),
    op("PATCH", "/api/v1/demands/{id}", "update_demand", s(DemandsWrite), "demand", ID),
    op("POST", "/api/v1/demands/{id}/archive", "archive_demand", s(DemandsWrite), "demand", ID),
    op("GET", "/api/v1/demands/{id}/matches", "demand_matches", s(DemandsRead), "demand", ID),
    op("GET", "/api/v1/demands/{id}/proposals", "list_proposals", s(DemandsRead), "demand", ID),
    op("POST", "/api/v1/demands/{id}/proposals", "create_proposal", s(DemandsWrite), "proposal", NEW),
    op("POST", "/api/v1/demands/{id}/proposals/{proposal_id}/accept", "accept_proposal", s(DemandsWrite), "proposal", Some("proposal_id")),
    op("POST", "/api/v1/demands/{id}/proposals/{proposal_id}/decline", "decline_proposal", s(DemandsWrite), "proposal", Some("proposal_id")),
    op("POST", "/api/v1/demands/{id}/proposals/{proposal_id}/withdraw", "withdraw_proposal", s(DemandsWrite), "proposal", Some("proposal_id")),
    op("POST", "/api/v1/demands/{id}/renew", "renew_demand", s(DemandsWrite), "demand", ID),
    op("POST", "/api/v1/demands/{id}/review", "review_demand", NoKey, "demand", ID),
    op("POST", "/api/v1/demands/{id}/submit", "submit_demand", s(DemandsWrite), "demand", ID),
    op("POST", "/api/v1/matches/{technology_id}/{demand_id}/dismiss", "dismiss_match", s(DemandsWrite), "demand", Some("demand_id")),
    // Enquiries.
    op("GET", "/api/v1/inquiries", "list_inquiries", s(InquiriesRead), "inquiry", NEW),
    op("GET", "/api/v1/inquiries/{id}", "get_inquiry", s(InquiriesRead), "inquiry", ID),
    op("POST", "/api/v1/inquiries/{id}/close", "close_inquiry", s(InquiriesWrite), "inquiry", ID),
    op("POST", "/api/v1/inquiries/{id}/messages", "post_inquiry_message", s(InquiriesWrite), "inquiry", ID),
    op("POST", "/api/v1/technologies/{id}/inquiries", "create_inquiry", s(InquiriesWrite), "inquiry", NEW),
    // Organisations: profiles are public; members, invitations, keys and verification
    // are people's business.
    op("GET", "/api/v1/organizations", "list_organizations", Public, "organization", NEW),
    op("POST", "/api/v1/organizations", "create_organization", NoKey, "organization", NEW),
    op("GET", "/api/v1/organizations/{id}", "get_organization", Public, "organization", ID),
    op("PATCH", "/api/v1/organizations/{id}", "update_organization", NoKey, "organization", ID),
    op("GET", "/api/v1/organizations/{id}/api-keys", "list_api_keys", NoKey, "api_key", NEW),
    op("POST", "/api/v1/organizations/{id}/api-keys", "create_api_key", NoKey, "api_key", NEW),
    op("GET", "/api/v1/organizations/{id}/api-keys/{key_id}", "get_api_key", NoKey, "api_key", Some("key_id")),
    op("DELETE", "/api/v1/organizations/{id}/api-keys/{key_id}", "revoke_api_key", NoKey, "api_key", Some("key_id")),
    op("POST", "/api/v1/organizations/{id}/api-keys/{key_id}/roll", "roll_api_key", NoKey, "api_key", Some("key_id")),
    op("GET", "/api/v1/organizations/{id}/audit-events", "list_audit_events", s(ReportsRead), "audit_event", NEW),
    op("GET", "/api/v1/organizations/{id}/invitations", "list_invitations", NoKey, "invitation", NEW),
    op("POST", "/api/v1/organizations/{id}/invitations", "invite_member", NoKey, "invitation", NEW),
    op("DELETE", "/api/v1/organizations/{id}/invitations/{invitation_id}", "revoke_invitation", NoKey, "invitation", Some("invitation_id")),
    op("GET", "/api/v1/organizations/{id}/members", "list_members", NoKey, "membership", NEW),
    op("DELETE", "/api/v1/organizations/{id}/members/{user_id}", "remove_member", NoKey, "membership", Some("user_id")),
    op("PATCH", "/api/v1/organizations/{id}/members/{user_id}", "set_member_role", NoKey, "membership", Some("user_id")),
    op("GET", "/api/v1/organizations/{id}/technologies", "organization_technologies", s(ListingsRead), "technology", NEW),
    op("POST", "/api/v1/organizations/{id}/verification", "verify_organization", NoKey, "organization", ID),
    // Webhooks.
    op("GET", "/api/v1/organizations/{id}/webhooks", "list_webhooks", s(WebhooksManage), "webhook", NEW),
    op("POST", "/api/v1/organizations/{id}/webhooks", "create_webhook", s(WebhooksManage), "webhook", NEW),
    op("GET", "/api/v1/organizations/{id}/webhooks/{webhook_id}", "get_webhook", s(WebhooksManage), "webhook", Some("webhook_id")),
    op("DELETE", "/api/v1/organizations/{id}/webhooks/{webhook_id}", "delete_webhook", s(WebhooksManage), "webhook", Some("webhook_id")),
    op("PATCH", "/api/v1/organizations/{id}/webhooks/{webhook_id}", "update_webhook", s(WebhooksManage), "webhook", Some("webhook_id")),
    op("GET", "/api/v1/organizations/{id}/webhooks/{webhook_id}/deliveries", "list_webhook_deliveries", s(WebhooksManage), "webhook", Some("webhook_id")),
    op("POST", "/api/v1/organizations/{id}/webhooks/{webhook_id}/test", "test_webhook", s(WebhooksManage), "webhook", Some("webhook_id")),
    // Statistics and reference data.
    op("GET", "/api/v1/reports/activity", "activity_report", s(ReportsRead), "report", NEW),
    op("GET", "/api/v1/stats/overview", "stats_overview", Public, "report", NEW),
    op("GET", "/api/v1/open-data/technologies", "open_data_technologies", Public, "technology", NEW),
    op("GET", "/api/v1/taxonomy/ip-types", "ip_types", Public, "taxonomy", NEW),
    op("GET", "/api/v1/taxonomy/provinces", "provinces", Public, "taxonomy", NEW),
    op("GET", "/api/v1/taxonomy/sectors", "sectors", Public, "taxonomy", NEW),
    op("GET", "/api/v1/taxonomy/transfer-forms", "transfer_forms", Public, "taxonomy", NEW),
    op("GET", "/api/v1/taxonomy/trl-levels", "trl_levels", Public, "taxonomy", NEW),
    // Listings.
    op("GET", "/api/v1/technologies", "search_technologies", s(ListingsRead), "technology", NEW),
    op("POST", "/api/v1/technologies", "create_technology", s(ListingsWrite), "technology", NEW),
    op("GET", "/api/v1/technologies/{id}", "get_technology", s(ListingsRead), "technology", ID),
    op("DELETE", "/api/v1/technologies/{id}", "delete_technology", s(ListingsWrite), "technology", ID),
    op("PATCH", "/api/v1/technologies/{id}", "update_technology", s(ListingsWrite), "technology", ID),
    op("POST", "/api/v1/technologies/{id}/archive", "archive_technology", s(ListingsWrite), "technology", ID),
    op("GET", "/api/v1/technologies/{id}/matches", "technology_matches", s(ListingsRead), "technology", ID),
    op("POST", "/api/v1/technologies/{id}/renew", "renew_technology", s(ListingsWrite), "technology", ID),
    op("POST", "/api/v1/technologies/{id}/review", "review_technology", NoKey, "technology", ID),
    op("POST", "/api/v1/technologies/{id}/submit", "submit_technology", s(ListingsWrite), "technology", ID),
    op("GET", "/api/v1/technologies/{id}/valuations", "technology_valuations", s(ValuationsRead), "technology", ID),
    // Valuations.
    op("GET", "/api/v1/valuation-requests", "list_valuation_requests", s(ValuationsRead), "valuation_request", NEW),
    op("POST", "/api/v1/valuation-requests", "create_valuation_request", s(ValuationsWrite), "valuation_request", NEW),
    op("GET", "/api/v1/valuation-requests/{id}", "get_valuation_request", s(ValuationsRead), "valuation_request", ID),
    op("POST", "/api/v1/valuation-requests/{id}/assign", "assign_valuation_request", NoKey, "valuation_request", ID),
    op("POST", "/api/v1/valuation-requests/{id}/cancel", "cancel_valuation_request", s(ValuationsWrite), "valuation_request", ID),
    op("POST", "/api/v1/valuation-requests/{id}/claim", "claim_valuation_request", s(ValuationsWrite), "valuation_request", ID),
    op("POST", "/api/v1/valuation-requests/{id}/complete", "complete_valuation_request", s(ValuationsWrite), "valuation_request", ID),
    op("POST", "/api/v1/valuation-requests/{id}/decline", "decline_valuation_request", s(ValuationsWrite), "valuation_request", ID),
    op("POST", "/api/v1/valuation-requests/{id}/start", "start_valuation_request", s(ValuationsWrite), "valuation_request", ID),
    estimate(),
    // Ops.
    op("GET", "/healthz", "healthz", Public, "ops", NEW),
    op("GET", "/metrics", "metrics", Public, "ops", NEW),
    op("GET", "/readyz", "readyz", Public, "ops", NEW),
];

/// The calculator changes nothing: a read, though it is a POST.
const fn estimate() -> Operation {
    let mut o = op(
        "POST",
        "/api/v1/valuations/estimate",
        "estimate_valuation",
        Access::Scope(ValuationsRead),
        "valuation",
        NEW,
    );
    o.audited = false;
    o
}

/// The operation answering `method` on the route template `path`.
pub fn find(method: &str, path: &str) -> Option<&'static Operation> {
    OPERATIONS.iter().find(|o| o.method == method && o.path == path)
}

/// The operations a scope allows.
pub fn allowed_by(scope: Scope) -> impl Iterator<Item = &'static Operation> {
    OPERATIONS.iter().filter(move |o| o.access == Access::Scope(scope))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_round_trip_and_each_allows_something() {
        for scope in Scope::ALL {
            assert_eq!(Scope::parse(scope.as_str()), Some(scope));
            assert!(allowed_by(scope).count() > 0, "{} allows nothing", scope.as_str());
        }
        assert_eq!(Scope::parse("admin"), None);
    }

    #[test]
    fn operations_are_unique_and_reads_are_not_audited() {
        for (i, a) in OPERATIONS.iter().enumerate() {
            for b in &OPERATIONS[i + 1..] {
                assert!(a.operation_id != b.operation_id, "{} twice", a.operation_id);
                assert!(!(a.method == b.method && a.path == b.path), "{} {}", a.method, a.path);
            }
            if a.method == "GET" {
                assert!(!a.audited, "{}", a.operation_id);
            }
            if let Some(param) = a.resource_param {
                assert!(a.path.contains(&format!("{{{param}}}")), "{}", a.operation_id);
            }
        }
    }
}
