//! Test harness: the real App on a fresh database per test — a temp SQLite file, or a new
//! PostgreSQL database (`TECHX_TEST_PG_URL`, default the local server) dropped afterwards.
#![allow(dead_code)]

pub mod net;
pub mod receiver;
pub mod smtp;

use std::sync::OnceLock;
use std::time::Duration;

use actix_http::Request;
use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::header::HeaderMap;
use actix_web::http::{Method, StatusCode};
use actix_web::test::{self, TestRequest};
use actix_web::web::{self, Bytes};
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use serde_json::Value;

use techx::config::Config;
use techx::db::{Backend, Db, DbConn, DbTarget, dialect};
use techx::state::AppState;

#[allow(unused_imports)] // a test crate may run on one backend only
pub use Backend::{Postgres, Sqlite};

/// Runs each listed body once per backend: `mod NAME { fn sqlite; fn postgres }`. In scope in
/// every test module through `#[macro_use] mod common` at the top of `main.rs`.
macro_rules! backend_tests {
    ($(async fn $name:ident($backend:ident) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                #[actix_web::test]
                async fn sqlite() {
                    let $backend = $crate::common::Sqlite;
                    $body
                }

                #[actix_web::test]
                async fn postgres() {
                    if !$crate::common::postgres_available(concat!(module_path!(), "::postgres")) {
                        return;
                    }
                    let $backend = $crate::common::Postgres;
                    $body
                }
            }
        )*
    };
}

pub fn pg_admin_url() -> String {
    std::env::var("TECHX_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// Whether the PostgreSQL variant can run. Unreachable PostgreSQL fails the test under
/// `CI=true` and is reported as skipped, loudly, elsewhere.
pub fn postgres_available(test: &str) -> bool {
    static REACHABLE: OnceLock<Result<(), String>> = OnceLock::new();
    let reachable = REACHABLE.get_or_init(|| {
        PgConnection::establish(&pg_admin_url()).map(|_| ()).map_err(|e| e.to_string())
    });
    match reachable {
        Ok(()) => true,
        Err(e) if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") => {
            panic!("PostgreSQL at {} is unreachable and CI=true: {e}", pg_admin_url())
        }
        Err(e) => {
            eprintln!("SKIPPED {test}: PostgreSQL at {} is unreachable: {e}", pg_admin_url());
            false
        }
    }
}

/// A database that exists for one test.
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    /// This test's search index folder (removed with the test).
    pub search_dir: std::path::PathBuf,
    _dir: tempfile::TempDir,
    pg_name: Option<String>,
}

