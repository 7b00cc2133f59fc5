//! Listing search benchmark: loads N synthetic Vietnamese listings (default 100 000) into a
//! fresh database per backend, in batched transactions, through the same store functions the
//! API uses, then times `store::technologies::search` (count + page of 20 + snippets) for a
//! set of queries and prints p50/p95 per backend as a Markdown table. Scenario
//! `demand_match`: the explained matches of one published demand against the loaded listings
//! (`store::matches::for_demand`: ranked candidates from the index, scored, sorted).
//!
//! ```sh
//! CARGO_TARGET_DIR=target cargo run --release --example search_bench -- \
//!     [--listings 100000] [--runs 20] [--backends sqlite,postgres] [--keep]
//! ```
//!
//! PostgreSQL: `TECHX_TEST_PG_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`);
//! a database `techx_bench_*` is created there and dropped afterwards.

use std::time::{Duration, Instant};

use chrono::Duration as Days;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use techx::db::schema::technologies;
use techx::db::types::{Id, now};
use techx::db::{Backend, DbConn, DbTarget, dialect};
use techx::domain::lang::Lang;
use techx::domain::listing::{
    ContactVisibility, Content, FundingLevel, IpRecord, IpStatus, Kind, Price, PriceBasis,
    Research, RightsStatus, Status, TransferOffer,
};
use techx::domain::search::{self, SearchQuery};
use techx::store::matches::RANK_WINDOW;
use techx::store::organizations::{self, Profile};
use techx::store::technologies::{self as store, Filter, Sort};
use techx::store::users::{self, NewUser};

const BATCH: usize = 1_000;

const SUBJECTS: &[&str] = &[
    "Công nghệ",
    "Quy trình",
    "Thiết bị",
    "Hệ thống",
    "Chế phẩm",
    "Giải pháp",
    "Phần mềm",
    "Máy",
    "Vật liệu",
    "Giống",
    "Mô hình",
    "Dây chuyền",
];
const OBJECTS: &[&str] = &[
    "xử lý nước thải",
    "sấy nông sản",
    "nuôi cấy mô",
    "sinh học",
    "phân bón hữu cơ",
    "điều trị bệnh",
    "tưới tiết kiệm",
    "bảo quản sau thu hoạch",
    "chăn nuôi lợn",
    "nuôi trồng thủy sản",
    "năng lượng mặt trời",
    "quản lý trang trại",
    "vắc xin thú y",
    "chẩn đoán hình ảnh",
    "in 3D",
    "cảm biến IoT",
    "bê tông nhẹ",
    "vật liệu nano",
    "dược liệu",
    "chế biến gỗ",
    "xử lý rác thải",
    "lọc nước sạch",
    "nhân giống lan",
    "phòng trừ sâu bệnh",
    "chiết xuất tinh dầu",
    "gạch không nung",
    "nông nghiệp hữu cơ",
    "nuôi tôm",
    "chế biến cà phê",
    "điện tử công suất",
];
const QUALIFIERS: &[&str] = &[
    "quy mô nhỏ",
    "tiết kiệm năng lượng",
    "thân thiện môi trường",
    "cho hợp tác xã",
    "tự động",
    "chi phí thấp",
    "công suất lớn",
    "đạt chuẩn VietGAP",
    "dùng vi sinh vật bản địa",
    "cho vùng nhiễm mặn",
    "điều khiển từ xa",
    "ứng dụng trí tuệ nhân tạo",
];
const SENTENCES: &[&str] = &[
    "Kết quả thử nghiệm tại {p} cho thấy hiệu quả cao.",
    "Sản phẩm đã được chuyển giao cho nhiều doanh nghiệp và hợp tác xã.",
    "Giải pháp giúp giảm chi phí vận hành và tăng năng suất lao động.",
    "Công nghệ phù hợp với điều kiện sản xuất của các tỉnh miền Trung.",
    "Quy trình gồm các bước chuẩn bị nguyên liệu, xử lý, kiểm tra chất lượng và đóng gói.",
    "Thiết bị vận hành ổn định, dễ bảo trì, linh kiện sẵn có trong nước.",
    "Nhóm nghiên cứu hỗ trợ đào tạo và chuyển giao kỹ thuật sau bán hàng.",
    "Đề tài được nghiệm thu xuất sắc và đã công bố trên tạp chí chuyên ngành.",
    "Hiệu suất tăng khoảng {n} phần trăm so với phương pháp truyền thống.",
    "Có thể mở rộng quy mô để phục vụ sản xuất hàng hóa.",
    "Sản phẩm an toàn cho người sử dụng và môi trường xung quanh.",
    "Chi phí đầu tư ban đầu thấp, thời gian hoàn vốn khoảng {n} tháng.",
];
const FILLER: &[&str] = &[
    "mới",
    "hiện đại",
    "hiệu quả",
    "bền vững",
    "an toàn",
    "chất lượng",
    "ổn định",
    "linh hoạt",
    "tiên tiến",
    "đơn giản",
    "kinh tế",
    "thực tiễn",
    "phổ biến",
    "chuyên dụng",
    "đa năng",
    "địa phương",
    "khu vực",
    "nông thôn",
    "đô thị",
    "miền núi",
    "ven biển",
    "đồng bằng",
];
const PROVINCES: &[&str] =
    &["thanh-hoa", "nghe-an", "ha-noi", "ho-chi-minh", "can-tho", "da-nang", "hue", "lam-dong"];
