//! Enquiries and deals through the API, on both backends: the whole path from an enquiry to
//! a completed deal with its mails, webhook events and timeline; brokered deals; illegal
//! and premature transitions; the permission matrix; concurrent transitions.

use crate::common;

use actix_web::http::Method;
use common::*;
use serde_json::{Value, json};
use techx::auth::PlatformRole;

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

/// A seller with a published listing, a buyer, a broker, an unrelated enterprise, another
/// broker and a moderator, each with their own organisation.
struct World {
    seller: Session,
    buyer: Session,
    broker: Session,
    outsider: Session,
    other_broker: Session,
    moderator: Session,
    seller_org: String,
    buyer_org: String,
    broker_org: String,
    listing: String,
    /// Webhook endpoints of the seller, the buyer and the broker, subscribed to enquiries
    /// and deal stage changes.
    hooks: Vec<String>,
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

async fn world<S, B>(ctx: &Ctx<S>) -> World
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: actix_web::body::MessageBody,
{
    let seller = ctx.signup("seller@vien.vn").await;
    let buyer = ctx.signup("buyer@congty.vn").await;
    let broker = ctx.signup("broker@trungtam.vn").await;
    let outsider = ctx.signup("outsider@khac.vn").await;
    let other_broker = ctx.signup("broker2@moigioi.vn").await;
    let moderator = ctx.staff("mod@techx.vn", PlatformRole::Moderator).await;
    let seller_org =
        id(&ctx.create_org(&seller, "Viện Công nghệ Môi trường", "research_institute").await);
    let buyer_org = id(&ctx.create_org(&buyer, "Công ty Phân bón Xanh", "enterprise").await);
    let broker_org =
        id(&ctx.create_org(&broker, "Trung tâm Chuyển giao Công nghệ", "intermediary").await);
    ctx.create_org(&outsider, "Công ty Khác", "enterprise").await;
    ctx.create_org(&other_broker, "Môi giới Khác", "intermediary").await;
    let listing = ctx
        .publish_technology(
            &seller,
            &moderator,
            &technology_body(&seller_org, "Xử lý nước thải chăn nuôi"),
        )
        .await;
    let mut hooks = Vec::new();
    for (who, org) in [(&seller, &seller_org), (&buyer, &buyer_org), (&broker, &broker_org)] {
        let hook = ctx
            .post_as(
                &format!("/api/v1/organizations/{org}/webhooks"),
                &who.access,
                &json!({"url": "http://127.0.0.1:9/hook", "event_types": ["inquiry.received", "deal.stage_changed"]}),
            )
            .await
            .ok();
        hooks.push(id(&hook));
    }
    World {
        seller,
        buyer,
        broker,
        outsider,
        other_broker,
        moderator,
        seller_org,
        buyer_org,
        broker_org,
        listing: id(&listing),
        hooks,
    }
}

fn inquiry_body(org: &str) -> Value {
    json!({
        "organization_id": org,
        "message": "Chúng tôi quan tâm đến quy trình xử lý nước thải.",
        "intended_use": "Áp dụng tại trang trại ở Thanh Hóa",
        "transfer_form": "usage_licence",
        "budget": {"amount": 600000000, "currency": "VND"}
    })
}

fn terms() -> Value {
    json!({"transfer_form": "usage_licence", "exclusive": false, "territory": "Việt Nam",
           "term_months": 60, "sublicensing": false, "price": 750000000, "currency": "VND",
           "payment_schedule": "30% khi ký, 70% khi bàn giao"})
}

/// Row counts that no refused request may change.
fn snapshot(db: &TestDb) -> Vec<i64> {
    use diesel::prelude::*;
    use techx::db::schema::*;
    let mut conn = db.connect();
    let versions: i64 = deals::table
        .select(deals::version)
        .load::<i32>(&mut conn)
        .unwrap()
        .into_iter()
        .map(i64::from)
        .sum::<i64>()
        + inquiries::table
            .select(inquiries::version)
            .load::<i32>(&mut conn)
            .unwrap()
            .into_iter()
            .map(i64::from)
            .sum::<i64>();
    vec![
        deals::table.count().get_result(&mut conn).unwrap(),
        deal_events::table.count().get_result(&mut conn).unwrap(),
        deal_checklist::table
            .filter(deal_checklist::ticked.eq(true))
            .count()
            .get_result(&mut conn)
            .unwrap(),
        inquiries::table.count().get_result(&mut conn).unwrap(),
        inquiry_messages::table.count().get_result(&mut conn).unwrap(),
        outbox::table.count().get_result(&mut conn).unwrap(),
        versions,
    ]
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
    /// `POST /deals/{id}/transitions` with the deal's ETag.
    async fn move_deal(&self, deal: &Value, token: &str, body: Value) -> Resp {
        let uri = format!("/api/v1/deals/{}/transitions", id(deal));
        self.send(Method::POST, &uri, Some(token), Some(&etag_of(deal)), Some(&body)).await
    }

    async fn deal_events(&self, deal: &Value, token: &str) -> Vec<Value> {
        let res = self
            .get_as(&format!("/api/v1/deals/{}/events?per_page=100", id(deal)), token)
            .await
            .ok();
        res["items"].as_array().unwrap().clone()
    }

    /// An enquiry from the buyer turned into a deal by the seller and accepted by the buyer.
    async fn accepted_deal(&self, w: &World) -> Value {
        let inquiry = self
            .post_as(
                &format!("/api/v1/technologies/{}/inquiries", w.listing),
                &w.buyer.access,
                &inquiry_body(&w.buyer_org),
            )
            .await
            .ok();
        let deal = self
            .post_as(
                "/api/v1/deals",
                &w.seller.access,
                &json!({"inquiry_id": inquiry["id"], "terms": terms()}),
            )
            .await
            .ok();
        self.post_as(&format!("/api/v1/deals/{}/accept", id(&deal)), &w.buyer.access, &json!({}))
            .await
            .ok()
    }
}

/// A published demand of the buyer.
async fn published_demand<S, B>(ctx: &Ctx<S>, w: &World) -> Value
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: actix_web::body::MessageBody,
{
    let body = json!({
        "organization_id": w.buyer_org, "title": "Xử lý nước thải trang trại",
        "problem": "Cần xử lý nước thải chăn nuôi đạt chuẩn.", "sectors": ["2.7"], "province": "thanh-hoa"
    });
    let draft = ctx.post_as("/api/v1/demands", &w.buyer.access, &body).await.ok();
    let uri = format!("/api/v1/demands/{}", id(&draft));
    let pending = ctx
        .send(
            Method::POST,
            &format!("{uri}/submit"),
            Some(&w.buyer.access),
            Some(&etag_of(&draft)),
            None,
        )
        .await
        .ok();
    let approve = json!({"decision": "approve"});
    let published = ctx
        .send(
            Method::POST,
            &format!("{uri}/review"),
            Some(&w.moderator.access),
            Some(&etag_of(&pending)),
            Some(&approve),
        )
        .await
        .ok();
    assert_eq!(published["status"], "published");
    published
}

backend_tests! {
    async fn deals_open_from_an_accepted_proposal_and_from_a_match(backend) {
        let ctx = start(backend).await;
        let w = world(&ctx).await;
        let demand = published_demand(&ctx, &w).await;
        let proposals = format!("/api/v1/demands/{}/proposals", id(&demand));
        let offer = json!({"organization_id": w.seller_org, "technology_id": w.listing, "approach": "Lọc sinh học."});
        let proposal = ctx.post_as(&proposals, &w.seller.access, &offer).await.ok();
        let bare = ctx.post_as(&proposals, &w.seller.access, &json!({"organization_id": w.seller_org, "approach": "Tư vấn."})).await.ok();
        let create = |token: &str, key: &str, body: &Value| {
            actix_web::test::TestRequest::post()
                .uri("/api/v1/deals")
                .insert_header(("Authorization", format!("Bearer {token}")))
                .insert_header(("Idempotency-Key", key.to_owned()))
                .set_json(body)
        };
        let from_proposal = json!({"proposal_id": id(&proposal), "terms": terms()});

        // Not accepted yet; outsiders and other brokers do not learn it exists.
        let before = snapshot(&ctx.db);
        ctx.post_as("/api/v1/deals", &w.buyer.access, &from_proposal).await.problem(409, "proposal_not_accepted");
        for who in [&w.outsider, &w.broker] {
            ctx.post_as("/api/v1/deals", &who.access, &from_proposal).await.problem(404, "not_found");
        }
        let unknown = json!({"proposal_id": uuid::Uuid::now_v7().to_string(), "terms": terms()});
        ctx.post_as("/api/v1/deals", &w.buyer.access, &unknown).await.problem(404, "not_found");
        // The proposal names the parties: no other origin field goes with it.
        let mut mixed = from_proposal.clone();
        mixed["technology_id"] = json!(w.listing);
        mixed["demand_id"] = demand["id"].clone();
        let problem = ctx.post_as("/api/v1/deals", &w.buyer.access, &mixed).await.problem(400, "validation_failed");
        let fields: Vec<&str> = problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["demand_id", "technology_id"]);
        assert_eq!(snapshot(&ctx.db), before, "refused requests changed nothing");

        for p in [&proposal, &bare] {
            let accept = format!("{proposals}/{}/accept", id(p));
            ctx.send(Method::POST, &accept, Some(&w.buyer.access), Some(&etag_of(p)), None).await.ok();
        }
        // A deal is over a technology: a proposal without one cannot open it.
        ctx.post_as("/api/v1/deals", &w.buyer.access, &json!({"proposal_id": id(&bare), "terms": terms()}))
            .await
            .problem(409, "proposal_without_technology");

        // The buyer opens it (accepting for its side); a retry with the key replays it.
        let first = ctx.call(create(&w.buyer.access, "deal-p-1", &from_proposal)).await;
        assert_eq!(first.status, 201, "{}", first.text());
        let deal = first.json();
        assert_eq!(deal["technology_id"], w.listing.as_str());
        assert_eq!(deal["buyer_organization_id"], w.buyer_org.as_str());
        assert_eq!(deal["seller_organization_id"], w.seller_org.as_str());
        assert_eq!(deal["demand_id"], demand["id"]);
        assert_eq!(deal["proposal_id"], proposal["id"]);
        assert!(deal["inquiry_id"].is_null() && deal["broker_organization_id"].is_null());
        assert!(deal["buyer_accepted_at"].is_string());
        assert!(deal["seller_accepted_at"].is_null());
        assert_eq!(first.header("location"), Some(format!("/api/v1/deals/{}", id(&deal)).as_str()));
        let again = ctx.call(create(&w.buyer.access, "deal-p-1", &from_proposal)).await;
        assert_eq!(again.status, 201);
        assert_eq!(again.header("idempotent-replayed"), Some("true"));
        assert_eq!(again.json(), deal);
        // One live deal per technology and demand, whoever asks and however.
        ctx.call(create(&w.seller.access, "deal-p-2", &from_proposal)).await.problem(409, "deal_exists");
        let same_pair = json!({"technology_id": w.listing, "demand_id": demand["id"], "terms": terms()});
        ctx.post_as("/api/v1/deals", &w.seller.access, &same_pair).await.problem(409, "deal_exists");
        assert_eq!(ctx.get_as("/api/v1/deals", &w.buyer.access).await.ok()["total"], 1);

        // The seller's side accepts and the deal moves on as any other.
        let accepted = ctx.post_as(&format!("/api/v1/deals/{}/accept", id(&deal)), &w.seller.access, &json!({})).await.ok();
        let moved = ctx.move_deal(&accepted, &w.seller.access, json!({"to": "negotiating"})).await.ok();
        assert_eq!(moved["stage"], "negotiating");

        // From a match: another published listing of the seller against the same demand.
        let second = ctx
            .publish_technology(&w.seller, &w.moderator, &technology_body(&w.seller_org, "Lọc màng sinh học"))
            .await;
        let from_match = json!({"technology_id": id(&second), "demand_id": demand["id"], "terms": terms()});
        let before = snapshot(&ctx.db);
        for who in [&w.outsider, &w.broker] {
            ctx.post_as("/api/v1/deals", &who.access, &from_match).await.problem(403, "forbidden");
        }
        let mut half = from_match.clone();
        half.as_object_mut().unwrap().remove("technology_id");
        ctx.post_as("/api/v1/deals", &w.seller.access, &half).await.invalid_field("technology_id");
        let draft = ctx.post_as("/api/v1/demands", &w.buyer.access, &json!({
            "organization_id": w.buyer_org, "title": "Bản nháp", "problem": "Chưa công bố.", "sectors": ["2.7"], "province": "thanh-hoa"
        })).await.ok();
        let mut unpublished = from_match.clone();
        unpublished["demand_id"] = draft["id"].clone();
        ctx.post_as("/api/v1/deals", &w.seller.access, &unpublished).await.invalid_field("demand_id");
        // A broker names the parties itself and records no demand.
        let brokered = json!({"broker_organization_id": w.broker_org, "technology_id": id(&second), "demand_id": demand["id"],
                              "buyer_organization_id": w.buyer_org, "seller_organization_id": w.seller_org, "terms": terms()});
        ctx.post_as("/api/v1/deals", &w.broker.access, &brokered).await.invalid_field("demand_id");
        assert_eq!(snapshot(&ctx.db), before, "refused requests changed nothing");

        let res = ctx.call(create(&w.seller.access, "deal-m-1", &from_match)).await;
        assert_eq!(res.status, 201, "{}", res.text());
        let matched = res.json();
        assert_eq!(matched["technology_id"], second["id"]);
        assert_eq!(matched["demand_id"], demand["id"]);
        assert!(matched["proposal_id"].is_null());
        assert_eq!(matched["buyer_organization_id"], w.buyer_org.as_str());
        assert_eq!(matched["seller_organization_id"], w.seller_org.as_str());
        assert!(matched["seller_accepted_at"].is_string());
        assert!(matched["buyer_accepted_at"].is_null());
        let events = ctx.deal_events(&matched, &w.buyer.access).await;
        assert_eq!(events.len(), 1);
        assert_eq!(events[0]["kind"], "created");
        assert_eq!(events[0]["actor_organization_id"], w.seller_org.as_str());
        ctx.post_as("/api/v1/deals", &w.buyer.access, &from_match).await.problem(409, "deal_exists");

        // A demand hiding its organisation: opening the deal would name the buyer to the
        // seller, so only the buyer may.
        let hidden = ctx.post_as("/api/v1/demands", &w.buyer.access, &json!({
            "organization_id": w.buyer_org, "title": "Nhu cầu ẩn danh", "problem": "Cần giải pháp.",
            "sectors": ["2.7"], "province": "thanh-hoa", "hide_organization": true
        })).await.ok();
        let hidden_uri = format!("/api/v1/demands/{}", id(&hidden));
        let pending = ctx.send(Method::POST, &format!("{hidden_uri}/submit"), Some(&w.buyer.access), Some(&etag_of(&hidden)), None).await.ok();
        ctx.send(Method::POST, &format!("{hidden_uri}/review"), Some(&w.moderator.access), Some(&etag_of(&pending)), Some(&json!({"decision": "approve"}))).await.ok();
        let hidden_match = json!({"technology_id": id(&second), "demand_id": id(&hidden), "terms": terms()});
        ctx.post_as("/api/v1/deals", &w.seller.access, &hidden_match).await.problem(403, "forbidden");
        let by_buyer = ctx.post_as("/api/v1/deals", &w.buyer.access, &hidden_match).await;
        assert_eq!(by_buyer.status, 201, "{}", by_buyer.text());
        assert!(by_buyer.json()["buyer_accepted_at"].is_string());

        // Once cancelled, the pair may open a new deal.
        let cancel = json!({"to": "cancelled", "reason": "Chọn phương án khác"});
        ctx.move_deal(&matched, &w.buyer.access, cancel).await.ok();
        let reopened = ctx.post_as("/api/v1/deals", &w.buyer.access, &from_match).await;
        assert_eq!(reopened.status, 201, "{}", reopened.text());
        assert!(reopened.json()["buyer_accepted_at"].is_string());
    }

