//! Webhooks on both backends, delivered over real HTTP to a receiver on loopback: the secret
//! shown once, signatures checked with it, retries, disabling after repeated failures (and
//! the owners' mail over real SMTP), the SSRF policy at registration and at send time, fan-out
//! of `emit`, and who may do what.

use crate::common;

use std::time::{Duration, Instant};

use actix_web::http::Method;
use actix_web::test::TestRequest;
use diesel::prelude::*;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use common::receiver::{Receiver, Reply};
use common::*;
use techx::auth::PlatformRole;
use techx::config::Environment;
use techx::db::dialect;
use techx::db::schema::{outbox, webhook_deliveries, webhook_endpoints};
use techx::db::types::EntityId;
use techx::domain::webhooks::UrlPolicy;
use techx::store::outbox::{OutboxRow, OutboxStatus};
use techx::webhooks::{EventType, emit};

/// Upper bound for anything to happen; tests normally finish far sooner.
const WAIT: Duration = Duration::from_secs(30);

fn webhooks_uri(org: &str) -> String {
    format!("/api/v1/organizations/{org}/webhooks")
}

fn webhook_uri(org: &str, id: &str) -> String {
    format!("/api/v1/organizations/{org}/webhooks/{id}")
}

fn id_of(value: &Value) -> String {
    value["id"].as_str().expect("an id").to_owned()
}

fn db_id(text: &str) -> EntityId {
    uuid::Uuid::parse_str(text).expect("a uuid").into()
}

/// The signature a receiver computes: HMAC-SHA256 keyed with the secret over
/// `{timestamp}.{body}`, written `sha256=<hex>`.
fn expected_signature(secret: &str, timestamp: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.{body}").as_bytes());
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// Checks the headers and signature of one delivered request; returns its body as JSON.
#[track_caller]
fn verify(request: &common::receiver::Request, secret: &str, event: &str) -> Value {
    assert_eq!(request.method, "POST");
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("x-techx-event"), Some(event));
    let timestamp = request.header("x-techx-timestamp").expect("X-Techx-Timestamp");
    let seconds: i64 = timestamp.parse().expect("unix seconds");
    assert!((chrono::Utc::now().timestamp() - seconds).abs() < 120, "fresh timestamp {seconds}");
    let signature = request.header("x-techx-signature").expect("X-Techx-Signature");
    assert_eq!(signature, expected_signature(secret, timestamp, &request.body), "signature");
    assert_ne!(signature, expected_signature("whsec_wrong", timestamp, &request.body));
    let body = request.json();
    assert_eq!(body["type"], event);
    body
}

/// Polls `check` until it yields a value; panics with `what` after `WAIT`.
async fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }
}

fn webhook_rows(db: &TestDb) -> Vec<OutboxRow> {
    outbox::table
        .filter(outbox::channel.eq("webhook"))
        .order((outbox::created_at, outbox::id))
        .load(&mut db.connect())
        .unwrap()
}

fn outbox_row(db: &TestDb, id: &str) -> OutboxRow {
    outbox::table.find(db_id(id)).first(&mut db.connect()).unwrap()
}

async fn row_settles(db: &TestDb, id: &str) -> OutboxRow {
    eventually("the delivery to settle", || {
        let row = outbox_row(db, id);
        matches!(row.status(), Some(OutboxStatus::Sent | OutboxStatus::Failed)).then_some(row)
    })
    .await
}

/// Id, URL, active flag and version of each endpoint.
type EndpointState = (String, String, bool, i32);

/// Everything webhook permissions protect, as the database holds it.
fn snapshot(db: &TestDb) -> (Vec<EndpointState>, i64, i64) {
    let mut conn = db.connect();
    let mut endpoints: Vec<EndpointState> = webhook_endpoints::table
        .select((
            webhook_endpoints::id,
            webhook_endpoints::url,
            webhook_endpoints::active,
            webhook_endpoints::version,
        ))
        .load::<(EntityId, String, bool, i32)>(&mut conn)
        .unwrap()
        .into_iter()
        .map(|(id, url, active, version)| (id.to_string(), url, active, version))
        .collect();
    endpoints.sort();
    let queued =
        outbox::table.filter(outbox::channel.eq("webhook")).count().get_result(&mut conn).unwrap();
    let logged = webhook_deliveries::table.count().get_result(&mut conn).unwrap();
    (endpoints, queued, logged)
}

/// Queues `event` for `org` through the events API, in a transaction of its own.
fn emit_now(db: &TestDb, org: &str, event: EventType, data: Value) {
    let mut conn = db.connect();
    dialect::write_transaction(&mut conn, |conn| emit(conn, db_id(org).to(), event, data)).unwrap();
}

