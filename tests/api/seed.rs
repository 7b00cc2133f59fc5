//! `techx seed`: the demo exchange on a fresh database (accounts that log in, main flows
//! that work, a second run that changes nothing) and a small synthetic load (exact counts,
//! published listings findable by search), on both backends.

use crate::common;

use std::collections::BTreeSet;

use common::*;
use serde_json::{Value, json};
use techx::seed::{self, demo, synthetic};

fn settings() -> demo::Settings {
    demo::Settings { validity_days: 365, match_notify_threshold: 60 }
}

fn set(values: &[&str]) -> BTreeSet<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

fn count(counts: &[(&str, i64)], table: &str) -> i64 {
    counts.iter().find(|(t, _)| *t == table).map(|(_, n)| *n).unwrap()
}

backend_tests! {
    async fn demo_loads_once_and_its_accounts_work(backend) {
        let ctx = start(backend).await;
        let mut conn = ctx.db.connect();
        let credentials = match demo::load(&mut conn, settings(), &ctx.state.search).unwrap() {
            demo::LoadOutcome::Loaded(c) => c,
            other => panic!("expected a load, got {other:?}"),
        };
        // 2 staff + one owner for each of the 10 organisations.
        assert_eq!(credentials.len(), 12);
        let printed = seed::describe_demo(&demo::LoadOutcome::Loaded(credentials.clone()));
        let farm = credentials.iter().find(|c| c.email == "cty.saovang@demo.techx.vn").unwrap();
        assert!(printed.contains(&farm.password), "the password is printed on the first run");

        let counts = seed::counts(&mut conn).unwrap();
        for (table, expected) in [
            ("users", 12),
            ("organizations", 10),
            ("technologies", 11),
            ("research_results", 4),
            ("demands", 4),
            ("inquiries", 5),
            ("inquiry_messages", 3),
            ("deals", 8),
            ("valuation_requests", 3),
        ] {
            assert_eq!(count(&counts, table), expected, "{table}");
        }

        // The public sees the 9 published listings; unaccented search finds the Vietnamese.
        let page = ctx.get("/api/v1/technologies").await.ok();
        assert_eq!(page["total"], 9);
        let found = ctx.get("/api/v1/technologies?q=xu%20ly%20nuoc%20thai%20chan%20nuoi").await.ok();
        let titles: Vec<&str> =
            found["items"].as_array().unwrap().iter().map(|i| i["title"].as_str().unwrap()).collect();
        assert_eq!(
            titles.first().copied(),
            Some("Công nghệ xử lý nước thải chăn nuôi bằng biogas kết hợp đất ngập nước")
        );

        // The farm's owner logs in with the printed password and works: its deals, then an
        // enquiry about the dryer.
        let tokens = ctx.login(&farm.email, &farm.password).await.ok();
        let token = tokens["access_token"].as_str().unwrap().to_owned();
        let deals = ctx.get_as("/api/v1/deals", &token).await.ok();
        let mut stages: Vec<&str> =
            deals["items"].as_array().unwrap().iter().map(|d| d["stage"].as_str().unwrap()).collect();
        stages.sort();
        assert_eq!(stages, ["completed", "negotiating"]);
        let completed = deals["items"].as_array().unwrap().iter().find(|d| d["stage"] == "completed").unwrap();
        assert_eq!(completed["final_price"], 850_000_000);

        let me = ctx.get_as("/api/v1/me", &token).await.ok();
        assert_eq!(me["memberships"][0]["organization_name"], "Công ty Cổ phần Chăn nuôi Sao Vàng");
        let org = me["memberships"][0]["organization_id"].as_str().unwrap().to_owned();
        let dryer = ctx.get("/api/v1/technologies?q=may%20say%20bom%20nhiet").await.ok();
        let dryer_id = dryer["items"][0]["id"].as_str().unwrap().to_owned();
        let enquiry = ctx
            .post_as(
                &format!("/api/v1/technologies/{dryer_id}/inquiries"),
                &token,
                &json!({
                    "organization_id": org,
                    "message": "Xin báo giá máy sấy cho thức ăn chăn nuôi.",
                    "intended_use": "Sấy phụ phẩm làm thức ăn chăn nuôi.",
                    "transfer_form": "ownership_assignment",
                }),
            )
            .await;
        assert_eq!(enquiry.status, 201, "{}", enquiry.text());

        // The moderator has the pending listing and demand to review.
        let moderator = credentials.iter().find(|c| c.email == "kiemduyet@demo.techx.vn").unwrap();
        let staff = ctx.login(&moderator.email, &moderator.password).await.ok();
        let staff_token = staff["access_token"].as_str().unwrap();
        let pending = ctx.get_as("/api/v1/technologies?status=pending_review", staff_token).await.ok();
        assert_eq!(pending["total"], 1);

        // A second run writes nothing and shows no password.
        let before = seed::counts(&mut conn).unwrap();
        let again = demo::load(&mut conn, settings(), &ctx.state.search).unwrap();
        assert!(matches!(again, demo::LoadOutcome::AlreadyLoaded));
        assert!(!seed::describe_demo(&again).contains(&farm.password));
        assert_eq!(seed::counts(&mut conn).unwrap(), before);
    }

    async fn the_demo_lets_a_front_end_try_every_case(backend) {
        let ctx = start(backend).await;
        let mut conn = ctx.db.connect();
        let credentials = match demo::load(&mut conn, settings(), &ctx.state.search).unwrap() {
            demo::LoadOutcome::Loaded(c) => c,
            other => panic!("expected a load, got {other:?}"),
        };
        let mut tokens = std::collections::HashMap::new();
        for c in &credentials {
            let login = ctx.login(&c.email, &c.password).await.ok();
            tokens.insert(c.email.as_str(), login["access_token"].as_str().unwrap().to_owned());
        }
        let token = |email: &str| tokens[email].clone();
        let strings = |items: &Value, pick: &dyn Fn(&Value) -> Value| -> BTreeSet<String> {
            items.as_array().unwrap().iter().filter_map(|i| pick(i).as_str().map(str::to_owned)).collect()
        };

        // A deal in every stage (staff see them all), in VND and in US dollars.
        let deals = ctx.get_as("/api/v1/deals?per_page=100", &token(demo::MARKER_EMAIL)).await.ok();
        let stages = strings(&deals["items"], &|d| d["stage"].clone());
        let every: BTreeSet<String> = ["open", "negotiating", "valuation", "contracting", "signed", "delivering", "completed", "cancelled"]
            .map(str::to_owned).into();
        assert_eq!(stages, every);
        assert_eq!(strings(&deals["items"], &|d| d["terms"]["currency"].clone()), set(&["USD", "VND"]));
        let signed = deals["items"].as_array().unwrap().iter().find(|d| d["stage"] == "signed").unwrap();
        assert!(signed["signed_at"].is_string() && signed["completed_at"].is_null(), "{signed}");

        // Listings: fixed, negotiable, indicative and floor prices; VND and USD; one without a
        // price; every contact visibility.
        let listings = ctx.get("/api/v1/technologies?per_page=100").await.ok();
        let items = &listings["items"];
        assert_eq!(strings(items, &|l| l["price"]["basis"].clone()), set(&["firm", "floor", "indicative", "negotiable"]));
        assert_eq!(strings(items, &|l| l["price"]["currency"].clone()), set(&["USD", "VND"]));
        assert!(items.as_array().unwrap().iter().any(|l| l["price"].is_null()));
        let fixed = items.as_array().unwrap().iter().find(|l| l["price"]["currency"] == "USD").unwrap();
        assert_eq!((fixed["price"]["basis"].as_str(), fixed["price"]["min"].as_i64()), (Some("firm"), Some(4_500_000)));

        // Each visibility shows the contact to whom it says: anyone, members, the owner only.
        let stranger = token("htx.trieuson@demo.techx.vn");
        let mut seen = BTreeSet::new();
        for item in items.as_array().unwrap() {
            let uri = format!("/api/v1/technologies/{}", item["id"].as_str().unwrap());
            let anonymous = ctx.get(&uri).await.ok();
            let visibility = anonymous["contact_visibility"].as_str().unwrap().to_owned();
            // The cooperative owns no published listing: a member, not the owner.
            let member = ctx.get_as(&uri, &stranger).await.ok();
            let (for_anyone, for_members) = match visibility.as_str() {
                "public" => (true, true),
                "members" => (false, true),
                "on_request" => (false, false),
                other => panic!("unknown visibility {other}"),
            };
            assert_eq!(anonymous["contact"].is_object(), for_anyone, "{uri} {visibility}");
            assert_eq!(member["contact"].is_object(), for_members, "{uri} {visibility}");
            assert_eq!(anonymous["language"], "vi", "{uri}");
            seen.insert(visibility);
        }
        assert_eq!(seen, set(&["members", "on_request", "public"]));
        let owner = token("dh.kythuat@demo.techx.vn");
        let hidden = items.as_array().unwrap().iter()
            .find(|l| l["organization"]["name"] == "Trường Đại học Kỹ thuật Duyên hải" && l["price"].is_null())
            .unwrap();
        let own = ctx.get_as(&format!("/api/v1/technologies/{}", hidden["id"].as_str().unwrap()), &owner).await.ok();
        assert_eq!(own["contact_visibility"], "on_request");
        assert!(own["contact"]["email"].is_string(), "the owner sees its own contact: {own}");

        // In Vietnamese (listings above), the match reasons too, by name and not by code.
        let demands = ctx.get("/api/v1/demands?per_page=100").await.ok();
        let farm = demands["items"].as_array().unwrap().iter()
            .find(|d| d["title"] == "Cần công nghệ xử lý nước thải trang trại lợn đạt quy chuẩn")
            .unwrap();
        let uri = format!("/api/v1/demands/{}/matches", farm["id"].as_str().unwrap());
        let matches = ctx.get_as(&uri, &token("cty.saovang@demo.techx.vn")).await.ok();
        let best = &matches["items"][0];
        assert_eq!(best["technology"]["title"], "Công nghệ xử lý nước thải chăn nuôi bằng biogas kết hợp đất ngập nước");
        let form = best["contributions"].as_array().unwrap().iter().find(|c| c["criterion"] == "transfer_form").unwrap();
        assert_eq!(form["label"], "Hình thức chuyển giao");
        assert_eq!(form["reason"], "Có hình thức Hỗ trợ kỹ thuật, dịch vụ kỹ thuật");
        for m in matches["items"].as_array().unwrap() {
            for c in m["contributions"].as_array().unwrap() {
                let reason = c["reason"].as_str().unwrap();
                assert!(!reason.contains('_') && !c["label"].as_str().unwrap().is_empty(), "{c}");
            }
        }
    }

    async fn a_small_synthetic_load_is_exact_and_searchable(backend) {
        let ctx = start(backend).await;
        let mut conn = ctx.db.connect();
        let options = synthetic::Options {
            technologies: 200,
            demands: 50,
            deals: 30,
            organizations: 20,
            batch: 64,
            seed: 7,
        };
        let report = synthetic::run(&mut conn, &options, false).unwrap();
        let counts = seed::counts(&mut conn).unwrap();
        // 1 in 20 listings and demands is pending; deals from i = 0..30: brokered when
        // i % 3 == 0 (10), so 20 came from an enquiry, plus 30 / 2 loose enquiries; a
        // valuation when i % 5 == 2 (6); completed when i % 10 is 6, 7 or 8 (9).
        for (table, expected) in [
            ("users", 20),
            ("organizations", 20),
            ("technologies", 200),
            ("demands", 50),
            ("deals", 30),
            ("deal_checklist", 270),
            ("inquiries", 35),
            ("inquiry_messages", 20),
            ("valuation_requests", 6),
        ] {
            assert_eq!(count(&counts, table), expected, "{table}");
        }
        assert_eq!(report.published_technologies, 190);
        assert_eq!(report.published_demands, 48);
        assert_eq!(report.completed_deals, 9);
        // Loaded behind the API: the index follows the change feed (the server's follower).
        ctx.state.search.sync(&mut conn).unwrap();

        let published = ctx.get("/api/v1/technologies?per_page=1").await.ok();
        assert_eq!(published["total"], 190);
        let demands = ctx.get("/api/v1/demands?per_page=1").await.ok();
        assert_eq!(demands["total"], 48);

        // A published listing is found by the words of its title typed without accents.
        let first = &ctx.get("/api/v1/technologies?sort=newest&per_page=1").await.ok()["items"][0];
        let title = first["title"].as_str().unwrap();
        let unaccented = techx::domain::fold::fold(title);
        let hits: Value = ctx.get(&format!("/api/v1/technologies?q={}&per_page=100", url_encode(&unaccented))).await.ok();
        assert!(
            hits["items"].as_array().unwrap().iter().any(|i| i["id"] == first["id"]),
            "{title} not found by {unaccented}"
        );

        // Completed deals carry a final price; signed ones their whole checklist.
        use diesel::prelude::*;
        use techx::db::schema::{deal_checklist, deals};
        let unpriced: i64 = deals::table
            .filter(deals::stage.eq("completed"))
            .filter(deals::final_price.is_null().or(deals::completed_at.is_null()))
            .count()
            .get_result(&mut conn)
            .unwrap();
        assert_eq!(unpriced, 0);
        let signed: Vec<techx::db::types::EntityId> = deals::table
            .filter(deals::stage.eq_any(["signed", "delivering", "completed"]))
            .select(deals::id)
            .load(&mut conn)
            .unwrap();
        assert_eq!(signed.len(), 15);
        let ticked: i64 = deal_checklist::table
            .filter(deal_checklist::deal_id.eq_any(&signed))
            .filter(deal_checklist::ticked.eq(true))
            .count()
            .get_result(&mut conn)
            .unwrap();
        assert_eq!(ticked, 15 * 9);
        // Each deal's timeline starts with its creation; each signed one shows both signatures.
        use techx::db::schema::deal_events;
        let kind = |k: &'static str| deal_events::table.filter(deal_events::kind.eq(k)).count();
        assert_eq!(kind("created").get_result::<i64>(&mut conn).unwrap(), 30);
        assert_eq!(kind("signing_confirmed").get_result::<i64>(&mut conn).unwrap(), 15 * 2);
        assert_eq!(kind("checklist").get_result::<i64>(&mut conn).unwrap(), 15 * 9);
        // Past `open`, both sides have accepted.
        let unaccepted: i64 = deals::table
            .filter(deals::stage.ne("open"))
            .filter(deals::buyer_accepted_at.is_null().or(deals::seller_accepted_at.is_null()))
            .count()
            .get_result(&mut conn)
            .unwrap();
        assert_eq!(unaccepted, 0);

        // The synthetic owners log in with the reported password.
        let login = ctx.login(&report.sample_email, &report.password).await;
        assert_eq!(login.status, 200, "{}", login.text());
    }
}

