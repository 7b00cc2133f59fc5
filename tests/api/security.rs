//! Security review by test, generated from the OpenAPI document: every operation
//! authenticates as its `security` says (bearer required, optional or public, tried
//! anonymously and with a bad token), and every operation that declares bearer security
//! refuses a signed-in member of an unrelated organisation (no 2xx) unless it is listed below
//! as acting only on the caller's own data. A new endpoint without a permission check, or
//! whose extractor and document disagree, fails here.

use crate::common;

use actix_web::http::Method;
use actix_web::test::TestRequest;
use common::*;
use serde_json::{Value, json};

/// Operations that act only on the caller's own account or create something new that the
/// caller then owns; for them a signed-in stranger legitimately succeeds.
const CALLER_SCOPED: &[(&str, &str)] = &[
    ("GET", "/api/v1/me"),
    ("PATCH", "/api/v1/me"),
    ("POST", "/api/v1/me/password"),
    ("POST", "/api/v1/organizations"),
    // Lists of the caller's own organisations' enquiries and deals (tests/api/deals.rs checks
    // that a stranger's list is empty).
    ("GET", "/api/v1/inquiries"),
    ("GET", "/api/v1/deals"),
    // Lists only the requests the caller may see (empty for a stranger); the same for a
    // public listing's valuation history.
    ("GET", "/api/v1/valuation-requests"),
    ("GET", "/api/v1/technologies/{id}/valuations"),
    // Stateless: any signed-in user may compute an estimate.
    ("POST", "/api/v1/valuations/estimate"),
];

/// How an operation's `security` says a caller authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Security {
    /// `[{"bearer": []}]`: the handler takes `Auth`.
    Bearer,
    /// `[{}, {"bearer": []}]`: the handler takes `MaybeAuth`.
    Optional,
    /// `[]`: the handler reads no caller.
    Public,
}

/// Reads an operation's `security`, which must be one of the three shapes exactly; an
/// operation an API key may call (`x-scopes`) lists the key, with its scope, after the
/// bearer token.
fn security_of(method: &str, path: &str, op: &Value) -> Security {
    let key = op["x-scopes"].as_array().map(|scopes| json!({"api_key": scopes}));
    let signed_in = |mut alternatives: Vec<Value>| {
        alternatives.extend(key.clone());
        Value::Array(alternatives)
    };
    let security = &op["security"];
    if *security == json!([]) {
        Security::Public
    } else if *security == signed_in(vec![json!({"bearer": []})]) {
        Security::Bearer
    } else if *security == signed_in(vec![json!({}), json!({"bearer": []})]) {
        Security::Optional
    } else {
        panic!("{method} {path}: security {security} is none of bearer, optional and public")
    }
}

fn operations() -> Vec<(Method, String, Security)> {
    let spec: Value = serde_json::from_str(&techx::app::openapi_json()).unwrap();
    let mut ops = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let security = security_of(method, path, op);
            ops.push((
                Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                path.clone(),
                security,
            ));
        }
    }
    assert!(ops.len() > 20, "the spec lists the API");
    ops
}

/// Fills `{param}` placeholders: known fixtures by the resource they follow, random ids
/// otherwise.
fn fill(path: &str, fixtures: &[(&str, String)]) -> String {
    let mut out = String::new();
    let mut previous = "";
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        let value = if segment.starts_with('{') {
            let key = format!("{previous}/{segment}");
            fixtures
                .iter()
                .find(|(k, _)| *k == key || *k == segment)
                .map_or_else(|| uuid::Uuid::now_v7().to_string(), |(_, v)| v.clone())
        } else {
            segment.to_owned()
        };
        out.push('/');
        out.push_str(&value);
        previous = segment;
    }
    out
}

