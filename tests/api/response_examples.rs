//! The 2xx examples of the OpenAPI document are responses the real service gave: a main
//! flow on the real App (SQLite) records the first 2xx JSON body of each operation, with ids,
//! times and secrets normalised to fixed values, and compares them with
//! `openapi/response-examples.json`, which `src/openapi/response_examples.rs` embeds in the
//! document. A change to a response shape fails here until the file is refreshed:
//!
//! ```sh
//! TECHX_BLESS=1 cargo nextest run -E 'test(/^response_examples::/)'
//! cargo run -q -- openapi > openapi/openapi.json
//! ```

use crate::common;

#[macro_use]
mod recorder;
mod more;

use std::collections::{BTreeMap, HashMap};

use actix_web::http::Method;
use common::*;
use recorder::{Operations, Recorder, id};
use serde_json::{Value, json};
use techx::auth::PlatformRole;

const FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/response-examples.json");

/// Operations a front-end's main flow goes through: each must show a recorded example.
const MAIN_FLOW: &[&str] = &[
    "register",
    "login",
    "refresh_tokens",
    "get_me",
    "create_organization",
    "get_organization",
    "list_organizations",
    "create_technology",
    "update_technology",
    "submit_technology",
    "review_technology",
    "get_technology",
    "search_technologies",
    "organization_technologies",
    "create_inquiry",
    "get_inquiry",
    "list_inquiries",
    "post_inquiry_message",
    "create_deal",
    "accept_deal",
    "transition_deal",
    "get_deal",
    "list_deals",
    "list_deal_events",
    "create_demand",
    "submit_demand",
    "review_demand",
    "get_demand",
    "search_demands",
    "demand_matches",
    "technology_matches",
    "create_proposal",
    "list_proposals",
];

