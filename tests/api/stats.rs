//! Statistics, activity reports and open data, on both backends: a fixture of known activity
//! built through the API (a few timestamps then moved back in the database so durations are
//! exact), and the exact figures it must produce in JSON and in CSV; the permission rule;
//! date and province filters; hidden contacts left out of open data.

use crate::common;

use actix_web::http::Method;
use actix_web::test::TestRequest;
use chrono::{Duration, NaiveDateTime, Utc};
use common::*;
use diesel::prelude::*;
use serde_json::{Value, json};
use techx::auth::PlatformRole;
use techx::db::schema::{
    deals, inquiries, match_notifications, technologies, technology_reviews, valuation_requests,
};
use techx::db::types::EntityId;

const ITEMS: [&str; 9] = [
    "object",
    "scope_of_rights",
    "transfer_method",
    "price_and_payment",
    "term",
    "schedule",
    "warranty",
    "penalties",
    "dispute_resolution",
];

/// A title with a comma, quotes and Vietnamese letters: it must survive CSV quoting.
const TRICKY_TITLE: &str = "Quy trình nhân giống lan, \"sạch bệnh\" – Hồ Điệp";
const BROKER_NAME: &str = "Trung tâm Chuyển giao Công nghệ Đồng Nai";

fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_owned()
}

fn db_id(text: &str) -> EntityId {
    uuid::Uuid::parse_str(text).expect("a uuid").into()
}

struct World {
    moderator: Session,
    member: Session,
    inst: Session,
    uni: Session,
    broker_org: String,
    /// L1 technology (thanh-hoa, 4.4, contact public), L2 equipment (thanh-hoa, 2.7 + 4.1,
    /// contact on request), L3 research result (ha-noi, 2.2, contact members), L4 research
    /// result (ha-noi, 3.4, contact public).
    listings: Vec<String>,
}

fn listing_body(
    org: &str,
    title: &str,
    kind: &str,
    sectors: Value,
    province: &str,
    contact: &str,
) -> Value {
    let mut body = technology_body(org, title);
    body["kind"] = json!(kind);
    body["sectors"] = sectors;
    body["province"] = json!(province);
    body["contact_visibility"] = json!(contact);
    if kind == "research_result" {
        body["research"] = json!({
            "funding_level": "national", "programme": "Chương trình KC.04",
            "task_code": "KC.04.12/21-25", "host_organization": "Đại học Bách khoa Hà Nội",
            "managing_agency": "Bộ Khoa học và Công nghệ", "completion_year": 2024,
            "rights_status": "state_owned"
        });
    }
    body
}

impl<S, B> Ctx<S>
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: actix_web::body::MessageBody,
{
    // Not `move_deal`: deals.rs has one on `Ctx`, returning the response (one binary now).
    async fn step_deal(&self, deal: &Value, token: &str, body: Value) -> Value {
        let uri = format!("/api/v1/deals/{}/transitions", id(deal));
        self.send(Method::POST, &uri, Some(token), Some(&etag_of(deal)), Some(&body)).await.ok()
    }

    /// Drives an accepted (open) deal to `signed`, then on to `completed` at `final_price`
    /// when given.
    async fn drive_deal(
        &self,
        mut deal: Value,
        seller: &Session,
        buyer: &Session,
        final_price: Option<i64>,
    ) -> Value {
        for to in ["negotiating", "contracting"] {
            deal = self.step_deal(&deal, &seller.access, json!({"to": to})).await;
        }
        for item in ITEMS {
            let res = self
                .authed(
                    Method::PUT,
                    &format!("/api/v1/deals/{}/checklist/{item}", id(&deal)),
                    &seller.access,
                    Some(&json!({"ticked": true})),
                )
                .await;
            deal = res.ok();
        }
        for who in [buyer, seller] {
            deal = self
                .post_as(
                    &format!("/api/v1/deals/{}/signing-confirmation", id(&deal)),
                    &who.access,
                    &json!({}),
                )
                .await
                .ok();
        }
        deal = self.step_deal(&deal, &seller.access, json!({"to": "signed"})).await;
        if let Some(price) = final_price {
            deal = self.step_deal(&deal, &seller.access, json!({"to": "delivering"})).await;
            deal = self
                .step_deal(&deal, &buyer.access, json!({"to": "completed", "final_price": price}))
                .await;
            assert_eq!(deal["stage"], "completed");
        } else {
            assert_eq!(deal["stage"], "signed");
        }
        deal
    }

    /// A deal brokered by `broker` between `buyer_org` and `seller_org`, accepted by both.
    #[allow(clippy::too_many_arguments)]
    async fn brokered_deal(
        &self,
        broker: &Session,
        broker_org: &str,
        listing: &str,
        buyer: (&Session, &str),
        seller: (&Session, &str),
        price: i64,
        currency: &str,
    ) -> Value {
        let body = json!({"broker_organization_id": broker_org, "technology_id": listing,
                          "buyer_organization_id": buyer.1, "seller_organization_id": seller.1,
                          "terms": {"transfer_form": "ownership_assignment", "price": price, "currency": currency}});
        let deal = self.post_as("/api/v1/deals", &broker.access, &body).await.ok();
        self.post_as(&format!("/api/v1/deals/{}/accept", id(&deal)), &buyer.0.access, &json!({}))
            .await
            .ok();
        self.post_as(&format!("/api/v1/deals/{}/accept", id(&deal)), &seller.0.access, &json!({}))
            .await
            .ok()
    }
}

