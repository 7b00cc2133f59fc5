//! Valuation requests (lifecycle, mails, webhook events, permissions, immutability) and the
//! indicative calculator, on both backends.

use crate::common;

use actix_web::http::Method;
use common::*;
use diesel::prelude::*;
use serde_json::{Value, json};
use techx::auth::PlatformRole;
use techx::db::schema::{deals, outbox, valuation_request_events, valuation_requests};
use techx::db::types::EntityId;

const TEMPLATE: &str = "valuation_status_changed";

fn db_id(text: &str) -> EntityId {
    uuid::Uuid::parse_str(text).expect("a uuid").into()
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_owned()
}

fn request_body(org: &Value, technology: &Value) -> Value {
    json!({
        "organization_id": id_of(org),
        "technology_id": id_of(technology),
        "purpose": "capital_contribution",
        "rights": {"kind": "usage", "exclusive": true, "territory": "Việt Nam", "term_months": 60},
        "valuation_date": "2026-12-31",
        "preferred_method": "mixed",
        "inputs": {
            "currency": "VND",
            "rd_costs": [{"year": 2023, "amount": 800000000}, {"year": 2024, "amount": 400000000}],
            "revenue_forecasts": [2000000000i64, 2500000000i64],
            "comparables_known": [{"description": "Chuyển giao tương tự năm 2024", "price": 900000000}]
        },
        "deadline": "2027-03-01"
    })
}

fn uri(v: &Value, action: &str) -> String {
    format!("/api/v1/valuation-requests/{}/{action}", id_of(v))
}

/// Everything a refused call must leave alone: every request's status and version, the
/// history, and the outbox.
fn snapshot(db: &TestDb) -> (Vec<(String, i32)>, i64, i64) {
    let mut conn = db.connect();
    let mut rows: Vec<(String, i32)> = valuation_requests::table
        .select((valuation_requests::status, valuation_requests::version))
        .load(&mut conn)
        .unwrap();
    rows.sort();
    let events = valuation_request_events::table.count().get_result(&mut conn).unwrap();
    let queued = outbox::table.count().get_result(&mut conn).unwrap();
    (rows, events, queued)
}

fn webhook_rows(db: &TestDb) -> i64 {
    outbox::table
        .filter(outbox::channel.eq("webhook"))
        .count()
        .get_result(&mut db.connect())
        .unwrap()
}

/// Everybody a valuation involves: a moderator, the listing owner (a research institute
/// with a published listing), two appraisers and an unrelated enterprise.
struct World {
    moderator: Session,
    owner: Session,
    owner_org: Value,
    listing: Value,
    appraiser: Session,
    appraiser_org: Value,
    rival: Session,
    rival_org: Value,
    stranger: Session,
    stranger_org: Value,
}

macro_rules! world {
    ($ctx:expr) => {{
        let ctx = &$ctx;
        let moderator = ctx.staff("mod@techx.vn", PlatformRole::Moderator).await;
        let owner = ctx.signup("owner@vien.vn").await;
        let owner_org = ctx.create_org(&owner, "Viện Môi trường", "research_institute").await;
        let listing = ctx
            .publish_technology(
                &owner,
                &moderator,
                &technology_body(&id_of(&owner_org), "Xử lý nước thải"),
            )
            .await;
        let appraiser = ctx.signup("tham.dinh@thamdinh.vn").await;
        let appraiser_org = new_appraiser(ctx, &appraiser, "Công ty Thẩm định giá A").await;
        let rival = ctx.signup("rival@thamdinh-b.vn").await;
        let rival_org = new_appraiser(ctx, &rival, "Công ty Thẩm định giá B").await;
        let stranger = ctx.signup("stranger@dn.vn").await;
        let stranger_org = ctx.create_org(&stranger, "Doanh nghiệp C", "enterprise").await;
        World {
            moderator,
            owner,
            owner_org,
            listing,
            appraiser,
            appraiser_org,
            rival,
            rival_org,
            stranger,
            stranger_org,
        }
    }};
}