const SECTORS: &[&str] = &[
    "1.2", "1.6", "2.2", "2.3", "2.5", "2.7", "2.8", "2.9", "3.2", "3.4", "4.1", "4.2", "4.3",
    "4.4",
];
const FORMS: &[&str] = &[
    "ownership_assignment",
    "usage_licence",
    "capital_contribution",
    "joint_venture",
    "technical_services",
    "machinery_with_technology",
];
const IP_TYPES: &[&str] = &[
    "patent",
    "utility_solution",
    "industrial_design",
    "trade_secret",
    "copyright_software",
    "plant_variety",
];

fn pick<'a>(rng: &mut StdRng, items: &[&'a str]) -> &'a str {
    items.choose(rng).copied().unwrap_or_default()
}

fn sentence(rng: &mut StdRng) -> String {
    pick(rng, SENTENCES)
        .replace("{p}", pick(rng, &["Thanh Hóa", "Nghệ An", "Cần Thơ", "Lâm Đồng", "Hà Nội"]))
        .replace("{n}", &rng.gen_range(5..60).to_string())
}

fn content(rng: &mut StdRng) -> Content {
    let object = pick(rng, OBJECTS);
    let title = format!("{} {} {}", pick(rng, SUBJECTS), object, pick(rng, QUALIFIERS));
    let summary = format!(
        "{} {} {}. {}",
        pick(rng, SUBJECTS),
        pick(rng, OBJECTS),
        pick(rng, FILLER),
        sentence(rng)
    );
    let mut description = String::new();
    for _ in 0..rng.gen_range(4..9) {
        description.push_str(&sentence(rng));
        description.push(' ');
        for _ in 0..rng.gen_range(3..10) {
            description.push_str(pick(rng, FILLER));
            description.push(' ');
        }
        if rng.gen_bool(0.3) {
            description.push_str(&format!("Ứng dụng trong {}. ", pick(rng, OBJECTS)));
        }
    }
    let kind = match rng.gen_range(0..10) {
        0..=5 => Kind::Technology,
        6..=7 => Kind::Equipment,
        _ => Kind::ResearchResult,
    };
    let sector = pick(rng, SECTORS).to_owned();
    let priced = rng.gen_bool(0.7);
    let min = rng.gen_range(10..5_000) * 1_000_000;
    Content {
        kind,
        language: Lang::Vi,
        title,
        summary,
        description: description.trim().to_owned(),
        advantages: rng
            .gen_bool(0.5)
            .then(|| format!("{} và {}.", pick(rng, QUALIFIERS), pick(rng, QUALIFIERS))),
        applications: rng.gen_bool(0.5).then(|| format!("Ứng dụng cho {}.", pick(rng, OBJECTS))),
        sectors: vec![sector],
        keywords: vec![object.to_owned(), pick(rng, FILLER).to_owned()],
        trl: Some(rng.gen_range(3..=9)),
        ip_records: if rng.gen_bool(0.6) {
            vec![IpRecord {
                ip_type: pick(rng, IP_TYPES).to_owned(),
                number: Some(format!("1-{:07}", rng.gen_range(0..9_999_999))),
                status: IpStatus::Granted,
                filing_date: None,
                grant_date: None,
                territory: Some("Việt Nam".into()),
            }]
        } else {
            Vec::new()
        },
        transfer_forms: vec![TransferOffer {
            form: pick(rng, FORMS).to_owned(),
            exclusive: None,
            sublicensing: None,
            territory: None,
            term_months: None,
        }],
        price: priced.then(|| Price {
            min: Some(min),
            max: Some(min * 2),
            currency: "VND".into(),
            basis: PriceBasis::Indicative,
        }),
        province: pick(rng, PROVINCES).to_owned(),
        contact_visibility: ContactVisibility::Public,
        research: (kind == Kind::ResearchResult).then(|| Research {
            funding_level: *[
                FundingLevel::National,
                FundingLevel::Provincial,
                FundingLevel::Ministerial,
            ]
            .choose(rng)
            .unwrap_or(&FundingLevel::Provincial),
            programme: None,
            task_code: format!("ĐT.{}/{}", rng.gen_range(1..99), rng.gen_range(15..25)),
            host_organization: "Viện nghiên cứu".into(),
            managing_agency: "Sở KH&CN".into(),
            budget_spent: None,
            completion_year: Some(rng.gen_range(2015..2026)),
            rights_status: RightsStatus::StateOwned,
            assignee: None,
        }),
    }
    .normalized()
}

