//! Every page of a list carries RFC 8288 `Link` headers (`first`, `prev`, `next`, `last`)
//! that keep the request's other parameters, on both backends.

mod common;

use common::*;
use serde_json::Value;
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
}