async fn new_appraiser<S, B>(ctx: &Ctx<S>, owner: &Session, name: &str) -> Value
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: actix_web::body::MessageBody,
{
    let body = json!({"name": name, "kind": "intermediary", "province": "ha-noi",
                      "sectors": ["2.7"], "services": ["valuation", "brokering"]});
    let res = ctx.post_as("/api/v1/organizations", &owner.access, &body).await;
    assert_eq!(res.status, 201, "{}", res.text());
    res.json()
}

backend_tests! {
    async fn whole_lifecycle_mails_the_requester_and_emits_events(backend) {
        let ctx = start(backend).await;
        let w = world!(ctx);
        let hooks = format!("/api/v1/organizations/{}/webhooks", id_of(&w.owner_org));
        let hook = ctx
            .post_as(&hooks, &w.owner.access, &json!({"url": "http://127.0.0.1:9/hook", "event_types": ["valuation.status_changed"]}))
            .await;
        assert_eq!(hook.status, 201, "{}", hook.text());

        let res = ctx.post_as("/api/v1/valuation-requests", &w.owner.access, &request_body(&w.owner_org, &w.listing)).await;
        assert_eq!(res.status, 201, "{}", res.text());
        let created = res.json();
        assert_eq!(res.header("etag"), Some("\"1\""));
        assert_eq!(res.header("location").unwrap(), format!("/api/v1/valuation-requests/{}", id_of(&created)));
        assert_eq!(created["status"], "submitted");
        assert_eq!(created["technology"]["title"], "Xử lý nước thải");
        assert_eq!(created["rights"]["term_months"], 60);
        assert_eq!(created["inputs"]["rd_costs"][1]["amount"], 400000000);
        assert_eq!(created["valuation_date"], "2026-12-31");
        assert!(created["result"].is_null());
        assert_eq!(ctx.mail_count(&w.owner.email, TEMPLATE), 1);
        assert_eq!(webhook_rows(&ctx.db), 1);

        // A moderator names the appraiser.
        let res = ctx.send(Method::POST, &uri(&created, "assign"), Some(&w.moderator.access), Some(&etag_of(&created)),
            Some(&json!({"appraiser_organization_id": id_of(&w.appraiser_org)}))).await;
        let assigned = res.ok();
        assert_eq!(assigned["status"], "assigned");
        assert_eq!(assigned["appraiser_organization_id"], w.appraiser_org["id"]);
        assert_eq!(assigned["version"], 2);

        let started = ctx.send(Method::POST, &uri(&assigned, "start"), Some(&w.appraiser.access), Some(&etag_of(&assigned)), None).await.ok();
        assert_eq!(started["status"], "in_progress");

        let result = json!({
            "value_point": 1500000000, "value_low": 1200000000, "value_high": 1800000000,
            "currency": "VND", "methods": ["cost", "income"],
            "assumptions": "Lạm phát 4%/năm; tỷ lệ bản quyền 5%.",
            "report_summary": "Giá trị quyền sử dụng độc quyền 5 năm.",
            "report_url": "https://thamdinh.vn/bao-cao/123"
        });
        let res = ctx.send(Method::POST, &uri(&started, "complete"), Some(&w.appraiser.access), Some(&etag_of(&started)), Some(&result)).await;
        let completed = res.ok();
        assert_eq!(completed["status"], "completed");
        assert_eq!(completed["result"]["value_point"], 1500000000i64);
        assert_eq!(completed["result"]["methods"], json!(["cost", "income"]));
        assert_eq!(completed["result"]["report_url"], "https://thamdinh.vn/bao-cao/123");
        assert!(completed["result"]["completed_at"].is_string());
        let history: Vec<&str> = completed["history"].as_array().unwrap().iter().map(|e| e["to_status"].as_str().unwrap()).collect();
        assert_eq!(history, ["submitted", "assigned", "in_progress", "completed"]);

        // Every status change mailed the requester's owner (in Vietnamese, their language)
        // and queued one webhook event.
        assert_eq!(ctx.mail_count(&w.owner.email, TEMPLATE), 4);
        let mail = ctx.mail_context(&w.owner.email, TEMPLATE);
        assert_eq!(mail["status"], "đã hoàn thành");
        assert_eq!(mail["valuation_path"], format!("/valuation-requests/{}", id_of(&created)));
        assert_eq!(mail["organization_name"], "Viện Môi trường");
        assert_eq!(webhook_rows(&ctx.db), 4);
        let payload: String = outbox::table.filter(outbox::channel.eq("webhook"))
            .order(outbox::created_at.desc()).select(outbox::payload).first(&mut ctx.db.connect()).unwrap();
        let event: Value = serde_json::from_str(&payload).unwrap();
        assert_eq!(event["type"], "valuation.status_changed");
        assert_eq!(event["data"]["status"], "completed");
        assert_eq!(event["data"]["valuation_request_id"], created["id"]);

        // The parties read it and the technology's history; lists filter by status.
        for who in [&w.owner, &w.appraiser, &w.moderator] {
            let got = ctx.get_as(&format!("/api/v1/valuation-requests/{}", id_of(&created)), &who.access).await;
            assert_eq!(got.ok()["status"], "completed");
        }
        let history = ctx.get_as(&format!("/api/v1/technologies/{}/valuations", id_of(&w.listing)), &w.appraiser.access).await.ok();
        assert_eq!(history["total"], 1);
        assert_eq!(history["items"][0]["id"], created["id"]);
        let done = ctx.get_as("/api/v1/valuation-requests?status=completed", &w.owner.access).await.ok();
        assert_eq!(done["total"], 1);
        let open = ctx.get_as("/api/v1/valuation-requests?status=submitted", &w.owner.access).await.ok();
        assert_eq!(open["total"], 0);

        // Second request: claimed by an appraiser, then declined with a reason.
        let second = ctx.post_as("/api/v1/valuation-requests", &w.owner.access, &request_body(&w.owner_org, &w.listing)).await.ok();
        let listed = ctx.get_as("/api/v1/valuation-requests?status=submitted", &w.rival.access).await.ok();
        assert_eq!(listed["total"], 1, "open requests are offered to appraisers");
        let claimed = ctx.send(Method::POST, &uri(&second, "claim"), Some(&w.rival.access), Some(&etag_of(&second)),
            Some(&json!({"organization_id": id_of(&w.rival_org)}))).await.ok();
        assert_eq!(claimed["status"], "assigned");
        assert_eq!(claimed["appraiser_organization_id"], w.rival_org["id"]);
        let no_reason = ctx.send(Method::POST, &uri(&claimed, "decline"), Some(&w.rival.access), Some(&etag_of(&claimed)), Some(&json!({}))).await;
        no_reason.invalid_field("reason");
        let declined = ctx.send(Method::POST, &uri(&claimed, "decline"), Some(&w.rival.access), Some(&etag_of(&claimed)),
            Some(&json!({"reason": "Không đủ dữ liệu doanh thu."}))).await.ok();
        assert_eq!(declined["status"], "declined");
        assert_eq!(ctx.mail_context(&w.owner.email, TEMPLATE)["note"], "Không đủ dữ liệu doanh thu.");

        // Third: withdrawn by the requester.
        let third = ctx.post_as("/api/v1/valuation-requests", &w.owner.access, &request_body(&w.owner_org, &w.listing)).await.ok();
        let cancelled = ctx.send(Method::POST, &uri(&third, "cancel"), Some(&w.owner.access), Some(&etag_of(&third)), Some(&json!({}))).await.ok();
        assert_eq!(cancelled["status"], "cancelled");
        assert_eq!(ctx.mail_count(&w.owner.email, TEMPLATE), 4 + 3 + 2);
        let all = ctx.get_as(&format!("/api/v1/technologies/{}/valuations", id_of(&w.listing)), &w.owner.access).await.ok();
        assert_eq!(all["total"], 3);
    }

    async fn a_deal_party_may_request_through_the_deal(backend) {
        let ctx = start(backend).await;
        let w = world!(ctx);
        // Not the owner and no deal: refused, nothing stored.
        let before = snapshot(&ctx.db);
        let res = ctx.post_as("/api/v1/valuation-requests", &w.stranger.access, &request_body(&w.stranger_org, &w.listing)).await;
        res.problem(403, "forbidden");
        let deal = insert_deal(&ctx.db, &w.listing, &w.stranger_org, &w.owner_org, &w.stranger.user_id, "negotiating", None);
        let mut body = request_body(&w.stranger_org, &w.listing);
        body["deal_id"] = json!(deal);
        // A party of the deal, acting for another organisation: the deal is not theirs.
        let mut wrong = body.clone();
        wrong["organization_id"] = w.rival_org["id"].clone();
        ctx.post_as("/api/v1/valuation-requests", &w.rival.access, &wrong).await.problem(404, "not_found");
        assert_eq!(snapshot(&ctx.db), before);
        let created = ctx.post_as("/api/v1/valuation-requests", &w.stranger.access, &body).await;
        assert_eq!(created.status, 201, "{}", created.text());
        assert_eq!(created.json()["deal_id"], json!(deal));
        // The buyer now sees it; so does the listing owner.
        let id = id_of(&created.json());
        ctx.get_as(&format!("/api/v1/valuation-requests/{id}"), &w.owner.access).await.ok();
        ctx.get_as(&format!("/api/v1/valuation-requests/{id}"), &w.stranger.access).await.ok();

        // The deal's broker may ask too, but, being an appraiser, may not value its own
        // request: neither by claiming it nor by a moderator's assignment.
        diesel::update(deals::table.find(db_id(&deal)))
            .set(deals::broker_organization_id.eq(Some(db_id(&id_of(&w.appraiser_org)))))
            .execute(&mut ctx.db.connect())
            .unwrap();
        let mut brokered = request_body(&w.appraiser_org, &w.listing);
        brokered["deal_id"] = json!(deal);
        let own = ctx.post_as("/api/v1/valuation-requests", &w.appraiser.access, &brokered).await;
        assert_eq!(own.status, 201, "{}", own.text());
        let own = own.json();
        let before = snapshot(&ctx.db);
        let claim = json!({"organization_id": id_of(&w.appraiser_org)});
        ctx.send(Method::POST, &uri(&own, "claim"), Some(&w.appraiser.access), Some(&etag_of(&own)), Some(&claim))
            .await
            .problem(409, "appraiser_not_independent");
        let assign = json!({"appraiser_organization_id": id_of(&w.appraiser_org)});
        ctx.send(Method::POST, &uri(&own, "assign"), Some(&w.moderator.access), Some(&etag_of(&own)), Some(&assign))
            .await
            .problem(409, "appraiser_not_independent");
        assert_eq!(snapshot(&ctx.db), before);
        // An independent appraiser may.
        let rival = json!({"organization_id": id_of(&w.rival_org)});
        let claimed = ctx.send(Method::POST, &uri(&own, "claim"), Some(&w.rival.access), Some(&etag_of(&own)), Some(&rival)).await;
        assert_eq!(claimed.ok()["appraiser_organization_id"], w.rival_org["id"]);
        // The linked deal's timeline records the status change.
        let timeline: Vec<Option<String>> = techx::db::schema::deal_events::table
            .filter(techx::db::schema::deal_events::deal_id.eq(db_id(&deal)))
            .filter(techx::db::schema::deal_events::kind.eq("valuation"))
            .select(techx::db::schema::deal_events::data_after)
            .load(&mut ctx.db.connect())
            .unwrap();
        let statuses: Vec<String> = timeline
            .iter()
            .map(|d| serde_json::from_str::<Value>(d.as_deref().unwrap()).unwrap()["status"].as_str().unwrap().to_owned())
            .collect();
        assert!(statuses.contains(&"assigned".to_owned()), "{statuses:?}");
    }

    async fn permission_matrix_changes_nothing(backend) {
        let ctx = start(backend).await;
        let w = world!(ctx);
        let open = ctx.post_as("/api/v1/valuation-requests", &w.owner.access, &request_body(&w.owner_org, &w.listing)).await.ok();
        let mine = ctx.post_as("/api/v1/valuation-requests", &w.owner.access, &request_body(&w.owner_org, &w.listing)).await.ok();
        let assigned = ctx.send(Method::POST, &uri(&mine, "assign"), Some(&w.moderator.access), Some(&etag_of(&mine)),
            Some(&json!({"appraiser_organization_id": id_of(&w.appraiser_org)}))).await.ok();
        let before = snapshot(&ctx.db);
        let get = |v: &Value| format!("/api/v1/valuation-requests/{}", id_of(v));
        let claim = json!({"organization_id": id_of(&w.rival_org)});
        let reason = json!({"reason": "Lý do"});
        let appoint = json!({"appraiser_organization_id": id_of(&w.rival_org)});

        // Anonymous: 401 everywhere.
        assert_eq!(ctx.get(&get(&assigned)).await.status, 401);
        assert_eq!(ctx.get("/api/v1/valuation-requests").await.status, 401);
        ctx.send(Method::POST, &uri(&assigned, "start"), None, Some(&etag_of(&assigned)), None).await.problem(401, "unauthorized");

        // An unrelated organisation: the requests do not exist for it.
        ctx.get_as(&get(&assigned), &w.stranger.access).await.problem(404, "not_found");
        ctx.get_as(&get(&open), &w.stranger.access).await.problem(404, "not_found");
        let listed = ctx.get_as("/api/v1/valuation-requests", &w.stranger.access).await.ok();
        assert_eq!(listed["total"], 0);
        let history = ctx.get_as(&format!("/api/v1/technologies/{}/valuations", id_of(&w.listing)), &w.stranger.access).await.ok();
        assert_eq!(history["total"], 0);
        for (action, body) in [("start", None), ("cancel", Some(&reason)), ("decline", Some(&reason)), ("claim", Some(&claim)), ("assign", Some(&appoint))] {
            let res = ctx.send(Method::POST, &uri(&assigned, action), Some(&w.stranger.access), Some(&etag_of(&assigned)), body).await;
            res.problem(404, "not_found");
        }

        // Another appraiser: sees open requests (to claim them), not one assigned to a rival.
        ctx.get_as(&get(&assigned), &w.rival.access).await.problem(404, "not_found");
        ctx.get_as(&get(&open), &w.rival.access).await.ok();
        ctx.send(Method::POST, &uri(&assigned, "start"), Some(&w.rival.access), Some(&etag_of(&assigned)), None).await.problem(404, "not_found");
        ctx.send(Method::POST, &uri(&open, "start"), Some(&w.rival.access), Some(&etag_of(&open)), None).await.problem(403, "forbidden");
        ctx.send(Method::POST, &uri(&open, "assign"), Some(&w.rival.access), Some(&etag_of(&open)), Some(&appoint)).await.problem(403, "forbidden");
        // …and may not claim in the name of an organisation they do not belong to.
        let theirs = json!({"organization_id": id_of(&w.appraiser_org)});
        ctx.send(Method::POST, &uri(&open, "claim"), Some(&w.rival.access), Some(&etag_of(&open)), Some(&theirs)).await.problem(403, "forbidden");

        // The parties, each outside their role.
        ctx.send(Method::POST, &uri(&assigned, "start"), Some(&w.owner.access), Some(&etag_of(&assigned)), None).await.problem(403, "forbidden");
        ctx.send(Method::POST, &uri(&open, "assign"), Some(&w.owner.access), Some(&etag_of(&open)), Some(&appoint)).await.problem(403, "forbidden");
        ctx.send(Method::POST, &uri(&open, "claim"), Some(&w.owner.access), Some(&etag_of(&open)), Some(&claim)).await.problem(403, "forbidden");
        ctx.send(Method::POST, &uri(&assigned, "cancel"), Some(&w.appraiser.access), Some(&etag_of(&assigned)), Some(&reason)).await.problem(403, "forbidden");
        ctx.send(Method::POST, &uri(&assigned, "start"), Some(&w.moderator.access), Some(&etag_of(&assigned)), None).await.problem(403, "forbidden");
        // A moderator may only assign an appraiser organisation.
        let enterprise = json!({"appraiser_organization_id": id_of(&w.stranger_org)});
        ctx.send(Method::POST, &uri(&open, "assign"), Some(&w.moderator.access), Some(&etag_of(&open)), Some(&enterprise)).await
            .invalid_field("appraiser_organization_id");
        // An appraiser sees an open request but is not yet its appraiser.
        ctx.send(Method::POST, &uri(&open, "start"), Some(&w.appraiser.access), Some(&etag_of(&open)), None).await.problem(403, "forbidden");
        // Wrong state, stale or missing If-Match.
        ctx.send(Method::POST, &uri(&assigned, "claim"), Some(&w.appraiser.access), Some(&etag_of(&assigned)),
            Some(&json!({"organization_id": id_of(&w.appraiser_org)}))).await.problem(409, "invalid_transition");
        ctx.send(Method::POST, &uri(&assigned, "start"), Some(&w.appraiser.access), None, None).await.problem(428, "precondition_required");
        ctx.send(Method::POST, &uri(&assigned, "start"), Some(&w.appraiser.access), Some("\"1\""), None).await.problem(412, "precondition_failed");
        // Unknown fields are refused, not ignored.
        let mut sneaky = request_body(&w.owner_org, &w.listing);
        sneaky["status"] = json!("completed");
        let res = ctx.post_as("/api/v1/valuation-requests", &w.owner.access, &sneaky).await;
        assert_eq!(res.status, 400, "{}", res.text());

        assert_eq!(snapshot(&ctx.db), before, "refused calls changed nothing");
    }

    async fn a_completed_request_is_immutable(backend) {
        let ctx = start(backend).await;
        let w = world!(ctx);
        let created = ctx.post_as("/api/v1/valuation-requests", &w.owner.access, &request_body(&w.owner_org, &w.listing)).await.ok();
        let claimed = ctx.send(Method::POST, &uri(&created, "claim"), Some(&w.appraiser.access), Some(&etag_of(&created)),
            Some(&json!({"organization_id": id_of(&w.appraiser_org)}))).await.ok();
        let started = ctx.send(Method::POST, &uri(&claimed, "start"), Some(&w.appraiser.access), Some(&etag_of(&claimed)), None).await.ok();
        // A result needs a value or a range, a real currency and a summary.
        let bad = json!({"value_low": 5, "currency": "XXX", "methods": [], "assumptions": "a", "report_summary": " "});
        let res = ctx.send(Method::POST, &uri(&started, "complete"), Some(&w.appraiser.access), Some(&etag_of(&started)), Some(&bad)).await;
        let problem = res.problem(400, "validation_failed");
        let fields: Vec<&str> = problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        for field in ["value_low", "currency", "methods", "report_summary"] {
            assert!(fields.contains(&field), "{field} in {fields:?}");
        }
        let result = json!({"value_point": 700000000, "currency": "VND", "methods": ["market"],
                            "assumptions": "Ba giao dịch so sánh.", "report_summary": "Giá trị thị trường."});
        let done = ctx.send(Method::POST, &uri(&started, "complete"), Some(&w.appraiser.access), Some(&etag_of(&started)), Some(&result)).await.ok();
        assert_eq!(done["result"]["value_point"], 700000000);
        assert!(done["result"]["value_low"].is_null());
        let before = snapshot(&ctx.db);
        let etag = etag_of(&done);
        let reason = json!({"reason": "Đổi ý"});
        for (who, action, body) in [
            (&w.appraiser, "complete", Some(&result)),
            (&w.appraiser, "decline", Some(&reason)),
            (&w.appraiser, "start", None),
            (&w.owner, "cancel", Some(&reason)),
        ] {
            let res = ctx.send(Method::POST, &uri(&done, action), Some(&who.access), Some(&etag), body).await;
            res.problem(409, "valuation_completed");
        }
        assert_eq!(snapshot(&ctx.db), before);
        let got = ctx.get_as(&format!("/api/v1/valuation-requests/{}", id_of(&done)), &w.owner.access).await.ok();
        assert_eq!(got["result"]["value_point"], 700000000);
        assert_eq!(got["version"], done["version"]);
    }

    async fn calculator_cost_and_income_with_known_answers(backend) {
        let ctx = start(backend).await;
        let user = ctx.signup("calc@dn.vn").await;
        // Hostile inputs are 400s, not a dropped connection (schemathesis found an overflow).
        for cost in [
            json!({"costs": [{"amount": 1200000000, "year": -2147483648}], "inflation_rate_bps": 400,
                   "obsolescence_bps": 0, "valuation_year": 0}),
            json!({"costs": [{"amount": 9223372036854775807i64, "year": 1926}], "inflation_rate_bps": 100000,
                   "obsolescence_bps": 0, "valuation_year": 2026}),
        ] {
            let res = ctx.post_as("/api/v1/valuations/estimate", &user.access, &json!({"currency": "VND", "cost": cost})).await;
            res.problem(400, "validation_failed");
        }
        let body = json!({
            "currency": "VND",
            // 1 000 000 in 2024 and 2 000 000 in 2025 at 10% a year to 2026: 1 210 000 +
            // 2 200 000 = 3 410 000; less 20% obsolescence: 2 728 000.
            "cost": {"costs": [{"year": 2024, "amount": 1000000}, {"year": 2025, "amount": 2000000}],
                     "valuation_year": 2026, "inflation_rate_bps": 1000, "obsolescence_bps": 2000},
            // 10 000 000 a year for two years at 5% royalty, 20% tax, 10% discount: 400 000
            // after tax a year; 400 000 / 1.1 = 363 636; 363 636 / 1.1 = 330 578; sum 694 214.
            "income": {"revenues": [10000000, 10000000], "royalty_rate_bps": 500,
                       "tax_rate_bps": 2000, "discount_rate_bps": 1000}
        });
        let res = ctx.post_as("/api/v1/valuations/estimate?lang=en", &user.access, &body).await.ok();
        assert_eq!(res["currency"], "VND");
        assert_eq!(res["cost"]["value"], 2728000);
        let steps: Vec<i64> = res["cost"]["steps"].as_array().unwrap().iter().map(|s| s["amount"].as_i64().unwrap()).collect();
        assert_eq!(steps, [1210000, 2200000, 3410000, 2728000]);
        assert_eq!(res["cost"]["steps"][2]["description"], "Total indexed cost");
        assert_eq!(res["income"]["value"], 694214);
        let steps: Vec<i64> = res["income"]["steps"].as_array().unwrap().iter().map(|s| s["amount"].as_i64().unwrap()).collect();
        assert_eq!(steps, [363636, 330578, 694214]);
        assert!(res["market"].is_null());
        assert_eq!(res["range"], json!({"min": 694214, "max": 2728000}));

        // Vietnamese by default; remaining-life obsolescence 3/4 of 3 410 000 = 2 557 500.
        let life = json!({"currency": "VND", "cost": {"costs": [{"year": 2024, "amount": 1000000}, {"year": 2025, "amount": 2000000}],
                          "valuation_year": 2026, "inflation_rate_bps": 1000, "remaining_life": {"remaining_years": 3, "total_years": 4}}});
        let res = ctx.post_as("/api/v1/valuations/estimate", &user.access, &life).await.ok();
        assert_eq!(res["cost"]["value"], 2557500);
        assert_eq!(res["cost"]["steps"][2]["description"], "Tổng chi phí quy đổi");
        assert_eq!(res["range"], json!({"min": 2557500, "max": 2557500}));

        // Bad inputs name the approach and field; nothing at all is refused; anonymous is 401.
        let bad = json!({"currency": "VND", "income": {"revenues": [], "royalty_rate_bps": 500, "tax_rate_bps": 2000, "discount_rate_bps": 1000}});
        ctx.post_as("/api/v1/valuations/estimate", &user.access, &bad).await.invalid_field("income.revenues");
        ctx.post_as("/api/v1/valuations/estimate", &user.access, &json!({"currency": "VND"})).await.invalid_field("cost");
        let res = ctx.post("/api/v1/valuations/estimate", &body).await;
        res.problem(401, "unauthorized");
    }

    async fn calculator_market_approach_from_completed_deals(backend) {
        let ctx = start(backend).await;
        let w = world!(ctx);
        let user = &w.stranger;
        let buyer = &w.stranger_org;
        let seller = &w.owner_org;
        let by = &w.stranger.user_id;
        let org = id_of(&w.owner_org);
        // Listings: the same sector (2.7) at TRL 6 (w.listing) and 7; TRL 9 and sector 4.1
        // do not compare.
        let mut trl7 = technology_body(&org, "TRL 7");
        trl7["trl"] = json!(7);
        let trl7 = ctx.publish_technology(&w.owner, &w.moderator, &trl7).await;
        let mut trl9 = technology_body(&org, "TRL 9");
        trl9["trl"] = json!(9);
        let trl9 = ctx.publish_technology(&w.owner, &w.moderator, &trl9).await;
        let mut agri = technology_body(&org, "Nông nghiệp");
        agri["sectors"] = json!(["4.1"]);
        let agri = ctx.publish_technology(&w.owner, &w.moderator, &agri).await;

        let ask = json!({"currency": "VND", "market": {"sector": "2.7", "trl": 6, "transfer_form": "usage_licence"}});
        let res = ctx.post_as("/api/v1/valuations/estimate?lang=en", &user.access, &ask).await.ok();
        assert_eq!(res["market"]["enough"], false);
        assert_eq!(res["market"]["count"], 0);

        insert_deal(&ctx.db, &w.listing, buyer, seller, by, "completed", Some(("VND", "usage_licence", 500_000_000)));
        insert_deal(&ctx.db, &trl7, buyer, seller, by, "completed", Some(("VND", "usage_licence", 1_100_000_000)));
        // None of these compare: not completed, another currency, another form, TRL 9,
        // another sector.
        insert_deal(&ctx.db, &w.listing, buyer, seller, by, "signed", Some(("VND", "usage_licence", 10)));
        insert_deal(&ctx.db, &w.listing, buyer, seller, by, "completed", Some(("USD", "usage_licence", 20)));
        insert_deal(&ctx.db, &w.listing, buyer, seller, by, "completed", Some(("VND", "ownership_assignment", 30)));
        insert_deal(&ctx.db, &trl9, buyer, seller, by, "completed", Some(("VND", "usage_licence", 40)));
        insert_deal(&ctx.db, &agri, buyer, seller, by, "completed", Some(("VND", "usage_licence", 50)));

        let res = ctx.post_as("/api/v1/valuations/estimate?lang=en", &user.access, &ask).await.ok();
        let market = &res["market"];
        assert_eq!(market["enough"], false);
        assert_eq!(market["count"], 2);
        assert_eq!(market["minimum"], 3);
        assert!(market["value"].is_null());
        assert_eq!(market["message"], "Not enough comparables: 2 found, at least 3 needed.");
        assert!(res["range"].is_null());

        insert_deal(&ctx.db, &w.listing, buyer, seller, by, "completed", Some(("VND", "usage_licence", 700_000_000)));
        let res = ctx.post_as("/api/v1/valuations/estimate", &user.access, &ask).await.ok();
        let market = &res["market"];
        assert_eq!(market["enough"], true);
        assert_eq!(market["count"], 3);
        // 500, 700, 1 100 million: median 700, quartiles 600 and 900 (interpolated).
        assert_eq!(market["value"], 700_000_000);
        assert_eq!(market["q1"], 600_000_000);
        assert_eq!(market["q3"], 900_000_000);
        assert_eq!(market["steps"][1]["description"], "Trung vị giá giao dịch");
        assert_eq!(res["range"], json!({"min": 700_000_000, "max": 700_000_000}));
        // A field code matches its sub-fields.
        let field = json!({"currency": "VND", "market": {"sector": "2", "trl": 6, "transfer_form": "usage_licence"}});
        let res = ctx.post_as("/api/v1/valuations/estimate", &user.access, &field).await.ok();
        assert_eq!(res["market"]["count"], 3);
    }
}

