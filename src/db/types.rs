//! Column types shared by both backends: UUIDs (native on PostgreSQL, text on SQLite) and
//! UTC timestamps.
//!
//! Every table keyed by a UUID has its own id type, made by `typed_id!`, so passing a
//! user's id where an organisation's is expected does not compile:
//!
//! ```compile_fail,E0308
//! use techx::db::types::{OrganizationId, UserId};
//! fn members_of(organization: OrganizationId) -> OrganizationId { organization }
//! members_of(UserId::new());
//! ```
//!
//! (`cargo test --doc` checks that; `cargo nextest run` runs no doc tests.) The same call
//! with the right kind compiles:
//!
//! ```
//! use techx::db::types::OrganizationId;
//! fn members_of(organization: OrganizationId) -> OrganizationId { organization }
//! members_of(OrganizationId::new());
//! ```
//!
//! All of them share one SQL type, [`SqlUuid`]: the Rust type is what keeps them apart, in
//! rows and function signatures. Inside a diesel query a column still takes any of them
//! (`users::id.eq(organization_id)` compiles), as the schema's columns are all `SqlUuid`.

use std::io::Write;

use chrono::{NaiveDateTime, SubsecRound, Utc};
use diesel::sql_types::{HasSqlType, SqlType};

use super::MultiBackend;

/// SQL type of every id column: `uuid` on PostgreSQL, `TEXT` on SQLite.
#[derive(Debug, Clone, Copy, SqlType, diesel::query_builder::QueryId)]
#[diesel(postgres_type(name = "uuid"))]
#[diesel(sqlite_type(name = "Text"))]
pub struct SqlUuid;

impl HasSqlType<SqlUuid> for MultiBackend {
    fn metadata(lookup: &mut Self::MetadataLookup) -> Self::TypeMetadata {
        MultiBackend::lookup_sql_type::<SqlUuid>(lookup)
    }
}

/// What every id type made by `typed_id!` is, for code generic over the kind of row
/// (the moderation lifecycle, raw SQL binds).
pub trait TypedId:
    Copy
    + Eq
    + std::hash::Hash
    + Ord
    + std::fmt::Debug
    + std::fmt::Display
    + From<uuid::Uuid>
    + Into<uuid::Uuid>
    + Send
    + Sync
    + 'static
{
}

/// Defines id types made by the application (UUIDv7: time-ordered, so indexes stay
/// compact), each a distinct type over [`SqlUuid`] with the same conversions: `new()`,
/// `From<uuid::Uuid>`, `Into<uuid::Uuid>`, `Display`, and reading and writing on
/// PostgreSQL, SQLite and the [`MultiBackend`].
macro_rules! typed_id {
    ($($(#[$doc:meta])* $name:ident),+ $(,)?) => {$(
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            diesel::deserialize::FromSqlRow, diesel::expression::AsExpression,
        )]
        #[diesel(sql_type = SqlUuid)]
        pub struct $name(pub uuid::Uuid);

        impl $name {
            /// A fresh id (UUIDv7).
            pub fn new() -> Self {
                Self(uuid::Uuid::now_v7())
            }
        }

        impl TypedId for $name {}

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl From<uuid::Uuid> for $name {
            fn from(id: uuid::Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for uuid::Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl diesel::deserialize::FromSql<SqlUuid, diesel::pg::Pg> for $name {
            fn from_sql(value: diesel::pg::PgValue<'_>) -> diesel::deserialize::Result<Self> {
                Ok(Self(uuid::Uuid::from_slice(value.as_bytes())?))
            }
        }

        impl diesel::serialize::ToSql<SqlUuid, diesel::pg::Pg> for $name {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, diesel::pg::Pg>,
            ) -> diesel::serialize::Result {
                out.write_all(self.0.as_bytes())?;
                Ok(diesel::serialize::IsNull::No)
            }
        }

        impl diesel::deserialize::FromSql<SqlUuid, diesel::sqlite::Sqlite> for $name {
            fn from_sql(
                value: <diesel::sqlite::Sqlite as diesel::backend::Backend>::RawValue<'_>,
            ) -> diesel::deserialize::Result<Self> {
                let text = <String as diesel::deserialize::FromSql<
                    diesel::sql_types::Text,
                    diesel::sqlite::Sqlite,
                >>::from_sql(value)?;
                Ok(Self(uuid::Uuid::parse_str(&text)?))
            }
        }

        impl diesel::serialize::ToSql<SqlUuid, diesel::sqlite::Sqlite> for $name {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, diesel::sqlite::Sqlite>,
            ) -> diesel::serialize::Result {
                out.set_value(self.0.hyphenated().to_string());
                Ok(diesel::serialize::IsNull::No)
            }
        }

        impl diesel::deserialize::FromSql<SqlUuid, MultiBackend> for $name {
            fn from_sql(
                value: <MultiBackend as diesel::backend::Backend>::RawValue<'_>,
            ) -> diesel::deserialize::Result<Self> {
                value.from_sql::<$name, SqlUuid>()
            }
        }

        impl diesel::serialize::ToSql<SqlUuid, MultiBackend> for $name {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, MultiBackend>,
            ) -> diesel::serialize::Result {
                out.set_value((SqlUuid, self));
                Ok(diesel::serialize::IsNull::No)
            }
        }
    )+};
}

