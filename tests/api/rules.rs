//! Rules the contract states in words, each tested under its own sentence on both backends:
//! proposals name published listings, deleting keeps history, every review decision is
//! measured, appraisers are independent, `If-Match` compares strongly, owners list and
//! revoke invitations.

use crate::common;

use actix_web::http::Method;
use common::*;
use diesel::prelude::*;
use serde_json::{Value, json};
use techx::auth::PlatformRole;
use techx::db::schema::{deals, demands, invitations, proposals, technologies, technology_reviews};

fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_owned()
}

fn demand_body(org: &str) -> Value {
    json!({
        "organization_id": org,
        "title": "Xử lý nước thải chăn nuôi",
        "problem": "Trang trại 2 000 con lợn cần xử lý nước thải đạt QCVN 62:2016.",
        "sectors": ["2.7"],
        "province": "thanh-hoa"
    })
}

fn terms() -> Value {
    json!({"transfer_form": "usage_licence", "exclusive": false, "territory": "Việt Nam",
           "term_months": 60, "sublicensing": false, "price": 750000000, "currency": "VND",
           "payment_schedule": "30% khi ký, 70% khi bàn giao"})
}

fn technology_uri(v: &Value) -> String {
    format!("/api/v1/technologies/{}", id(v))
}

fn demand_uri(v: &Value) -> String {
    format!("/api/v1/demands/{}", id(v))
}

fn today() -> String {
    chrono::Utc::now().date_naive().to_string()
}

/// Rows in a table.
macro_rules! count {
    ($db:expr, $table:path) => {
        $table.count().get_result::<i64>(&mut $db.connect()).expect("count")
    };
}