/// A deal inserted directly (the deal endpoints live in another module); returns its id.
fn insert_deal(
    db: &TestDb,
    technology: &Value,
    buyer: &Value,
    seller: &Value,
    created_by: &str,
    stage: &str,
    terms: Option<(&str, &str, i64)>,
) -> String {
    let id = EntityId::new();
    let at = chrono::Utc::now().naive_utc();
    let (currency, form, price) = terms.unwrap_or(("VND", "usage_licence", 0));
    let final_price = terms.filter(|_| stage == "completed").map(|(_, _, p)| p);
    diesel::insert_into(deals::table)
        .values((
            deals::id.eq(id),
            deals::technology_id.eq(db_id(&id_of(technology))),
            deals::buyer_organization_id.eq(db_id(&id_of(buyer))),
            deals::seller_organization_id.eq(db_id(&id_of(seller))),
            deals::stage.eq(stage),
            deals::transfer_form.eq(form),
            deals::price.eq(Some(price)),
            deals::currency.eq(Some(currency)),
            deals::final_price.eq(final_price),
            deals::created_by.eq(db_id(created_by)),
            deals::created_at.eq(at),
            deals::updated_at.eq(at),
            deals::completed_at.eq((stage == "completed").then_some(at)),
        ))
        .execute(&mut db.connect())
        .unwrap();
    id.to_string()
}
