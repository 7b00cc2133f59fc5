//! Response examples that are real responses: `openapi/response-examples.json` holds one 2xx
//! body per operation as the service answered it in a main flow on the real App
//! (`tests/api/response_examples.rs`, which fails when the service answers otherwise and
//! rewrites the file with `TECHX_BLESS=1`), with ids, times and tokens normalised. Each is
//! shown as its operation's example for that status, beside the schema it must validate
//! against (`scripts/client-check` checks that with ajv).

use utoipa::openapi::example::ExampleBuilder;
use utoipa::openapi::{OpenApi, RefOr};

/// `{"operation_id": {"status": "201", "body": …}}`.
const RECORDED: &str = include_str!("../../openapi/response-examples.json");

/// The key of a recorded example in a response's `examples`.
pub const NAME: &str = "recorded";

pub fn embed(spec: &mut OpenApi) {
    let recorded: serde_json::Map<String, serde_json::Value> = match serde_json::from_str(RECORDED)
    {
        Ok(recorded) => recorded,
        // The test that writes the file also reads it back through the document.
        Err(e) => unreachable!("openapi/response-examples.json is not an object: {e}"),
    };
    for item in spec.paths.paths.values_mut() {
        for operation in
            [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete]
                .into_iter()
                .flatten()
        {
            let Some(entry) = operation.operation_id.as_ref().and_then(|id| recorded.get(id))
            else {
                continue;
            };
            let Some(status) = entry["status"].as_str() else { continue };
            let Some(RefOr::T(response)) = operation.responses.responses.get_mut(status) else {
                continue;
            };
            let Some(content) = response.content.get_mut("application/json") else { continue };
            let example = ExampleBuilder::new()
                .summary("A real response (ids, times and tokens normalised)")
                .value(Some(entry["body"].clone()))
                .build();
            content.examples.insert(NAME.into(), RefOr::T(example));
        }
    }
}