typed_id! {
    /// A user (`users.id`).
    UserId,
    /// An organisation (`organizations.id`).
    OrganizationId,
    /// A listed technology, equipment or research result (`technologies.id`).
    TechnologyId,
    /// A moderator's decision on a listing (`technology_reviews.id`).
    TechnologyReviewId,
    /// A technology demand (`demands.id`).
    DemandId,
    /// A proposal answering a demand (`proposals.id`).
    ProposalId,
    /// A deal (`deals.id`).
    DealId,
    /// An event in a deal's timeline (`deal_events.id`).
    DealEventId,
    /// An inquiry about a listing (`inquiries.id`).
    InquiryId,
    /// A message in an inquiry (`inquiry_messages.id`).
    InquiryMessageId,
    /// A valuation request (`valuation_requests.id`).
    ValuationRequestId,
    /// An event in a valuation request's history (`valuation_request_events.id`).
    ValuationEventId,
    /// An invitation to an organisation (`invitations.id`).
    InvitationId,
    /// A decision on an organisation's verification (`organization_verifications.id`).
    VerificationId,
    /// A one-time mail token (`email_tokens.id`).
    EmailTokenId,
    /// A refresh token (`refresh_tokens.id`).
    RefreshTokenId,
    /// A login session: the family of refresh tokens rotated from one sign-in
    /// (`refresh_tokens.family_id`, the `sid` of access tokens).
    SessionId,
    /// An API key (`api_keys.id`).
    ApiKeyId,
    /// A webhook endpoint (`webhook_endpoints.id`).
    WebhookEndpointId,
    /// One delivery attempt of a webhook event (`webhook_deliveries.id`).
    WebhookDeliveryId,
    /// A webhook event, the same across its delivery attempts (`webhook_deliveries.event_id`).
    WebhookEventId,
    /// A queued mail or webhook (`outbox.id`).
    OutboxId,
    /// A worker's claim on outbox rows (`outbox.lease_id`).
    LeaseId,
    /// An audit log entry (`audit_events.id`).
    AuditEventId,
    /// An id whose kind is told by something beside it, kept generic where the code is
    /// genuinely about either kind: the change feed's `entity_id` (a technology, demand or
    /// organisation, by its `entity` column), the search index, its ETag validators and
    /// matching (technologies or demands, by `DocType`), a match dismissal's other side, the
    /// audit log's resource (by its resource type), a moderated table's expiry rows, and a
    /// raw SQL bind. Each converts back with [`EntityId::to`] where the kind is known.
    /// Everything else has its own type above.
    EntityId,
}

impl EntityId {
    /// The id of a technology, a demand… as the change feed and the search index hold it.
    pub fn of(id: impl TypedId) -> Self {
        Self(id.into())
    }

    /// Back to the kind the `entity` beside it names.
    pub fn to<I: TypedId>(self) -> I {
        I::from(self.0)
    }
}

/// Now, in UTC, at PostgreSQL's precision (microseconds) so a value reads back unchanged on
/// both backends.
pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}

/// A stored UTC timestamp as the API shows it (RFC 3339 with `Z`).
/// A stored time as RFC 3339 in UTC, to the second (what payloads and mails show).
pub fn rfc3339(t: NaiveDateTime) -> String {
    utc(t).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub fn utc(t: NaiveDateTime) -> chrono::DateTime<Utc> {
    t.and_utc()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_ids_convert_to_and_from_uuids_and_show_as_uuids() {
        let uuid = uuid::Uuid::now_v7();
        let user = UserId::from(uuid);
        assert_eq!(user.0, uuid);
        assert_eq!(uuid::Uuid::from(user), uuid);
        assert_eq!(user.to_string(), uuid.hyphenated().to_string());
        assert_eq!(format!("{user:?}"), format!("UserId({uuid:?})"));
        let entity = EntityId::of(user);
        assert_eq!(entity.0, uuid);
        assert_eq!(entity.to::<TechnologyId>().0, uuid);
    }

    #[test]
    fn new_ids_are_version_7_and_time_ordered() {
        let first = DealId::new();
        let second = DealId::default();
        assert_eq!(first.0.get_version_num(), 7);
        assert_ne!(first, second);
        assert!(first < second);
    }
}
