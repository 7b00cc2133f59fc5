//! The committed contract matches the code, and every operation documents its errors.

#[test]
fn committed_openapi_matches_the_code() {
    let generated = techx::app::openapi_json();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    if committed != generated {
        panic!(
            "openapi/openapi.json is out of date: regenerate it with\n    cargo run -q -- openapi > openapi/openapi.json"
        );
    }
}

#[test]
fn every_operation_documents_problem_errors() {
    let spec: serde_json::Value = serde_json::from_str(&techx::app::openapi_json()).unwrap();
    let paths = spec["paths"].as_object().unwrap();
    assert!(!paths.is_empty());
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            assert!(responses.contains_key("500"), "{method} {path} lacks 500");
            let errors: Vec<_> = responses
                .iter()
                .filter(|(s, _)| s.starts_with('4') || s.starts_with('5'))
                .collect();
            for (status, response) in errors {
                let schema = &response["content"]["application/problem+json"]["schema"]["$ref"];
                assert_eq!(schema, "#/components/schemas/Problem", "{method} {path} {status}");
            }
            if path.starts_with("/api/") {
                assert!(responses.contains_key("503"), "{method} {path} lacks 503");
            }
        }
    }
}

/// Each operation's `security` follows its handler's extractor: `Auth` → bearer,
/// `MaybeAuth` → optional (`[{}, {"bearer": []}]`), neither → public (`[]`). Read from the
/// handlers' source, so a new handler cannot leave Swagger UI guessing.
#[test]
fn security_follows_the_handlers_extractors() {
    let spec: serde_json::Value = serde_json::from_str(&techx::app::openapi_json()).unwrap();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/api");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let source = std::fs::read_to_string(&path).unwrap();
        let prefix = if path.ends_with("ops.rs") { "" } else { "/api/v1" };
        for chunk in source.split("#[utoipa::path(").skip(1) {
            let route = ["get", "post", "put", "patch", "delete"].into_iter().find_map(|m| {
                let start = chunk.find(&format!("#[{m}(\""))? + m.len() + 4;
                let end = start + chunk[start..].find('"')?;
                Some((m, &chunk[start..end]))
            });
            let (method, route) = route.unwrap_or_else(|| panic!("a route in {path:?}"));
            let signature = &chunk[chunk.find("pub async fn").unwrap()..];
            let signature = &signature[..signature.find('{').unwrap()];
            let expected = if signature.contains(": MaybeAuth") {
                serde_json::json!([{}, {"bearer": []}])
            } else if signature.contains(": Auth") {
                serde_json::json!([{"bearer": []}])
            } else {
                serde_json::json!([])
            };
            let op = &spec["paths"][format!("{prefix}{route}")][method];
            assert!(op.is_object(), "{method} {prefix}{route} is in the spec");
            assert_eq!(op["security"], expected, "{method} {prefix}{route}");
            checked += 1;
        }
    }
    let operations: usize =
        spec["paths"].as_object().unwrap().values().map(|i| i.as_object().unwrap().len()).sum();
    assert_eq!(checked, operations, "every operation's handler was read");
    assert!(spec["servers"][0]["url"].is_string(), "a servers entry");
}
