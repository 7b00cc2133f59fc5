//! Search on both backends: Vietnamese typed without accents, with typos or half-typed,
//! ranking, every filter alone and combined, facets, sorting, pagination, snippets, hostile
//! queries; the index following every change, in this process and in others, and surviving
//! deletion, corruption and a kill -9.

use crate::common;

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
        // The same offer shape as the detail: forms with their licence terms.
        assert_eq!(first["transfer_forms"].as_array().map(Vec::len), Some(1));
        assert_eq!(first["transfer_forms"][0]["form"], "usage_licence");
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

/// A realistic catalogue: (key, title, summary, description).
const CATALOGUE: &[(&str, &str, &str, &str)] = &[
    (
        "wastewater",
        "Xử lý nước thải chăn nuôi bằng công nghệ sinh học",
        "Hệ thống xử lý nước thải trại lợn quy mô vừa.",
        "Bể biogas kết hợp lọc sinh học, nước đầu ra đạt quy chuẩn.",
    ),
    (
        "vaccine",
        "Vắc xin phòng bệnh gan thận mủ trên cá tra",
        "Vắc xin bất hoạt dạng tiêm cho cá tra giống.",
        "Tỷ lệ bảo hộ trên 80% trong thử nghiệm thực địa.",
    ),
    (
        "tb",
        "Bộ kit chẩn đoán nhanh bệnh lao",
        "Phát hiện vi khuẩn lao trong 2 giờ.",
        "Kỹ thuật LAMP, dùng được tại tuyến huyện.",
    ),
    (
        "brick",
        "Gạch không nung từ tro xỉ nhiệt điện",
        "Dây chuyền sản xuất gạch block.",
        "Tận dụng tro bay và xỉ đáy lò của nhà máy nhiệt điện.",
    ),
    (
        "coffee",
        "Máy sấy cà phê bằng năng lượng mặt trời",
        "Máy sấy nông sản tiết kiệm điện.",
        "Sấy cà phê nhân đạt độ ẩm 12%.",
    ),
    (
        "dryer",
        "Máy sấy thóc quy mô hộ gia đình",
        "Sấy lúa sau thu hoạch.",
        "Công suất 2 tấn mỗi mẻ.",
    ),
    (
        "welding",
        "Công nghệ hàn laser cho thép không gỉ",
        "Mối hàn bền, ít biến dạng.",
        "Ứng dụng trong chế tạo thiết bị thực phẩm.",
    ),
    (
        "hannom",
        "Số hóa và nhận dạng văn bản Hán Nôm",
        "Phần mềm nhận dạng chữ Hán Nôm.",
        "Bảo tồn thư tịch cổ tại các thư viện.",
    ),
    (
        "iot",
        "Hệ thống internet vạn vật giám sát ao nuôi tôm",
        "Cảm biến đo oxy hòa tan và pH.",
        "Cảnh báo qua điện thoại khi chất lượng nước xấu.",
    ),
    (
        "pangasius",
        "Quy trình nuôi thâm canh",
        "Tăng năng suất ao nuôi.",
        "Áp dụng cho cá tra và cá basa ở Đồng bằng sông Cửu Long.",
    ),
    (
        "salt",
        "Giống lúa chịu mặn OM",
        "Năng suất ổn định trên đất nhiễm mặn.",
        "Thích hợp vùng ven biển.",
    ),
];