/// Builds the fixture. Everything happens now, except what `shift` moves back:
/// - listings: L1–L4 published, L5 a draft (thanh-hoa), L6 rejected (ha-noi); submissions
///   2, 4, 6, 8 and 10 hours before their decisions (median 6 h);
/// - a published demand (thanh-hoa) with one accepted proposal, and a draft demand;
/// - enquiries from the enterprise on L1 (answered 5 hours later) and L3 (unanswered);
/// - deals: A brokered on L3, 2 000 000 000 VND, completed at 1 800 000 000, created 10 days
///   before completion; B from the L1 enquiry, 750 000 000 VND, signed; C brokered on L2,
///   1 500 000 USD (minor unit), signed; D brokered on L4, cancelled;
/// - valuations of L1: one completed 3 days after it was requested, one still submitted;
/// - verified organisations: the institute and the broker.
async fn world<S, B>(ctx: &Ctx<S>) -> World
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: actix_web::body::MessageBody,
{
    let moderator = ctx.staff("mod@techx.vn", PlatformRole::Moderator).await;
    let member = ctx.signup("member@dan.vn").await;
    let inst = ctx.signup("lan@vien.vn").await;
    let uni = ctx.signup("hoa@bachkhoa.vn").await;
    let ent = ctx.signup("mua@congty.vn").await;
    let broker = ctx.signup("moigioi@trungtam.vn").await;
    let inst_org =
        id(&ctx.create_org(&inst, "Viện Nông nghiệp Thanh Hóa", "research_institute").await);
    let uni_org = id(&ctx
        .post_as("/api/v1/organizations", &uni.access,
                 &json!({"name": "Đại học Bách khoa Hà Nội", "kind": "university", "province": "ha-noi", "sectors": ["2.2"]}))
        .await
        .ok());
    let ent_org = id(&ctx.create_org(&ent, "Công ty Phân bón Xanh", "enterprise").await);
    let broker_org = id(&ctx
        .post_as(
            "/api/v1/organizations",
            &broker.access,
            &json!({"name": BROKER_NAME, "kind": "intermediary", "province": "dong-nai",
                         "sectors": ["2.7"], "services": ["valuation", "brokering"]}),
        )
        .await
        .ok());
    for org in [&inst_org, &broker_org] {
        ctx.post_as(
            &format!("/api/v1/organizations/{org}/verification"),
            &moderator.access,
            &json!({"status": "verified"}),
        )
        .await
        .ok();
    }

    let l1 = ctx
        .publish_technology(
            &inst,
            &moderator,
            &listing_body(
                &inst_org,
                TRICKY_TITLE,
                "technology",
                json!(["4.4"]),
                "thanh-hoa",
                "public",
            ),
        )
        .await;
    let l2 = ctx
        .publish_technology(
            &inst,
            &moderator,
            &listing_body(
                &inst_org,
                "Máy sấy nông sản năng lượng mặt trời",
                "equipment",
                json!(["2.7", "4.1"]),
                "thanh-hoa",
                "on_request",
            ),
        )
        .await;
    let l3 = ctx
        .publish_technology(
            &uni,
            &moderator,
            &listing_body(
                &uni_org,
                "Cảm biến đo mặn cho ruộng lúa",
                "research_result",
                json!(["2.2"]),
                "ha-noi",
                "members",
            ),
        )
        .await;
    let l4 = ctx
        .publish_technology(
            &uni,
            &moderator,
            &listing_body(
                &uni_org,
                "Bộ kit chẩn đoán nhanh bệnh tôm",
                "research_result",
                json!(["3.4"]),
                "ha-noi",
                "public",
            ),
        )
        .await;
    ctx.create_technology(
        &inst.access,
        &listing_body(
            &inst_org,
            "Bản nháp chưa nộp",
            "technology",
            json!(["4.4"]),
            "thanh-hoa",
            "public",
        ),
    )
    .await;
    let l6 = ctx
        .create_technology(
            &uni.access,
            &listing_body(
                &uni_org,
                "Hồ sơ thiếu thông tin",
                "technology",
                json!(["2.2"]),
                "ha-noi",
                "public",
            ),
        )
        .await;
    let l6 = ctx.listing_action(&l6, "submit", &uni.access, None).await.ok();
    let rejected = ctx
        .listing_action(
            &l6,
            "review",
            &moderator.access,
            Some(&json!({"decision": "reject", "reason": "Thiếu mô tả."})),
        )
        .await
        .ok();
    assert_eq!(rejected["status"], "rejected");

    // Demands: one published with a proposal the enterprise accepts, one draft.
    let demand = json!({"organization_id": ent_org, "title": "Cần phân bón vi sinh cho lúa",
                        "problem": "Giảm phân hóa học trên 500 ha lúa.", "sectors": ["4.1"], "province": "thanh-hoa"});
    let draft = ctx.post_as("/api/v1/demands", &ent.access, &demand).await.ok();
    let pending = ctx
        .send(
            Method::POST,
            &format!("/api/v1/demands/{}/submit", id(&draft)),
            Some(&ent.access),
            Some(&etag_of(&draft)),
            None,
        )
        .await
        .ok();
    let published = ctx
        .send(
            Method::POST,
            &format!("/api/v1/demands/{}/review", id(&pending)),
            Some(&moderator.access),
            Some(&etag_of(&pending)),
            Some(&json!({"decision": "approve"})),
        )
        .await
        .ok();
    assert_eq!(published["status"], "published");
    ctx.post_as("/api/v1/demands", &ent.access, &demand).await.ok();
    let proposal = ctx
        .post_as(&format!("/api/v1/demands/{}/proposals", id(&published)), &uni.access,
                 &json!({"organization_id": uni_org, "technology_id": id(&l4), "approach": "Chế phẩm vi sinh cố định đạm."}))
        .await
        .ok();
    ctx.send(
        Method::POST,
        &format!("/api/v1/demands/{}/proposals/{}/accept", id(&published), id(&proposal)),
        Some(&ent.access),
        Some(&etag_of(&proposal)),
        None,
    )
    .await
    .ok();

    // Enquiries: L1 answered, L3 not.
    let enquiry = |listing: &Value| {
        json!({"organization_id": ent_org, "message": format!("Quan tâm {}", id(listing)),
               "intended_use": "Sản xuất", "transfer_form": "usage_licence"})
    };
    let i1 = ctx
        .post_as(&format!("/api/v1/technologies/{}/inquiries", id(&l1)), &ent.access, &enquiry(&l1))
        .await
        .ok();
    ctx.post_as(
        &format!("/api/v1/inquiries/{}/messages", id(&i1)),
        &inst.access,
        &json!({"body": "Xin gửi hồ sơ."}),
    )
    .await;
    ctx.post_as(&format!("/api/v1/technologies/{}/inquiries", id(&l3)), &ent.access, &enquiry(&l3))
        .await
        .ok();

    // Deals.
    let a = ctx
        .brokered_deal(
            &broker,
            &broker_org,
            &id(&l3),
            (&ent, &ent_org),
            (&uni, &uni_org),
            2_000_000_000,
            "VND",
        )
        .await;
    let a = ctx.drive_deal(a, &uni, &ent, Some(1_800_000_000)).await;
    let b = ctx
        .post_as("/api/v1/deals", &inst.access,
                 &json!({"inquiry_id": id(&i1), "terms": {"transfer_form": "usage_licence", "price": 750000000, "currency": "VND"}}))
        .await
        .ok();
    let b = ctx
        .post_as(&format!("/api/v1/deals/{}/accept", id(&b)), &ent.access, &json!({}))
        .await
        .ok();
    ctx.drive_deal(b, &inst, &ent, None).await;
    let c = ctx
        .brokered_deal(
            &broker,
            &broker_org,
            &id(&l2),
            (&ent, &ent_org),
            (&inst, &inst_org),
            1_500_000,
            "USD",
        )
        .await;
    ctx.drive_deal(c, &inst, &ent, None).await;
    let d = ctx
        .brokered_deal(
            &broker,
            &broker_org,
            &id(&l4),
            (&ent, &ent_org),
            (&uni, &uni_org),
            900_000_000,
            "VND",
        )
        .await;
    let d =
        ctx.step_deal(&d, &ent.access, json!({"to": "cancelled", "reason": "Đổi kế hoạch"})).await;
    assert_eq!(d["stage"], "cancelled");

    // Valuations of L1: one completed by the broker (an appraiser), one left open.
    let request = json!({"organization_id": inst_org, "technology_id": id(&l1), "purpose": "sale",
                         "rights": {"kind": "ownership"}, "valuation_date": "2026-12-31", "preferred_method": "cost"});
    let v1 = ctx.post_as("/api/v1/valuation-requests", &inst.access, &request).await.ok();
    let v1 = ctx
        .send(
            Method::POST,
            &format!("/api/v1/valuation-requests/{}/claim", id(&v1)),
            Some(&broker.access),
            Some(&etag_of(&v1)),
            Some(&json!({"organization_id": broker_org})),
        )
        .await
        .ok();
    let v1 = ctx
        .send(
            Method::POST,
            &format!("/api/v1/valuation-requests/{}/start", id(&v1)),
            Some(&broker.access),
            Some(&etag_of(&v1)),
            None,
        )
        .await
        .ok();
    let v1 = ctx.send(Method::POST, &format!("/api/v1/valuation-requests/{}/complete", id(&v1)), Some(&broker.access),
                      Some(&etag_of(&v1)), Some(&json!({"value_point": 1000000000, "currency": "VND", "methods": ["cost"], "assumptions": "Chi phí R&D trượt giá 4%/năm.", "report_summary": "Giá trị quyền sở hữu."}))).await.ok();
    assert_eq!(v1["status"], "completed");
    ctx.post_as("/api/v1/valuation-requests", &inst.access, &request).await.ok();

    // Durations made exact by moving the earlier end of each back.
    let mut conn = ctx.db.connect();
    for (listing, hours) in [(&l1, 2), (&l2, 4), (&l3, 6), (&l4, 8), (&l6, 10)] {
        let decided: NaiveDateTime = technology_reviews::table
            .filter(technology_reviews::technology_id.eq(db_id(&id(listing))))
            .select(technology_reviews::created_at)
            .first(&mut conn)
            .unwrap();
        diesel::update(technologies::table.filter(technologies::id.eq(db_id(&id(listing)))))
            .set(technologies::submitted_at.eq(Some(decided - Duration::hours(hours))))
            .execute(&mut conn)
            .unwrap();
        // Each decision records the submission it decided: that is what is measured.
        diesel::update(
            technology_reviews::table
                .filter(technology_reviews::technology_id.eq(db_id(&id(listing)))),
        )
        .set(technology_reviews::submitted_at.eq(Some(decided - Duration::hours(hours))))
        .execute(&mut conn)
        .unwrap();
    }
    let asked: NaiveDateTime = inquiries::table
        .find(db_id(&id(&i1)))
        .select(inquiries::created_at)
        .first(&mut conn)
        .unwrap();
    diesel::update(inquiries::table.find(db_id(&id(&i1))))
        .set(inquiries::answered_at.eq(Some(asked + Duration::hours(5))))
        .execute(&mut conn)
        .unwrap();
    let closed: Option<NaiveDateTime> =
        deals::table.find(db_id(&id(&a))).select(deals::completed_at).first(&mut conn).unwrap();
    diesel::update(deals::table.find(db_id(&id(&a))))
        .set(deals::created_at.eq(closed.unwrap() - Duration::days(10)))
        .execute(&mut conn)
        .unwrap();
    let done: Option<NaiveDateTime> = valuation_requests::table
        .find(db_id(&id(&v1)))
        .select(valuation_requests::completed_at)
        .first(&mut conn)
        .unwrap();
    diesel::update(valuation_requests::table.find(db_id(&id(&v1))))
        .set(valuation_requests::created_at.eq(done.unwrap() - Duration::days(3)))
        .execute(&mut conn)
        .unwrap();

    World {
        moderator,
        member,
        inst,
        uni,
        broker_org,
        listings: vec![id(&l1), id(&l2), id(&l3), id(&l4)],
    }
}

