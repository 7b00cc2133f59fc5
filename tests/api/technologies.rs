//! Technology listings: lifecycle and moderation with mails, validation, visibility,
//! optimistic concurrency, idempotent creation and the expiry job — on both backends.

use crate::common;

use actix_http::Request;
use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::Method;
use actix_web::test::TestRequest;
use chrono::{DateTime, Duration, Utc};
use common::*;
use diesel::prelude::*;
use serde_json::{Value, json};
use techx::auth::PlatformRole;
use techx::db::schema::{research_results, technologies, technology_reviews};
use techx::store::expiry::{self, ExpiryReport};
use techx::store::technologies::Listing;

/// An organisation with an owner and a plain member, another organisation, a moderator.
struct World {
    owner: Session,
    member: Session,
    outsider: Session,
    moderator: Session,
    org: String,
}

async fn world<S, B>(ctx: &Ctx<S>) -> World
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let owner = ctx.signup("lan.nguyen@hdu.edu.vn").await;
    let org = ctx.create_org(&owner, "Trường Đại học Hồng Đức", "university").await;
    let org = org["id"].as_str().unwrap().to_owned();
    let invite = json!({"email": "minh.tran@hdu.edu.vn", "role": "member"});
    let res = ctx
        .post_as(&format!("/api/v1/organizations/{org}/invitations"), &owner.access, &invite)
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    let member = ctx.signup("minh.tran@hdu.edu.vn").await;
    let token = ctx.mailed_token("minh.tran@hdu.edu.vn", "organization_invitation");
    ctx.post_as("/api/v1/invitations/accept", &member.access, &json!({"token": token})).await.ok();
    let outsider = ctx.signup("hoa.le@agrotech.vn").await;
    ctx.create_org(&outsider, "Công ty CP Agrotech", "enterprise").await;
    let moderator = ctx.staff("kiemduyet@sokhcn.thanhhoa.gov.vn", PlatformRole::Moderator).await;
    World { owner, member, outsider, moderator, org }
}

fn uri(listing: &Value) -> String {
    format!("/api/v1/technologies/{}", listing["id"].as_str().unwrap())
}

fn time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("not a time: {v}")))
        .unwrap()
        .with_timezone(&Utc)
}

fn count_listings(db: &TestDb) -> i64 {
    technologies::table.count().get_result(&mut db.connect()).unwrap()
}

fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect()
}