backend_tests! {
    async fn publishing_a_listing_delivers_a_signed_listing_published_event(backend) {
        let ctx = start(backend).await;
        let owner = ctx.signup("owner@vien.vn").await;
        let moderator = ctx.staff("mod@techx.vn", techx::auth::PlatformRole::Moderator).await;
        let org = ctx.create_org(&owner, "Viện Lúa", "research_institute").await;
        let org_id = org["id"].as_str().unwrap();
        let receiver = Receiver::start();
        let created = ctx
            .post_as(&format!("/api/v1/organizations/{org_id}/webhooks"), &owner.access,
                &json!({"url": receiver.url("/hooks"), "event_types": ["listing.published"]}))
            .await;
        assert_eq!(created.status, 201, "{}", created.text());
        let secret = created.json()["secret"].as_str().unwrap().to_owned();
        let worker = ctx.deliver_webhooks();

        let listing = ctx.publish_technology(&owner, &moderator, &technology_body(org_id, "Giống lúa chịu mặn")).await;
        let requests = receiver.wait_for(1, Duration::from_secs(15)).await;
        let body = verify(&requests[0], &secret, "listing.published");
        assert_eq!(body["organization_id"], org_id);
        assert_eq!(body["data"]["technology_id"], listing["id"]);
        assert_eq!(body["data"]["title"], "Giống lúa chịu mặn");
        worker.stop().await;
    }

    async fn registration_shows_the_secret_once(backend) {
        let ctx = start(backend).await;
        let owner = ctx.signup("owner@vien.vn").await;
        let org = id_of(&ctx.create_org(&owner, "Viện Cơ điện", "research_institute").await);
        let body = json!({"url": "http://127.0.0.1:9/hooks/techx", "event_types": ["listing.published", "inquiry.received", "listing.published"]});
        let res = ctx.post_as(&webhooks_uri(&org), &owner.access, &body).await;
        assert_eq!(res.status, 201, "{}", res.text());
        let created = res.json();
        let id = id_of(&created);
        assert_eq!(res.header("location"), Some(webhook_uri(&org, &id).as_str()));
        assert_eq!(res.header("etag"), Some("\"1\""));
        let secret = created["secret"].as_str().expect("the secret").to_owned();
        assert!(secret.starts_with("whsec_") && secret.len() > 40, "{secret}");
        assert_eq!(created["organization_id"], org.as_str());
        assert_eq!(created["url"], "http://127.0.0.1:9/hooks/techx");
        assert_eq!(created["event_types"], json!(["inquiry.received", "listing.published"]), "deduplicated");
        assert_eq!((created["active"].as_bool(), created["consecutive_failures"].as_i64()), (Some(true), Some(0)));
        assert_eq!(created["created_by"], owner.user_id.as_str());
        assert!(created["disabled_at"].is_null());

        // Never again: not in the webhook, not in the list.
        let fetched = ctx.get_as(&webhook_uri(&org, &id), &owner.access).await;
        // The version, then a digest of the body (the conditional-GET middleware's).
        assert!(fetched.header("etag").unwrap().starts_with("\"1-"), "{:?}", fetched.header("etag"));
        let fetched = fetched.ok();
        assert!(fetched.get("secret").is_none(), "{fetched}");
        let mut without_secret = created.clone();
        without_secret.as_object_mut().unwrap().remove("secret");
        assert_eq!(fetched, without_secret);
        let list = ctx.get_as(&webhooks_uri(&org), &owner.access).await;
        assert!(!list.text().contains(&secret), "{}", list.text());
        let list = list.ok();
        assert_eq!((list["total"].as_i64(), list["items"][0]["id"].as_str()), (Some(1), Some(id.as_str())));
        assert!(list["items"][0].get("secret").is_none());
        // It is what deliveries are signed with.
        let stored = techx::store::webhooks::find(&mut ctx.db.connect(), db_id(&id).to()).unwrap().unwrap();
        assert_eq!(stored.secret, secret);
        assert!(!format!("{stored:?}").contains(&secret), "Debug redacts the secret");

        // A retry with the same Idempotency-Key gets the same answer, not a second webhook.
        let keyed = || TestRequest::post().uri(&webhooks_uri(&org))
            .insert_header(("Authorization", format!("Bearer {}", owner.access)))
            .insert_header(("Idempotency-Key", "hook-1"));
        let first = ctx.call(keyed().set_json(json!({"url": "http://127.0.0.1:9/b", "event_types": ["match.found"]}))).await;
        assert_eq!(first.status, 201, "{}", first.text());
        let again = ctx.call(keyed().set_json(json!({"url": "http://127.0.0.1:9/b", "event_types": ["match.found"]}))).await;
        assert_eq!(again.status, 201);
        assert_eq!(again.header("idempotent-replayed"), Some("true"));
        assert_eq!(again.json(), first.json());
        ctx.call(keyed().set_json(json!({"url": "http://127.0.0.1:9/c", "event_types": ["match.found"]}))).await
            .problem(422, "idempotency_key_reused");
        assert_eq!(ctx.get_as(&webhooks_uri(&org), &owner.access).await.ok()["total"], 2);

        // Invalid requests name their fields and register nothing.
        let uri = webhooks_uri(&org);
        ctx.post_as(&uri, &owner.access, &json!({"url": "http://127.0.0.1:9/", "event_types": []})).await.invalid_field("event_types");
        ctx.post_as(&uri, &owner.access, &json!({"url": "http://127.0.0.1:9/", "event_types": ["listing.published", "ping"]})).await.invalid_field("event_types[1]");
        ctx.post_as(&uri, &owner.access, &json!({"url": "http://127.0.0.1:9/", "event_types": ["listing.deleted"]})).await.invalid_field("event_types[0]");
        ctx.post_as(&uri, &owner.access, &json!({"url": "http://127.0.0.1:9/", "event_types": ["match.found"], "secret": "mine"})).await.problem(400, "validation_failed");
        let both = ctx.post_as(&uri, &owner.access, &json!({"url": "ftp://x", "event_types": []})).await.invalid_field("url");
        assert_eq!(both["errors"].as_array().unwrap().len(), 2, "{both}");
        assert_eq!(ctx.get_as(&webhooks_uri(&org), &owner.access).await.ok()["total"], 2);

        // At most 20 per organisation.
        for i in 2..20 {
            let res = ctx.post_as(&uri, &owner.access, &json!({"url": format!("http://127.0.0.1:9/{i}"), "event_types": ["match.found"]})).await;
            assert_eq!(res.status, 201, "{}", res.text());
        }
        ctx.post_as(&uri, &owner.access, &json!({"url": "http://127.0.0.1:9/21", "event_types": ["match.found"]})).await
            .problem(409, "webhook_limit_reached");
        let page = ctx.get_as(&format!("{uri}?per_page=5&page=4"), &owner.access).await.ok();
        assert_eq!((page["total"].as_i64(), page["items"].as_array().unwrap().len()), (Some(20), 5));
        ctx.get_as(&format!("{uri}?per_page=101"), &owner.access).await.invalid_field("per_page");
    }

    async fn a_test_ping_arrives_signed_and_is_logged(backend) {
        let ctx = start(backend).await;
        let receiver = Receiver::start();
        let owner = ctx.signup("owner@dn.vn").await;
        let org = id_of(&ctx.create_org(&owner, "Công ty Tự động hoá", "enterprise").await);
        let created = ctx.post_as(&webhooks_uri(&org), &owner.access,
            &json!({"url": receiver.url("/hooks/techx?src=1"), "event_types": ["listing.published"]})).await.ok();
        let (id, secret) = (id_of(&created), created["secret"].as_str().unwrap().to_owned());

        let test = ctx.post_as(&format!("{}/test", webhook_uri(&org, &id)), &owner.access, &json!({})).await;
        assert_eq!(test.status, 202, "{}", test.text());
        let test = test.json();
        let (event_id, delivery_id) = (test["event_id"].as_str().unwrap(), test["delivery_id"].as_str().unwrap());
        let queued = outbox_row(&ctx.db, delivery_id);
        assert_eq!((queued.channel.as_str(), queued.recipient.as_str(), queued.template.as_str()), ("webhook", id.as_str(), "ping"));

        let worker = ctx.deliver_webhooks();
        let requests = receiver.wait_for(1, WAIT).await;
        let row = row_settles(&ctx.db, delivery_id).await;
        worker.stop().await;
        assert_eq!(receiver.requests().len(), 1, "delivered once");
        let request = &requests[0];
        assert_eq!(request.path, "/hooks/techx?src=1");
        assert_eq!(request.header("x-techx-delivery"), Some(delivery_id));
        assert!(request.header("user-agent").is_some_and(|ua| ua.starts_with("techx-webhooks/")));
        let body = verify(request, &secret, "ping");
        assert_eq!(body["id"], event_id);
        assert_eq!(body["organization_id"], org.as_str());
        assert_eq!(body["data"]["webhook_id"], id.as_str());
        assert!(body["created_at"].as_str().unwrap().ends_with('Z'));
        assert_eq!(request.body, queued.payload, "the stored body, byte for byte");

        assert_eq!((row.status(), row.attempts), (Some(OutboxStatus::Sent), 1));
        let log = ctx.get_as(&format!("{}/deliveries", webhook_uri(&org, &id)), &owner.access).await.ok();
        assert_eq!(log["total"], 1, "{log}");
        let entry = &log["items"][0];
        assert_eq!(entry["delivery_id"], delivery_id);
        assert_eq!(entry["event_id"], event_id);
        assert_eq!(entry["event_type"], "ping");
        assert_eq!((entry["attempt"].as_i64(), entry["status_code"].as_i64()), (Some(1), Some(200)));
        assert_eq!((entry["succeeded"].as_bool(), entry["error"].is_null()), (Some(true), true));
        assert!(entry["duration_ms"].as_i64().is_some_and(|ms| ms >= 0));
        assert!(entry["created_at"].as_str().unwrap().ends_with('Z'));
        // A ping goes to the tested endpoint only, and subscribing to it is not a thing.
        assert_eq!(webhook_rows(&ctx.db).len(), 1);
    }

    async fn a_500_is_retried_until_the_receiver_accepts(backend) {
        let ctx = start(backend).await;
        let receiver = Receiver::start();
        receiver.then([Reply::status(500)]);
        let owner = ctx.signup("owner@ret.vn").await;
        let org = id_of(&ctx.create_org(&owner, "Trung tâm Ứng dụng", "intermediary").await);
        let created = ctx.post_as(&webhooks_uri(&org), &owner.access,
            &json!({"url": receiver.url("/in"), "event_types": ["listing.published"]})).await.ok();
        let (id, secret) = (id_of(&created), created["secret"].as_str().unwrap().to_owned());
        emit_now(&ctx.db, &org, EventType::ListingPublished, json!({"listing_id": "L-1", "title": "Máy sấy nông sản"}));
        let delivery = webhook_rows(&ctx.db).remove(0).id.to_string();

        let worker = ctx.deliver_webhooks();
        let row = row_settles(&ctx.db, &delivery).await;
        worker.stop().await;
        assert_eq!((row.status(), row.attempts), (Some(OutboxStatus::Sent), 2), "{row:?}");
        let requests = receiver.requests();
        assert_eq!(requests.len(), 2, "one failure, then exactly one success");
        for request in &requests {
            assert_eq!(request.header("x-techx-delivery"), Some(delivery.as_str()));
            let body = verify(request, &secret, "listing.published");
            assert_eq!(body["data"]["title"], "Máy sấy nông sản");
        }
        assert_eq!(requests[0].body, requests[1].body, "a retry sends the same event");

        let log = ctx.get_as(&format!("{}/deliveries", webhook_uri(&org, &id)), &owner.access).await.ok();
        let attempts: Vec<(i64, i64, bool)> = log["items"].as_array().unwrap().iter()
            .map(|e| (e["attempt"].as_i64().unwrap(), e["status_code"].as_i64().unwrap(), e["succeeded"].as_bool().unwrap()))
            .collect();
        assert_eq!(attempts, [(2, 200, true), (1, 500, false)], "newest first: {log}");
        assert_eq!(log["items"][1]["error"], "HTTP 500: receiver says 500");
        let webhook = ctx.get_as(&webhook_uri(&org, &id), &owner.access).await.ok();
        assert_eq!((webhook["consecutive_failures"].as_i64(), webhook["active"].as_bool()), (Some(0), Some(true)));
    }

    async fn repeated_failures_disable_the_endpoint_and_mail_its_owners(backend) {
        let ctx = start(backend).await;
        let receiver = Receiver::start();
        receiver.by_default(Reply::status(503));
        let owner = ctx.signup("owner@fail.vn").await;
        let org = id_of(&ctx.create_org(&owner, "Hợp tác xã Chè", "enterprise").await);
        // A second owner who reads English, and a member who is not told.
        let english = register_in_english(&ctx, "second@fail.vn").await;
        join(&ctx, &owner, &org, &english, "owner").await;
        let member = ctx.signup("member@fail.vn").await;
        join(&ctx, &owner, &org, &member, "member").await;
        let created = ctx.post_as(&webhooks_uri(&org), &owner.access,
            &json!({"url": receiver.url("/down"), "event_types": ["deal.stage_changed"]})).await.ok();
        let id = id_of(&created);
        emit_now(&ctx.db, &org, EventType::DealStageChanged, json!({"deal_id": "D-7", "stage": "contracting"}));
        let delivery = webhook_rows(&ctx.db).remove(0).id.to_string();

        let mailer = ctx.deliver_mail();
        let worker = ctx.deliver_webhooks_with(|c| {
            c.webhooks.disable_after = 3;
            c.mail.max_attempts = 10;
        });
        let row = row_settles(&ctx.db, &delivery).await;
        let vi = mailer.wait_for("owner@fail.vn", "đã bị tắt").await;
        let en = mailer.wait_for("second@fail.vn", "was disabled").await;
        worker.stop().await;
        mailer.stop().await;

        assert_eq!(receiver.requests().len(), 3, "no request after the endpoint was disabled");
        assert_eq!(row.status(), Some(OutboxStatus::Failed));
        assert_eq!(row.last_error.as_deref(), Some("the endpoint was disabled after repeated failures"));
        let webhook = ctx.get_as(&webhook_uri(&org, &id), &owner.access).await;
        assert!(webhook.header("etag").unwrap().starts_with("\"2-"), "disabling is a change owners see: {:?}", webhook.header("etag"));
        let webhook = webhook.json();
        assert_eq!((webhook["active"].as_bool(), webhook["consecutive_failures"].as_i64()), (Some(false), Some(3)));
        assert!(webhook["disabled_at"].is_string(), "{webhook}");
        assert_eq!(webhook["disabled_reason"], "3 delivery attempts in a row failed; the last: HTTP 503: receiver says 503");
        let log = ctx.get_as(&format!("{}/deliveries", webhook_uri(&org, &id)), &owner.access).await.ok();
        let attempts: Vec<(i64, i64)> = log["items"].as_array().unwrap().iter()
            .map(|e| (e["attempt"].as_i64().unwrap(), e["status_code"].as_i64().unwrap())).collect();
        assert_eq!(attempts, [(3, 503), (2, 503), (1, 503)]);

        assert_eq!(vi.subject, "Webhook của Hợp tác xã Chè trên techx đã bị tắt");
        assert_eq!(vi.content_language.as_deref(), Some("vi"));
        let text = vi.text.as_deref().unwrap();
        assert!(text.contains(&receiver.url("/down")) && text.contains("3 lần gửi liên tiếp"), "{text}");
        assert!(text.contains("HTTP 503"), "{text}");
        assert!(text.contains(&format!("https://san.techx.vn/organizations/{org}/webhooks/{id}")), "{text}");
        assert_eq!(en.subject, "A webhook of Hợp tác xã Chè on techx was disabled");
        assert!(en.html.as_deref().unwrap().contains("3 delivery attempts in a row failed"));
        assert_eq!(ctx.mail_count("member@fail.vn", "webhook_disabled"), 0, "members are not told");
        assert_eq!(ctx.mail_count("owner@fail.vn", "webhook_disabled"), 1, "told once");

        // A test ping needs an active webhook; re-activating clears the failures.
        let test_uri = format!("{}/test", webhook_uri(&org, &id));
        ctx.post_as(&test_uri, &owner.access, &json!({})).await.problem(409, "webhook_inactive");
        let patch = TestRequest::patch().uri(&webhook_uri(&org, &id))
            .insert_header(("Authorization", format!("Bearer {}", owner.access)))
            .insert_header(("If-Match", "\"2\""))
            .set_json(json!({"active": true}));
        let resumed = ctx.call(patch).await.ok();
        assert_eq!((resumed["active"].as_bool(), resumed["consecutive_failures"].as_i64()), (Some(true), Some(0)));
        assert!(resumed["disabled_at"].is_null() && resumed["disabled_reason"].is_null(), "{resumed}");
        assert_eq!(ctx.post_as(&test_uri, &owner.access, &json!({})).await.status, 202);
    }

    async fn slow_and_redirecting_receivers_fail(backend) {
        let ctx = start(backend).await;
        let receiver = Receiver::start();
        receiver.then([Reply::slow(Duration::from_secs(3)), Reply::redirect(&receiver.url("/elsewhere"))]);
        let owner = ctx.signup("owner@slow.vn").await;
        let org = id_of(&ctx.create_org(&owner, "Viện Nhiệt đới", "research_institute").await);
        let created = ctx.post_as(&webhooks_uri(&org), &owner.access,
            &json!({"url": receiver.url("/slow"), "event_types": ["match.found"]})).await.ok();
        let id = id_of(&created);
        emit_now(&ctx.db, &org, EventType::MatchFound, json!({"score": 0.91}));
        let delivery = webhook_rows(&ctx.db).remove(0).id.to_string();

        let worker = ctx.deliver_webhooks_with(|c| c.webhooks.timeout = Duration::from_millis(500));
        let row = row_settles(&ctx.db, &delivery).await;
        worker.stop().await;
        assert_eq!((row.status(), row.attempts), (Some(OutboxStatus::Sent), 3), "{row:?}");
        let paths: Vec<String> = receiver.requests().iter().map(|r| r.path.clone()).collect();
        assert_eq!(paths, ["/slow", "/slow", "/slow"], "the redirect was not followed");
        let log = ctx.get_as(&format!("{}/deliveries", webhook_uri(&org, &id)), &owner.access).await.ok();
        let items = log["items"].as_array().unwrap();
        assert_eq!(items[2]["error"], "no response within 500 ms", "{log}");
        assert!(items[2]["status_code"].is_null());
        assert_eq!(items[1]["status_code"], 302);
        assert_eq!(items[1]["error"], "HTTP 302 (redirects are not followed)");
        assert_eq!(items[0]["succeeded"], true);
    }

    async fn url_policy_outside_production(backend) {
        let ctx = start(backend).await;
        let owner = ctx.signup("owner@url.vn").await;
        let org = id_of(&ctx.create_org(&owner, "Sở KH&CN", "government").await);
        let uri = webhooks_uri(&org);
        for url in ["http://127.0.0.1:8089/hook", "http://localhost:3000/h", "http://[::1]:9000/h", "https://hooks.example.vn/techx"] {
            let res = ctx.post_as(&uri, &owner.access, &json!({"url": url, "event_types": ["match.found"]})).await;
            assert_eq!(res.status, 201, "{url}: {}", res.text());
        }
        for url in [
            "http://10.0.0.1/hook", "https://10.0.0.1/hook", "https://192.168.1.20/h", "https://172.20.0.5/h",
            "https://169.254.169.254/latest/meta-data", "https://[fd00::1]/h", "https://[fe80::1]/h",
            "https://0.0.0.0/h", "http://hooks.example.vn/techx", "https://2130706433/h",
        ] {
            ctx.post_as(&uri, &owner.access, &json!({"url": url, "event_types": ["match.found"]})).await.invalid_field("url");
        }
        assert_eq!(ctx.get_as(&uri, &owner.access).await.ok()["total"], 4, "nothing refused was stored");
    }

    async fn url_policy_in_production(backend) {
        let ctx = start_with(backend, |c| c.environment = Environment::Prod).await;
        let owner = ctx.signup("owner@prod.vn").await;
        let org = id_of(&ctx.create_org(&owner, "Sàn Thanh Hoá", "government").await);
        let uri = webhooks_uri(&org);
        for (url, message) in [
            ("http://127.0.0.1:8089/hook", "must be an https:// URL"),
            ("https://127.0.0.1/hook", "must not point at a loopback address"),
            ("https://localhost/hook", "must not point at this machine (localhost)"),
            ("https://[::1]/hook", "must not point at a loopback address"),
            ("http://hooks.example.vn/techx", "must be an https:// URL"),
            ("https://10.1.2.3/hook", "must not point at a private network address"),
        ] {
            let body = ctx.post_as(&uri, &owner.access, &json!({"url": url, "event_types": ["match.found"]})).await.invalid_field("url");
            assert_eq!(body["errors"][0]["message"], message, "{url}");
        }
        let created = ctx.post_as(&uri, &owner.access, &json!({"url": "https://hooks.example.vn/techx", "event_types": ["match.found"]})).await;
        assert_eq!(created.status, 201, "{}", created.text());
        let id = id_of(&created.json());
        // Changing it to a private address is refused too, and changes nothing.
        let patch = TestRequest::patch().uri(&webhook_uri(&org, &id))
            .insert_header(("Authorization", format!("Bearer {}", owner.access)))
            .insert_header(("If-Match", "\"1\""))
            .set_json(json!({"url": "https://192.168.0.10/hook"}));
        ctx.call(patch).await.invalid_field("url");
        let webhook = ctx.get_as(&webhook_uri(&org, &id), &owner.access).await.ok();
        assert_eq!((webhook["url"].as_str(), webhook["version"].as_i64()), (Some("https://hooks.example.vn/techx"), Some(1)));
    }

    async fn a_refusal_at_send_time_is_logged_as_a_failure(backend) {
        // Registered while loopback was allowed; the deployment now runs in production (the
        // same check guards a host whose DNS answer changed since registration).
        let ctx = start(backend).await;
        let receiver = Receiver::start();
        let owner = ctx.signup("owner@ssrf.vn").await;
        let org = id_of(&ctx.create_org(&owner, "Công ty An toàn", "enterprise").await);
        let created = ctx.post_as(&webhooks_uri(&org), &owner.access,
            &json!({"url": format!("https://127.0.0.1:{}/internal", receiver.port), "event_types": ["inquiry.received"]})).await.ok();
        let id = id_of(&created);
        emit_now(&ctx.db, &org, EventType::InquiryReceived, json!({"inquiry_id": "Q-1"}));
        let delivery = webhook_rows(&ctx.db).remove(0).id.to_string();

        let worker = ctx.deliver_webhooks_with(|c| {
            c.environment = Environment::Prod;
            c.mail.max_attempts = 2;
        });
        let row = row_settles(&ctx.db, &delivery).await;
        worker.stop().await;
        assert_eq!((row.status(), row.attempts), (Some(OutboxStatus::Failed), 2));
        assert_eq!(receiver.connections(), 0, "nothing reached the receiver");
        let log = ctx.get_as(&format!("{}/deliveries", webhook_uri(&org, &id)), &owner.access).await.ok();
        assert_eq!(log["total"], 2);
        assert_eq!(log["items"][0]["error"], "refused: the URL must not point at a loopback address");
        assert!(log["items"][0]["status_code"].is_null());
        let webhook = ctx.get_as(&webhook_uri(&org, &id), &owner.access).await.ok();
        assert_eq!(webhook["consecutive_failures"], 2, "refusals count as failures");
    }

    async fn emit_reaches_only_active_subscribers_of_the_organisation(backend) {
        let ctx = start(backend).await;
        let receiver = Receiver::start();
        let alice = ctx.signup("alice@emit.vn").await;
        let bob = ctx.signup("bob@emit.vn").await;
        let org_a = id_of(&ctx.create_org(&alice, "Tổ chức A", "enterprise").await);
        let org_b = id_of(&ctx.create_org(&bob, "Tổ chức B", "enterprise").await);
        let ctx_ref = &ctx;
        let register = |org: &str, token: &str, path: &str, events: Value, active: bool| {
            let (uri, token, body) = (webhooks_uri(org), token.to_owned(),
                json!({"url": receiver.url(path), "event_types": events, "active": active}));
            async move { id_of(&ctx_ref.post_as(&uri, &token, &body).await.ok()) }
        };
        let subscribed = register(&org_a, &alice.access, "/a/subscribed", json!(["listing.published", "match.found"]), true).await;
        register(&org_a, &alice.access, "/a/other-event", json!(["match.found"]), true).await;
        register(&org_a, &alice.access, "/a/paused", json!(["listing.published"]), false).await;
        register(&org_b, &bob.access, "/b/subscribed", json!(["listing.published"]), true).await;

        // Nothing leaves a transaction that rolls back, and nobody gets a ping.
        let mut conn = ctx.db.connect();
        let rolled_back: Result<(), techx::error::ApiError> = dialect::write_transaction(&mut conn, |conn| {
            emit(conn, db_id(&org_a).to(), EventType::ListingPublished, json!({"n": 0}))?;
            Err(techx::error::ApiError::conflict("conflict", "the change failed"))
        });
        assert!(rolled_back.is_err());
        emit_now(&ctx.db, &org_a, EventType::Ping, json!({}));
        emit_now(&ctx.db, &org_a, EventType::ValuationStatusChanged, json!({}));
        assert!(webhook_rows(&ctx.db).is_empty());

        emit_now(&ctx.db, &org_a, EventType::ListingPublished, json!({"n": 1}));
        let rows = webhook_rows(&ctx.db);
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!((rows[0].recipient.as_str(), rows[0].template.as_str()), (subscribed.as_str(), "listing.published"));
        assert_eq!(rows[0].status(), Some(OutboxStatus::Pending));
        let payload: Value = serde_json::from_str(&rows[0].payload).unwrap();
        assert_eq!(payload["organization_id"], org_a.as_str());
        assert_eq!(payload["data"], json!({"n": 1}));

        let worker = ctx.deliver_webhooks();
        row_settles(&ctx.db, &rows[0].id.to_string()).await;
        worker.stop().await;
        let paths: Vec<String> = receiver.requests().iter().map(|r| r.path.clone()).collect();
        assert_eq!(paths, ["/a/subscribed"]);
    }

    async fn update_and_delete(backend) {
        let ctx = start(backend).await;
        let receiver = Receiver::start();
        let owner = ctx.signup("owner@edit.vn").await;
        let org = id_of(&ctx.create_org(&owner, "Viện Dầu khí", "research_institute").await);
        let id = id_of(&ctx.post_as(&webhooks_uri(&org), &owner.access,
            &json!({"url": receiver.url("/v1"), "event_types": ["match.found"]})).await.ok());
        let uri = webhook_uri(&org, &id);
        let patch = |if_match: Option<&str>, body: Value| {
            let mut req = TestRequest::patch().uri(&uri)
                .insert_header(("Authorization", format!("Bearer {}", owner.access)))
                .set_json(body);
            if let Some(tag) = if_match {
                req = req.insert_header(("If-Match", tag.to_owned()));
            }
            ctx.call(req)
        };
        patch(None, json!({"active": false})).await.problem(428, "precondition_required");
        patch(Some("\"1\""), json!({"event_types": []})).await.invalid_field("event_types");
        patch(Some("\"1\""), json!({"owner": "me"})).await.problem(400, "validation_failed");
        let res = patch(Some("\"1\""), json!({"url": receiver.url("/v2"), "event_types": ["deal.stage_changed", "match.found"], "active": false})).await;
        assert_eq!(res.header("etag"), Some("\"2\""));
        let changed = res.ok();
        assert_eq!(changed["url"], receiver.url("/v2"));
        assert_eq!(changed["event_types"], json!(["deal.stage_changed", "match.found"]));
        assert_eq!((changed["active"].as_bool(), changed["version"].as_i64()), (Some(false), Some(2)));
        assert!(changed["disabled_at"].is_null(), "paused by its owner, not disabled");
        patch(Some("\"1\""), json!({"active": true})).await.problem(412, "precondition_failed");
        ctx.post_as(&format!("{uri}/test"), &owner.access, &json!({})).await.problem(409, "webhook_inactive");

        // A delivery queued before the webhook is deleted is dropped without a request.
        let resumed = patch(Some("\"2\""), json!({"active": true})).await.ok();
        assert_eq!(resumed["version"], 3);
        let test = ctx.post_as(&format!("{uri}/test"), &owner.access, &json!({})).await.ok();
        assert_eq!(ctx.authed(Method::DELETE, &uri, &owner.access, None).await.status, 204);
        ctx.get_as(&uri, &owner.access).await.problem(404, "not_found");
        ctx.authed(Method::DELETE, &uri, &owner.access, None).await.problem(404, "not_found");
        ctx.get_as(&format!("{uri}/deliveries"), &owner.access).await.problem(404, "not_found");
        let worker = ctx.deliver_webhooks();
        let row = row_settles(&ctx.db, test["delivery_id"].as_str().unwrap()).await;
        worker.stop().await;
        assert_eq!((row.status(), row.last_error.as_deref()), (Some(OutboxStatus::Failed), Some("the endpoint was deleted")));
        assert_eq!(receiver.connections(), 0);
    }

    async fn owners_manage_staff_read_and_nobody_else_changes_anything(backend) {
        let ctx = start(backend).await;
        let alice = ctx.signup("alice@perm.vn").await;
        let bob = ctx.signup("bob@perm.vn").await;
        let member = ctx.signup("member@perm.vn").await;
        let moderator = ctx.staff("mod@techx.vn", PlatformRole::Moderator).await;
        let a = id_of(&ctx.create_org(&alice, "Tổ chức A", "enterprise").await);
        let b = id_of(&ctx.create_org(&bob, "Tổ chức B", "enterprise").await);
        join(&ctx, &alice, &a, &member, "member").await;
        let hook = id_of(&ctx.post_as(&webhooks_uri(&a), &alice.access,
            &json!({"url": "http://127.0.0.1:9/a", "event_types": ["match.found"]})).await.ok());
        let before = snapshot(&ctx.db);

        let new = json!({"url": "http://127.0.0.1:9/evil", "event_types": ["match.found"]});
        let change = json!({"url": "http://127.0.0.1:9/evil"});
        let on = |org: &str| -> Vec<(Method, String, Option<Value>)> {
            vec![
                (Method::POST, webhooks_uri(org), Some(new.clone())),
                (Method::GET, webhooks_uri(org), None),
                (Method::GET, webhook_uri(org, &hook), None),
                (Method::PATCH, webhook_uri(org, &hook), Some(change.clone())),
                (Method::DELETE, webhook_uri(org, &hook), None),
                (Method::GET, format!("{}/deliveries", webhook_uri(org, &hook)), None),
                (Method::POST, format!("{}/test", webhook_uri(org, &hook)), Some(json!({}))),
            ]
        };
        let request = |method: &Method, uri: &str, body: &Option<Value>, token: Option<&str>| {
            let mut req = TestRequest::default().method(method.clone()).uri(uri).insert_header(("If-Match", "\"1\""));
            if let Some(token) = token {
                req = req.insert_header(("Authorization", format!("Bearer {token}")));
            }
            if let Some(body) = body {
                req = req.set_json(body);
            }
            req
        };
        let reads = |method: &Method, uri: &str| *method == Method::GET && !uri.ends_with("/test");
        for (method, uri, body) in on(&a) {
            // A member who is not an owner, and an owner of another organisation: 403.
            for (who, token) in [("member", &member.access), ("stranger", &bob.access)] {
                let res = ctx.call(request(&method, &uri, &body, Some(token))).await;
                assert_eq!(res.status, 403, "{who} {method} {uri}: {}", res.text());
                res.problem(403, "forbidden");
            }
            // Staff read, never write.
            let res = ctx.call(request(&method, &uri, &body, Some(&moderator.access))).await;
            if reads(&method, &uri) {
                assert_eq!(res.status, 200, "moderator {method} {uri}: {}", res.text());
                assert!(!res.text().contains("whsec_"), "no secret for staff");
            } else {
                res.problem(403, "forbidden");
            }
            // Anonymous: 401.
            ctx.call(request(&method, &uri, &body, None)).await.problem(401, "unauthorized");
        }
        // Through an organisation the caller does own, another's webhook does not exist.
        for (method, uri, body) in on(&b).into_iter().skip(2) {
            let res = ctx.call(request(&method, &uri, &body, Some(&bob.access))).await;
            res.problem(404, "not_found");
        }
        assert_eq!(snapshot(&ctx.db), before, "nothing changed in the database");
        assert_eq!(ctx.get_as(&webhooks_uri(&b), &bob.access).await.ok()["total"], 0);
    }
}

