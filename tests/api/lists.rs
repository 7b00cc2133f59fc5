//! Lists a page can render, on both backends: every page carries RFC 8288 `Link` headers
//! (`first`, `prev`, `next`, `last`) that keep the request's other parameters, and the lists
//! of deals, enquiries, proposals and valuation requests name each row's technology (and
//! demand) and organisations from one request, with as many SQL statements for a page of
//! two rows as for one; a demand hiding its organisation keeps it from the proposer.

use crate::common;

use actix_web::http::Method;
use common::*;
use serde_json::{Value, json};
use techx::auth::PlatformRole;

fn id(v: &Value) -> &str {
    v["id"].as_str().unwrap()
}

fn party(org: &Value) -> Value {
    json!({"id": org["id"], "name": org["name"], "kind": org["kind"]})
}

fn titled(v: &Value) -> Value {
    json!({"id": v["id"], "title": v["title"]})
}

/// A research institute selling and an enterprise buying, each with its owner, and a
/// moderator to publish.
struct Sides {
    seller: Session,
    buyer: Session,
    moderator: Session,
    seller_org: Value,
    buyer_org: Value,
}

async fn sides<S: TestApp<B>, B: actix_web::body::MessageBody>(
    c: &Ctx<S>,
    buyer_name: &str,
) -> Sides {
    let seller = c.signup("seller@vast.vn").await;
    let buyer = c.signup("buyer@xanh.vn").await;
    let moderator = c.staff("mod@techx.vn", PlatformRole::Moderator).await;
    let seller_org = c.create_org(&seller, "Viện Công nghệ Môi trường", "research_institute").await;
    let buyer_org = c.create_org(&buyer, buyer_name, "enterprise").await;
    Sides { seller, buyer, moderator, seller_org, buyer_org }
}

fn links(resp: &Resp) -> Vec<(String, String)> {
    let value = resp.header("link").unwrap_or_else(|| panic!("a Link header: {}", resp.text()));
    value
        .split(", ")
        .map(|part| {
            let (uri, rel) = part.split_once("; rel=").unwrap();
            (rel.trim_matches('"').to_owned(), uri.trim_matches(['<', '>']).to_owned())
        })
        .collect()
}

