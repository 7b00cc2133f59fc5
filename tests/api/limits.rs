//! Abuse limits: per-client rate limits, CORS, request deadline — on both backends.

use crate::common;

use actix_web::test::TestRequest;
use common::*;
use serde_json::json;

backend_tests! {
    async fn auth_endpoints_are_rate_limited_per_client(backend) {
        let ctx = start_with(backend, |c| c.limits.auth_per_minute = 3).await;
        let attempt = |ip: &str| {
            TestRequest::post()
                .uri("/api/v1/auth/password-reset")
                .peer_addr(format!("{ip}:1234").parse().unwrap())
                .set_json(json!({"email": "x@b.vn"}))
        };
        for _ in 0..3 {
            assert_eq!(ctx.call(attempt("10.1.1.1")).await.status, 202);
        }
        let limited = ctx.call(attempt("10.1.1.1")).await;
        limited.problem(429, "too_many_requests");
        let wait: u64 = limited.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=60).contains(&wait), "{wait}");
        // Another client is unaffected, and so are reads.
        assert_eq!(ctx.call(attempt("10.1.1.2")).await.status, 202);
        let read = TestRequest::get().uri("/api/v1/taxonomy/sectors").peer_addr("10.1.1.1:1".parse().unwrap());
        assert_eq!(ctx.call(read).await.status, 200);
    }

    async fn writes_are_rate_limited_but_reads_are_not(backend) {
        let ctx = start_with(backend, |c| c.limits.writes_per_minute = 2).await;
        let owner = ctx.signup("w@b.vn").await;
        let create = |n: u32| {
            TestRequest::post()
                .uri("/api/v1/organizations")
                .peer_addr("10.2.2.2:1".parse().unwrap())
                .insert_header(("Authorization", format!("Bearer {}", owner.access)))
                .set_json(json!({"name": format!("Org {n}"), "kind": "enterprise", "province": "hue"}))
        };
        assert_eq!(ctx.call(create(1)).await.status, 201);
        assert_eq!(ctx.call(create(2)).await.status, 201);
        ctx.call(create(3)).await.problem(429, "too_many_requests");
        for _ in 0..5 {
            let list = TestRequest::get().uri("/api/v1/organizations").peer_addr("10.2.2.2:1".parse().unwrap());
            assert_eq!(ctx.call(list).await.status, 200);
        }
        use diesel::prelude::*;
        let count: i64 = techx::db::schema::organizations::table.count().get_result(&mut ctx.db.connect()).unwrap();
        assert_eq!(count, 2, "the refused request wrote nothing");
    }

    async fn cors_allows_only_configured_origins(backend) {
        let ctx = start_with(backend, |c| c.limits.cors_origins = vec!["https://san.thanhhoa.gov.vn".into()]).await;
        let preflight = |origin: &str| {
            TestRequest::default()
                .method(actix_web::http::Method::OPTIONS)
                .uri("/api/v1/organizations")
                .insert_header(("Origin", origin.to_owned()))
                .insert_header(("Access-Control-Request-Method", "POST"))
                .insert_header(("Access-Control-Request-Headers", "authorization, content-type, idempotency-key"))
        };
        let ok = ctx.call(preflight("https://san.thanhhoa.gov.vn")).await;
        assert_eq!(ok.status, 200, "{}", ok.text());
        assert_eq!(ok.header("access-control-allow-origin"), Some("https://san.thanhhoa.gov.vn"));
        assert!(ok.header("access-control-allow-headers").unwrap().contains("idempotency-key"));
        let refused = ctx.call(preflight("https://evil.example")).await;
        assert_eq!(refused.status, 400);
        assert!(refused.header("access-control-allow-origin").is_none());
        assert_eq!(refused.header("content-type"), Some("application/problem+json"));

        let simple = TestRequest::get().uri("/api/v1/taxonomy/ip-types").insert_header(("Origin", "https://san.thanhhoa.gov.vn"));
        let res = ctx.call(simple).await;
        assert_eq!(res.header("access-control-allow-origin"), Some("https://san.thanhhoa.gov.vn"));
        assert!(res.header("access-control-expose-headers").unwrap().contains("etag"));
    }

    async fn slow_requests_hit_the_deadline(backend) {
        // The pool waits 300 ms for an unreachable database; the deadline is shorter.
        let app = start_unreachable_with(backend, |c| c.limits.request_timeout = std::time::Duration::from_millis(100)).await;
        let started = std::time::Instant::now();
        let res = call(&app, TestRequest::get().uri("/readyz")).await;
        res.problem(503, "timeout");
        assert!(res.header("retry-after").is_some());
        assert!(started.elapsed() < std::time::Duration::from_millis(290), "{:?}", started.elapsed());
    }
}
