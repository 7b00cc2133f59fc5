//! Technology demands: lifecycle, validation, visibility (hidden organisation), If-Match,
//! idempotent creation; proposals with mails; explained matches in a known order, their
//! permission matrix, standing-match notifications once per pair, and dismissals — on both
//! backends.

use crate::common;

use actix_http::Request;
use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::Method;
use actix_web::test::TestRequest;
use common::*;
use diesel::prelude::*;
use serde_json::{Value, json};
use techx::auth::PlatformRole;
use techx::db::schema::{demands, match_notifications};
use techx::store::demands::Demand;
use techx::store::expiry::{self, ExpiryReport};

/// A buyer (enterprise) and a seller (research institute), each with an owner; an
/// unrelated enterprise; a broker; an intermediary that does not broker; a moderator.
struct World {
    buyer: Session,
    buyer_org: String,
    seller: Session,
    seller_org: String,
    outsider: Session,
    broker: Session,
    consultant: Session,
    moderator: Session,
}

async fn world<S, B>(ctx: &Ctx<S>) -> World
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let buyer = ctx.signup("mua@thanhhoafarm.vn").await;
    let buyer_org = ctx.create_org(&buyer, "Công ty CP Chăn nuôi Thanh Hóa", "enterprise").await;
    let seller = ctx.signup("ban@vienmoitruong.vn").await;
    let seller_org =
        ctx.create_org(&seller, "Viện Công nghệ Môi trường", "research_institute").await;
    let outsider = ctx.signup("khac@congty.vn").await;
    ctx.create_org(&outsider, "Công ty Khác", "enterprise").await;
    let intermediary = |name: &str, services: Value| json!({"name": name, "kind": "intermediary", "province": "thanh-hoa", "sectors": ["2.7"], "services": services});
    let broker = ctx.signup("moigioi@trungtam.vn").await;
    ctx.post_as(
        "/api/v1/organizations",
        &broker.access,
        &intermediary("Trung tâm Môi giới", json!(["brokering"])),
    )
    .await
    .ok();
    let consultant = ctx.signup("tuvan@tuvan.vn").await;
    ctx.post_as(
        "/api/v1/organizations",
        &consultant.access,
        &intermediary("Công ty Tư vấn", json!(["consulting"])),
    )
    .await
    .ok();
    let moderator = ctx.staff("kiemduyet@sokhcn.thanhhoa.gov.vn", PlatformRole::Moderator).await;
    World {
        buyer,
        buyer_org: buyer_org["id"].as_str().unwrap().to_owned(),
        seller,
        seller_org: seller_org["id"].as_str().unwrap().to_owned(),
        outsider,
        broker,
        consultant,
        moderator,
    }
}

fn demand_body(org: &str) -> Value {
    json!({
        "organization_id": org,
        "title": "Xử lý nước thải chăn nuôi",
        "problem": "Trang trại 2 000 con lợn cần xử lý nước thải đạt QCVN 62:2016.",
        "requirements": "Vận hành đơn giản, chi phí thấp.",
        "sectors": ["2.7"],
        "keywords": ["nước thải"],
        "trl_min": 6,
        "budget": {"min": 100000000, "max": 1000000000, "currency": "VND"},
        "transfer_forms": ["usage_licence"],
        "province": "thanh-hoa",
        "deadline": "2099-12-31",
        "language": "vi"
    })
}

fn uri(demand: &Value) -> String {
    format!("/api/v1/demands/{}", demand["id"].as_str().unwrap())
}

fn id(v: &Value) -> &str {
    v["id"].as_str().unwrap()
}

impl<S, B> Ctx<S>
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    async fn create_demand(&self, token: &str, body: &Value) -> Value {
        let res = self.post_as("/api/v1/demands", token, body).await;
        assert_eq!(res.status, 201, "{}", res.text());
        res.json()
    }

    async fn demand_action(
        &self,
        demand: &Value,
        action: &str,
        token: &str,
        body: Option<&Value>,
    ) -> Resp {
        let uri = format!("{}/{action}", uri(demand));
        self.send(Method::POST, &uri, Some(token), Some(&etag_of(demand)), body).await
    }

    async fn publish_demand(&self, owner: &Session, moderator: &Session, body: &Value) -> Value {
        let draft = self.create_demand(&owner.access, body).await;
        let pending = self.demand_action(&draft, "submit", &owner.access, None).await.ok();
        let approve = json!({"decision": "approve"});
        let published =
            self.demand_action(&pending, "review", &moderator.access, Some(&approve)).await.ok();
        assert_eq!(published["status"], "published");
        published
    }
}

fn count_demands(db: &TestDb) -> i64 {
    demands::table.count().get_result(&mut db.connect()).unwrap()
}

fn count_notifications(db: &TestDb) -> i64 {
    match_notifications::table.count().get_result(&mut db.connect()).unwrap()
}

/// A listing of the seller differing from the demand's wants only where told.
fn listing(
    org: &str,
    title: &str,
    sector: &str,
    trl: u8,
    price: i64,
    form: &str,
    province: &str,
) -> Value {
    let mut body = technology_body(org, title);
    body["sectors"] = json!([sector]);
    body["trl"] = json!(trl);
    body["price"] = json!({"min": price, "currency": "VND", "basis": "floor"});
    body["transfer_forms"] = json!([{"form": form}]);
    body["province"] = json!(province);
    body
}