/// Registers, verifies and signs in a user whose language is English.
async fn register_in_english<S, B>(ctx: &Ctx<S>, email: &str) -> Session
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: actix_web::body::MessageBody,
{
    let res = ctx
        .post("/api/v1/auth/register", &json!({"email": email, "password": PASSWORD, "display_name": "Alex Smith", "language": "en"}))
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    let token = ctx.mailed_token(email, "verify_email");
    assert_eq!(ctx.post("/api/v1/auth/verify-email", &json!({"token": token})).await.status, 204);
    let tokens = ctx.login(email, PASSWORD).await.ok();
    Session {
        user_id: id_of(&res.json()),
        email: email.to_owned(),
        access: tokens["access_token"].as_str().unwrap().to_owned(),
        refresh: tokens["refresh_token"].as_str().unwrap().to_owned(),
    }
}

/// Makes `user` a member of `org` with `role`, through an invitation.
async fn join<S, B>(ctx: &Ctx<S>, owner: &Session, org: &str, user: &Session, role: &str)
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: actix_web::body::MessageBody,
{
    let invited = ctx
        .post_as(
            &format!("/api/v1/organizations/{org}/invitations"),
            &owner.access,
            &json!({"email": user.email, "role": role}),
        )
        .await;
    assert_eq!(invited.status, 201, "{}", invited.text());
    let token = ctx.mailed_token(&user.email, "organization_invitation");
    ctx.post_as("/api/v1/invitations/accept", &user.access, &json!({"token": token})).await.ok();
}