/// Publishes [`CATALOGUE`]; returns (key, id) pairs.
async fn realistic<S, B>(ctx: &Ctx<S>) -> Vec<(&'static str, String)>
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let owner = ctx.signup("ttcn@ctu.edu.vn").await;
    let moderator = ctx.staff("kiemduyet@sokhcn.gov.vn", PlatformRole::Moderator).await;
    let org = ctx.create_org(&owner, "Trung tâm Chuyển giao Công nghệ", "research_institute").await
        ["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut ids = Vec::new();
    for (key, title, summary, description) in CATALOGUE {
        let body = listing(&org, title, summary, description, json!({}));
        let published = ctx.publish_technology(&owner, &moderator, &body).await;
        ids.push((*key, published["id"].as_str().unwrap().to_owned()));
    }
    ids
}

/// The keys of a page's listings, in order.
fn keys(ids: &[(&'static str, String)], page: &Value) -> Vec<&'static str> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            let id = item["id"].as_str().unwrap();
            ids.iter().find(|(_, i)| i == id).map_or("?", |(k, _)| k)
        })
        .collect()
}

backend_tests! {
    async fn relevance_follows_how_people_type(backend) {
        let ctx = start(backend).await;
        let ids = realistic(&ctx).await;
        let top = |q: &'static str| {
            let ctx = &ctx;
            let ids = &ids;
            async move {
                let page = ctx.get(&format!("/api/v1/technologies?q={}", url_encode(q))).await.ok();
                keys(ids, &page)
            }
        };
        // Accent-free, and word order.
        assert_eq!(top("xu ly nuoc thai chan nuoi").await[0], "wastewater");
        assert_eq!(top("chan nuoi nuoc thai xu ly").await[0], "wastewater");
        // One-letter typos, transpositions included ("thia" for "thai", "xim" for "xin").
        assert_eq!(top("nuoc thia chan nuoi").await[0], "wastewater");
        assert_eq!(top("vac xim ca tra").await[0], "vaccine");
        assert_eq!(top("chuan doan lao").await[0], "tb");
        // A half-typed last word, from its first letter.
        assert_eq!(top("xu ly nuoc th").await[0], "wastewater");
        assert_eq!(top("gach khong nu").await[0], "brick");
        assert_eq!(top("gach k").await[0], "brick");
        // One word too many: the listing holding the others first, partial matches after.
        let dryers = top("may say ca phe cong suat lon").await;
        assert_eq!(dryers[0], "coffee");
        assert!(dryers.contains(&"dryer"), "{dryers:?}");
        // Spelling variants (synonyms).
        assert_eq!(top("vaccine ca tra").await[0], "vaccine");
        assert_eq!(top("vacxin").await[0], "vaccine");
        assert_eq!(top("iot nuoi tom").await[0], "iot");
        // Accents typed are preferred, without losing accent-free matches.
        let han = top("hàn").await;
        assert_eq!(han[0], "welding");
        assert!(han.contains(&"hannom"), "{han:?}");
        assert_eq!(top("hán").await[0], "hannom");
        let plain = top("han").await;
        assert!(plain.contains(&"welding") && plain.contains(&"hannom"), "{plain:?}");
        // The title outranks the rest: "cá tra" in a title before "cá tra" in a description.
        let fish = top("ca tra").await;
        let title = fish.iter().position(|k| *k == "vaccine").unwrap();
        let body = fish.iter().position(|k| *k == "pangasius").unwrap();
        assert!(title < body, "{fish:?}");
    }

    async fn small_pages_rank_as_the_whole_result_does(backend) {
        // A small page is answered from the documents holding every query word when they fill
        // it, a large one from every match: walking small pages must give the same order.
        let ctx = start(backend).await;
        let ids = realistic(&ctx).await;
        for q in ["ca tra", "vaccine ca tra", "may say ca phe cong suat lon", "cong nghe xu ly", "nuoc thia chan nuoi"] {
            let q = url_encode(q);
            let whole = ctx.get(&format!("/api/v1/technologies?q={q}&per_page=50")).await.ok();
            let expected = keys(&ids, &whole);
            assert!(expected.len() >= 3, "{q}: {expected:?}");
            for per_page in [1, 2] {
                let mut walked = Vec::new();
                for page in 1..=expected.len().div_ceil(per_page) {
                    let got = ctx
                        .get(&format!("/api/v1/technologies?q={q}&per_page={per_page}&page={page}"))
                        .await
                        .ok();
                    assert_eq!(got["total"], whole["total"], "{q}");
                    walked.extend(keys(&ids, &got));
                }
                assert_eq!(walked, expected, "{q}, {per_page} per page");
            }
        }
    }

    async fn snippets_mark_typo_prefix_and_synonym_matches(backend) {
        let ctx = start(backend).await;
        let ids = realistic(&ctx).await;
        let first = |q: &'static str| {
            let ctx = &ctx;
            async move {
                let page = ctx.get(&format!("/api/v1/technologies?q={}", url_encode(q))).await.ok();
                page["items"][0]["snippet"].as_str().unwrap_or_default().to_owned()
            }
        };
        assert!(first("nuoc thia").await.contains("<mark>thải</mark>"), "typo");
        assert!(first("gach khong nu").await.contains("<mark>nung</mark>"), "prefix");
        assert!(first("vaccine ca tra").await.contains("<mark>Vắc</mark> <mark>xin</mark>"), "synonym");
        assert_eq!(ids.len(), CATALOGUE.len());
    }

    async fn facets_count_the_whole_result_as_sql_does(backend) {
        let ctx = start(backend).await;
        let c = catalogue(&ctx).await;
        let page = ctx.get("/api/v1/technologies?facets=province,kind,sector,trl,transfer_form,verified&per_page=1").await.ok();
        assert_eq!(page["items"].as_array().unwrap().len(), 1, "a page of one, counts over all");
        let mut conn = ctx.db.connect();
        use diesel::prelude::*;
        use techx::db::schema::technologies::dsl as t;
        let rows: Vec<(String, String)> = t::technologies
            .filter(t::status.eq("published"))
            .select((t::province, t::kind))
            .load(&mut conn)
            .unwrap();
        let count = |f: &dyn Fn(&(String, String)) -> bool| rows.iter().filter(|r| f(r)).count() as u64;
        for province in ["thanh-hoa", "nghe-an", "ca-mau", "ha-noi"] {
            assert_eq!(page["facets"]["province"][province], count(&|r| r.0 == province), "{province}");
        }
        for kind in ["technology", "equipment", "research_result"] {
            assert_eq!(page["facets"]["kind"][kind], count(&|r| r.1 == kind), "{kind}");
        }
        // A field counts its sub-fields' listings (2.8 and 2.3 under 2).
        assert_eq!(page["facets"]["sector"]["2"], 2);
        assert_eq!(page["facets"]["sector"]["2.8"], 1);
        assert_eq!(page["facets"]["trl"]["9"], 1);
        assert_eq!(page["facets"]["verified"]["true"], 3);
        assert_eq!(page["total"], 5);
        // With text and a filter, over the matches only.
        let page = ctx.get("/api/v1/technologies?q=lua&facets=province&province=ca-mau").await.ok();
        assert_eq!(page["facets"]["province"], json!({"ca-mau": page["total"]}));
        // Unknown names are refused, naming the parameter.
        ctx.get("/api/v1/technologies?facets=province,color").await.invalid_field("facets");
        ctx.get("/api/v1/demands?facets=kind").await.invalid_field("facets");
        assert_eq!(c.ids.len(), 5);
    }

    async fn the_index_follows_every_change_on_the_next_request(backend) {
        let ctx = start(backend).await;
        let owner = ctx.signup("vien@ibt.ac.vn").await;
        let moderator = ctx.staff("kiemduyet@sokhcn.gov.vn", PlatformRole::Moderator).await;
        let org = ctx.create_org(&owner, "Viện Thủy sản", "research_institute").await["id"].as_str().unwrap().to_owned();
        let found = |q: &'static str| {
            let ctx = &ctx;
            async move { ctx.get(&format!("/api/v1/technologies?q={}", url_encode(q))).await.ok()["total"].as_u64().unwrap() }
        };
        let body = listing(&org, "Vắc xin cá tra", "Tiêm cho cá giống.", "Bất hoạt.", json!({}));
        let draft = ctx.create_technology(&owner.access, &body).await;
        let pending = ctx.listing_action(&draft, "submit", &owner.access, None).await.ok();
        assert_eq!(found("vac xin ca tra").await, 0, "not public before approval");
        let approve = json!({"decision": "approve"});
        let published = ctx.listing_action(&pending, "review", &moderator.access, Some(&approve)).await.ok();
        assert_eq!(found("vac xin ca tra").await, 1, "found on the very next request");
        // The same request again, nothing changed since: the page this process sent before,
        // without a statement (and every change below starts afresh).
        let search = format!("/api/v1/technologies?q={}", url_encode("vac xin ca tra"));
        let (first, _) = ctx.counted_get(&search, None, None).await;
        let (again, statements) = ctx.counted_get(&search, None, None).await;
        assert_eq!(again.status, 200);
        assert_eq!(statements, 0);
        assert_eq!(again.text(), first.text());
        assert_eq!(again.header("etag"), first.header("etag"));
        // Edited back to review: gone until approved again.
        let uri = format!("/api/v1/technologies/{}", published["id"].as_str().unwrap());
        let edited = ctx.send(actix_web::http::Method::PATCH, &uri, Some(&owner.access), Some(&etag_of(&published)), Some(&json!({"title": "Vắc xin cá tra thế hệ mới"}))).await.ok();
        assert_eq!(edited["status"], "pending_review");
        assert_eq!(found("vac xin ca tra").await, 0);
        let republished = ctx.listing_action(&edited, "review", &moderator.access, Some(&approve)).await.ok();
        assert_eq!(found("the he moi").await, 1, "the new text");
        // The owner's name as the page shows it follows a rename.
        let name = |page: Value| page["items"][0]["organization"]["name"].as_str().unwrap().to_owned();
        assert_eq!(name(ctx.get(&search).await.ok()), "Viện Thủy sản");
        let profile = ctx.get(&format!("/api/v1/organizations/{org}")).await.ok();
        let renamed = ctx.send(actix_web::http::Method::PATCH, &format!("/api/v1/organizations/{org}"), Some(&owner.access), Some(&etag_of(&profile)), Some(&json!({"name": "Viện Thủy sản Nam Bộ"}))).await;
        assert_eq!(renamed.status, 200, "{}", renamed.text());
        assert_eq!(name(ctx.get(&search).await.ok()), "Viện Thủy sản Nam Bộ");
        // Verification of the organisation is a filter: followed too.
        assert_eq!(ctx.get("/api/v1/technologies?verified_only=true").await.ok()["total"], 0);
        ctx.post_as(&format!("/api/v1/organizations/{org}/verification"), &moderator.access, &json!({"status": "verified"})).await.ok();
        assert_eq!(ctx.get("/api/v1/technologies?verified_only=true").await.ok()["total"], 1);
        // Archived: gone.
        ctx.listing_action(&republished, "archive", &owner.access, None).await.ok();
        assert_eq!(found("vac xin ca tra").await, 0);
        // Expired by the background job (no request): gone once the feed is applied.
        let other = ctx.publish_technology(&owner, &moderator, &listing(&org, "Máy sấy cà phê", "Sấy.", "Nhanh.", json!({}))).await;
        assert_eq!(found("may say ca phe").await, 1);
        let later = techx::db::types::now() + chrono::Duration::days(400);
        techx::store::expiry::run::<techx::store::technologies::Listing>(&mut ctx.db.connect(), later, 365).unwrap();
        ctx.state.search.sync(&mut ctx.db.connect()).unwrap();
        assert_eq!(found("may say ca phe").await, 0, "{}", other["id"]);
    }

    async fn a_deleted_index_is_rebuilt_with_the_same_results(backend) {
        let ctx = start(backend).await;
        let ids = realistic(&ctx).await;
        let queries = ["xu ly nuoc thai", "vac xim ca tra", "may say", "han"];
        let mut before = Vec::new();
        for q in queries {
            before.push(ctx.get(&format!("/api/v1/technologies?q={}&facets=kind", url_encode(q))).await.ok());
        }
        // Another index of the same database, in a folder deleted under it and rebuilt.
        let dir = ctx.db.search_dir.with_file_name("second-index");
        let search = techx::search::Search::open(Some(&dir)).unwrap();
        search.catch_up(&mut ctx.db.connect()).unwrap();
        let position = search.position();
        drop(search);
        std::fs::remove_dir_all(&dir).unwrap();
        let search = techx::search::Search::open(Some(&dir)).unwrap();
        assert!(!search.is_ready());
        search.catch_up(&mut ctx.db.connect()).unwrap();
        assert!(search.position() >= position.saturating_sub(1_000));
        for (q, expected) in queries.iter().zip(before) {
            let text = techx::domain::search::SearchQuery::parse(q);
            let filters = techx::search::Filters::default();
            let found = search
                .find(&techx::search::Request {
                    doc_type: techx::search::DocType::Technology,
                    text: text.as_ref(),
                    filters: &filters,
                    order: techx::search::Order::Relevance,
                    offset: 0,
                    limit: 20,
                    facets: &[techx::search::FacetName::Kind],
                })
                .unwrap();
            let got: Vec<String> = found.ids.iter().map(|id| id.to_string()).collect();
            let want: Vec<String> = expected["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_owned()).collect();
            assert_eq!(got, want, "{q}");
            assert_eq!(found.total, expected["total"].as_u64().unwrap(), "{q}");
            assert_eq!(serde_json::to_value(&found.facets).unwrap(), expected["facets"], "{q}");
        }
        // A corrupt index is rebuilt too.
        std::fs::write(dir.join("meta.json"), b"{not json").unwrap();
        let search = techx::search::Search::open(Some(&dir)).unwrap();
        search.catch_up(&mut ctx.db.connect()).unwrap();
        drop(search);
        // The same folder pointed at another database: rebuilt from that one, not trusted.
        let other = TestDb::create(backend);
        techx::db::dialect::run_migrations(&mut other.connect()).unwrap();
        let search = techx::search::Search::open(Some(&dir)).unwrap();
        search.catch_up(&mut other.connect()).unwrap();
        let filters = techx::search::Filters::default();
        let everything = techx::search::Request {
            doc_type: techx::search::DocType::Technology,
            text: None,
            filters: &filters,
            order: techx::search::Order::Newest,
            offset: 0,
            limit: 20,
            facets: &[],
        };
        assert_eq!(search.find(&everything).unwrap().total, 0, "nothing of the first database");
        assert_eq!(ids.len(), CATALOGUE.len());
    }

    async fn hostile_queries_never_fail(backend) {
        let ctx = start(backend).await;
        realistic(&ctx).await;
        let twelve = "cong nghe xu ly nuoc thia chan nuoi sinh hoc vac xim ca tr gach k";
        for q in [
            "\u{0}lúa", "\u{200f}نحن\u{200e} lúa", "a\u{301}\u{301}\u{301}", "title:vaccine^10", "body:*", "lua~2",
            "\"unbalanced", "+-&&||!(){}[]^\"~*?:\\/", twelve, "e\u{301}\u{302}\u{303}\u{304}",
        ] {
            let res = ctx.get(&format!("/api/v1/technologies?q={}&facets=sector,province,kind", url_encode(q))).await;
            assert_eq!(res.status, 200, "{q:?}: {}", res.text());
        }
        // Invalid UTF-8 in the query string: read leniently (replacement characters), never a 5xx.
        let res = ctx.get(&format!("/api/v1/technologies?q=%ff%fe%20{}", url_encode("lúa"))).await;
        assert_eq!(res.status, 200, "{}", res.text());
        // Paging deeper than the engine ranks: 400 naming the page.
        ctx.get("/api/v1/technologies?q=lua&page=200&per_page=100").await.invalid_field("page");
    }
}