impl TestDb {
    pub fn create(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("techx.db").display());
                let search_dir = dir.path().join("search-index");
                Self { url, backend, search_dir, _dir: dir, pg_name: None }
            }
            Backend::Postgres => {
                let name = format!("techx_test_{}", uuid::Uuid::new_v4().simple());
                let mut admin = PgConnection::establish(&pg_admin_url()).expect("PostgreSQL admin");
                admin.batch_execute(&format!("CREATE DATABASE {name}")).expect("create test db");
                let admin_url = pg_admin_url();
                let base = admin_url.rsplit_once('/').map_or(admin_url.as_str(), |(b, _)| b);
                let dir = tempfile::tempdir().expect("temp dir");
                let search_dir = dir.path().join("search-index");
                Self {
                    url: format!("{base}/{name}"),
                    backend,
                    search_dir,
                    _dir: dir,
                    pg_name: Some(name),
                }
            }
        }
    }

    pub fn target(&self) -> DbTarget {
        DbTarget::parse(&self.url).expect("test db url")
    }

    /// A direct connection, for asserting on rows.
    pub fn connect(&self) -> DbConn {
        dialect::establish(&self.target(), &techx::db::Deadlines::new(Duration::from_secs(5)))
            .expect("test db connection")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = &self.pg_name {
            if let Ok(mut admin) = PgConnection::establish(&pg_admin_url()) {
                let _ =
                    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

pub fn test_config(url: &str) -> Config {
    let mut config = Config::from_lookup(|_| None).expect("default config");
    config.database_url = url.to_owned();
    config.db_pool_size = 4;
    config.db_timeout = Duration::from_secs(5);
    config.environment = techx::config::Environment::Test;
    config.auth.jwt_secret = TEST_JWT_SECRET.as_bytes().to_vec();
    config.auth.jwt_secret_generated = false;
    config.mail.public_url = "https://san.techx.vn".into();
    // Tests that need a search index on disk give theirs (`TestDb::search_dir`); elsewhere a
    // folder that cannot be made (even by root: /dev/null is a file) keeps the index in memory and the working tree clean.
    config.search_dir = "/dev/null/search-index".into();
    // Tests share one client address; rate limits are tested on their own.
    config.limits.auth_per_minute = 1_000_000;
    config.limits.writes_per_minute = 1_000_000;
    config
}

pub const TEST_JWT_SECRET: &str = "techx-test-secret-that-is-long-enough-0123456789";

/// A running App over a fresh, migrated database.
pub struct Ctx<S> {
    pub app: S,
    pub state: web::Data<AppState>,
    pub db: TestDb,
}

pub async fn start(
    backend: Backend,
) -> Ctx<
    impl Service<Request, Response = ServiceResponse<impl MessageBody>, Error = actix_web::Error>,
> {
    start_with(backend, |_| {}).await
}

pub async fn start_with(
    backend: Backend,
    configure: impl FnOnce(&mut Config),
) -> Ctx<
    impl Service<Request, Response = ServiceResponse<impl MessageBody>, Error = actix_web::Error>,
> {
    let db = TestDb::create(backend);
    let mut config = test_config(&db.url);
    config.search_dir = db.search_dir.clone();
    configure(&mut config);
    let pool = Db::new(&db.target(), config.db_pool_size, config.db_timeout);
    {
        let mut conn = pool.conn().expect("test db pool");
        dialect::run_migrations(&mut conn).expect("migrations");
    }
    let state = web::Data::new(AppState::new(config, pool.clone()));
    state.search.catch_up(&mut pool.conn().expect("test db pool")).expect("search index");
    let app = test::init_service(techx::app::build(state.clone())).await;
    Ctx { app, state, db }
}

/// An App whose database cannot be reached (no migrations run).
pub async fn start_unreachable(
    backend: Backend,
) -> impl Service<Request, Response = ServiceResponse<impl MessageBody>, Error = actix_web::Error> {
    start_unreachable_with(backend, |_| {}).await
}

pub async fn start_unreachable_with(
    backend: Backend,
    configure: impl FnOnce(&mut Config),
) -> impl Service<Request, Response = ServiceResponse<impl MessageBody>, Error = actix_web::Error> {
    let url = match backend {
        Backend::Sqlite => "sqlite:///dev/null/techx.db".to_owned(),
        Backend::Postgres => "postgres://postgres@127.0.0.1:1/techx".to_owned(),
    };
    let mut config = test_config(&url);
    config.db_timeout = Duration::from_millis(300);
    configure(&mut config);
    let pool = Db::new(&DbTarget::parse(&url).expect("url"), 2, config.db_timeout);
    let state = web::Data::new(AppState::new(config, pool));
    test::init_service(techx::app::build(state)).await
}

/// A response, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!("body is not JSON ({e}): {}", String::from_utf8_lossy(&self.body))
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a problem+json error with this status and code; returns the document.
    #[track_caller]
    pub fn problem(&self, status: u16, code: &str) -> Value {
        assert_eq!(self.status.as_u16(), status, "status; body: {}", self.text());
        assert_eq!(self.header("content-type"), Some("application/problem+json"), "content type");
        let body = self.json();
        assert_eq!(body["status"], status, "{body}");
        assert_eq!(body["code"], code, "{body}");
        assert_eq!(body["type"], format!("urn:techx:problem:{code}"), "{body}");
        assert!(body["title"].as_str().is_some_and(|t| !t.is_empty()), "{body}");
        assert!(body["detail"].as_str().is_some(), "{body}");
        // The contract's vocabulary: the code is in the ProblemCode enum, and each field
        // error carries a stable code beside its message.
        assert!(techx::error_codes::problem(code).is_some(), "{code} is not in PROBLEMS");
        for error in body["errors"].as_array().into_iter().flatten() {
            assert!(error["code"].as_str().is_some_and(|c| !c.is_empty()), "{body}");
        }
        body
    }

    /// Asserts a 400 validation problem that names `field`.
    #[track_caller]
    pub fn invalid_field(&self, field: &str) -> Value {
        let body = self.problem(400, "validation_failed");
        let fields: Vec<&str> = body["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["field"].as_str())
            .collect();
        assert!(fields.contains(&field), "expected an error on {field}, got {fields:?}: {body}");
        body
    }

    #[track_caller]
    pub fn ok(&self) -> Value {
        assert!(self.status.is_success(), "expected success, got {}: {}", self.status, self.text());
        if self.body.is_empty() { Value::Null } else { self.json() }
    }
}

pub async fn call<S, B>(app: &S, req: TestRequest) -> Resp
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let res = match app.call(req.to_request()).await {
        Ok(res) => res,
        // An error that escaped the middleware: render it as the server would.
        Err(error) => {
            let res = error.error_response();
            let (status, headers) = (res.status(), res.headers().clone());
            let body = actix_web::body::to_bytes(res.into_body()).await.unwrap_or_default();
            return Resp { status, headers, body };
        }
    };
    let status = res.status();
    let headers = res.headers().clone();
    let body = test::read_body(res).await;
    Resp { status, headers, body }
}

/// The App under test, as a helper outside `Ctx` names it:
/// `async fn helper<S: TestApp<B>, B: MessageBody>(ctx: &Ctx<S>)`.
pub trait TestApp<B>:
    Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>
{
}

impl<S, B> TestApp<B> for S where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>
{
}

impl<S, B> Ctx<S>
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    pub async fn call(&self, req: TestRequest) -> Resp {
        call(&self.app, req).await
    }

    pub async fn get(&self, uri: &str) -> Resp {
        self.call(TestRequest::get().uri(uri)).await
    }

    pub async fn send_json(&self, method: Method, uri: &str, body: &Value) -> Resp {
        self.call(TestRequest::default().method(method).uri(uri).set_json(body)).await
    }

    pub async fn post(&self, uri: &str, body: &Value) -> Resp {
        self.send_json(Method::POST, uri, body).await
    }
}

/// A signed-in user.
#[derive(Debug, Clone)]
pub struct Session {
    pub user_id: String,
    pub email: String,
    pub access: String,
    pub refresh: String,
}

pub const PASSWORD: &str = "nông nghiệp xanh 2026";

impl<S, B> Ctx<S>
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    pub async fn authed(
        &self,
        method: Method,
        uri: &str,
        token: &str,
        body: Option<&Value>,
    ) -> Resp {
        let mut req = TestRequest::default()
            .method(method)
            .uri(uri)
            .insert_header(("Authorization", format!("Bearer {token}")));
        if let Some(body) = body {
            req = req.set_json(body);
        }
        self.call(req).await
    }

    pub async fn get_as(&self, uri: &str, token: &str) -> Resp {
        self.authed(Method::GET, uri, token, None).await
    }

    pub async fn post_as(&self, uri: &str, token: &str, body: &Value) -> Resp {
        self.authed(Method::POST, uri, token, Some(body)).await
    }

    /// The secret token of the latest queued mail of `template` to `to`, as the mail
    /// carries it.
    pub fn mailed_token(&self, to: &str, template: &str) -> String {
        use diesel::prelude::*;
        use techx::db::schema::outbox;
        let mut conn = self.db.connect();
        let payload: String = outbox::table
            .filter(outbox::recipient.eq(to))
            .filter(outbox::template.eq(template))
            .order(outbox::created_at.desc())
            .select(outbox::payload)
            .first(&mut conn)
            .unwrap_or_else(|e| panic!("no {template} mail to {to}: {e}"));
        let payload: Value = serde_json::from_str(&payload).unwrap();
        payload["token"].as_str().expect("token in mail").to_owned()
    }

    pub fn mail_count(&self, to: &str, template: &str) -> i64 {
        use diesel::prelude::*;
        use techx::db::schema::outbox;
        let mut conn = self.db.connect();
        outbox::table
            .filter(outbox::recipient.eq(to))
            .filter(outbox::template.eq(template))
            .count()
            .get_result(&mut conn)
            .unwrap()
    }

    pub async fn register(&self, email: &str) -> Resp {
        self.post(
            "/api/v1/auth/register",
            &serde_json::json!({"email": email, "password": PASSWORD, "display_name": "Nguyễn Văn A"}),
        )
        .await
    }

    pub async fn login(&self, email: &str, password: &str) -> Resp {
        self.post("/api/v1/auth/login", &serde_json::json!({"email": email, "password": password}))
            .await
    }

    /// Registers, verifies through the mailed token and signs in.
    pub async fn signup(&self, email: &str) -> Session {
        let user = self.register(email).await;
        assert_eq!(user.status, 201, "{}", user.text());
        let token = self.mailed_token(email, "verify_email");
        let verified =
            self.post("/api/v1/auth/verify-email", &serde_json::json!({"token": token})).await;
        assert_eq!(verified.status, 204, "{}", verified.text());
        let tokens = self.login(email, PASSWORD).await.ok();
        Session {
            user_id: user.json()["id"].as_str().unwrap().to_owned(),
            email: email.to_owned(),
            access: tokens["access_token"].as_str().unwrap().to_owned(),
            refresh: tokens["refresh_token"].as_str().unwrap().to_owned(),
        }
    }

    /// A platform user with `role` (admin or moderator), created directly in the database as
    /// `techx admin create` does, then signed in.
    pub async fn staff(&self, email: &str, role: techx::auth::PlatformRole) -> Session {
        let mut conn = self.db.connect();
        let hash = techx::auth::password::hash(PASSWORD).unwrap();
        techx::store::users::create(
            &mut conn,
            &techx::store::users::NewUser {
                email,
                email_normalized: &email.to_lowercase(),
                password_hash: &hash,
                display_name: "Staff",
                language: "vi",
                role,
                verified: true,
            },
        )
        .unwrap();
        let tokens = self.login(email, PASSWORD).await.ok();
        let me = self.get_as("/api/v1/me", tokens["access_token"].as_str().unwrap()).await.ok();
        Session {
            user_id: me["id"].as_str().unwrap().to_owned(),
            email: email.to_owned(),
            access: tokens["access_token"].as_str().unwrap().to_owned(),
            refresh: tokens["refresh_token"].as_str().unwrap().to_owned(),
        }
    }

    /// Creates an organisation owned by `owner`; returns its JSON.
    pub async fn create_org(&self, owner: &Session, name: &str, kind: &str) -> Value {
        let body = serde_json::json!({"name": name, "kind": kind, "province": "thanh-hoa", "sectors": ["4.1"]});
        let res = self.post_as("/api/v1/organizations", &owner.access, &body).await;
        assert_eq!(res.status, 201, "{}", res.text());
        res.json()
    }
}