/// Runs the real `techx` binary with `args` on `db`; returns (success, stdout, stderr).
fn techx(db: &TestDb, args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_techx"))
        .args(args)
        .env("DATABASE_URL", &db.url)
        .env("TECHX_LOG", "warn")
        .env("TECHX_ENV", "test")
        .current_dir(std::env::temp_dir())
        .output()
        .expect("run techx");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

backend_tests! {
    async fn the_command_prints_the_passwords_once_and_reports_progress(backend) {
        let db = TestDb::create(backend);
        let (ok, first, err) = techx(&db, &["seed", "--demo"]);
        assert!(ok, "{err}");
        let line = first.lines().find(|l| l.trim_start().starts_with("admin@demo.techx.vn")).unwrap();
        let password = line.split_whitespace().nth(1).unwrap().to_owned();
        assert_eq!(password.len(), 17, "{line}");

        let (ok, second, err) = techx(&db, &["seed", "--demo"]);
        assert!(ok, "{err}");
        assert!(second.contains("already loaded"), "{second}");
        assert!(!second.contains(&password));

        // Not a terminal: plain progress lines instead of a bar.
        let (ok, out, err) = techx(
            &db,
            &["seed", "--synthetic", "--technologies", "50", "--demands", "10", "--deals", "5"],
        );
        assert!(ok, "{err}");
        assert!(err.contains("technologies: 50/50"), "{err}");
        assert!(out.contains("50 technologies (48 published), 10 demands (10 published)"), "{out}");
        let (ok, _, err) = techx(&db, &["seed"]);
        assert!(!ok && err.contains("--demo"), "{err}");
        // Both kinds of data are offered by the help, each with its line.
        let (ok, help, err) = techx(&db, &["seed", "--help"]);
        assert!(ok, "{err}");
        for text in ["--demo", "A small realistic exchange", "--synthetic", "Large consistent data for load tests"] {
            assert!(help.contains(text), "{text} in {help}");
        }
    }
}
