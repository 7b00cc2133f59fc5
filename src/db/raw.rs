//! Raw SQL with a variable number of bind parameters, for the few queries the DSL cannot
//! express (full-text search with engine ranking).
//!
//! Placeholders are `$1, $2, …` written in the order they first appear: PostgreSQL numbers
//! them, and SQLite takes them as named parameters indexed by first appearance — so the two
//! agree only if [`RawSql::bind`] is the one writing them, in text order. Values are always
//! bound, never formatted into the text.

use chrono::NaiveDateTime;
use diesel::QueryResult;
use diesel::query_builder::QueryFragment;
use diesel::query_dsl::RunQueryDsl;
use diesel::query_dsl::methods::LoadQuery;
use diesel::sql_types::{BigInt, Integer, Text, Timestamp};

use super::types::{EntityId, SqlUuid, TypedId};
use super::{DbConn, MultiBackend};

#[derive(Debug, Clone)]
pub enum Bind {
    Text(String),
    BigInt(i64),
    Integer(i32),
    Uuid(EntityId),
    Timestamp(NaiveDateTime),
}

impl From<&str> for Bind {
    fn from(v: &str) -> Self {
        Bind::Text(v.to_owned())
    }
}

impl From<String> for Bind {
    fn from(v: String) -> Self {
        Bind::Text(v)
    }
}

impl From<i64> for Bind {
    fn from(v: i64) -> Self {
        Bind::BigInt(v)
    }
}

impl From<i32> for Bind {
    fn from(v: i32) -> Self {
        Bind::Integer(v)
    }
}

impl<T: TypedId> From<T> for Bind {
    fn from(v: T) -> Self {
        Bind::Uuid(EntityId(v.into()))
    }
}

impl From<NaiveDateTime> for Bind {
    fn from(v: NaiveDateTime) -> Self {
        Bind::Timestamp(v)
    }
}

#[derive(Debug, Clone, Default)]
pub struct RawSql {
    sql: String,
    binds: Vec<Bind>,
}

impl RawSql {
    pub fn new(sql: impl Into<String>) -> Self {
        Self { sql: sql.into(), binds: Vec::new() }
    }

    /// `prefix` + `inner` + `suffix`, keeping `inner`'s binds (prefix and suffix have none).
    pub fn wrap(prefix: &str, inner: RawSql, suffix: &str) -> Self {
        Self { sql: format!("{prefix}{}{suffix}", inner.sql), binds: inner.binds }
    }

    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    /// Writes the next placeholder and records its value. Returns the placeholder, which may
    /// be written again later (after this first appearance) to reuse the value.
    pub fn bind(&mut self, value: impl Into<Bind>) -> String {
        self.binds.push(value.into());
        let placeholder = format!("${}", self.binds.len());
        self.sql.push_str(&placeholder);
        placeholder
    }

    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// Runs a statement (an `UPDATE`), returning the number of rows it changed.
    pub fn execute(self, conn: &mut DbConn) -> QueryResult<usize> {
        let mut query = diesel::sql_query(self.sql).into_boxed::<MultiBackend>();
        for bind in self.binds {
            query = match bind {
                Bind::Text(v) => query.bind::<Text, _>(v),
                Bind::BigInt(v) => query.bind::<BigInt, _>(v),
                Bind::Integer(v) => query.bind::<Integer, _>(v),
                Bind::Uuid(v) => query.bind::<SqlUuid, _>(v),
                Bind::Timestamp(v) => query.bind::<Timestamp, _>(v),
            };
        }
        query.execute(conn)
    }

    pub fn load<T>(self, conn: &mut DbConn) -> QueryResult<Vec<T>>
    where
        T: diesel::QueryableByName<MultiBackend> + 'static,
        for<'a> diesel::query_builder::BoxedSqlQuery<'a, MultiBackend, diesel::query_builder::SqlQuery>:
            LoadQuery<'a, DbConn, T> + QueryFragment<MultiBackend>,
    {
        let mut query = diesel::sql_query(self.sql).into_boxed::<MultiBackend>();
        for bind in self.binds {
            query = match bind {
                Bind::Text(v) => query.bind::<Text, _>(v),
                Bind::BigInt(v) => query.bind::<BigInt, _>(v),
                Bind::Integer(v) => query.bind::<Integer, _>(v),
                Bind::Uuid(v) => query.bind::<SqlUuid, _>(v),
                Bind::Timestamp(v) => query.bind::<Timestamp, _>(v),
            };
        }
        query.load(conn)
    }
}
