//! Search-engine benchmark: loads N synthetic Vietnamese listings (default 100 000) into a
//! fresh database per backend with `techx seed --synthetic`'s generator, rebuilds the search
//! index from it (timed), then times `Search::find` (the engine's part of a search request:
//! top 20, exact total, facets when asked) for a set of queries, and one demand's explained
//! matches (`search::matching::for_demand`), checking its top 20 against an exhaustive
//! scoring of every listing sharing a word. Prints p50/p95 per backend as Markdown.
//!
//! ```sh
//! cargo run --release --example search_bench -- \
//!     [--listings 100000] [--runs 50] [--backends sqlite,postgres] [--only-matches] \
//!     [--keep DIR] [--only QUERY-NAME-PART]
//! ```
//!
//! PostgreSQL: `TECHX_TEST_PG_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`);
//! a database `techx_bench_*` is created there and dropped afterwards.

use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use techx::db::{Backend, DbConn, DbTarget, dialect};
use techx::domain::lang::Lang;
use techx::domain::search::SearchQuery;
use techx::search::{DocType, FacetName, Filters, Order, Request, Search};
use techx::seed::synthetic;
use techx::store::organizations::{self, Profile};
use techx::store::users::{self, NewUser};

/// Quotes, operators and 10 kB of text: only the first 1 kB and 12 words are read.
const HOSTILE: &str = concat!(
    "\"* NEAR( title:x^9 AND -lua || dieu tri \u{0} \u{200f} ",
    "cong nghe xu ly nuoc thai chan nuoi sinh hoc vac xin ca tra gach khong nung may say ",
);

struct Query {
    name: &'static str,
    text: Option<String>,
    filters: Filters,
    order: Order,
    facets: Vec<FacetName>,
}

fn queries() -> Vec<Query> {
    let q = |name, text: &str, order| Query {
        name,
        text: Some(text.to_owned()),
        filters: Filters::default(),
        order,
        facets: vec![],
    };
    let facets = vec![FacetName::Sector, FacetName::Province, FacetName::Kind];
    vec![
        q("q=cong nghe (broadest)", "cong nghe", Order::Relevance),
        q("q=xu ly nuoc thai", "xu ly nuoc thai", Order::Relevance),
        q("q=cong nghe sinh hoc", "cong nghe sinh hoc", Order::Relevance),
        q("q=nuoc thia chan nuoi (typo)", "nuoc thia chan nuoi", Order::Relevance),
        q("q=xu ly nuoc th (half-typed)", "xu ly nuoc th", Order::Relevance),
        q("q=vac xin ca tra (synonym)", "vac xin ca tra", Order::Relevance),
        q(
            "q=12 words with typos",
            "cong nghe xu ly nuoc thia chan nuoi sinh hoc vac xim ca tr",
            Order::Relevance,
        ),
        Query {
            name: "q=hostile 10 kB",
            text: Some(HOSTILE.repeat(60)),
            filters: Filters::default(),
            order: Order::Relevance,
            facets: vec![],
        },
        Query {
            facets: facets.clone(),
            ..q("q=cong nghe + facets sector,province,kind", "cong nghe", Order::Relevance)
        },
        Query {
            facets: facets.clone(),
            ..q("q=xu ly nuoc thai + facets", "xu ly nuoc thai", Order::Relevance)
        },
        Query {
            name: "no q, newest",
            text: None,
            filters: Filters::default(),
            order: Order::Newest,
            facets: vec![],
        },
        Query {
            name: "no q, sector=4 & province, newest",
            text: None,
            filters: Filters {
                sector: Some("4".into()),
                province: Some("thanh-hoa".into()),
                ..Filters::default()
            },
            order: Order::Newest,
            facets: vec![],
        },
        Query {
            name: "no q, price<=500M VND, price_asc",
            text: None,
            filters: Filters {
                currency: Some("VND".into()),
                price_max: Some(500_000_000),
                ..Filters::default()
            },
            order: Order::PriceAsc,
            facets: vec![],
        },
    ]
}

struct Measured {
    name: String,
    matches: u64,
    p50: Duration,
    p95: Duration,
}

fn percentiles(mut times: Vec<Duration>) -> (Duration, Duration) {
    times.sort();
    let at = |q: f64| {
        times[((times.len() as f64 * q).ceil() as usize).saturating_sub(1).min(times.len() - 1)]
    };
    (at(0.50), at(0.95))
}