/// `(key, count)` pairs of a grouped count list.
fn groups(v: &Value) -> Vec<(String, i64)> {
    let mut out: Vec<(String, i64)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["key"].as_str().unwrap().to_owned(), g["count"].as_i64().unwrap()))
        .collect();
    out.sort();
    out
}

fn pairs(items: &[(&str, i64)]) -> Vec<(String, i64)> {
    let mut out: Vec<(String, i64)> = items.iter().map(|(k, n)| ((*k).to_owned(), *n)).collect();
    out.sort();
    out
}

/// Parses a CSV body that must start with a UTF-8 byte order mark; returns the header and
/// the records.
fn parse_csv(body: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    assert_eq!(&body[..3], b"\xEF\xBB\xBF", "CSV starts with a UTF-8 BOM");
    let mut reader = csv::Reader::from_reader(&body[3..]);
    let header = reader.headers().unwrap().iter().map(str::to_owned).collect();
    let rows = reader.records().map(|r| r.unwrap().iter().map(str::to_owned).collect()).collect();
    (header, rows)
}

/// The value of the report CSV row `(section, key, metric)`.
fn cell(rows: &[Vec<String>], section: &str, key: &str, metric: &str) -> String {
    rows.iter()
        .find(|r| r[0] == section && r[1] == key && r[3] == metric)
        .unwrap_or_else(|| panic!("no CSV row {section},{key},{metric}"))[4]
        .clone()
}

