//! Finishing touches of the OpenAPI document that handler attributes cannot express: the
//! server entry, the security of public operations, page schemas that name their item
//! schema, and the webhooks a registered endpoint receives.

use utoipa::PartialSchema;
use utoipa::openapi::example::ExampleBuilder;
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::ArrayItems;
use utoipa::openapi::server::ServerBuilder;
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, Required, ResponseBuilder, Schema};

use crate::error::{FieldError, PROBLEM_CONTENT_TYPE};
use crate::error_codes::{self, ProblemCode, ProblemCodeSchema};

/// Applies every finishing touch; called last by [`crate::app::openapi`].
pub fn finish(spec: &mut OpenApi) {
    spec.servers = Some(vec![
        ServerBuilder::new()
            .url("/")
            .description(Some(
                "The server that serves this document (paths carry their `/api/v1` prefix)",
            ))
            .build(),
    ]);
    if let Some(license) = spec.info.license.as_mut() {
        license.identifier = Some("MIT".into());
    }
    public_operations(spec);
    page_items_by_reference(spec);
    webhooks(spec);
    if let Some(components) = spec.components.as_mut() {
        components.schemas.insert("ProblemCode".into(), ProblemCodeSchema::schema());
    }
    problem_examples(spec);
}

/// Each error response shows what that operation really answers: one example per problem
/// code its description names (`` `not_open` ``), else the status's own code, with that
/// code's detail; a 400 names a real field of the operation.
fn problem_examples(spec: &mut OpenApi) {
    // Each component's first required property.
    let first_required: std::collections::HashMap<String, String> = spec
        .components
        .iter()
        .flat_map(|c| c.schemas.iter())
        .filter_map(|(name, schema)| match schema {
            RefOr::T(Schema::Object(object)) => {
                Some((name.clone(), object.required.first()?.clone()))
            }
            _ => None,
        })
        .collect();
    for item in spec.paths.paths.values_mut() {
        for operation in
            [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete]
                .into_iter()
                .flatten()
        {
            let field = example_field(operation, &first_required);
            for (status, response) in operation.responses.responses.iter_mut() {
                let RefOr::T(response) = response else { continue };
                let Ok(status) = status.parse::<u16>() else { continue };
                let Some(content) = response.content.get_mut(PROBLEM_CONTENT_TYPE) else {
                    continue;
                };
                let named: Vec<&ProblemCode> = response
                    .description
                    .split('`')
                    .skip(1)
                    .step_by(2)
                    .filter_map(error_codes::problem)
                    .filter(|p| p.status == status)
                    .fold(Vec::new(), |mut acc, p| {
                        if !acc.iter().any(|q: &&ProblemCode| q.code == p.code) {
                            acc.push(p);
                        }
                        acc
                    });
                let codes = if named.is_empty() {
                    error_codes::default_for_status(status).into_iter().collect()
                } else {
                    named.clone()
                };
                for p in codes {
                    // Without a code of its own the response's description is the case.
                    let detail = if named.is_empty() && !matches!(status, 400 | 413 | 415 | 431) {
                        let d = response.description.trim_end_matches('.');
                        format!("{}.", d.split(':').next().unwrap_or(d).trim_end_matches('.'))
                    } else {
                        p.detail.to_owned()
                    };
                    let mut value = serde_json::json!({
                        "type": format!("urn:techx:problem:{}", p.code),
                        "title": actix_web::http::StatusCode::from_u16(status)
                            .ok()
                            .and_then(|s| s.canonical_reason())
                            .unwrap_or("Error"),
                        "status": status,
                        "detail": detail,
                        "code": p.code,
                    });
                    if p.code == "validation_failed" {
                        value["errors"] = serde_json::json!([field]);
                    }
                    let example = ExampleBuilder::new().summary(p.code).value(Some(value)).build();
                    content.examples.insert(p.code.to_owned(), RefOr::T(example));
                }
            }
        }
    }
}

