//! Organisations: profiles with ETags, idempotent creation, search, membership, invitations,
//! verification, and the cross-tenant permission matrix — on both backends.

use crate::common;

use actix_web::http::Method;
use actix_web::test::TestRequest;
use common::*;
use diesel::prelude::*;
use serde_json::{Value, json};
use techx::auth::PlatformRole;
use techx::db::schema::{invitations, memberships, organizations};

/// Everything an organisation's permissions protect, as the database holds it.
fn snapshot(ctx_db: &TestDb, org: &str) -> (String, Vec<(String, String)>, i64) {
    let mut conn = ctx_db.connect();
    let id: techx::db::types::EntityId = uuid::Uuid::parse_str(org).unwrap().into();
    let (name, version, verified): (String, i32, bool) = organizations::table
        .find(id)
        .select((organizations::name, organizations::version, organizations::verified))
        .first(&mut conn)
        .unwrap();
    let mut members: Vec<(String, String)> = memberships::table
        .filter(memberships::organization_id.eq(id))
        .select((memberships::user_id, memberships::role))
        .load::<(techx::db::types::EntityId, String)>(&mut conn)
        .unwrap()
        .into_iter()
        .map(|(u, r)| (u.to_string(), r))
        .collect();
    members.sort();
    let invites = invitations::table
        .filter(invitations::organization_id.eq(id))
        .count()
        .get_result(&mut conn)
        .unwrap();
    (format!("{name}/{version}/{verified}"), members, invites)
}

