//! Lists a page can render, on both backends: every page carries RFC 8288 `Link` headers
//! (`first`, `prev`, `next`, `last`) that keep the request's other parameters, and a deals
//! list shows each deal's technology title and parties' names and kinds from one request.

use crate::common;

use common::*;
use serde_json::{Value, json};
use techx::auth::PlatformRole;

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
        let seller = c.signup("seller@vast.vn").await;
        let buyer = c.signup("buyer@xanh.vn").await;
        let moderator = c.staff("mod@techx.vn", PlatformRole::Moderator).await;
        let seller_org = c.create_org(&seller, "Viện Công nghệ Môi trường", "research_institute").await;
        let buyer_org = c.create_org(&buyer, "Công ty Phân bón Xanh", "enterprise").await;
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
}