fn measure(search: &Search, query: &Query, runs: usize) -> Measured {
    let text = query.text.as_deref().and_then(SearchQuery::parse);
    let mut times = Vec::with_capacity(runs);
    let mut matches = 0;
    for i in 0..runs + 3 {
        let started = Instant::now();
        let found = search
            .find(&Request {
                doc_type: DocType::Technology,
                text: text.as_ref(),
                filters: &query.filters,
                order: query.order,
                offset: 0,
                limit: 20,
                facets: &query.facets,
            })
            .unwrap_or_else(|e| panic!("{}: {e}", query.name));
        let elapsed = started.elapsed();
        matches = found.total;
        if i >= 3 {
            times.push(elapsed);
        }
    }
    let (p50, p95) = percentiles(times);
    Measured { name: query.name.into(), matches, p50, p95 }
}

/// A published demand of a fresh organisation, as a buyer would post it.
fn bench_demand(conn: &mut DbConn) -> techx::store::demands::Demand {
    use techx::domain::demand::{Budget, DemandContent};
    use techx::store::{demands, moderation};
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
    let pending = moderation::submit(conn, &draft).unwrap_or_else(|e| panic!("{e}"));
    moderation::approve(conn, &pending, user.id, 365).unwrap_or_else(|e| panic!("{e}"))
}

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
        arg("--runs").map_or(50, |v| v.parse().unwrap_or_else(|_| panic!("--runs N")));
    let backends: Vec<Backend> = arg("--backends")
        .unwrap_or_else(|| "sqlite,postgres".into())
        .split(',')
        .map(|b| match b.trim() {
            "sqlite" => Backend::Sqlite,
            "postgres" => Backend::Postgres,
            other => panic!("unknown backend {other}"),
        })
        .collect();
    let mut results: Vec<(Backend, Vec<Measured>)> = Vec::new();
    for backend in backends {
        eprintln!("{}: loading {listings} listings", backend.name());
        // --keep DIR: keep (or reuse) the loaded database and index in DIR, to time changes
        // to the engine without loading again.
        let kept = arg("--keep").map(std::path::PathBuf::from);
        let (db, reused) = match &kept {
            Some(dir) => kept_db(backend, dir),
            None => (fresh(backend), false),
        };
        let mut conn =
            dialect::establish(&db.target, &techx::db::Deadlines::new(Duration::from_secs(30)))
                .unwrap_or_else(|e| panic!("connect: {e}"));
        dialect::run_migrations(&mut conn).unwrap_or_else(|e| panic!("migrate: {e}"));
        let (loaded, published) =
            if reused { (Duration::ZERO, 0) } else { load(&mut conn, listings) };
        let demand = if reused { last_demand(&mut conn) } else { bench_demand(&mut conn) };
        let dir = match &kept {
            Some(dir) => dir.join(format!("index-{}", backend.name())),
            None => tempfile_dir(),
        };
        let search = Search::open(Some(&dir)).unwrap_or_else(|e| panic!("{e}"));
        let started = Instant::now();
        let documents = if reused {
            search.catch_up(&mut conn).unwrap_or_else(|e| panic!("{e}"));
            0
        } else {
            search.rebuild(&mut conn).unwrap_or_else(|e| panic!("{e}"))
        };
        let rebuilt = started.elapsed();
        eprintln!(
            "{}: loaded {published} published in {:.0} s; index rebuilt ({documents} documents) in {:.1} s",
            backend.name(),
            loaded.as_secs_f64(),
            rebuilt.as_secs_f64()
        );
        let only_matches = std::env::args().any(|a| a == "--only-matches");
        let mut measured: Vec<Measured> = if only_matches {
            Vec::new()
        } else {
            // --only TEXT: just the queries whose name holds TEXT (to profile one).
            let only = arg("--only").unwrap_or_default();
            queries()
                .iter()
                .filter(|q| q.name.contains(&only))
                .map(|q| measure(&search, q, runs))
                .collect()
        };
        if arg("--only").is_some() {
            release(search, &dir, db, kept.is_some());
            results.push((backend, measured));
            continue;
        }
        // One demand's matches (page of 20), and the exhaustive reference.
        let mut times = Vec::new();
        let mut top = Vec::new();
        let mut total = 0;
        for i in 0..runs + 3 {
            let started = Instant::now();
            let (page, all) =
                techx::search::matching::for_demand(&mut conn, &search, &demand, Lang::Vi, 0, 20)
                    .unwrap_or_else(|e| panic!("{e}"));
            if i >= 3 {
                times.push(started.elapsed());
            }
            total = all;
            top = page.iter().map(|(l, s)| (l.id, s.score)).collect::<Vec<_>>();
        }
        let (p50, p95) = percentiles(times);
        measured.push(Measured {
            name: "demand_match (page of 20, with the database)".into(),
            matches: total as u64,
            p50,
            p95,
        });
        let exhaustive =
            techx::search::matching::for_demand_exhaustive(&mut conn, &search, &demand)
                .unwrap_or_else(|e| panic!("{e}"));
        let reference: Vec<_> = exhaustive.iter().take(20).map(|(id, s)| (*id, s.score)).collect();
        let shared = top.iter().filter(|t| reference.contains(t)).count();
        eprintln!(
            "{}: demand_match top 20 = exhaustive scoring of {} candidates: {shared} of {} (best {:?}, 20th {:?})",
            backend.name(),
            exhaustive.len(),
            reference.len(),
            reference.first().map(|r| r.1),
            reference.last().map(|r| r.1)
        );
        release(search, &dir, db, kept.is_some());
        results.push((backend, measured));
    }
    println!(
        "\n{listings} listings, {runs} runs per query (after 3 warm-up runs); engine time in ms (one thread)\n"
    );
    let mut header = String::from("| query |");
    let mut rule = String::from("|---|");
    for (backend, _) in &results {
        header.push_str(&format!(" {0} matches | {0} p50 | {0} p95 |", backend.name()));
        rule.push_str("---:|---:|---:|");
    }
    println!("{header}\n{rule}");
    if let Some((_, first)) = results.first() {
        for (i, m) in first.iter().enumerate() {
            let mut row = format!("| {} |", m.name);
            for (_, measured) in &results {
                let m = &measured[i];
                row.push_str(&format!(" {} | {} | {} |", m.matches, ms(m.p50), ms(m.p95)));
            }
            println!("{row}");
        }
    }
}