/// A real SMTP server on loopback with the outbox worker delivering to it.
pub struct Mailer {
    pub sink: smtp::SmtpSink,
    worker: Option<techx::mail::worker::WorkerHandle>,
}

impl Mailer {
    /// Waits until `to` has received a message whose subject contains `subject`.
    pub async fn wait_for(&self, to: &str, subject: &str) -> smtp::ParsedMail {
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            let found = self
                .sink
                .messages()
                .into_iter()
                .filter(|m| m.rcpt_to.iter().any(|r| r.eq_ignore_ascii_case(to)))
                .map(|m| smtp::ParsedMail::parse(&m.data))
                .find(|m| m.subject.contains(subject));
            if let Some(mail) = found {
                return mail;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no mail to {to} about {subject:?} arrived"
            );
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn stop(mut self) {
        if let Some(worker) = self.worker.take() {
            worker.stop().await;
        }
    }
}

/// The token in a mailed link (`…?token=…`).
pub fn token_in(text: &str) -> String {
    let start = text.find("token=").expect("a link with a token") + "token=".len();
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

impl<S> Ctx<S> {
    /// Starts a webhook worker on this test's database, quick: short polls and backoff.
    pub fn deliver_webhooks(&self) -> techx::delivery::WorkerHandle {
        self.deliver_webhooks_with(|_| {})
    }

    pub fn deliver_webhooks_with(
        &self,
        configure: impl FnOnce(&mut Config),
    ) -> techx::delivery::WorkerHandle {
        let mut config = (*self.state.config).clone();
        config.mail.poll_interval = Duration::from_millis(20);
        config.mail.backoff_base = Duration::from_millis(20);
        config.mail.backoff_max = Duration::from_millis(100);
        config.webhooks.timeout = Duration::from_secs(5);
        configure(&mut config);
        techx::webhooks::worker::start(self.state.db.clone(), &config)
    }

    /// Starts an SMTP sink and an outbox worker on this test's database.
    pub fn deliver_mail(&self) -> Mailer {
        let sink = smtp::SmtpSink::start();
        let mut config = techx::mail::MailConfig::from_lookup(|name| match name {
            "TECHX_PUBLIC_URL" => Some("https://san.techx.vn".into()),
            _ => None,
        })
        .expect("mail config");
        config.smtp_url = Some(sink.url());
        config.poll_interval = Duration::from_millis(20);
        config.backoff_base = Duration::from_millis(20);
        config.backoff_max = Duration::from_millis(100);
        let worker =
            techx::mail::worker::start(self.state.db.clone(), config).expect("mail worker");
        Mailer { sink, worker: Some(worker) }
    }
}
// ---- Technology listings -------------------------------------------------------------

/// A complete, valid listing body for `org` (a technology, VND price, one licence offer).
pub fn technology_body(org: &str, title: &str) -> Value {
    serde_json::json!({
        "organization_id": org,
        "kind": "technology",
        "title": title,
        "summary": "Tóm tắt công khai của công nghệ.",
        "description": "Mô tả chi tiết quy trình, thiết bị và kết quả thử nghiệm.",
        "sectors": ["2.7"],
        "keywords": ["môi trường"],
        "trl": 6,
        "ip_records": [{"type": "patent", "number": "1-0023456", "status": "granted",
                        "filing_date": "2020-03-01", "grant_date": "2022-05-02", "territory": "Việt Nam"}],
        "transfer_forms": [{"form": "usage_licence", "exclusive": false, "sublicensing": false,
                            "territory": "Việt Nam", "term_months": 60}],
        "price": {"min": 500000000, "max": 900000000, "currency": "VND", "basis": "indicative"},
        "province": "thanh-hoa",
        "contact_visibility": "public",
        "language": "vi"
    })
}

/// The `If-Match` value for a resource body carrying `version`.
pub fn etag_of(body: &Value) -> String {
    format!("\"{}\"", body["version"])
}

impl<S, B> Ctx<S>
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    /// Any request: optional bearer token, `If-Match` and JSON body.
    pub async fn send(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        if_match: Option<&str>,
        body: Option<&Value>,
    ) -> Resp {
        let mut req = TestRequest::default().method(method).uri(uri);
        if let Some(token) = token {
            req = req.insert_header(("Authorization", format!("Bearer {token}")));
        }
        if let Some(etag) = if_match {
            req = req.insert_header(("If-Match", etag.to_owned()));
        }
        if let Some(body) = body {
            req = req.set_json(body);
        }
        self.call(req).await
    }

    /// Creates a draft listing through the API; returns its JSON.
    pub async fn create_technology(&self, token: &str, body: &Value) -> Value {
        let res = self.post_as("/api/v1/technologies", token, body).await;
        assert_eq!(res.status, 201, "{}", res.text());
        res.json()
    }

    /// `POST /technologies/{id}/{action}` with the listing's current ETag.
    pub async fn listing_action(
        &self,
        listing: &Value,
        action: &str,
        token: &str,
        body: Option<&Value>,
    ) -> Resp {
        let uri = format!("/api/v1/technologies/{}/{action}", listing["id"].as_str().unwrap());
        self.send(Method::POST, &uri, Some(token), Some(&etag_of(listing)), body).await
    }

    /// Creates, submits and approves a listing; returns it published.
    pub async fn publish_technology(
        &self,
        owner: &Session,
        moderator: &Session,
        body: &Value,
    ) -> Value {
        let draft = self.create_technology(&owner.access, body).await;
        let pending = self.listing_action(&draft, "submit", &owner.access, None).await.ok();
        let approve = serde_json::json!({"decision": "approve"});
        let published =
            self.listing_action(&pending, "review", &moderator.access, Some(&approve)).await.ok();
        assert_eq!(published["status"], "published");
        published
    }

    /// The context of the latest queued mail of `template` to `to`.
    pub fn mail_context(&self, to: &str, template: &str) -> Value {
        use diesel::prelude::*;
        use techx::db::schema::outbox;
        let mut conn = self.db.connect();
        let payload: String = outbox::table
            .filter(outbox::recipient.eq(to))
            .filter(outbox::template.eq(template))
            .order(outbox::created_at.desc())
            .select(outbox::payload)
            .first(&mut conn)
            .unwrap_or_else(|e| panic!("no {template} mail to {to}: {e}"));
        serde_json::from_str(&payload).unwrap()
    }

    /// Queued mails of `template`, to anyone.
    pub fn mail_total(&self, template: &str) -> i64 {
        use diesel::prelude::*;
        use techx::db::schema::outbox;
        let mut conn = self.db.connect();
        outbox::table.filter(outbox::template.eq(template)).count().get_result(&mut conn).unwrap()
    }
}

/// Percent-encodes every byte but ASCII letters and digits, for query strings in tests.
pub fn url_encode(text: &str) -> String {
    text.bytes()
        .map(
            |b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            },
        )
        .collect()
}

