//! The real binary under real conditions: graceful shutdown under load, two processes on one
//! database, and a database outage.

use crate::common;

use std::time::{Duration, Instant};

use actix_web::test::TestRequest;
use std::io::Write;

use common::net::{Proxy, ServerProcess, read_response, send_partial, send_request};
use common::*;
use diesel::prelude::*;
use serde_json::json;
use techx::db::schema::{outbox, users};

fn register_body(i: usize) -> serde_json::Value {
    json!({"email": format!("user{i}@b.vn"), "password": PASSWORD, "display_name": format!("Người dùng {i}")})
}

/// Requests in flight on `server` (counting the metrics request itself).
fn in_flight(server: &ServerProcess) -> i64 {
    let metrics = server.request("GET", "/metrics", &[], None).body;
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("techx_http_requests_in_flight "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

backend_tests! {
    async fn sigterm_finishes_in_flight_requests_and_writes_nothing_half(backend) {
        let db = TestDb::create(backend);
        let mut server = ServerProcess::start(&db.url, &[]);
        // Eight registrations the server has started (head read, body half sent): in flight.
        let mut pending: Vec<_> = (0..8)
            .map(|i| send_partial(&server.addr, "POST", "/api/v1/auth/register", &[], Some(&register_body(i)), 10).unwrap())
            .collect();
        let deadline = Instant::now() + Duration::from_secs(10);
        while in_flight(&server) < 9 {
            assert!(Instant::now() < deadline, "requests never started: {}", server.log());
            std::thread::sleep(Duration::from_millis(10));
        }
        server.sigterm();
        std::thread::sleep(Duration::from_millis(100));
        for (stream, rest) in &mut pending {
            stream.write_all(rest).unwrap();
        }
        let statuses: Vec<u16> = pending.into_iter().map(|(s, _)| read_response(s).map_or(0, |r| r.status)).collect();
        assert_eq!(statuses, vec![201; 8], "every in-flight request completed: {}", server.log());

        // New connections are refused once the server has stopped listening.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match send_request(&server.addr, "GET", "/healthz", &[], None).and_then(read_response) {
                Err(_) => break,
                Ok(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
                Ok(r) => panic!("still serving after SIGTERM: {r:?}"),
            }
        }
        assert!(server.wait_exit(Duration::from_secs(35)), "clean exit: {}", server.log());

        let mut conn = db.connect();
        let user_count: i64 = users::table.count().get_result(&mut conn).unwrap();
        let mails: i64 = outbox::table.filter(outbox::template.eq("verify_email")).count().get_result(&mut conn).unwrap();
        assert_eq!((user_count, mails), (8, 8), "each account came with its verification mail");
    }

    async fn two_processes_share_sessions_keys_and_versions(backend) {
        let db = TestDb::create(backend);
        let a = ServerProcess::start(&db.url, &[]);
        let b = ServerProcess::start(&db.url, &[]);
        assert_eq!(a.request("POST", "/api/v1/auth/register", &[], Some(&register_body(1))).status, 201);
        let token: String = {
            let mut conn = db.connect();
            let payload: String = outbox::table.select(outbox::payload).first(&mut conn).unwrap();
            serde_json::from_str::<serde_json::Value>(&payload).unwrap()["token"].as_str().unwrap().to_owned()
        };
        assert_eq!(b.request("POST", "/api/v1/auth/verify-email", &[], Some(&json!({"token": token}))).status, 204);
        let login = json!({"email": "user1@b.vn", "password": PASSWORD});
        let tokens = b.request("POST", "/api/v1/auth/login", &[], Some(&login)).json();
        let access = format!("Bearer {}", tokens["access_token"].as_str().unwrap());
        assert_eq!(a.request("GET", "/api/v1/me", &[("Authorization", &access)], None).status, 200);

        // Refresh rotation: rotate on A, replay the old token on B → the family dies everywhere.
        let old = json!({"refresh_token": tokens["refresh_token"]});
        let rotated = a.request("POST", "/api/v1/auth/refresh", &[], Some(&old)).json();
        assert_eq!(b.request("POST", "/api/v1/auth/refresh", &[], Some(&old)).status, 401);
        let newest = json!({"refresh_token": rotated["refresh_token"]});
        assert_eq!(a.request("POST", "/api/v1/auth/refresh", &[], Some(&newest)).status, 401);

        let tokens = a.request("POST", "/api/v1/auth/login", &[], Some(&login)).json();
        let access = format!("Bearer {}", tokens["access_token"].as_str().unwrap());
        let auth = [("Authorization", access.as_str()), ("Idempotency-Key", "same-key")];
        // The same Idempotency-Key on both processes at once creates one organisation.
        let org = json!({"name": "Hợp tác xã Nông nghiệp", "kind": "enterprise", "province": "thanh-hoa"});
        let sent: Vec<_> = [&a, &b, &a, &b]
            .iter()
            .map(|s| send_request(&s.addr, "POST", "/api/v1/organizations", &auth, Some(&org)).unwrap())
            .collect();
        let created: Vec<_> = sent.into_iter().map(|s| read_response(s).unwrap()).collect();
        assert!(created.iter().all(|r| r.status == 201), "{created:?}");
        let ids: std::collections::HashSet<String> =
            created.iter().map(|r| r.json()["id"].as_str().unwrap().to_owned()).collect();
        assert_eq!(ids.len(), 1, "one organisation for one key");
        let count: i64 = techx::db::schema::organizations::table.count().get_result(&mut db.connect()).unwrap();
        assert_eq!(count, 1);

        // If-Match: the first write wins whichever process serves it.
        let id = ids.into_iter().next().unwrap();
        let uri = format!("/api/v1/organizations/{id}");
        let h = [("Authorization", access.as_str()), ("If-Match", "\"1\"")];
        assert_eq!(a.request("PATCH", &uri, &h, Some(&json!({"address": "A"}))).status, 200);
        assert_eq!(b.request("PATCH", &uri, &h, Some(&json!({"address": "B"}))).status, 412);

        // Failed logins count across processes.
        let wrong = json!({"email": "user1@b.vn", "password": "not the password"});
        for i in 0..5 {
            let server = if i % 2 == 0 { &a } else { &b };
            assert_eq!(server.request("POST", "/api/v1/auth/login", &[], Some(&wrong)).status, 401);
        }
        assert_eq!(a.request("POST", "/api/v1/auth/login", &[], Some(&login)).status, 429);
        assert_eq!(b.request("POST", "/api/v1/auth/login", &[], Some(&login)).status, 429);
    }

    async fn two_processes_deliver_each_mail_once_and_expire_each_listing_once(backend) {
        use techx::db::schema::technologies;
        let ctx = start(backend).await;
        let owner = ctx.signup("lan.nguyen@hdu.edu.vn").await;
        let org = ctx.create_org(&owner, "Trường Đại học Hồng Đức", "university").await;
        let org = org["id"].as_str().unwrap().to_owned();
        let moderator = ctx.staff("kiemduyet@sokhcn.thanhhoa.gov.vn", techx::auth::PlatformRole::Moderator).await;
        let titles = ["Máy sấy lúa", "Chế phẩm vi sinh", "Cảm biến độ ẩm", "Phần mềm truy xuất"];
        for title in titles {
            ctx.publish_technology(&owner, &moderator, &technology_body(&org, title)).await;
        }
        // Mail queued so far (sign-ups, reviews) is not what this test counts.
        diesel::delete(outbox::table).execute(&mut ctx.db.connect()).unwrap();

        let sink = common::smtp::SmtpSink::start();
        let smtp = sink.url();
        let env = [
            ("TECHX_SMTP_URL", smtp.as_str()),
            ("TECHX_OUTBOX_POLL_MS", "50"),
            ("TECHX_OUTBOX_BATCH_SIZE", "3"),
            ("TECHX_EXPIRY_INTERVAL_SECS", "1"),
        ];
        let a = ServerProcess::start(&ctx.db.url, &env);
        let b = ServerProcess::start(&ctx.db.url, &env);

        // Both processes' outbox workers poll the same table while 12 mails are queued
        // through both of them.
        for i in 0..12 {
            let server = if i % 2 == 0 { &a } else { &b };
            assert_eq!(server.request("POST", "/api/v1/auth/register", &[], Some(&register_body(i))).status, 201);
        }
        // Both processes' expiry jobs (every second) find every listing past its end.
        diesel::update(technologies::table)
            .set(technologies::expires_at.eq(techx::db::types::now() - chrono::Duration::days(1)))
            .execute(&mut ctx.db.connect())
            .unwrap();

        let expected = 12 + titles.len();
        sink.wait_for(expected, Duration::from_secs(30)).await;
        // Several more poll and expiry rounds on both processes, to catch a second delivery.
        actix_web::rt::time::sleep(Duration::from_secs(3)).await;
        let messages = sink.messages();
        assert_eq!(messages.len(), expected, "each mail delivered once: {:#?}", messages.iter().map(|m| &m.rcpt_to).collect::<Vec<_>>());
        let mut recipients: Vec<String> = messages.iter().flat_map(|m| m.rcpt_to.clone()).collect();
        recipients.sort();
        recipients.dedup();
        assert_eq!(recipients.len(), 13, "twelve new users and the listing owner: {recipients:?}");
        let expired_mails =
            messages.iter().filter(|m| m.rcpt_to.iter().any(|r| r == "lan.nguyen@hdu.edu.vn")).count();
        assert_eq!(expired_mails, titles.len(), "one expiry mail per listing");

        let mut conn = ctx.db.connect();
        let archived: i64 = technologies::table.filter(technologies::status.eq("archived")).count().get_result(&mut conn).unwrap();
        assert_eq!(archived, titles.len() as i64);
        let versions: Vec<i32> = technologies::table.select(technologies::version).load(&mut conn).unwrap();
        assert!(versions.iter().all(|&v| v == versions[0]), "each listing archived by one update: {versions:?}");
        let unsent: i64 = outbox::table.filter(outbox::sent_at.is_null()).count().get_result(&mut conn).unwrap();
        assert_eq!(unsent, 0);
    }

    async fn oversized_headers_and_slow_clients_are_cut_off(backend) {
        let db = TestDb::create(backend);
        let server = ServerProcess::start(&db.url, &[("TECHX_CLIENT_TIMEOUT_MS", "500")]);

        let get = |headers: &[(&str, &str)]| {
            read_response(send_request(&server.addr, "GET", "/api/v1/taxonomy/provinces", headers, None).unwrap()).unwrap()
        };
        // Under TECHX_MAX_HEADER_BYTES (16 KiB by default) a request is served; over it, 431.
        let fits = "x".repeat(15 * 1024);
        assert_eq!(get(&[("X-Padding", &fits)]).status, 200);
        let over = "x".repeat(17 * 1024);
        let res = get(&[("X-Padding", &over)]);
        assert_eq!(res.status, 431, "{res:?}");
        assert_eq!(res.header("content-type"), Some("application/problem+json"));
        assert_eq!(res.json()["code"], "header_too_large");
        // Beyond what actix-http buffers (128 KiB, or 96 headers), the connection is refused
        // with a bare 431 before techx sees the request; a client still writing the rest of
        // its head may see the reset instead of the answer.
        let huge = "x".repeat(140 * 1024);
        let sent = send_request(&server.addr, "GET", "/healthz", &[("X-Padding", &huge)], None);
        match sent.and_then(read_response) {
            Ok(res) => assert_eq!(res.status, 431, "{res:?}"),
            Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
        }
        let names: Vec<String> = (0..120).map(|i| format!("X-H{i}")).collect();
        let many: Vec<(&str, &str)> = names.iter().map(|h| (h.as_str(), "1")).collect();
        assert_eq!(get(&many).status, 431);

        // A client that never finishes its request head is answered 408 and disconnected,
        // instead of holding a connection open.
        let mut stream = std::net::TcpStream::connect(&server.addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let started = Instant::now();
        stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").unwrap();
        let res = read_response(stream).unwrap();
        assert_eq!(res.status, 408, "{res:?}");
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());

        // The server is unharmed.
        assert_eq!(server.request("GET", "/healthz", &[], None).status, 200);
    }
}

#[actix_web::test]
async fn database_outage_is_503_then_recovers_without_restart() {
    if !postgres_available("processes::database_outage_is_503_then_recovers_without_restart") {
        return;
    }
    let db = TestDb::create(Postgres);
    techx::db::dialect::run_migrations(&mut db.connect()).unwrap();
    let mut proxy = Proxy::start("127.0.0.1:5432");
    let (base, name) = db.url.rsplit_once('/').unwrap();
    let host = base.rsplit_once('@').map_or(base, |(_, h)| h);
    let via_proxy =
        db.url.replace(&format!("{host}/{name}"), &format!("127.0.0.1:{}/{name}", proxy.port));
    let mut config = test_config(&via_proxy);
    let db_timeout = Duration::from_millis(1_000);
    config.db_timeout = db_timeout;
    config.search_dir = db.search_dir.clone();
    let pool =
        techx::db::Db::new(&techx::db::DbTarget::parse(&via_proxy).unwrap(), 4, config.db_timeout);
    let state = actix_web::web::Data::new(techx::state::AppState::new(config, pool.clone()));
    state.search.catch_up(&mut pool.conn().unwrap()).unwrap();
    let pool_statements = pool.clone();
    let app = actix_web::test::init_service(techx::app::build(state)).await;

    assert_eq!(call(&app, TestRequest::get().uri("/api/v1/organizations")).await.status, 200);
    assert_eq!(call(&app, TestRequest::get().uri("/readyz")).await.status, 200);
    // A listing's page is a hot read (on the worker's own connection, not the pool's): no
    // such listing is 404 while the database answers.
    assert!(pool.hot().is_some(), "PostgreSQL on this host reads listings on the workers");
    let listing = format!("/api/v1/technologies/{}", uuid::Uuid::now_v7());
    assert_eq!(call(&app, TestRequest::get().uri(&listing)).await.status, 404);
    // A mail queued before the outage, with its worker going through the same proxy.
    let registered = call(
        &app,
        TestRequest::post().uri("/api/v1/auth/register").set_json(serde_json::json!({
            "email": "before.outage@b.vn", "password": PASSWORD, "display_name": "Trước sự cố"
        })),
    )
    .await;
    assert_eq!(registered.status, 201, "{}", registered.text());

    proxy.cut();
    let sink = common::smtp::SmtpSink::start();
    let mut mail_config = techx::mail::MailConfig::from_lookup(|_| None).unwrap();
    mail_config.smtp_url = Some(sink.url());
    mail_config.poll_interval = Duration::from_millis(50);
    mail_config.backoff_base = Duration::from_millis(50);
    mail_config.backoff_max = Duration::from_millis(200);
    // Its own pool: its polling must not count among the statements measured below.
    let worker_pool =
        techx::db::Db::new(&techx::db::DbTarget::parse(&via_proxy).unwrap(), 2, db_timeout);
    let worker = techx::mail::worker::start(worker_pool, mail_config).unwrap();
    for uri in ["/api/v1/organizations", "/readyz", &listing, &listing] {
        let started = Instant::now();
        let res = call(&app, TestRequest::get().uri(uri)).await;
        res.problem(503, "service_unavailable");
        assert!(res.header("retry-after").is_some());
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{uri} answered in {:?}",
            started.elapsed()
        );
    }
    assert_eq!(call(&app, TestRequest::get().uri("/healthz")).await.status, 200);

    proxy.resume();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let res = call(&app, TestRequest::get().uri("/api/v1/organizations")).await;
        if res.status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "did not recover: {}", res.text());
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(call(&app, TestRequest::get().uri("/readyz")).await.status, 200);
    // Each hot connection that met the outage was dropped: every one of them reads again.
    for _ in 0..3 {
        let all = futures_util::future::join_all(
            (0..8).map(|_| call(&app, TestRequest::get().uri(&listing))),
        )
        .await;
        for res in all {
            assert_eq!(res.status, 404, "a dead hot connection was used again: {}", res.text());
        }
    }
    // The pool tests no connection on checkout: each connection that met the outage was
    // dropped when it came back broken, so none is left to fail a request after recovery.
    // Concurrent requests take every pooled connection, the oldest too.
    for _ in 0..3 {
        let all = futures_util::future::join_all(
            (0..8).map(|_| call(&app, TestRequest::get().uri("/api/v1/organizations"))),
        )
        .await;
        for res in all {
            assert_eq!(res.status, 200, "a broken connection was handed out again: {}", res.text());
        }
    }
    let before = pool_statements.statements();
    assert_eq!(call(&app, TestRequest::get().uri("/api/v1/taxonomy/sectors")).await.status, 200);
    let org_list = call(&app, TestRequest::get().uri("/api/v1/organizations")).await;
    assert_eq!(org_list.status, 200);
    // Taxonomy needs no statement; the list its count and its page, and no `SELECT 1`.
    assert_eq!(pool_statements.statements() - before, 2);

    // The mail queued before the outage goes out after it, once.
    let deadline = Instant::now() + Duration::from_secs(15);
    while sink.messages().is_empty() {
        assert!(Instant::now() < deadline, "the queued mail was never delivered");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    worker.stop().await;
    let to: Vec<String> = sink.messages().iter().flat_map(|m| m.rcpt_to.clone()).collect();
    assert_eq!(to, ["before.outage@b.vn"]);
}
