//! Faults end cleanly: shutdown refuses instead of hanging and is bounded as a whole, a hung
//! database cannot hold requests, an account whose verification mail failed can recover, and
//! a crashed worker's mail is re-sent within its lease.

use crate::common;

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use common::net::{Proxy, ServerProcess, free_port, read_response, send_partial};
use common::*;
use diesel::prelude::*;
use serde_json::{Value, json};
use techx::db::schema::outbox;

fn register_body(email: &str) -> Value {
    json!({"email": email, "password": PASSWORD, "display_name": "Người dùng"})
}

/// Requests in flight on `server` (counting the metrics request itself).
fn in_flight(server: &ServerProcess) -> i64 {
    server
        .request("GET", "/metrics", &[], None)
        .body
        .lines()
        .find_map(|l| l.strip_prefix("techx_http_requests_in_flight "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// A registration the server has started but cannot finish until the rest is written.
fn start_in_flight(server: &ServerProcess, email: &str) -> (TcpStream, Vec<u8>) {
    let pending = send_partial(
        &server.addr,
        "POST",
        "/api/v1/auth/register",
        &[],
        Some(&register_body(email)),
        10,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while in_flight(server) < 2 {
        assert!(Instant::now() < deadline, "request never started: {}", server.log());
        std::thread::sleep(Duration::from_millis(10));
    }
    pending
}

fn refuses(addr: &str) -> bool {
    let addr: SocketAddr = addr.parse().unwrap();
    TcpStream::connect_timeout(&addr, Duration::from_millis(50))
        .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionRefused)
}

/// The status of each outbox row of `template` to `to`, oldest first.
fn mail_states(db: &TestDb, to: &str, template: &str) -> Vec<String> {
    outbox::table
        .filter(outbox::recipient.eq(to))
        .filter(outbox::template.eq(template))
        .order(outbox::created_at.asc())
        .select(outbox::status)
        .load(&mut db.connect())
        .unwrap()
}

fn latest_token(db: &TestDb, to: &str, template: &str) -> String {
    let payload: String = outbox::table
        .filter(outbox::recipient.eq(to))
        .filter(outbox::template.eq(template))
        .order(outbox::created_at.desc())
        .select(outbox::payload)
        .first(&mut db.connect())
        .unwrap();
    serde_json::from_str::<Value>(&payload).unwrap()["token"].as_str().unwrap().to_owned()
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

backend_tests! {
    async fn a_call_finding_every_connection_busy_answers_503_then_recovers(backend) {
        let db = TestDb::create(backend);
        let timeout = Duration::from_millis(300);
        let pool = techx::db::Db::new(&db.target(), 1, timeout);
        // The only connection, held for longer than the pool's timeout.
        let (held, release) = std::sync::mpsc::channel::<()>();
        let holder = pool.clone();
        let holding = actix_web::rt::spawn(async move {
            holder
                .run(move |conn| -> Result<(), techx::error::ApiError> {
                    diesel::sql_query("SELECT 1").execute(conn)?;
                    let _ = release.recv_timeout(Duration::from_secs(5));
                    Ok(())
                })
                .await
        });
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        let started = Instant::now();
        let waited = pool
            .run(|conn| -> Result<usize, techx::error::ApiError> {
                Ok(diesel::sql_query("SELECT 1").execute(conn)?)
            })
            .await;
        let error = waited.expect_err("no connection was free");
        assert_eq!(error.status.as_u16(), 503, "{error:?}");
        assert!(started.elapsed() >= timeout, "gave up after {:?}", started.elapsed());
        assert!(started.elapsed() < timeout * 4, "gave up after {:?}", started.elapsed());
        // The call that waited never took the connection: once released, the next one gets it.
        held.send(()).unwrap();
        holding.await.unwrap().unwrap();
        let after = pool
            .run(|conn| -> Result<usize, techx::error::ApiError> {
                Ok(diesel::sql_query("SELECT 1").execute(conn)?)
            })
            .await;
        assert!(after.is_ok(), "{after:?}");
    }

    async fn sigterm_refuses_new_connections_at_once_and_finishes_in_flight(backend) {
        let db = TestDb::create(backend);
        let mut server = ServerProcess::start(&db.url, &[]);
        let (mut stream, rest) = start_in_flight(&server, "inflight@b.vn");
        let signalled = Instant::now();
        server.sigterm();
        while !refuses(&server.addr) {
            assert!(signalled.elapsed() < Duration::from_millis(100), "still accepting: {}", server.log());
            std::thread::sleep(Duration::from_millis(2));
        }
        let refused_after = signalled.elapsed();
        assert!(refused_after < Duration::from_millis(100), "refused after {refused_after:?}");
        // The request in flight still completes, and its write is whole.
        stream.write_all(&rest).unwrap();
        let res = read_response(stream).unwrap();
        assert_eq!(res.status, 201, "{res:?} {}", server.log());
        assert!(server.wait_exit(Duration::from_secs(10)), "clean exit: {}", server.log());
        assert_eq!(mail_states(&db, "inflight@b.vn", "verify_email").len(), 1);
        assert!(server.log().contains("listening socket closed"), "{}", server.log());
    }

    async fn a_second_signal_exits_at_once(backend) {
        let db = TestDb::create(backend);
        let mut server = ServerProcess::start(&db.url, &[("TECHX_SHUTDOWN_TIMEOUT_SECS", "60")]);
        // A request that never finishes keeps the drain waiting.
        let _pending = start_in_flight(&server, "never.finished@b.vn");
        server.sigterm();
        std::thread::sleep(Duration::from_millis(300));
        assert!(server.child.try_wait().unwrap().is_none(), "still draining after the first signal");
        let second = Instant::now();
        server.sigterm();
        assert!(!server.wait_exit(Duration::from_secs(2)), "exits with a failure status");
        assert!(second.elapsed() < Duration::from_secs(1), "exited after {:?}", second.elapsed());
        assert!(server.log().contains("second shutdown signal"), "{}", server.log());
    }

    async fn a_stuck_worker_cannot_hold_the_process_past_timeout_and_margin(backend) {
        let db = TestDb::create(backend);
        // An SMTP server that accepts connections and never says a word.
        let black_hole = TcpListener::bind("127.0.0.1:0").unwrap();
        let smtp = format!("smtp://127.0.0.1:{}", black_hole.local_addr().unwrap().port());
        let mut server = ServerProcess::start(&db.url, &[
            ("TECHX_SMTP_URL", smtp.as_str()),
            ("TECHX_SMTP_TIMEOUT_MS", "120000"),
            ("TECHX_OUTBOX_POLL_MS", "50"),
            ("TECHX_SHUTDOWN_TIMEOUT_SECS", "1"),
        ]);
        assert_eq!(server.request("POST", "/api/v1/auth/register", &[], Some(&register_body("stuck@b.vn"))).status, 201);
        wait_until("the mail worker to be stuck sending", Duration::from_secs(10), || {
            mail_states(&db, "stuck@b.vn", "verify_email") == ["sending"]
        });
        let signalled = Instant::now();
        server.sigterm();
        assert!(!server.wait_exit(Duration::from_secs(15)), "the watchdog exits with a failure status");
        let took = signalled.elapsed();
        // 1 s timeout + 5 s margin.
        assert!(took >= Duration::from_secs(5) && took < Duration::from_millis(7_000), "exited after {took:?}");
        assert!(server.log().contains("shutdown did not finish in time"), "{}", server.log());
        drop(black_hole);
    }

    async fn an_account_whose_verification_mail_failed_recovers_by_each_route(backend) {
        let db = TestDb::create(backend);
        // The relay refuses every connection and one attempt is all a mail gets: each
        // verification mail ends `failed`, as after a long outage or a 5xx.
        let smtp = format!("smtp://127.0.0.1:{}", free_port());
        let server = ServerProcess::start(&db.url, &[
            ("TECHX_SMTP_URL", smtp.as_str()),
            ("TECHX_OUTBOX_MAX_ATTEMPTS", "1"),
            ("TECHX_OUTBOX_POLL_MS", "50"),
        ]);
        let post = |path: &str, body: Value| server.request("POST", path, &[], Some(&body));
        let login = |email: &str, password: &str| post("/api/v1/auth/login", json!({"email": email, "password": password}));
        let emails = ["resend@b.vn", "again@b.vn", "reset@b.vn"];
        let mut ids = Vec::new();
        for email in emails {
            let res = post("/api/v1/auth/register", register_body(email));
            assert_eq!(res.status, 201, "{res:?}");
            ids.push(res.json()["id"].as_str().unwrap().to_owned());
        }
        for email in emails {
            wait_until("the verification mail to fail", Duration::from_secs(10), || {
                mail_states(&db, email, "verify_email") == ["failed"]
            });
            let res = login(email, PASSWORD);
            assert_eq!((res.status, res.json()["code"].as_str()), (403, Some("email_not_verified")));
        }

        // 1. The resend route: always 202; a new mail only for an unverified account.
        let res = post("/api/v1/auth/verify-email/resend", json!({"email": "RESEND@b.vn"}));
        assert_eq!(res.status, 202, "{res:?}");
        assert_eq!(mail_states(&db, emails[0], "verify_email").len(), 2);
        let unknown = post("/api/v1/auth/verify-email/resend", json!({"email": "nobody@b.vn"}));
        assert_eq!((unknown.status, unknown.body.as_str()), (202, ""));
        assert_eq!(mail_states(&db, "nobody@b.vn", "verify_email").len(), 0);
        let token = latest_token(&db, emails[0], "verify_email");
        assert_eq!(post("/api/v1/auth/verify-email", json!({"token": token})).status, 204);
        assert_eq!(login(emails[0], PASSWORD).status, 200);
        let verified = post("/api/v1/auth/verify-email/resend", json!({"email": emails[0]}));
        assert_eq!(verified.status, 202);
        assert_eq!(mail_states(&db, emails[0], "verify_email").len(), 2, "no mail for a verified account");

        // 2. Registering again: the same answer as a new registration, a new mail, and
        //    nothing stored changes (the password given is not the account's).
        let other = "một mật khẩu khác hẳn 2027";
        let res = post("/api/v1/auth/register", json!({"email": emails[1], "password": other, "display_name": "Kẻ lạ"}));
        assert_eq!(res.status, 201, "{res:?}");
        assert_eq!(res.json()["id"], ids[1].as_str());
        assert_eq!(res.json()["display_name"], "Người dùng");
        assert_eq!(mail_states(&db, emails[1], "verify_email").len(), 2);
        let token = latest_token(&db, emails[1], "verify_email");
        assert_eq!(post("/api/v1/auth/verify-email", json!({"token": token})).status, 204);
        assert_eq!(login(emails[1], other).status, 401);
        assert_eq!(login(emails[1], PASSWORD).status, 200);
        // Once verified, the address is taken.
        let taken = post("/api/v1/auth/register", register_body(emails[1]));
        assert_eq!((taken.status, taken.json()["code"].as_str()), (409, Some("email_taken")));

        // 3. A password reset by mail proves the mailbox: it verifies the address.
        assert_eq!(post("/api/v1/auth/password-reset", json!({"email": emails[2]})).status, 202);
        let token = latest_token(&db, emails[2], "password_reset");
        let new_password = "mật khẩu mới sau sự cố 2026";
        let res = post("/api/v1/auth/password-reset/confirm", json!({"token": token, "new_password": new_password}));
        assert_eq!(res.status, 204, "{res:?}");
        assert_eq!(login(emails[2], new_password).status, 200);
    }

    async fn staff_see_failed_mail_in_metrics_and_requeue_it(backend) {
        let ctx = start(backend).await;
        assert_eq!(ctx.register("stranded@b.vn").await.status, 201);
        let id: techx::db::types::EntityId = outbox::table
            .filter(outbox::recipient.eq("stranded@b.vn"))
            .select(outbox::id)
            .first(&mut ctx.db.connect())
            .unwrap();
        diesel::update(outbox::table.find(id))
            .set((outbox::status.eq("failed"), outbox::attempts.eq(8), outbox::last_error.eq("554 no")))
            .execute(&mut ctx.db.connect())
            .unwrap();
        let gauge = |text: String| {
            text.lines()
                .find_map(|l| l.strip_prefix("techx_outbox_failed{channel=\"email\"} "))
                .map(|v| v.trim().to_owned())
        };
        assert_eq!(gauge(ctx.get("/metrics").await.text()).as_deref(), Some("1"));

        let staff = ctx.staff("kiemduyet@sokhcn.vn", techx::auth::PlatformRole::Moderator).await;
        let member = ctx.signup("member@b.vn").await;
        let listed = ctx.get_as("/api/v1/admin/outbox?status=failed", &staff.access).await.ok();
        assert_eq!(listed["total"], 1);
        assert_eq!(listed["items"][0]["id"], id.0.to_string());
        assert_eq!(listed["items"][0]["last_error"], "554 no");

        let uri = format!("/api/v1/admin/outbox/{}/retry", id.0);
        ctx.post_as(&uri, &member.access, &json!({})).await.problem(403, "forbidden");
        let res = ctx.post_as(&uri, &staff.access, &json!({})).await.ok();
        assert_eq!((res["status"].as_str(), res["attempts"].as_i64()), (Some("pending"), Some(0)));
        let status: String =
            outbox::table.find(id).select(outbox::status).first(&mut ctx.db.connect()).unwrap();
        assert_eq!(status, "pending");
        assert_eq!(gauge(ctx.get("/metrics").await.text()).as_deref(), Some("0"));
        ctx.post_as(&uri, &staff.access, &json!({})).await.problem(409, "outbox_not_failed");
        let missing = format!("/api/v1/admin/outbox/{}/retry", uuid::Uuid::now_v7());
        ctx.post_as(&missing, &staff.access, &json!({})).await.problem(404, "not_found");

        // The re-queued mail goes out, with the Message-ID it always had.
        let mailer = ctx.deliver_mail();
        let mail = mailer.wait_for("stranded@b.vn", "").await;
        assert!(mail.message_id.contains(&id.0.to_string()), "{}", mail.message_id);
        mailer.stop().await;
    }

    async fn a_crashed_workers_mail_is_sent_again_within_its_lease(backend) {
        let ctx = start(backend).await;
        assert_eq!(ctx.register("crash@b.vn").await.status, 201);
        let mut config = techx::mail::MailConfig::from_lookup(|name| match name {
            "TECHX_SMTP_TIMEOUT_MS" => Some("1000".into()),
            _ => None,
        })
        .unwrap();
        // The default lease: twice the SMTP timeout plus 5 s.
        assert_eq!(config.lease, Duration::from_secs(7));
        // A worker claims the row and dies before recording anything.
        let claimed = techx::store::outbox::claim(
            &mut ctx.db.connect(),
            techx::store::outbox::Channel::Email,
            config.lease,
            10,
        )
        .unwrap();
        assert_eq!(claimed.len(), 1);
        let crashed_at = Instant::now();

        let sink = common::smtp::SmtpSink::start();
        config.smtp_url = Some(sink.url());
        config.poll_interval = Duration::from_millis(50);
        let worker = techx::mail::worker::start(ctx.state.db.clone(), config.clone()).unwrap();
        let mails = sink.wait_for(1, Duration::from_secs(15)).await;
        let waited = crashed_at.elapsed();
        assert!(waited >= config.lease - Duration::from_millis(100), "not before the lease ran out: {waited:?}");
        assert!(waited < config.lease + Duration::from_secs(2), "sent again {waited:?} after the crash");
        let data = String::from_utf8_lossy(&mails[0].data).to_string();
        assert!(data.contains(&format!("<{}@", claimed[0].id.0)), "Message-ID from the row");
        worker.stop().await;
        assert_eq!(mail_states(&ctx.db, "crash@b.vn", "verify_email"), ["sent"]);
    }
}

#[std::prelude::v1::test]
fn hot_reads_run_only_where_no_tls_is_lost() {
    let db = |url: &str| {
        techx::db::Db::new(&techx::db::DbTarget::parse(url).unwrap(), 2, Duration::from_secs(1))
    };
    let hot = |url: &str| db(url).hot().is_some();
    // On this host TLS protects nothing; elsewhere only where the URL does without it.
    assert!(hot("postgres://u@127.0.0.1:5432/db"));
    assert!(hot("postgres://u@localhost/db"));
    assert!(hot("postgresql://u@%2Fvar%2Frun%2Fpostgresql/db"));
    assert!(hot("postgres://u@db.example.vn/db?sslmode=disable"));
    assert!(!hot("postgres://u@db.example.vn/db"), "libpq would prefer TLS there");
    assert!(!hot("postgres://u@10.0.0.7/db?sslmode=prefer"));
    assert!(!hot("postgres://u@127.0.0.1/db?sslmode=require"));
    // An option only libpq knows leaves every read to libpq.
    assert!(!hot("postgres://u@127.0.0.1/db?keepalives_count=3"));
    assert!(!hot("sqlite://hot-reads-never.db"));
    assert!(db("postgres://u@127.0.0.1/db").with_hot_connections(0).hot().is_none());
    assert!(db("postgres://u@127.0.0.1/db").with_hot_connections(4).hot().is_some());
}

#[std::prelude::v1::test]
fn the_default_lease_is_sized_from_the_slowest_delivery_timeout() {
    let config = |pairs: &[(&str, &str)]| {
        let pairs: Vec<(String, String)> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        techx::config::Config::from_lookup(move |name| {
            pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
        .unwrap()
    };
    assert_eq!(config(&[]).mail.lease, Duration::from_secs(65));
    assert_eq!(
        config(&[("TECHX_WEBHOOK_TIMEOUT_MS", "40000")]).mail.lease,
        Duration::from_secs(85)
    );
    assert_eq!(config(&[("TECHX_OUTBOX_LEASE_MS", "300000")]).mail.lease, Duration::from_secs(300));
    let defaults = config(&[]);
    assert_eq!(defaults.db_statement_timeout, Duration::from_secs(10));
    assert_eq!(defaults.db_keepalive, Duration::from_secs(30));
    assert_eq!(defaults.db_hot_connections, 2);
    assert_eq!(config(&[("TECHX_DB_HOT_CONNECTIONS", "0")]).db_hot_connections, 0);
    assert_eq!(
        techx::db::dialect::with_keepalives(
            "postgres://u@h/db?sslmode=disable",
            Duration::from_secs(30)
        ),
        "postgres://u@h/db?sslmode=disable&keepalives=1&keepalives_idle=30&keepalives_interval=10&keepalives_count=3"
    );
}

#[actix_web::test]
async fn a_frozen_postgres_answers_503_within_the_statement_timeout_then_recovers() {
    if !postgres_available(
        "faults::a_frozen_postgres_answers_503_within_the_statement_timeout_then_recovers",
    ) {
        return;
    }
    let db = TestDb::create(Postgres);
    let proxy = Proxy::start("127.0.0.1:5432");
    let (base, name) = db.url.rsplit_once('/').unwrap();
    let host = base.rsplit_once('@').map_or(base, |(_, h)| h);
    let via_proxy =
        db.url.replace(&format!("{host}/{name}"), &format!("127.0.0.1:{}/{name}", proxy.port));
    let server = ServerProcess::start(&via_proxy, &[("TECHX_DB_STATEMENT_TIMEOUT_MS", "1000")]);

    // Every connection carries the statement timeout.
    let mut conn = techx::db::dialect::establish(
        &techx::db::DbTarget::parse(&db.url).unwrap(),
        &techx::db::Deadlines {
            statement_timeout: Duration::from_millis(1_000),
            ..techx::db::Deadlines::new(Duration::from_secs(5))
        },
    )
    .unwrap();
    #[derive(QueryableByName)]
    struct Setting {
        #[diesel(sql_type = diesel::sql_types::Text)]
        statement_timeout: String,
    }
    let shown: Setting = diesel::sql_query("SHOW statement_timeout").get_result(&mut conn).unwrap();
    assert_eq!(shown.statement_timeout, "1s");
    // A statement past it is cancelled, and the request would get 503.
    let slow = diesel::sql_query("SELECT pg_sleep(3)").execute(&mut conn).unwrap_err();
    let error = techx::error::ApiError::from(slow);
    assert_eq!((error.status.as_u16(), error.code), (503, "service_unavailable"));

    assert_eq!(server.request("GET", "/api/v1/organizations", &[], None).status, 200);
    // A listing's page is a hot read, on the worker's own connection (404: no such listing).
    let listing = format!("/api/v1/technologies/{}", uuid::Uuid::now_v7());
    assert_eq!(server.request("GET", &listing, &[], None).status, 404);
    proxy.freeze();
    for uri in ["/api/v1/organizations", "/api/v1/organizations", &listing, &listing, &listing] {
        let started = Instant::now();
        let res = server.request("GET", uri, &[], None);
        let took = started.elapsed();
        assert_eq!(res.status, 503, "{res:?}");
        assert_eq!(res.header("content-type"), Some("application/problem+json"));
        assert_eq!(res.json()["code"], "service_unavailable");
        assert!(res.header("retry-after").is_some());
        assert!(took < Duration::from_millis(1_500), "answered after {took:?}");
    }
    assert_eq!(server.request("GET", "/healthz", &[], None).status, 200);
    proxy.thaw();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let res = server.request("GET", "/api/v1/organizations", &[], None);
        if res.status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "did not recover: {res:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    for _ in 0..4 {
        assert_eq!(server.request("GET", &listing, &[], None).status, 404, "hot reads recover");
    }
    let res = server.request(
        "POST",
        "/api/v1/auth/register",
        &[],
        Some(&register_body("after.freeze@b.vn")),
    );
    assert_eq!(res.status, 201, "{res:?}");
}
