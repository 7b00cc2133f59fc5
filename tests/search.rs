//! Listing search on both backends: Vietnamese typed without accents, ranking, every
//! filter alone and combined, sorting, pagination, snippets and hostile queries.

mod common;

use actix_http::Request;
use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use common::*;
use serde_json::{Value, json};
use techx::auth::PlatformRole;

/// `technology_body` with its own text and `overrides` merged in.
fn listing(org: &str, title: &str, summary: &str, description: &str, overrides: Value) -> Value {
    let mut body = technology_body(org, title);
    body["summary"] = json!(summary);
    body["description"] = json!(description);
    body["keywords"] = json!([]);
    for (key, value) in overrides.as_object().unwrap() {
        body[key] = value.clone();
    }
    body
}

/// Five published listings of two organisations (the first verified), oldest first:
/// A technology 2.8 Thanh Hóa TRL 6 300M VND licence+patent; B technology 4.4 Nghệ An TRL 8
/// 150M VND ownership+utility solution; C equipment 2.3 Thanh Hóa TRL 9 1.2B VND machinery;
/// D research result 4.1 Cà Mau TRL 4 unpriced, national, state-owned; E technology 1.2 Hà
/// Nội TRL 7 USD 200.00 licence.
struct Catalogue {
    ids: Vec<String>,
    verified_org: String,
    other_org: String,
    moderator: Session,
}

async fn catalogue<S, B>(ctx: &Ctx<S>) -> Catalogue
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let owner = ctx.signup("vien@ibt.ac.vn").await;
    let moderator = ctx.staff("kiemduyet@sokhcn.gov.vn", PlatformRole::Moderator).await;
    let org1 = ctx.create_org(&owner, "Viện Công nghệ sinh học", "research_institute").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let org2 = ctx.create_org(&owner, "Trường Đại học Cần Thơ", "university").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    ctx.post_as(
        &format!("/api/v1/organizations/{org1}/verification"),
        &moderator.access,
        &json!({"status": "verified"}),
    )
    .await
    .ok();
    let bodies = [
        listing(
            &org1,
            "Công nghệ sinh học xử lý phụ phẩm nông nghiệp",
            "Biến rơm rạ thành phân bón hữu cơ.",
            "Quy trình ủ nhanh bằng chủng vi sinh vật bản địa.",
            json!({"sectors": ["2.8"], "trl": 6,
                   "price": {"min": 300000000, "max": 500000000, "currency": "VND", "basis": "indicative"}}),
        ),
        listing(
            &org1,
            "Chế phẩm vi sinh phòng trừ bệnh đạo ôn",
            "Bảo vệ lúa an toàn.",
            "Chế phẩm được dùng để điều trị bệnh đạo ôn trên lúa, thay thế thuốc hóa học.",
            json!({"sectors": ["4.4"], "province": "nghe-an", "trl": 8,
                   "price": {"min": 150000000, "max": 150000000, "currency": "VND", "basis": "firm"},
                   "transfer_forms": [{"form": "ownership_assignment"}],
                   "ip_records": [{"type": "utility_solution", "status": "pending"}]}),
        ),
        listing(
            &org1,
            "Thiết bị sấy nông sản bơm nhiệt",
            "Sấy lạnh giữ màu và dinh dưỡng.",
            "Máy sấy công suất 500 kg mẻ.",
            json!({"kind": "equipment", "sectors": ["2.3"], "trl": 9,
                   "price": {"min": 1200000000, "currency": "VND", "basis": "floor"},
                   "transfer_forms": [{"form": "machinery_with_technology"}], "ip_records": []}),
        ),
        listing(
            &org2,
            "Giống lúa chịu mặn",
            "Năng suất ổn định trên đất nhiễm mặn.",
            "Kết quả đề tài cấp nhà nước.",
            json!({"kind": "research_result", "sectors": ["4.1"], "province": "ca-mau", "trl": 4, "price": null,
                   "ip_records": [{"type": "plant_variety", "status": "granted"}],
                   "research": {"funding_level": "national", "task_code": "ĐTĐL.CN-12/21",
                                "host_organization": "Trường Đại học Cần Thơ", "managing_agency": "Bộ KH&CN",
                                "rights_status": "state_owned"}}),
        ),
        listing(
            &org2,
            "Phần mềm quản lý trang trại",
            "Theo dõi đàn vật nuôi trên điện thoại.",
            "Ứng dụng di động và máy chủ.",
            json!({"sectors": ["1.2"], "province": "ha-noi", "trl": 7,
                   "price": {"min": 20000, "currency": "USD", "basis": "indicative"},
                   "ip_records": [{"type": "copyright_software", "status": "not_applicable"}]}),
        ),
    ];
    let mut ids = Vec::new();
    for body in &bodies {
        ids.push(
            ctx.publish_technology(&owner, &moderator, body).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    // An unpublished listing that matches everything must never appear.
    ctx.create_technology(
        &owner.access,
        &listing(&org1, "Công nghệ sinh học điều trị nông sản", "Bản nháp", "điều trị", json!({})),
    )
    .await;
    Catalogue { ids, verified_org: org1, other_org: org2, moderator }
}

/// The catalogue letters of a page's items, in order.
fn letters(c: &Catalogue, page: &Value) -> String {
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("not a page: {page}"))
        .iter()
        .map(|item| {
            let id = item["id"].as_str().unwrap();
            let i = c
                .ids
                .iter()
                .position(|x| x == id)
                .unwrap_or_else(|| panic!("unexpected listing {item}"));
            char::from(b'A' + i as u8)
        })
        .collect()
}