backend_tests! {
    async fn pages_link_first_prev_next_last(backend) {
        let c = start(backend).await;
        let owner = c.signup("lan@vast.vn").await;
        for name in ["Viện A", "Viện B", "Viện C"] {
            c.create_org(&owner, name, "research_institute").await;
        }
        let first = c.get("/api/v1/organizations?kind=research_institute&per_page=1").await;
        assert_eq!(first.ok()["total"], 3);
        assert_eq!(
            links(&first),
            [
                ("first".into(), "/api/v1/organizations?kind=research_institute&per_page=1&page=1".into()),
                ("next".into(), "/api/v1/organizations?kind=research_institute&per_page=1&page=2".into()),
                ("last".into(), "/api/v1/organizations?kind=research_institute&per_page=1&page=3".into()),
            ]
        );
        let middle = c.get("/api/v1/organizations?page=2&kind=research_institute&per_page=1").await;
        let rels: Vec<String> = links(&middle).into_iter().map(|(rel, _)| rel).collect();
        assert_eq!(rels, ["first", "prev", "next", "last"]);
        // Following `next` from the last page's `prev` walks the list.
        let last_uri = links(&middle).into_iter().find(|(rel, _)| rel == "last").unwrap().1;
        let last = c.get(&last_uri).await;
        assert_eq!(last.ok()["page"], 3);
        let rels: Vec<String> = links(&last).into_iter().map(|(rel, _)| rel).collect();
        assert_eq!(rels, ["first", "prev", "last"]);
    }

    async fn every_page_operation_answers_with_links(backend) {
        let c = start(backend).await;
        let admin = c.staff("admin@techx.vn", PlatformRole::Admin).await;
        let spec: Value = serde_json::from_str(&techx::app::openapi_json()).unwrap();
        let mut checked = 0;
        for (path, item) in spec["paths"].as_object().unwrap() {
            let documented = item["get"]["responses"]["200"]["headers"].get("Link").is_some();
            if !documented || path.contains('{') {
                continue;
            }
            let resp = c.get_as(path, &admin.access).await;
            resp.ok();
            assert!(links(&resp).iter().any(|(rel, _)| rel == "last"), "{path}");
            checked += 1;
        }
        assert!(checked >= 8, "{checked} lists checked");
    }

    async fn a_deals_list_renders_from_one_request(backend) {
        let c = start(backend).await;
        let Sides { seller, buyer, moderator, seller_org, buyer_org } = sides(&c, "Công ty Phân bón Xanh").await;
        let seller_id = seller_org["id"].as_str().unwrap();
        let buyer_id = buyer_org["id"].as_str().unwrap();
        let listing = c
            .publish_technology(&seller, &moderator, &technology_body(seller_id, "Xử lý nước thải chăn nuôi"))
            .await;
        let inquiry = c
            .post_as(
                &format!("/api/v1/technologies/{}/inquiries", listing["id"].as_str().unwrap()),
                &buyer.access,
                &json!({"organization_id": buyer_id, "message": "Xin thông tin.",
                        "intended_use": "Trang trại", "transfer_form": "usage_licence"}),
            )
            .await
            .ok();
        c.post_as(
            "/api/v1/deals",
            &buyer.access,
            &json!({"inquiry_id": inquiry["id"], "terms": {"transfer_form": "usage_licence"}}),
        )
        .await
        .ok();
        let page = c.get_as("/api/v1/deals", &seller.access).await.ok();
        let row = &page["items"][0];
        assert_eq!(row["technology"], json!({"id": listing["id"], "title": "Xử lý nước thải chăn nuôi"}));
        assert_eq!(row["seller"], json!({"id": seller_id, "name": "Viện Công nghệ Môi trường", "kind": "research_institute"}));
        assert_eq!(row["buyer"], json!({"id": buyer_id, "name": "Công ty Phân bón Xanh", "kind": "enterprise"}));
        assert_eq!(row["broker"], Value::Null);
        // The single deal has the same shape.
        let one = c.get_as(&format!("/api/v1/deals/{}", row["id"].as_str().unwrap()), &buyer.access).await.ok();
        assert_eq!(one["technology"], row["technology"]);
        assert_eq!(one["buyer"], row["buyer"]);
    }

    async fn an_enquiries_list_renders_from_one_request(backend) {
        let c = start(backend).await;
        let Sides { seller, buyer, moderator, seller_org, buyer_org } = sides(&c, "Công ty Phân bón Xanh").await;
        let mut listings = Vec::new();
        for title in ["Xử lý nước thải chăn nuôi", "Phân bón hữu cơ vi sinh"] {
            let listing = c.publish_technology(&seller, &moderator, &technology_body(id(&seller_org), title)).await;
            c.post_as(
                &format!("/api/v1/technologies/{}/inquiries", id(&listing)),
                &buyer.access,
                &json!({"organization_id": id(&buyer_org), "message": "Xin thông tin.",
                        "intended_use": "Trang trại", "transfer_form": "usage_licence"}),
            )
            .await
            .ok();
            listings.push(listing);
        }
        let page = c.get_as("/api/v1/inquiries", &seller.access).await.ok();
        assert_eq!(page["total"], 2);
        // Newest first.
        for (row, listing) in page["items"].as_array().unwrap().iter().zip(listings.iter().rev()) {
            assert_eq!(row["technology"], titled(listing));
            assert_eq!(row["inquirer"], party(&buyer_org));
            assert_eq!(row["listing_owner"], party(&seller_org));
        }
        // The single enquiry has the same shape, for either side.
        let one = c.get_as(&format!("/api/v1/inquiries/{}", id(&page["items"][0])), &buyer.access).await.ok();
        assert_eq!(one["technology"], page["items"][0]["technology"]);
        assert_eq!(one["inquirer"], party(&buyer_org));
        // A page's labels cost the same statements for two rows as for one.
        let (one_row, one_count) = c.counted_get("/api/v1/inquiries?per_page=1", Some(&seller.access), None).await;
        let (two_rows, two_count) = c.counted_get("/api/v1/inquiries?per_page=2", Some(&seller.access), None).await;
        assert_eq!((one_row.ok()["items"].as_array().unwrap().len(), two_rows.ok()["items"].as_array().unwrap().len()), (1, 2));
        assert_eq!(one_count, two_count, "labels are read once per page, not once per row");
    }

    async fn a_proposals_list_renders_from_one_request_and_keeps_a_hidden_organisation_hidden(backend) {
        let c = start(backend).await;
        let Sides { seller, buyer, moderator, seller_org, buyer_org } = sides(&c, "Công ty Bí mật").await;
        let rival = c.signup("rival@bachkhoa.vn").await;
        let rival_org = c.create_org(&rival, "Đại học Bách khoa", "university").await;
        let listing = c
            .publish_technology(&seller, &moderator, &technology_body(id(&seller_org), "Xử lý nước thải chăn nuôi"))
            .await;
        // A demand that hides who posted it.
        let draft = c.post_as("/api/v1/demands", &buyer.access, &json!({
            "organization_id": id(&buyer_org), "title": "Cần xử lý nước thải trang trại", "problem": "Cần giải pháp.",
            "sectors": ["2.7"], "province": "thanh-hoa", "hide_organization": true
        })).await.ok();
        let demand_uri = format!("/api/v1/demands/{}", id(&draft));
        let pending = c.send(Method::POST, &format!("{demand_uri}/submit"), Some(&buyer.access), Some(&etag_of(&draft)), None).await.ok();
        let demand = c.send(Method::POST, &format!("{demand_uri}/review"), Some(&moderator.access), Some(&etag_of(&pending)),
            Some(&json!({"decision": "approve"}))).await.ok();
        let proposals = format!("{demand_uri}/proposals");
        let offered = c.post_as(&proposals, &seller.access, &json!({"organization_id": id(&seller_org),
            "technology_id": id(&listing), "approach": "Bể biogas kết hợp đất ngập nước."})).await;
        assert_eq!(offered.status, 201, "{}", offered.text());
        let offered = offered.json();
        c.post_as(&proposals, &rival.access, &json!({"organization_id": id(&rival_org),
            "approach": "Nghiên cứu giải pháp riêng cho trang trại."})).await.ok();

        // The demand's side sees its own name and every proposer, named.
        let page = c.get_as(&proposals, &buyer.access).await.ok();
        assert_eq!(page["total"], 2);
        let rows = page["items"].as_array().unwrap();
        for row in rows {
            assert_eq!(row["demand"], json!({"id": demand["id"], "title": "Cần xử lý nước thải trang trại"}));
            assert_eq!(row["demand_organization"], party(&buyer_org));
        }
        // Oldest first: the seller's, with its technology, then the rival's, without one.
        assert_eq!(rows[0]["proposer"], party(&seller_org));
        assert_eq!(rows[0]["technology"], titled(&listing));
        assert_eq!(rows[1]["proposer"], party(&rival_org));
        assert_eq!(rows[1]["technology"], Value::Null);
        // Staff see it too.
        let staff = c.get_as(&proposals, &moderator.access).await.ok();
        assert_eq!(staff["items"][0]["demand_organization"], party(&buyer_org));

        // The proposer sees its own proposal and the demand, never who posted it: not when
        // proposing, listing, or after the demand's side decided.
        assert_eq!(offered["demand_organization"], Value::Null);
        assert_eq!(offered["proposer"], party(&seller_org));
        let theirs = c.get_as(&proposals, &seller.access).await;
        let theirs_text = theirs.text();
        let theirs = theirs.ok();
        assert_eq!(theirs["total"], 1);
        assert_eq!(theirs["items"][0]["demand_organization"], Value::Null);
        assert_eq!(theirs["items"][0]["demand"]["title"], "Cần xử lý nước thải trang trại");
        assert!(!theirs_text.contains("Công ty Bí mật") && !theirs_text.contains(id(&buyer_org)), "{theirs_text}");
        let accepted = c.send(Method::POST, &format!("{proposals}/{}/accept", id(&offered)), Some(&buyer.access),
            Some(&etag_of(&offered)), None).await.ok();
        assert_eq!(accepted["demand_organization"], party(&buyer_org), "the deciding side sees itself");
        let rival_row = &rows[1];
        let withdrawn = c.send(Method::POST, &format!("{proposals}/{}/withdraw", id(rival_row)), Some(&rival.access),
            Some(&etag_of(rival_row)), None).await;
        let withdrawn_text = withdrawn.text();
        assert_eq!(withdrawn.ok()["demand_organization"], Value::Null);
        assert!(!withdrawn_text.contains("Công ty Bí mật"), "{withdrawn_text}");

        // A page's labels cost the same statements for two rows as for one.
        let (_, one_count) = c.counted_get(&format!("{proposals}?per_page=1"), Some(&buyer.access), None).await;
        let (two_rows, two_count) = c.counted_get(&format!("{proposals}?per_page=2"), Some(&buyer.access), None).await;
        assert_eq!(two_rows.ok()["items"].as_array().unwrap().len(), 2);
        assert_eq!(one_count, two_count, "labels are read once per page, not once per row");
    }

    async fn a_valuation_requests_list_renders_from_one_request(backend) {
        let c = start(backend).await;
        let owner = c.signup("owner@vast.vn").await;
        let appraiser = c.signup("tham.dinh@thamdinh.vn").await;
        let moderator = c.staff("mod@techx.vn", PlatformRole::Moderator).await;
        let owner_org = c.create_org(&owner, "Viện Công nghệ Môi trường", "research_institute").await;
        let appraiser_org = c.post_as("/api/v1/organizations", &appraiser.access, &json!({
            "name": "Công ty Thẩm định giá A", "kind": "intermediary", "province": "ha-noi",
            "sectors": ["2.7"], "services": ["valuation"]})).await.ok();
        let listing = c
            .publish_technology(&owner, &moderator, &technology_body(id(&owner_org), "Xử lý nước thải chăn nuôi"))
            .await;
        let request = json!({"organization_id": id(&owner_org), "technology_id": id(&listing),
            "purpose": "capital_contribution", "rights": {"kind": "ownership"},
            "valuation_date": "2026-12-31", "preferred_method": "cost"});
        let first = c.post_as("/api/v1/valuation-requests", &owner.access, &request).await.ok();
        let claimed = c.send(Method::POST, &format!("/api/v1/valuation-requests/{}/claim", id(&first)),
            Some(&appraiser.access), Some(&etag_of(&first)), Some(&json!({"organization_id": id(&appraiser_org)}))).await.ok();
        assert_eq!(claimed["appraiser"], party(&appraiser_org));
        c.post_as("/api/v1/valuation-requests", &owner.access, &request).await.ok();

        let page = c.get_as("/api/v1/valuation-requests", &owner.access).await.ok();
        assert_eq!(page["total"], 2);
        for row in page["items"].as_array().unwrap() {
            assert_eq!(row["technology"], titled(&listing));
            assert_eq!(row["listing_owner"], party(&owner_org));
            assert_eq!(row["requester"], party(&owner_org));
        }
        // Newest first: the open one, then the claimed one with its appraiser named.
        assert_eq!(page["items"][0]["appraiser"], Value::Null);
        assert_eq!(page["items"][1]["appraiser"], party(&appraiser_org));
        // The appraiser's view and a technology's history have the same rows.
        let theirs = c.get_as("/api/v1/valuation-requests", &appraiser.access).await.ok();
        assert_eq!(theirs["items"][1]["requester"], party(&owner_org));
        let history = c.get_as(&format!("/api/v1/technologies/{}/valuations", id(&listing)), &owner.access).await.ok();
        assert_eq!(history["items"], page["items"]);
        // A page's labels cost the same statements for two rows as for one.
        let (_, one_count) = c.counted_get("/api/v1/valuation-requests?per_page=1", Some(&owner.access), None).await;
        let (two_rows, two_count) = c.counted_get("/api/v1/valuation-requests?per_page=2", Some(&owner.access), None).await;
        assert_eq!(two_rows.ok()["items"].as_array().unwrap().len(), 2);
        assert_eq!(one_count, two_count, "labels are read once per page, not once per row");
    }
}