/// Waits until `server` says it is ready (its search index caught up).
fn wait_ready(server: &common::net::ServerProcess, limit: std::time::Duration) {
    let deadline = std::time::Instant::now() + limit;
    while server.request("GET", "/readyz", &[], None).status != 200 {
        assert!(std::time::Instant::now() < deadline, "not ready: {}", server.log());
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

backend_tests! {
    async fn another_process_finds_a_change_within_two_seconds(backend) {
        let ctx = start(backend).await;
        let ids = realistic(&ctx).await;
        let other = common::net::ServerProcess::start(&ctx.db.url, &[]);
        wait_ready(&other, std::time::Duration::from_secs(30));
        let total = |q: &str| other.request("GET", &format!("/api/v1/technologies?q={}", url_encode(q)), &[], None).json()["total"].as_u64().unwrap();
        assert_eq!(total("gach khong nung"), total("gach khong nung"), "stable");
        let before = other.request("GET", "/api/v1/technologies", &[], None).json()["total"].as_u64().unwrap();
        assert_eq!(before, ids.len() as u64);
        // A listing approved in this process, looked for in the other.
        let owner = ctx.signup("moi@vien.vn").await;
        let moderator = ctx.staff("kd2@sokhcn.gov.vn", PlatformRole::Moderator).await;
        let org = ctx.create_org(&owner, "Viện Vật liệu", "research_institute").await["id"].as_str().unwrap().to_owned();
        let published = ctx.publish_technology(&owner, &moderator, &listing(&org, "Sơn chống hà cho tàu biển", "Sơn.", "Bền.", json!({}))).await;
        let committed = std::time::Instant::now();
        loop {
            let page = other.request("GET", &format!("/api/v1/technologies?q={}", url_encode("son chong ha tau bien")), &[], None).json();
            if page["items"][0]["id"] == published["id"] {
                break;
            }
            assert!(committed.elapsed() < std::time::Duration::from_secs(2), "not seen within 2 s");
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        assert_eq!(other.request("GET", "/api/v1/technologies", &[], None).json()["total"], before + 1);

        // The other process answers revalidations of the page from memory; a change made
        // here reaches that too within 2 s: the old ETag gets the new page, never a 304.
        let page = format!("/api/v1/technologies/{}", published["id"].as_str().unwrap());
        let etag = other.request("GET", &page, &[], None).header("etag").unwrap().to_owned();
        assert_eq!(other.request("GET", &page, &[("If-None-Match", &etag)], None).status, 304);
        assert_eq!(ctx.listing_action(&published, "renew", &owner.access, None).await.status, 200);
        let changed = std::time::Instant::now();
        loop {
            let res = other.request("GET", &page, &[("If-None-Match", &etag)], None);
            if res.status == 200 {
                assert_eq!(res.json()["version"], published["version"].as_i64().unwrap() + 1);
                break;
            }
            assert_eq!(res.status, 304);
            assert!(changed.elapsed() < std::time::Duration::from_secs(2), "not seen within 2 s");
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
    }

    async fn a_kill_during_indexing_leaves_nothing_missing_or_twice(backend) {
        let ctx = start(backend).await;
        let options = techx::seed::synthetic::Options {
            technologies: 1_500,
            demands: 100,
            deals: 0,
            organizations: 12,
            batch: 500,
            seed: 7,
        };
        techx::seed::synthetic::run(&mut ctx.db.connect(), &options, false).unwrap();
        let dir = ctx.db.search_dir.with_file_name("process-index");
        let dir_env = dir.display().to_string();
        let env = [("TECHX_SEARCH_DIR", dir_env.as_str())];
        // Killed while it rebuilds (or right after): nothing half-committed may count.
        for delay in [50, 400] {
            let mut server = common::net::ServerProcess::start(&ctx.db.url, &env);
            std::thread::sleep(std::time::Duration::from_millis(delay));
            server.child.kill().unwrap();
            server.child.wait().unwrap();
        }
        // Changes while no process follows the feed.
        let owner = ctx.signup("moi@vien.vn").await;
        let moderator = ctx.staff("kd2@sokhcn.gov.vn", PlatformRole::Moderator).await;
        let org = ctx.create_org(&owner, "Viện Vật liệu", "research_institute").await["id"].as_str().unwrap().to_owned();
        ctx.publish_technology(&owner, &moderator, &listing(&org, "Sơn chống hà cho tàu biển", "Sơn.", "Bền.", json!({}))).await;
        let server = common::net::ServerProcess::start(&ctx.db.url, &env);
        wait_ready(&server, std::time::Duration::from_secs(60));
        use diesel::prelude::*;
        use techx::db::schema::technologies::dsl as t;
        let published: i64 = t::technologies.filter(t::status.eq("published")).count().get_result(&mut ctx.db.connect()).unwrap();
        let page = server.request("GET", "/api/v1/technologies?per_page=1&facets=kind", &[], None).json();
        assert_eq!(page["total"], published, "every published listing once");
        let by_kind: u64 = page["facets"]["kind"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
        assert_eq!(by_kind, published as u64);
        let found = server.request("GET", &format!("/api/v1/technologies?q={}", url_encode("son chong ha")), &[], None).json();
        assert_eq!(found["items"][0]["title"], "Sơn chống hà cho tàu biển");
    }
}
