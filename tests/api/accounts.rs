//! Accounts and sessions: registration, verification, sign-in, rotating refresh tokens,
//! password changes and resets, brute-force limits, administration — on both backends.

use crate::common;

use actix_web::http::Method;
use actix_web::test::TestRequest;
use common::*;
use serde_json::{Value, json};
use techx::auth::PlatformRole;

fn claims(sub: &str, exp_offset: i64, aud: &str, iss: &str) -> Value {
    let now = jsonwebtoken::get_current_timestamp() as i64;
    json!({"sub": sub, "iat": now, "exp": now + exp_offset, "aud": aud, "iss": iss,
           "jti": "x", "role": "admin", "sid": uuid::Uuid::nil().to_string()})
}

fn sign(claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

backend_tests! {
    async fn register_verify_login_refresh_reuse_logout(backend) {
        let ctx = start(backend).await;
        let res = ctx
            .post("/api/v1/auth/register", &json!({"email": "Lan.Nguyen@VAST.vn", "password": PASSWORD,
                  "display_name": "Nguyễn Thị Lan", "language": "en"}))
            .await;
        assert_eq!(res.status, 201, "{}", res.text());
        let user = res.json();
        assert_eq!(user["email"], "Lan.Nguyen@VAST.vn");
        assert_eq!(user["email_verified"], false);
        assert_eq!(user["platform_role"], "member");
        assert!(user.get("password_hash").is_none());

        // Not verified yet: sign-in is refused after the password checks out.
        ctx.login("lan.nguyen@vast.vn", PASSWORD).await.problem(403, "email_not_verified");

        // The verification mail arrives over SMTP, in English as asked, with a single-use link.
        let mailer = ctx.deliver_mail();
        let mail = mailer.wait_for("Lan.Nguyen@VAST.vn", "Confirm your email").await;
        assert_eq!(mail.to, ["Lan.Nguyen@VAST.vn"]);
        assert_eq!(mail.content_type, "multipart/alternative");
        assert_eq!(mail.content_language.as_deref(), Some("en"));
        let text = mail.text.clone().expect("a text part");
        let html = mail.html.clone().expect("an html part");
        assert!(text.contains("Nguyễn Thị Lan"), "{text}");
        assert!(text.contains("https://san.techx.vn/verify-email?token="), "{text}");
        let token = token_in(&text);
        assert_eq!(token, token_in(&html));
        assert_eq!(ctx.mail_count("Lan.Nguyen@VAST.vn", "verify_email"), 1);
        let verify = ctx.post("/api/v1/auth/verify-email", &json!({"token": token})).await;
        assert_eq!(verify.status, 204);
        ctx.post("/api/v1/auth/verify-email", &json!({"token": token})).await.problem(400, "invalid_token");

        // Emails are case-insensitive.
        let tokens = ctx.login("LAN.NGUYEN@vast.VN", PASSWORD).await.ok();
        assert_eq!(tokens["token_type"], "Bearer");
        assert_eq!(tokens["expires_in"], 900);
        let access = tokens["access_token"].as_str().unwrap();
        let me = ctx.get_as("/api/v1/me", access).await.ok();
        assert_eq!(me["email_verified"], true);
        assert_eq!(me["language"], "en");

        // Rotation: each refresh token works once and yields a new pair.
        let first = tokens["refresh_token"].as_str().unwrap().to_owned();
        let second = ctx.post("/api/v1/auth/refresh", &json!({"refresh_token": first})).await.ok();
        let second_refresh = second["refresh_token"].as_str().unwrap().to_owned();
        assert_ne!(second_refresh, first);
        let third = ctx.post("/api/v1/auth/refresh", &json!({"refresh_token": second_refresh})).await.ok();
        let third_access = third["access_token"].as_str().unwrap().to_owned();
        ctx.get_as("/api/v1/me", &third_access).await.ok();

        // Replaying a used token revokes the whole family, including the newest tokens.
        ctx.post("/api/v1/auth/refresh", &json!({"refresh_token": first})).await.problem(401, "unauthorized");
        ctx.post("/api/v1/auth/refresh", &json!({"refresh_token": third["refresh_token"]})).await
            .problem(401, "unauthorized");
        ctx.get_as("/api/v1/me", &third_access).await.problem(401, "unauthorized");

        // A new sign-in starts a new session; logout ends it, access token included.
        let session = ctx.login("lan.nguyen@vast.vn", PASSWORD).await.ok();
        let access = session["access_token"].as_str().unwrap();
        ctx.get_as("/api/v1/me", access).await.ok();
        let out = ctx.post("/api/v1/auth/logout", &json!({"refresh_token": session["refresh_token"]})).await;
        assert_eq!(out.status, 204);
        ctx.post("/api/v1/auth/refresh", &json!({"refresh_token": session["refresh_token"]})).await
            .problem(401, "unauthorized");
        ctx.get_as("/api/v1/me", access).await.problem(401, "unauthorized");
    }

    async fn registration_validation_names_each_rule(backend) {
        let ctx = start(backend).await;
        let register = |email: &str, password: &str, name: &str| {
            json!({"email": email, "password": password, "display_name": name})
        };
        let res = ctx.post("/api/v1/auth/register", &register("not-an-email", PASSWORD, " ")).await;
        let body = res.invalid_field("email");
        assert!(body["errors"].as_array().unwrap().iter().any(|e| e["field"] == "display_name"));
        let res = ctx.post("/api/v1/auth/register", &register("a@b.vn", "short", "A")).await;
        assert_eq!(res.invalid_field("password")["errors"][0]["message"], "must be at least 10 characters");
        let res = ctx.post("/api/v1/auth/register", &register("minh.tran@b.vn", "Minh.Tran@B.vn", "A")).await;
        assert_eq!(res.invalid_field("password")["errors"][0]["message"], "must not be your email address");
        let res = ctx.post("/api/v1/auth/register", &register("a@b.vn", "matkhau123", "A")).await;
        assert!(res.invalid_field("password")["errors"][0]["message"].as_str().unwrap().contains("too common"));

        // An unverified address: the same answer again, and the verification mail re-sent.
        assert_eq!(ctx.register("dup@b.vn").await.status, 201);
        assert_eq!(ctx.register("DUP@b.vn").await.status, 201);
        assert_eq!(ctx.mail_count("dup@b.vn", "verify_email"), 2);
        // A verified one is taken.
        ctx.signup("taken@b.vn").await;
        ctx.register("TAKEN@b.vn").await.problem(409, "email_taken");
        assert_eq!(ctx.mail_count("TAKEN@b.vn", "verify_email"), 0, "nothing queued for the refused one");
        assert_eq!(ctx.mail_count("taken@b.vn", "verify_email"), 1);
    }

    async fn malformed_bodies_are_problems_naming_the_field(backend) {
        let ctx = start_with(backend, |c| c.max_body_bytes = 2_048).await;
        let send = |body: &'static str, content_type: &'static str| {
            TestRequest::post()
                .uri("/api/v1/auth/register")
                .insert_header(("content-type", content_type))
                .set_payload(body)
        };
        ctx.call(send("{\"email\": ", "application/json")).await.invalid_field("body");
        let res = ctx.call(send(r#"{"email": 5, "password": "x", "display_name": "A"}"#, "application/json")).await;
        assert!(res.invalid_field("email")["errors"][0]["message"].as_str().unwrap().contains("invalid type"));
        let res = ctx
            .call(send(r#"{"email": "a@b.vn", "password": "xxxxxxxxxxxx", "display_name": "A", "platform_role": "admin"}"#, "application/json"))
            .await;
        assert_eq!(res.invalid_field("platform_role")["errors"][0]["message"], "unknown field");
        let res = ctx.call(send(r#"{"email": "a@b.vn", "display_name": "A"}"#, "application/json")).await;
        assert_eq!(res.invalid_field("password")["errors"][0]["message"], "is required");
        let res = ctx.call(send(r#"{"email": "a@b.vn", "password": "xxxxxxxxxxxx", "display_name": "A", "language": "fr"}"#, "application/json")).await;
        res.invalid_field("language");
        ctx.call(send("email=a", "application/x-www-form-urlencoded")).await.problem(415, "unsupported_media_type");
        // NUL characters cannot be stored by PostgreSQL: refused up front, naming the field.
        let res = ctx.call(send(r#"{"email": "a@b.vn", "password": "xxxxxxxxxxxx", "display_name": "A\u0000"}"#, "application/json")).await;
        assert_eq!(res.invalid_field("display_name")["errors"][0]["message"], "must not contain NUL characters");
        assert_eq!(ctx.get("/api/v1/organizations?q=a%00b").await.status, 200, "dropped from queries");
        ctx.get("/api/v1/organizations/a%00b").await.invalid_field("id");
        let big = format!(r#"{{"email": "{}@b.vn", "password": "x", "display_name": "A"}}"#, "a".repeat(3_000));
        let res = ctx
            .call(TestRequest::post().uri("/api/v1/auth/register").insert_header(("content-type", "application/json")).set_payload(big))
            .await;
        res.problem(413, "payload_too_large");
        // Nothing was written by any of them.
        use diesel::prelude::*;
        let users: i64 = techx::db::schema::users::table.count().get_result(&mut ctx.db.connect()).unwrap();
        assert_eq!(users, 0);
    }

    async fn wrong_credentials_look_the_same_for_unknown_emails(backend) {
        let ctx = start(backend).await;
        ctx.signup("known@b.vn").await;
        let wrong = ctx.login("known@b.vn", "wrong password!").await;
        let unknown = ctx.login("nobody@b.vn", "wrong password!").await;
        assert_eq!(wrong.problem(401, "unauthorized"), unknown.problem(401, "unauthorized"));
    }

    async fn every_kind_of_bad_token_is_401(backend) {
        let ctx = start(backend).await;
        let s = ctx.signup("tok@b.vn").await;
        let me = "/api/v1/me";
        ctx.get(me).await.problem(401, "unauthorized");
        let res = ctx.call(TestRequest::get().uri(me).insert_header(("Authorization", "Basic abc"))).await;
        res.problem(401, "unauthorized");
        assert_eq!(res.header("www-authenticate"), Some("Bearer"));
        ctx.get_as(me, "not.a.jwt").await.problem(401, "unauthorized");

        let sub = &s.user_id;
        let good = claims(sub, 600, "techx-api", "techx");
        // Signed with another key.
        ctx.get_as(me, &sign(&good, "some-other-secret-that-is-long-enough!!")).await.problem(401, "unauthorized");
        // Expired, another audience, another issuer (signed with the right key).
        ctx.get_as(me, &sign(&claims(sub, -600, "techx-api", "techx"), TEST_JWT_SECRET)).await.problem(401, "unauthorized");
        ctx.get_as(me, &sign(&claims(sub, 600, "other-api", "techx"), TEST_JWT_SECRET)).await.problem(401, "unauthorized");
        ctx.get_as(me, &sign(&claims(sub, 600, "techx-api", "evil"), TEST_JWT_SECRET)).await.problem(401, "unauthorized");
        // alg: none, and another algorithm with the same secret.
        use base64::Engine;
        let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let none = format!("{}.{}.", b64(&json!({"alg": "none", "typ": "JWT"})), b64(&good));
        ctx.get_as(me, &none).await.problem(401, "unauthorized");
        let hs512 = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512),
            &good,
            &jsonwebtoken::EncodingKey::from_secret(TEST_JWT_SECRET.as_bytes()),
        )
        .unwrap();
        ctx.get_as(me, &hs512).await.problem(401, "unauthorized");
        // The genuine token still works.
        ctx.get_as(me, &s.access).await.ok();
    }

    async fn failed_logins_lock_the_account_and_success_resets_it(backend) {
        let ctx = start(backend).await;
        ctx.signup("lock@b.vn").await;
        let login_from = |ip: &'static str, email: &'static str, password: &'static str| {
            TestRequest::post()
                .uri("/api/v1/auth/login")
                .peer_addr(format!("{ip}:4000").parse().unwrap())
                .set_json(json!({"email": email, "password": password}))
        };
        // Four failures, then a success resets the account counter...
        for _ in 0..4 {
            ctx.call(login_from("10.0.0.1", "lock@b.vn", "bad password!!")).await.problem(401, "unauthorized");
        }
        assert_eq!(ctx.call(login_from("10.0.0.1", "lock@b.vn", PASSWORD)).await.status, 200);
        // ...so four more do not lock it; the fifth in a row does, from any address.
        for _ in 0..4 {
            ctx.call(login_from("10.0.0.2", "lock@b.vn", "bad password!!")).await.problem(401, "unauthorized");
        }
        assert_eq!(ctx.call(login_from("10.0.0.2", "lock@b.vn", PASSWORD)).await.status, 200);
        for _ in 0..5 {
            ctx.call(login_from("10.0.0.3", "lock@b.vn", "bad password!!")).await.problem(401, "unauthorized");
        }
        let locked = ctx.call(login_from("10.0.0.4", "lock@b.vn", PASSWORD)).await;
        locked.problem(429, "too_many_requests");
        let retry: u64 = locked.header("retry-after").unwrap().parse().unwrap();
        assert!(retry > 0 && retry <= 15 * 60, "{retry}");
    }

    async fn failed_logins_lock_the_client_address(backend) {
        let ctx = start_with(backend, |c| c.auth.max_failures_per_ip = 3).await;
        ctx.signup("ip@b.vn").await;
        let attempt = |ip: &'static str, email: &'static str, password: &'static str| {
            TestRequest::post()
                .uri("/api/v1/auth/login")
                .peer_addr(format!("{ip}:5000").parse().unwrap())
                .set_json(json!({"email": email, "password": password}))
        };
        for email in ["x1@b.vn", "x2@b.vn", "x3@b.vn"] {
            ctx.call(attempt("10.9.9.9", email, "guess guess!")).await.problem(401, "unauthorized");
        }
        ctx.call(attempt("10.9.9.9", "ip@b.vn", PASSWORD)).await.problem(429, "too_many_requests");
        assert_eq!(ctx.call(attempt("10.9.9.10", "ip@b.vn", PASSWORD)).await.status, 200);
    }

    async fn password_reset_without_enumeration(backend) {
        let ctx = start(backend).await;
        let s = ctx.signup("reset@b.vn").await;
        let known = ctx.post("/api/v1/auth/password-reset", &json!({"email": "RESET@b.vn"})).await;
        let unknown = ctx.post("/api/v1/auth/password-reset", &json!({"email": "ghost@b.vn"})).await;
        assert_eq!((known.status.as_u16(), unknown.status.as_u16()), (202, 202));
        assert_eq!(known.body, unknown.body);
        assert_eq!(ctx.mail_count("ghost@b.vn", "password_reset"), 0);
        assert_eq!(ctx.mail_count("reset@b.vn", "password_reset"), 1);

        let mailer = ctx.deliver_mail();
        let mail = mailer.wait_for("reset@b.vn", "Đặt lại mật khẩu").await;
        assert_eq!(mail.content_language.as_deref(), Some("vi"));
        let text = mail.text.clone().expect("a text part");
        assert!(text.contains("https://san.techx.vn/reset-password?token="), "{text}");
        let token = token_in(&text);
        let weak = ctx.post("/api/v1/auth/password-reset/confirm", &json!({"token": token, "new_password": "short"})).await;
        weak.invalid_field("new_password");
        let new_password = "một mật khẩu mới dài";
        let done = ctx.post("/api/v1/auth/password-reset/confirm", &json!({"token": token, "new_password": new_password})).await;
        assert_eq!(done.status, 204, "{}", done.text());
        ctx.post("/api/v1/auth/password-reset/confirm", &json!({"token": token, "new_password": new_password})).await
            .problem(400, "invalid_token");
        // Every session ended; the old password is gone; the new one works; a notice was mailed.
        ctx.get_as("/api/v1/me", &s.access).await.problem(401, "unauthorized");
        ctx.post("/api/v1/auth/refresh", &json!({"refresh_token": s.refresh})).await.problem(401, "unauthorized");
        ctx.login("reset@b.vn", PASSWORD).await.problem(401, "unauthorized");
        ctx.login("reset@b.vn", new_password).await.ok();
        assert_eq!(ctx.mail_count("reset@b.vn", "password_changed"), 1);
        // Reset mail, then the notice of the change: two messages, each delivered once.
        let notice = mailer.wait_for("reset@b.vn", "").await;
        assert!(notice.text.is_some() && notice.html.is_some());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        while mailer.sink.messages().len() < 3 {
            assert!(std::time::Instant::now() < deadline, "the change notice never arrived");
            actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(mailer.sink.messages().len(), 3, "verification, reset, notice; none for ghost@b.vn");
        mailer.stop().await;
    }

    async fn me_profile_and_password_change(backend) {
        let ctx = start(backend).await;
        let s = ctx.signup("me@b.vn").await;
        let other = ctx.login("me@b.vn", PASSWORD).await.ok();
        let updated = ctx
            .authed(Method::PATCH, "/api/v1/me", &s.access, Some(&json!({"display_name": "Trần Minh", "language": "en"})))
            .await
            .ok();
        assert_eq!((updated["display_name"].as_str(), updated["language"].as_str()), (Some("Trần Minh"), Some("en")));
        ctx.authed(Method::PATCH, "/api/v1/me", &s.access, Some(&json!({"platform_role": "admin"}))).await
            .invalid_field("platform_role");

        let change = |current: &str, new: &str| json!({"current_password": current, "new_password": new});
        ctx.post_as("/api/v1/me/password", &s.access, &change("wrong wrong wrong", "a brand new passphrase")).await
            .problem(403, "wrong_password");
        let res = ctx.post_as("/api/v1/me/password", &s.access, &change(PASSWORD, "a brand new passphrase")).await;
        assert_eq!(res.status, 204, "{}", res.text());
        // This session lives on; the other one was signed out.
        ctx.get_as("/api/v1/me", &s.access).await.ok();
        ctx.get_as("/api/v1/me", other["access_token"].as_str().unwrap()).await.problem(401, "unauthorized");
        ctx.login("me@b.vn", "a brand new passphrase").await.ok();
    }

    async fn admins_manage_roles_and_disable_accounts(backend) {
        let ctx = start(backend).await;
        let admin = ctx.staff("admin@techx.vn", PlatformRole::Admin).await;
        let member = ctx.signup("member@b.vn").await;
        ctx.get_as("/api/v1/admin/users", &member.access).await.problem(403, "forbidden");

        let page = ctx.get_as("/api/v1/admin/users?q=MEMBER&per_page=10", &admin.access).await.ok();
        assert_eq!(page["total"], 1);
        assert_eq!(page["items"][0]["email"], "member@b.vn");
        assert_eq!(ctx.get_as("/api/v1/admin/users", &admin.access).await.ok()["total"], 2);
        ctx.get_as("/api/v1/admin/users?per_page=101", &admin.access).await.invalid_field("per_page");

        let uri = format!("/api/v1/admin/users/{}", member.user_id);
        let granted = ctx.authed(Method::PATCH, &uri, &admin.access, Some(&json!({"platform_role": "moderator"}))).await.ok();
        assert_eq!(granted["platform_role"], "moderator");
        // The role applies to the existing token at once (permissions read the database).
        assert_eq!(ctx.get_as("/api/v1/me", &member.access).await.ok()["platform_role"], "moderator");
        ctx.authed(Method::PATCH, &uri, &admin.access, Some(&json!({"platform_role": "admin"}))).await
            .invalid_field("platform_role");
        ctx.authed(Method::PATCH, &uri, &member.access, Some(&json!({"disabled": true}))).await.problem(403, "forbidden");

        let disabled = ctx.authed(Method::PATCH, &uri, &admin.access, Some(&json!({"disabled": true}))).await.ok();
        assert_eq!(disabled["disabled"], true);
        ctx.get_as("/api/v1/me", &member.access).await.problem(401, "unauthorized");
        ctx.post("/api/v1/auth/refresh", &json!({"refresh_token": member.refresh})).await.problem(401, "unauthorized");
        ctx.login("member@b.vn", PASSWORD).await.problem(403, "account_disabled");

        // Staff see delivery state of the outbox, without payloads (they hold tokens).
        ctx.get_as("/api/v1/admin/outbox", &member.access).await.problem(401, "unauthorized");
        let outbox = ctx.get_as("/api/v1/admin/outbox?status=pending", &admin.access).await.ok();
        assert_eq!(outbox["total"], 1, "{outbox}");
        let entry = &outbox["items"][0];
        assert_eq!((entry["recipient"].as_str(), entry["template"].as_str()), (Some("member@b.vn"), Some("verify_email")));
        assert_eq!(entry["status"], "pending");
        assert!(entry.get("payload").is_none());
        assert_eq!(ctx.get_as("/api/v1/admin/outbox?status=sent", &admin.access).await.ok()["total"], 0);
        ctx.get_as("/api/v1/admin/outbox?status=lost", &admin.access).await.invalid_field("status");
        let other = ctx.signup("plain@b.vn").await;
        ctx.get_as("/api/v1/admin/outbox", &other.access).await.problem(403, "forbidden");

        let self_uri = format!("/api/v1/admin/users/{}", admin.user_id);
        ctx.authed(Method::PATCH, &self_uri, &admin.access, Some(&json!({"disabled": true}))).await
            .problem(409, "cannot_disable_self");
        let missing = format!("/api/v1/admin/users/{}", uuid::Uuid::now_v7());
        ctx.authed(Method::PATCH, &missing, &admin.access, Some(&json!({"disabled": false}))).await.problem(404, "not_found");
        ctx.authed(Method::PATCH, "/api/v1/admin/users/not-a-uuid", &admin.access, Some(&json!({}))).await
            .invalid_field("id");
    }
}
