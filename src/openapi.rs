//! Finishing touches of the OpenAPI document that handler attributes cannot express: the
//! server entry, the security of public operations, page schemas that name their item
//! schema, the webhooks a registered endpoint receives, and the recorded responses that are
//! each operation's 2xx example.

mod response_examples;

use utoipa::PartialSchema;
use utoipa::openapi::example::ExampleBuilder;
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::ArrayItems;
use utoipa::openapi::server::ServerBuilder;
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, Required, ResponseBuilder, Schema};

use crate::error::{FieldError, PROBLEM_CONTENT_TYPE};
use crate::error_codes::{self, ProblemCode, ProblemCodeSchema};

/// Applies every finishing touch; called last by `app::openapi`.
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
        crate::api::codes::register(components);
        crate::api::payloads::register(components);
    }
    closed_sets(spec);
    request_examples(spec);
    page_links(spec);
    problem_examples(spec);
    response_examples::embed(spec);
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

/// Reference-data codes are closed sets: each string property and query parameter named
/// after one (`province`, `sectors`, `currency`, `transfer_form(s)`, `form`, `ip_type`, and
/// an IP record's `type`) refers to its code schema ([`crate::api::codes`]), which lists the
/// values its validator accepts. Properties already typed (an enum, a `$ref`) stay.
fn closed_sets(spec: &mut OpenApi) {
    use serde_json::Value;
    /// The JSON schema with its plain strings (or array items) replaced by `name`.
    fn closed(schema: &Value, name: &str) -> Option<Value> {
        let reference = serde_json::json!({ "$ref": format!("#/components/schemas/{name}") });
        let is_plain_string = |s: &Value| {
            s.get("enum").is_none() && s.get("format").is_none() && s.get("$ref").is_none()
        };
        let types: Vec<&str> = match schema.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ => return None,
        };
        let nullable = types.contains(&"null");
        if types.contains(&"string") && is_plain_string(schema) {
            let mut out = if nullable {
                serde_json::json!({ "oneOf": [{"type": "null"}, reference] })
            } else {
                reference
            };
            for key in ["description", "example"] {
                if let Some(v) = schema.get(key) {
                    out[key] = v.clone();
                }
            }
            return Some(out);
        }
        if types.contains(&"array") {
            let items = schema.get("items")?;
            let replaced = closed(items, name)?;
            let mut out = schema.clone();
            out["items"] = replaced;
            return Some(out);
        }
        None
    }
    let retype = |name: &str, schema: &mut RefOr<Schema>, code: &str| {
        let Ok(json) = serde_json::to_value(&*schema) else { return };
        if let Some(new) = closed(&json, code) {
            match serde_json::from_value(new) {
                Ok(new) => *schema = new,
                Err(e) => unreachable!("{name}: a schema deserialises: {e}"),
            }
        }
    };
    if let Some(components) = spec.components.as_mut() {
        for (schema_name, schema) in components.schemas.iter_mut() {
            let RefOr::T(Schema::Object(object)) = schema else { continue };
            for (property, schema) in object.properties.iter_mut() {
                let code = if schema_name == "IpRecord" && property == "type" {
                    Some("IpTypeCode")
                } else {
                    crate::api::codes::schema_for(property)
                };
                if let Some(code) = code {
                    retype(property, schema, code);
                }
            }
        }
    }
    for item in spec.paths.paths.values_mut() {
        for operation in
            [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete]
                .into_iter()
                .flatten()
        {
            for parameter in operation.parameters.iter_mut().flatten() {
                let Some(code) = crate::api::codes::schema_for(&parameter.name) else { continue };
                if let Some(schema) = parameter.schema.as_mut() {
                    retype(&parameter.name, schema, code);
                }
            }
        }
    }
}