/// Closes the index; a kept database and index stay for the next run, others are removed.
fn release(search: Search, dir: &std::path::Path, db: BenchDb, kept: bool) {
    drop(search);
    if kept {
        std::mem::forget(db);
    } else {
        let _ = std::fs::remove_dir_all(dir);
        drop(db);
    }
}

/// A database kept in `dir` (SQLite file, or a PostgreSQL database named after it); whether
/// it was there already.
fn kept_db(backend: Backend, dir: &std::path::Path) -> (BenchDb, bool) {
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{e}"));
    let marker = dir.join(format!("{}.loaded", backend.name()));
    let reused = marker.exists();
    let target = match backend {
        Backend::Sqlite => format!("sqlite://{}", dir.join("bench.db").display()),
        Backend::Postgres => {
            let admin_url = std::env::var("TECHX_TEST_PG_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
            if !reused {
                let mut admin =
                    PgConnection::establish(&admin_url).unwrap_or_else(|e| panic!("{e}"));
                let _ =
                    admin.batch_execute("DROP DATABASE IF EXISTS techx_bench_kept WITH (FORCE)");
                admin
                    .batch_execute("CREATE DATABASE techx_bench_kept")
                    .unwrap_or_else(|e| panic!("{e}"));
            }
            let base = admin_url.rsplit_once('/').map_or(admin_url.as_str(), |(b, _)| b).to_owned();
            format!("{base}/techx_bench_kept")
        }
    };
    std::fs::write(&marker, b"").unwrap_or_else(|e| panic!("{e}"));
    let target = DbTarget::parse(&target).unwrap_or_else(|e| panic!("{e}"));
    (BenchDb { target, cleanup: Box::new(|| {}) }, reused)
}

/// The benchmark's demand in a kept database.
fn last_demand(conn: &mut DbConn) -> techx::store::demands::Demand {
    use techx::db::schema::demands::dsl as d;
    let id: techx::db::types::DemandId = d::demands
        .filter(d::title.eq("Công nghệ xử lý nước thải chăn nuôi"))
        .select(d::id)
        .first(conn)
        .unwrap_or_else(|e| panic!("{e}"));
    techx::store::demands::get(conn, id).unwrap_or_else(|e| panic!("{e}"))
}

fn tempfile_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("techx-bench-index-{}", uuid::Uuid::new_v4().simple()))
}