backend_tests! {
    async fn lifecycle_if_match_and_idempotent_creation(backend) {
        let ctx = start(backend).await;
        let w = world(&ctx).await;
        let req = TestRequest::post()
            .uri("/api/v1/demands")
            .insert_header(("Authorization", format!("Bearer {}", w.buyer.access)))
            .insert_header(("Idempotency-Key", "demand-1"))
            .set_json(demand_body(&w.buyer_org));
        let first = ctx.call(req).await;
        assert_eq!(first.status, 201, "{}", first.text());
        assert_eq!(first.header("etag"), Some("\"1\""));
        let draft = first.json();
        assert_eq!(draft["status"], "draft");
        assert_eq!(draft["organization"]["id"], w.buyer_org.as_str());
        assert_eq!(draft["budget"]["max"], 1000000000);
        let again = ctx
            .call(
                TestRequest::post()
                    .uri("/api/v1/demands")
                    .insert_header(("Authorization", format!("Bearer {}", w.buyer.access)))
                    .insert_header(("Idempotency-Key", "demand-1"))
                    .set_json(demand_body(&w.buyer_org)),
            )
            .await;
        assert_eq!(again.status, 201);
        assert_eq!(again.header("idempotent-replayed"), Some("true"));
        assert_eq!(again.json()["id"], draft["id"]);
        assert_eq!(count_demands(&ctx.db), 1);

        // Drafts are invisible to others.
        ctx.get(&uri(&draft)).await.problem(404, "not_found");
        ctx.get_as(&uri(&draft), &w.outsider.access).await.problem(404, "not_found");
        ctx.get_as(&uri(&draft), &w.moderator.access).await.ok();
        // Not a member: cannot create for the organisation.
        ctx.post_as("/api/v1/demands", &w.outsider.access, &demand_body(&w.buyer_org)).await.problem(403, "forbidden");

        // If-Match: missing 428, stale 412.
        let submit = format!("{}/submit", uri(&draft));
        ctx.send(Method::POST, &submit, Some(&w.buyer.access), None, None).await.problem(428, "precondition_required");
        ctx.send(Method::POST, &submit, Some(&w.buyer.access), Some("\"7\""), None).await.problem(412, "precondition_failed");
        let pending = ctx.demand_action(&draft, "submit", &w.buyer.access, None).await.ok();
        assert_eq!(pending["status"], "pending_review");
        // Only staff review; a second submit is an invalid transition.
        ctx.demand_action(&pending, "review", &w.buyer.access, Some(&json!({"decision": "approve"}))).await.problem(403, "forbidden");
        ctx.demand_action(&pending, "submit", &w.buyer.access, None).await.problem(409, "invalid_transition");
        let rejected = ctx
            .demand_action(&pending, "review", &w.moderator.access, Some(&json!({"decision": "reject", "reason": "Thiếu ngân sách."})))
            .await
            .ok();
        assert_eq!(rejected["status"], "rejected");
        assert_eq!(rejected["rejection_reason"], "Thiếu ngân sách.");
        assert_eq!(ctx.mail_context(&w.buyer.email, "demand_rejected")["reason"], "Thiếu ngân sách.");
        assert_eq!(ctx.mail_count(&w.buyer.email, "demand_published"), 0);
        // Editing a rejected demand makes it a draft again.
        let edited = ctx
            .send(Method::PATCH, &uri(&rejected), Some(&w.buyer.access), Some(&etag_of(&rejected)), Some(&json!({"trl_min": null, "title": "Xử lý nước thải chăn nuôi lợn"})))
            .await
            .ok();
        assert_eq!(edited["status"], "draft");
        assert_eq!(edited["trl_min"], Value::Null);
        let pending = ctx.demand_action(&edited, "submit", &w.buyer.access, None).await.ok();
        let published = ctx.demand_action(&pending, "review", &w.moderator.access, Some(&json!({"decision": "approve"}))).await.ok();
        assert_eq!(published["status"], "published");
        assert!(published["expires_at"].is_string());
        assert_eq!(ctx.mail_count(&w.buyer.email, "demand_published"), 1);
        assert_eq!(ctx.mail_context(&w.buyer.email, "demand_published")["demand_path"], format!("/demands/{}", id(&published)));
        // Public now, and found by folded text.
        ctx.get(&uri(&published)).await.ok();
        let found = ctx.get("/api/v1/demands?q=nuoc%20thai%20chan%20nuoi").await.ok();
        assert_eq!(found["total"], 1);
        assert_eq!(found["items"][0]["id"], published["id"]);
        assert!(found["items"][0]["snippet"].as_str().unwrap().contains("<mark>"));
        assert_eq!(ctx.get("/api/v1/demands?q=lua%20gao").await.ok()["total"], 0);
        // Facets over the result, from the same request.
        let faceted = ctx.get("/api/v1/demands?q=nuoc%20thai&facets=province,sector,transfer_form").await.ok();
        assert_eq!(faceted["facets"]["province"], json!({"thanh-hoa": 1}));
        assert_eq!(faceted["facets"]["sector"], json!({"2": 1, "2.7": 1}));
        assert_eq!(faceted["facets"]["transfer_form"], json!({"usage_licence": 1}));
        // Renew keeps it published; deleting what was ever submitted archives it; archive is
        // final.
        let renewed = ctx.demand_action(&published, "renew", &w.buyer.access, None).await.ok();
        assert_eq!(ctx.mail_count(&w.buyer.email, "demand_published"), 1, "renewal is not a publication");
        let res = ctx.send(Method::DELETE, &uri(&renewed), Some(&w.buyer.access), Some(&etag_of(&renewed)), None).await;
        assert_eq!(res.status, 204, "{}", res.text());
        let archived = ctx.get_as(&uri(&renewed), &w.buyer.access).await.ok();
        assert_eq!(archived["status"], "archived");
        ctx.demand_action(&archived, "archive", &w.buyer.access, None).await.problem(409, "invalid_transition");
        ctx.get(&uri(&archived)).await.problem(404, "not_found");
        ctx.demand_action(&archived, "renew", &w.buyer.access, None).await.problem(409, "invalid_transition");

        let other = ctx.create_demand(&w.buyer.access, &demand_body(&w.buyer_org)).await;
        ctx.send(Method::DELETE, &uri(&other), Some(&w.outsider.access), Some(&etag_of(&other)), None).await.problem(404, "not_found");
        let res = ctx.send(Method::DELETE, &uri(&other), Some(&w.buyer.access), Some(&etag_of(&other)), None).await;
        assert_eq!(res.status, 204);
        assert_eq!(count_demands(&ctx.db), 1);
    }

    async fn demands_expire_like_listings_warning_once_then_archiving(backend) {
        let ctx = start_with(backend, |c| c.listing_validity_days = 30).await;
        let w = world(&ctx).await;
        let first = ctx.publish_demand(&w.buyer, &w.moderator, &demand_body(&w.buyer_org)).await;
        let mut body = demand_body(&w.buyer_org);
        body["title"] = json!("Gia hạn nhu cầu");
        let second = ctx.publish_demand(&w.buyer, &w.moderator, &body).await;
        let base = techx::db::types::now();
        let run = |days: i64| expiry::run::<Demand>(&mut ctx.db.connect(), base + chrono::Duration::days(days), 30).unwrap();

        assert_eq!(run(10), ExpiryReport { warned: 0, archived: 0 }, "more than 14 days left");
        assert_eq!(run(20), ExpiryReport { warned: 2, archived: 0 });
        assert_eq!(ctx.mail_count(&w.buyer.email, "demand_expiring"), 2);
        assert_eq!(ctx.mail_count(&w.buyer.email, "listing_expiring"), 0, "a demand's own mail");
        let mail = ctx.mail_context(&w.buyer.email, "demand_expiring");
        assert_eq!(mail["days_left"], 10);
        assert_eq!(mail["renewal_days"], 30);
        assert!(mail["expires_at"].is_string());
        assert!(mail["demand_path"].as_str().unwrap().starts_with("/demands/"));
        assert_eq!(run(20), ExpiryReport::default(), "warned once");
        assert_eq!(ctx.mail_count(&w.buyer.email, "demand_expiring"), 2);

        // Renewing re-arms the warning for the new period.
        let renewed = ctx.demand_action(&second, "renew", &w.buyer.access, None).await.ok();
        assert_eq!(run(20), ExpiryReport { warned: 1, archived: 0 });
        assert_eq!(ctx.mail_count(&w.buyer.email, "demand_expiring"), 3);

        // Past the end: archived, owners mailed, gone from the public.
        assert_eq!(run(40), ExpiryReport { warned: 0, archived: 2 });
        assert_eq!(ctx.mail_count(&w.buyer.email, "demand_expired"), 2);
        let expired = ctx.mail_context(&w.buyer.email, "demand_expired");
        assert!(expired["expired_at"].is_string() && expired["title"].is_string());
        ctx.get(&uri(&first)).await.problem(404, "not_found");
        let gone = ctx.get_as(&uri(&renewed), &w.buyer.access).await.ok();
        assert_eq!(gone["status"], "archived");
        assert_eq!(gone["version"], renewed["version"].as_i64().unwrap() + 1);
        assert_eq!(run(40), ExpiryReport::default());

        // Two processes running the job at once act on each demand once.
        for _ in 0..3 {
            ctx.publish_demand(&w.buyer, &w.moderator, &demand_body(&w.buyer_org)).await;
        }
        let db = &ctx.db;
        let reports: Vec<ExpiryReport> = std::thread::scope(|s| {
            let jobs: Vec<_> = (0..2)
                .map(|_| s.spawn(move || expiry::run::<Demand>(&mut db.connect(), base + chrono::Duration::days(40), 30).unwrap()))
                .collect();
            jobs.into_iter().map(|j| j.join().unwrap()).collect()
        });
        assert_eq!(reports.iter().map(|r| r.archived).sum::<usize>(), 3, "{reports:?}");
        assert_eq!(ctx.mail_count(&w.buyer.email, "demand_expired"), 5);
        let archived: i64 = demands::table.filter(demands::status.eq("archived")).count().get_result(&mut ctx.db.connect()).unwrap();
        assert_eq!(archived, 5);
    }

    async fn validation_names_every_bad_field(backend) {
        let ctx = start(backend).await;
        let w = world(&ctx).await;
        let mut body = demand_body(&w.buyer_org);
        body["title"] = json!("  ");
        body["sectors"] = json!(["9.9"]);
        body["trl_min"] = json!(10);
        body["budget"] = json!({"min": 5, "max": 1, "currency": "XYZ"});
        body["transfer_forms"] = json!(["barter"]);
        body["province"] = json!("sai-gon");
        body["deadline"] = json!("2020-01-01");
        let res = ctx.post_as("/api/v1/demands", &w.buyer.access, &body).await;
        for field in ["title", "sectors[0]", "trl_min", "budget.currency", "budget.min", "transfer_forms[0]", "province", "deadline"] {
            res.invalid_field(field);
        }
        let mut body = demand_body(&w.buyer_org);
        body["status"] = json!("published");
        let res = ctx.post_as("/api/v1/demands", &w.buyer.access, &body).await;
        assert_eq!(res.status, 400, "{}", res.text());
        assert_eq!(count_demands(&ctx.db), 0);
    }

    async fn a_hidden_organisation_is_shown_only_to_its_members_and_staff(backend) {
        let ctx = start(backend).await;
        let w = world(&ctx).await;
        let mut body = demand_body(&w.buyer_org);
        body["hide_organization"] = json!(true);
        let demand = ctx.publish_demand(&w.buyer, &w.moderator, &body).await;
        let public = ctx.get(&uri(&demand)).await.ok();
        assert_eq!(public["organization"], Value::Null);
        assert_eq!(public["hide_organization"], true);
        assert_eq!(ctx.get_as(&uri(&demand), &w.outsider.access).await.ok()["organization"], Value::Null);
        assert_eq!(ctx.get_as(&uri(&demand), &w.buyer.access).await.ok()["organization"]["id"], w.buyer_org.as_str());
        assert_eq!(ctx.get_as(&uri(&demand), &w.moderator.access).await.ok()["organization"]["id"], w.buyer_org.as_str());
        // The list hides it too, and filtering by organisation does not reveal it.
        let list = ctx.get("/api/v1/demands").await.ok();
        assert_eq!(list["total"], 1);
        assert_eq!(list["items"][0]["organization"], Value::Null);
        // The same request from a member, after an anonymous page for it was kept: their
        // own view, never the page kept for everybody.
        let own = ctx.get_as("/api/v1/demands", &w.buyer.access).await.ok();
        assert_eq!(own["items"][0]["organization"]["id"], w.buyer_org.as_str());
        let by_org = format!("/api/v1/demands?organization_id={}", w.buyer_org);
        assert_eq!(ctx.get(&by_org).await.ok()["total"], 0);
        assert_eq!(ctx.get_as(&by_org, &w.buyer.access).await.ok()["total"], 1);
        // The demands of the seller side's matches hide it as well.
        let tech = ctx
            .publish_technology(&w.seller, &w.moderator, &listing(&w.seller_org, "Xử lý nước thải chăn nuôi", "2.7", 7, 1, "usage_licence", "thanh-hoa"))
            .await;
        let matches = ctx.get_as(&format!("/api/v1/technologies/{}/matches", id(&tech)), &w.seller.access).await.ok();
        assert_eq!(matches["total"], 1);
        assert_eq!(matches["items"][0]["demand"]["organization"], Value::Null);
    }

    async fn proposals_are_decided_by_the_demand_owner_and_mailed(backend) {
        let ctx = start(backend).await;
        let w = world(&ctx).await;
        let demand = ctx.publish_demand(&w.buyer, &w.moderator, &demand_body(&w.buyer_org)).await;
        let proposals = format!("{}/proposals", uri(&demand));
        let tech = ctx.publish_technology(&w.seller, &w.moderator, &technology_body(&w.seller_org, "Lọc sinh học")).await;
        let proposal = json!({
            "organization_id": w.seller_org, "technology_id": id(&tech),
            "approach": "Hệ thống biogas kết hợp lọc sinh học.", "price": {"amount": 600000000, "currency": "VND"},
            "timeline_months": 4, "message": "Xin được trao đổi thêm."
        });
        // Not a member of the offering organisation; the demand's own organisation.
        ctx.post_as(&proposals, &w.outsider.access, &proposal).await.problem(403, "forbidden");
        let mut own = proposal.clone();
        own["organization_id"] = json!(w.buyer_org);
        own["technology_id"] = Value::Null;
        ctx.post_as(&proposals, &w.buyer.access, &own).await.problem(403, "forbidden");
        // A technology of another organisation; an empty approach.
        let mut bad = proposal.clone();
        bad["technology_id"] = json!(uuid::Uuid::now_v7().to_string());
        ctx.post_as(&proposals, &w.seller.access, &bad).await.invalid_field("technology_id");
        let mut bad = proposal.clone();
        bad["approach"] = json!(" ");
        ctx.post_as(&proposals, &w.seller.access, &bad).await.invalid_field("approach");
        assert_eq!(ctx.mail_count(&w.buyer.email, "proposal_received"), 0);

        let first = ctx.post_as(&proposals, &w.seller.access, &proposal).await;
        assert_eq!(first.status, 201, "{}", first.text());
        let first = first.json();
        assert_eq!(first["status"], "pending");
        assert_eq!(ctx.mail_count(&w.buyer.email, "proposal_received"), 1);
        assert_eq!(ctx.mail_context(&w.buyer.email, "proposal_received")["organization_name"], "Viện Công nghệ Môi trường");
        let mut second = proposal.clone();
        second["technology_id"] = Value::Null;
        let second = ctx.post_as(&proposals, &w.seller.access, &second).await.ok();

        // Listing: the owner sees all, the proposer its own, an outsider none.
        assert_eq!(ctx.get_as(&proposals, &w.buyer.access).await.ok()["total"], 2);
        assert_eq!(ctx.get_as(&proposals, &w.seller.access).await.ok()["total"], 2);
        assert_eq!(ctx.get_as(&proposals, &w.outsider.access).await.ok()["total"], 0);

        // Only the demand's owner decides; If-Match is required.
        let accept = format!("{proposals}/{}/accept", id(&first));
        ctx.send(Method::POST, &accept, Some(&w.seller.access), Some(&etag_of(&first)), None).await.problem(403, "forbidden");
        ctx.send(Method::POST, &accept, Some(&w.buyer.access), None, None).await.problem(428, "precondition_required");
        let accepted = ctx.send(Method::POST, &accept, Some(&w.buyer.access), Some(&etag_of(&first)), None).await.ok();
        assert_eq!(accepted["status"], "accepted");
        assert_eq!(ctx.mail_count(&w.seller.email, "proposal_accepted"), 1);
        assert_eq!(ctx.mail_count(&w.buyer.email, "proposal_accepted"), 1);
        assert_eq!(ctx.mail_context(&w.seller.email, "proposal_accepted")["demand_title"], "Xử lý nước thải chăn nuôi");
        ctx.send(Method::POST, &accept, Some(&w.buyer.access), Some(&etag_of(&accepted)), None).await.problem(409, "already_decided");

        let decline = format!("{proposals}/{}/decline", id(&second));
        let declined = ctx.send(Method::POST, &decline, Some(&w.buyer.access), Some(&etag_of(&second)), None).await.ok();
        assert_eq!(declined["status"], "declined");
        assert_eq!(ctx.mail_count(&w.seller.email, "proposal_declined"), 1);
        assert_eq!(ctx.mail_count(&w.buyer.email, "proposal_declined"), 1);
        assert_eq!(ctx.mail_count(&w.seller.email, "proposal_accepted"), 1);

        // Drafts take no proposals and stay invisible.
        let draft = ctx.create_demand(&w.buyer.access, &demand_body(&w.buyer_org)).await;
        ctx.post_as(&format!("{}/proposals", uri(&draft)), &w.seller.access, &proposal).await.problem(404, "not_found");
    }

    async fn the_proposer_withdraws_a_pending_proposal_and_the_owner_is_mailed(backend) {
        let ctx = start(backend).await;
        let w = world(&ctx).await;
        let demand = ctx.publish_demand(&w.buyer, &w.moderator, &demand_body(&w.buyer_org)).await;
        let proposals = format!("{}/proposals", uri(&demand));
        let body = json!({"organization_id": w.seller_org, "approach": "Lọc sinh học hai bậc."});
        let pending = ctx.post_as(&proposals, &w.seller.access, &body).await.ok();
        let other = ctx.post_as(&proposals, &w.seller.access, &body).await.ok();
        let withdraw = |p: &Value| format!("{proposals}/{}/withdraw", id(p));

        // Anonymous 401; an outsider does not learn it exists; the demand's owner may not.
        ctx.send(Method::POST, &withdraw(&pending), None, Some(&etag_of(&pending)), None).await.problem(401, "unauthorized");
        ctx.send(Method::POST, &withdraw(&pending), Some(&w.outsider.access), Some(&etag_of(&pending)), None).await.problem(404, "not_found");
        ctx.send(Method::POST, &withdraw(&pending), Some(&w.buyer.access), Some(&etag_of(&pending)), None).await.problem(403, "forbidden");
        ctx.send(Method::POST, &withdraw(&pending), Some(&w.moderator.access), Some(&etag_of(&pending)), None).await.problem(403, "forbidden");
        let unknown = format!("{proposals}/{}/withdraw", uuid::Uuid::now_v7());
        ctx.send(Method::POST, &unknown, Some(&w.seller.access), Some("\"1\""), None).await.problem(404, "not_found");
        // If-Match is required and must be current.
        ctx.send(Method::POST, &withdraw(&pending), Some(&w.seller.access), None, None).await.problem(428, "precondition_required");
        ctx.send(Method::POST, &withdraw(&pending), Some(&w.seller.access), Some("\"7\""), None).await.problem(412, "precondition_failed");
        assert_eq!(ctx.mail_count(&w.buyer.email, "proposal_withdrawn"), 0);

        let res = ctx.send(Method::POST, &withdraw(&pending), Some(&w.seller.access), Some(&etag_of(&pending)), None).await;
        assert_eq!(res.header("etag"), Some("\"2\""));
        let withdrawn = res.ok();
        assert_eq!(withdrawn["status"], "withdrawn");
        assert_eq!(withdrawn["version"], 2);
        assert_eq!(ctx.mail_count(&w.buyer.email, "proposal_withdrawn"), 1);
        assert_eq!(ctx.mail_count(&w.seller.email, "proposal_withdrawn"), 0, "the proposer knows");
        let mail = ctx.mail_context(&w.buyer.email, "proposal_withdrawn");
        assert_eq!(mail["organization_name"], "Viện Công nghệ Môi trường");
        assert_eq!(mail["proposal_path"], format!("/demands/{}/proposals/{}", id(&demand), id(&pending)));

        // Withdrawn is final: neither accepted, declined nor withdrawn again.
        for action in ["accept", "decline"] {
            let uri = format!("{proposals}/{}/{action}", id(&pending));
            ctx.send(Method::POST, &uri, Some(&w.buyer.access), Some(&etag_of(&withdrawn)), None).await.problem(409, "already_decided");
        }
        ctx.send(Method::POST, &withdraw(&pending), Some(&w.seller.access), Some(&etag_of(&withdrawn)), None).await.problem(409, "already_decided");
        let listed = ctx.get_as(&proposals, &w.buyer.access).await.ok();
        assert_eq!(listed["items"][0]["status"], "withdrawn");
        assert_eq!(listed["items"][1]["status"], "pending");

        // A decided proposal cannot be withdrawn.
        let accepted = ctx.send(Method::POST, &format!("{proposals}/{}/accept", id(&other)), Some(&w.buyer.access), Some(&etag_of(&other)), None).await.ok();
        ctx.send(Method::POST, &withdraw(&other), Some(&w.seller.access), Some(&etag_of(&accepted)), None).await.problem(409, "already_decided");
        assert_eq!(ctx.mail_count(&w.buyer.email, "proposal_withdrawn"), 1);
    }

    async fn matches_rank_a_known_catalogue_and_explain_themselves(backend) {
        let ctx = start(backend).await;
        let w = world(&ctx).await;
        let title = "Công nghệ xử lý nước thải chăn nuôi";
        // Same text; then worse province; worse sector and TRL; worse on everything but text.
        let a = ctx.publish_technology(&w.seller, &w.moderator, &listing(&w.seller_org, title, "2.7", 7, 500000000, "usage_licence", "thanh-hoa")).await;
        let b = ctx.publish_technology(&w.seller, &w.moderator, &listing(&w.seller_org, title, "2.7", 7, 500000000, "usage_licence", "ha-noi")).await;
        let c = ctx.publish_technology(&w.seller, &w.moderator, &listing(&w.seller_org, title, "2.4", 4, 500000000, "usage_licence", "thanh-hoa")).await;
        let d = ctx.publish_technology(&w.seller, &w.moderator, &listing(&w.seller_org, title, "4.1", 3, 5000000000, "ownership_assignment", "can-tho")).await;
        // No shared word: not a candidate. The buyer's own listing: never its own match.
        ctx.publish_technology(&w.seller, &w.moderator, &listing(&w.seller_org, "Giống lúa chịu mặn", "4.1", 7, 1, "usage_licence", "thanh-hoa")).await;
        let own = ctx.publish_technology(&w.buyer, &w.moderator, &listing(&w.buyer_org, title, "2.7", 7, 1, "usage_licence", "thanh-hoa")).await;
        assert_eq!(count_notifications(&ctx.db), 0, "no published demand yet");

        let demand = ctx.publish_demand(&w.buyer, &w.moderator, &demand_body(&w.buyer_org)).await;
        let matches = ctx.get_as(&format!("{}/matches?lang=en", uri(&demand)), &w.buyer.access).await.ok();
        assert_eq!(matches["total"], 4, "{matches}");
        let order: Vec<&str> = matches["items"].as_array().unwrap().iter().map(|m| m["technology"]["id"].as_str().unwrap()).collect();
        assert_eq!(order, [id(&a), id(&b), id(&c), id(&d)]);
        assert!(!order.contains(&id(&own)));
        let scores: Vec<u64> = matches["items"].as_array().unwrap().iter().map(|m| m["score"].as_u64().unwrap()).collect();
        // text 30 + sector 25 + TRL 15 + price 10 + form 10 + place 10; B loses the province
        // (another region), C half the sector and a quarter per missing TRL level, D nearly all.
        assert_eq!(scores, [100, 90, 80, 36]);
        let reasons = |i: usize| -> Vec<String> {
            matches["items"][i]["contributions"].as_array().unwrap().iter().map(|c| c["reason"].as_str().unwrap().to_owned()).collect()
        };
        assert_eq!(reasons(0), ["Text relevance 100%", "Same sub-field: Environmental engineering", "TRL 7 meets the minimum 6", "Price within the budget", "Offers: Licence of usage rights", "Same province"]);
        assert_eq!(reasons(1)[5], "Different region");
        assert_eq!(reasons(2)[1], "Same field: Engineering and technology");
        assert_eq!(reasons(2)[2], "TRL 4 is below the minimum 6");
        assert_eq!(reasons(3)[3], "Price above the budget");
        assert_eq!(reasons(3)[4], "Wanted transfer form not offered");
        let criteria: Vec<&str> = matches["items"][0]["contributions"].as_array().unwrap().iter().map(|c| c["criterion"].as_str().unwrap()).collect();
        assert_eq!(criteria, ["text_relevance", "sector", "trl", "price", "transfer_form", "location"]);
        // Each criterion and verdict keeps its code for programs beside the words for people.
        let field = |i: usize, name: &str| -> Vec<String> {
            matches["items"][i]["contributions"].as_array().unwrap().iter().map(|c| c[name].as_str().unwrap().to_owned()).collect()
        };
        assert_eq!(field(0, "label"), ["Text relevance", "Sector", "Technology readiness (TRL)", "Price against the budget", "Transfer form", "Location"]);
        assert_eq!(field(0, "reason_code"), ["text_relevance", "same_sub_field", "trl_meets_minimum", "price_within_budget", "form_offered", "same_province"]);
        assert_eq!(field(3, "reason_code")[3..5], ["price_above_budget", "form_not_offered"]);
        // Vietnamese by default, with names where codes were.
        let vi = ctx.get_as(&format!("{}/matches", uri(&demand)), &w.buyer.access).await.ok();
        let sector = &vi["items"][0]["contributions"][1];
        assert_eq!((sector["label"].as_str(), sector["reason"].as_str()), (Some("Lĩnh vực"), Some("Cùng lĩnh vực con Kỹ thuật môi trường")));
        let form = &vi["items"][0]["contributions"][4];
        assert_eq!(form["reason"], "Có hình thức Chuyển giao quyền sử dụng công nghệ (li-xăng)");
        assert_eq!((form["label"].as_str(), form["reason_code"].as_str()), (Some("Hình thức chuyển giao"), Some("form_offered")));
        // Paginated.
        let page2 = ctx.get_as(&format!("{}/matches?per_page=3&page=2", uri(&demand)), &w.buyer.access).await.ok();
        assert_eq!(page2["total"], 4);
        assert_eq!(page2["items"][0]["technology"]["id"], id(&d));

        // The seller's side sees the demand.
        let back = ctx.get_as(&format!("/api/v1/technologies/{}/matches?lang=en", id(&a)), &w.seller.access).await.ok();
        assert_eq!(back["total"], 1);
        assert_eq!(back["items"][0]["demand"]["id"], demand["id"]);
        assert_eq!(back["items"][0]["score"], 100);

        // The API's order is the exhaustive scoring of every listing sharing a word.
        let demand_id = techx::db::types::DemandId::from(uuid::Uuid::parse_str(id(&demand)).unwrap());
        let stored = techx::store::demands::get(&mut ctx.db.connect(), demand_id).unwrap();
        let all = techx::search::matching::for_demand_exhaustive(&mut ctx.db.connect(), &ctx.state.search, &stored).unwrap();
        let all: Vec<String> = all.iter().map(|(id, _)| id.to_string()).collect();
        assert_eq!(all, [id(&a), id(&b), id(&c), id(&d)]);
    }

    async fn a_barely_related_listing_cannot_ride_on_the_other_criteria(backend) {
        let ctx = start(backend).await;
        let w = world(&ctx).await;
        // Both meet every other criterion in full (70 points); the second shares only the
        // common words "xử lý" with the demand ("Xử lý nước thải chăn nuôi").
        let best = ctx.publish_technology(&w.seller, &w.moderator, &listing(&w.seller_org, "Xử lý nước thải chăn nuôi bằng biogas", "2.7", 7, 500000000, "usage_licence", "thanh-hoa")).await;
        let weak = ctx.publish_technology(&w.seller, &w.moderator, &listing(&w.seller_org, "Máy xử lý hạt giống lúa", "2.7", 7, 500000000, "usage_licence", "thanh-hoa")).await;
        let demand = ctx.publish_demand(&w.buyer, &w.moderator, &demand_body(&w.buyer_org)).await;
        let matches = ctx.get_as(&format!("{}/matches?lang=en", uri(&demand)), &w.buyer.access).await.ok();
        assert_eq!(matches["items"][0]["technology"]["id"], best["id"]);
        assert_eq!(matches["items"][0]["score"], 100);
        assert_eq!(matches["items"][1]["technology"]["id"], weak["id"]);
        let score = matches["items"][1]["score"].as_u64().unwrap();
        let text = matches["items"][1]["contributions"][0]["points"].as_f64().unwrap();
        assert!(text < 15.0, "barely related: {text} of 30 text points");
        assert!(score < 50, "scaled by relevance, not 70 + {text}: {score}");
    }

    async fn standing_matches_are_notified_once_per_pair(backend) {
        let ctx = start(backend).await;
        let w = world(&ctx).await;
        let title = "Công nghệ xử lý nước thải chăn nuôi";
        ctx.publish_technology(&w.seller, &w.moderator, &listing(&w.seller_org, title, "2.7", 7, 500000000, "usage_licence", "thanh-hoa")).await;
        ctx.publish_technology(&w.seller, &w.moderator, &listing(&w.seller_org, title, "2.4", 4, 500000000, "usage_licence", "thanh-hoa")).await;
        // Scores 36: below the default threshold of 60.
        ctx.publish_technology(&w.seller, &w.moderator, &listing(&w.seller_org, title, "4.1", 3, 5000000000, "ownership_assignment", "can-tho")).await;
        let demand = ctx.publish_demand(&w.buyer, &w.moderator, &demand_body(&w.buyer_org)).await;
        assert_eq!(count_notifications(&ctx.db), 2);
        assert_eq!(ctx.mail_count(&w.buyer.email, "match_found"), 2);
        assert_eq!(ctx.mail_count(&w.seller.email, "match_found"), 2);
        let mail = ctx.mail_context(&w.buyer.email, "match_found");
        assert_eq!(mail["own_title"], "Xử lý nước thải chăn nuôi");
        assert_eq!(mail["matches_path"], format!("/demands/{}/matches", id(&demand)));

        // Re-publishing (edit, review again) re-runs matching without notifying anyone again.
        let edited = ctx
            .send(Method::PATCH, &uri(&demand), Some(&w.buyer.access), Some(&etag_of(&demand)), Some(&json!({"requirements": "Vận hành tự động."})))
            .await
            .ok();
        assert_eq!(edited["status"], "pending_review");
        ctx.demand_action(&edited, "review", &w.moderator.access, Some(&json!({"decision": "approve"}))).await.ok();
        assert_eq!(count_notifications(&ctx.db), 2);
        assert_eq!(ctx.mail_count(&w.buyer.email, "match_found"), 2);
        assert_eq!(ctx.mail_total("match_found"), 4);

        // A newly published technology notifies its own new pair only.
        let e = ctx.publish_technology(&w.seller, &w.moderator, &listing(&w.seller_org, title, "2.7", 9, 1, "usage_licence", "thanh-hoa")).await;
        assert_eq!(count_notifications(&ctx.db), 3);
        assert_eq!(ctx.mail_count(&w.buyer.email, "match_found"), 3);
        assert_eq!(ctx.mail_count(&w.seller.email, "match_found"), 3);
        let mail = ctx.mail_context(&w.seller.email, "match_found");
        assert_eq!(mail["matches_path"], format!("/technologies/{}/matches", id(&e)));
        assert_eq!(mail["score"], 100);
    }

    async fn the_matches_permission_matrix(backend) {
        let ctx = start(backend).await;
        let w = world(&ctx).await;
        let tech = ctx.publish_technology(&w.seller, &w.moderator, &listing(&w.seller_org, "Xử lý nước thải", "2.7", 7, 1, "usage_licence", "thanh-hoa")).await;
        let draft = ctx.create_demand(&w.buyer.access, &demand_body(&w.buyer_org)).await;
        let draft_matches = format!("{}/matches", uri(&draft));
        ctx.get(&draft_matches).await.problem(401, "unauthorized");
        ctx.get_as(&draft_matches, &w.outsider.access).await.problem(404, "not_found");
        ctx.get_as(&draft_matches, &w.broker.access).await.problem(404, "not_found");
        ctx.get_as(&draft_matches, &w.buyer.access).await.ok();

        let demand = ctx.publish_demand(&w.buyer, &w.moderator, &demand_body(&w.buyer_org)).await;
        let matches = format!("{}/matches", uri(&demand));
        ctx.get(&matches).await.problem(401, "unauthorized");
        ctx.get_as(&matches, &w.outsider.access).await.problem(403, "forbidden");
        ctx.get_as(&matches, &w.consultant.access).await.problem(403, "forbidden");
        ctx.get_as(&matches, &w.seller.access).await.problem(403, "forbidden");
        for allowed in [&w.buyer, &w.broker, &w.moderator] {
            let res = ctx.get_as(&matches, &allowed.access).await.ok();
            assert_eq!(res["total"], 1, "{}", allowed.email);
        }

        let tech_matches = format!("/api/v1/technologies/{}/matches", id(&tech));
        ctx.get(&tech_matches).await.problem(401, "unauthorized");
        ctx.get_as(&tech_matches, &w.buyer.access).await.problem(403, "forbidden");
        ctx.get_as(&tech_matches, &w.broker.access).await.problem(403, "forbidden");
        assert_eq!(ctx.get_as(&tech_matches, &w.seller.access).await.ok()["total"], 1);
        assert_eq!(ctx.get_as(&tech_matches, &w.moderator.access).await.ok()["total"], 1);
        let unknown = format!("/api/v1/technologies/{}/matches", uuid::Uuid::now_v7());
        ctx.get_as(&unknown, &w.seller.access).await.problem(404, "not_found");
    }

    async fn dismissing_hides_the_pair_from_that_side_only(backend) {
        let ctx = start(backend).await;
        let w = world(&ctx).await;
        let title = "Công nghệ xử lý nước thải chăn nuôi";
        let a = ctx.publish_technology(&w.seller, &w.moderator, &listing(&w.seller_org, title, "2.7", 7, 1, "usage_licence", "thanh-hoa")).await;
        let b = ctx.publish_technology(&w.seller, &w.moderator, &listing(&w.seller_org, title, "2.7", 7, 1, "usage_licence", "ha-noi")).await;
        let demand = ctx.publish_demand(&w.buyer, &w.moderator, &demand_body(&w.buyer_org)).await;
        let demand_matches = format!("{}/matches", uri(&demand));
        let tech_matches = |t: &Value| format!("/api/v1/technologies/{}/matches", id(t));
        let dismiss = |t: &Value| format!("/api/v1/matches/{}/{}/dismiss", id(t), id(&demand));

        // Read first, so that each change below must reach a page this process ranked before.
        assert_eq!(ctx.get_as(&demand_matches, &w.buyer.access).await.ok()["total"], 2);
        assert_eq!(ctx.get_as(&tech_matches(&b), &w.seller.access).await.ok()["total"], 1);
        ctx.post_as(&dismiss(&a), &w.outsider.access, &json!({})).await.problem(403, "forbidden");
        let res = ctx.post_as(&dismiss(&a), &w.buyer.access, &json!({})).await;
        assert_eq!(res.status, 204, "{}", res.text());
        // Twice is harmless.
        assert_eq!(ctx.post_as(&dismiss(&a), &w.buyer.access, &json!({})).await.status, 204);
        let left = ctx.get_as(&demand_matches, &w.buyer.access).await.ok();
        assert_eq!(left["total"], 1);
        assert_eq!(left["items"][0]["technology"]["id"], id(&b));
        // The other side still sees the pair.
        assert_eq!(ctx.get_as(&tech_matches(&a), &w.seller.access).await.ok()["total"], 1);

        // The seller dismisses B: gone from B's matches, still in the demand's.
        assert_eq!(ctx.post_as(&dismiss(&b), &w.seller.access, &json!({})).await.status, 204);
        assert_eq!(ctx.get_as(&tech_matches(&b), &w.seller.access).await.ok()["total"], 0);
        assert_eq!(ctx.get_as(&demand_matches, &w.buyer.access).await.ok()["total"], 1);
        // A listing published since: among the demand's matches on the next request.
        let c = ctx.publish_technology(&w.seller, &w.moderator, &listing(&w.seller_org, title, "2.7", 7, 1, "usage_licence", "hue")).await;
        let now = ctx.get_as(&demand_matches, &w.buyer.access).await.ok();
        assert_eq!(now["total"], 2);
        assert!(now["items"].as_array().unwrap().iter().any(|m| m["technology"]["id"] == id(&c)), "{now}");
        let unknown = format!("/api/v1/matches/{}/{}/dismiss", uuid::Uuid::now_v7(), id(&demand));
        ctx.post_as(&unknown, &w.buyer.access, &json!({})).await.problem(404, "not_found");
    }

    async fn a_demand_is_read_in_one_statement_and_revalidated(backend) {
        let ctx = start(backend).await;
        let w = world(&ctx).await;
        let mut body = demand_body(&w.buyer_org);
        body["hide_organization"] = json!(true);
        let demand = ctx.publish_demand(&w.buyer, &w.moderator, &body).await;
        let public = "public, max-age=60, stale-while-revalidate=300";

        let (res, statements) = ctx.counted_get(&uri(&demand), None, None).await;
        assert_eq!(res.status, 200, "{}", res.text());
        assert_eq!(statements, 1);
        assert_eq!(res.header("cache-control"), Some(public));
        assert!(res.header("vary").unwrap_or_default().starts_with("Authorization"), "{:?}", res.header("vary"));
        let etag = res.header("etag").unwrap().to_owned();
        // Answered from the ETag this process remembers of the public page: no statement.
        let (res, statements) = ctx.counted_get(&uri(&demand), None, Some(&etag)).await;
        res.assert_not_modified(&etag, public);
        assert_eq!(statements, 0);

        // Its members see the organisation: another representation, private.
        let member = ctx.get_if(&uri(&demand), Some(&w.buyer.access), Some(&etag)).await;
        assert_eq!(member.status, 200);
        assert_eq!(member.json()["organization"]["id"], w.buyer_org.as_str());
        assert_eq!(member.header("cache-control"), Some("private, no-store"));
        assert_ne!(member.header("etag"), Some(etag.as_str()));

        // Renewed: a new version, so the old ETag gets the new body.
        let renewed = ctx.demand_action(&demand, "renew", &w.buyer.access, None).await.ok();
        let res = ctx.get_if(&uri(&demand), None, Some(&etag)).await;
        assert_eq!(res.status, 200);
        assert_eq!(res.json()["version"], renewed["version"]);

        // Archived: gone for anonymous callers, also for one revalidating its last ETag.
        let current = res.header("etag").unwrap().to_owned();
        ctx.demand_action(&renewed, "archive", &w.buyer.access, None).await.ok();
        assert_eq!(ctx.get_if(&uri(&demand), None, Some(&current)).await.status, 404);
    }
}
