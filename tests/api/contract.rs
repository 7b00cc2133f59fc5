//! The enums of the OpenAPI document equal what the server can emit: each enum schema
//! against its Rust enum (every variant as serde writes it), and each response field stored
//! in a TEXT + CHECK column against that constraint in the migrated database, on both
//! backends. A schema-name collision (two Rust enums named alike, one shadowing the other
//! in the document) fails here.

use crate::common;

use common::*;
use diesel::RunQueryDsl;
use diesel::sql_types::Text;
use serde::Serialize;
use serde_json::Value;
use techx::db::DbConn;
use techx::domain::{deals, listing, moderation, taxonomy, valuation_request};

fn spec() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("openapi/openapi.json"))
        .expect("the spec is JSON")
}

/// Every value of a Rust enum as it appears in JSON.
fn wire<T: Serialize>(all: &[T]) -> Vec<String> {
    all.iter()
        .map(|v| serde_json::to_value(v).ok().and_then(|j| j.as_str().map(str::to_owned)))
        .map(|v| v.expect("a unit variant serialises as a string"))
        .collect()
}

/// The enum values a schema allows, following `$ref`, `oneOf`/`anyOf`/`allOf` (nullable
/// fields) and array `items`.
fn enum_of(spec: &Value, schema: &Value) -> Option<Vec<String>> {
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        return Some(values.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect());
    }
    if let Some(target) = schema.get("$ref").and_then(Value::as_str) {
        let name = target.rsplit('/').next()?;
        return enum_of(spec, &spec["components"]["schemas"][name]);
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(options) = schema.get(key).and_then(Value::as_array) {
            if let Some(found) = options.iter().find_map(|o| enum_of(spec, o)) {
                return Some(found);
            }
        }
    }
    schema.get("items").and_then(|items| enum_of(spec, items))
}