#[actix_web::test]
async fn response_examples_are_real_responses() {
    let ctx = start(Sqlite).await;
    let spec: Value = serde_json::from_str(&techx::app::openapi_json()).unwrap();
    let mut rec = Recorder {
        operations: Operations::from_spec(&spec),
        recorded: BTreeMap::new(),
        ids: HashMap::new(),
    };
    let rec = &mut rec;
    let get = Method::GET;
    let post = Method::POST;

    // Public reference data and health.
    for uri in [
        "/healthz",
        "/readyz",
        "/api/v1/taxonomy/transfer-forms",
        "/api/v1/taxonomy/trl-levels",
        "/api/v1/taxonomy/ip-types",
    ] {
        send!(ctx, rec, get.clone(), uri, None, None, None);
    }

    // Accounts: the seller registers, verifies its address, signs in, refreshes.
    let seller_email = "lan.nguyen@vien-cnmt.vn";
    let registration =
        json!({"email": seller_email, "password": PASSWORD, "display_name": "TS. Nguyễn Thị Lan"});
    send!(ctx, rec, post.clone(), "/api/v1/auth/register", None, None, Some(&registration));
    let token = ctx.mailed_token(seller_email, "verify_email");
    send!(
        ctx,
        rec,
        post.clone(),
        "/api/v1/auth/verify-email",
        None,
        None,
        Some(&json!({"token": token}))
    );
    let login = json!({"email": seller_email, "password": PASSWORD});
    let tokens = send!(ctx, rec, post.clone(), "/api/v1/auth/login", None, None, Some(&login));
    let refresh = json!({"refresh_token": tokens["refresh_token"]});
    let tokens = send!(ctx, rec, post.clone(), "/api/v1/auth/refresh", None, None, Some(&refresh));
    let seller = tokens["access_token"].as_str().unwrap().to_owned();
    let seller = seller.as_str();
    let buyer = ctx.signup("minh.tran@congty-xanh.vn").await;
    let buyer = buyer.access.as_str();
    let moderator = ctx.staff("kiemduyet@techx.vn", PlatformRole::Moderator).await;
    let moderator = moderator.access.as_str();

    // Organisations.
    let body = json!({"name": "Viện Công nghệ Môi trường", "kind": "research_institute", "province": "thanh-hoa",
                      "sectors": ["2.7"], "description": "Nghiên cứu xử lý nước thải và chất thải rắn."});
    let seller_org =
        send!(ctx, rec, post.clone(), "/api/v1/organizations", Some(seller), None, Some(&body));
    let seller_org = id(&seller_org);
    let body = json!({"name": "Công ty Cổ phần Chăn nuôi Xanh", "kind": "enterprise", "province": "thanh-hoa", "sectors": ["4.2"]});
    let buyer_org =
        id(&send!(ctx, rec, post.clone(), "/api/v1/organizations", Some(buyer), None, Some(&body)));
    let verification = json!({"status": "verified"});
    let uri = format!("/api/v1/organizations/{seller_org}/verification");
    send!(ctx, rec, post.clone(), uri, Some(moderator), None, Some(&verification));
    send!(ctx, rec, get.clone(), format!("/api/v1/organizations/{seller_org}"), None, None, None);
    send!(ctx, rec, get.clone(), "/api/v1/organizations", None, None, None);
    send!(ctx, rec, get.clone(), "/api/v1/me", Some(seller), None, None);

    // A listing: drafted, corrected, submitted, approved, read and found.
    let mut body = technology_body(&seller_org, "Công nghệ xử lý nước thải chăn nuôi bằng biogas");
    body["sectors"] = json!(["2.7", "4.2"]);
    body["trl"] = json!(7);
    let draft =
        send!(ctx, rec, post.clone(), "/api/v1/technologies", Some(seller), None, Some(&body));
    let listing = id(&draft);
    let uri = format!("/api/v1/technologies/{listing}");
    let patch = json!({"summary": "Xử lý nước thải trang trại lợn đạt QCVN 62-MT:2016/BTNMT."});
    let draft =
        send!(ctx, rec, Method::PATCH, uri, Some(seller), Some(&etag_of(&draft)), Some(&patch));
    let pending = send!(
        ctx,
        rec,
        post.clone(),
        format!("{uri}/submit"),
        Some(seller),
        Some(&etag_of(&draft)),
        None
    );
    let approve = json!({"decision": "approve"});
    send!(
        ctx,
        rec,
        post.clone(),
        format!("{uri}/review"),
        Some(moderator),
        Some(&etag_of(&pending)),
        Some(&approve)
    );
    send!(ctx, rec, get.clone(), uri, None, None, None);
    send!(
        ctx,
        rec,
        get.clone(),
        "/api/v1/technologies?q=nuoc%20thai%20chan%20nuoi",
        None,
        None,
        None
    );
    send!(
        ctx,
        rec,
        get.clone(),
        format!("/api/v1/organizations/{seller_org}/technologies"),
        None,
        None,
        None
    );

    // A demand that matches it, and a proposal.
    let body = json!({"organization_id": buyer_org, "title": "Cần công nghệ xử lý nước thải trang trại lợn",
                      "problem": "Trang trại 2 000 con lợn cần xử lý nước thải đạt QCVN 62-MT:2016/BTNMT.",
                      "sectors": ["2.7"], "keywords": ["nước thải", "chăn nuôi"], "trl_min": 6,
                      "budget": {"max": 900000000, "currency": "VND"},
                      "transfer_forms": ["usage_licence"], "province": "thanh-hoa"});
    let draft = send!(ctx, rec, post.clone(), "/api/v1/demands", Some(buyer), None, Some(&body));
    let demand = id(&draft);
    let uri = format!("/api/v1/demands/{demand}");
    let pending = send!(
        ctx,
        rec,
        post.clone(),
        format!("{uri}/submit"),
        Some(buyer),
        Some(&etag_of(&draft)),
        None
    );
    send!(
        ctx,
        rec,
        post.clone(),
        format!("{uri}/review"),
        Some(moderator),
        Some(&etag_of(&pending)),
        Some(&approve)
    );
    send!(ctx, rec, get.clone(), uri, None, None, None);
    send!(ctx, rec, get.clone(), "/api/v1/demands?q=nuoc%20thai", None, None, None);
    send!(ctx, rec, get.clone(), format!("{uri}/matches"), Some(buyer), None, None);
    send!(
        ctx,
        rec,
        get.clone(),
        format!("/api/v1/technologies/{listing}/matches"),
        Some(seller),
        None,
        None
    );
    let offer = json!({"organization_id": seller_org, "technology_id": listing,
                       "approach": "Bể biogas kết hợp đất ngập nước, lắp đặt trong 4 tháng.", "timeline_months": 4});
    let proposal =
        send!(ctx, rec, post.clone(), format!("{uri}/proposals"), Some(seller), None, Some(&offer));
    send!(ctx, rec, get.clone(), format!("{uri}/proposals"), Some(buyer), None, None);

    // An enquiry, answered, then a deal from it.
    let body = json!({"organization_id": buyer_org, "message": "Xin báo giá hệ thống 150 m³/ngày.",
                      "intended_use": "Trang trại tại Yên Định, Thanh Hóa.", "transfer_form": "usage_licence",
                      "budget": {"amount": 800000000, "currency": "VND"}});
    let enquiry = send!(
        ctx,
        rec,
        post.clone(),
        format!("/api/v1/technologies/{listing}/inquiries"),
        Some(buyer),
        None,
        Some(&body)
    );
    let enquiry = id(&enquiry);
    let answer = json!({"body": "Chúng tôi đề nghị khảo sát hiện trạng trong tuần tới."});
    send!(
        ctx,
        rec,
        post.clone(),
        format!("/api/v1/inquiries/{enquiry}/messages"),
        Some(seller),
        None,
        Some(&answer)
    );
    send!(ctx, rec, get.clone(), format!("/api/v1/inquiries/{enquiry}"), Some(buyer), None, None);
    send!(ctx, rec, get.clone(), "/api/v1/inquiries", Some(seller), None, None);
    let terms = json!({"transfer_form": "usage_licence", "exclusive": false, "territory": "Việt Nam",
                       "term_months": 60, "sublicensing": false, "price": 750000000, "currency": "VND",
                       "payment_schedule": "30% khi ký hợp đồng, 70% khi nghiệm thu"});
    let deal = send!(
        ctx,
        rec,
        post.clone(),
        "/api/v1/deals",
        Some(seller),
        None,
        Some(&json!({"inquiry_id": enquiry, "terms": terms}))
    );
    let uri = format!("/api/v1/deals/{}", id(&deal));
    let deal =
        send!(ctx, rec, post.clone(), format!("{uri}/accept"), Some(buyer), None, Some(&json!({})));
    let moved = json!({"to": "negotiating", "note": "Đã khảo sát hiện trạng trang trại."});
    send!(
        ctx,
        rec,
        post.clone(),
        format!("{uri}/transitions"),
        Some(seller),
        Some(&etag_of(&deal)),
        Some(&moved)
    );
    send!(ctx, rec, get.clone(), uri, Some(buyer), None, None);
    send!(ctx, rec, get.clone(), "/api/v1/deals", Some(buyer), None, None);

    // On to a signed contract: the terms agreed, a draft attached, the checklist, signatures.
    let deal = send!(ctx, rec, get.clone(), uri, Some(seller), None, None);
    let price = json!({"price": 720000000});
    let deal =
        send!(ctx, rec, Method::PATCH, uri, Some(seller), Some(&etag_of(&deal)), Some(&price));
    let draft = json!({"title": "Dự thảo hợp đồng chuyển giao công nghệ, bản 2", "url": "https://tailieu.example.vn/hop-dong-v2.pdf"});
    send!(ctx, rec, post.clone(), format!("{uri}/documents"), Some(seller), None, Some(&draft));
    let contracting = json!({"to": "contracting"});
    let mut deal = send!(
        ctx,
        rec,
        post.clone(),
        format!("{uri}/transitions"),
        Some(seller),
        Some(&etag_of(&deal)),
        Some(&contracting)
    );
    for item in [
        "object",
        "scope_of_rights",
        "transfer_method",
        "price_and_payment",
        "term",
        "schedule",
        "warranty",
        "penalties",
        "dispute_resolution",
    ] {
        let tick = json!({"ticked": true, "note": "Đã thống nhất trong dự thảo bản 2."});
        deal = send!(
            ctx,
            rec,
            Method::PUT,
            format!("{uri}/checklist/{item}"),
            Some(seller),
            None,
            Some(&tick)
        );
    }
    for who in [buyer, seller] {
        deal = send!(
            ctx,
            rec,
            post.clone(),
            format!("{uri}/signing-confirmation"),
            Some(who),
            None,
            Some(&json!({}))
        );
    }
    let signed = json!({"to": "signed", "note": "Hợp đồng số 18/2026/HĐCGCN."});
    send!(
        ctx,
        rec,
        post.clone(),
        format!("{uri}/transitions"),
        Some(seller),
        Some(&etag_of(&deal)),
        Some(&signed)
    );
    send!(ctx, rec, get.clone(), format!("{uri}/events"), Some(buyer), None, None);

    // Around it: profiles, members, webhooks, valuation estimates, the exchange's figures.
    let me = json!({"display_name": "TS. Nguyễn Thị Lan", "language": "vi"});
    send!(ctx, rec, Method::PATCH, "/api/v1/me", Some(seller), None, Some(&me));
    let org = send!(
        ctx,
        rec,
        get.clone(),
        format!("/api/v1/organizations/{seller_org}"),
        Some(seller),
        None,
        None
    );
    let profile = json!({"website": "https://vien-cnmt.example.vn"});
    send!(
        ctx,
        rec,
        Method::PATCH,
        format!("/api/v1/organizations/{seller_org}"),
        Some(seller),
        Some(&etag_of(&org)),
        Some(&profile)
    );
    let invite = json!({"email": "hung.le@vien-cnmt.vn", "role": "member"});
    send!(
        ctx,
        rec,
        post.clone(),
        format!("/api/v1/organizations/{seller_org}/invitations"),
        Some(seller),
        None,
        Some(&invite)
    );
    send!(
        ctx,
        rec,
        get.clone(),
        format!("/api/v1/organizations/{seller_org}/invitations"),
        Some(seller),
        None,
        None
    );
    send!(
        ctx,
        rec,
        get.clone(),
        format!("/api/v1/organizations/{seller_org}/members"),
        Some(seller),
        None,
        None
    );
    let hook = json!({"url": "https://erp.example.vn/hooks/techx", "event_types": ["inquiry.received", "deal.stage_changed"]});
    let hook = send!(
        ctx,
        rec,
        post.clone(),
        format!("/api/v1/organizations/{seller_org}/webhooks"),
        Some(seller),
        None,
        Some(&hook)
    );
    send!(
        ctx,
        rec,
        get.clone(),
        format!("/api/v1/organizations/{seller_org}/webhooks"),
        Some(seller),
        None,
        None
    );
    send!(
        ctx,
        rec,
        get.clone(),
        format!("/api/v1/organizations/{seller_org}/webhooks/{}", id(&hook)),
        Some(seller),
        None,
        None
    );
    let estimate = json!({"currency": "VND", "cost": {
        "costs": [{"year": 2022, "amount": 1200000000}, {"year": 2023, "amount": 800000000}],
        "valuation_year": 2026, "inflation_rate_bps": 400, "obsolescence_bps": 1500}});
    send!(
        ctx,
        rec,
        post.clone(),
        "/api/v1/valuations/estimate",
        Some(seller),
        None,
        Some(&estimate)
    );
    send!(ctx, rec, get.clone(), "/api/v1/stats/overview", None, None, None);

    // What the main flow does not reach, after it (so its ids keep their stand-ins).
    let cast = more::Cast {
        seller,
        buyer,
        moderator,
        seller_org: &seller_org,
        buyer_org: &buyer_org,
        listing: &listing,
        demand: &demand,
        proposal: &proposal,
        enquiry: &enquiry,
        hook: &hook,
    };
    more::record(&ctx, rec, &cast).await;

    let recorded = serde_json::to_string_pretty(&rec.recorded).unwrap() + "\n";
    let committed = std::fs::read_to_string(FILE).unwrap_or_default();
    if committed != recorded {
        if std::env::var("TECHX_BLESS").is_ok_and(|v| v == "1") {
            std::fs::write(FILE, &recorded).unwrap();
            eprintln!(
                "wrote {FILE}; now regenerate the document: cargo run -q -- openapi > openapi/openapi.json"
            );
        } else {
            let first = committed.lines().zip(recorded.lines()).position(|(a, b)| a != b);
            panic!(
                "openapi/response-examples.json differs from what the service answers now \
                 (first at line {}). If the change is meant, refresh it and the document:\n    \
                 TECHX_BLESS=1 cargo nextest run -E 'test(/^response_examples::/)'\n    \
                 cargo run -q -- openapi > openapi/openapi.json",
                first.map_or_else(|| "end".to_owned(), |l| (l + 1).to_string())
            );
        }
    }
    for operation in MAIN_FLOW {
        assert!(rec.recorded.contains_key(*operation), "{operation} recorded no example");
    }
}

/// The document shows each recorded body as its operation's example of that status, and
/// the main flow's operations all have one.
#[test]
fn the_document_embeds_the_recorded_examples() {
    let spec: Value = serde_json::from_str(&techx::app::openapi_json()).unwrap();
    let recorded: Value = serde_json::from_str(&std::fs::read_to_string(FILE).unwrap()).unwrap();
    let mut shown = BTreeMap::new();
    for item in spec["paths"].as_object().unwrap().values() {
        for operation in item.as_object().unwrap().values() {
            let Some(id) = operation["operationId"].as_str() else { continue };
            for (status, response) in operation["responses"].as_object().unwrap() {
                let example =
                    &response["content"]["application/json"]["examples"]["recorded"]["value"];
                if !example.is_null() {
                    shown.insert(id.to_owned(), json!({"status": status, "body": example}));
                }
            }
        }
    }
    assert_eq!(
        Value::from_iter(shown.clone()),
        recorded,
        "every recorded example, and only those, is shown"
    );
    for operation in MAIN_FLOW {
        assert!(shown.contains_key(*operation), "{operation} shows no recorded example");
    }
}