/// The first result's letter.
fn first(c: &Catalogue, page: &Value) -> char {
    letters(c, page).chars().next().unwrap_or_else(|| panic!("no results: {page}"))
}

backend_tests! {
    async fn accentless_queries_find_vietnamese_text(backend) {
        let ctx = start(backend).await;
        let c = catalogue(&ctx).await;
        let search = |q: &str| format!("/api/v1/technologies?q={}", url_encode(q));

        let page = ctx.get(&search("cong nghe sinh hoc")).await.ok();
        // Every word is optional; the listing holding them all comes first.
        assert_eq!(first(&c, &page), 'A');
        let snippet = page["items"][0]["snippet"].as_str().unwrap();
        assert!(snippet.contains("<mark>Công</mark> <mark>nghệ</mark> <mark>sinh</mark> <mark>học</mark>"), "{snippet}");

        let page = ctx.get(&search("dieu tri")).await.ok();
        assert_eq!(first(&c, &page), 'B');
        assert_eq!(
            page["items"][0]["snippet"],
            "Chế phẩm được dùng để <mark>điều</mark> <mark>trị</mark> bệnh đạo ôn trên lúa, thay thế thuốc hóa học."
        );
        // Accents, case and decomposed input all fold alike.
        for q in ["Điều Trị", "DIEU TRI", "đIỀu   trị", "die\u{0302}\u{0300}u tri\u{0323}"] {
            assert_eq!(first(&c, &ctx.get(&search(q)).await.ok()), 'B', "{q:?}");
        }
        // The last word matches as a prefix; every word must match.
        assert_eq!(first(&c, &ctx.get(&search("nong nghi")).await.ok()), 'A');
        assert_eq!(first(&c, &ctx.get(&search("nong san")).await.ok()), 'C');
        // One word too many still finds the listing holding the others.
        assert_eq!(first(&c, &ctx.get(&search("nong san vaccine")).await.ok()), 'C');
        // Research data is searchable too.
        assert_eq!(first(&c, &ctx.get(&search("dtdl cn 12")).await.ok()), 'D');
        // No snippets without a query.
        assert_eq!(ctx.get("/api/v1/technologies").await.ok()["items"][0]["snippet"], Value::Null);
    }

    async fn title_matches_rank_above_description_matches(backend) {
        let ctx = start(backend).await;
        let owner = ctx.signup("thuy@vnua.edu.vn").await;
        let moderator = ctx.staff("kd@sokhcn.gov.vn", PlatformRole::Moderator).await;
        let org = ctx.create_org(&owner, "Học viện Nông nghiệp", "university").await["id"].as_str().unwrap().to_owned();
        // The title match is published first, so "newest" would put it last.
        let title = ctx.publish_technology(&owner, &moderator, &listing(&org, "Vắc xin phòng bệnh cúm gia cầm",
            "Miễn dịch kéo dài.", "Sản xuất trên phôi trứng.", json!({}))).await;
        let text = ctx.publish_technology(&owner, &moderator, &listing(&org, "Chế phẩm tăng sức đề kháng",
            "Dùng kèm vắc xin.", "Tăng hiệu quả của vắc xin, giảm phản ứng sau tiêm vắc xin cho gia cầm.", json!({}))).await;
        let ids = |page: &Value| -> Vec<Value> { page["items"].as_array().unwrap().iter().map(|i| i["id"].clone()).collect() };

        let ranked = ctx.get("/api/v1/technologies?q=vac%20xin").await.ok();
        assert_eq!(ids(&ranked), [title["id"].clone(), text["id"].clone()]);
        let explicit = ctx.get("/api/v1/technologies?q=vac%20xin&sort=relevance").await.ok();
        assert_eq!(ids(&explicit), ids(&ranked));
        let newest = ctx.get("/api/v1/technologies?q=vac%20xin&sort=newest").await.ok();
        assert_eq!(ids(&newest), [text["id"].clone(), title["id"].clone()]);
        let both = ctx.get("/api/v1/technologies?q=gia%20cam").await.ok();
        assert_eq!(ids(&both), [title["id"].clone(), text["id"].clone()]);
    }

    async fn filters_alone_and_combined(backend) {
        let ctx = start(backend).await;
        let c = catalogue(&ctx).await;
        let list = |query: String| {
            let ctx = &ctx;
            async move { ctx.get(&format!("/api/v1/technologies?{query}")).await.ok() }
        };
        let cases: Vec<(String, &str)> = vec![
            (String::new(), "EDCBA"),
            ("kind=equipment".into(), "C"),
            ("kind=research_result".into(), "D"),
            ("sector=2".into(), "CA"),
            ("sector=2.8".into(), "A"),
            ("sector=4".into(), "DB"),
            ("sector=1.2".into(), "E"),
            ("sector=5".into(), ""),
            ("province=thanh-hoa".into(), "CA"),
            ("trl_min=7".into(), "ECB"),
            ("trl_min=7&trl_max=8".into(), "EB"),
            ("trl_max=4".into(), "D"),
            ("price_max=200000000&currency=VND".into(), "B"),
            ("price_max=400000000&currency=VND".into(), "BA"),
            ("currency=USD".into(), "E"),
            ("transfer_form=usage_licence".into(), "EDA"),
            ("transfer_form=machinery_with_technology".into(), "C"),
            ("ip_type=patent".into(), "A"),
            ("ip_type=utility_solution".into(), "B"),
            ("ip_type=plant_variety".into(), "D"),
            ("funding_level=national".into(), "D"),
            ("funding_level=provincial".into(), ""),
            ("rights_status=state_owned".into(), "D"),
            ("rights_status=usage_assigned".into(), ""),
            (format!("organization_id={}", c.other_org), "ED"),
            (format!("organization_id={}", c.verified_org), "CBA"),
            ("verified_only=true".into(), "CBA"),
            ("verified_only=false".into(), "EDCBA"),
            // Combined, with and without text.
            ("sector=2&province=thanh-hoa&trl_min=7".into(), "C"),
            ("q=cong%20nghe&province=thanh-hoa&kind=technology".into(), "A"),
            // Every word is optional: A holds "điều" (in its default text), not "trị".
            ("q=dieu%20tri&province=thanh-hoa".into(), "A"),
            ("q=lua&sector=4&verified_only=true".into(), "B"),
            ("q=lua&sector=4".into(), "BD"),
            ("q=lua&funding_level=national&rights_status=state_owned".into(), "D"),
            ("transfer_form=usage_licence&currency=VND&verified_only=true".into(), "A"),
        ];
        for (query, expected) in &cases {
            let page = list(query.clone()).await;
            let mut got = letters(&c, &page);
            if query.starts_with("q=lua&sector=4") && !query.contains("verified") {
                // Two matches of one relevance class; order by rank is the engine's call.
                let mut sorted: Vec<char> = got.chars().collect();
                sorted.sort();
                got = sorted.into_iter().collect();
            }
            assert_eq!(&got, expected, "?{query}");
            assert_eq!(page["total"], expected.len(), "?{query}");
        }
    }

    async fn sorting_and_pagination(backend) {
        let ctx = start(backend).await;
        let c = catalogue(&ctx).await;
        let get = |query: &str| {
            let uri = format!("/api/v1/technologies?{query}");
            let ctx = &ctx;
            async move { ctx.get(&uri).await.ok() }
        };
        assert_eq!(letters(&c, &get("sort=newest").await), "EDCBA");
        assert_eq!(letters(&c, &get("sort=price_asc").await), "EBACD", "unpriced last");
        assert_eq!(letters(&c, &get("sort=price_desc").await), "CABED", "unpriced last");
        assert_eq!(letters(&c, &get("sort=price_asc&currency=VND").await), "BAC");
        let page = get("per_page=2&page=2").await;
        assert_eq!(letters(&c, &page), "CB");
        assert_eq!((page["page"].clone(), page["per_page"].clone(), page["total"].clone()), (json!(2), json!(2), json!(5)));
        // With text: ranked pages, and a total past the last one.
        let first = get("q=lua&per_page=1").await;
        let second = get("q=lua&per_page=1&page=2").await;
        assert_eq!((first["total"].clone(), second["total"].clone()), (json!(2), json!(2)));
        let mut both = letters(&c, &first) + &letters(&c, &second);
        assert_eq!(both.len(), 2);
        both = if both == "DB" { "BD".into() } else { both };
        assert_eq!(both, "BD");
        let past = get("q=lua&per_page=1&page=5").await;
        assert_eq!((letters(&c, &past), past["total"].clone()), (String::new(), json!(2)));
        let beyond = get("per_page=2&page=4").await;
        assert_eq!(letters(&c, &beyond), "");
        assert_eq!(beyond["total"], 5);
        // Summaries carry the owner and what a result list needs.
        let first = &get("per_page=1").await["items"][0];
        assert_eq!(first["organization"]["name"], "Trường Đại học Cần Thơ");
        assert_eq!(first["organization"]["verified"], false);
        assert_eq!(first["transfer_forms"], json!(["usage_licence"]));
        assert_eq!(first["price"]["currency"], "USD");
        let verified = &get("verified_only=true&per_page=1").await["items"][0];
        assert_eq!(verified["organization"]["verified"], true);
        // The review queue is sorted and paged the same way.
        let queue = ctx.get_as("/api/v1/technologies?status=published&per_page=1", &c.moderator.access).await.ok();
        assert_eq!(queue["total"], 5);
    }

    async fn bad_filters_name_the_parameter(backend) {
        let ctx = start(backend).await;
        for (query, field) in [
            ("sector=9", "sector"),
            ("sector=4.9", "sector"),
            ("province=sai-gon", "province"),
            ("transfer_form=gift", "transfer_form"),
            ("ip_type=trademark", "ip_type"),
            ("currency=XYZ", "currency"),
            ("price_max=100", "currency"),
            ("price_max=-1&currency=VND", "price_max"),
            ("price_max=cheap&currency=VND", "price_max"),
            ("trl_min=0", "trl_min"),
            ("trl_max=10", "trl_max"),
            ("trl_min=5&trl_max=3", "trl_min"),
            ("kind=car", "kind"),
            ("sort=random", "sort"),
            ("funding_level=city", "funding_level"),
            ("rights_status=mine", "rights_status"),
            ("organization_id=42", "organization_id"),
            ("verified_only=maybe", "verified_only"),
            ("page=0", "page"),
            ("per_page=101", "per_page"),
        ] {
            let res = ctx.get(&format!("/api/v1/technologies?{query}")).await;
            assert_eq!(res.status, 400, "?{query}: {}", res.text());
            res.invalid_field(field);
        }
    }

    async fn hostile_queries_are_sanitised(backend) {
        let ctx = start(backend).await;
        let c = catalogue(&ctx).await;
        let ten_kb: String = "điều trị \"* NEAR( ".repeat(600);
        assert!(ten_kb.len() > 10_000);
        let hostile: Vec<String> = [
            "", "   ", "!!!", "\"", "\"\"\"", "*", "**", "-", "--", ":", "::", "(", ")", "((", "))(",
            "NEAR(a b)", "NEAR", "a NEAR b", "AND OR NOT", "AND", "NOT lua", "lua OR", "title:lua",
            "\"lua", "lua\"", "lua*", "*lua", "-lua", "lua -", "^lua", "lua:*", "'lua'", "lua & !gao | (x",
            "lua <-> gao", "\\", "%", "_", "%_%", "'; DROP TABLE technologies; --", "$1", "?",
            "\u{0}", "😀😀", "\u{301}\u{301}", "{}[]<>", "a b c d e f g h i j k l m n o p",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([ten_kb, "x".repeat(10_000)])
        .collect();
        for q in &hostile {
            let res = ctx.get(&format!("/api/v1/technologies?q={}", url_encode(q))).await;
            assert_eq!(res.status, 200, "q={:?}: {}", q.chars().take(40).collect::<String>(), res.text());
            let page = res.json();
            assert!(page["items"].is_array() && page["total"].is_i64(), "{page}");
        }
        // Nothing searchable left: the query is ignored, not an error and not a wildcard.
        assert_eq!(ctx.get("/api/v1/technologies?q=%22*%3A-()").await.ok()["total"], 5);
        // Operators are dropped, words kept.
        let mut lua: Vec<char> = letters(&c, &ctx.get("/api/v1/technologies?q=NOT%20lua").await.ok()).chars().take(2).collect();
        lua.sort();
        assert_eq!(lua, ['B', 'D']);
        assert_eq!(first(&c, &ctx.get(&format!("/api/v1/technologies?q={}", url_encode("\"đạo ôn\" NEAR(lúa)"))).await.ok()), 'B');
        // The database is intact.
        assert_eq!(ctx.get("/api/v1/technologies").await.ok()["total"], 5);
    }
}