backend_tests! {
    async fn a_proposal_may_only_name_a_published_technology_of_the_offering_organisation(backend) {
        let ctx = start(backend).await;
        let moderator = ctx.staff("mod@techx.vn", PlatformRole::Moderator).await;
        let buyer = ctx.signup("mua@dn.vn").await;
        let buyer_org = id(&ctx.create_org(&buyer, "Doanh nghiệp Mua", "enterprise").await);
        let seller = ctx.signup("ban@vien.vn").await;
        let seller_org = id(&ctx.create_org(&seller, "Viện Bán", "research_institute").await);
        let demand = ctx.post_as("/api/v1/demands", &buyer.access, &demand_body(&buyer_org)).await.ok();
        let pending = ctx.send(Method::POST, &format!("{}/submit", demand_uri(&demand)), Some(&buyer.access), Some(&etag_of(&demand)), None).await.ok();
        ctx.send(Method::POST, &format!("{}/review", demand_uri(&demand)), Some(&moderator.access), Some(&etag_of(&pending)), Some(&json!({"decision": "approve"}))).await.ok();
        let proposals_uri = format!("{}/proposals", demand_uri(&demand));

        // A draft and a listing pending review of the offering organisation: 400 naming it.
        let draft = ctx.create_technology(&seller.access, &technology_body(&seller_org, "Bản nháp")).await;
        let under_review = ctx.create_technology(&seller.access, &technology_body(&seller_org, "Chờ duyệt")).await;
        ctx.listing_action(&under_review, "submit", &seller.access, None).await.ok();
        for unpublished in [&draft, &under_review] {
            let body = json!({"organization_id": seller_org, "technology_id": id(unpublished), "approach": "Lọc sinh học."});
            ctx.post_as(&proposals_uri, &seller.access, &body).await.invalid_field("technology_id");
        }
        assert_eq!(count!(ctx.db, proposals::table), 0);
        assert_eq!(ctx.mail_count(&buyer.email, "proposal_received"), 0);

        // A published one is accepted.
        let published = ctx.publish_technology(&seller, &moderator, &technology_body(&seller_org, "Đã duyệt")).await;
        let body = json!({"organization_id": seller_org, "technology_id": id(&published), "approach": "Lọc sinh học."});
        let proposal = ctx.post_as(&proposals_uri, &seller.access, &body).await;
        assert_eq!(proposal.status, 201, "{}", proposal.text());
        assert_eq!(count!(ctx.db, proposals::table), 1);
    }

    async fn opening_a_deal_from_a_proposal_checks_again_that_the_technology_is_published(backend) {
        let ctx = start(backend).await;
        let moderator = ctx.staff("mod@techx.vn", PlatformRole::Moderator).await;
        let buyer = ctx.signup("mua@dn.vn").await;
        let buyer_org = id(&ctx.create_org(&buyer, "Doanh nghiệp Mua", "enterprise").await);
        let seller = ctx.signup("ban@vien.vn").await;
        let seller_org = id(&ctx.create_org(&seller, "Viện Bán", "research_institute").await);
        let demand = ctx.post_as("/api/v1/demands", &buyer.access, &demand_body(&buyer_org)).await.ok();
        let pending = ctx.send(Method::POST, &format!("{}/submit", demand_uri(&demand)), Some(&buyer.access), Some(&etag_of(&demand)), None).await.ok();
        ctx.send(Method::POST, &format!("{}/review", demand_uri(&demand)), Some(&moderator.access), Some(&etag_of(&pending)), Some(&json!({"decision": "approve"}))).await.ok();
        let listing = ctx.publish_technology(&seller, &moderator, &technology_body(&seller_org, "Lọc sinh học")).await;
        let proposal = ctx.post_as(&format!("{}/proposals", demand_uri(&demand)), &seller.access,
            &json!({"organization_id": seller_org, "technology_id": id(&listing), "approach": "Lọc sinh học."})).await.ok();
        let accept = format!("{}/proposals/{}/accept", demand_uri(&demand), id(&proposal));
        ctx.send(Method::POST, &accept, Some(&buyer.access), Some(&etag_of(&proposal)), None).await.ok();

        // The seller edits the published listing: it goes back to review, hidden again.
        let edited = ctx.send(Method::PATCH, &technology_uri(&listing), Some(&seller.access), Some(&etag_of(&listing)),
            Some(&json!({"summary": "Tóm tắt đã sửa, chờ duyệt lại."}))).await.ok();
        assert_eq!(edited["status"], "pending_review");
        let open = json!({"proposal_id": id(&proposal), "terms": terms()});
        ctx.post_as("/api/v1/deals", &buyer.access, &open).await.invalid_field("technology_id");
        assert_eq!(count!(ctx.db, deals::table), 0);

        // Approved again, the same proposal opens the deal.
        ctx.listing_action(&edited, "review", &moderator.access, Some(&json!({"decision": "approve"}))).await.ok();
        let deal = ctx.post_as("/api/v1/deals", &buyer.access, &open).await;
        assert_eq!(deal.status, 201, "{}", deal.text());
        assert_eq!(count!(ctx.db, deals::table), 1);
    }

    async fn deleting_a_listing_that_was_ever_submitted_archives_it_and_keeps_the_report(backend) {
        let ctx = start(backend).await;
        let moderator = ctx.staff("mod@techx.vn", PlatformRole::Moderator).await;
        let owner = ctx.signup("owner@vien.vn").await;
        let org = id(&ctx.create_org(&owner, "Viện Môi trường", "research_institute").await);
        // Submitted, rejected, edited back to a draft.
        let draft = ctx.create_technology(&owner.access, &technology_body(&org, "Bị từ chối")).await;
        let pending = ctx.listing_action(&draft, "submit", &owner.access, None).await.ok();
        let rejected = ctx.listing_action(&pending, "review", &moderator.access, Some(&json!({"decision": "reject", "reason": "Thiếu số liệu."}))).await.ok();
        let again = ctx.send(Method::PATCH, &technology_uri(&rejected), Some(&owner.access), Some(&etag_of(&rejected)),
            Some(&json!({"summary": "Đã bổ sung số liệu thử nghiệm."}))).await.ok();
        assert_eq!(again["status"], "draft");
        let report_uri = format!("/api/v1/reports/activity?from={}&to={}", today(), today());
        let before = ctx.get_as(&report_uri, &moderator.access).await.ok();
        assert_eq!(before["totals"]["listings_created"], 1);
        assert_eq!(before["totals"]["listings_reviewed"], 1);

        let res = ctx.send(Method::DELETE, &technology_uri(&again), Some(&owner.access), Some(&etag_of(&again)), None).await;
        assert_eq!(res.status, 204, "{}", res.text());
        let archived = ctx.get_as(&technology_uri(&again), &owner.access).await.ok();
        assert_eq!(archived["status"], "archived");
        assert_eq!(count!(ctx.db, technology_reviews::table), 1);
        let after = ctx.get_as(&report_uri, &moderator.access).await.ok();
        assert_eq!(after["totals"], before["totals"]);
        assert_eq!(after["turnaround"], before["turnaround"]);
        // Already archived: nothing left to delete.
        ctx.send(Method::DELETE, &technology_uri(&archived), Some(&owner.access), Some(&etag_of(&archived)), None)
            .await
            .problem(409, "invalid_transition");

        // A draft never submitted is erased.
        let fresh = ctx.create_technology(&owner.access, &technology_body(&org, "Nháp mới")).await;
        let res = ctx.send(Method::DELETE, &technology_uri(&fresh), Some(&owner.access), Some(&etag_of(&fresh)), None).await;
        assert_eq!(res.status, 204, "{}", res.text());
        ctx.get_as(&technology_uri(&fresh), &owner.access).await.problem(404, "not_found");
        assert_eq!(count!(ctx.db, technologies::table), 1);
    }

    async fn deleting_a_demand_that_was_ever_submitted_archives_it(backend) {
        let ctx = start(backend).await;
        let moderator = ctx.staff("mod@techx.vn", PlatformRole::Moderator).await;
        let buyer = ctx.signup("mua@dn.vn").await;
        let org = id(&ctx.create_org(&buyer, "Doanh nghiệp Mua", "enterprise").await);
        let draft = ctx.post_as("/api/v1/demands", &buyer.access, &demand_body(&org)).await.ok();
        let pending = ctx.send(Method::POST, &format!("{}/submit", demand_uri(&draft)), Some(&buyer.access), Some(&etag_of(&draft)), None).await.ok();
        let rejected = ctx.send(Method::POST, &format!("{}/review", demand_uri(&draft)), Some(&moderator.access), Some(&etag_of(&pending)),
            Some(&json!({"decision": "reject", "reason": "Chưa rõ yêu cầu."}))).await.ok();
        let again = ctx.send(Method::PATCH, &demand_uri(&rejected), Some(&buyer.access), Some(&etag_of(&rejected)),
            Some(&json!({"problem": "Trang trại 2 000 con lợn cần xử lý nước thải, nêu rõ lưu lượng."}))).await.ok();
        assert_eq!(again["status"], "draft");
        let res = ctx.send(Method::DELETE, &demand_uri(&again), Some(&buyer.access), Some(&etag_of(&again)), None).await;
        assert_eq!(res.status, 204, "{}", res.text());
        assert_eq!(ctx.get_as(&demand_uri(&again), &buyer.access).await.ok()["status"], "archived");

        let fresh = ctx.post_as("/api/v1/demands", &buyer.access, &demand_body(&org)).await.ok();
        let res = ctx.send(Method::DELETE, &demand_uri(&fresh), Some(&buyer.access), Some(&etag_of(&fresh)), None).await;
        assert_eq!(res.status, 204, "{}", res.text());
        assert_eq!(count!(ctx.db, demands::table), 1);
    }

    async fn review_turnaround_covers_every_decision_in_the_period(backend) {
        let ctx = start(backend).await;
        let moderator = ctx.staff("mod@techx.vn", PlatformRole::Moderator).await;
        let owner = ctx.signup("owner@vien.vn").await;
        let org = id(&ctx.create_org(&owner, "Viện Môi trường", "research_institute").await);
        // Rejected, approved, edited while published and re-approved: three decisions, each
        // after its own submission.
        let draft = ctx.create_technology(&owner.access, &technology_body(&org, "Ba lần duyệt")).await;
        let pending = ctx.listing_action(&draft, "submit", &owner.access, None).await.ok();
        let rejected = ctx.listing_action(&pending, "review", &moderator.access, Some(&json!({"decision": "reject", "reason": "Thiếu số liệu."}))).await.ok();
        let edited = ctx.send(Method::PATCH, &technology_uri(&rejected), Some(&owner.access), Some(&etag_of(&rejected)),
            Some(&json!({"summary": "Đã bổ sung số liệu."}))).await.ok();
        let pending = ctx.listing_action(&edited, "submit", &owner.access, None).await.ok();
        let approve = json!({"decision": "approve"});
        let published = ctx.listing_action(&pending, "review", &moderator.access, Some(&approve)).await.ok();
        let pending = ctx.send(Method::PATCH, &technology_uri(&published), Some(&owner.access), Some(&etag_of(&published)),
            Some(&json!({"summary": "Cập nhật giá."}))).await.ok();
        assert_eq!(pending["status"], "pending_review");
        ctx.listing_action(&pending, "review", &moderator.access, Some(&approve)).await.ok();

        let report = ctx.get_as(&format!("/api/v1/reports/activity?from={}&to={}", today(), today()), &moderator.access).await.ok();
        assert_eq!(report["totals"]["listings_reviewed"], 3);
        assert_eq!(report["turnaround"]["reviews_measured"], 3);
        assert!(report["turnaround"]["review_median_hours"].as_f64().is_some_and(|h| h >= 0.0));
        // Each decision keeps the submission it decided.
        let submitted: Vec<Option<chrono::NaiveDateTime>> = technology_reviews::table
            .select(technology_reviews::submitted_at)
            .load(&mut ctx.db.connect())
            .unwrap();
        assert_eq!(submitted.iter().flatten().count(), 3);
    }

    async fn claiming_refuses_an_appraiser_sharing_a_member_with_the_requester_or_the_listing_owner(backend) {
        let ctx = start(backend).await;
        let moderator = ctx.staff("mod@techx.vn", PlatformRole::Moderator).await;
        let owner = ctx.signup("owner@vien.vn").await;
        let owner_org = ctx.create_org(&owner, "Viện Môi trường", "research_institute").await;
        let listing = ctx.publish_technology(&owner, &moderator, &technology_body(&id(&owner_org), "Xử lý nước thải")).await;
        let request = json!({
            "organization_id": id(&owner_org), "technology_id": id(&listing),
            "purpose": "capital_contribution",
            "rights": {"kind": "usage", "exclusive": true, "territory": "Việt Nam", "term_months": 60},
            "valuation_date": "2026-12-31", "preferred_method": "cost",
            "inputs": {"currency": "VND", "rd_costs": [{"year": 2024, "amount": 400000000}]},
            "deadline": "2027-03-01"
        });
        let created = ctx.post_as("/api/v1/valuation-requests", &owner.access, &request).await;
        assert_eq!(created.status, 201, "{}", created.text());
        let created = created.json();
        // The owner's own member founds an appraiser organisation of her own.
        let appraiser = |name: &str| json!({"name": name, "kind": "intermediary", "province": "ha-noi",
                                             "sectors": ["2.7"], "services": ["valuation"]});
        let own = ctx.post_as("/api/v1/organizations", &owner.access, &appraiser("Thẩm định Nhà")).await.ok();
        let claim_uri = format!("/api/v1/valuation-requests/{}/claim", id(&created));
        let assign_uri = format!("/api/v1/valuation-requests/{}/assign", id(&created));
        ctx.send(Method::POST, &claim_uri, Some(&owner.access), Some(&etag_of(&created)), Some(&json!({"organization_id": id(&own)})))
            .await
            .problem(409, "appraiser_not_independent");
        ctx.send(Method::POST, &assign_uri, Some(&moderator.access), Some(&etag_of(&created)), Some(&json!({"appraiser_organization_id": id(&own)})))
            .await
            .problem(409, "appraiser_not_independent");
        let unchanged = ctx.get_as(&format!("/api/v1/valuation-requests/{}", id(&created)), &owner.access).await.ok();
        assert_eq!(unchanged["status"], "submitted");
        assert_eq!(unchanged["version"], created["version"]);
        // An appraiser with nobody in common may claim it.
        let other = ctx.signup("tham.dinh@doc-lap.vn").await;
        let independent = ctx.post_as("/api/v1/organizations", &other.access, &appraiser("Thẩm định Độc lập")).await.ok();
        let claimed = ctx.send(Method::POST, &claim_uri, Some(&other.access), Some(&etag_of(&created)), Some(&json!({"organization_id": id(&independent)})))
            .await
            .ok();
        assert_eq!(claimed["status"], "assigned");
        assert_eq!(claimed["appraiser_organization_id"], independent["id"]);
    }

    async fn if_match_with_a_weak_etag_never_matches(backend) {
        let ctx = start(backend).await;
        let owner = ctx.signup("owner@vien.vn").await;
        let org = id(&ctx.create_org(&owner, "Viện Môi trường", "research_institute").await);
        let draft = ctx.create_technology(&owner.access, &technology_body(&org, "Nháp")).await;
        let weak = format!("W/{}", etag_of(&draft));
        let edit = json!({"summary": "Không được lưu."});
        ctx.send(Method::PATCH, &technology_uri(&draft), Some(&owner.access), Some(&weak), Some(&edit))
            .await
            .problem(412, "precondition_failed");
        ctx.send(Method::DELETE, &technology_uri(&draft), Some(&owner.access), Some(&weak), None)
            .await
            .problem(412, "precondition_failed");
        let unchanged = ctx.get_as(&technology_uri(&draft), &owner.access).await.ok();
        assert_eq!(unchanged["version"], draft["version"]);
        assert_eq!(unchanged["summary"], draft["summary"]);
        // The strong tag still works.
        let saved = ctx.send(Method::PATCH, &technology_uri(&draft), Some(&owner.access), Some(&etag_of(&draft)), Some(&edit)).await.ok();
        assert_eq!(saved["summary"], "Không được lưu.");
    }

    async fn owners_list_and_revoke_pending_invitations_and_a_revoked_token_is_refused(backend) {
        let ctx = start(backend).await;
        let owner = ctx.signup("owner@vien.vn").await;
        let org = id(&ctx.create_org(&owner, "Viện Môi trường", "research_institute").await);
        let invitations_uri = format!("/api/v1/organizations/{org}/invitations");
        let invitee = ctx.signup("moi@vien.vn").await;
        let invited = ctx.post_as(&invitations_uri, &owner.access, &json!({"email": "moi@vien.vn", "role": "member"})).await;
        assert_eq!(invited.status, 201, "{}", invited.text());
        let invited = invited.json();
        let token = ctx.mailed_token("moi@vien.vn", "organization_invitation");

        let listed = ctx.get_as(&invitations_uri, &owner.access).await.ok();
        assert_eq!(listed, json!([invited]));
        // Not an owner: neither lists nor revokes.
        ctx.get_as(&invitations_uri, &invitee.access).await.problem(403, "forbidden");
        let revoke_uri = format!("{invitations_uri}/{}", id(&invited));
        ctx.send(Method::DELETE, &revoke_uri, Some(&invitee.access), None, None).await.problem(403, "forbidden");
        assert_eq!(count!(ctx.db, invitations::table), 1);

        let res = ctx.send(Method::DELETE, &revoke_uri, Some(&owner.access), None, None).await;
        assert_eq!(res.status, 204, "{}", res.text());
        assert_eq!(ctx.get_as(&invitations_uri, &owner.access).await.ok(), json!([]));
        assert_eq!(count!(ctx.db, invitations::table), 0);
        ctx.send(Method::DELETE, &revoke_uri, Some(&owner.access), None, None).await.problem(404, "not_found");
        // The mailed token no longer lets the invitee in.
        ctx.post_as("/api/v1/invitations/accept", &invitee.access, &json!({"token": token}))
            .await
            .problem(400, "invalid_token");
        let members = ctx.get_as(&format!("/api/v1/organizations/{org}/members"), &owner.access).await.ok();
        assert_eq!(members.as_array().map(Vec::len), Some(1));

        // An accepted invitation is not pending and cannot be revoked.
        let second = ctx.post_as(&invitations_uri, &owner.access, &json!({"email": "moi@vien.vn", "role": "member"})).await.json();
        let token = ctx.mailed_token("moi@vien.vn", "organization_invitation");
        ctx.post_as("/api/v1/invitations/accept", &invitee.access, &json!({"token": token})).await.ok();
        assert_eq!(ctx.get_as(&invitations_uri, &owner.access).await.ok(), json!([]));
        ctx.send(Method::DELETE, &format!("{invitations_uri}/{}", id(&second)), Some(&owner.access), None, None)
            .await
            .problem(409, "invitation_accepted");
    }
}
