//! The error vocabulary of the contract: every problem code the service emits is in the one
//! list (`error_codes::PROBLEMS`) that the spec's `ProblemCode` enum comes from, with its
//! true status; each error response of the spec shows its own codes; field errors carry a
//! stable code and its parameters on both backends.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use serde_json::{Value, json};
use techx::error_codes::PROBLEMS;

fn status_of(name: &str) -> u16 {
    match name {
        "BAD_REQUEST" => 400,
        "UNAUTHORIZED" => 401,
        "FORBIDDEN" => 403,
        "NOT_FOUND" => 404,
        "METHOD_NOT_ALLOWED" => 405,
        "CONFLICT" => 409,
        "PRECONDITION_FAILED" => 412,
        "PAYLOAD_TOO_LARGE" => 413,
        "UNSUPPORTED_MEDIA_TYPE" => 415,
        "UNPROCESSABLE_ENTITY" => 422,
        "PRECONDITION_REQUIRED" => 428,
        "TOO_MANY_REQUESTS" => 429,
        "REQUEST_HEADER_FIELDS_TOO_LARGE" => 431,
        "INTERNAL_SERVER_ERROR" => 500,
        "SERVICE_UNAVAILABLE" => 503,
        other => panic!("add StatusCode::{other} to status_of"),
    }
}

/// The string literal at the start of `text` (after whitespace), if any.
fn literal(text: &str) -> Option<&str> {
    let rest = text.trim_start().strip_prefix('"')?;
    Some(&rest[..rest.find('"')?])
}

/// Every (code, status) the source passes to `ApiError`: `ApiError::conflict("…"`,
/// `bad_request("…"`, `ApiError::new(StatusCode::X, "…"` (also `Self::`), and the codes
/// of the fallback that rewrites other libraries' errors.
fn emitted() -> BTreeMap<String, BTreeSet<u16>> {
    let mut found: BTreeMap<String, BTreeSet<u16>> = BTreeMap::new();
    let mut add = |code: &str, status: u16| {
        found.entry(code.to_owned()).or_default().insert(status);
    };
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
    let mut dirs = vec![std::path::PathBuf::from(root)];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let source = std::fs::read_to_string(&path).unwrap();
            // `refused(` is the store's 400 (`StoreError::refused`, mapped in `error.rs`).
            for (call, status) in [("conflict(", 409), ("bad_request(", 400), ("refused(", 400)] {
                for (i, _) in source.match_indices(call) {
                    if let Some(code) = literal(&source[i + call.len()..]) {
                        add(code, status);
                    }
                }
            }
            for call in ["ApiError::new(", "Self::new("] {
                for (i, _) in source.match_indices(call) {
                    let rest = source[i + call.len()..].trim_start();
                    let Some(at) = rest.find("StatusCode::").filter(|at| *at < 40) else {
                        continue;
                    };
                    let rest = &rest[at + "StatusCode::".len()..];
                    let (name, rest) = rest.split_once(',').unwrap();
                    // `bad_request(code, …)` and `conflict(code, …)` pass theirs on.
                    if let Some(code) = literal(rest) {
                        add(code, status_of(name.trim()));
                    }
                }
            }
            if path.ends_with("app.rs") {
                let start = source.find("let code = match status.as_u16() {").unwrap();
                let arms = &source[start..start + source[start..].find("};").unwrap()];
                for arm in arms.split("=>").skip(1) {
                    let code = literal(arm).unwrap();
                    let status = match code {
                        "not_found" => 404,
                        "method_not_allowed" => 405,
                        "payload_too_large" => 413,
                        "internal_error" => 500,
                        _ => 400,
                    };
                    add(code, status);
                }
            }
        }
    }
    found
}

#[std::prelude::v1::test]
fn every_emitted_problem_code_is_listed_with_its_status() {
    let emitted = emitted();
    assert!(emitted.len() > 30, "the scan found the codes: {emitted:?}");
    for (code, statuses) in &emitted {
        let listed = techx::error_codes::problem(code)
            .unwrap_or_else(|| panic!("`{code}` is emitted but not in error_codes::PROBLEMS"));
        assert!(
            statuses.contains(&listed.status),
            "`{code}` is listed with {} but emitted with {statuses:?}",
            listed.status
        );
    }
    for p in PROBLEMS {
        assert!(emitted.contains_key(p.code), "`{}` is listed but never emitted", p.code);
    }
}

