//! Reads at the database's ceiling, on both backends: one SQL statement per hot GET,
//! conditional GET (304 without a body, never for a changed resource), and who may cache
//! what (public data public, anything private `private, no-store`). Demands and deals have
//! theirs in tests/api/demands.rs and tests/api/deals.rs.

use crate::common;

use actix_web::http::Method;
use common::*;
use serde_json::json;
use techx::auth::PlatformRole;

const PUBLIC: &str = "public, max-age=60, stale-while-revalidate=300";
const PRIVATE: &str = "private, no-store";

backend_tests! {
    async fn a_listing_is_read_in_one_statement_and_revalidated_without_a_body(backend) {
        let ctx = start(backend).await;
        let owner = ctx.signup("chu@vien.vn").await;
        let org = ctx.create_org(&owner, "Viện Công nghệ Sinh học", "research_institute").await;
        let org_id = org["id"].as_str().unwrap().to_owned();
        let moderator = ctx.staff("kiemduyet@techx.vn", PlatformRole::Moderator).await;
        let listing = ctx.publish_technology(&owner, &moderator, &technology_body(&org_id, "Nhân giống lan")).await;
        let uri = format!("/api/v1/technologies/{}", listing["id"].as_str().unwrap());

        // Anonymous: one statement (listing, owner, research data and contact together).
        let (res, statements) = ctx.counted_get(&uri, None, None).await;
        assert_eq!(res.status, 200, "{}", res.text());
        assert_eq!(statements, 1, "one round trip per anonymous read");
        let body = res.json();
        assert_eq!(body["contact"]["email"], "chu@vien.vn");
        assert_eq!(body["organization"]["name"], "Viện Công nghệ Sinh học");
        let etag = res.header("etag").unwrap().to_owned();
        assert!(etag.starts_with(&format!("\"{}-", body["version"])), "{etag}");
        assert_eq!(res.header("cache-control"), Some(PUBLIC));
        assert!(res.header("vary").unwrap_or_default().starts_with("Authorization"), "{:?}", res.header("vary"));

        // Revalidation: 304, no body, the same headers — from the ETag this process
        // remembers of the public page, without a statement.
        let (res, statements) = ctx.counted_get(&uri, None, Some(&etag)).await;
        res.assert_not_modified(&etag, PUBLIC);
        assert!(res.header("vary").unwrap_or_default().starts_with("Authorization"), "{:?}", res.header("vary"));
        assert_eq!(statements, 0, "an anonymous revalidation of a current page reads nothing");
        // Any of several ETags, a weak form of ours, or `*` match; another one does not.
        ctx.get_if(&uri, None, Some(&format!("\"0\", W/{etag}"))).await.assert_not_modified(&etag, PUBLIC);
        ctx.get_if(&uri, None, Some("*")).await.assert_not_modified(&etag, PUBLIC);
        assert_eq!(ctx.get_if(&uri, None, Some("\"0\"")).await.status, 200);

        // Signed in: the caller's identity is one more statement, and the body is private.
        let (res, statements) = ctx.counted_get(&uri, Some(&owner.access), None).await;
        assert_eq!(res.status, 200);
        assert_eq!(statements, 2, "the caller (one statement) and the listing (one)");
        assert_eq!(res.header("cache-control"), Some(PRIVATE));
        let (res, _) = ctx.counted_get(&uri, Some(&owner.access), Some(&etag)).await;
        res.assert_not_modified(&etag, PRIVATE);

        // The owner's organisation is renamed: the listing's version stays, its page does
        // not — so the old ETag is not current any more.
        let renamed = ctx
            .send(Method::PATCH, &format!("/api/v1/organizations/{org_id}"), Some(&owner.access), Some(&etag_of(&org)),
                  Some(&json!({"name": "Viện Sinh học Nhiệt đới"})))
            .await;
        assert_eq!(renamed.status, 200, "{}", renamed.text());
        let res = ctx.get_if(&uri, None, Some(&etag)).await;
        assert_eq!(res.status, 200, "a changed page is never answered 304");
        assert_eq!(res.json()["organization"]["name"], "Viện Sinh học Nhiệt đới");
        let renamed_etag = res.header("etag").unwrap().to_owned();
        assert_ne!(renamed_etag, etag);

        // So is a change of its contact person's name (the listing's version stays).
        let res = ctx.get_if(&uri, None, Some(&renamed_etag)).await;
        res.assert_not_modified(&renamed_etag, PUBLIC);
        let renamed = ctx
            .send(Method::PATCH, "/api/v1/me", Some(&owner.access), None, Some(&json!({"display_name": "Trần Văn Chủ"})))
            .await;
        assert_eq!(renamed.status, 200, "{}", renamed.text());
        let res = ctx.get_if(&uri, None, Some(&renamed_etag)).await;
        assert_eq!(res.status, 200, "a new contact name is a new page");
        assert_eq!(res.json()["contact"]["name"], "Trần Văn Chủ");
        let renamed_etag = res.header("etag").unwrap().to_owned();

        // The listing itself changes (renewed: a new version): the old ETag gets a 200 too.
        let current = ctx.get(&uri).await.json();
        let renewed = ctx.listing_action(&current, "renew", &owner.access, None).await;
        assert_eq!(renewed.status, 200, "{}", renewed.text());
        let res = ctx.get_if(&uri, None, Some(&renamed_etag)).await;
        assert_eq!(res.status, 200);
        assert_eq!(res.json()["version"], current["version"].as_i64().unwrap() + 1);
        // The write answered with the ETag a read now answers with.
        assert_eq!(renewed.header("etag"), res.header("etag"));
        // And that ETag still guards writes: If-Match reads its version.
        let archived = ctx
            .send(Method::POST, &format!("{uri}/archive"), Some(&owner.access), res.header("etag"), None)
            .await;
        assert_eq!(archived.status, 200, "{}", archived.text());

        // Not public any more: only its organisation sees it, never as public — also not
        // to a caller revalidating the last public ETag.
        assert_eq!(ctx.get(&uri).await.status, 404);
        assert_eq!(ctx.get_if(&uri, None, res.header("etag")).await.status, 404);
        let res = ctx.get_as(&uri, &owner.access).await;
        assert_eq!(res.status, 200);
        assert_eq!(res.header("cache-control"), Some(PRIVATE));
    }

    async fn a_hidden_contact_is_another_representation(backend) {
        let ctx = start(backend).await;
        let owner = ctx.signup("chu@vien.vn").await;
        let org = ctx.create_org(&owner, "Viện Cơ khí", "research_institute").await;
        let moderator = ctx.staff("kiemduyet@techx.vn", PlatformRole::Moderator).await;
        let mut body = technology_body(org["id"].as_str().unwrap(), "Máy sấy nông sản");
        body["contact_visibility"] = json!("members");
        let listing = ctx.publish_technology(&owner, &moderator, &body).await;
        let uri = format!("/api/v1/technologies/{}", listing["id"].as_str().unwrap());

        let member = ctx.get_as(&uri, &owner.access).await;
        assert_eq!(member.json()["contact"]["email"], "chu@vien.vn");
        let anonymous = ctx.get(&uri).await;
        assert!(anonymous.json()["contact"].is_null());
        // Same version, different bodies: different ETags, so neither revalidates the other.
        assert_ne!(member.header("etag"), anonymous.header("etag"));
        let res = ctx.get_if(&uri, None, member.header("etag")).await;
        assert_eq!(res.status, 200);
        assert!(res.json()["contact"].is_null());
    }

    async fn an_organisation_profile_is_public_data_read_in_one_statement(backend) {
        let ctx = start(backend).await;
        let owner = ctx.signup("chu@congty.vn").await;
        let org = ctx.create_org(&owner, "Công ty Cơ điện", "enterprise").await;
        let uri = format!("/api/v1/organizations/{}", org["id"].as_str().unwrap());

        let (res, statements) = ctx.counted_get(&uri, None, None).await;
        assert_eq!(res.status, 200);
        assert_eq!(statements, 1);
        assert_eq!(res.header("etag"), Some("\"1\""));
        assert_eq!(res.header("cache-control"), Some(PUBLIC));
        let (res, statements) = ctx.counted_get(&uri, None, Some("\"1\"")).await;
        res.assert_not_modified("\"1\"", PUBLIC);
        assert_eq!(statements, 1);
        // The profile is the same for everybody: public even when read signed in.
        let res = ctx.get_as(&uri, &owner.access).await;
        assert_eq!(res.header("cache-control"), Some(PUBLIC));

        let updated = ctx
            .send(Method::PATCH, &uri, Some(&owner.access), Some("\"1\""), Some(&json!({"address": "1 Lê Lợi"})))
            .await;
        assert_eq!(updated.status, 200, "{}", updated.text());
        let res = ctx.get_if(&uri, None, Some("\"1\"")).await;
        assert_eq!(res.status, 200);
        assert_eq!(res.json()["address"], "1 Lê Lợi");
        assert_eq!(res.header("etag"), Some("\"2\""));
    }

    async fn lists_taxonomy_and_the_overview_carry_weak_etags(backend) {
        let ctx = start(backend).await;
        let owner = ctx.signup("chu@congty.vn").await;
        ctx.create_org(&owner, "Công ty Một", "enterprise").await;

        // Taxonomy: a day in any cache, per language.
        let uri = "/api/v1/taxonomy/sectors";
        let res = ctx.get(uri).await;
        assert_eq!(res.status, 200);
        assert_eq!(res.header("cache-control"), Some("public, max-age=86400"));
        assert!(res.header("vary").unwrap_or_default().starts_with("Accept-Language"), "{:?}", res.header("vary"));
        let etag = res.header("etag").unwrap().to_owned();
        assert!(etag.starts_with("W/\""), "{etag}");
        let res = ctx.get_if(uri, None, Some(&etag)).await;
        res.assert_not_modified(&etag, "public, max-age=86400");
        assert!(res.header("vary").unwrap_or_default().starts_with("Accept-Language"), "{:?}", res.header("vary"));
        let english = ctx.get_if(&format!("{uri}?lang=en"), None, Some(&etag)).await;
        assert_eq!(english.status, 200, "another language is another representation");

        // A list: its ETag follows what it contains.
        let uri = "/api/v1/organizations";
        let res = ctx.get(uri).await;
        assert_eq!(res.json()["total"], 1);
        assert_eq!(res.header("cache-control"), Some(PUBLIC));
        let etag = res.header("etag").unwrap().to_owned();
        assert!(etag.starts_with("W/\""), "{etag}");
        ctx.get_if(uri, None, Some(&etag)).await.assert_not_modified(&etag, PUBLIC);
        ctx.create_org(&owner, "Công ty Hai", "enterprise").await;
        let res = ctx.get_if(uri, None, Some(&etag)).await;
        assert_eq!(res.status, 200);
        assert_eq!(res.json()["total"], 2);
        assert_ne!(res.header("etag"), Some(etag.as_str()));

        // The statistics overview.
        let uri = "/api/v1/stats/overview";
        let res = ctx.get(uri).await;
        assert_eq!(res.status, 200);
        let etag = res.header("etag").unwrap().to_owned();
        ctx.get_if(uri, None, Some(&etag)).await.assert_not_modified(&etag, "public, max-age=300");

        // Search pages: revalidated (no-cache) for anonymous callers.
        let uri = "/api/v1/technologies";
        let res = ctx.get(uri).await;
        assert_eq!(res.header("cache-control"), Some("no-cache"));
        let etag = res.header("etag").unwrap().to_owned();
        ctx.get_if(uri, None, Some(&etag)).await.assert_not_modified(&etag, "no-cache");
    }

    async fn what_is_read_with_credentials_is_never_marked_public(backend) {
        let ctx = start(backend).await;
        let owner = ctx.signup("chu@congty.vn").await;
        let org = ctx.create_org(&owner, "Công ty Riêng", "enterprise").await;
        let org_id = org["id"].as_str().unwrap();
        let draft = ctx.create_technology(&owner.access, &technology_body(org_id, "Bản nháp")).await;
        for uri in [
            "/api/v1/me".to_owned(),
            format!("/api/v1/technologies/{}", draft["id"].as_str().unwrap()),
            format!("/api/v1/organizations/{org_id}/technologies"),
            format!("/api/v1/organizations/{org_id}/members"),
            "/api/v1/deals".to_owned(),
            "/api/v1/technologies".to_owned(),
        ] {
            let res = ctx.get_as(&uri, &owner.access).await;
            assert_eq!(res.status, 200, "{uri}: {}", res.text());
            assert_eq!(res.header("cache-control"), Some(PRIVATE), "{uri}");
            // Still revalidatable by the client that holds it.
            let etag = res.header("etag").unwrap().to_owned();
            ctx.get_if(&uri, Some(&owner.access), Some(&etag)).await.assert_not_modified(&etag, PRIVATE);
        }
        // Errors are never given an ETag or a cache policy.
        let res = ctx.get_if("/api/v1/technologies/00000000-0000-7000-8000-000000000000", None, Some("*")).await;
        res.problem(404, "not_found");
        assert!(res.header("etag").is_none());
        assert!(res.header("cache-control").is_none());
    }
}
