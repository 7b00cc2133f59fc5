//! Statistics benchmark: latency of the public overview and of the staff activity report
//! (p50/p95 over N runs after 3 warm-ups) on a database that is ALREADY LOADED — it creates
//! and loads nothing (see `techx seed --synthetic …` for that). It also walks the open-data
//! export once (keyset batches of 500) and reports rows and time.
//!
//! Two modes:
//!
//! ```sh
//! # Direct: the store functions the API calls, on one connection to DATABASE_URL.
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/techx \
//!     cargo run --release --example stats_bench -- [--runs 20]
//!
//! # Over HTTP: a running server (the report needs a moderator's access token).
//! TECHX_URL=http://127.0.0.1:8080 TECHX_TOKEN=<moderator access token> \
//!     cargo run --release --example stats_bench -- [--runs 20]
//! ```
//!
//! Reports timed: the overview; the activity report for the default period (twelve calendar
//! months to today), for the same period in one province (`--province`, default
//! `thanh-hoa`), and for the last 30 days. Figures are printed as a Markdown table in ms.

use std::time::{Duration, Instant};

use chrono::Utc;

use techx::api::stats::{period, report_dates};
use techx::db::{DbConn, DbTarget, dialect};
use techx::store::stats::{self as store, Period};

struct Args {
    runs: usize,
    province: String,
}

fn args() -> Args {
    let mut out = Args { runs: 20, province: "thanh-hoa".into() };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match (arg.as_str(), it.next()) {
            ("--runs", Some(n)) => out.runs = n.parse().expect("--runs takes a number"),
            ("--province", Some(p)) => out.province = p,
            _ => panic!("usage: stats_bench [--runs N] [--province CODE]"),
        }
    }
    out
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Runs `work` 3 times to warm up, then `runs` times; returns (p50, p95) in ms.
fn time<T>(runs: usize, mut work: impl FnMut() -> T) -> (f64, f64) {
    for _ in 0..3 {
        std::hint::black_box(work());
    }
    let mut ms: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(work());
            start.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    (percentile(&ms, 50.0), percentile(&ms, 95.0))
}

/// Every query of one activity report, as the API runs them.
fn activity(conn: &mut DbConn, period: &Period) {
    store::activity_counts(conn, period).expect("activity counts");
    store::deals_by_stage(conn, period).expect("deals by stage");
    store::deal_money(conn, period).expect("deal money");
    store::turnarounds(conn, period).expect("turnarounds");
    store::brokers(conn, period).expect("brokers");
    store::broker_close_times(conn, period).expect("broker close times");
}

fn main() {
    let args = args();
    let today = Utc::now().date_naive();
    let (from, to) = report_dates(None, None, today).expect("default period");
    let month_ago = (today - chrono::Duration::days(29)).to_string();
    let recent = report_dates(Some(&month_ago), None, today).expect("last 30 days");
    println!("| report | p50 ms | p95 ms |\n|---|---:|---:|");
    let row = |name: &str, (p50, p95): (f64, f64)| println!("| {name} | {p50:.1} | {p95:.1} |");

    if let Ok(base) = std::env::var("TECHX_URL") {
        let token = std::env::var("TECHX_TOKEN").unwrap_or_default();
        let agent = ureq::Agent::new_with_defaults();
        let get = |path: &str| {
            let mut req = agent.get(format!("{base}{path}"));
            if !token.is_empty() {
                req = req.header("Authorization", format!("Bearer {token}"));
            }
            let mut res = req.call().unwrap_or_else(|e| panic!("GET {path}: {e}"));
            // Streamed to nowhere: the export is larger than any in-memory limit should be.
            let reader = res.body_mut().with_config().limit(u64::MAX).reader();
            std::io::copy(&mut std::io::BufReader::new(reader), &mut std::io::sink()).expect("body")
        };
        row("overview (HTTP)", time(args.runs, || get("/api/v1/stats/overview")));
        let activity = "/api/v1/reports/activity";
        row("activity, 12 months (HTTP)", time(args.runs, || get(activity)));
        let by_province = format!("{activity}?province={}", args.province);
        row("activity, 12 months, one province (HTTP)", time(args.runs, || get(&by_province)));
        let last_month = format!("{activity}?from={month_ago}");
        row("activity, 30 days (HTTP)", time(args.runs, || get(&last_month)));
        row(
            "activity, 12 months, CSV (HTTP)",
            time(args.runs, || get(&format!("{activity}?format=csv"))),
        );
        let start = Instant::now();
        let bytes = get("/api/v1/open-data/technologies?format=csv");
        println!(
            "\nopen data (CSV over HTTP): {bytes} bytes in {:.1} s",
            start.elapsed().as_secs_f64()
        );
        return;
    }

    let url = std::env::var("DATABASE_URL").expect("set DATABASE_URL (or TECHX_URL)");
    let target = DbTarget::parse(&url).expect("DATABASE_URL");
    let mut conn = dialect::establish(&target, &techx::db::Deadlines::new(Duration::from_secs(30)))
        .expect("connect");
    let all = period(from, to, None).expect("period");
    let one = period(from, to, Some(args.province.clone())).expect("period");
    let last = period(recent.0, recent.1, None).expect("period");
    row("overview", time(args.runs, || store::overview(&mut conn).expect("overview")));
    row("activity, 12 months", time(args.runs, || activity(&mut conn, &all)));
    row("activity, 12 months, one province", time(args.runs, || activity(&mut conn, &one)));
    row("activity, 30 days", time(args.runs, || activity(&mut conn, &last)));

    let start = Instant::now();
    let (mut rows, mut after) = (0usize, None);
    loop {
        let batch = store::open_listings(&mut conn, after, techx::api::stats::OPEN_DATA_BATCH)
            .expect("open data batch");
        rows += batch.len();
        after = batch.last().map(|r| r.id);
        if (batch.len() as i64) < techx::api::stats::OPEN_DATA_BATCH {
            break;
        }
    }
    println!(
        "\nopen data walk (batches of {}): {rows} rows in {:.1} s",
        techx::api::stats::OPEN_DATA_BATCH,
        start.elapsed().as_secs_f64()
    );
}
