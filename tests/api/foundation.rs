//! The service skeleton: errors, reference data, ops endpoints — on both backends.

use crate::common;

use actix_web::test::TestRequest;
use common::*;

backend_tests! {
    async fn unknown_route_is_problem_404(backend) {
        let ctx = start(backend).await;
        let res = ctx.get("/api/v1/no-such-thing").await;
        let body = res.problem(404, "not_found");
        assert!(body["detail"].as_str().unwrap().contains("/api/v1/no-such-thing"));
    }

    async fn wrong_method_is_problem_405_with_allow(backend) {
        let ctx = start(backend).await;
        let res = ctx.call(TestRequest::delete().uri("/api/v1/taxonomy/provinces")).await;
        res.problem(405, "method_not_allowed");
        assert_eq!(res.header("allow"), Some("GET"));
    }

    async fn bad_query_value_names_the_parameter(backend) {
        let ctx = start(backend).await;
        let res = ctx.get("/api/v1/taxonomy/sectors?lang=fr").await;
        let body = res.invalid_field("lang");
        assert_eq!(body["errors"][0]["message"], "expected vi or en");
    }

    async fn taxonomy_speaks_vietnamese_by_default_and_english_on_request(backend) {
        let ctx = start(backend).await;
        let vi = ctx.get("/api/v1/taxonomy/sectors").await.ok();
        let fields = vi.as_array().unwrap();
        assert_eq!(fields.len(), 6);
        let agri = fields.iter().find(|f| f["code"] == "4").unwrap();
        assert_eq!(agri["label"], "Khoa học nông nghiệp");
        assert_eq!(agri["subfields"][0]["code"], "4.1");

        let en = ctx.get("/api/v1/taxonomy/sectors?lang=en").await.ok();
        assert_eq!(en[3]["label"], "Agricultural and veterinary sciences");

        let header_en = ctx
            .call(TestRequest::get().uri("/api/v1/taxonomy/sectors").insert_header(("Accept-Language", "en-GB,en;q=0.9")))
            .await;
        assert_eq!(header_en.ok(), en);
        assert!(header_en.header("vary").unwrap().contains("Accept-Language"));

        // The query parameter wins over the header.
        let query_vi = ctx
            .call(TestRequest::get().uri("/api/v1/taxonomy/sectors?lang=vi").insert_header(("Accept-Language", "en")))
            .await;
        assert_eq!(query_vi.ok(), vi);
    }

    async fn provinces_are_the_34_units_with_former_names(backend) {
        let ctx = start(backend).await;
        let body = ctx.get("/api/v1/taxonomy/provinces").await.ok();
        let provinces = body.as_array().unwrap();
        assert_eq!(provinces.len(), 34);
        let hcm = provinces.iter().find(|p| p["code"] == "ho-chi-minh").unwrap();
        assert_eq!(hcm["name"], "TP Hồ Chí Minh");
        assert_eq!(hcm["kind"], "city");
        assert_eq!(hcm["former_names"], serde_json::json!(["Bình Dương", "Bà Rịa–Vũng Tàu"]));
        let cities = provinces.iter().filter(|p| p["kind"] == "city").count();
        assert_eq!(cities, 6);
        let en = ctx.get("/api/v1/taxonomy/provinces?lang=en").await.ok();
        assert!(en.as_array().unwrap().iter().any(|p| p["name"] == "Ho Chi Minh City"));
    }

    async fn trl_transfer_forms_and_ip_types_in_both_languages(backend) {
        let ctx = start(backend).await;
        let trl = ctx.get("/api/v1/taxonomy/trl-levels?lang=en").await.ok();
        assert_eq!(trl.as_array().unwrap().len(), 9);
        assert_eq!(trl[3]["level"], 4);
        assert_eq!(trl[3]["label"], "Technology validated in the laboratory");

        let forms = ctx.get("/api/v1/taxonomy/transfer-forms").await.ok();
        let codes: Vec<&str> = forms.as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap()).collect();
        assert_eq!(codes, ["ownership_assignment", "usage_licence", "capital_contribution", "joint_venture", "technical_services", "machinery_with_technology"]);
        assert_eq!(forms[0]["label"], "Chuyển nhượng quyền sở hữu công nghệ");

        let ip = ctx.get("/api/v1/taxonomy/ip-types?lang=en").await.ok();
        assert_eq!(ip.as_array().unwrap().len(), 7);
        assert_eq!(ip[1], serde_json::json!({"code": "utility_solution", "label": "Utility solution"}));
    }

    async fn health_and_readiness(backend) {
        let ctx = start(backend).await;
        assert_eq!(ctx.get("/healthz").await.ok()["status"], "ok");
        let ready = ctx.get("/readyz").await.ok();
        assert_eq!(ready["database"], match backend { Sqlite => "sqlite", Postgres => "postgres" });
    }

    async fn unreachable_database_is_503_with_retry_after(backend) {
        let app = start_unreachable(backend).await;
        let res = call(&app, TestRequest::get().uri("/readyz")).await;
        res.problem(503, "service_unavailable");
        assert!(res.header("retry-after").is_some_and(|v| v.parse::<u32>().is_ok()));
        // The process itself is alive, and requests that need no database still work.
        assert_eq!(call(&app, TestRequest::get().uri("/healthz")).await.status, 200);
        assert_eq!(call(&app, TestRequest::get().uri("/api/v1/taxonomy/ip-types")).await.status, 200);
        // Resource endpoints answer 503 as well, never a hang or a 500.
        let res = call(&app, TestRequest::get().uri("/api/v1/organizations")).await;
        res.problem(503, "service_unavailable");
        let res = call(&app, TestRequest::post().uri("/api/v1/auth/password-reset").set_json(serde_json::json!({"email": "a@b.vn"}))).await;
        res.problem(503, "service_unavailable");
    }

    async fn request_id_is_echoed_or_made(backend) {
        let ctx = start(backend).await;
        let res = ctx.call(TestRequest::get().uri("/healthz").insert_header(("X-Request-Id", "trace-abc-123"))).await;
        assert_eq!(res.header("x-request-id"), Some("trace-abc-123"));
        let res = ctx.get("/healthz").await;
        let made = res.header("x-request-id").unwrap();
        assert!(uuid::Uuid::parse_str(made).is_ok(), "{made}");
        // A header that could forge log lines is replaced.
        let res = ctx.call(TestRequest::get().uri("/healthz").insert_header(("X-Request-Id", "a b"))).await;
        assert_ne!(res.header("x-request-id"), Some("a b"));
    }

    async fn metrics_count_requests_per_route_pattern(backend) {
        let ctx = start(backend).await;
        ctx.get("/api/v1/taxonomy/sectors").await.ok();
        ctx.get("/api/v1/taxonomy/sectors?lang=en").await.ok();
        ctx.get("/nowhere/1").await;
        let metrics = ctx.get("/metrics").await;
        assert_eq!(metrics.status, 200);
        assert!(metrics.header("content-type").unwrap().starts_with("text/plain"));
        let text = metrics.text();
        assert!(text.contains(r#"techx_http_requests_total{method="GET",route="/api/v1/taxonomy/sectors",status="200"} 2"#), "{text}");
        assert!(text.contains(r#"techx_http_requests_total{method="GET",route="unmatched",status="404"} 1"#), "{text}");
        assert!(text.contains("techx_http_request_duration_seconds_bucket"), "{text}");
    }

    async fn docs_and_spec_are_served(backend) {
        let ctx = start(backend).await;
        let redirect = ctx.get("/docs").await;
        assert_eq!(redirect.header("location"), Some("/docs/"));
        let ui = ctx.get("/docs/").await;
        assert_eq!(ui.status, 200);
        assert!(ui.text().contains("swagger"), "Swagger UI page");
        let spec = ctx.get("/api-docs/openapi.json").await.ok();
        assert_eq!(spec["openapi"], "3.1.0");
        assert!(spec["paths"]["/api/v1/taxonomy/sectors"]["get"].is_object());
    }

    async fn security_headers_on_every_response(backend) {
        let ctx = start(backend).await;
        for uri in ["/healthz", "/api/v1/taxonomy/sectors", "/missing"] {
            let res = ctx.get(uri).await;
            assert_eq!(res.header("x-content-type-options"), Some("nosniff"), "{uri}");
            assert_eq!(res.header("x-frame-options"), Some("DENY"), "{uri}");
        }
    }
}