backend_tests! {
    async fn create_read_and_update_with_if_match(backend) {
        let ctx = start(backend).await;
        let owner = ctx.signup("owner@vast.vn").await;
        let body = json!({"name": "Viện Công nghệ sinh học", "kind": "research_institute", "tax_code": "0101234567",
            "province": "ha-noi", "website": "https://ibt.vast.vn", "sectors": ["4.4", "3.4"]});
        let res = ctx.post_as("/api/v1/organizations", &owner.access, &body).await;
        assert_eq!(res.status, 201, "{}", res.text());
        let org = res.json();
        let id = org["id"].as_str().unwrap();
        assert_eq!(res.header("location"), Some(format!("/api/v1/organizations/{id}").as_str()));
        assert_eq!(res.header("etag"), Some("\"1\""));
        assert_eq!((org["verified"].as_bool(), org["version"].as_i64()), (Some(false), Some(1)));

        let me = ctx.get_as("/api/v1/me", &owner.access).await.ok();
        assert_eq!(me["memberships"][0]["role"], "owner");
        assert_eq!(me["memberships"][0]["organization_name"], "Viện Công nghệ sinh học");

        // Public profile, for anyone.
        let public = ctx.get(&format!("/api/v1/organizations/{id}")).await;
        assert_eq!(public.ok()["name"], "Viện Công nghệ sinh học");
        assert_eq!(public.header("etag"), Some("\"1\""));

        let uri = format!("/api/v1/organizations/{id}");
        let patch = |etag: Option<&str>, body: Value| {
            let mut req = TestRequest::patch()
                .uri(&uri)
                .insert_header(("Authorization", format!("Bearer {}", owner.access)))
                .set_json(body);
            if let Some(etag) = etag {
                req = req.insert_header(("If-Match", etag.to_owned()));
            }
            req
        };
        ctx.call(patch(None, json!({"address": "18 Hoàng Quốc Việt"}))).await.problem(428, "precondition_required");
        ctx.call(patch(Some("garbage"), json!({"address": "x"}))).await.invalid_field("If-Match");
        let updated = ctx.call(patch(Some("\"1\""), json!({"address": "18 Hoàng Quốc Việt", "description": "Nghiên cứu"}))).await;
        assert_eq!(updated.header("etag"), Some("\"2\""));
        let updated = updated.ok();
        assert_eq!((updated["address"].as_str(), updated["version"].as_i64()), (Some("18 Hoàng Quốc Việt"), Some(2)));
        ctx.call(patch(Some("\"1\""), json!({"address": "stale"}))).await.problem(412, "precondition_failed");

        // Validation names every bad field, and nothing changes.
        let bad = ctx
            .call(patch(Some("\"2\""), json!({"province": "atlantis", "sectors": ["4.1", "9.9"], "tax_code": "12",
                "website": "ftp://x", "services": ["valuation"]})))
            .await;
        let errors = bad.problem(400, "validation_failed")["errors"].clone();
        let fields: Vec<&str> = errors.as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["tax_code", "province", "website", "sectors[1]", "services"]);
        ctx.call(patch(Some("\"2\""), json!({"kind": "university"}))).await.invalid_field("kind");
        assert_eq!(ctx.get(&uri).await.ok()["version"], 2);

        ctx.get(&format!("/api/v1/organizations/{}", uuid::Uuid::now_v7())).await.problem(404, "not_found");
        ctx.get("/api/v1/organizations/123").await.invalid_field("id");
    }

    async fn creation_is_idempotent_by_key(backend) {
        let ctx = start(backend).await;
        let owner = ctx.signup("idem@b.vn").await;
        let create = |key: &str, name: &str| {
            TestRequest::post()
                .uri("/api/v1/organizations")
                .insert_header(("Authorization", format!("Bearer {}", owner.access)))
                .insert_header(("Idempotency-Key", key.to_owned()))
                .set_json(json!({"name": name, "kind": "enterprise", "province": "thanh-hoa"}))
        };
        let first = ctx.call(create("k-1", "Công ty Nông sản Xanh")).await;
        assert_eq!(first.status, 201);
        assert!(first.header("idempotent-replayed").is_none());
        let again = ctx.call(create("k-1", "Công ty Nông sản Xanh")).await;
        assert_eq!(again.status, 201);
        assert_eq!(again.header("idempotent-replayed"), Some("true"));
        assert_eq!(again.json()["id"], first.json()["id"]);
        ctx.call(create("k-1", "Another name")).await.problem(422, "idempotency_key_reused");
        let other = ctx.call(create("k-2", "Công ty Nông sản Xanh")).await.ok();
        assert_ne!(other["id"], first.json()["id"]);
        let count: i64 = organizations::table.count().get_result(&mut ctx.db.connect()).unwrap();
        assert_eq!(count, 2);
        ctx.call(create("bad key with spaces", "X")).await.invalid_field("Idempotency-Key");
    }

    async fn search_folds_accents_and_filters(backend) {
        let ctx = start(backend).await;
        let a = ctx.signup("a@b.vn").await;
        let mk = |name: &str, kind: &str, province: &str, sectors: Value, services: Value| {
            json!({"name": name, "kind": kind, "province": province, "sectors": sectors, "services": services})
        };
        for body in [
            mk("Viện Công nghệ sinh học", "research_institute", "ha-noi", json!(["4.4"]), json!([])),
            mk("Trường Đại học Y Dược", "university", "thanh-hoa", json!(["3.2"]), json!([])),
            mk("Trung tâm Thẩm định giá Công nghệ", "intermediary", "thanh-hoa", json!(["5.2"]), json!(["valuation", "brokering"])),
            mk("Công ty Phần mềm Đông Á", "enterprise", "da-nang", json!(["1.2"]), json!([])),
        ] {
            assert_eq!(ctx.post_as("/api/v1/organizations", &a.access, &body).await.status, 201);
        }
        let names = |page: Value| -> Vec<String> {
            page["items"].as_array().unwrap().iter().map(|o| o["name"].as_str().unwrap().to_owned()).collect()
        };
        assert_eq!(names(ctx.get("/api/v1/organizations?q=vien%20cong%20nghe").await.ok()), ["Viện Công nghệ sinh học"]);
        assert_eq!(names(ctx.get("/api/v1/organizations?q=DONG%20A").await.ok()), ["Công ty Phần mềm Đông Á"]);
        let page = ctx.get("/api/v1/organizations?province=thanh-hoa&per_page=1").await.ok();
        assert_eq!((page["total"].as_i64(), page["items"].as_array().unwrap().len()), (Some(2), 1));
        assert_eq!(names(ctx.get("/api/v1/organizations?sector=4").await.ok()), ["Viện Công nghệ sinh học"]);
        assert_eq!(names(ctx.get("/api/v1/organizations?service=valuation").await.ok()), ["Trung tâm Thẩm định giá Công nghệ"]);
        assert_eq!(names(ctx.get("/api/v1/organizations?kind=university&province=thanh-hoa").await.ok()), ["Trường Đại học Y Dược"]);
        assert_eq!(ctx.get("/api/v1/organizations?verified=true").await.ok()["total"], 0);
        assert_eq!(ctx.get("/api/v1/organizations?q=100%25_").await.ok()["total"], 0, "LIKE wildcards are literal");
        ctx.get("/api/v1/organizations?kind=bank").await.invalid_field("kind");
        ctx.get("/api/v1/organizations?page=0").await.invalid_field("page");
        ctx.get("/api/v1/organizations?verified=maybe").await.invalid_field("verified");
    }

    async fn invitations_by_mail_and_the_last_owner_rule(backend) {
        let ctx = start(backend).await;
        let owner = ctx.signup("owner@org.vn").await;
        let org = ctx.create_org(&owner, "Công ty Giống cây trồng", "enterprise").await;
        let id = org["id"].as_str().unwrap();

        let invite = ctx.post_as(&format!("/api/v1/organizations/{id}/invitations"), &owner.access,
            &json!({"email": "Invitee@Org.vn", "role": "member"})).await;
        assert_eq!(invite.status, 201, "{}", invite.text());
        assert_eq!(invite.json()["email"], "invitee@org.vn");
        assert_eq!(ctx.mail_count("Invitee@Org.vn", "organization_invitation"), 1);
        let token = ctx.mailed_token("Invitee@Org.vn", "organization_invitation");

        // Someone else cannot use it; the invitee can, once.
        let stranger = ctx.signup("stranger@org.vn").await;
        ctx.post_as("/api/v1/invitations/accept", &stranger.access, &json!({"token": token})).await.problem(403, "forbidden");
        let invitee = ctx.signup("invitee@org.vn").await;
        let accepted = ctx.post_as("/api/v1/invitations/accept", &invitee.access, &json!({"token": token})).await.ok();
        assert_eq!((accepted["organization_id"].as_str(), accepted["role"].as_str()), (Some(id), Some("member")));
        ctx.post_as("/api/v1/invitations/accept", &invitee.access, &json!({"token": token})).await.problem(400, "invalid_token");

        let members = ctx.get_as(&format!("/api/v1/organizations/{id}/members"), &invitee.access).await.ok();
        let roles: Vec<(&str, &str)> = members.as_array().unwrap().iter()
            .map(|m| (m["email"].as_str().unwrap(), m["role"].as_str().unwrap())).collect();
        assert_eq!(roles, [("owner@org.vn", "owner"), ("invitee@org.vn", "member")]);

        // Members cannot invite or change roles.
        ctx.post_as(&format!("/api/v1/organizations/{id}/invitations"), &invitee.access,
            &json!({"email": "x@org.vn", "role": "owner"})).await.problem(403, "forbidden");
        let owner_uri = format!("/api/v1/organizations/{id}/members/{}", owner.user_id);
        let invitee_uri = format!("/api/v1/organizations/{id}/members/{}", invitee.user_id);
        ctx.authed(Method::PATCH, &owner_uri, &invitee.access, Some(&json!({"role": "member"}))).await.problem(403, "forbidden");
        ctx.authed(Method::DELETE, &owner_uri, &invitee.access, None).await.problem(403, "forbidden");

        // The last owner can neither step down nor leave.
        ctx.authed(Method::PATCH, &owner_uri, &owner.access, Some(&json!({"role": "member"}))).await.problem(409, "last_owner");
        ctx.authed(Method::DELETE, &owner_uri, &owner.access, None).await.problem(409, "last_owner");
        // Once there is another owner, the first may leave.
        assert_eq!(ctx.authed(Method::PATCH, &invitee_uri, &owner.access, Some(&json!({"role": "owner"}))).await.status, 204);
        assert_eq!(ctx.authed(Method::DELETE, &owner_uri, &owner.access, None).await.status, 204);
        let members = ctx.get_as(&format!("/api/v1/organizations/{id}/members"), &invitee.access).await.ok();
        assert_eq!(members.as_array().unwrap().len(), 1);
        ctx.get_as(&format!("/api/v1/organizations/{id}/members"), &owner.access).await.problem(403, "forbidden");
        let gone = format!("/api/v1/organizations/{id}/members/{}", stranger.user_id);
        ctx.authed(Method::DELETE, &gone, &invitee.access, None).await.problem(404, "not_found");

        // A member may leave on their own.
        let second = ctx.post_as(&format!("/api/v1/organizations/{id}/invitations"), &invitee.access,
            &json!({"email": "stranger@org.vn", "role": "member"})).await;
        assert_eq!(second.status, 201);
        let token = ctx.mailed_token("stranger@org.vn", "organization_invitation");
        ctx.post_as("/api/v1/invitations/accept", &stranger.access, &json!({"token": token})).await.ok();
        let own = format!("/api/v1/organizations/{id}/members/{}", stranger.user_id);
        assert_eq!(ctx.authed(Method::DELETE, &own, &stranger.access, None).await.status, 204);
    }

    async fn staff_verify_organisations(backend) {
        let ctx = start(backend).await;
        let owner = ctx.signup("o@v.vn").await;
        let moderator = ctx.staff("mod@techx.vn", PlatformRole::Moderator).await;
        let org = ctx.create_org(&owner, "Viện Lúa", "research_institute").await;
        let uri = format!("/api/v1/organizations/{}/verification", org["id"].as_str().unwrap());
        ctx.post_as(&uri, &owner.access, &json!({"status": "verified"})).await.problem(403, "forbidden");
        ctx.post(&uri, &json!({"status": "verified"})).await.problem(401, "unauthorized");
        let verified = ctx.post_as(&uri, &moderator.access, &json!({"status": "verified", "note": "Giấy phép số 12"})).await.ok();
        assert_eq!(verified["verified"], true);
        assert!(verified["verified_at"].is_string());
        assert_eq!(ctx.get("/api/v1/organizations?verified=true").await.ok()["total"], 1);
        let revoked = ctx.post_as(&uri, &moderator.access, &json!({"status": "revoked"})).await.ok();
        assert_eq!((revoked["verified"].as_bool(), revoked["verified_at"].is_null()), (Some(false), true));
        let history: i64 = techx::db::schema::organization_verifications::table.count()
            .get_result(&mut ctx.db.connect()).unwrap();
        assert_eq!(history, 2);
        // Moderators see members (to check who runs an organisation) but cannot edit it.
        ctx.get_as(&format!("/api/v1/organizations/{}/members", org["id"].as_str().unwrap()), &moderator.access).await.ok();
    }

    async fn cross_tenant_matrix_changes_nothing(backend) {
        let ctx = start(backend).await;
        let alice = ctx.signup("alice@a.vn").await;
        let bob = ctx.signup("bob@b.vn").await;
        let org_a = ctx.create_org(&alice, "Tổ chức A", "enterprise").await;
        ctx.create_org(&bob, "Tổ chức B", "enterprise").await;
        let a = org_a["id"].as_str().unwrap().to_owned();
        let member_uri = format!("/api/v1/organizations/{a}/members/{}", alice.user_id);
        let before = snapshot(&ctx.db, &a);

        let attempts: Vec<(Method, String, Option<Value>, u16)> = vec![
            (Method::PATCH, format!("/api/v1/organizations/{a}"), Some(json!({"name": "Hijacked"})), 403),
            (Method::GET, format!("/api/v1/organizations/{a}/members"), None, 403),
            (Method::PATCH, member_uri.clone(), Some(json!({"role": "member"})), 403),
            (Method::DELETE, member_uri.clone(), None, 403),
            (Method::POST, format!("/api/v1/organizations/{a}/invitations"), Some(json!({"email": "bob@b.vn", "role": "owner"})), 403),
            (Method::POST, format!("/api/v1/organizations/{a}/verification"), Some(json!({"status": "verified"})), 403),
        ];
        for (method, uri, body, status) in &attempts {
            let mut req = TestRequest::default()
                .method(method.clone())
                .uri(uri)
                .insert_header(("Authorization", format!("Bearer {}", bob.access)))
                .insert_header(("If-Match", "\"1\""));
            if let Some(body) = body {
                req = req.set_json(body);
            }
            let res = ctx.call(req).await;
            assert_eq!(res.status.as_u16(), *status, "{method} {uri}: {}", res.text());
            assert_eq!(res.header("content-type"), Some("application/problem+json"));
            // And anonymously: 401 for every one of them.
            let mut anon = TestRequest::default().method(method.clone()).uri(uri);
            if let Some(body) = body {
                anon = anon.set_json(body);
            }
            ctx.call(anon).await.problem(401, "unauthorized");
        }
        assert_eq!(snapshot(&ctx.db, &a), before, "nothing changed in the database");
        // An invitation token of A cannot be used to join B's organisation by B's owner.
        assert_eq!(ctx.mail_count("bob@b.vn", "organization_invitation"), 0);
    }
}