#[std::prelude::v1::test]
fn the_spec_problem_code_enum_is_the_list() {
    let spec: Value = serde_json::from_str(&techx::app::openapi_json()).unwrap();
    let schema = &spec["components"]["schemas"]["ProblemCode"];
    let codes: Vec<&str> = PROBLEMS.iter().map(|p| p.code).collect();
    assert_eq!(schema["enum"], json!(codes));
    assert_eq!(
        spec["components"]["schemas"]["Problem"]["properties"]["code"]["$ref"],
        json!("#/components/schemas/ProblemCode")
    );
}

/// Each error response has examples of its own codes: the code's status is the response's,
/// and a code the description names is among them (never the generic 400 for a 401).
#[std::prelude::v1::test]
fn every_error_response_shows_its_own_codes() {
    let spec: Value = serde_json::from_str(&techx::app::openapi_json()).unwrap();
    let mut checked = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for (status, response) in op["responses"].as_object().unwrap() {
                if !(status.starts_with('4') || status.starts_with('5')) {
                    continue;
                }
                let examples = response["content"]["application/problem+json"]["examples"]
                    .as_object()
                    .unwrap_or_else(|| panic!("{method} {path} {status} has examples"));
                assert!(!examples.is_empty(), "{method} {path} {status}");
                for (name, example) in examples {
                    let value = &example["value"];
                    assert_eq!(value["code"], json!(name), "{method} {path} {status}");
                    assert_eq!(value["status"].to_string(), *status, "{method} {path} {name}");
                    assert_eq!(value["type"], json!(format!("urn:techx:problem:{name}")));
                    assert!(value["detail"].as_str().is_some_and(|d| !d.is_empty()));
                    if name == "validation_failed" {
                        assert!(value["errors"][0]["code"].is_string(), "{method} {path}");
                    }
                }
                let description = response["description"].as_str().unwrap_or_default();
                for named in description.split('`').skip(1).step_by(2) {
                    if let Some(p) = techx::error_codes::problem(named) {
                        if p.status.to_string() == *status {
                            assert!(examples.contains_key(named), "{method} {path} {status}");
                        }
                    }
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 300, "{checked} error responses");
}

backend_tests! {
    async fn field_errors_carry_stable_codes_and_params(backend) {
        let c = start(backend).await;
        let long = "x".repeat(201);
        let body = c
            .post("/api/v1/auth/register", &json!({
                "email": "not-an-email", "password": "short", "display_name": long,
            }))
            .await
            .invalid_field("email");
        let errors = body["errors"].as_array().unwrap();
        let by_field = |field: &str| errors.iter().find(|e| e["field"] == field).cloned();
        assert_eq!(by_field("email").unwrap()["code"], "invalid_format");
        let name = by_field("display_name").unwrap();
        assert_eq!(name["code"], "too_long", "{body}");
        assert!(name["params"]["max"].as_i64().is_some_and(|m| m > 0 && m < 201), "{body}");

        let body = c
            .post("/api/v1/auth/register", &json!({
                "email": "lan@vast.vn", "password": "a long enough password", "display_name": "Lan",
                "language": "fr",
            }))
            .await
            .invalid_field("language");
        assert_eq!(body["errors"][0]["code"], "unknown_value");
        assert_eq!(body["errors"][0]["params"]["allowed"], json!(["vi", "en"]));

        let body = c
            .post("/api/v1/auth/register", &json!({"email": "lan@vast.vn", "password": "a long enough password"}))
            .await
            .invalid_field("display_name");
        assert_eq!(body["errors"][0]["code"], "required");
        assert!(body["errors"][0].get("params").is_none(), "no params when none apply");

        let body = c
            .post("/api/v1/auth/register", &json!({
                "email": "lan@vast.vn", "password": "a long enough password", "display_name": "Lan",
                "role": "admin",
            }))
            .await
            .invalid_field("role");
        assert_eq!(body["errors"][0]["code"], "unknown_field");

        let body = c.get("/api/v1/technologies?trl_min=abc").await.invalid_field("trl_min");
        assert_eq!(body["errors"][0]["code"], "wrong_type");

        // Query filters over closed sets refuse unknown codes (the spec's enums say so).
        let body = c.get("/api/v1/organizations?sector=AAA&province=atlantis").await.invalid_field("sector");
        let codes: Vec<&Value> = body["errors"].as_array().unwrap().iter().map(|e| &e["code"]).collect();
        assert_eq!(codes, [&json!("unknown_value"), &json!("unknown_value")], "{body}");
    }
}

// ---- The data layer's errors in HTTP terms (issue 19) ------------------------------------

use actix_web::ResponseError;
use actix_web::http::Method;
use techx::db::DbError;
use techx::error::ApiError;
use techx::store::StoreError;

/// The problem document an error renders, and its content type.
fn rendered(error: &ApiError) -> (u16, String, Value) {
    let res = error.error_response();
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (res.status().as_u16(), content_type, serde_json::to_value(error.problem()).unwrap())
}

#[std::prelude::v1::test]
fn store_errors_map_to_their_status_and_code() {
    let cases: Vec<(StoreError, u16, &str)> = vec![
        (StoreError::not_found("No such deal."), 404, "not_found"),
        (StoreError::Stale, 412, "precondition_failed"),
        (
            StoreError::conflict("email_taken", "An account with this email already exists."),
            409,
            "email_taken",
        ),
        (StoreError::refused("invalid_token", "The link is invalid."), 400, "invalid_token"),
        (StoreError::Forbidden("Not for you.".into()), 403, "forbidden"),
        (StoreError::KeyReused, 422, "idempotency_key_reused"),
        (StoreError::invalid("email", "is not a valid email address"), 400, "validation_failed"),
        (StoreError::Database(diesel::result::Error::NotFound), 404, "not_found"),
        (
            StoreError::Db(DbError::Timeout(std::time::Duration::from_secs(10))),
            503,
            "service_unavailable",
        ),
    ];
    for (store_error, status, code) in cases {
        let shown = store_error.to_string();
        let (got_status, content_type, body) = rendered(&ApiError::from(store_error));
        assert_eq!((got_status, body["code"].as_str().unwrap()), (status, code), "{shown}: {body}");
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(body["status"], status);
        assert!(techx::error_codes::problem(code).is_some(), "{code} is in PROBLEMS");
    }
    // A conflict keeps its own detail; a validation error names its field.
    let (_, _, body) =
        rendered(&ApiError::from(StoreError::conflict("last_owner", "Keep one owner.")));
    assert_eq!(body["detail"], "Keep one owner.");
    let (_, _, body) = rendered(&ApiError::from(StoreError::invalid("email", "is not valid")));
    assert_eq!(body["errors"][0]["field"], "email");
}

#[std::prelude::v1::test]
fn a_500_keeps_its_cause_for_the_log_and_never_sends_it() {
    let cause = serde_json::from_str::<Vec<String>>("{not json").unwrap_err();
    let cause_text = cause.to_string();
    for error in [
        StoreError::corrupt("technologies", "ip_records", cause),
        StoreError::Db(DbError::Panicked("index out of bounds: secret-detail".into())),
        StoreError::Database(diesel::result::Error::QueryBuilderError("SELECT secret".into())),
    ] {
        let api = ApiError::from(error);
        assert!(api.source.is_some(), "the cause is kept: {api}");
        let (status, content_type, body) = rendered(&api);
        assert_eq!((status, body["code"].as_str().unwrap()), (500, "internal_error"));
        assert_eq!(content_type, "application/problem+json");
        let text = body.to_string();
        for secret in ["technologies", "ip_records", &cause_text, "secret", "SELECT", "panicked"] {
            assert!(!text.contains(secret), "{secret:?} leaked: {text}");
        }
    }
}

/// A route for the tests only, beside the real ones: its database call panics.
async fn panicking_db_call(
    state: actix_web::web::Data<techx::state::AppState>,
) -> Result<actix_web::HttpResponse, ApiError> {
    state
        .db
        .run(|_conn| -> Result<(), ApiError> { panic!("boom inside the blocking closure") })
        .await?;
    Ok(actix_web::HttpResponse::NoContent().finish())
}

backend_tests! {
    async fn store_errors_answer_404_409_412_and_500_through_the_app(backend) {
        use diesel::prelude::*;
        use techx::db::schema::technologies;

        let ctx = start(backend).await;
        let owner = ctx.signup("chu@vien.vn").await;
        let org = ctx.create_org(&owner, "Viện Công nghệ Môi trường", "research_institute").await;
        let org_uri = format!("/api/v1/organizations/{}", org["id"].as_str().unwrap());

        // 404: the store found no row.
        ctx.get(&format!("/api/v1/organizations/{}", uuid::Uuid::now_v7())).await.problem(404, "not_found");

        // 409 with the store's own code: the last owner cannot step down.
        let owner_uri = format!("{org_uri}/members/{}", owner.user_id);
        ctx.authed(Method::PATCH, &owner_uri, &owner.access, Some(&json!({"role": "member"})))
            .await
            .problem(409, "last_owner");
        // ... and a unique row the store names (`email_taken`), as the store returns it.
        let mut conn = ctx.db.connect();
        let hash = techx::auth::password::hash(PASSWORD).unwrap();
        let taken = techx::store::users::create(
            &mut conn,
            &techx::store::users::NewUser {
                email: "chu@vien.vn",
                email_normalized: "chu@vien.vn",
                password_hash: &hash,
                display_name: "Trùng",
                language: "vi",
                role: techx::auth::PlatformRole::Member,
                verified: true,
            },
        )
        .unwrap_err();
        assert!(matches!(&taken, StoreError::Conflict { code: "email_taken", .. }), "{taken:?}");
        assert_eq!(rendered(&ApiError::from(taken)).0, 409);

        // 412: a stale version reaches the store's guarded update.
        let edit = json!({"name": "Viện Công nghệ Môi trường Xanh"});
        let first = ctx.send(Method::PATCH, &org_uri, Some(&owner.access), Some(&etag_of(&org)), Some(&edit)).await;
        first.ok();
        let stale = ctx.send(Method::PATCH, &org_uri, Some(&owner.access), Some(&etag_of(&org)), Some(&edit)).await;
        stale.problem(412, "precondition_failed");

        // 500 without the cause: a stored JSON column that does not parse.
        let listing = ctx.create_technology(&owner.access, &technology_body(org["id"].as_str().unwrap(), "Xử lý nước thải")).await;
        let id: techx::db::types::EntityId = uuid::Uuid::parse_str(listing["id"].as_str().unwrap()).unwrap().into();
        diesel::update(technologies::table.find(id))
            .set(technologies::ip_records.eq("{not json"))
            .execute(&mut conn)
            .unwrap();
        let broken = ctx.get_as(&format!("/api/v1/technologies/{id}"), &owner.access).await;
        let body = broken.problem(500, "internal_error");
        let text = body.to_string();
        assert!(!text.contains("ip_records") && !text.contains("not json") && !text.contains("technologies"), "{text}");
    }

    async fn a_panic_inside_db_run_answers_500_and_the_server_keeps_serving(backend) {
        let ctx = start(backend).await;
        let app = actix_web::test::init_service(
            techx::app::build(ctx.state.clone())
                .service(actix_web::web::resource("/test/db-panic").to(panicking_db_call)),
        )
        .await;
        let res = call(&app, actix_web::test::TestRequest::get().uri("/test/db-panic")).await;
        let body = res.problem(500, "internal_error");
        assert!(!body.to_string().contains("boom"), "the panic message is not sent: {body}");
        assert!(res.header("x-request-id").is_some_and(|id| !id.is_empty()), "the answer names its request");
        // The pool and the blocking threads survived: the same App serves the next requests.
        for _ in 0..3 {
            let ready = call(&app, actix_web::test::TestRequest::get().uri("/readyz")).await;
            assert_eq!(ready.status, 200, "{}", ready.text());
        }
        let again = call(&app, actix_web::test::TestRequest::get().uri("/test/db-panic")).await;
        again.problem(500, "internal_error");
        call(&app, actix_web::test::TestRequest::get().uri("/api/v1/organizations")).await.ok();
    }
}
