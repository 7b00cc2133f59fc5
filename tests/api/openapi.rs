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

/// Whether each operation's `security` matches its handler's extractor is tested by calling
/// it (`security::every_operation_authenticates_as_its_security_says`).
#[test]
fn the_document_names_its_server() {
    let spec: serde_json::Value = serde_json::from_str(&techx::app::openapi_json()).unwrap();
    assert!(spec["servers"][0]["url"].is_string(), "a servers entry");
}

/// No schema in the document leaves a front-end guessing: no untyped `object` (what
/// `openapi-typescript` turns into `Record<string, never>`), no free `string` where the
/// server has a closed set (reference codes, kinds, statuses, stages, languages, roles,
/// problem and field codes), and every JSON request body has an example.
#[test]
fn schemas_are_exact() {
    use serde_json::Value;
    const CLOSED: &[&str] = &[
        "province",
        "provinces",
        "sector",
        "sectors",
        "currency",
        "transfer_form",
        "transfer_forms",
        "form",
        "ip_type",
        "kind",
        "status",
        "stage",
        "from_stage",
        "to_stage",
        "language",
        "role",
        "platform_role",
        "code",
        "lang",
        "event_type",
        "event_types",
        "basis",
        "funding_level",
        "rights_status",
        "decision",
        "purpose",
    ];
    /// Exempt: the health and readiness words are not sets a client branches on, and a
    /// taxonomy entry's `code` is how the transfer-form and IP-type lists define their sets
    /// (`TransferFormCode`, `IpTypeCode`).
    const FREE: &[(&str, &str)] =
        &[("Health", "status"), ("Readiness", "status"), ("LabelledCode", "code")];
    fn is_typed_string(schema: &Value) -> bool {
        schema.get("enum").is_some()
            || schema.get("$ref").is_some()
            || ["oneOf", "anyOf", "allOf"].iter().any(|k| {
                schema.get(*k).and_then(Value::as_array).is_some_and(|options| {
                    options.iter().any(|o| o.get("$ref").is_some() || o.get("enum").is_some())
                })
            })
    }
    fn types(schema: &Value) -> Vec<String> {
        match schema.get("type") {
            Some(Value::String(t)) => vec![t.clone()],
            Some(Value::Array(ts)) => {
                ts.iter().filter_map(|t| t.as_str().map(String::from)).collect()
            }
            _ => vec![],
        }
    }
    fn walk(schema: &Value, at: &str, problems: &mut Vec<String>) {
        match schema {
            Value::Object(map) => {
                let t = types(schema);
                if t.iter().any(|t| t == "object")
                    && !map.contains_key("properties")
                    && !map.contains_key("additionalProperties")
                    && !map.contains_key("oneOf")
                {
                    problems.push(format!("{at}: untyped object"));
                }
                for (key, value) in map {
                    walk(value, &format!("{at}/{key}"), problems);
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    walk(v, &format!("{at}/{i}"), problems);
                }
            }
            _ => {}
        }
    }
    let check_closed = |owner: &str, name: &str, schema: &Value, problems: &mut Vec<String>| {
        if !CLOSED.contains(&name) || FREE.contains(&(owner, name)) {
            return;
        }
        let target =
            if types(schema).iter().any(|t| t == "array") { &schema["items"] } else { schema };
        let plain = types(target).iter().any(|t| t == "string") && !is_typed_string(target);
        if plain {
            problems.push(format!("{owner}.{name}: a free string for a closed set"));
        }
    };
    let spec: Value = serde_json::from_str(&techx::app::openapi_json()).unwrap();
    let mut problems = Vec::new();
    walk(&spec, "#", &mut problems);
    for (name, schema) in spec["components"]["schemas"].as_object().unwrap() {
        for (property, value) in schema["properties"].as_object().into_iter().flatten() {
            check_closed(name, property, value, &mut problems);
        }
    }
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for parameter in op["parameters"].as_array().into_iter().flatten() {
                let name = parameter["name"].as_str().unwrap();
                check_closed(
                    &format!("{method} {path}"),
                    name,
                    &parameter["schema"],
                    &mut problems,
                );
            }
            let body = &op["requestBody"]["content"]["application/json"];
            if body.is_object() && body.get("example").is_none() && body.get("examples").is_none() {
                problems.push(format!("{method} {path}: request body without an example"));
            }
        }
    }
    assert!(problems.is_empty(), "inexact schemas:\n{}", problems.join("\n"));
}

/// Routes are registered hottest first (`api::v1_routes`); that is safe only while no request
/// can match two operations, so that the order never decides which one answers.
#[test]
fn no_request_matches_two_operations() {
    let spec: serde_json::Value = serde_json::from_str(&techx::app::openapi_json()).unwrap();
    let paths: Vec<(&String, Vec<&String>)> = spec["paths"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(path, ops)| (path, ops.as_object().unwrap().keys().collect()))
        .collect();
    let segment_overlaps = |a: &str, b: &str| a == b || a.starts_with('{') || b.starts_with('{');
    let mut overlapping = Vec::new();
    for (i, (a, a_methods)) in paths.iter().enumerate() {
        for (b, b_methods) in &paths[i + 1..] {
            let (a_segments, b_segments): (Vec<_>, Vec<_>) =
                (a.split('/').collect(), b.split('/').collect());
            let same_shape = a_segments.len() == b_segments.len()
                && a_segments.iter().zip(&b_segments).all(|(x, y)| segment_overlaps(x, y));
            if same_shape && a_methods.iter().any(|m| b_methods.contains(m)) {
                overlapping.push(format!("{a} / {b}"));
            }
        }
    }
    assert!(overlapping.is_empty(), "requests these paths share: {overlapping:?}");
    assert!(paths.len() > 50, "the document lists every path");
}