backend_tests! {
    async fn full_lifecycle_with_mails(backend) {
        let ctx = start(backend).await;
        let w = world(&ctx).await;

        let res = ctx.post_as("/api/v1/technologies", &w.member.access, &technology_body(&w.org, "Công nghệ xử lý nước thải chăn nuôi")).await;
        assert_eq!(res.status, 201, "{}", res.text());
        let draft = res.json();
        assert_eq!(res.header("location"), Some(uri(&draft).as_str()));
        assert_eq!(res.header("etag"), Some("\"1\""));
        assert_eq!(draft["status"], "draft");
        assert_eq!(draft["version"], 1);
        assert_eq!(draft["organization"], json!({"id": w.org, "name": "Trường Đại học Hồng Đức", "verified": false}));
        assert_eq!(draft["contact"], json!({"name": "Nguyễn Văn A", "email": "minh.tran@hdu.edu.vn"}));
        assert_eq!(draft["ip_records"][0]["type"], "patent");
        assert_eq!(draft["transfer_forms"][0]["form"], "usage_licence");
        assert_eq!(draft["price"], json!({"min": 500000000, "max": 900000000, "currency": "VND", "basis": "indicative"}));
        assert_eq!(draft["published_at"], Value::Null);
        assert_eq!(draft["research"], Value::Null);

        // Submit; a moderator rejects with a reason the owners are mailed.
        let pending = ctx.listing_action(&draft, "submit", &w.member.access, None).await.ok();
        assert_eq!(pending["status"], "pending_review");
        assert_eq!(pending["version"], 2);
        assert!(pending["submitted_at"].is_string());
        let reject = json!({"decision": "reject", "reason": "Thiếu số văn bằng bảo hộ."});
        let rejected = ctx.listing_action(&pending, "review", &w.moderator.access, Some(&reject)).await.ok();
        assert_eq!(rejected["status"], "rejected");
        assert_eq!(rejected["rejection_reason"], "Thiếu số văn bằng bảo hộ.");
        assert_eq!(ctx.mail_count(&w.owner.email, "listing_rejected"), 1);
        assert_eq!(ctx.mail_count(&w.member.email, "listing_rejected"), 0, "owners are mailed, not every member");
        let mail = ctx.mail_context(&w.owner.email, "listing_rejected");
        assert_eq!(mail["reason"], "Thiếu số văn bằng bảo hộ.");
        assert_eq!(mail["title"], "Công nghệ xử lý nước thải chăn nuôi");
        assert_eq!(mail["technology_id"], draft["id"]);
        assert_eq!(mail["organization_name"], "Trường Đại học Hồng Đức");
        assert_eq!(mail["listing_path"], format!("/technologies/{}", draft["id"].as_str().unwrap()));

        // A rejected listing is not resubmitted as is: editing makes it a draft again.
        ctx.listing_action(&rejected, "submit", &w.member.access, None).await.problem(409, "invalid_transition");
        let res = ctx.send(Method::PATCH, &uri(&rejected), Some(&w.member.access), Some(&etag_of(&rejected)),
            Some(&json!({"ip_records": [{"type": "patent", "number": "1-0023999", "status": "granted", "grant_date": "2022-05-02"}]}))).await;
        let edited = res.ok();
        // The version, then a digest of the owner and contact the page shows.
        assert!(res.header("etag").unwrap().starts_with("\"4-"), "{:?}", res.header("etag"));
        assert_eq!(edited["status"], "draft");
        assert_eq!(edited["ip_records"][0]["number"], "1-0023999");
        assert_eq!(edited["title"], "Công nghệ xử lý nước thải chăn nuôi", "untouched fields stay");

        // Resubmitted and approved: published for the validity period, owners mailed.
        let pending = ctx.listing_action(&edited, "submit", &w.owner.access, None).await.ok();
        assert_eq!(pending["rejection_reason"], Value::Null);
        let published = ctx.listing_action(&pending, "review", &w.moderator.access, Some(&json!({"decision": "approve"}))).await.ok();
        assert_eq!(published["status"], "published");
        let (published_at, expires_at) = (time(&published["published_at"]), time(&published["expires_at"]));
        assert_eq!(expires_at - published_at, Duration::days(365));
        assert!((Utc::now() - published_at).num_seconds().abs() < 60);
        assert_eq!(ctx.mail_count(&w.owner.email, "listing_published"), 1);
        assert_eq!(ctx.mail_total("listing_published"), 1);
        let mail = ctx.mail_context(&w.owner.email, "listing_published");
        assert_eq!(time(&mail["expires_at"]).timestamp(), expires_at.timestamp());
        assert_eq!(time(&mail["published_at"]).timestamp(), published_at.timestamp());

        // Public now: anonymous readers and search see it.
        let public = ctx.get(&uri(&published)).await.ok();
        assert_eq!(public["status"], "published");
        assert_eq!(public["contact"]["email"], "minh.tran@hdu.edu.vn", "contact_visibility public");
        let found = ctx.get("/api/v1/technologies?q=nuoc%20thai").await.ok();
        assert_eq!(found["total"], 1);
        assert_eq!(found["items"][0]["id"], published["id"]);

        // Renewing extends the expiry; archiving takes it off the exchange for good.
        let renewed = ctx.listing_action(&published, "renew", &w.member.access, None).await.ok();
        assert!(time(&renewed["expires_at"]) > expires_at);
        assert_eq!(renewed["published_at"], published["published_at"]);
        let archived = ctx.listing_action(&renewed, "archive", &w.owner.access, None).await.ok();
        assert_eq!(archived["status"], "archived");
        ctx.get(&uri(&archived)).await.problem(404, "not_found");
        assert_eq!(ctx.get_as(&uri(&archived), &w.owner.access).await.ok()["status"], "archived");
        ctx.listing_action(&archived, "renew", &w.owner.access, None).await.problem(409, "invalid_transition");
        assert_eq!(ctx.get("/api/v1/technologies").await.ok()["total"], 0);

        // The moderation history is kept.
        let decisions: Vec<String> = technology_reviews::table
            .order(technology_reviews::created_at.asc())
            .select(technology_reviews::decision)
            .load(&mut ctx.db.connect())
            .unwrap();
        assert_eq!(decisions, ["rejected", "approved"]);
    }

    async fn research_results_carry_their_funding_and_rights(backend) {
        let ctx = start(backend).await;
        let w = world(&ctx).await;
        let mut body = technology_body(&w.org, "Giống lúa chịu mặn HĐ-12");
        body["kind"] = json!("research_result");
        body["research"] = json!({
            "funding_level": "provincial", "programme": "Chương trình KH&CN tỉnh Thanh Hóa",
            "task_code": "ĐTKHCN.12/2022", "host_organization": "Trường Đại học Hồng Đức",
            "managing_agency": "Sở KH&CN Thanh Hóa", "budget_spent": {"amount": 1200000000, "currency": "VND"},
            "completion_year": 2024, "rights_status": "usage_assigned", "assignee": "HTX Nông nghiệp Hoằng Hóa"
        });
        let created = ctx.create_technology(&w.owner.access, &body).await;
        assert_eq!(created["research"], body["research"]);
        let stored: i64 = research_results::table.count().get_result(&mut ctx.db.connect()).unwrap();
        assert_eq!(stored, 1);

        // Switching kind away from research_result requires dropping the research data.
        let res = ctx.send(Method::PATCH, &uri(&created), Some(&w.owner.access), Some(&etag_of(&created)), Some(&json!({"kind": "technology"}))).await;
        assert_eq!(fields(&res.invalid_field("research")), ["research"]);
        let res = ctx.send(Method::PATCH, &uri(&created), Some(&w.owner.access), Some(&etag_of(&created)), Some(&json!({"kind": "technology", "research": null}))).await;
        let plain = res.ok();
        assert_eq!(plain["research"], Value::Null);
        let stored: i64 = research_results::table.count().get_result(&mut ctx.db.connect()).unwrap();
        assert_eq!(stored, 0, "research row removed with the data");
    }

    async fn validation_names_every_field(backend) {
        let ctx = start(backend).await;
        let w = world(&ctx).await;
        let post = |body: Value| {
            let token = w.owner.access.clone();
            let ctx = &ctx;
            async move { ctx.post_as("/api/v1/technologies", &token, &body).await }
        };

        let mut body = technology_body(&w.org, " ");
        body["summary"] = json!("x".repeat(501));
        body["description"] = json!("x".repeat(20_001));
        body["advantages"] = json!("x".repeat(5_001));
        body["sectors"] = json!(["2.7", "9.9"]);
        body["keywords"] = json!(["", "k".repeat(61)]);
        body["trl"] = json!(10);
        body["province"] = json!("sai-gon");
        body["ip_records"] = json!([
            {"type": "patent", "status": "pending", "filing_date": "2099-01-01"},
            {"type": "trademark", "status": "granted", "filing_date": "2022-01-01", "grant_date": "2021-01-01", "number": "n".repeat(61)}
        ]);
        body["transfer_forms"] = json!([
            {"form": "capital_contribution", "exclusive": true, "sublicensing": false, "term_months": 0},
            {"form": "usage_licence", "territory": "t".repeat(201)},
            {"form": "usage_licence"},
            {"form": "gift"}
        ]);
        body["price"] = json!({"min": 900, "max": 500, "currency": "XYZ", "basis": "indicative"});
        body["research"] = json!({"funding_level": "national", "task_code": "KC.01", "host_organization": "A",
                                  "managing_agency": "B", "rights_status": "state_owned"});
        let res = post(body).await;
        let problem = res.problem(400, "validation_failed");
        assert_eq!(fields(&problem), [
            "title", "summary", "description", "advantages", "sectors[1]", "keywords[0]", "keywords[1]",
            "trl", "province",
            "ip_records[0].filing_date",
            "ip_records[1].type", "ip_records[1].number", "ip_records[1].grant_date",
            "transfer_forms[0].exclusive", "transfer_forms[0].sublicensing", "transfer_forms[0].term_months",
            "transfer_forms[1].territory", "transfer_forms[2].form", "transfer_forms[3].form",
            "price.currency", "price.min", "research",
        ]);
        assert_eq!(problem["errors"][0]["message"], "must not be empty");
        assert_eq!(problem["errors"][1]["message"], "must be at most 500 characters");
        assert_eq!(count_listings(&ctx.db), 0, "nothing stored");

        // Counts, empty lists and price rules.
        let mut body = technology_body(&w.org, "Tiêu đề");
        body["sectors"] = json!([]);
        body["transfer_forms"] = json!([]);
        body["keywords"] = json!((0..21).map(|i| format!("k{i}")).collect::<Vec<_>>());
        body["ip_records"] = json!((0..21).map(|i| json!({"type": "patent", "status": "pending", "number": format!("1-{i}")})).collect::<Vec<_>>());
        body["price"] = json!({"min": 5, "max": 6, "currency": "USD", "basis": "firm"});
        let problem = post(body).await.problem(400, "validation_failed");
        assert_eq!(fields(&problem), ["sectors", "keywords", "ip_records", "transfer_forms", "price.max"]);
        let mut body = technology_body(&w.org, "Tiêu đề");
        body["sectors"] = json!(["1", "1.1", "1.2", "1.3", "1.4", "1.5", "1.6", "1.7", "2", "2.1", "2.2"]);
        body["price"] = json!({"max": 6, "currency": "EUR", "basis": "negotiable"});
        assert_eq!(fields(&post(body).await.problem(400, "validation_failed")), ["sectors", "price.min"]);
        let mut body = technology_body(&w.org, "Tiêu đề");
        body["price"] = json!({"min": -1, "currency": "VND", "basis": "floor"});
        assert_eq!(fields(&post(body).await.problem(400, "validation_failed")), ["price.min"]);

        // Research results need their data, checked field by field.
        let mut body = technology_body(&w.org, "Kết quả nghiên cứu");
        body["kind"] = json!("research_result");
        let problem = post(body.clone()).await.problem(400, "validation_failed");
        assert_eq!(problem["errors"], json!([{"field": "research", "code": "required", "message": "is required for research_result listings"}]));
        body["research"] = json!({"funding_level": "national", "task_code": " ", "host_organization": "A",
            "managing_agency": "B", "rights_status": "ownership_assigned", "completion_year": 1900,
            "budget_spent": {"amount": -5, "currency": "vnd"}});
        assert_eq!(fields(&post(body.clone()).await.problem(400, "validation_failed")), [
            "research.task_code", "research.budget_spent.amount", "research.budget_spent.currency",
            "research.completion_year", "research.assignee",
        ]);
        body["research"] = json!({"funding_level": "national", "task_code": "KC", "host_organization": "A",
            "managing_agency": "B", "rights_status": "state_owned", "assignee": "C"});
        assert_eq!(fields(&post(body).await.problem(400, "validation_failed")), ["research.assignee"]);

        // Types and enums are checked by the parser, naming the field; no mass assignment.
        let mut body = technology_body(&w.org, "Tiêu đề");
        body["status"] = json!("published");
        assert_eq!(post(body).await.invalid_field("status")["errors"][0]["message"], "unknown field");
        let mut body = technology_body(&w.org, "Tiêu đề");
        body["version"] = json!(7);
        post(body).await.invalid_field("version");
        let mut body = technology_body(&w.org, "Tiêu đề");
        body["kind"] = json!("car");
        post(body).await.invalid_field("kind");
        let mut body = technology_body(&w.org, "Tiêu đề");
        body["price"]["basis"] = json!("cheap");
        post(body).await.invalid_field("price.basis");
        let mut body = technology_body(&w.org, "Tiêu đề");
        body["ip_records"][0]["status"] = json!("maybe");
        post(body).await.invalid_field("ip_records[0].status");
        let mut body = technology_body(&w.org, "Tiêu đề");
        body["trl"] = json!("high");
        post(body).await.invalid_field("trl");
        let mut body = technology_body(&w.org, "Tiêu đề");
        body.as_object_mut().unwrap().remove("title");
        assert_eq!(post(body).await.invalid_field("title")["errors"][0]["message"], "is required");
        assert_eq!(count_listings(&ctx.db), 0, "nothing stored");

        // Acting for an organisation one does not belong to is refused.
        let body = technology_body(&w.org, "Tiêu đề");
        ctx.post_as("/api/v1/technologies", &w.outsider.access, &body).await.problem(403, "forbidden");
        ctx.post("/api/v1/technologies", &body).await.problem(401, "unauthorized");

        // A PATCH is validated as the merged whole, and changes nothing when refused.
        let created = ctx.create_technology(&w.owner.access, &technology_body(&w.org, "Tiêu đề")).await;
        let res = ctx.send(Method::PATCH, &uri(&created), Some(&w.owner.access), Some(&etag_of(&created)),
            Some(&json!({"price": {"min": 10, "max": 1, "currency": "VND", "basis": "indicative"}, "trl": 0, "owner": "x"}))).await;
        res.invalid_field("owner");
        let res = ctx.send(Method::PATCH, &uri(&created), Some(&w.owner.access), Some(&etag_of(&created)),
            Some(&json!({"price": {"min": 10, "max": 1, "currency": "VND", "basis": "indicative"}, "trl": 0, "title": ""}))).await;
        assert_eq!(fields(&res.problem(400, "validation_failed")), ["title", "trl", "price.min"]);
        let unchanged = ctx.get_as(&uri(&created), &w.owner.access).await.ok();
        assert_eq!(unchanged["version"], 1);
        // `null` clears optional fields.
        let res = ctx.send(Method::PATCH, &uri(&created), Some(&w.owner.access), Some(&etag_of(&created)),
            Some(&json!({"price": null, "trl": null, "advantages": "Ít tốn năng lượng"}))).await;
        let cleared = res.ok();
        assert_eq!(cleared["price"], Value::Null);
        assert_eq!(cleared["trl"], Value::Null);
        assert_eq!(cleared["advantages"], "Ít tốn năng lượng");
    }

    async fn visibility_matrix(backend) {
        let ctx = start(backend).await;
        let w = world(&ctx).await;
        let body = |title: &str| technology_body(&w.org, title);
        let draft = ctx.create_technology(&w.owner.access, &body("Bản nháp")).await;
        let pending = ctx.create_technology(&w.owner.access, &body("Chờ duyệt")).await;
        let pending = ctx.listing_action(&pending, "submit", &w.owner.access, None).await.ok();
        let published = ctx.publish_technology(&w.owner, &w.moderator, &body("Đã công bố")).await;
        let rejected = ctx.create_technology(&w.owner.access, &body("Bị từ chối")).await;
        let rejected = ctx.listing_action(&rejected, "submit", &w.owner.access, None).await.ok();
        let rejected = ctx.listing_action(&rejected, "review", &w.moderator.access, Some(&json!({"decision": "reject", "reason": "Trùng lặp"}))).await.ok();
        let archived = ctx.publish_technology(&w.owner, &w.moderator, &body("Đã lưu trữ")).await;
        let archived = ctx.listing_action(&archived, "archive", &w.moderator.access, None).await.ok();
        let listings = [(&draft, "draft"), (&pending, "pending_review"), (&published, "published"), (&rejected, "rejected"), (&archived, "archived")];

        let viewers: [(&str, Option<&str>); 5] = [
            ("anonymous", None),
            ("other organisation", Some(&w.outsider.access)),
            ("owner", Some(&w.owner.access)),
            ("member", Some(&w.member.access)),
            ("moderator", Some(&w.moderator.access)),
        ];
        for (listing, state) in listings {
            assert_eq!(listing["status"], state);
            for (who, token) in viewers {
                let res = ctx.send(Method::GET, &uri(listing), token, None, None).await;
                let sees = state == "published" || matches!(who, "owner" | "member" | "moderator");
                if sees {
                    assert_eq!(res.ok()["id"], listing["id"], "{who} reads a {state} listing");
                } else {
                    res.problem(404, "not_found");
                }
            }
        }

        // The portfolio shows the same: everything to its organisation and staff.
        let portfolio = format!("/api/v1/organizations/{}/technologies", w.org);
        for (who, token) in viewers {
            let page = ctx.send(Method::GET, &portfolio, token, None, None).await.ok();
            let expected = if matches!(who, "owner" | "member" | "moderator") { 5 } else { 1 };
            assert_eq!(page["total"], expected, "{who}");
            assert_eq!(page["items"].as_array().unwrap().len(), expected, "{who}");
        }
        let drafts = ctx.get_as(&format!("{portfolio}?status=draft"), &w.member.access).await.ok();
        assert_eq!(drafts["total"], 1);
        assert_eq!(drafts["items"][0]["id"], draft["id"]);
        assert_eq!(ctx.get(&format!("{portfolio}?status=draft")).await.ok()["total"], 0);
        ctx.get(&format!("/api/v1/organizations/{}/technologies", uuid::Uuid::now_v7())).await.problem(404, "not_found");

        // Search is over published listings; other states are the moderators' review queue.
        for (who, token) in viewers {
            let page = ctx.send(Method::GET, "/api/v1/technologies", token, None, None).await.ok();
            assert_eq!(page["total"], 1, "{who}");
            assert_eq!(page["items"][0]["id"], published["id"], "{who}");
        }
        let queue = ctx.get_as("/api/v1/technologies?status=pending_review", &w.moderator.access).await.ok();
        assert_eq!(queue["total"], 1);
        assert_eq!(queue["items"][0]["id"], pending["id"]);
        ctx.get_as("/api/v1/technologies?status=draft", &w.owner.access).await.problem(403, "forbidden");
        ctx.get("/api/v1/technologies?status=draft").await.problem(401, "unauthorized");

        // Acting: invisible is 404, visible but not yours 403.
        let patch = json!({"summary": "Sửa"});
        let patch_as = |listing: &Value, token: &str| {
            let (uri, etag, token) = (uri(listing), etag_of(listing), token.to_owned());
            let ctx = &ctx;
            let patch = patch.clone();
            async move { ctx.send(Method::PATCH, &uri, Some(&token), Some(&etag), Some(&patch)).await }
        };
        patch_as(&draft, &w.outsider.access).await.problem(404, "not_found");
        patch_as(&published, &w.outsider.access).await.problem(403, "forbidden");
        patch_as(&published, &w.moderator.access).await.problem(403, "forbidden");
        patch_as(&archived, &w.owner.access).await.problem(409, "invalid_transition");
        ctx.send(Method::PATCH, &uri(&published), None, Some(&etag_of(&published)), Some(&patch)).await.problem(401, "unauthorized");
        ctx.listing_action(&pending, "review", &w.owner.access, Some(&json!({"decision": "approve"}))).await.problem(403, "forbidden");
        ctx.listing_action(&pending, "review", &w.outsider.access, Some(&json!({"decision": "approve"}))).await.problem(404, "not_found");
        ctx.listing_action(&published, "archive", &w.outsider.access, None).await.problem(403, "forbidden");
        ctx.send(Method::DELETE, &uri(&draft), Some(&w.outsider.access), Some(&etag_of(&draft)), None).await.problem(404, "not_found");
        // Nothing changed through all of that.
        assert_eq!(ctx.get_as(&uri(&published), &w.owner.access).await.ok()["version"], published["version"]);
        assert_eq!(ctx.get_as(&uri(&draft), &w.owner.access).await.ok()["version"], 1);
    }

    async fn preconditions_transitions_and_deletion(backend) {
        let ctx = start(backend).await;
        let w = world(&ctx).await;
        let draft = ctx.create_technology(&w.owner.access, &technology_body(&w.org, "Máy sấy nông sản")).await;
        let patch = json!({"summary": "Máy sấy bơm nhiệt"});

        ctx.send(Method::PATCH, &uri(&draft), Some(&w.owner.access), None, Some(&patch)).await.problem(428, "precondition_required");
        ctx.send(Method::PATCH, &uri(&draft), Some(&w.owner.access), Some("\"7\""), Some(&patch)).await.problem(412, "precondition_failed");
        ctx.send(Method::PATCH, &uri(&draft), Some(&w.owner.access), Some("soon"), Some(&patch)).await.invalid_field("If-Match");
        ctx.send(Method::POST, &format!("{}/submit", uri(&draft)), Some(&w.owner.access), None, None).await.problem(428, "precondition_required");
        // Transitions that the state does not allow.
        ctx.listing_action(&draft, "renew", &w.owner.access, None).await.problem(409, "invalid_transition");
        ctx.listing_action(&draft, "review", &w.moderator.access, Some(&json!({"decision": "approve"}))).await.problem(409, "invalid_transition");
        // Review bodies.
        let pending = ctx.listing_action(&draft, "submit", &w.owner.access, None).await.ok();
        ctx.listing_action(&draft, "submit", &w.owner.access, None).await.problem(412, "precondition_failed");
        ctx.listing_action(&pending, "submit", &w.owner.access, None).await.problem(409, "invalid_transition");
        ctx.listing_action(&pending, "review", &w.moderator.access, Some(&json!({"decision": "reject"}))).await.invalid_field("reason");
        ctx.listing_action(&pending, "review", &w.moderator.access, Some(&json!({"decision": "reject", "reason": "  "}))).await.invalid_field("reason");
        ctx.listing_action(&pending, "review", &w.moderator.access, Some(&json!({"decision": "approve", "reason": "ok"}))).await.invalid_field("reason");
        ctx.listing_action(&pending, "review", &w.moderator.access, Some(&json!({"decision": "maybe"}))).await.invalid_field("decision");

        // An edit while under review keeps it there, so the reviewer's ETag goes stale.
        let res = ctx.send(Method::PATCH, &uri(&pending), Some(&w.owner.access), Some(&etag_of(&pending)), Some(&patch)).await;
        let repending = res.ok();
        assert_eq!(repending["status"], "pending_review");
        ctx.listing_action(&pending, "review", &w.moderator.access, Some(&json!({"decision": "approve"}))).await.problem(412, "precondition_failed");
        let published = ctx.listing_action(&repending, "review", &w.moderator.access, Some(&json!({"decision": "approve"}))).await.ok();

        // Editing a published listing sends it back to review (hidden meanwhile); approval
        // keeps its first publication date.
        let res = ctx.send(Method::PATCH, &uri(&published), Some(&w.owner.access), Some(&etag_of(&published)), Some(&json!({"title": "Máy sấy nông sản bơm nhiệt"}))).await;
        let back = res.ok();
        assert_eq!(back["status"], "pending_review");
        ctx.get(&uri(&back)).await.problem(404, "not_found");
        assert_eq!(ctx.get("/api/v1/technologies").await.ok()["total"], 0);
        let again = ctx.listing_action(&back, "review", &w.moderator.access, Some(&json!({"decision": "approve"}))).await.ok();
        assert_eq!(again["published_at"], published["published_at"]);
        assert_eq!(again["title"], "Máy sấy nông sản bơm nhiệt");
        assert_eq!(ctx.mail_count(&w.owner.email, "listing_published"), 2);

        // Only drafts never submitted are erased: a published listing is archived instead.
        let res = ctx.send(Method::DELETE, &uri(&again), Some(&w.owner.access), Some(&etag_of(&again)), None).await;
        assert_eq!(res.status, 204, "{}", res.text());
        assert_eq!(ctx.get_as(&uri(&again), &w.owner.access).await.ok()["status"], "archived");
        let doomed = ctx.create_technology(&w.owner.access, &technology_body(&w.org, "Xoá đi")).await;
        ctx.send(Method::DELETE, &uri(&doomed), Some(&w.owner.access), None, None).await.problem(428, "precondition_required");
        let res = ctx.send(Method::DELETE, &uri(&doomed), Some(&w.member.access), Some(&etag_of(&doomed)), None).await;
        assert_eq!(res.status, 204, "{}", res.text());
        ctx.get_as(&uri(&doomed), &w.owner.access).await.problem(404, "not_found");
        assert_eq!(count_listings(&ctx.db), 1);
    }

    async fn concurrent_patches_with_one_etag_let_exactly_one_win(backend) {
        let ctx = start(backend).await;
        let w = world(&ctx).await;
        let listing = ctx.create_technology(&w.owner.access, &technology_body(&w.org, "Bản gốc")).await;
        let target = uri(&listing);
        let bodies: Vec<Value> = (0..6).map(|i| json!({"title": format!("Phiên bản {i}")})).collect();
        let responses = futures_util::future::join_all(
            bodies.iter().map(|b| ctx.send(Method::PATCH, &target, Some(&w.owner.access), Some("\"1\""), Some(b))),
        )
        .await;
        let winners: Vec<&Resp> = responses.iter().filter(|r| r.status == 200).collect();
        assert_eq!(winners.len(), 1, "{:?}", responses.iter().map(|r| r.status).collect::<Vec<_>>());
        for loser in responses.iter().filter(|r| r.status != 200) {
            loser.problem(412, "precondition_failed");
        }
        let stored = ctx.get_as(&target, &w.owner.access).await.ok();
        assert_eq!(stored["version"], 2);
        assert_eq!(stored["title"], winners[0].json()["title"]);
    }

    async fn a_write_based_on_a_stale_read_is_refused(backend) {
        // What two overlapping transactions do under PostgreSQL's read committed: both read
        // version 1, one commits; the other's guarded update must then change nothing.
        use techx::domain::moderation::Status;
        use techx::store::moderation::{approve, archive, erase, reject, renew, submit};
        use techx::store::technologies as store;
        let ctx = start(backend).await;
        let w = world(&ctx).await;
        let draft = ctx.create_technology(&w.owner.access, &technology_body(&w.org, "Bản gốc")).await;
        let id = techx::db::types::TechnologyId::from(uuid::Uuid::parse_str(draft["id"].as_str().unwrap()).unwrap());
        let (mut a, mut b) = (ctx.db.connect(), ctx.db.connect());
        let stale = store::get(&mut a, id).unwrap();
        let fresh = store::get(&mut b, id).unwrap();
        let mut content = fresh.content.clone();
        content.title = "Bản của B".into();
        store::update_content(&mut b, &fresh, &content, Status::Draft).unwrap();
        let mut mine = stale.content.clone();
        mine.title = "Bản của A".into();
        assert!(matches!(store::update_content(&mut a, &stale, &mine, Status::Draft).unwrap_err(), techx::store::StoreError::Stale));
        assert!(matches!(submit(&mut a, &stale).unwrap_err(), techx::store::StoreError::Stale));
        assert!(matches!(archive(&mut a, &stale).unwrap_err(), techx::store::StoreError::Stale));
        assert!(matches!(erase(&mut a, &stale).unwrap_err(), techx::store::StoreError::Stale));
        let now = store::get(&mut a, id).unwrap();
        assert_eq!((now.version, now.content.title.as_str(), now.status), (2, "Bản của B", Status::Draft));

        // The same for a moderator approving a version that changed under review.
        let pending = submit(&mut b, &now).unwrap();
        let moderator = techx::db::types::UserId::from(uuid::Uuid::parse_str(&w.moderator.user_id).unwrap());
        let edited = store::update_content(&mut b, &pending, &pending.content, Status::PendingReview).unwrap();
        assert!(matches!(approve(&mut a, &pending, moderator, 30).unwrap_err(), techx::store::StoreError::Stale));
        assert!(matches!(reject(&mut a, &pending, moderator, "x").unwrap_err(), techx::store::StoreError::Stale));
        assert_eq!(ctx.mail_total("listing_published") + ctx.mail_total("listing_rejected"), 0);
        let published = approve(&mut a, &edited, moderator, 30).unwrap();
        assert_eq!(published.status, Status::Published);
        assert!(matches!(renew(&mut b, &edited, 30).unwrap_err(), techx::store::StoreError::Stale));
    }

    async fn idempotent_creation(backend) {
        let ctx = start(backend).await;
        let w = world(&ctx).await;
        let create = |key: &str, body: &Value| {
            TestRequest::post()
                .uri("/api/v1/technologies")
                .insert_header(("Authorization", format!("Bearer {}", w.owner.access)))
                .insert_header(("Idempotency-Key", key.to_owned()))
                .set_json(body)
        };
        let body = technology_body(&w.org, "Thiết bị lọc nước");
        let first = ctx.call(create("tech-001", &body)).await;
        assert_eq!(first.status, 201, "{}", first.text());
        assert_eq!(first.header("idempotent-replayed"), None);
        let again = ctx.call(create("tech-001", &body)).await;
        assert_eq!(again.status, 201);
        assert_eq!(again.header("idempotent-replayed"), Some("true"));
        assert_eq!(again.json(), first.json());
        assert_eq!(again.header("location"), first.header("location"));
        assert_eq!(count_listings(&ctx.db), 1);

        let other = technology_body(&w.org, "Thiết bị khác");
        ctx.call(create("tech-001", &other)).await.problem(422, "idempotency_key_reused");
        assert_eq!(count_listings(&ctx.db), 1);
        let second = ctx.call(create("tech-002", &other)).await;
        assert_eq!(second.status, 201);
        assert_ne!(second.json()["id"], first.json()["id"]);
        assert_eq!(count_listings(&ctx.db), 2);
    }

    async fn expiry_job_warns_once_archives_and_is_safe_in_parallel(backend) {
        let ctx = start_with(backend, |c| c.listing_validity_days = 30).await;
        let w = world(&ctx).await;
        let first = ctx.publish_technology(&w.owner, &w.moderator, &technology_body(&w.org, "Hết hạn")).await;
        let second = ctx.publish_technology(&w.owner, &w.moderator, &technology_body(&w.org, "Gia hạn")).await;
        assert_eq!(time(&first["expires_at"]) - time(&first["published_at"]), Duration::days(30));
        let base = techx::db::types::now();
        let run = |days: i64| expiry::run::<Listing>(&mut ctx.db.connect(), base + Duration::days(days), 30).unwrap();

        assert_eq!(run(10), ExpiryReport { warned: 0, archived: 0 }, "more than 14 days left");
        assert_eq!(run(20), ExpiryReport { warned: 2, archived: 0 });
        assert_eq!(ctx.mail_count(&w.owner.email, "listing_expiring"), 2);
        let mail = ctx.mail_context(&w.owner.email, "listing_expiring");
        assert_eq!(mail["days_left"], 10);
        assert_eq!(mail["renewal_days"], 30);
        assert!(mail["expires_at"].is_string() && mail["listing_path"].is_string());
        assert_eq!(run(20), ExpiryReport { warned: 0, archived: 0 }, "warned once");
        assert_eq!(ctx.mail_count(&w.owner.email, "listing_expiring"), 2);

        // Renewing re-arms the warning for the new period.
        let renewed = ctx.listing_action(&second, "renew", &w.owner.access, None).await.ok();
        assert!(time(&renewed["expires_at"]) > time(&second["expires_at"]));
        assert_eq!(run(20), ExpiryReport { warned: 1, archived: 0 });
        assert_eq!(ctx.mail_count(&w.owner.email, "listing_expiring"), 3);

        // Past the end: archived, owners mailed, gone from the public.
        assert_eq!(run(40), ExpiryReport { warned: 0, archived: 2 });
        assert_eq!(ctx.mail_count(&w.owner.email, "listing_expired"), 2);
        assert!(ctx.mail_context(&w.owner.email, "listing_expired")["expired_at"].is_string());
        let gone = ctx.get_as(&uri(&first), &w.owner.access).await.ok();
        assert_eq!(gone["status"], "archived");
        assert_eq!(gone["version"], first["version"].as_i64().unwrap() + 1);
        ctx.get(&uri(&first)).await.problem(404, "not_found");
        assert_eq!(run(40), ExpiryReport::default());

        // Two processes running the job at once act on each listing once.
        for title in ["Một", "Hai", "Ba"] {
            ctx.publish_technology(&w.owner, &w.moderator, &technology_body(&w.org, title)).await;
        }
        let db = &ctx.db;
        let reports: Vec<ExpiryReport> = std::thread::scope(|s| {
            let jobs: Vec<_> = (0..2)
                .map(|_| s.spawn(move || expiry::run::<Listing>(&mut db.connect(), base + Duration::days(40), 30).unwrap()))
                .collect();
            jobs.into_iter().map(|j| j.join().unwrap()).collect()
        });
        assert_eq!(reports.iter().map(|r| r.archived).sum::<usize>(), 3, "{reports:?}");
        assert_eq!(ctx.mail_count(&w.owner.email, "listing_expired"), 5);
        let archived: i64 = technologies::table.filter(technologies::status.eq("archived")).count().get_result(&mut ctx.db.connect()).unwrap();
        assert_eq!(archived, 5);
    }
}
