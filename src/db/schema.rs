//! The schema, written by hand for both backends (`diesel print-schema` differs per
//! backend); `tests/migrations.rs` checks it against both migrated databases.

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::SqlUuid;

    outbox (id) {
        id -> SqlUuid,
        channel -> Text,
        recipient -> Text,
        template -> Text,
        language -> Text,
        payload -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        locked_until -> Nullable<Timestamp>,
        lease_id -> Nullable<SqlUuid>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
    }
}