struct Query {
    name: &'static str,
    filter: Filter,
    sort: Sort,
}

fn queries() -> Vec<Query> {
    let text = |q: &str| SearchQuery::parse(q);
    let published = vec![Status::Published];
    let base = || Filter { statuses: published.clone(), ..Filter::default() };
    let hostile = "điều trị \"* NEAR( ".repeat(600);
    vec![
        Query {
            name: "q=cong nghe sinh hoc",
            filter: Filter { text: text("cong nghe sinh hoc"), ..base() },
            sort: Sort::Relevance,
        },
        Query {
            name: "q=dieu tri",
            filter: Filter { text: text("dieu tri"), ..base() },
            sort: Sort::Relevance,
        },
        Query {
            name: "q=xu ly nuoc thai",
            filter: Filter { text: text("xu ly nuoc thai"), ..base() },
            sort: Sort::Relevance,
        },
        Query {
            name: "q=nong nghiep huu co",
            filter: Filter { text: text("nong nghiep huu co"), ..base() },
            sort: Sort::Relevance,
        },
        Query {
            name: "q=vac xin & sector=4",
            filter: Filter { text: text("vac xin"), sector: Some("4".into()), ..base() },
            sort: Sort::Relevance,
        },
        Query {
            name: "q=cong nghe (very common)",
            filter: Filter { text: text("cong nghe"), ..base() },
            sort: Sort::Relevance,
        },
        Query {
            name: "q=cong nghe, sort=newest",
            filter: Filter { text: text("cong nghe"), ..base() },
            sort: Sort::Newest,
        },
        Query {
            name: "q=nong nghi (prefix)",
            filter: Filter { text: text("nong nghi"), ..base() },
            sort: Sort::Relevance,
        },
        Query {
            name: "q=thiet bi & equipment & trl>=6 & verified",
            filter: Filter {
                text: text("thiet bi"),
                kind: Some(Kind::Equipment),
                trl_min: Some(6),
                verified_only: true,
                ..base()
            },
            sort: Sort::Relevance,
        },
        Query {
            name: "q=hostile 10 kB",
            filter: Filter { text: text(&hostile), ..base() },
            sort: Sort::Relevance,
        },
        Query { name: "no q, newest", filter: base(), sort: Sort::Newest },
        Query {
            name: "no q, sector=4 & province, newest",
            filter: Filter {
                sector: Some("4".into()),
                province: Some("thanh-hoa".into()),
                ..base()
            },
            sort: Sort::Newest,
        },
        Query {
            name: "no q, price<=500M VND, price_asc",
            filter: Filter { currency: Some("VND".into()), price_max: Some(500_000_000), ..base() },
            sort: Sort::PriceAsc,
        },
        Query {
            name: "no q, transfer_form & ip_type",
            filter: Filter {
                transfer_form: Some("usage_licence".into()),
                ip_type: Some("patent".into()),
                ..base()
            },
            sort: Sort::Newest,
        },
    ]
}

struct Measured {
    matches: i64,
    p50: Duration,
    p95: Duration,
}

