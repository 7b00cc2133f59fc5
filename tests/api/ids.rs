//! The typed ids (`db::types`, one `typed_id!`) read and write as the one `Id` did, on both
//! backends: a bind read back, a null, a stored row.

use crate::common;

use common::*;
use diesel::prelude::*;
use techx::auth::PlatformRole;
use techx::db::dialect;
use techx::db::schema::users;
use techx::db::types::{ApiKeyId, OrganizationId, SqlUuid, UserId};
use techx::store::users::{NewUser, create as create_user};

backend_tests! {
    async fn typed_ids_round_trip(backend) {
        let db = TestDb::create(backend);
        let mut conn = db.connect();
        dialect::run_migrations(&mut conn).expect("migrations");

        let bound = OrganizationId::new();
        let read: OrganizationId = diesel::select(bound.into_sql::<SqlUuid>()).get_result(&mut conn).unwrap();
        assert_eq!(read, bound);
        let none: Option<ApiKeyId> =
            diesel::select(None::<ApiKeyId>.into_sql::<diesel::sql_types::Nullable<SqlUuid>>()).get_result(&mut conn).unwrap();
        assert_eq!(none, None);

        let new = NewUser {
            email: "ids@example.vn",
            email_normalized: "ids@example.vn",
            password_hash: "x",
            display_name: "Ids",
            language: "vi",
            role: PlatformRole::Member,
            verified: true,
        };
        let user = create_user(&mut conn, &new).unwrap();
        let stored: UserId = users::table.filter(users::id.eq(user.id)).select(users::id).first(&mut conn).unwrap();
        assert_eq!(stored, user.id);
        assert_eq!(stored.to_string(), uuid::Uuid::from(user.id).hyphenated().to_string());
    }
}