/// The delivery client resolves first and refuses what the policy forbids, before any
/// connection: `localhost` is a loopback name in production.
#[test]
fn the_delivery_client_refuses_forbidden_addresses_before_connecting() {
    let receiver = Receiver::start();
    let url = format!("http://localhost:{}/hook", receiver.port);
    let strict =
        techx::webhooks::worker::http_client(UrlPolicy::Production, Duration::from_secs(5));
    let error = strict.post(&url).send("{}").expect_err("refused");
    match error {
        ureq::Error::Io(e) => {
            assert_eq!(e.kind(), std::io::ErrorKind::PermissionDenied);
            let message = e.to_string();
            assert!(message.starts_with("refused: localhost resolves to "), "{message}");
            assert!(message.ends_with("a loopback address"), "{message}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(receiver.connections(), 0, "no connection was made");
    // The same client under the development policy reaches the receiver: the refusal above
    // was the policy's doing.
    let local =
        techx::webhooks::worker::http_client(UrlPolicy::Development, Duration::from_secs(5));
    let response = local.post(&url).send("{}").expect("delivered");
    assert_eq!(response.status(), 200);
    assert_eq!(receiver.requests().len(), 1);
    // https:// goes through TLS (rustls with its ring provider): against this plain-HTTP
    // receiver the handshake fails, as an error, not a panic.
    let tls = local.post(format!("https://localhost:{}/hook", receiver.port)).send("{}");
    assert!(tls.is_err(), "{tls:?}");
    assert_eq!(receiver.requests().len(), 1, "no request without a TLS session");
}