    async fn document_links_are_timeline_events_of_the_parties(backend) {
        let ctx = start(backend).await;
        let w = world(&ctx).await;
        let deal = ctx.accepted_deal(&w).await;
        let documents = format!("/api/v1/deals/{}/documents", id(&deal));
        let link = json!({"title": " Dự thảo hợp đồng, bản 2 ", "url": "https://tailieu.example.vn/hd-v2.pdf?v=2"});

        // Who may not: anonymous 401, non-parties 404, staff 403 (they read, not write).
        let before = snapshot(&ctx.db);
        ctx.send(Method::POST, &documents, None, None, Some(&link)).await.problem(401, "unauthorized");
        for who in [&w.outsider, &w.other_broker] {
            ctx.post_as(&documents, &who.access, &link).await.problem(404, "not_found");
            ctx.get_as(&format!("/api/v1/deals/{}/events?kind=document_link", id(&deal)), &who.access).await.problem(404, "not_found");
        }
        ctx.post_as(&documents, &w.moderator.access, &link).await.problem(403, "forbidden");
        // https only, to a host, no credentials, bounded.
        let long = format!("https://tailieu.vn/{}", "a".repeat(1_990));
        for bad in ["http://tailieu.vn/hd.pdf", "javascript:alert(1)", "https://", "https:///hd.pdf", "ftp://tailieu.vn/hd.pdf",
                    "https://user:mat-khau@tailieu.vn/hd.pdf", "https://tailieu.vn/hợp đồng.pdf", long.as_str()] {
            let body = json!({"title": "Hợp đồng", "url": bad});
            ctx.post_as(&documents, &w.seller.access, &body).await.invalid_field("url");
        }
        ctx.post_as(&documents, &w.seller.access, &json!({"title": " ", "url": "https://tailieu.vn/a.pdf"})).await.invalid_field("title");
        ctx.post_as(&documents, &w.seller.access, &json!({"title": "x", "url": "https://tailieu.vn/a.pdf", "file": "..."}))
            .await
            .problem(400, "validation_failed");
        assert_eq!(snapshot(&ctx.db), before, "refused requests changed nothing");

        let res = ctx.post_as(&documents, &w.seller.access, &link).await;
        assert_eq!(res.status, 201, "{}", res.text());
        let event = res.json();
        assert_eq!(event["kind"], "document_link");
        assert_eq!(event["after"], json!({"title": "Dự thảo hợp đồng, bản 2", "url": "https://tailieu.example.vn/hd-v2.pdf?v=2"}));
        assert_eq!(event["actor_id"], w.seller.user_id.as_str());
        assert_eq!(event["actor_organization_id"], w.seller_org.as_str());
        assert!(event["created_at"].is_string());
        // Exactly 2 000 characters is accepted; the broker is a party too.
        let longest = format!("https://tailieu.vn/{}", "b".repeat(1_981));
        assert_eq!(longest.chars().count(), 2_000);
        ctx.post_as(&documents, &w.buyer.access, &json!({"title": "Phụ lục", "url": longest})).await.ok();

        // Listed on the timeline and by kind, for the parties and the moderator.
        let timeline = ctx.deal_events(&deal, &w.buyer.access).await;
        assert_eq!(timeline.iter().filter(|e| e["kind"] == "document_link").count(), 2);
        assert_eq!(timeline[timeline.len() - 2]["id"], event["id"]);
        let only = format!("/api/v1/deals/{}/events?kind=document_link", id(&deal));
        for who in [&w.buyer, &w.seller, &w.moderator] {
            let listed = ctx.get_as(&only, &who.access).await.ok();
            assert_eq!(listed["total"], 2);
            assert_eq!(listed["items"][0], event);
            assert_eq!(listed["items"][1]["actor_organization_id"], w.buyer_org.as_str());
        }
        ctx.get_as(&format!("/api/v1/deals/{}/events?kind=upload", id(&deal)), &w.buyer.access).await.problem(400, "validation_failed");
        // Attaching does not move or version the deal.
        let read = ctx.get_as(&format!("/api/v1/deals/{}", id(&deal)), &w.buyer.access).await.ok();
        assert_eq!(read["version"], deal["version"]);
    }

