//! The operations the main flow does not reach, recorded after it on the same exchange:
//! reference lists, proposals decided and withdrawn, a demand's and a listing's later life, a
//! closed enquiry, an accepted invitation, API keys, webhook changes, valuation requests
//! through each outcome, the administrators' and moderators' views.

use actix_web::http::Method;
use diesel::prelude::*;
use serde_json::{Value, json};
use techx::auth::PlatformRole;
use techx::db::schema::outbox;

use super::recorder::{Recorder, id};
use crate::common::*;

/// What the main flow made, for the rest to build on.
pub struct Cast<'a> {
    pub seller: &'a str,
    pub buyer: &'a str,
    pub moderator: &'a str,
    pub seller_org: &'a str,
    pub buyer_org: &'a str,
    pub listing: &'a str,
    pub demand: &'a str,
    /// The seller's pending proposal to the demand.
    pub proposal: &'a Value,
    pub enquiry: &'a str,
    pub hook: &'a Value,
}

pub async fn record<S: TestApp<B>, B: actix_web::body::MessageBody>(
    ctx: &Ctx<S>,
    rec: &mut Recorder,
    c: &Cast<'_>,
) {
    let (get, post, patch) = (Method::GET, Method::POST, Method::PATCH);
    let (seller, buyer, moderator) = (Some(c.seller), Some(c.buyer), Some(c.moderator));

    for uri in ["/api/v1/taxonomy/provinces", "/api/v1/taxonomy/sectors"] {
        send!(ctx, rec, get.clone(), uri, None, None, None);
    }

    // Proposals: the seller's accepted, a second declined, a third withdrawn.
    let proposals = format!("/api/v1/demands/{}/proposals", c.demand);
    let accept = format!("{proposals}/{}/accept", id(c.proposal));
    send!(ctx, rec, post.clone(), accept, buyer, Some(&etag_of(c.proposal)), None);
    let offer = json!({"organization_id": c.seller_org, "timeline_months": 6,
                       "approach": "Tư vấn thiết kế và giám sát thi công hệ thống xử lý nước thải.",
                       "price": {"amount": 350000000, "currency": "VND"}});
    for step in ["decline", "withdraw"] {
        let p = send!(ctx, rec, post.clone(), proposals.clone(), seller, None, Some(&offer));
        let who = if step == "decline" { buyer } else { seller };
        let uri = format!("{proposals}/{}/{step}", id(&p));
        send!(ctx, rec, post.clone(), uri, who, Some(&etag_of(&p)), None);
    }

    // The demand renewed, then archived; another one drafted and corrected.
    let uri = format!("/api/v1/demands/{}", c.demand);
    let demand = send!(ctx, rec, get.clone(), uri.clone(), buyer, None, None);
    let renew = format!("{uri}/renew");
    let demand = send!(ctx, rec, post.clone(), renew, buyer, Some(&etag_of(&demand)), None);
    let archive = format!("{uri}/archive");
    send!(ctx, rec, post.clone(), archive, buyer, Some(&etag_of(&demand)), None);
    let body = json!({"organization_id": c.buyer_org, "title": "Cần thiết bị ủ phân hữu cơ từ chất thải chăn nuôi",
                      "problem": "Xử lý 5 tấn phân lợn mỗi ngày thành phân bón hữu cơ.",
                      "sectors": ["4.1"], "province": "thanh-hoa"});
    let draft = send!(ctx, rec, post.clone(), "/api/v1/demands", buyer, None, Some(&body));
    let fix = json!({"budget": {"max": 400000000, "currency": "VND"}, "transfer_forms": ["ownership_assignment"]});
    let uri = format!("/api/v1/demands/{}", id(&draft));
    send!(ctx, rec, patch.clone(), uri, buyer, Some(&etag_of(&draft)), Some(&fix));

    // The enquiry closed by the listing's owner.
    let uri = format!("/api/v1/inquiries/{}", c.enquiry);
    let enquiry = send!(ctx, rec, get.clone(), uri.clone(), seller, None, None);
    let close = format!("{uri}/close");
    send!(ctx, rec, post.clone(), close, seller, Some(&etag_of(&enquiry)), None);

    // The invited colleague joins.
    let invitee = ctx.signup("hung.le@vien-cnmt.vn").await;
    let token = ctx.mailed_token("hung.le@vien-cnmt.vn", "organization_invitation");
    let accept = json!({"token": token});
    let uri = "/api/v1/invitations/accept";
    send!(ctx, rec, post.clone(), uri, Some(invitee.access.as_str()), None, Some(&accept));

    // An API key for the institute's ERP: created, listed, read, rolled.
    let keys = format!("/api/v1/organizations/{}/api-keys", c.seller_org);
    let new_key =
        json!({"name": "ERP đồng bộ danh mục", "scopes": ["listings:read", "inquiries:read"]});
    let key = send!(ctx, rec, post.clone(), keys.clone(), seller, None, Some(&new_key));
    send!(ctx, rec, get.clone(), keys.clone(), seller, None, None);
    let uri = format!("{keys}/{}", id(&key));
    send!(ctx, rec, get.clone(), uri.clone(), seller, None, None);
    let roll = json!({"grace_seconds": 3600});
    send!(ctx, rec, post.clone(), format!("{uri}/roll"), seller, None, Some(&roll));

    // The webhook: more events, a test ping, its delivery log.
    let uri = format!("/api/v1/organizations/{}/webhooks/{}", c.seller_org, id(c.hook));
    let hook = send!(ctx, rec, get.clone(), uri.clone(), seller, None, None);
    let events = json!({"event_types": ["inquiry.received", "deal.stage_changed", "valuation.status_changed"]});
    send!(ctx, rec, patch.clone(), uri.clone(), seller, Some(&etag_of(&hook)), Some(&events));
    send!(ctx, rec, post.clone(), format!("{uri}/test"), seller, None, None);
    send!(ctx, rec, get.clone(), format!("{uri}/deliveries"), seller, None, None);

    // Valuation requests: one assigned, started and completed; one claimed and declined;
    // one cancelled by its requester.
    let appraiser = ctx.signup("thamdinh@thamdinhgia-hn.vn").await;
    let expert = Some(appraiser.access.as_str());
    let body = json!({"name": "Công ty Thẩm định giá Hà Nội", "kind": "intermediary", "province": "ha-noi",
                      "sectors": ["2.7"], "services": ["valuation"]});
    let org = send!(ctx, rec, post.clone(), "/api/v1/organizations", expert, None, Some(&body));
    let appraiser_org = id(&org);
    let request = json!({"organization_id": c.seller_org, "technology_id": c.listing,
                         "purpose": "capital_contribution", "rights": {"kind": "ownership"},
                         "valuation_date": "2026-12-31", "preferred_method": "cost",
                         "inputs": {"currency": "VND", "budget_spent": 1500000000,
                                    "rd_costs": [{"year": 2022, "amount": 1200000000}, {"year": 2023, "amount": 800000000}]}});
    let requests = "/api/v1/valuation-requests";
    let v = send!(ctx, rec, post.clone(), requests, seller, None, Some(&request));
    let uri = format!("{requests}/{}", id(&v));
    let assign = json!({"appraiser_organization_id": appraiser_org});
    let (assign_uri, e) = (format!("{uri}/assign"), etag_of(&v));
    let v = send!(ctx, rec, post.clone(), assign_uri, moderator, Some(&e), Some(&assign));
    let (start_uri, e) = (format!("{uri}/start"), etag_of(&v));
    let v = send!(ctx, rec, post.clone(), start_uri, expert, Some(&e), None);
    let outcome = json!({"value_point": 1800000000, "value_low": 1500000000, "value_high": 2100000000,
                         "currency": "VND", "methods": ["cost"],
                         "assumptions": "Chi phí nghiên cứu trượt giá 4%/năm; hao mòn vô hình 15%.",
                         "report_summary": "Giá trị quyền sở hữu công nghệ khoảng 1,8 tỷ đồng.",
                         "report_url": "https://tailieu.example.vn/bao-cao-dinh-gia.pdf"});
    let complete = format!("{uri}/complete");
    send!(ctx, rec, post.clone(), complete, expert, Some(&etag_of(&v)), Some(&outcome));
    send!(ctx, rec, get.clone(), uri, seller, None, None);
    send!(ctx, rec, get.clone(), requests, seller, None, None);
    let history = format!("/api/v1/technologies/{}/valuations", c.listing);
    send!(ctx, rec, get.clone(), history, seller, None, None);
    let v = send!(ctx, rec, post.clone(), requests, seller, None, Some(&request));
    let uri = format!("{requests}/{}", id(&v));
    let claim = json!({"organization_id": appraiser_org});
    let (claim_uri, e) = (format!("{uri}/claim"), etag_of(&v));
    let v = send!(ctx, rec, post.clone(), claim_uri, expert, Some(&e), Some(&claim));
    let reason = json!({"reason": "Không đủ dữ liệu doanh thu để định giá."});
    let decline = format!("{uri}/decline");
    send!(ctx, rec, post.clone(), decline, expert, Some(&etag_of(&v)), Some(&reason));
    let v = send!(ctx, rec, post.clone(), requests, seller, None, Some(&request));
    let cancel = format!("{requests}/{}/cancel", id(&v));
    let reason = json!({"reason": "Đã có kết quả định giá."});
    send!(ctx, rec, post.clone(), cancel, seller, Some(&etag_of(&v)), Some(&reason));

    // The listing renewed, then archived.
    let uri = format!("/api/v1/technologies/{}", c.listing);
    let listing = send!(ctx, rec, get.clone(), uri.clone(), seller, None, None);
    let renew = format!("{uri}/renew");
    let listing = send!(ctx, rec, post.clone(), renew, seller, Some(&etag_of(&listing)), None);
    let archive = format!("{uri}/archive");
    send!(ctx, rec, post.clone(), archive, seller, Some(&etag_of(&listing)), None);

    // Staff: accounts, a failed mail put back in the queue, the audit log, the report.
    let admin = ctx.staff("quantri@techx.vn", PlatformRole::Admin).await;
    let admin = Some(admin.access.as_str());
    let colleague = ctx.signup("thu.ha@sokhcn.vn").await;
    send!(ctx, rec, get.clone(), "/api/v1/admin/users?q=sokhcn", admin, None, None);
    let uri = format!("/api/v1/admin/users/{}", colleague.user_id);
    let role = json!({"platform_role": "moderator"});
    send!(ctx, rec, patch.clone(), uri, admin, None, Some(&role));
    let mut conn = ctx.db.connect();
    let mail: techx::db::types::EntityId = outbox::table
        .filter(outbox::recipient.eq("thu.ha@sokhcn.vn"))
        .select(outbox::id)
        .first(&mut conn)
        .unwrap();
    diesel::update(outbox::table.find(mail))
        .set((
            outbox::status.eq("failed"),
            outbox::attempts.eq(8),
            outbox::last_error.eq("550 5.1.1 mailbox unavailable"),
        ))
        .execute(&mut conn)
        .unwrap();
    send!(ctx, rec, get.clone(), "/api/v1/admin/outbox?status=failed", moderator, None, None);
    let retry = format!("/api/v1/admin/outbox/{}/retry", mail.0);
    send!(ctx, rec, post.clone(), retry, moderator, None, None);
    let audit = format!("/api/v1/organizations/{}/audit-events?per_page=3", c.seller_org);
    send!(ctx, rec, get.clone(), audit, seller, None, None);
    send!(ctx, rec, get.clone(), "/api/v1/audit-events?per_page=3", admin, None, None);
    // Today only: the recorder writes the day and month as its fixed date.
    let today = chrono::Utc::now().date_naive();
    let report = format!("/api/v1/reports/activity?from={today}&to={today}");
    send!(ctx, rec, get.clone(), report, moderator, None, None);
}