/// Every JSON request body shows an example: the body schema's own, else one built from its
/// required properties and those with an example (each property's example, else its
/// enum's first value, else a value of its type and bounds).
fn request_examples(spec: &mut OpenApi) {
    use serde_json::Value;
    let Ok(components) = serde_json::to_value(&spec.components) else { return };
    let schemas = &components["schemas"];
    fn build(schemas: &Value, schema: &Value, depth: usize) -> Value {
        if depth > 6 {
            return Value::Null;
        }
        if let Some(example) = schema.get("example") {
            return example.clone();
        }
        if let Some(target) = schema.get("$ref").and_then(Value::as_str) {
            let name = target.rsplit('/').next().unwrap_or_default();
            return build(schemas, &schemas[name], depth + 1);
        }
        if let Some(first) = schema.get("enum").and_then(|e| e.get(0)) {
            return first.clone();
        }
        for key in ["oneOf", "anyOf", "allOf"] {
            if let Some(options) = schema.get(key).and_then(Value::as_array) {
                let chosen = options.iter().find(|o| o.get("type") != Some(&"null".into()));
                if let Some(option) = chosen {
                    return build(schemas, option, depth + 1);
                }
            }
        }
        let types: Vec<&str> = match schema.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let format = schema.get("format").and_then(Value::as_str).unwrap_or_default();
        if types.contains(&"object") || schema.get("properties").is_some() {
            let required: Vec<&str> = schema["required"]
                .as_array()
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let mut out = serde_json::Map::new();
            for (name, property) in schema["properties"].as_object().into_iter().flatten() {
                if required.contains(&name.as_str()) || property.get("example").is_some() {
                    out.insert(name.clone(), build(schemas, property, depth + 1));
                }
            }
            return Value::Object(out);
        }
        if types.contains(&"array") {
            let item = build(schemas, &schema["items"], depth + 1);
            return if item.is_null() { serde_json::json!([]) } else { serde_json::json!([item]) };
        }
        if types.contains(&"integer") || types.contains(&"number") {
            return schema.get("minimum").cloned().unwrap_or_else(|| 1.into());
        }
        if types.contains(&"boolean") {
            return false.into();
        }
        if types.contains(&"string") {
            return match format {
                "uuid" => "0193a5b2-7c4e-7d10-9f3a-5b6c7d8e9f01".into(),
                "date-time" => "2026-11-27T08:30:00Z".into(),
                "date" => "2026-11-27".into(),
                "email" => "lan.nguyen@vast.vn".into(),
                _ => "…".into(),
            };
        }
        Value::Null
    }
    for item in spec.paths.paths.values_mut() {
        for operation in
            [&mut item.post, &mut item.put, &mut item.patch, &mut item.delete].into_iter().flatten()
        {
            let Some(body) = operation.request_body.as_mut() else { continue };
            let Some(content) = body.content.get_mut("application/json") else { continue };
            if content.example.is_some() || !content.examples.is_empty() {
                continue;
            }
            let Some(schema) = content.schema.as_ref().and_then(|s| serde_json::to_value(s).ok())
            else {
                continue;
            };
            content.example = Some(build(schemas, &schema, 0));
        }
    }
}

/// Every page answers with RFC 8288 `Link` (see [`crate::api::links`]).
fn page_links(spec: &mut OpenApi) {
    use utoipa::openapi::header::HeaderBuilder;
    use utoipa::openapi::schema::ObjectBuilder;
    for item in spec.paths.paths.values_mut() {
        let Some(operation) = item.get.as_mut() else { continue };
        let Some(RefOr::T(ok)) = operation.responses.responses.get_mut("200") else { continue };
        let is_page =
            ok.content.get("application/json").and_then(|c| c.schema.as_ref()).is_some_and(
                |schema| match schema {
                    RefOr::Ref(r) => {
                        let name = r.ref_location.rsplit('/').next().unwrap_or_default();
                        name.starts_with("Page_") || name.starts_with("SearchPage_")
                    }
                    RefOr::T(_) => false,
                },
            );
        if is_page {
            let header = HeaderBuilder::new()
                .schema(ObjectBuilder::new().schema_type(utoipa::openapi::Type::String))
                .description(Some(
                    "RFC 8288 links to the `first`, `prev` (after the first page), `next` \
                     (before the last) and `last` pages, keeping the other query parameters: \
                     `</api/v1/deals?per_page=20&page=2>; rel=\"next\"`",
                ))
                .build();
            ok.headers.insert("Link".into(), header);
        }
    }
}
