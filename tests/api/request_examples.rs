//! Every request body's example in the OpenAPI document is one the service takes, on both
//! backends: a front-end developer who sends it from Swagger UI must not get a 400 or a 422
//! for the body itself. Each example is sent as documented, by an administrator, with
//! made-up ids in the path and `If-Match: "1"`; the answer may say the object does not exist
//! (404), is not the caller's (403), has moved on (409, 412) or that a mailed token is not
//! one (400 `invalid_token`), never that the body is malformed or invalid. A handler that looks an object up before validating the body only
//! shows here that the body parses; the stateless estimate is answered in full.

use crate::common;

use actix_web::http::Method;
use common::*;
use serde_json::Value;
use techx::auth::PlatformRole;

/// `path` with each `{name}` replaced by a value of its parameter's schema.
fn concrete(spec: &Value, path: &str, operation: &Value) -> String {
    let parameters = operation["parameters"].as_array().cloned().unwrap_or_default();
    let mut out = path.to_owned();
    for p in parameters.iter().filter(|p| p["in"] == "path") {
        let name = p["name"].as_str().unwrap();
        let schema = match p["schema"]["$ref"].as_str() {
            Some(target) => &spec["components"]["schemas"][target.rsplit('/').next().unwrap()],
            None => &p["schema"],
        };
        let value = match schema["enum"].get(0).and_then(Value::as_str) {
            Some(first) => first.to_owned(),
            None if schema["format"] == "uuid" => uuid::Uuid::now_v7().to_string(),
            None => "x".to_owned(),
        };
        out = out.replace(&format!("{{{name}}}"), &value);
    }
    out
}

backend_tests! {
    async fn every_request_body_example_is_accepted(backend) {
        let c = start(backend).await;
        let admin = c.staff("admin@techx.vn", PlatformRole::Admin).await;
        let spec: Value = serde_json::from_str(&techx::app::openapi_json()).unwrap();
        let mut refused = Vec::new();
        let mut sent = 0;
        for (path, item) in spec["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let example = &operation["requestBody"]["content"]["application/json"]["example"];
                if example.is_null() {
                    continue;
                }
                let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                let uri = concrete(&spec, path, operation);
                let res = c.send(method.clone(), &uri, Some(&admin.access), Some("\"1\""), Some(example)).await;
                sent += 1;
                // A made-up token (a mailed link's) is refused as such, not for the body.
                let made_up_token = res.status == 400 && res.json()["code"] == "invalid_token";
                if matches!(res.status.as_u16(), 400 | 422) && !made_up_token {
                    refused.push(format!("{method} {path}: {} {}\n  example: {example}", res.status, res.text()));
                }
            }
        }
        assert!(sent >= 40, "{sent} examples sent");
        assert!(refused.is_empty(), "refused examples:\n{}", refused.join("\n"));

        // The estimate needs nothing stored: its example is answered in full.
        let estimate = &spec["paths"]["/api/v1/valuations/estimate"]["post"]["requestBody"]["content"]["application/json"]["example"];
        let answer = c.send(Method::POST, "/api/v1/valuations/estimate", Some(&admin.access), None, Some(estimate)).await.ok();
        assert!(answer["cost"]["value"].as_i64().is_some_and(|v| v > 0), "{answer}");
        assert!(answer["income"]["value"].as_i64().is_some_and(|v| v > 0), "{answer}");
        assert!(answer["range"]["min"].is_i64(), "{answer}");
    }
}