fn measure(conn: &mut DbConn, query: &Query, runs: usize) -> Measured {
    let mut times = Vec::with_capacity(runs);
    let mut matches = 0;
    for i in 0..runs + 3 {
        let started = Instant::now();
        let (page, total) = store::search(conn, &query.filter, query.sort, 0, 20)
            .unwrap_or_else(|e| panic!("{}: {e}", query.name));
        if let Some(text) = &query.filter.text {
            for l in &page {
                let c = &l.content;
                std::hint::black_box(search::best_snippet(
                    [c.summary.as_str(), c.title.as_str(), c.description.as_str()],
                    text,
                    search::SNIPPET_CHARS,
                ));
            }
        }
        let elapsed = started.elapsed();
        matches = total;
        if i >= 3 {
            times.push(elapsed); // the first three runs warm caches
        }
    }
    times.sort();
    let at = |q: f64| {
        times[((times.len() as f64 * q).ceil() as usize).saturating_sub(1).min(times.len() - 1)]
    };
    Measured { matches, p50: at(0.50), p95: at(0.95) }
}

/// A published demand of a fresh organisation, as a buyer would post it.
fn bench_demand(conn: &mut DbConn) -> techx::store::demands::Demand {
    use techx::domain::demand::{Budget, DemandContent};
    use techx::store::demands;
    let user = users::create(
        conn,
        &NewUser {
            email: "buyer@techx.vn",
            email_normalized: "buyer@techx.vn",
            password_hash: "-",
            display_name: "Buyer",
            language: "vi",
            role: techx::auth::PlatformRole::Member,
            verified: true,
        },
    )
    .unwrap_or_else(|e| panic!("user: {e}"));
    let profile = Profile {
        name: "Công ty Chăn nuôi".into(),
        kind: "enterprise".into(),
        tax_code: None,
        province: "thanh-hoa".into(),
        address: None,
        website: None,
        description: None,
        sectors: vec![],
        services: vec![],
    };
    let org = organizations::create(conn, &profile, user.id).unwrap_or_else(|e| panic!("org: {e}"));
    let content = DemandContent {
        language: Lang::Vi,
        title: "Công nghệ xử lý nước thải chăn nuôi".into(),
        problem: "Trang trại cần xử lý nước thải đạt quy chuẩn.".into(),
        requirements: None,
        sectors: vec!["2.7".into()],
        keywords: vec!["nước thải".into(), "sinh học".into()],
        trl_min: Some(6),
        budget: Some(Budget { min: None, max: Some(1_000_000_000), currency: "VND".into() }),
        transfer_forms: vec!["usage_licence".into()],
        province: "thanh-hoa".into(),
        deadline: None,
        hide_organization: false,
    }
    .normalized();
    let draft = demands::create(conn, org.id, user.id, &content).unwrap_or_else(|e| panic!("{e}"));
    let pending = demands::transition(conn, &draft, Status::PendingReview, None, 365)
        .unwrap_or_else(|e| panic!("{e}"));
    demands::transition(conn, &pending, Status::Published, None, 365)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Times the matches of `demand` ranking at most `window` full-text matches: (matches, p50,
/// p95).
fn measure_match(
    conn: &mut DbConn,
    demand: &techx::store::demands::Demand,
    runs: usize,
    window: i64,
) -> Measured {
    let mut times = Vec::with_capacity(runs);
    let mut matches = 0;
    for i in 0..runs + 3 {
        let started = Instant::now();
        let found = techx::store::matches::for_demand_within(conn, demand, Lang::Vi, window)
            .unwrap_or_else(|e| panic!("demand_match: {e}"));
        let elapsed = started.elapsed();
        matches = found.len() as i64;
        if i >= 3 {
            times.push(elapsed);
        }
    }
    times.sort();
    let at = |q: f64| {
        times[((times.len() as f64 * q).ceil() as usize).saturating_sub(1).min(times.len() - 1)]
    };
    Measured { matches, p50: at(0.50), p95: at(0.95) }
}

/// What the ranking window costs in quality: how many of the best 20 matches (by score) with
/// the window are also among the best 20 when every full-text match is ranked, and the
/// scores at ranks 1, 20 and 200 of each.
fn compare_windows(conn: &mut DbConn, demand: &techx::store::demands::Demand, backend: Backend) {
    let run = |conn: &mut DbConn, window| {
        techx::store::matches::for_demand_within(conn, demand, Lang::Vi, window)
            .unwrap_or_else(|e| panic!("demand_match: {e}"))
    };
    let windowed = run(conn, RANK_WINDOW);
    let every = run(conn, i64::MAX);
    let top =
        |found: &[(techx::store::technologies::Listing, techx::domain::matching::Scored)]| {
            found.iter().take(20).map(|(l, _)| l.id).collect::<Vec<_>>()
        };
    let shared = top(&windowed).iter().filter(|id| top(&every).contains(id)).count();
    let scores =
        |found: &[(techx::store::technologies::Listing, techx::domain::matching::Scored)]| {
            [0, 19, 199].map(|i| found.get(i).map_or(0, |(_, s)| s.score))
        };
    eprintln!(
        "{}: demand_match top 20 shared with every-match ranking: {shared}/20; scores at 1/20/200: window {:?}, every match {:?}",
        backend.name(),
        scores(&windowed),
        scores(&every)
    );
}

fn load(conn: &mut DbConn, listings: usize) -> Duration {
    let started = Instant::now();
    let user = users::create(
        conn,
        &NewUser {
            email: "bench@techx.vn",
            email_normalized: "bench@techx.vn",
            password_hash: "-",
            display_name: "Bench",
            language: "vi",
            role: techx::auth::PlatformRole::Member,
            verified: true,
        },
    )
    .unwrap_or_else(|e| panic!("user: {e}"));
    let orgs: Vec<Id> = (0..50)
        .map(|i| {
            let profile = Profile {
                name: format!("Tổ chức {i}"),
                kind: "research_institute".into(),
                tax_code: None,
                province: PROVINCES[i % PROVINCES.len()].into(),
                address: None,
                website: None,
                description: None,
                sectors: vec![],
                services: vec![],
            };
            let org = organizations::create(conn, &profile, user.id)
                .unwrap_or_else(|e| panic!("org: {e}"));
            if i % 2 == 0 {
                organizations::set_verification(conn, org.id, true, None, user.id)
                    .unwrap_or_else(|e| panic!("verify: {e}"));
            }
            org.id
        })
        .collect();
    let mut rng = StdRng::seed_from_u64(20261127);
    let expires = now() + Days::days(365);
    let mut done = 0;
    while done < listings {
        let batch = BATCH.min(listings - done);
        dialect::write_transaction(conn, |conn| -> Result<(), techx::error::ApiError> {
            for _ in 0..batch {
                let c = content(&mut rng);
                let org = *orgs.choose(&mut rng).unwrap_or(&orgs[0]);
                store::create(conn, org, user.id, &c)?;
            }
            // Published straight away: the moderation path's mails and review rows are not
            // what is measured.
            diesel::update(
                technologies::table.filter(technologies::status.eq(Status::Draft.as_str())),
            )
            .set((
                technologies::status.eq(Status::Published.as_str()),
                technologies::published_at.eq(technologies::created_at.nullable()),
                technologies::expires_at.eq(expires),
            ))
            .execute(conn)?;
            Ok(())
        })
        .unwrap_or_else(|e| panic!("load: {e}"));
        done += batch;
        // What autovacuum would do on a live server (it is off on some test machines):
        // fresh statistics, so cached plans stop treating the growing table as empty.
        if done == BATCH || done % (10 * BATCH) == 0 {
            conn.batch_execute("ANALYZE").unwrap_or_else(|e| panic!("analyze: {e}"));
        }
        if done % 20_000 == 0 {
            eprintln!("  {done} listings loaded ({:.0} s)", started.elapsed().as_secs_f64());
        }
    }
    // Publishing by update leaves each row's draft version behind on PostgreSQL: compact the
    // table (as a long-running server's autovacuum and reuse of space would), then vacuum so
    // the visibility map allows index-only counts, and analyze.
    let maintenance: &[&str] = match dialect::backend(conn) {
        Backend::Postgres => &["VACUUM FULL technologies", "VACUUM ANALYZE"],
        Backend::Sqlite => &["ANALYZE"],
    };
    for statement in maintenance {
        let running = Instant::now();
        conn.batch_execute(statement).unwrap_or_else(|e| panic!("{statement}: {e}"));
        eprintln!("  {statement}: {:.0} s", running.elapsed().as_secs_f64());
    }
    started.elapsed()
}

/// A fresh database for one backend, dropped (PostgreSQL) or deleted (SQLite) on drop.
struct BenchDb {
    target: DbTarget,
    cleanup: Box<dyn FnMut()>,
}

impl Drop for BenchDb {
    fn drop(&mut self) {
        (self.cleanup)();
    }
}

fn fresh(backend: Backend) -> BenchDb {
    let name = format!("techx_bench_{}", uuid::Uuid::new_v4().simple());
    match backend {
        Backend::Sqlite => {
            let path = std::env::temp_dir().join(format!("{name}.db"));
            let target = DbTarget::parse(&format!("sqlite://{}", path.display()))
                .unwrap_or_else(|e| panic!("{e}"));
            BenchDb {
                target,
                cleanup: Box::new(move || {
                    for suffix in ["", "-wal", "-shm"] {
                        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                    }
                }),
            }
        }
        Backend::Postgres => {
            let admin_url = std::env::var("TECHX_TEST_PG_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
            let mut admin = PgConnection::establish(&admin_url)
                .unwrap_or_else(|e| panic!("PostgreSQL at {admin_url}: {e}"));
            admin
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .unwrap_or_else(|e| panic!("create: {e}"));
            let base = admin_url.rsplit_once('/').map_or(admin_url.as_str(), |(b, _)| b).to_owned();
            let target =
                DbTarget::parse(&format!("{base}/{name}")).unwrap_or_else(|e| panic!("{e}"));
            BenchDb {
                target,
                cleanup: Box::new(move || {
                    let _ = admin
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
                }),
            }
        }
    }
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1_000.0)
}

fn main() {
    let listings: usize =
        arg("--listings").map_or(100_000, |v| v.parse().unwrap_or_else(|_| panic!("--listings N")));
    let runs: usize =
        arg("--runs").map_or(20, |v| v.parse().unwrap_or_else(|_| panic!("--runs N")));
    let backends: Vec<Backend> = arg("--backends")
        .unwrap_or_else(|| "sqlite,postgres".into())
        .split(',')
        .map(|b| match b.trim() {
            "sqlite" => Backend::Sqlite,
            "postgres" => Backend::Postgres,
            other => panic!("unknown backend {other}"),
        })
        .collect();
    let queries = queries();
    let mut results: Vec<(Backend, Duration, Vec<Measured>)> = Vec::new();
    for backend in backends {
        eprintln!("{}: loading {listings} listings in transactions of {BATCH}", backend.name());
        let db = fresh(backend);
        let mut conn = dialect::establish(&db.target, Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("connect: {e}"));
        dialect::run_migrations(&mut conn).unwrap_or_else(|e| panic!("migrate: {e}"));
        let loaded = load(&mut conn, listings);
        eprintln!(
            "{}: loaded in {:.0} s; timing {} queries x {runs} runs",
            backend.name(),
            loaded.as_secs_f64(),
            queries.len()
        );
        let mut measured: Vec<Measured> =
            queries.iter().map(|q| measure(&mut conn, q, runs)).collect();
        let demand = bench_demand(&mut conn);
        measured.push(measure_match(&mut conn, &demand, runs, RANK_WINDOW));
        measured.push(measure_match(&mut conn, &demand, runs, i64::MAX));
        compare_windows(&mut conn, &demand, backend);
        drop(conn);
        if std::env::args().any(|a| a == "--keep") {
            eprintln!("{}: kept at {}", backend.name(), db.target.location);
            std::mem::forget(db);
        }
        results.push((backend, loaded, measured));
    }

    println!(
        "\n{listings} published listings, {runs} runs per query (after 3 warm-up runs); time = count + first page of 20 + snippets, one connection, in ms\n"
    );
    let mut header = String::from("| query |");
    let mut rule = String::from("|---|");
    for (backend, _, _) in &results {
        header.push_str(&format!(" {0} matches | {0} p50 | {0} p95 |", backend.name()));
        rule.push_str("---:|---:|---:|");
    }
    println!("{header}\n{rule}");
    let names: Vec<String> = queries
        .iter()
        .map(|q| q.name.to_owned())
        .chain([
            format!("demand_match (one demand; best 200 of at most {RANK_WINDOW} ranked)"),
            "demand_match, every full-text match ranked (before the window)".to_owned(),
        ])
        .collect();
    for (i, name) in names.iter().enumerate() {
        let mut row = format!("| {name} |");
        for (_, _, measured) in &results {
            let m = &measured[i];
            row.push_str(&format!(" {} | {} | {} |", m.matches, ms(m.p50), ms(m.p95)));
        }
        println!("{row}");
    }
    println!();
    for (backend, loaded, _) in &results {
        println!(
            "load {}: {:.0} s ({:.0} listings/s)",
            backend.name(),
            loaded.as_secs_f64(),
            listings as f64 / loaded.as_secs_f64()
        );
    }
}