    async fn enquiry_to_completed_deal_with_mails_events_and_timeline(backend) {
        let ctx = start(backend).await;
        let w = world(&ctx).await;

        // The enquiry: the listing's owners are mailed, its organisation gets the event.
        let created = ctx
            .post_as(&format!("/api/v1/technologies/{}/inquiries", w.listing), &w.buyer.access, &inquiry_body(&w.buyer_org))
            .await;
        assert_eq!(created.status, 201, "{}", created.text());
        let inquiry = created.json();
        assert_eq!(inquiry["status"], "open");
        assert_eq!(inquiry["to_organization_id"], w.seller_org.as_str());
        assert_eq!(inquiry["budget"], json!({"amount": 600000000, "currency": "VND"}));
        assert_eq!(ctx.mail_count(&w.seller.email, "inquiry_received"), 1);
        assert_eq!(ctx.mail_count(&w.buyer.email, "inquiry_received"), 0);
        let mail = ctx.mail_context(&w.seller.email, "inquiry_received");
        assert_eq!(mail["from_organization_name"], "Công ty Phân bón Xanh");
        assert_eq!(mail["inquiry_path"], format!("/inquiries/{}", id(&inquiry)));
        assert_eq!(ctx.mail_count(&w.hooks[0], "inquiry.received"), 1, "the seller's webhook");
        assert_eq!(ctx.mail_count(&w.hooks[1], "inquiry.received"), 0, "not the buyer's");

        // Own listing, unpublished listing, not a member: refused.
        ctx.post_as(&format!("/api/v1/technologies/{}/inquiries", w.listing), &w.seller.access, &inquiry_body(&w.seller_org))
            .await
            .problem(400, "own_listing");
        ctx.post_as(&format!("/api/v1/technologies/{}/inquiries", w.listing), &w.outsider.access, &inquiry_body(&w.buyer_org))
            .await
            .problem(403, "forbidden");
        let draft = ctx.create_technology(&w.seller.access, &technology_body(&w.seller_org, "Bản nháp")).await;
        ctx.post_as(&format!("/api/v1/technologies/{}/inquiries", id(&draft)), &w.buyer.access, &inquiry_body(&w.buyer_org))
            .await
            .problem(404, "not_found");

        // The thread: the buyer's message does not answer it, the seller's first one does.
        let thread = format!("/api/v1/inquiries/{}/messages", id(&inquiry));
        assert_eq!(ctx.post_as(&thread, &w.buyer.access, &json!({"body": "Xin gửi thêm thông tin."})).await.status, 201);
        let read = ctx.get_as(&format!("/api/v1/inquiries/{}", id(&inquiry)), &w.seller.access).await.ok();
        assert_eq!(read["status"], "open");
        assert!(read["answered_at"].is_null());
        let reply = ctx.post_as(&thread, &w.seller.access, &json!({"body": "Chúng tôi gửi hồ sơ kỹ thuật."})).await;
        assert_eq!(reply.status, 201, "{}", reply.text());
        assert_eq!(reply.json()["organization_id"], w.seller_org.as_str());
        let read = ctx.get_as(&format!("/api/v1/inquiries/{}", id(&inquiry)), &w.buyer.access).await.ok();
        assert_eq!(read["status"], "answered");
        assert!(read["answered_at"].is_string());
        assert_eq!(read["messages"].as_array().unwrap().len(), 2);
        let received = ctx.get_as("/api/v1/inquiries?role=received", &w.seller.access).await.ok();
        assert_eq!(received["total"], 1);
        assert_eq!(ctx.get_as("/api/v1/inquiries?role=sent", &w.seller.access).await.ok()["total"], 0);
        assert_eq!(ctx.get_as("/api/v1/inquiries?role=sent", &w.buyer.access).await.ok()["total"], 1);

        // The seller turns it into a deal: the seller has accepted, the buyer not yet.
        let created = ctx
            .post_as("/api/v1/deals", &w.seller.access, &json!({"inquiry_id": inquiry["id"], "terms": terms()}))
            .await;
        assert_eq!(created.status, 201, "{}", created.text());
        assert_eq!(created.header("etag"), Some("\"1\""));
        let mut deal = created.json();
        assert_eq!(deal["stage"], "open");
        assert_eq!(deal["buyer_organization_id"], w.buyer_org.as_str());
        assert_eq!(deal["seller_organization_id"], w.seller_org.as_str());
        assert_eq!(deal["inquiry_id"], inquiry["id"]);
        assert!(deal["seller_accepted_at"].is_string());
        assert!(deal["buyer_accepted_at"].is_null());
        assert_eq!(deal["checklist"].as_array().unwrap().len(), 9);
        assert_eq!(deal["terms"]["price"], 750000000);

        let res = ctx.move_deal(&deal, &w.seller.access, json!({"to": "negotiating"})).await;
        let problem = res.problem(409, "transition_conditions_unmet");
        assert!(problem["detail"].as_str().unwrap().contains("both parties must accept"), "{problem}");
        deal = ctx.post_as(&format!("/api/v1/deals/{}/accept", id(&deal)), &w.buyer.access, &json!({})).await.ok();
        assert!(deal["buyer_accepted_at"].is_string());

        for to in ["negotiating", "valuation", "contracting"] {
            let res = ctx.move_deal(&deal, &w.buyer.access, json!({"to": to, "note": format!("Sang {to}")})).await;
            assert_eq!(res.status, 200, "{to}: {}", res.text());
            assert_eq!(res.header("etag").map(str::to_owned), Some(etag_of(&res.json())));
            deal = res.json();
            assert_eq!(deal["stage"], to);
        }

        // Terms change while contracting: an event with before and after.
        let patched = ctx
            .send(Method::PATCH, &format!("/api/v1/deals/{}", id(&deal)), Some(&w.buyer.access), Some(&etag_of(&deal)),
                  Some(&json!({"price": 700000000, "territory": null})))
            .await;
        assert_eq!(patched.status, 200, "{}", patched.text());
        deal = patched.json();
        assert_eq!(deal["terms"]["price"], 700000000);
        assert!(deal["terms"]["territory"].is_null());

        // Signing is blocked by the checklist and the confirmations.
        let res = ctx.move_deal(&deal, &w.seller.access, json!({"to": "signed"})).await;
        let detail = res.problem(409, "transition_conditions_unmet")["detail"].as_str().unwrap().to_owned();
        assert!(detail.contains("checklist item `object` is not ticked"), "{detail}");
        assert!(detail.contains("the buyer has not confirmed signing"), "{detail}");
        for item in ITEMS {
            let res = ctx
                .authed(Method::PUT, &format!("/api/v1/deals/{}/checklist/{item}", id(&deal)), &w.seller.access,
                        Some(&json!({"ticked": true, "note": format!("Điều khoản {item}")})))
                .await;
            assert_eq!(res.status, 200, "{item}: {}", res.text());
            deal = res.json();
        }
        assert!(deal["checklist"].as_array().unwrap().iter().all(|i| i["ticked"] == true));
        deal = ctx.post_as(&format!("/api/v1/deals/{}/signing-confirmation", id(&deal)), &w.buyer.access, &json!({})).await.ok();
        let res = ctx.move_deal(&deal, &w.seller.access, json!({"to": "signed"})).await;
        let detail = res.problem(409, "transition_conditions_unmet")["detail"].as_str().unwrap().to_owned();
        assert!(detail.contains("the seller has not confirmed signing") && !detail.contains("checklist"), "{detail}");
        deal = ctx.post_as(&format!("/api/v1/deals/{}/signing-confirmation", id(&deal)), &w.seller.access, &json!({})).await.ok();
        let res = ctx.move_deal(&deal, &w.seller.access, json!({"to": "signed", "note": "Đã ký hợp đồng"})).await;
        assert_eq!(res.status, 200, "{}", res.text());
        deal = res.json();
        assert!(deal["signed_at"].is_string());

        // Signed: terms and checklist are locked.
        ctx.send(Method::PATCH, &format!("/api/v1/deals/{}", id(&deal)), Some(&w.buyer.access), Some(&etag_of(&deal)),
                 Some(&json!({"price": 1})))
            .await
            .problem(409, "deal_locked");
        ctx.authed(Method::PUT, &format!("/api/v1/deals/{}/checklist/object", id(&deal)), &w.buyer.access, Some(&json!({"ticked": false})))
            .await
            .problem(409, "deal_locked");

        deal = ctx.move_deal(&deal, &w.seller.access, json!({"to": "delivering"})).await.ok();
        let note = ctx.post_as(&format!("/api/v1/deals/{}/notes", id(&deal)), &w.buyer.access, &json!({"note": "Đã nhận bàn giao đợt 1"})).await;
        assert_eq!(note.status, 204, "{}", note.text());
        let res = ctx.move_deal(&deal, &w.buyer.access, json!({"to": "completed", "final_price": 680000000})).await;
        assert_eq!(res.status, 200, "{}", res.text());
        deal = res.json();
        assert_eq!(deal["stage"], "completed");
        assert_eq!(deal["final_price"], 680000000);
        assert!(deal["completed_at"].is_string());

        // Mails and events: six stage changes, each to both parties' owners and webhooks.
        for who in [&w.seller, &w.buyer] {
            assert_eq!(ctx.mail_count(&who.email, "deal_stage_changed"), 6, "{}", who.email);
        }
        assert_eq!(ctx.mail_count(&w.broker.email, "deal_stage_changed"), 0, "no broker on this deal");
        assert_eq!(ctx.mail_count(&w.hooks[0], "deal.stage_changed"), 6);
        assert_eq!(ctx.mail_count(&w.hooks[1], "deal.stage_changed"), 6);
        assert_eq!(ctx.mail_count(&w.hooks[2], "deal.stage_changed"), 0);
        let mail = ctx.mail_context(&w.buyer.email, "deal_stage_changed");
        assert_eq!((mail["from_stage"].as_str(), mail["to_stage"].as_str()), (Some("delivering"), Some("completed")));
        assert_eq!(mail["title"], "Xử lý nước thải chăn nuôi");
        // What the buyer (Vietnamese) reads: the stages named in Vietnamese.
        let renderer = techx::mail::templates::Renderer::new("https://san.techx.vn").unwrap();
        let rendered = renderer
            .render(techx::mail::Template::DealStageChanged, techx::domain::lang::Lang::Vi, &mail)
            .unwrap();
        assert_eq!(rendered.subject, "Giao dịch \"Xử lý nước thải chăn nuôi\" chuyển sang giai đoạn hoàn tất");
        assert!(rendered.text.contains("từ giai đoạn bàn giao sang hoàn tất"), "{}", rendered.text);

        // The timeline, in order, with who and what.
        let events = ctx.deal_events(&deal, &w.buyer.access).await;
        let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
        let mut expected = vec!["created", "accepted", "stage_changed", "stage_changed", "stage_changed", "terms_changed"];
        expected.extend(std::iter::repeat_n("checklist", 9));
        expected.extend(["signing_confirmed", "signing_confirmed", "stage_changed", "stage_changed", "note", "stage_changed"]);
        assert_eq!(kinds, expected);
        assert_eq!(events[0]["actor_organization_id"], w.seller_org.as_str());
        assert_eq!(events[1]["actor_organization_id"], w.buyer_org.as_str());
        let terms_event = &events[5];
        assert_eq!(terms_event["before"]["price"], 750000000);
        assert_eq!(terms_event["after"]["price"], 700000000);
        assert_eq!(terms_event["before"]["territory"], "Việt Nam");
        let stages: Vec<(String, String)> = events
            .iter()
            .filter(|e| e["kind"] == "stage_changed")
            .map(|e| (e["from_stage"].as_str().unwrap().to_owned(), e["to_stage"].as_str().unwrap().to_owned()))
            .collect();
        let pairs = [("open", "negotiating"), ("negotiating", "valuation"), ("valuation", "contracting"),
                     ("contracting", "signed"), ("signed", "delivering"), ("delivering", "completed")];
        assert_eq!(stages, pairs.map(|(a, b)| (a.to_owned(), b.to_owned())).to_vec());
        assert_eq!(events.last().unwrap()["after"]["final_price"], 680000000);
        assert_eq!(events[2]["note"], "Sang negotiating");

        // A completed deal is final.
        let res = ctx.move_deal(&deal, &w.buyer.access, json!({"to": "cancelled", "reason": "Đổi ý"})).await;
        let problem = res.problem(409, "invalid_transition");
        assert_eq!(problem["allowed"], json!([]));
        // The stored row is what valuations read as a comparable.
        {
            use diesel::prelude::*;
            use techx::db::schema::deals;
            let mut conn = ctx.db.connect();
            let (stage, price): (String, Option<i64>) =
                deals::table.select((deals::stage, deals::final_price)).first(&mut conn).unwrap();
            assert_eq!((stage.as_str(), price), ("completed", Some(680000000)));
        }
    }

