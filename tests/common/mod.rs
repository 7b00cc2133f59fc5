//! Test harness: the real App on a fresh database per test — a temp SQLite file, or a new
//! PostgreSQL database (`TECHX_TEST_PG_URL`, default the local server) dropped afterwards.
#![allow(dead_code)]

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

pub use Backend::{Postgres, Sqlite};

/// Runs each listed body once per backend: `mod NAME { fn sqlite; fn postgres }`.
#[macro_export]
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
    _dir: Option<tempfile::TempDir>,
    pg_name: Option<String>,
}

impl TestDb {
    pub fn create(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("techx.db").display());
                Self { url, backend, _dir: Some(dir), pg_name: None }
            }
            Backend::Postgres => {
                let name = format!("techx_test_{}", uuid::Uuid::new_v4().simple());
                let mut admin = PgConnection::establish(&pg_admin_url()).expect("PostgreSQL admin");
                admin.batch_execute(&format!("CREATE DATABASE {name}")).expect("create test db");
                let admin_url = pg_admin_url();
                let base = admin_url.rsplit_once('/').map_or(admin_url.as_str(), |(b, _)| b);
                Self { url: format!("{base}/{name}"), backend, _dir: None, pg_name: Some(name) }
            }
        }
    }

    pub fn target(&self) -> DbTarget {
        DbTarget::parse(&self.url).expect("test db url")
    }

    /// A direct connection, for asserting on rows.
    pub fn connect(&self) -> DbConn {
        dialect::establish(&self.target(), Duration::from_secs(5)).expect("test db connection")
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
    config
}

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
    configure(&mut config);
    let pool = Db::new(&db.target(), config.db_pool_size, config.db_timeout);
    {
        let mut conn = pool.conn().expect("test db pool");
        dialect::run_migrations(&mut conn).expect("migrations");
    }
    let state = web::Data::new(AppState::new(config, pool));
    let app = test::init_service(techx::app::build(state.clone())).await;
    Ctx { app, state, db }
}

/// An App whose database cannot be reached (no migrations run).
pub async fn start_unreachable(
    backend: Backend,
) -> impl Service<Request, Response = ServiceResponse<impl MessageBody>, Error = actix_web::Error> {
    let url = match backend {
        Backend::Sqlite => "sqlite:///nonexistent-techx-dir/techx.db".to_owned(),
        Backend::Postgres => "postgres://postgres@127.0.0.1:1/techx".to_owned(),
    };
    let mut config = test_config(&url);
    config.db_timeout = Duration::from_millis(300);
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
    let res = app.call(req.to_request()).await.unwrap_or_else(|e| panic!("service error: {e}"));
    let status = res.status();
    let headers = res.headers().clone();
    let body = test::read_body(res).await;
    Resp { status, headers, body }
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
