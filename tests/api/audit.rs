//! The audit log: every write with a session or a key is recorded in the transaction of
//! the change, reads are not, a failed write leaves one `failed` entry and no change, and
//! owners and staff read it (filters, paging, CSV); retention prunes old entries.

use crate::common;

use std::sync::Arc;

use actix_web::http::Method;
use common::*;
use diesel::prelude::*;
use serde_json::{Value, json};
use techx::audit::{AuditActor, Recorder, RequestInfo};
use techx::db::WriteHook;
use techx::db::schema::{audit_events, users};
use techx::db::types::{AuditEventId, OrganizationId, UserId};
use techx::error::ApiError;
use techx::store::audit::Entry;

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

fn entries(db: &TestDb) -> Vec<Entry> {
    audit_events::table.order(audit_events::occurred_at.asc()).load(&mut db.connect()).unwrap()
}

fn succeeded(db: &TestDb, operation: &str) -> Vec<Entry> {
    entries(db)
        .into_iter()
        .filter(|e| e.operation_id == operation && e.outcome == "succeeded")
        .collect()
}

backend_tests! {
    async fn every_write_is_recorded_once_and_reads_never(backend) {
        let ctx = start(backend).await;
        let owner = ctx.signup("owner@a.vn").await;
        let org = id_of(&ctx.create_org(&owner, "Viện A", "research_institute").await);
        let moderator = ctx.staff("mod@techx.vn", techx::auth::PlatformRole::Moderator).await;
        let mut writes = 1; // the organisation

        // A person's writes.
        let draft = ctx.create_technology(&owner.access, &technology_body(&org, "Công nghệ A")).await;
        let t = format!("/api/v1/technologies/{}", id_of(&draft));
        let edited = ctx.send(Method::PATCH, &t, Some(&owner.access), Some(&etag_of(&draft)), Some(&json!({"title": "Công nghệ A1"}))).await.ok();
        let pending = ctx.listing_action(&edited, "submit", &owner.access, None).await.ok();
        ctx.listing_action(&pending, "review", &moderator.access, Some(&json!({"decision": "approve"}))).await.ok();
        writes += 4;
        let key = ctx.post_as(&format!("/api/v1/organizations/{org}/api-keys"), &owner.access,
            &json!({"name": "CRM", "role": "owner", "scopes": ["listings:read", "listings:write", "demands:write", "webhooks:manage"]})).await.ok();
        writes += 1;
        let secret = key["secret"].as_str().unwrap().to_owned();

        // A key's writes.
        let by_key = ctx.create_technology(&secret, &technology_body(&org, "Công nghệ qua API")).await;
        let demand = ctx.post_as("/api/v1/demands", &secret, &json!({
            "organization_id": org, "title": "Nhu cầu", "problem": "Vấn đề cần giải quyết.",
            "sectors": ["2.7"], "province": "thanh-hoa"})).await.ok();
        ctx.post_as(&format!("/api/v1/organizations/{org}/webhooks"), &secret,
            &json!({"url": "http://127.0.0.1:9/hook", "event_types": ["listing.published"]})).await.ok();
        writes += 3;

        // Reads, by both, leave nothing.
        let before = entries(&ctx.db).len();
        for token in [&owner.access, &secret] {
            ctx.get_as(&t, token).await.ok();
            ctx.get_as("/api/v1/technologies", token).await.ok();
            ctx.get_as(&format!("/api/v1/organizations/{org}/webhooks"), token).await.ok();
        }
        ctx.get_as(&format!("/api/v1/organizations/{org}/api-keys"), &owner.access).await.ok();
        ctx.post_as("/api/v1/valuations/estimate", &owner.access, &json!({})).await;
        assert_eq!(entries(&ctx.db).len(), before, "reads are not recorded");

        let revoke = format!("/api/v1/organizations/{org}/api-keys/{}", id_of(&key));
        assert_eq!(ctx.send(Method::DELETE, &revoke, Some(&owner.access), None, None).await.status, 204);
        writes += 1;

        let all = entries(&ctx.db);
        assert_eq!(all.len(), writes, "one entry per write: {all:#?}");
        assert!(all.iter().all(|e| e.outcome == "succeeded" && e.organization_id == Some(OrganizationId::from(uuid::Uuid::parse_str(&org).unwrap()))), "{all:#?}");
        assert!(all.iter().all(|e| e.request_id.is_some() && e.status.is_none()));
        for (operation, resource) in [
            ("create_organization", org.clone()),
            ("create_technology", id_of(&draft)),
            ("update_technology", id_of(&draft)),
            ("submit_technology", id_of(&draft)),
            ("review_technology", id_of(&draft)),
            ("create_api_key", id_of(&key)),
            ("create_demand", id_of(&demand)),
            ("revoke_api_key", id_of(&key)),
        ] {
            let found = succeeded(&ctx.db, operation);
            assert!(found.iter().any(|e| e.resource_id.as_deref() == Some(resource.as_str())), "{operation}: {found:#?}");
        }
        let review = &succeeded(&ctx.db, "review_technology")[0];
        assert_eq!(review.user_id.map(|u| u.to_string()), Some(moderator.user_id.clone()), "the moderator did it");
        let key_entries: Vec<&Entry> = all.iter().filter(|e| e.actor_type == "api_key").collect();
        assert_eq!(key_entries.len(), 3);
        assert!(key_entries.iter().all(|e| e.api_key_id.map(|k| k.to_string()) == Some(id_of(&key))));
        assert!(key_entries.iter().any(|e| e.operation_id == "create_technology" && e.resource_id.as_deref() == Some(id_of(&by_key).as_str())));
        assert!(key_entries.iter().any(|e| e.operation_id == "create_webhook" && e.resource_type == "webhook"));
    }

    async fn a_failed_write_leaves_one_failed_entry_and_no_change(backend) {
        let ctx = start(backend).await;
        let owner = ctx.signup("owner@a.vn").await;
        let org = id_of(&ctx.create_org(&owner, "Viện A", "research_institute").await);
        let draft = ctx.create_technology(&owner.access, &technology_body(&org, "Công nghệ A")).await;
        let t = format!("/api/v1/technologies/{}", id_of(&draft));
        // A stale version: 412, nothing changed, one failed entry.
        let res = ctx.send(Method::PATCH, &t, Some(&owner.access), Some("\"7\""), Some(&json!({"title": "Khác"}))).await;
        res.problem(412, "precondition_failed");
        assert_eq!(ctx.get_as(&t, &owner.access).await.ok()["title"], draft["title"]);
        let failed: Vec<Entry> = entries(&ctx.db).into_iter().filter(|e| e.operation_id == "update_technology").collect();
        assert_eq!(failed.len(), 1, "{failed:#?}");
        assert_eq!((failed[0].outcome.as_str(), failed[0].status), ("failed", Some(412)));
        assert_eq!(failed[0].resource_id.as_deref(), Some(id_of(&draft).as_str()));
        // A key refused for its scope: recorded as failed too, naming the key.
        let key = ctx.post_as(&format!("/api/v1/organizations/{org}/api-keys"), &owner.access,
            &json!({"name": "Đọc", "scopes": ["listings:read"]})).await.ok();
        let res = ctx.send(Method::DELETE, &t, Some(key["secret"].as_str().unwrap()), Some(&etag_of(&draft)), None).await;
        res.problem(403, "insufficient_scope");
        let refused: Vec<Entry> = entries(&ctx.db).into_iter().filter(|e| e.operation_id == "delete_technology").collect();
        assert_eq!(refused.len(), 1);
        assert_eq!((refused[0].outcome.as_str(), refused[0].status, refused[0].actor_type.as_str()), ("failed", Some(403), "api_key"));
        // Anonymous or unauthenticated writes name no one: nothing recorded.
        let before = entries(&ctx.db).len();
        assert_eq!(ctx.send(Method::PATCH, &t, None, Some("\"1\""), Some(&json!({}))).await.status, 401);
        assert_eq!(entries(&ctx.db).len(), before);
    }

    async fn the_entry_commits_or_rolls_back_with_the_change(backend) {
        let ctx = start(backend).await;
        let owner = ctx.signup("owner@a.vn").await;
        let user: UserId = uuid::Uuid::parse_str(&owner.user_id).unwrap().into();
        let recorder = || {
            let operation = techx::domain::scopes::find("PATCH", "/api/v1/me").unwrap();
            let r = Arc::new(Recorder::new(RequestInfo {
                operation,
                method: "PATCH".into(),
                path: "/api/v1/me".into(),
                resource_id: None,
                path_organization: None,
                address: None,
                request_id: Some("test".into()),
            }));
            r.set_actor(AuditActor { user_id: user, api_key: None, organizations: Vec::new() });
            r
        };
        let rename = |name: &'static str, fail: bool| move |conn: &mut techx::db::DbConn| {
            diesel::update(users::table.find(user)).set(users::display_name.eq(name)).execute(conn)?;
            if fail { Err(ApiError::conflict("boom", "failed after writing")) } else { Ok(()) }
        };
        let name = || -> String { users::table.find(user).select(users::display_name).first(&mut ctx.db.connect()).unwrap() };

        // The change rolls back after writing: no entry either, and a failed one is due.
        let failing = recorder();
        let hook: Arc<dyn WriteHook> = failing.clone();
        let result = techx::db::WRITE_HOOK.scope(hook, ctx.state.db.run(rename("Ma", true))).await;
        assert!(result.is_err());
        assert_ne!(name(), "Ma");
        assert!(entries(&ctx.db).is_empty(), "no ghost entry for a rolled-back write");
        assert!(failing.failure_due(409));

        // A read-only call appends nothing; the write commits with exactly one entry.
        let ok = recorder();
        let hook: Arc<dyn WriteHook> = ok.clone();
        techx::db::WRITE_HOOK
            .scope(hook, async {
                ctx.state.db.run(move |conn| -> Result<_, ApiError> { Ok(users::table.count().get_result::<i64>(conn)?) }).await.unwrap();
                assert!(entries(&ctx.db).is_empty());
                ctx.state.db.run(rename("Tên mới", false)).await.unwrap();
                ctx.state.db.run(rename("Tên mới nữa", false)).await.unwrap();
            })
            .await;
        assert_eq!(name(), "Tên mới nữa");
        let all = entries(&ctx.db);
        assert_eq!(all.len(), 1, "one entry per request");
        assert_eq!((all[0].operation_id.as_str(), all[0].outcome.as_str()), ("update_me", "succeeded"));
        assert!(!ok.failure_due(500), "a committed write needs no failed entry");
    }

    async fn owners_read_their_log_and_staff_read_all(backend) {
        let ctx = start(backend).await;
        let owner = ctx.signup("owner@a.vn").await;
        let org = id_of(&ctx.create_org(&owner, "Viện A", "research_institute").await);
        let other = ctx.signup("owner@b.vn").await;
        let org_b = id_of(&ctx.create_org(&other, "Viện B", "university").await);
        let key = ctx.post_as(&format!("/api/v1/organizations/{org}/api-keys"), &owner.access,
            &json!({"name": "CRM", "role": "owner", "scopes": ["listings:write", "reports:read"]})).await.ok();
        let secret = key["secret"].as_str().unwrap().to_owned();
        let listing = ctx.create_technology(&secret, &technology_body(&org, "Qua API")).await;
        ctx.create_technology(&owner.access, &technology_body(&org, "Bằng tay")).await;

        let log = format!("/api/v1/organizations/{org}/audit-events");
        let page = ctx.get_as(&log, &owner.access).await.ok();
        assert_eq!(page["total"], 4, "{page}"); // organisation, key, two listings
        assert_eq!(page["items"][0]["operation_id"], "create_technology", "newest first");
        let by_key = ctx.get_as(&format!("{log}?api_key_id={}", id_of(&key)), &owner.access).await.ok();
        assert_eq!(by_key["total"], 1);
        assert_eq!(by_key["items"][0]["resource_id"], listing["id"]);
        let by_resource = ctx.get_as(&format!("{log}?resource_type=technology&resource_id={}", id_of(&listing)), &owner.access).await.ok();
        assert_eq!(by_resource["total"], 1);
        let by_user = ctx.get_as(&format!("{log}?user_id={}&per_page=1&page=2", owner.user_id), &owner.access).await.ok();
        assert_eq!((by_user["total"].as_i64(), by_user["items"].as_array().unwrap().len()), (Some(4), 1));
        let future = ctx.get_as(&format!("{log}?from=2999-01-01T00:00:00Z"), &owner.access).await.ok();
        assert_eq!(future["total"], 0);
        // An owner-role key with reports:read reads it too (a system exporting its trail).
        assert_eq!(ctx.get_as(&log, &secret).await.ok()["total"], 4);

        let csv = ctx.call(actix_web::test::TestRequest::get().uri(&format!("{log}?format=csv"))
            .insert_header(("Authorization", format!("Bearer {}", owner.access)))).await;
        assert_eq!(csv.status, 200);
        assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
        let text = csv.text();
        assert!(text.starts_with("\u{feff}id,occurred_at,organization_id,actor_type"), "{text}");
        assert_eq!(text.lines().count(), 5);

        ctx.get_as(&log, &other.access).await.problem(403, "forbidden");
        assert_eq!(ctx.get_as(&format!("/api/v1/organizations/{org_b}/audit-events"), &other.access).await.ok()["total"], 1);
        ctx.get_as("/api/v1/audit-events", &owner.access).await.problem(403, "forbidden");
        let staff = ctx.staff("admin@techx.vn", techx::auth::PlatformRole::Admin).await;
        assert_eq!(ctx.get_as("/api/v1/audit-events", &staff.access).await.ok()["total"], 5);
        assert_eq!(ctx.get_as(&format!("/api/v1/audit-events?organization_id={org_b}"), &staff.access).await.ok()["total"], 1);
        // The API never changes an entry.
        for method in [Method::DELETE, Method::PATCH, Method::PUT] {
            assert_eq!(ctx.send(method, &log, Some(&owner.access), None, None).await.status, 405);
        }
        // A member-role key does not: the log is for owners.
        let member = ctx.post_as(&format!("/api/v1/organizations/{org}/api-keys"), &owner.access,
            &json!({"name": "Thành viên", "scopes": ["reports:read"]})).await.ok();
        ctx.get_as(&log, member["secret"].as_str().unwrap()).await.problem(403, "forbidden");
    }

    async fn retention_prunes_old_entries_only(backend) {
        let ctx = start(backend).await;
        let owner = ctx.signup("owner@a.vn").await;
        ctx.create_org(&owner, "Viện A", "research_institute").await;
        let mut conn = ctx.db.connect();
        let mut old = entries(&ctx.db)[0].clone();
        old.id = AuditEventId::new();
        old.occurred_at = techx::db::types::now() - chrono::Duration::days(31);
        techx::store::audit::append(&mut conn, &old).unwrap();
        assert_eq!(techx::store::audit::prune(&mut conn, 30).unwrap(), 1);
        assert_eq!(entries(&ctx.db).len(), 1, "the recent entry stays");
    }
}