backend_tests! {
    // Each operation's document and handler agree on who may call it: anonymous callers
    // are refused (401) by bearer-only operations alone, and a bad token by every operation
    // that reads the caller (`Auth` and `MaybeAuth`: a bad token is never taken for
    // anonymous) and by none that is public. So `Auth` documented as optional or public,
    // `MaybeAuth` as bearer-only or public, or no extractor as either fails here.
    async fn every_operation_authenticates_as_its_security_says(backend) {
        let ctx = start(backend).await;
        let operations = operations();
        let mut checked = 0;
        for (method, path, security) in &operations {
            let uri = fill(path, &[]);
            let request = |token: Option<&str>| {
                let mut req = TestRequest::default().method(method.clone()).uri(&uri);
                if let Some(token) = token {
                    req = req.insert_header(("Authorization", format!("Bearer {token}")));
                }
                if matches!(*method, Method::POST | Method::PATCH | Method::PUT) {
                    req = req.set_json(json!({}));
                }
                req
            };
            let anonymous = ctx.call(request(None)).await;
            // The call reached a handler: the route the document names is served.
            let unrouted = anonymous.status == 405
                || (anonymous.status == 404 && anonymous.text().contains("No resource at"));
            assert!(!unrouted, "{method} {path} is documented but not served: {}", anonymous.text());
            if *security == Security::Bearer {
                assert_eq!(anonymous.status, 401, "{method} {path} must need a token: {}", anonymous.text());
                anonymous.problem(401, "unauthorized");
            } else {
                assert_ne!(anonymous.status, 401, "{method} {path} is documented as {security:?} but asked for a token");
            }
            let bad_token = ctx.call(request(Some("not-a-token"))).await;
            if *security == Security::Public {
                assert_ne!(bad_token.status, 401, "{method} {path} is documented as public but read the token");
            } else {
                assert_eq!(bad_token.status, 401, "{method} {path} is documented as {security:?} but ignored a bad token: {}", bad_token.text());
                bad_token.problem(401, "unauthorized");
            }
            checked += 1;
        }
        let spec: Value = serde_json::from_str(&techx::app::openapi_json()).unwrap();
        let documented: usize =
            spec["paths"].as_object().unwrap().values().map(|i| i.as_object().unwrap().len()).sum();
        assert_eq!(checked, documented, "every operation was called");
        for kind in [Security::Bearer, Security::Optional, Security::Public] {
            assert!(operations.iter().any(|(_, _, s)| *s == kind), "some operation is {kind:?}");
        }
    }

    async fn every_secured_operation_refuses_an_unrelated_member(backend) {
        let ctx = start(backend).await;
        let alice = ctx.signup("alice@a.vn").await;
        let bob = ctx.signup("bob@b.vn").await;
        let org_a = ctx.create_org(&alice, "Tổ chức A", "research_institute").await;
        ctx.create_org(&bob, "Tổ chức B", "enterprise").await;
        let hooks = format!("/api/v1/organizations/{}/webhooks", org_a["id"].as_str().unwrap());
        let hook = ctx
            .post_as(&hooks, &alice.access, &json!({"url": "http://127.0.0.1:9/hook", "event_types": ["match.found"]}))
            .await
            .ok();
        // A published listing of A, an enquiry about it from C and a deal made of it: real
        // objects Bob is no party to.
        let carol = ctx.signup("carol@c.vn").await;
        let org_c = ctx.create_org(&carol, "Tổ chức C", "enterprise").await;
        let moderator = ctx.staff("mod@techx.vn", techx::auth::PlatformRole::Moderator).await;
        let listing = ctx
            .publish_technology(&alice, &moderator, &technology_body(org_a["id"].as_str().unwrap(), "Công nghệ A"))
            .await;
        let inquiry = ctx
            .post_as(
                &format!("/api/v1/technologies/{}/inquiries", listing["id"].as_str().unwrap()),
                &carol.access,
                &json!({"organization_id": org_c["id"], "message": "Quan tâm", "intended_use": "Sản xuất",
                        "transfer_form": "usage_licence"}),
            )
            .await
            .ok();
        let deal = ctx
            .post_as(
                "/api/v1/deals",
                &carol.access,
                &json!({"inquiry_id": inquiry["id"], "terms": {"transfer_form": "usage_licence"}}),
            )
            .await
            .ok();
        // A valuation request of Alice's organisation about its published listing.
        let valuation = ctx
            .post_as("/api/v1/valuation-requests", &alice.access, &json!({
                "organization_id": org_a["id"], "technology_id": listing["id"], "purpose": "sale",
                "rights": {"kind": "ownership"}, "valuation_date": "2026-12-31", "preferred_method": "cost"}))
            .await
            .ok();
        // A draft demand of A: invisible to B, so every demand operation must refuse.
        let mut demand = json!({
            "organization_id": org_a["id"], "title": "Nhu cầu", "problem": "Vấn đề cần giải quyết.",
            "sectors": ["2.7"], "province": "thanh-hoa"
        });
        demand = ctx.post_as("/api/v1/demands", &alice.access, &demand).await.ok();
        let fixtures = vec![
            ("technologies/{id}", listing["id"].as_str().unwrap().to_owned()),
            ("inquiries/{id}", inquiry["id"].as_str().unwrap().to_owned()),
            ("deals/{id}", deal["id"].as_str().unwrap().to_owned()),
            ("checklist/{item}", "object".to_owned()),
            ("organizations/{id}", org_a["id"].as_str().unwrap().to_owned()),
            ("valuation-requests/{id}", valuation["id"].as_str().unwrap().to_owned()),
            ("demands/{id}", demand["id"].as_str().unwrap().to_owned()),
            ("{demand_id}", demand["id"].as_str().unwrap().to_owned()),
            ("webhooks/{webhook_id}", hook["id"].as_str().unwrap().to_owned()),
            ("{user_id}", alice.user_id.clone()),
            ("users/{id}", alice.user_id.clone()),
        ];
        for (method, path, security) in operations() {
            if security != Security::Bearer || CALLER_SCOPED.contains(&(method.as_str(), path.as_str())) {
                continue;
            }
            let uri = fill(&path, &fixtures);
            let mut req = TestRequest::default()
                .method(method.clone())
                .uri(&uri)
                .insert_header(("Authorization", format!("Bearer {}", bob.access)))
                .insert_header(("If-Match", "\"1\""));
            if matches!(method, Method::POST | Method::PATCH | Method::PUT) {
                req = req.set_json(json!({}));
            }
            let res = ctx.call(req).await;
            assert!(
                matches!(res.status.as_u16(), 400 | 403 | 404 | 409 | 422),
                "{method} {uri} let an unrelated member through: {} {}",
                res.status,
                res.text()
            );
            assert_eq!(res.header("content-type"), Some("application/problem+json"), "{method} {uri}");
        }
    }
}