    async fn a_brokered_deal_needs_both_acceptances(backend) {
        let ctx = start(backend).await;
        let w = world(&ctx).await;
        let body = json!({"broker_organization_id": w.broker_org, "technology_id": w.listing,
                          "buyer_organization_id": w.buyer_org, "seller_organization_id": w.seller_org,
                          "terms": {"transfer_form": "ownership_assignment", "price": 2000000000, "currency": "VND",
                                    "broker_fee": 60000000}});
        // Only members of an intermediary organisation broker.
        ctx.post_as("/api/v1/deals", &w.outsider.access, &body).await.problem(403, "forbidden");
        // A licence-only term on an assignment is refused.
        let mut bad = body.clone();
        bad["terms"]["exclusive"] = json!(true);
        ctx.post_as("/api/v1/deals", &w.broker.access, &bad).await.invalid_field("terms.exclusive");

        let created = ctx.post_as("/api/v1/deals", &w.broker.access, &body).await;
        assert_eq!(created.status, 201, "{}", created.text());
        let mut deal = created.json();
        assert_eq!(deal["broker_organization_id"], w.broker_org.as_str());
        assert!(deal["buyer_accepted_at"].is_null() && deal["seller_accepted_at"].is_null());

        // The broker cannot accept for a party.
        ctx.post_as(&format!("/api/v1/deals/{}/accept", id(&deal)), &w.broker.access, &json!({})).await.problem(403, "forbidden");
        let res = ctx.move_deal(&deal, &w.broker.access, json!({"to": "negotiating"})).await;
        res.problem(409, "transition_conditions_unmet");
        deal = ctx.post_as(&format!("/api/v1/deals/{}/accept", id(&deal)), &w.buyer.access, &json!({})).await.ok();
        assert!(deal["buyer_accepted_at"].is_string() && deal["seller_accepted_at"].is_null());
        let res = ctx.move_deal(&deal, &w.broker.access, json!({"to": "negotiating"})).await;
        let detail = res.problem(409, "transition_conditions_unmet")["detail"].as_str().unwrap().to_owned();
        assert!(detail.contains("both parties must accept"), "{detail}");
        deal = ctx.post_as(&format!("/api/v1/deals/{}/accept", id(&deal)), &w.seller.access, &json!({})).await.ok();
        let res = ctx.move_deal(&deal, &w.broker.access, json!({"to": "negotiating"})).await;
        assert_eq!(res.status, 200, "{}", res.text());
        assert_eq!(res.json()["stage"], "negotiating");
        // Acceptance is for open deals only.
        ctx.post_as(&format!("/api/v1/deals/{}/accept", id(&deal)), &w.buyer.access, &json!({})).await.problem(409, "not_open");

        // All three parties hear of it.
        for who in [&w.seller, &w.buyer, &w.broker] {
            assert_eq!(ctx.mail_count(&who.email, "deal_stage_changed"), 1, "{}", who.email);
        }
        for hook in &w.hooks {
            assert_eq!(ctx.mail_count(hook, "deal.stage_changed"), 1);
        }
        let events = ctx.deal_events(&res.json(), &w.seller.access).await;
        let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["created", "accepted", "accepted", "stage_changed"]);
        assert_eq!(events[0]["actor_organization_id"], w.broker_org.as_str());
        // Every party lists it.
        for who in [&w.seller, &w.buyer, &w.broker] {
            assert_eq!(ctx.get_as("/api/v1/deals", &who.access).await.ok()["total"], 1);
        }
    }

    async fn illegal_transitions_and_preconditions(backend) {
        let ctx = start(backend).await;
        let w = world(&ctx).await;
        let deal = ctx.accepted_deal(&w).await;
        let res = ctx.move_deal(&deal, &w.buyer.access, json!({"to": "signed"})).await;
        let problem = res.problem(409, "invalid_transition");
        assert_eq!(problem["allowed"], json!(["negotiating", "cancelled"]));
        assert!(problem["detail"].as_str().unwrap().contains("allowed: negotiating, cancelled"), "{problem}");
        let uri = format!("/api/v1/deals/{}/transitions", id(&deal));
        ctx.send(Method::POST, &uri, Some(&w.buyer.access), None, Some(&json!({"to": "negotiating"})))
            .await
            .problem(428, "precondition_required");
        ctx.send(Method::POST, &uri, Some(&w.buyer.access), Some("\"1\""), Some(&json!({"to": "negotiating"})))
            .await
            .problem(412, "precondition_failed");
        ctx.move_deal(&deal, &w.buyer.access, json!({"to": "negotiating", "owner": "x"}))
            .await
            .problem(400, "validation_failed");
        ctx.move_deal(&deal, &w.buyer.access, json!({"to": "negotiating", "final_price": 5}))
            .await
            .invalid_field("final_price");
        let res = ctx.move_deal(&deal, &w.buyer.access, json!({"to": "cancelled", "reason": "  "})).await;
        let detail = res.problem(409, "transition_conditions_unmet")["detail"].as_str().unwrap().to_owned();
        assert!(detail.contains("a reason is required"), "{detail}");
        // Signing confirmations belong to contracting.
        ctx.post_as(&format!("/api/v1/deals/{}/signing-confirmation", id(&deal)), &w.buyer.access, &json!({}))
            .await
            .problem(409, "not_contracting");
        let res = ctx.move_deal(&deal, &w.buyer.access, json!({"to": "cancelled", "reason": "Ngân sách bị cắt"})).await;
        assert_eq!(res.status, 200, "{}", res.text());
        let cancelled = res.json();
        assert_eq!(cancelled["stage"], "cancelled");
        assert_eq!(cancelled["cancel_reason"], "Ngân sách bị cắt");
        let problem = ctx.move_deal(&cancelled, &w.buyer.access, json!({"to": "open"})).await.problem(409, "invalid_transition");
        assert_eq!(problem["allowed"], json!([]));
        // Once cancelled, the enquiry can lead to a new deal, but only one live at a time;
        // an Idempotency-Key retry answers with the first deal instead of refusing.
        let inquiry = cancelled["inquiry_id"].clone();
        let create = |key: &'static str| {
            let body = json!({"inquiry_id": inquiry, "terms": terms()});
            let req = actix_web::test::TestRequest::post()
                .uri("/api/v1/deals")
                .insert_header(("Authorization", format!("Bearer {}", w.buyer.access)))
                .insert_header(("Idempotency-Key", key))
                .set_json(body);
            ctx.call(req)
        };
        let again = create("k-1").await;
        assert_eq!(again.status, 201, "{}", again.text());
        assert!(again.json()["buyer_accepted_at"].is_string(), "the buyer created it this time");
        let replay = create("k-1").await;
        assert_eq!(replay.status, 201, "{}", replay.text());
        assert_eq!(replay.header("idempotent-replayed"), Some("true"));
        assert_eq!(replay.json()["id"], again.json()["id"]);
        create("k-2").await.problem(409, "deal_exists");
        let events = ctx.deal_events(&cancelled, &w.buyer.access).await;
        let stage_events = events.iter().filter(|e| e["kind"] == "stage_changed").count();
        assert_eq!(stage_events, 1, "refused transitions leave no event");
        assert_eq!(events.last().unwrap()["after"]["reason"], "Ngân sách bị cắt");
    }

    async fn permission_matrix_on_every_deal_and_enquiry_endpoint(backend) {
        let ctx = start(backend).await;
        let w = world(&ctx).await;
        let deal = ctx.accepted_deal(&w).await;
        let inquiry = deal["inquiry_id"].as_str().unwrap().to_owned();
        let d = id(&deal);
        let etag = etag_of(&deal);
        let endpoints: Vec<(Method, String, Option<Value>)> = vec![
            (Method::GET, format!("/api/v1/deals/{d}"), None),
            (Method::PATCH, format!("/api/v1/deals/{d}"), Some(json!({"price": 1}))),
            (Method::PUT, format!("/api/v1/deals/{d}/checklist/object"), Some(json!({"ticked": true}))),
            (Method::POST, format!("/api/v1/deals/{d}/accept"), Some(json!({}))),
            (Method::POST, format!("/api/v1/deals/{d}/signing-confirmation"), Some(json!({}))),
            (Method::POST, format!("/api/v1/deals/{d}/transitions"), Some(json!({"to": "negotiating"}))),
            (Method::POST, format!("/api/v1/deals/{d}/notes"), Some(json!({"note": "Xin chào"}))),
            (Method::POST, format!("/api/v1/deals/{d}/documents"), Some(json!({"title": "Hợp đồng", "url": "https://tailieu.vn/hd.pdf"}))),
            (Method::GET, format!("/api/v1/deals/{d}/events?kind=document_link"), None),
            (Method::GET, format!("/api/v1/deals/{d}/events"), None),
            (Method::GET, format!("/api/v1/inquiries/{inquiry}"), None),
            (Method::POST, format!("/api/v1/inquiries/{inquiry}/messages"), Some(json!({"body": "Xin chào"}))),
            (Method::POST, format!("/api/v1/inquiries/{inquiry}/close"), Some(json!({}))),
        ];
        let before = snapshot(&ctx.db);
        for (method, uri, body) in &endpoints {
            let res = ctx.send(method.clone(), uri, None, Some(&etag), body.as_ref()).await;
            res.problem(401, "unauthorized");
            for who in [&w.outsider, &w.other_broker] {
                let res = ctx.send(method.clone(), uri, Some(&who.access), Some(&etag), body.as_ref()).await;
                res.problem(404, "not_found");
            }
        }
        // Staff read but do not act.
        for (method, uri, body) in &endpoints {
            let res = ctx.send(method.clone(), uri, Some(&w.moderator.access), Some(&etag), body.as_ref()).await;
            if *method == Method::GET {
                assert_eq!(res.status, 200, "{method} {uri}: {}", res.text());
            } else {
                res.problem(403, "forbidden");
            }
        }
        // The broker of another deal cannot broker this one's parties into a deal either
        // way: it is not a party, and its own listings show nothing.
        for who in [&w.outsider, &w.other_broker] {
            assert_eq!(ctx.get_as("/api/v1/deals", &who.access).await.ok()["total"], 0);
            assert_eq!(ctx.get_as("/api/v1/inquiries", &who.access).await.ok()["total"], 0);
            ctx.post_as("/api/v1/deals", &who.access, &json!({"inquiry_id": inquiry, "terms": terms()}))
                .await
                .problem(404, "not_found");
        }
        assert_eq!(snapshot(&ctx.db), before, "refused requests changed nothing");
        assert_eq!(ctx.get_as("/api/v1/deals", &w.moderator.access).await.ok()["total"], 1);
        // The buyer may not close the seller's enquiry.
        ctx.send(Method::POST, &format!("/api/v1/inquiries/{inquiry}/close"), Some(&w.buyer.access), Some("\"1\""), None)
            .await
            .problem(403, "forbidden");
        let read = ctx.get_as(&format!("/api/v1/inquiries/{inquiry}"), &w.seller.access).await.ok();
        let closed = ctx
            .send(Method::POST, &format!("/api/v1/inquiries/{inquiry}/close"), Some(&w.seller.access), Some(&etag_of(&read)), None)
            .await
            .ok();
        assert_eq!(closed["status"], "closed");
        ctx.post_as(&format!("/api/v1/inquiries/{inquiry}/messages"), &w.buyer.access, &json!({"body": "Còn đó không?"}))
            .await
            .problem(409, "inquiry_closed");
    }

    async fn twenty_concurrent_transitions_with_one_etag_let_exactly_one_win(backend) {
        let ctx = start(backend).await;
        let w = world(&ctx).await;
        let deal = ctx.accepted_deal(&w).await;
        let uri = format!("/api/v1/deals/{}/transitions", id(&deal));
        let etag = etag_of(&deal);
        let body = json!({"to": "negotiating"});
        let responses = futures_util::future::join_all((0..20).map(|i| {
            let token = if i % 2 == 0 { &w.buyer.access } else { &w.seller.access };
            ctx.send(Method::POST, &uri, Some(token), Some(&etag), Some(&body))
        }))
        .await;
        let statuses: Vec<u16> = responses.iter().map(|r| r.status.as_u16()).collect();
        assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
        for loser in responses.iter().filter(|r| r.status != 200) {
            loser.problem(412, "precondition_failed");
        }
        let events = ctx.deal_events(&deal, &w.buyer.access).await;
        assert_eq!(events.iter().filter(|e| e["kind"] == "stage_changed").count(), 1);
        assert_eq!(ctx.mail_count(&w.buyer.email, "deal_stage_changed"), 1);
        assert_eq!(ctx.mail_count(&w.hooks[0], "deal.stage_changed"), 1);
        let stored = ctx.get_as(&format!("/api/v1/deals/{}", id(&deal)), &w.seller.access).await.ok();
        assert_eq!(stored["stage"], "negotiating");
        assert_eq!(stored["version"], deal["version"].as_i64().unwrap() + 1);
    }

    async fn a_deal_is_read_in_one_statement_private_and_revalidated(backend) {
        let ctx = start(backend).await;
        let w = world(&ctx).await;
        let inquiry = ctx
            .post_as(&format!("/api/v1/technologies/{}/inquiries", w.listing), &w.buyer.access, &inquiry_body(&w.buyer_org))
            .await
            .ok();
        let deal = ctx
            .post_as("/api/v1/deals", &w.seller.access, &json!({"inquiry_id": inquiry["id"], "terms": terms()}))
            .await
            .ok();
        let uri = format!("/api/v1/deals/{}", id(&deal));

        // An enquiry's thread grows without its version changing: its ETag follows the body,
        // so the grown thread is never answered 304, while If-Match still reads the version.
        let enquiry = format!("/api/v1/inquiries/{}", id(&inquiry));
        let read = ctx.get_as(&enquiry, &w.buyer.access).await;
        let etag = read.header("etag").unwrap().to_owned();
        assert!(etag.starts_with(&format!("\"{}-", read.json()["version"])), "{etag}");
        assert_eq!(read.header("cache-control"), Some("private, no-store"));
        ctx.get_if(&enquiry, Some(&w.buyer.access), Some(&etag)).await.assert_not_modified(&etag, "private, no-store");
        let posted = ctx.post_as(&format!("{enquiry}/messages"), &w.buyer.access, &json!({"body": "Xin thêm tài liệu."})).await;
        assert_eq!(posted.status, 201, "{}", posted.text());
        let res = ctx.get_if(&enquiry, Some(&w.buyer.access), Some(&etag)).await;
        assert_eq!(res.status, 200, "a grown thread is never answered 304");
        assert_eq!(res.json()["version"], read.json()["version"]);
        assert_ne!(res.header("etag"), Some(etag.as_str()));

        let (res, statements) = ctx.counted_get(&uri, Some(&w.seller.access), None).await;
        assert_eq!(res.status, 200, "{}", res.text());
        assert_eq!(statements, 2, "the caller (one statement), the deal with its checklist (one)");
        assert_eq!(res.json()["checklist"].as_array().unwrap().len(), 9);
        assert_eq!(res.json()["checklist"][0]["item"], "object");
        assert_eq!(res.header("cache-control"), Some("private, no-store"));
        // The version, and a digest of the labels the deal shows (title, parties' names).
        let etag = res.header("etag").unwrap().to_owned();
        assert!(etag.starts_with("\"1-"), "{etag}");
        let (res, statements) = ctx.counted_get(&uri, Some(&w.seller.access), Some(&etag)).await;
        res.assert_not_modified(&etag, "private, no-store");
        assert_eq!(statements, 2);
        // Not a party: 404 whatever the ETag, never a 304.
        ctx.get_if(&uri, Some(&w.outsider.access), Some(&etag)).await.problem(404, "not_found");
        // A party renamed is a change the version does not count: the old ETag gets the new name.
        let org = format!("/api/v1/organizations/{}", w.buyer_org);
        let profile = ctx.get_as(&org, &w.buyer.access).await.ok();
        let renamed = ctx.send(Method::PATCH, &org, Some(&w.buyer.access), Some(&etag_of(&profile)),
            Some(&json!({"name": "Công ty Xanh (đổi tên)"}))).await;
        assert_eq!(renamed.status, 200, "{}", renamed.text());
        let res = ctx.get_if(&uri, Some(&w.seller.access), Some(&etag)).await;
        assert_eq!(res.status, 200, "a renamed party is never answered 304");
        assert_eq!(res.json()["buyer"]["name"], "Công ty Xanh (đổi tên)");
        assert_eq!(res.json()["version"], 1);
        let etag = res.header("etag").unwrap().to_owned();

        // A ticked checklist item is a change: the old ETag gets the new body.
        let ticked = ctx
            .authed(Method::PUT, &format!("{uri}/checklist/object"), &w.seller.access, Some(&json!({"ticked": true, "note": "Đã thống nhất"})))
            .await;
        assert_eq!(ticked.status, 200, "{}", ticked.text());
        let res = ctx.get_if(&uri, Some(&w.seller.access), Some(&etag)).await;
        assert_eq!(res.status, 200);
        assert_eq!(res.json()["checklist"][0]["ticked"], true);
        assert!(res.header("etag").unwrap().starts_with("\"2-"), "{:?}", res.header("etag"));
    }
}
