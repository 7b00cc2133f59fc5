//! Finishing touches of the OpenAPI document that handler attributes cannot express: the
//! server entry, the security of public operations, page schemas that name their item
//! schema, and the webhooks a registered endpoint receives.

use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::ArrayItems;
use utoipa::openapi::server::ServerBuilder;
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, Required, ResponseBuilder, Schema};

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