// ---- Conditional reads ----------------------------------------------------------------

impl<S, B> Ctx<S>
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    /// `GET uri`, signed in or not, with `If-None-Match` when given.
    pub async fn get_if(
        &self,
        uri: &str,
        token: Option<&str>,
        if_none_match: Option<&str>,
    ) -> Resp {
        let mut req = TestRequest::get().uri(uri);
        if let Some(token) = token {
            req = req.insert_header(("Authorization", format!("Bearer {token}")));
        }
        if let Some(etag) = if_none_match {
            req = req.insert_header(("If-None-Match", etag.to_owned()));
        }
        self.call(req).await
    }

    /// The response to `GET uri` and the SQL statements the pool ran for it. The same GET
    /// runs once before, so the pool holds an open connection and connection setup is not
    /// counted.
    pub async fn counted_get(
        &self,
        uri: &str,
        token: Option<&str>,
        if_none_match: Option<&str>,
    ) -> (Resp, u64) {
        self.get_if(uri, token, if_none_match).await;
        let before = self.state.db.statements();
        let res = self.get_if(uri, token, if_none_match).await;
        (res, self.state.db.statements() - before)
    }
}

impl Resp {
    /// A 304: no body, and the validator and caching headers the 200 carries.
    pub fn assert_not_modified(&self, etag: &str, cache_control: &str) {
        assert_eq!(self.status, 304, "{}", self.text());
        assert!(self.body.is_empty(), "a 304 has no body: {}", self.text());
        assert_eq!(self.header("etag"), Some(etag));
        assert_eq!(self.header("cache-control"), Some(cache_control));
    }
}