fn today() -> chrono::NaiveDate {
    Utc::now().date_naive()
}

backend_tests! {
    async fn overview_counts_the_exchange_in_json_and_csv(backend) {
        let ctx = start(backend).await;
        world(&ctx).await;

        // Public: no token needed.
        let o = ctx.get("/api/v1/stats/overview").await.ok();
        assert_eq!(o["technologies"]["published"], 4);
        assert_eq!(groups(&o["technologies"]["by_kind"]), pairs(&[("equipment", 1), ("research_result", 2), ("technology", 1)]));
        assert_eq!(groups(&o["technologies"]["by_sector_field"]), pairs(&[("2", 2), ("3", 1), ("4", 2)]));
        assert_eq!(groups(&o["technologies"]["by_province"]), pairs(&[("ha-noi", 2), ("thanh-hoa", 2)]));
        let hanoi = o["technologies"]["by_province"].as_array().unwrap().iter().find(|g| g["key"] == "ha-noi").unwrap();
        assert_eq!(hanoi["label"], "Hà Nội");
        assert_eq!(o["demands_published"], 1);
        assert_eq!(o["deals_completed"], 1);
        assert_eq!(o["research_results"], json!({"listed": 2, "commercialised": 1, "commercialisation_rate": 0.5}));
        assert_eq!(o["verified_organizations"], 2);
        assert_eq!(groups(&o["verified_organizations_by_kind"]), pairs(&[("intermediary", 1), ("research_institute", 1)]));
        let en = ctx.get("/api/v1/stats/overview?lang=en").await.ok();
        let field = en["technologies"]["by_sector_field"].as_array().unwrap().iter().find(|g| g["key"] == "3").unwrap().clone();
        assert_eq!(field["label"], "Medical and health sciences");

        // The same figures as CSV, by parameter and by Accept header.
        let res = ctx.get("/api/v1/stats/overview?format=csv").await;
        assert_eq!(res.status, 200);
        assert_eq!(res.header("content-type"), Some("text/csv; charset=utf-8"));
        let (header, rows) = parse_csv(&res.body);
        assert_eq!(header, ["section", "key", "label", "metric", "value"]);
        assert_eq!(cell(&rows, "technologies", "", "published"), "4");
        assert_eq!(cell(&rows, "technologies_by_kind", "research_result", "published"), "2");
        assert_eq!(cell(&rows, "technologies_by_sector_field", "4", "published"), "2");
        assert_eq!(cell(&rows, "technologies_by_province", "ha-noi", "published"), "2");
        let hanoi = rows.iter().find(|r| r[0] == "technologies_by_province" && r[1] == "ha-noi").unwrap();
        assert_eq!(hanoi[2], "Hà Nội");
        assert_eq!(cell(&rows, "research_results", "", "commercialisation_rate"), "0.5");
        assert_eq!(cell(&rows, "organizations_by_kind", "intermediary", "verified"), "1");
        let accept = ctx.call(TestRequest::get().uri("/api/v1/stats/overview").insert_header(("Accept", "text/csv"))).await;
        assert_eq!(accept.header("content-type"), Some("text/csv; charset=utf-8"));
        assert_eq!(accept.header("cache-control"), Some("public, max-age=300"));
        assert_eq!(parse_csv(&accept.body).1.len(), rows.len());
        ctx.get("/api/v1/stats/overview?format=xml").await.invalid_field("format");

        // Computed once per TECHX_STATS_CACHE_SECS (60 s by default) per process: a listing
        // leaving the exchange shows after that, not on the next call.
        {
            use techx::db::schema::technologies;
            let archived = diesel::update(technologies::table.filter(technologies::status.eq("published")))
                .set(technologies::status.eq("archived"))
                .execute(&mut ctx.db.connect())
                .unwrap();
            assert_eq!(archived, 4);
        }
        let cached = ctx.get("/api/v1/stats/overview").await.ok();
        assert_eq!((cached["technologies"]["published"].clone(), cached["generated_at"].clone()), (json!(4), o["generated_at"].clone()));
        *ctx.state.overview_cache.lock().await = None;
        let fresh = ctx.get("/api/v1/stats/overview").await.ok();
        assert_eq!(fresh["technologies"]["published"], 0);
        assert_ne!(fresh["generated_at"], o["generated_at"]);
    }

    async fn activity_report_has_exact_figures_in_json_and_csv(backend) {
        let ctx = start(backend).await;
        let w = world(&ctx).await;
        let from = today() - Duration::days(30);
        let to = today();
        let uri = format!("/api/v1/reports/activity?from={from}&to={to}");
        ctx.get_as(&uri, &w.member.access).await.problem(403, "forbidden");
        ctx.get_as(&uri, &w.inst.access).await.problem(403, "forbidden");
        let r = ctx.get_as(&uri, &w.moderator.access).await.ok();
        assert_eq!((r["from"].as_str(), r["to"].as_str()), (Some(from.to_string().as_str()), Some(to.to_string().as_str())));
        let matches: i64 = match_notifications::table.count().get_result(&mut ctx.db.connect()).unwrap();
        assert_eq!(r["totals"], json!({
            "listings_created": 6, "listings_published": 4, "listings_reviewed": 5, "listings_approved": 4,
            "demands_created": 2, "demands_published": 1, "inquiries": 2, "inquiries_answered": 1,
            "proposals": 1, "proposals_accepted": 1, "matches_notified": matches,
            "deals_created": 4, "deals_signed": 3, "deals_completed": 1,
            "valuations_requested": 2, "valuations_completed": 1
        }));
        assert_eq!(r["rates"], json!({"inquiry_response_rate": 0.5, "proposal_acceptance_rate": 1.0}));
        assert_eq!(r["turnaround"], json!({"review_median_hours": 6.0, "reviews_measured": 5,
                                          "inquiry_response_median_hours": 5.0, "valuation_median_days": 3.0}));
        assert_eq!(r["deals"]["by_stage"], json!([
            {"stage": "cancelled", "count": 1}, {"stage": "completed", "count": 1}, {"stage": "signed", "count": 2}]));
        // Per currency, never added across currencies.
        assert_eq!(r["deals"]["value_signed"], json!([
            {"currency": "USD", "deals": 1, "amount": 1500000},
            {"currency": "VND", "deals": 2, "amount": 2750000000i64}]));
        assert_eq!(r["deals"]["value_completed"], json!([{"currency": "VND", "deals": 1, "amount": 1800000000i64}]));
        assert_eq!(r["intermediaries"], json!([{
            "organization_id": w.broker_org, "name": BROKER_NAME, "deals_brokered": 3, "deals_completed": 1,
            "completion_rate": 0.3333, "median_days_to_close": 10.0}]));
        // One entry per month; they add up to the totals; this month has today's work.
        let monthly = r["monthly"].as_array().unwrap();
        let first = from.format("%Y-%m").to_string();
        let last = to.format("%Y-%m").to_string();
        assert_eq!(monthly.first().unwrap()["month"], first.as_str());
        assert_eq!(monthly.last().unwrap()["month"], last.as_str());
        assert!(monthly.len() == 1 || monthly.len() == 2);
        for (figure, total) in r["totals"].as_object().unwrap() {
            let sum: i64 = monthly.iter().map(|m| m[figure].as_i64().unwrap()).sum();
            assert_eq!(sum, total.as_i64().unwrap(), "{figure}");
        }
        assert_eq!(monthly.last().unwrap()["listings_published"], 4);

        // The CSV says the same.
        let res = ctx.get_as(&format!("{uri}&format=csv"), &w.moderator.access).await;
        assert_eq!(res.status, 200);
        let (header, rows) = parse_csv(&res.body);
        assert_eq!(header, ["section", "key", "label", "metric", "value"]);
        assert_eq!(cell(&rows, "totals", "", "listings_created"), "6");
        assert_eq!(cell(&rows, "totals", "", "deals_signed"), "3");
        assert_eq!(cell(&rows, "rates", "", "inquiry_response_rate"), "0.5");
        assert_eq!(cell(&rows, "turnaround", "", "review_median_hours"), "6");
        assert_eq!(cell(&rows, "deals_by_stage", "signed", "deals"), "2");
        assert_eq!(cell(&rows, "value_signed", "VND", "amount"), "2750000000");
        assert_eq!(cell(&rows, "value_signed", "USD", "amount"), "1500000");
        assert_eq!(cell(&rows, "value_completed", "VND", "amount"), "1800000000");
        let broker = rows.iter().find(|r| r[0] == "intermediaries" && r[3] == "deals_brokered").unwrap();
        assert_eq!((broker[1].as_str(), broker[2].as_str(), broker[4].as_str()), (w.broker_org.as_str(), BROKER_NAME, "3"));
        assert_eq!(cell(&rows, "intermediaries", &w.broker_org, "median_days_to_close"), "10");
        assert_eq!(cell(&rows, "monthly", &last, "listings_published"), "4");
        let accept = ctx
            .call(TestRequest::get().uri(&uri).insert_header(("Authorization", format!("Bearer {}", w.moderator.access)))
                .insert_header(("Accept", "text/csv")))
            .await;
        assert_eq!(accept.header("content-type"), Some("text/csv; charset=utf-8"));
    }

    async fn activity_report_filters_by_dates_and_province(backend) {
        let ctx = start(backend).await;
        let w = world(&ctx).await;
        let month_ago = today() - Duration::days(30);
        let yesterday = today() - Duration::days(1);

        // Up to yesterday: only what was moved back (deal A, created 10 days before it was
        // completed; the first valuation request, 3 days before).
        let r = ctx.get_as(&format!("/api/v1/reports/activity?from={month_ago}&to={yesterday}"), &w.moderator.access).await.ok();
        let t = &r["totals"];
        assert_eq!((t["deals_created"].as_i64(), t["valuations_requested"].as_i64()), (Some(1), Some(1)));
        for zero in ["listings_created", "listings_published", "listings_reviewed", "inquiries", "deals_signed",
                     "deals_completed", "valuations_completed", "proposals", "demands_created", "matches_notified"] {
            assert_eq!(t[zero], 0, "{zero}");
        }
        assert_eq!(r["deals"]["by_stage"], json!([{"stage": "completed", "count": 1}]));
        assert_eq!(r["deals"]["value_signed"], json!([]));
        assert_eq!(r["intermediaries"][0]["deals_brokered"], 1);
        assert_eq!(r["intermediaries"][0]["median_days_to_close"], 10.0);
        assert_eq!(r["turnaround"]["review_median_hours"], Value::Null);
        assert_eq!(r["rates"]["inquiry_response_rate"], Value::Null);

        // Today alone: everything but those two.
        let r = ctx.get_as(&format!("/api/v1/reports/activity?from={}&to={}", today(), today()), &w.moderator.access).await.ok();
        assert_eq!((r["totals"]["deals_created"].as_i64(), r["totals"]["valuations_requested"].as_i64()), (Some(3), Some(1)));
        assert_eq!(r["totals"]["listings_published"], 4);
        assert_eq!(r["monthly"].as_array().unwrap().len(), 1);

        // Hà Nội: the university's listings (L3, L4 published; L6 rejected), the enquiry
        // about L3, deals A and D; nothing of Thanh Hóa's listings or demands.
        let r = ctx.get_as(&format!("/api/v1/reports/activity?from={month_ago}&to={}&province=ha-noi", today()), &w.moderator.access).await.ok();
        assert_eq!(r["province"], "ha-noi");
        let t = &r["totals"];
        assert_eq!(
            [t["listings_created"].as_i64(), t["listings_published"].as_i64(), t["listings_reviewed"].as_i64(),
             t["inquiries"].as_i64(), t["inquiries_answered"].as_i64(), t["deals_created"].as_i64(),
             t["deals_signed"].as_i64(), t["demands_created"].as_i64(), t["valuations_requested"].as_i64()],
            [Some(3), Some(2), Some(3), Some(1), Some(0), Some(2), Some(1), Some(0), Some(0)]
        );
        assert_eq!(r["turnaround"]["review_median_hours"], 8.0, "L3 6 h, L4 8 h, L6 10 h");
        assert_eq!(r["deals"]["value_signed"], json!([{"currency": "VND", "deals": 1, "amount": 2000000000i64}]));
        assert_eq!(r["intermediaries"][0]["deals_brokered"], 2);

        // Thanh Hóa: two decisions (2 h and 4 h), so the median is the mean of the middle two.
        let r = ctx.get_as(&format!("/api/v1/reports/activity?from={month_ago}&to={}&province=thanh-hoa", today()), &w.moderator.access).await.ok();
        assert_eq!(r["turnaround"]["review_median_hours"], 3.0);
        assert_eq!(r["turnaround"]["reviews_measured"], 2);
        assert_eq!((r["totals"]["demands_published"].as_i64(), r["totals"]["valuations_completed"].as_i64()), (Some(1), Some(1)));

        // Defaults: twelve calendar months to today.
        let r = ctx.get_as("/api/v1/reports/activity", &w.moderator.access).await.ok();
        assert_eq!(r["to"], today().to_string());
        assert_eq!(r["monthly"].as_array().unwrap().len(), 12);
        assert_eq!(r["totals"]["listings_published"], 4);
    }

    async fn activity_report_refuses_bad_ranges_and_non_staff(backend) {
        let ctx = start(backend).await;
        let moderator = ctx.staff("mod@techx.vn", PlatformRole::Moderator).await;
        let admin = ctx.staff("admin@techx.vn", PlatformRole::Admin).await;
        let member = ctx.signup("member@dan.vn").await;
        let owner = ctx.signup("owner@vien.vn").await;
        ctx.create_org(&owner, "Viện A", "research_institute").await;
        let uri = "/api/v1/reports/activity?from=2026-01-01&to=2026-01-31";
        ctx.get(uri).await.problem(401, "unauthorized");
        ctx.get(&format!("{uri}&format=csv")).await.problem(401, "unauthorized");
        ctx.get_as(uri, &member.access).await.problem(403, "forbidden");
        ctx.get_as(uri, &owner.access).await.problem(403, "forbidden");
        assert_eq!(ctx.get_as(uri, &admin.access).await.status, 200);
        assert_eq!(ctx.get_as(uri, &moderator.access).await.ok()["monthly"].as_array().unwrap().len(), 1);

        for (query, field) in [
            ("from=2026-13-01", "from"),
            ("from=2026-02-30", "from"),
            ("from=26-01-01", "from"),
            ("from=2026-1-5", "from"),
            ("to=yesterday", "to"),
            ("from=1999-12-31&to=2000-01-31", "from"),
            ("from=2026-03-01&to=2026-02-28", "from"),
            ("from=2000-01-01&to=2026-12-31", "to"),
            ("from=2026-01-01&to=2026-01-31&province=atlantis", "province"),
            ("from=2026-01-01&to=2026-01-31&format=pdf", "format"),
        ] {
            let res = ctx.get_as(&format!("/api/v1/reports/activity?{query}"), &moderator.access).await;
            assert_eq!(res.status, 400, "{query}: {}", res.text());
            res.invalid_field(field);
        }
        // The longest range allowed: 3660 days inclusive.
        let res = ctx.get_as("/api/v1/reports/activity?from=2017-01-01&to=2027-01-08", &moderator.access).await;
        assert_eq!(res.status, 200, "{}", res.text());
        let res = ctx.get_as("/api/v1/reports/activity?from=2017-01-01&to=2027-01-09", &moderator.access).await;
        res.invalid_field("to");
    }

    async fn open_data_streams_published_listings_without_hidden_contacts(backend) {
        let ctx = start(backend).await;
        let w = world(&ctx).await;

        let res = ctx.get("/api/v1/open-data/technologies").await;
        assert_eq!(res.status, 200, "{}", res.text());
        assert_eq!(res.header("content-type"), Some("text/csv; charset=utf-8"));
        let (header, rows) = parse_csv(&res.body);
        assert_eq!(header.len(), 27);
        let col = |name: &str| header.iter().position(|h| h == name).unwrap();
        let mut ids: Vec<String> = rows.iter().map(|r| r[col("id")].clone()).collect();
        ids.sort();
        let mut expected = w.listings.clone();
        expected.sort();
        assert_eq!(ids, expected, "the four published listings, no draft, no rejected one");
        let row = |listing: &str| rows.iter().find(|r| r[col("id")] == listing).unwrap().clone();
        let l1 = row(&w.listings[0]);
        assert_eq!(l1[col("title")], TRICKY_TITLE);
        assert_eq!(l1[col("organization_name")], "Viện Nông nghiệp Thanh Hóa");
        assert_eq!(l1[col("contact_email")], w.inst.email);
        assert_eq!(l1[col("price_min")], "500000000");
        assert_eq!(l1[col("transfer_forms")], "usage_licence");
        // On request and members-only contacts are not open data.
        assert_eq!((row(&w.listings[1])[col("contact_email")].as_str(), row(&w.listings[1])[col("contact_name")].as_str()), ("", ""));
        assert_eq!(row(&w.listings[2])[col("contact_email")], "");
        assert_eq!(row(&w.listings[3])[col("contact_email")], w.uni.email);
        assert_eq!(row(&w.listings[2])[col("funding_level")], "national");
        assert_eq!(row(&w.listings[2])[col("task_code")], "KC.04.12/21-25");
        assert_eq!(row(&w.listings[0])[col("funding_level")], "");

        // JSON Lines, by parameter and by Accept: one parseable object per line.
        for req in [
            TestRequest::get().uri("/api/v1/open-data/technologies?format=jsonl"),
            TestRequest::get().uri("/api/v1/open-data/technologies").insert_header(("Accept", "application/x-ndjson")),
        ] {
            let res = ctx.call(req).await;
            assert_eq!(res.header("content-type"), Some("application/x-ndjson"));
            let text = res.text();
            assert!(text.ends_with('\n'));
            let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
            assert_eq!(lines.len(), 4);
            let l1 = lines.iter().find(|l| l["id"] == w.listings[0].as_str()).unwrap();
            assert_eq!(l1["title"], TRICKY_TITLE);
            assert_eq!(l1["sectors"], json!(["4.4"]));
            assert_eq!(l1["contact_email"], w.inst.email.as_str());
            let l2 = lines.iter().find(|l| l["id"] == w.listings[1].as_str()).unwrap();
            assert_eq!((l2["contact_name"].clone(), l2["contact_email"].clone()), (Value::Null, Value::Null));
        }
        // The hidden contact is nowhere in the export, not even in another column.
        let csv_text = String::from_utf8(res.body.to_vec()).unwrap();
        assert_eq!(csv_text.matches(&w.uni.email).count(), 1, "only L4's public contact");
        ctx.get("/api/v1/open-data/technologies?format=xlsx").await.invalid_field("format");
    }

    async fn open_data_batches_walk_the_catalogue_in_id_order(backend) {
        let ctx = start(backend).await;
        let w = world(&ctx).await;
        let mut conn = ctx.db.connect();
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let batch = techx::store::stats::open_listings(&mut conn, after, 3).unwrap();
            after = batch.last().map(|r| r.id);
            seen.extend(batch.iter().map(|r| r.id.to_string()));
            if batch.len() < 3 {
                break;
            }
        }
        let mut expected = w.listings.clone();
        expected.sort();
        assert_eq!(seen, expected, "every published listing once, in id order, across batches");
    }
}
