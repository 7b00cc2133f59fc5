//! Organisation API keys: lifecycle, bad keys, the scope matrix over the OpenAPI document,
//! other organisations' data, the per-key rate limit, and revocation across processes.

use crate::common;

use std::time::{Duration, Instant};

use actix_web::http::Method;
use actix_web::test::TestRequest;
use common::net::ServerProcess;
use common::*;
use diesel::prelude::*;
use serde_json::{Value, json};
use techx::db::schema::{api_keys, outbox};
use techx::domain::scopes::{self, Access, Scope};

fn keys_uri(org: &str) -> String {
    format!("/api/v1/organizations/{org}/api-keys")
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

/// An owner and their organisation.
macro_rules! owner_org {
    ($ctx:expr, $email:expr, $name:expr) => {{
        let owner = $ctx.signup($email).await;
        let org = $ctx.create_org(&owner, $name, "intermediary").await;
        (owner, id_of(&org))
    }};
}

/// Creates a key with `scopes`; returns its JSON (with the secret).
macro_rules! new_key {
    ($ctx:expr, $owner:expr, $org:expr, $scopes:expr) => {{
        let body = json!({"name": "CRM", "scopes": $scopes});
        let res = $ctx.post_as(&keys_uri(&$org), &$owner.access, &body).await;
        assert_eq!(res.status, 201, "{}", res.text());
        res.json()
    }};
}

fn secret(key: &Value) -> String {
    key["secret"].as_str().unwrap().to_owned()
}

fn with_key(method: Method, uri: &str, secret: &str) -> TestRequest {
    TestRequest::default()
        .method(method)
        .uri(uri)
        .insert_header(("Authorization", format!("Bearer {secret}")))
}

backend_tests! {
    async fn key_lifecycle(backend) {
        let ctx = start(backend).await;
        let (owner, org) = owner_org!(ctx, "owner@a.vn", "Trung tâm A");
        let hooks = format!("/api/v1/organizations/{org}/webhooks");
        ctx.post_as(&hooks, &owner.access, &json!({"url": "http://127.0.0.1:9/hook", "event_types": ["api_key.revoked"]}))
            .await
            .ok();

        // Created: the secret once, with the recognisable prefix; the owners are mailed.
        let key = new_key!(ctx, owner, org, ["listings:read", "listings:write"]);
        let first = secret(&key);
        assert!(first.starts_with("techx_live_") && first.starts_with(key["prefix"].as_str().unwrap()));
        assert_eq!(key["scopes"], json!(["listings:read", "listings:write"]));
        assert_eq!(key["role"], "member");
        assert_eq!(ctx.mail_context("owner@a.vn", "api_key_activity")["event"], "created");
        let stored: String = api_keys::table.select(api_keys::secret_hash).first(&mut ctx.db.connect()).unwrap();
        assert!(!stored.contains(&first[11..]), "only a hash is stored");

        // Listed without a secret, not yet used.
        let list = ctx.get_as(&keys_uri(&org), &owner.access).await.ok();
        assert_eq!(list["total"], 1);
        let listed = &list["items"][0];
        assert!(listed.get("secret").is_none() && listed["last_used_at"].is_null(), "{listed}");
        assert_eq!((&listed["name"], &listed["prefix"], &listed["created_by"]), (&key["name"], &key["prefix"], &json!(owner.user_id)));

        // Used, by bearer and by X-Api-Key, from two addresses: each new address is mailed once.
        let uri = "/api/v1/technologies";
        let res = ctx.call(with_key(Method::GET, uri, &first).peer_addr("10.0.0.1:4000".parse().unwrap())).await;
        assert_eq!(res.status, 200, "{}", res.text());
        let res = ctx.call(TestRequest::get().uri(uri).insert_header(("X-Api-Key", first.as_str())).peer_addr("10.0.0.2:4000".parse().unwrap())).await;
        assert_eq!(res.status, 200, "{}", res.text());
        ctx.call(with_key(Method::GET, uri, &first).peer_addr("10.0.0.1:4001".parse().unwrap())).await.ok();
        let listed = ctx.get_as(&format!("{}/{}", keys_uri(&org), id_of(&key)), &owner.access).await.ok();
        assert!(listed["last_used_at"].is_string(), "{listed}");
        assert_eq!(listed["last_used_address"], "10.0.0.2");
        let mails: Vec<Value> = mail_events(&ctx.db, "owner@a.vn");
        assert_eq!(mails.iter().filter(|e| e["event"] == "new_address").count(), 2, "{mails:?}");

        // A key never manages keys or members, nor uses staff powers.
        let res = ctx.call(with_key(Method::POST, &keys_uri(&org), &first).set_json(json!({"name": "x", "scopes": ["listings:read"]}))).await;
        res.problem(403, "api_key_not_allowed");
        let res = ctx.call(with_key(Method::GET, &format!("/api/v1/organizations/{org}/members"), &first)).await;
        res.problem(403, "api_key_not_allowed");
        let res = ctx.call(with_key(Method::GET, "/api/v1/admin/users", &first)).await;
        res.problem(403, "api_key_not_allowed");

        // Roll with a grace period: both secrets work; a second roll without grace ends the
        // previous one at once, and the first is long gone.
        let roll = format!("{}/{}/roll", keys_uri(&org), id_of(&key));
        let rolled = ctx.post_as(&roll, &owner.access, &json!({"grace_seconds": 600})).await.ok();
        let second = secret(&rolled);
        assert_ne!(second, first);
        assert!(rolled["previous_secret_expires_at"].is_string());
        for s in [&first, &second] {
            assert_eq!(ctx.call(with_key(Method::GET, uri, s)).await.status, 200);
        }
        assert_eq!(ctx.post_as(&roll, &owner.access, &json!({"grace_seconds": 86401})).await.status, 400);
        let third = secret(&ctx.post_as(&roll, &owner.access, &json!({"grace_seconds": 0})).await.ok());
        assert_eq!(ctx.call(with_key(Method::GET, uri, &third)).await.status, 200);
        for s in [&first, &second] {
            ctx.call(with_key(Method::GET, uri, s)).await.problem(401, "unauthorized");
        }
        assert_eq!(mail_events(&ctx.db, "owner@a.vn").iter().filter(|e| e["event"] == "rolled").count(), 2);

        // Revoked: refused at once, owners mailed, api_key.revoked queued for the webhook.
        let one = format!("{}/{}", keys_uri(&org), id_of(&key));
        assert_eq!(ctx.send(Method::DELETE, &one, Some(&owner.access), None, None).await.status, 204);
        ctx.call(with_key(Method::GET, uri, &third)).await.problem(401, "unauthorized");
        assert_eq!(ctx.post_as(&roll, &owner.access, &json!({})).await.problem(409, "api_key_revoked")["status"], 409);
        assert_eq!(ctx.send(Method::DELETE, &one, Some(&owner.access), None, None).await.status, 204);
        assert_eq!(mail_events(&ctx.db, "owner@a.vn").iter().filter(|e| e["event"] == "revoked").count(), 1);
        let queued: i64 = outbox::table
            .filter(outbox::channel.eq("webhook"))
            .filter(outbox::template.eq("api_key.revoked"))
            .count()
            .get_result(&mut ctx.db.connect())
            .unwrap();
        assert_eq!(queued, 1, "one api_key.revoked event for one revocation");
        let listed = ctx.get_as(&one, &owner.access).await.ok();
        assert!(listed["revoked_at"].is_string());
    }

    async fn only_owners_manage_keys(backend) {
        let ctx = start(backend).await;
        let (owner, org) = owner_org!(ctx, "owner@a.vn", "Trung tâm A");
        let (stranger, _) = owner_org!(ctx, "owner@b.vn", "Trung tâm B");
        let body = json!({"name": "CRM", "scopes": ["listings:read"]});
        ctx.post_as(&keys_uri(&org), &stranger.access, &body).await.problem(403, "forbidden");
        ctx.get_as(&keys_uri(&org), &stranger.access).await.problem(403, "forbidden");
        ctx.post_as(&keys_uri(&org), &owner.access, &json!({"name": "", "scopes": []})).await.invalid_field("scopes");
        ctx.post_as(&keys_uri(&org), &owner.access, &json!({"name": "x", "scopes": ["admin"]})).await.problem(400, "validation_failed");
        ctx.post_as(&keys_uri(&org), &owner.access, &json!({"name": "x", "scopes": ["deals:read"], "expires_at": "2020-01-01T00:00:00Z"}))
            .await
            .invalid_field("expires_at");
        let count: i64 = api_keys::table.count().get_result(&mut ctx.db.connect()).unwrap();
        assert_eq!(count, 0);
    }

    async fn every_bad_key_gets_the_same_answer_as_a_bad_token(backend) {
        let ctx = start(backend).await;
        let (owner, org) = owner_org!(ctx, "owner@a.vn", "Trung tâm A");
        let revoked = new_key!(ctx, owner, org, ["deals:read"]);
        let uri = format!("{}/{}", keys_uri(&org), id_of(&revoked));
        ctx.send(Method::DELETE, &uri, Some(&owner.access), None, None).await.ok();
        let expired = new_key!(ctx, owner, org, ["deals:read"]);
        diesel::update(api_keys::table.filter(api_keys::prefix.eq(expired["prefix"].as_str().unwrap())))
            .set(api_keys::expires_at.eq(Some(techx::db::types::now() - chrono::Duration::seconds(1))))
            .execute(&mut ctx.db.connect())
            .unwrap();
        let live = secret(&new_key!(ctx, owner, org, ["deals:read"]));
        let unknown = format!("{}{}", &live[..live.len() - 4], "ZZZZ");
        let bodies: Vec<Value> = {
            let mut out = Vec::new();
            for credential in ["not.a.jwt", "techx_live_short", &unknown, &secret(&revoked), &secret(&expired)] {
                let res = ctx.call(with_key(Method::GET, "/api/v1/deals", credential)).await;
                out.push(res.problem(401, "unauthorized"));
            }
            let res = ctx.call(TestRequest::get().uri("/api/v1/deals").insert_header(("X-Api-Key", "garbage"))).await;
            out.push(res.problem(401, "unauthorized"));
            out
        };
        assert!(bodies.windows(2).all(|w| w[0] == w[1]), "{bodies:?}");
        assert_eq!(ctx.call(with_key(Method::GET, "/api/v1/deals", &live)).await.status, 200);
    }

    async fn each_scope_allows_exactly_its_operations(backend) {
        let ctx = start(backend).await;
        let (owner, org) = owner_org!(ctx, "owner@a.vn", "Trung tâm A");
        let mut keys = Vec::new();
        for scope in Scope::ALL {
            keys.push((scope, secret(&new_key!(ctx, owner, org, [scope.as_str()]))));
        }
        let spec: Value = serde_json::from_str(&techx::app::openapi_json()).unwrap();
        let mut checked = 0;
        for (path, item) in spec["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let upper = method.to_uppercase();
                let known = scopes::find(&upper, path)
                    .unwrap_or_else(|| panic!("{upper} {path} is missing from domain::scopes::OPERATIONS"));
                assert_eq!(op["operationId"], known.operation_id, "{upper} {path}");
                let uri = fill_ids(path);
                for (scope, key) in &keys {
                    let mut req = with_key(Method::from_bytes(upper.as_bytes()).unwrap(), &uri, key)
                        .insert_header(("If-Match", "\"1\""));
                    if matches!(upper.as_str(), "POST" | "PATCH" | "PUT") {
                        req = req.set_json(json!({}));
                    }
                    let res = ctx.call(req).await;
                    let code = if res.status == 403 { res.json()["code"].as_str().unwrap_or("").to_owned() } else { String::new() };
                    match known.access {
                        Access::NoKey => {
                            res.problem(403, "api_key_not_allowed");
                        }
                        Access::Scope(needed) if needed != *scope => {
                            let body = res.problem(403, "insufficient_scope");
                            assert_eq!(body["required_scope"], needed.as_str(), "{upper} {path}");
                        }
                        _ => {
                            assert_ne!(res.status, 401, "{upper} {path} with {}", scope.as_str());
                            assert!(
                                code != "insufficient_scope" && code != "api_key_not_allowed",
                                "{upper} {path} refused {}: {}", scope.as_str(), res.text()
                            );
                        }
                    }
                    checked += 1;
                }
                // The document names the scope of every operation a key may call.
                if let Access::Scope(needed) = known.access {
                    assert_eq!(op["x-scopes"], json!([needed.as_str()]), "{upper} {path}");
                }
            }
        }
        assert!(checked > 12 * 80, "{checked}");
        // Every operation of the table is in the document.
        for o in scopes::OPERATIONS {
            assert!(spec["paths"][o.path][o.method.to_lowercase()].is_object(), "{} {}", o.method, o.path);
        }
    }

    async fn a_key_never_reaches_another_organisation(backend) {
        let ctx = start(backend).await;
        let (owner_a, org_a) = owner_org!(ctx, "owner@a.vn", "Trung tâm A");
        let (owner_b, org_b) = owner_org!(ctx, "owner@b.vn", "Viện B");
        let every = Scope::ALL.map(|s| s.as_str());
        let key = secret(&new_key!(ctx, owner_a, org_a, every));
        let draft = ctx.create_technology(&owner_b.access, &technology_body(&org_b, "Công nghệ của B")).await;
        let demand = ctx.post_as("/api/v1/demands", &owner_b.access, &json!({
            "organization_id": org_b, "title": "Nhu cầu B", "problem": "Vấn đề cần giải quyết.",
            "sectors": ["2.7"], "province": "thanh-hoa"})).await.ok();
        let t = format!("/api/v1/technologies/{}", id_of(&draft));
        let d = format!("/api/v1/demands/{}", id_of(&demand));
        let attempts = [
            (Method::GET, t.clone(), None),
            (Method::PATCH, t.clone(), Some(json!({"title": "Bị sửa"}))),
            (Method::DELETE, t.clone(), None),
            (Method::POST, format!("{t}/submit"), None),
            (Method::GET, d.clone(), None),
            (Method::PATCH, d.clone(), Some(json!({"title": "Bị sửa"}))),
            (Method::POST, format!("{d}/submit"), None),
        ];
        for (method, uri, body) in attempts {
            let res = ctx.send(method.clone(), &uri, Some(&key), Some(&etag_of(&draft)), body.as_ref()).await;
            res.problem(404, "not_found");
        }
        // The other organisation's own resources: refused, never listed.
        let res = ctx.send(Method::POST, &format!("/api/v1/organizations/{org_b}/webhooks"), Some(&key), None,
            Some(&json!({"url": "http://127.0.0.1:9/x", "event_types": ["match.found"]}))).await;
        assert!(matches!(res.status.as_u16(), 403 | 404), "{}", res.text());
        let res = ctx.get_as(&format!("/api/v1/organizations/{org_b}/audit-events"), &key).await;
        assert!(matches!(res.status.as_u16(), 403 | 404), "{}", res.text());
        let portfolio = ctx.get_as(&format!("/api/v1/organizations/{org_b}/technologies"), &key).await.ok();
        assert_eq!(portfolio["total"], 0, "drafts of B stay hidden");
        // Nothing changed.
        let after = ctx.get_as(&t, &owner_b.access).await.ok();
        assert_eq!((&after["title"], &after["status"], &after["version"]), (&draft["title"], &draft["status"], &draft["version"]));
        let after = ctx.get_as(&d, &owner_b.access).await.ok();
        assert_eq!((&after["title"], &after["version"]), (&demand["title"], &demand["version"]));
        let hooks: i64 = techx::db::schema::webhook_endpoints::table.count().get_result(&mut ctx.db.connect()).unwrap();
        assert_eq!(hooks, 0);
    }

    async fn each_key_has_its_own_rate_limit(backend) {
        let ctx = start_with(backend, |c| c.limits.api_key_per_minute = 3).await;
        let (owner, org) = owner_org!(ctx, "owner@a.vn", "Trung tâm A");
        let a = secret(&new_key!(ctx, owner, org, ["deals:read"]));
        let b = secret(&new_key!(ctx, owner, org, ["deals:read"]));
        for _ in 0..3 {
            assert_eq!(ctx.get_as("/api/v1/deals", &a).await.status, 200);
        }
        let res = ctx.get_as("/api/v1/deals", &a).await;
        res.problem(429, "too_many_requests");
        assert!(res.header("retry-after").and_then(|s| s.parse::<u64>().ok()).is_some_and(|s| s >= 1));
        assert_eq!(ctx.get_as("/api/v1/deals", &b).await.status, 200, "another key keeps its budget");
        assert_eq!(ctx.get_as("/api/v1/deals", &owner.access).await.status, 200, "sessions are not limited by it");
    }

    async fn a_revocation_holds_on_every_process_within_a_second(backend) {
        let db = TestDb::create(backend);
        let a = ServerProcess::start(&db.url, &[]);
        let b = ServerProcess::start(&db.url, &[]);
        let (owner, org) = signup_on(&a, &db, "owner@a.vn");
        let bearer = format!("Bearer {owner}");
        let key = a.request("POST", &keys_uri(&org), &[("Authorization", &bearer)], Some(&json!({"name": "CRM", "scopes": ["deals:read"]})));
        assert_eq!(key.status, 201, "{}", a.log());
        let key = key.json();
        let key_auth = format!("Bearer {}", secret(&key));
        assert_eq!(b.request("GET", "/api/v1/deals", &[("Authorization", &key_auth)], None).status, 200);
        let revoke = format!("{}/{}", keys_uri(&org), id_of(&key));
        assert_eq!(a.request("DELETE", &revoke, &[("Authorization", &bearer)], None).status, 204);
        let revoked_at = Instant::now();
        loop {
            let status = b.request("GET", "/api/v1/deals", &[("Authorization", &key_auth)], None).status;
            if status == 401 {
                break;
            }
            assert!(revoked_at.elapsed() < Duration::from_secs(1), "B still accepts the revoked key ({status})");
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(revoked_at.elapsed() < Duration::from_secs(1));
    }
}

/// Every `{param}` of a route template filled: the checklist item with a real name, ids
/// with fresh ones (the matrix tests the key check, which comes before any lookup).
fn fill_ids(path: &str) -> String {
    path.split('/')
        .map(|s| match s {
            "{item}" => "object".to_owned(),
            s if s.starts_with('{') => uuid::Uuid::now_v7().to_string(),
            s => s.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The `event` of every api_key_activity mail queued to `to`, oldest first.
fn mail_events(db: &TestDb, to: &str) -> Vec<Value> {
    let payloads: Vec<String> = outbox::table
        .filter(outbox::recipient.eq(to))
        .filter(outbox::template.eq("api_key_activity"))
        .order(outbox::created_at.asc())
        .select(outbox::payload)
        .load(&mut db.connect())
        .unwrap();
    payloads.iter().map(|p| serde_json::from_str(p).unwrap()).collect()
}

/// Registers, verifies and signs in on a running server, and creates an organisation;
/// returns the access token and the organisation id.
fn signup_on(server: &ServerProcess, db: &TestDb, email: &str) -> (String, String) {
    let body = json!({"email": email, "password": PASSWORD, "display_name": "Chủ sở hữu"});
    assert_eq!(server.request("POST", "/api/v1/auth/register", &[], Some(&body)).status, 201);
    let payload: String = outbox::table
        .filter(outbox::recipient.eq(email))
        .select(outbox::payload)
        .first(&mut db.connect())
        .unwrap();
    let token =
        serde_json::from_str::<Value>(&payload).unwrap()["token"].as_str().unwrap().to_owned();
    assert_eq!(
        server
            .request("POST", "/api/v1/auth/verify-email", &[], Some(&json!({"token": token})))
            .status,
        204
    );
    let login = json!({"email": email, "password": PASSWORD});
    let access =
        server.request("POST", "/api/v1/auth/login", &[], Some(&login)).json()["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
    let bearer = format!("Bearer {access}");
    let org = json!({"name": "Trung tâm A", "kind": "intermediary", "province": "thanh-hoa"});
    let org = server
        .request("POST", "/api/v1/organizations", &[("Authorization", &bearer)], Some(&org))
        .json();
    (access, id_of(&org))
}
