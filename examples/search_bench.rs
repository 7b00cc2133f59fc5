//! Listing search benchmark: loads N synthetic Vietnamese listings (default 100 000) into a
//! fresh database per backend with `techx seed --synthetic`'s generator (`seed::synthetic`),
//! then times `store::technologies::search` (count + page of 20 + snippets) for a
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

use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use techx::db::{Backend, DbConn, DbTarget, dialect};
use techx::domain::lang::Lang;
use techx::domain::listing::{Kind, Status};
use techx::domain::search::{self, SearchQuery};
use techx::seed::synthetic;
use techx::store::matches::RANK_WINDOW;
use techx::store::organizations::{self, Profile};
use techx::store::technologies::{self as store, Filter, Sort};
use techx::store::users::{self, NewUser};

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

/// Loads `listings` synthetic listings (and their organisations) with `techx seed
/// --synthetic`'s generator: batched multi-row inserts, then fresh planner statistics.
fn load(conn: &mut DbConn, listings: usize) -> (Duration, usize) {
    let options = synthetic::Options {
        technologies: listings,
        demands: 0,
        deals: 0,
        organizations: 50,
        batch: 1_000,
        seed: 20261127,
    };
    let report = synthetic::run(conn, &options, true).unwrap_or_else(|e| panic!("load: {e}"));
    (report.elapsed, report.published_technologies)
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
    let mut published_count = 0;
    for backend in backends {
        eprintln!("{}: loading {listings} listings in transactions of 1000", backend.name());
        let db = fresh(backend);
        let mut conn =
            dialect::establish(&db.target, &techx::db::Deadlines::new(Duration::from_secs(30)))
                .unwrap_or_else(|e| panic!("connect: {e}"));
        dialect::run_migrations(&mut conn).unwrap_or_else(|e| panic!("migrate: {e}"));
        let (loaded, published) = load(&mut conn, listings);
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
        published_count = published;
    }

    println!(
        "\n{listings} listings ({published_count} published, 1 in 20 pending review), {runs} runs per query (after 3 warm-up runs); time = count + first page of 20 + snippets, one connection, in ms\n"
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