/// A field error this operation can really answer: its body's first required field
/// missing, else its first parameter unparsable.
fn example_field(
    operation: &utoipa::openapi::path::Operation,
    first_required: &std::collections::HashMap<String, String>,
) -> FieldError {
    let body_field = operation.request_body.as_ref().and_then(|body| {
        let schema = body.content.get("application/json")?.schema.as_ref()?;
        let RefOr::Ref(reference) = schema else { return None };
        Some(reference.ref_location.rsplit('/').next()?.to_owned())
    });
    if let Some(schema) = body_field {
        if let Some(required) = first_required.get(&schema) {
            return FieldError::new(required.clone(), "is required");
        }
    }
    let parameter = operation.parameters.as_ref().and_then(|p| {
        p.iter()
            .find(|p| !matches!(p.parameter_in, utoipa::openapi::path::ParameterIn::Header))
            .map(|p| p.name.clone())
    });
    match parameter {
        Some(name) if name == "id" || name.ends_with("_id") => {
            FieldError::new("path", "UUID parsing failed: invalid length: expected 36 characters")
        }
        Some(name) => FieldError::new(name, "invalid type: expected a number"),
        None => FieldError::new("body", "must be a JSON object"),
    }
}

/// An operation without a `security` requirement is public: it says so (`security: []`), so
/// Swagger UI and generated clients do not guess. Optional sign-in operations declare
/// `[{}, {"bearer": []}]` on their handler.
fn public_operations(spec: &mut OpenApi) {
    for item in spec.paths.paths.values_mut() {
        for operation in
            [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete]
                .into_iter()
                .flatten()
        {
            operation.security.get_or_insert_with(Vec::new);
        }
    }
}

/// `Page_X` and `SearchPage_X` list `X` items: the schema names `X` (`#/components/schemas/X`)
/// instead of repeating it inline, so generated clients share one item type.
fn page_items_by_reference(spec: &mut OpenApi) {
    let Some(components) = spec.components.as_mut() else { return };
    let pages: Vec<(String, String)> = components
        .schemas
        .keys()
        .filter_map(|name| {
            let item = name.strip_prefix("Page_").or_else(|| name.strip_prefix("SearchPage_"))?;
            Some((name.clone(), item.to_owned()))
        })
        .collect();
    for (page, item) in pages {
        let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(&page) else {
            continue;
        };
        let Some(RefOr::T(Schema::Array(array))) = object.properties.get_mut("items") else {
            continue;
        };
        let reference = RefOr::Ref(Ref::from_schema_name(&item));
        let inline = std::mem::replace(&mut array.items, ArrayItems::RefOrSchema(reference.into()));
        if let ArrayItems::RefOrSchema(inline) = inline {
            components.schemas.entry(item).or_insert(*inline);
        }
    }
}

/// OpenAPI 3.1 `webhooks`: what a registered endpoint receives, one entry per request shape.
fn webhooks(spec: &mut OpenApi) {
    let body = RequestBodyBuilder::new()
        .description(Some(
            "The event; `X-Techx-Signature` signs these exact bytes (see registering a webhook)",
        ))
        .required(Some(Required::True))
        .content(
            "application/json",
            ContentBuilder::new().schema(Some(Ref::from_schema_name("WebhookEvent"))).build(),
        )
        .build();
    let operation = serde_json::json!({
        "tags": ["webhooks"],
        "summary": "An event delivered to a registered endpoint",
        "description": "techx POSTs each event the endpoint subscribed to (and `ping` from the \
    test operation). Any 2xx answer acknowledges it; anything else, or no answer within the \
    timeout, is retried with backoff and logged in the endpoint's delivery log.",
        "operationId": "webhook_event",
        "security": [],
        "requestBody": body,
        "responses": {
            "2XX": ResponseBuilder::new().description("Received").build(),
            "4XX": ResponseBuilder::new().description("Refused: retried, then given up on").build(),
        },
    });
    spec.extensions
        .get_or_insert_with(Default::default)
        .insert("webhooks".into(), serde_json::json!({ "event": { "post": operation } }));
}
