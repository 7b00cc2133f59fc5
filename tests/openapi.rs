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