fn owned<'a>(values: impl Iterator<Item = &'a str>) -> Vec<String> {
    values.map(str::to_owned).collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Enum schemas the server's Rust enums define, with every variant.
fn rust_enums() -> Vec<(&'static str, Vec<String>)> {
    use techx::store::outbox::OutboxStatus;
    use techx::webhooks::EventType;
    vec![
        ("Kind", wire(listing::Kind::ALL)),
        ("Status", wire(moderation::Status::ALL)),
        ("PriceBasis", wire(listing::PriceBasis::ALL)),
        ("ContactVisibility", wire(listing::ContactVisibility::ALL)),
        ("FundingLevel", wire(listing::FundingLevel::ALL)),
        ("RightsStatus", wire(listing::RightsStatus::ALL)),
        ("ValuationStatus", wire(valuation_request::Status::ALL)),
        ("Purpose", wire(valuation_request::Purpose::ALL)),
        ("RightsKind", wire(valuation_request::RightsKind::ALL)),
        ("Method", wire(valuation_request::Method::ALL)),
        ("Stage", wire(&deals::Stage::ALL)),
        ("ChecklistItem", wire(&deals::ChecklistItem::ALL)),
        ("EventType", wire(&EventType::ALL)),
        ("Scope", wire(&techx::domain::scopes::Scope::ALL)),
        ("OutboxStatus", wire(&OutboxStatus::ALL)),
        ("FieldCode", wire(&techx::error_codes::FieldCode::ALL)),
        // Reference codes: the tables their validators accept.
        ("CurrencyCode", owned(listing::CURRENCIES.iter().map(|c| c.0))),
        ("ProvinceCode", owned(taxonomy::PROVINCES.iter().map(|p| p.code))),
        (
            "SectorCode",
            owned(taxonomy::SECTORS.iter().flat_map(|s| {
                std::iter::once(s.field.0).chain(s.subfields.iter().map(|sub| sub.0))
            })),
        ),
        ("TransferFormCode", owned(taxonomy::TRANSFER_FORMS.iter().map(|t| t.0))),
        ("IpTypeCode", owned(taxonomy::IP_TYPES.iter().map(|t| t.0))),
        ("ProblemCode", techx::error_codes::PROBLEMS.iter().map(|p| p.code.to_owned()).collect()),
    ]
}

/// Response (and request) fields stored in a TEXT column with a CHECK constraint:
/// (schema, property, table, column).
const STORED: &[(&str, &str, &str, &str)] = &[
    ("TechnologyDto", "kind", "technologies", "kind"),
    ("TechnologyDto", "status", "technologies", "status"),
    ("TechnologyDto", "language", "technologies", "language"),
    ("TechnologyDto", "contact_visibility", "technologies", "contact_visibility"),
    ("TechnologySummaryDto", "status", "technologies", "status"),
    ("Price", "basis", "technologies", "price_basis"),
    ("Research", "funding_level", "research_results", "funding_level"),
    ("Research", "rights_status", "research_results", "rights_status"),
    ("DemandDto", "status", "demands", "status"),
    ("DemandDto", "language", "demands", "language"),
    ("DemandSummaryDto", "status", "demands", "status"),
    ("ProposalDto", "status", "proposals", "status"),
    ("InquiryDto", "status", "inquiries", "status"),
    ("InquiryDto", "transfer_form", "inquiries", "transfer_form"),
    ("DealDto", "stage", "deals", "stage"),
    ("DealEventDto", "from_stage", "deals", "stage"),
    ("DealEventDto", "to_stage", "deals", "stage"),
    ("DealEventDto", "kind", "deal_events", "kind"),
    ("Terms", "transfer_form", "deals", "transfer_form"),
    ("ChecklistEntryDto", "item", "deal_checklist", "item"),
    ("OrganizationDto", "kind", "organizations", "kind"),
    ("ApiKeyDto", "role", "api_keys", "role"),
    ("MemberDto", "role", "memberships", "role"),
    ("MembershipDto", "role", "memberships", "role"),
    ("InvitationDto", "role", "invitations", "role"),
    ("UserDto", "platform_role", "users", "platform_role"),
    ("UserDto", "language", "users", "language"),
    ("VerificationRequest", "status", "organization_verifications", "status"),
    ("OutboxEntry", "channel", "outbox", "channel"),
    ("OutboxEntry", "status", "outbox", "status"),
    ("OutboxEntry", "language", "outbox", "language"),
    ("ValuationRequestDto", "status", "valuation_requests", "status"),
    ("ValuationRequestDto", "purpose", "valuation_requests", "purpose"),
    ("ValuationRequestDto", "preferred_method", "valuation_requests", "preferred_method"),
    ("ValuationEventDto", "from_status", "valuation_requests", "status"),
    ("ValuationEventDto", "to_status", "valuation_requests", "status"),
    ("Rights", "kind", "valuation_requests", "rights_kind"),
];

/// Enum schemas with neither a Rust `ALL` list nor a CHECK column of their own: request
/// vocabularies (review decisions, services), computed values (match criteria and verdicts,
/// province kinds), languages (checked through the `language` columns above) and IP record
/// states (stored inside a JSON column).
const UNSTORED: &[&str] = &[
    "Criterion",
    "ReasonCode",
    "IntermediaryService",
    "ReviewDecision",
    "ProvinceKindDto",
    "Lang",
    "IpStatus",
];

#[test]
fn spec_enums_equal_the_servers_rust_enums() {
    let spec = spec();
    for (name, values) in rust_enums() {
        let schema = &spec["components"]["schemas"][name];
        assert_eq!(enum_of(&spec, schema), Some(values), "schema {name}");
    }
}

#[test]
fn every_enum_schema_in_the_spec_has_a_server_source() {
    let spec = spec();
    let rust: Vec<&str> = rust_enums().into_iter().map(|(n, _)| n).collect();
    for (name, schema) in spec["components"]["schemas"].as_object().expect("schemas") {
        if schema.get("enum").is_none() {
            continue;
        }
        let referenced = STORED.iter().any(|(s, p, _, _)| {
            let field = spec["components"]["schemas"][s]["properties"][p].to_string();
            field.contains(&format!("#/components/schemas/{name}\""))
        });
        assert!(
            rust.contains(&name.as_str()) || referenced || UNSTORED.contains(&name.as_str()),
            "enum schema {name} is checked against nothing: map it in tests/api/contract.rs"
        );
    }
}

#[test]
fn valuation_statuses_are_the_valuation_lifecycle_not_the_listing_one() {
    let spec = spec();
    let schemas = &spec["components"]["schemas"];
    let lifecycle = ["submitted", "assigned", "in_progress", "completed", "declined", "cancelled"]
        .map(String::from);
    for (schema, field) in [
        ("ValuationRequestDto", "status"),
        ("ValuationEventDto", "from_status"),
        ("ValuationEventDto", "to_status"),
    ] {
        let values = enum_of(&spec, &schemas[schema]["properties"][field]);
        assert_eq!(values.as_deref(), Some(&lifecycle[..]), "{schema}.{field}");
    }
}

#[derive(diesel::QueryableByName)]
struct Definition {
    #[diesel(sql_type = Text)]
    def: String,
}

/// The quoted values of the CHECK constraint on `table.column`, as the migrated database
/// holds it.
fn check_values(conn: &mut DbConn, table: &str, column: &str) -> Vec<String> {
    let text = match conn {
        DbConn::Pg(pg) => {
            let rows: Vec<Definition> = diesel::sql_query(
                "SELECT pg_get_constraintdef(c.oid) AS def FROM pg_constraint c \
                 WHERE c.contype = 'c' AND c.conname = $1",
            )
            .bind::<Text, _>(format!("{table}_{column}_check"))
            .load(pg)
            .expect("pg_constraint");
            rows.into_iter().next().map(|r| r.def).unwrap_or_default()
        }
        DbConn::Sqlite(lite) => {
            let rows: Vec<Definition> = diesel::sql_query(
                "SELECT sql AS def FROM sqlite_master WHERE type = 'table' AND name = $1",
            )
            .bind::<Text, _>(table)
            .load(lite)
            .expect("sqlite_master");
            let sql = rows.into_iter().next().map(|r| r.def).unwrap_or_default();
            let flat = sql.split_whitespace().collect::<Vec<_>>().join(" ");
            let start = format!("CHECK ({column} IN (");
            flat.find(&start)
                .map(|at| {
                    let rest = &flat[at + start.len()..];
                    rest[..rest.find(')').unwrap_or(rest.len())].to_owned()
                })
                .unwrap_or_default()
        }
    };
    text.split('\'').skip(1).step_by(2).map(str::to_owned).collect()
}

backend_tests! {
    async fn spec_enums_equal_the_database_check_constraints(backend) {
        let ctx = start(backend).await;
        let spec = spec();
        let mut conn = ctx.db.connect();
        for (schema, property, table, column) in STORED {
            let node = &spec["components"]["schemas"][schema]["properties"][property];
            let documented = enum_of(&spec, node)
                .unwrap_or_else(|| panic!("{schema}.{property} has no enum in the spec"));
            let allowed = check_values(&mut conn, table, column);
            assert!(!allowed.is_empty(), "no CHECK constraint found on {table}.{column}");
            assert_eq!(sorted(documented), sorted(allowed), "{schema}.{property} vs {table}.{column}");
        }
        // The timeline filter names the event kinds a deal's timeline holds.
        let parameters = spec["paths"]["/api/v1/deals/{id}/events"]["get"]["parameters"].as_array().expect("parameters");
        let kind = parameters.iter().find(|p| p["name"] == "kind").expect("a kind filter");
        let documented = enum_of(&spec, &kind["schema"]).expect("kind is an enum");
        assert_eq!(sorted(documented), sorted(check_values(&mut conn, "deal_events", "kind")));
    }
}
