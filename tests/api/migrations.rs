//! Every migration goes up, down and up again on both backends, and the hand-written
//! schema matches what the migrations create.

use crate::common;

use common::*;
use diesel::prelude::*;
use techx::db::dialect;
use techx::db::schema::*;

/// Selects every column `schema.rs` declares, so a missing or misnamed column fails.
fn check_schema(conn: &mut techx::db::DbConn) {
    macro_rules! check {
        ($($table:ident),*) => {$(
            $table::table
                .select($table::all_columns)
                .limit(0)
                .execute(conn)
                .unwrap_or_else(|e| panic!("schema.rs table {} does not match the database: {e}", stringify!($table)));
        )*};
    }
    check!(
        outbox,
        users,
        email_tokens,
        refresh_tokens,
        login_throttle,
        organizations,
        memberships,
        invitations,
        organization_verifications,
        idempotency_keys,
        webhook_endpoints,
        webhook_deliveries,
        technologies,
        research_results,
        search_changes,
        technology_reviews,
        deals,
        deal_events,
        deal_checklist,
        inquiries,
        inquiry_messages,
        valuation_requests,
        valuation_request_events,
        demands,
        proposals,
        match_notifications,
        match_dismissals,
        api_keys,
        api_key_addresses,
        audit_events
    );
}

backend_tests! {
    async fn up_down_up(backend) {
        let db = TestDb::create(backend);
        let mut conn = db.connect();
        let applied = dialect::run_migrations(&mut conn).unwrap();
        assert!(!applied.is_empty());
        check_schema(&mut conn);
        let reverted = dialect::revert_all_migrations(&mut conn).unwrap();
        assert_eq!(reverted.len(), applied.len());
        assert!(outbox::table.select(outbox::id).limit(0).execute(&mut conn).is_err(), "tables dropped");
        let again = dialect::run_migrations(&mut conn).unwrap();
        assert_eq!(again, applied);
        check_schema(&mut conn);
        assert!(dialect::run_migrations(&mut conn).unwrap().is_empty(), "nothing pending");
    }
}

#[test]
fn both_backends_have_the_same_migration_versions() {
    let list = |backend: &str| {
        let mut names: Vec<String> =
            std::fs::read_dir(format!("{}/migrations/{backend}", env!("CARGO_MANIFEST_DIR")))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
        names.sort();
        names
    };
    assert_eq!(list("postgres"), list("sqlite"));
}
