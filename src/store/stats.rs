//! Statistics, activity reports and open data: aggregate SQL run by the database on both
//! backends (COUNT / SUM / GROUP BY, medians with window functions). Rust only arranges the
//! few aggregated rows that come back.
//!
//! Medians are computed in SQL with `ROW_NUMBER()` and `COUNT(*)` over a window (the middle
//! row, or the mean of the two middle rows), which both PostgreSQL and SQLite (3.25+) run:
//! PostgreSQL's `percentile_cont` has no SQLite counterpart, and the window form needs no
//! per-backend branch. What does differ — the seconds between two timestamps and the month
//! of a timestamp — is in `db/dialect.rs`.

use chrono::NaiveDateTime;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Double, Integer, Nullable, Text, Timestamp};

use crate::db::raw::RawSql;
use crate::db::types::{OrganizationId, SqlUuid, TechnologyId};
use crate::db::{DbConn, dialect};
use crate::domain::taxonomy;
use crate::store::StoreError;

/// One counted group: `s` names the figure, `k` the group within it.
#[derive(Debug, Clone, QueryableByName)]
pub struct Counted {
    #[diesel(sql_type = Text)]
    pub s: String,
    #[diesel(sql_type = Text)]
    pub k: String,
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}

/// Deals and the money they carry in one currency.
#[derive(Debug, Clone, QueryableByName)]
pub struct Money {
    /// `signed` or `completed`.
    #[diesel(sql_type = Text)]
    pub s: String,
    #[diesel(sql_type = Text)]
    pub currency: String,
    #[diesel(sql_type = BigInt)]
    pub n: i64,
    #[diesel(sql_type = BigInt)]
    pub amount: i64,
}

/// The median of one group of durations (seconds) and how many there were.
#[derive(Debug, Clone, QueryableByName)]
pub struct Median {
    #[diesel(sql_type = Text)]
    pub k: String,
    #[diesel(sql_type = Double)]
    pub median: f64,
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}

/// An intermediary's brokered deals in the period.
#[derive(Debug, Clone, QueryableByName)]
pub struct Broker {
    #[diesel(sql_type = SqlUuid)]
    pub id: OrganizationId,
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = BigInt)]
    pub brokered: i64,
    #[diesel(sql_type = BigInt)]
    pub completed: i64,
}

/// The figures of the public overview, as grouped counts: `s` is `kind`, `province`,
/// `sector_field`, `organization_kind` (verified organisations) or `total` (`k` names it).
pub fn overview(conn: &mut DbConn) -> Result<Vec<Counted>, StoreError> {
    let fields: Vec<String> =
        taxonomy::SECTORS.iter().map(|s| format!("SELECT '{}' AS code", s.field.0)).collect();
    // A listing counts once in each field it has a sector of (so the fields' counts may add
    // up to more than the listings). Sectors are a JSON array of codes: field "4" matches
    // "4" and "4.x", as the search filter does.
    let sql = format!(
        "SELECT 'kind' AS s, t.kind AS k, COUNT(*) AS n FROM technologies t \
             WHERE t.status = 'published' GROUP BY t.kind \
         UNION ALL SELECT 'province', t.province, COUNT(*) FROM technologies t \
             WHERE t.status = 'published' GROUP BY t.province \
         UNION ALL SELECT 'sector_field', f.code, COUNT(*) FROM technologies t \
             JOIN ({fields}) f ON (t.sectors LIKE '%\"' || f.code || '\"%' \
                                   OR t.sectors LIKE '%\"' || f.code || '.%') \
             WHERE t.status = 'published' GROUP BY f.code \
         UNION ALL SELECT 'total', 'demands_published', COUNT(*) FROM demands d \
             WHERE d.status = 'published' \
         UNION ALL SELECT 'total', 'deals_completed', COUNT(*) FROM deals x \
             WHERE x.stage = 'completed' \
         UNION ALL SELECT 'total', 'research_results_listed', COUNT(*) FROM technologies t \
             WHERE t.kind = 'research_result' AND t.published_at IS NOT NULL \
         UNION ALL SELECT 'total', 'research_results_commercialised', COUNT(*) \
             FROM technologies t \
             WHERE t.kind = 'research_result' AND t.published_at IS NOT NULL \
               AND EXISTS (SELECT 1 FROM deals x WHERE x.technology_id = t.id \
                           AND x.stage IN ('signed', 'delivering', 'completed')) \
         UNION ALL SELECT 'organization_kind', o.kind, COUNT(*) FROM organizations o \
             WHERE o.verified GROUP BY o.kind",
        fields = fields.join(" UNION ALL "),
    );
    Ok(RawSql::new(sql).load(conn)?)
}

/// What an activity report covers: rows dated in `[from, until)` (UTC), of one province's
/// listings and demands when `province` is given.
#[derive(Debug, Clone)]
pub struct Period {
    pub from: NaiveDateTime,
    pub until: NaiveDateTime,
    pub province: Option<String>,
}

/// Writes the period's condition on a timestamp column and a province column, binding the
/// values at their first use and reusing the placeholders afterwards.
struct Filter {
    from: Option<String>,
    until: Option<String>,
    province: Option<String>,
    period: Period,
}

impl Filter {
    fn new(period: &Period) -> Self {
        Self { from: None, until: None, province: None, period: period.clone() }
    }

    /// ` {at} >= from AND {at} < until`, and with a province, ` AND {province}` where the
    /// one `?` in `province` stands for the province code.
    fn push(&mut self, sql: &mut RawSql, at: &str, province: &str) {
        sql.push(&format!(" {at} >= "));
        match &self.from {
            Some(p) => {
                sql.push(p);
            }
            None => self.from = Some(sql.bind(self.period.from)),
        }
        sql.push(&format!(" AND {at} < "));
        match &self.until {
            Some(p) => {
                sql.push(p);
            }
            None => self.until = Some(sql.bind(self.period.until)),
        }
        if let Some(code) = &self.period.province {
            let (before, after) = province.split_once('?').unwrap_or((province, ""));
            sql.push(&format!(" AND {before}"));
            match &self.province {
                Some(p) => {
                    sql.push(p);
                }
                None => self.province = Some(sql.bind(code.clone())),
            }
            sql.push(after);
        }
    }
}

// Province conditions. Rows that belong to a listing or a demand are tested with a semi-join
// (`IN (SELECT …)`), not a join: the planner can then start from the province's few
// listings instead of looking up the listing of every dated row (on SQLite, 10–30 times
// faster at 100 000 listings), and no join is made at all without a province.
const LISTING_PROVINCE: &str = "t.province = ?";
const DEMAND_PROVINCE: &str = "d.province = ?";
const OF_LISTING_R: &str = "r.technology_id IN (SELECT id FROM technologies WHERE province = ?)";
const OF_LISTING_I: &str = "i.technology_id IN (SELECT id FROM technologies WHERE province = ?)";
const OF_LISTING_X: &str = "x.technology_id IN (SELECT id FROM technologies WHERE province = ?)";
const OF_LISTING_V: &str = "v.technology_id IN (SELECT id FROM technologies WHERE province = ?)";
const OF_DEMAND_P: &str = "p.demand_id IN (SELECT id FROM demands WHERE province = ?)";
const OF_DEMAND_M: &str = "m.demand_id IN (SELECT id FROM demands WHERE province = ?)";

/// A source of dated activity: `(figure, FROM, WHERE conditions, timestamp column,
/// province condition)`. Enquiries, deals and valuations belong to their listing's
/// province; proposals and match notifications to their demand's.
type Source = (&'static str, &'static str, &'static str, &'static str, &'static str);

const ACTIVITY: &[Source] = &[
    ("listings_created", "technologies t", "", "t.created_at", LISTING_PROVINCE),
    ("listings_published", "technologies t", "", "t.published_at", LISTING_PROVINCE),
    ("listings_reviewed", "technology_reviews r", "", "r.created_at", OF_LISTING_R),
    (
        "listings_approved",
        "technology_reviews r",
        "r.decision = 'approved' AND",
        "r.created_at",
        OF_LISTING_R,
    ),
    ("demands_created", "demands d", "", "d.created_at", DEMAND_PROVINCE),
    ("demands_published", "demands d", "", "d.published_at", DEMAND_PROVINCE),
    ("inquiries", "inquiries i", "", "i.created_at", OF_LISTING_I),
    (
        "inquiries_answered",
        "inquiries i",
        "i.answered_at IS NOT NULL AND",
        "i.created_at",
        OF_LISTING_I,
    ),
    ("proposals", "proposals p", "", "p.created_at", OF_DEMAND_P),
    ("proposals_accepted", "proposals p", "p.status = 'accepted' AND", "p.created_at", OF_DEMAND_P),
    ("matches_notified", "match_notifications m", "", "m.notified_at", OF_DEMAND_M),
    ("deals_created", "deals x", "", "x.created_at", OF_LISTING_X),
    ("deals_signed", "deals x", "", "x.signed_at", OF_LISTING_X),
    ("deals_completed", "deals x", "", "x.completed_at", OF_LISTING_X),
    ("valuations_requested", "valuation_requests v", "", "v.created_at", OF_LISTING_V),
    (
        "valuations_completed",
        "valuation_requests v",
        "v.status = 'completed' AND",
        "v.completed_at",
        OF_LISTING_V,
    ),
];

/// The figure names of [`activity_counts`], in report order.
pub fn activity_figures() -> impl Iterator<Item = &'static str> {
    ACTIVITY.iter().map(|a| a.0)
}

/// Every activity figure of the period: totals (`s` = `total`) and per calendar month
/// (`s` = `YYYY-MM`), `k` naming the figure. One query: a UNION ALL of grouped counts.
pub fn activity_counts(conn: &mut DbConn, period: &Period) -> Result<Vec<Counted>, StoreError> {
    let mut sql = RawSql::new("");
    let mut filter = Filter::new(period);
    for (i, (name, table, conditions, at, province)) in ACTIVITY.iter().enumerate() {
        if i > 0 {
            sql.push(" UNION ALL ");
        }
        let month = dialect::month_of(conn, at);
        sql.push(&format!(
            "SELECT {month} AS s, '{name}' AS k, COUNT(*) AS n FROM {table} WHERE {conditions}"
        ));
        filter.push(&mut sql, at, province);
        sql.push(&format!(" GROUP BY {month}"));
    }
    let mut rows: Vec<Counted> = sql.load(conn)?;
    // Totals are the months added up: every row counted is in exactly one month.
    let mut totals: Vec<Counted> = ACTIVITY
        .iter()
        .map(|(name, ..)| Counted { s: "total".into(), k: (*name).into(), n: 0 })
        .collect();
    for row in &rows {
        if let Some(total) = totals.iter_mut().find(|t| t.k == row.k) {
            total.n += row.n;
        }
    }
    rows.extend(totals);
    Ok(rows)
}

/// Deals created in the period by their current stage (`s` = `stage`).
pub fn deals_by_stage(conn: &mut DbConn, period: &Period) -> Result<Vec<Counted>, StoreError> {
    let mut sql =
        RawSql::new("SELECT 'stage' AS s, x.stage AS k, COUNT(*) AS n FROM deals x WHERE");
    Filter::new(period).push(&mut sql, "x.created_at", OF_LISTING_X);
    sql.push(" GROUP BY x.stage");
    Ok(sql.load(conn)?)
}

/// Money of deals signed and completed in the period, per currency (never added across
/// currencies). Signed: the agreed `price`; completed: the `final_price` recorded at
/// completion, else the agreed price. Deals without a price are counted elsewhere, not here.
pub fn deal_money(conn: &mut DbConn, period: &Period) -> Result<Vec<Money>, StoreError> {
    let mut sql = RawSql::new(
        "SELECT 'signed' AS s, x.currency AS currency, COUNT(*) AS n, \
                CAST(SUM(x.price) AS BIGINT) AS amount \
         FROM deals x WHERE x.currency IS NOT NULL AND x.price IS NOT NULL AND",
    );
    let mut filter = Filter::new(period);
    filter.push(&mut sql, "x.signed_at", OF_LISTING_X);
    sql.push(
        " GROUP BY x.currency \
         UNION ALL SELECT 'completed', x.currency, COUNT(*), \
                CAST(SUM(COALESCE(x.final_price, x.price)) AS BIGINT) \
         FROM deals x \
         WHERE x.currency IS NOT NULL AND COALESCE(x.final_price, x.price) IS NOT NULL AND",
    );
    filter.push(&mut sql, "x.completed_at", OF_LISTING_X);
    sql.push(" GROUP BY x.currency");
    Ok(sql.load(conn)?)
}

/// Medians of `inner` (a SELECT of text `k` and seconds `v`, NULLs excluded) per `k`: the
/// middle value, or the mean of the two middle values of an even count.
fn medians(conn: &mut DbConn, inner: RawSql) -> Result<Vec<Median>, StoreError> {
    let sql = RawSql::wrap(
        "SELECT k, AVG(v) AS median, MAX(c) AS n FROM ( \
             SELECT k, v, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v) AS rn, \
                    COUNT(*) OVER (PARTITION BY k) AS c \
             FROM (",
        inner,
        ") s WHERE v IS NOT NULL) r \
         WHERE rn = (c + 1) / 2 OR rn = (c + 2) / 2 GROUP BY k",
    );
    Ok(sql.load(conn)?)
}

/// Median turnarounds in seconds, keyed `review` (submission → moderation decision, for
/// decisions in the period), `inquiry` (enquiry → first answer, for enquiries made in the
/// period) and `valuation` (request → completion, for completions in the period).
///
/// Every decision counts once, measured from the submission it decided (recorded with the
/// decision); only decisions older than that record, with no known submission, are left out.
pub fn turnarounds(conn: &mut DbConn, period: &Period) -> Result<Vec<Median>, StoreError> {
    let review = dialect::seconds_between(conn, "r.created_at", "r.submitted_at");
    let inquiry = dialect::seconds_between(conn, "i.answered_at", "i.created_at");
    let valuation = dialect::seconds_between(conn, "v.completed_at", "v.created_at");
    let mut sql = RawSql::new(format!(
        "SELECT 'review' AS k, {review} AS v \
         FROM technology_reviews r JOIN technologies t ON t.id = r.technology_id \
         WHERE r.submitted_at IS NOT NULL AND r.submitted_at <= r.created_at AND"
    ));
    let mut filter = Filter::new(period);
    filter.push(&mut sql, "r.created_at", OF_LISTING_R);
    sql.push(&format!(
        " UNION ALL SELECT 'inquiry', {inquiry} \
         FROM inquiries i WHERE i.answered_at IS NOT NULL AND"
    ));
    filter.push(&mut sql, "i.created_at", OF_LISTING_I);
    sql.push(&format!(
        " UNION ALL SELECT 'valuation', {valuation} \
         FROM valuation_requests v WHERE v.status = 'completed' AND"
    ));
    filter.push(&mut sql, "v.completed_at", OF_LISTING_V);
    medians(conn, sql)
}

/// Per intermediary, the deals it brokers that were created in the period: how many, how
/// many are completed, busiest first.
pub fn brokers(conn: &mut DbConn, period: &Period) -> Result<Vec<Broker>, StoreError> {
    let mut sql = RawSql::new(
        "SELECT o.id AS id, o.name AS name, COUNT(*) AS brokered, \
                CAST(SUM(CASE WHEN x.stage = 'completed' THEN 1 ELSE 0 END) AS BIGINT) \
                    AS completed \
         FROM deals x JOIN organizations o ON o.id = x.broker_organization_id WHERE",
    );
    Filter::new(period).push(&mut sql, "x.created_at", OF_LISTING_X);
    sql.push(" GROUP BY o.id, o.name ORDER BY brokered DESC, o.name, o.id");
    Ok(sql.load(conn)?)
}

/// Per intermediary (`k` = its id as text), the median seconds from creation to completion
/// of the completed deals it brokers that were created in the period.
pub fn broker_close_times(conn: &mut DbConn, period: &Period) -> Result<Vec<Median>, StoreError> {
    let close = dialect::seconds_between(conn, "x.completed_at", "x.created_at");
    let mut sql = RawSql::new(format!(
        "SELECT CAST(x.broker_organization_id AS TEXT) AS k, {close} AS v \
         FROM deals x \
         WHERE x.broker_organization_id IS NOT NULL AND x.stage = 'completed' \
           AND x.completed_at IS NOT NULL AND"
    ));
    Filter::new(period).push(&mut sql, "x.created_at", OF_LISTING_X);
    medians(conn, sql)
}

/// One published listing as open data. The contact person is present only when the
/// listing's owner made it public (`contact_visibility = public`): the query itself drops
/// it otherwise, so hidden contacts never leave the database.
#[derive(Debug, Clone, QueryableByName)]
pub struct OpenListing {
    #[diesel(sql_type = SqlUuid)]
    pub id: TechnologyId,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Text)]
    pub title: String,
    #[diesel(sql_type = Text)]
    pub summary: String,
    #[diesel(sql_type = Text)]
    pub language: String,
    #[diesel(sql_type = Text)]
    pub sectors: String,
    #[diesel(sql_type = Text)]
    pub keywords: String,
    #[diesel(sql_type = Nullable<Integer>)]
    pub trl: Option<i32>,
    #[diesel(sql_type = Text)]
    pub transfer_forms: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub price_min: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub price_max: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    pub currency: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub price_basis: Option<String>,
    #[diesel(sql_type = Text)]
    pub province: String,
    #[diesel(sql_type = Nullable<Timestamp>)]
    pub published_at: Option<NaiveDateTime>,
    #[diesel(sql_type = Nullable<Timestamp>)]
    pub expires_at: Option<NaiveDateTime>,
    #[diesel(sql_type = SqlUuid)]
    pub organization_id: OrganizationId,
    #[diesel(sql_type = Text)]
    pub organization_name: String,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub organization_verified: bool,
    #[diesel(sql_type = Nullable<Text>)]
    pub funding_level: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub programme: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub task_code: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub host_organization: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub managing_agency: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub rights_status: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub contact_name: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub contact_email: Option<String>,
}

/// Up to `limit` published listings after `after` in id order (keyset pagination: each
/// batch is an index range scan, however deep into the catalogue).
pub fn open_listings(
    conn: &mut DbConn,
    after: Option<TechnologyId>,
    limit: i64,
) -> Result<Vec<OpenListing>, StoreError> {
    let mut sql = RawSql::new(
        "SELECT t.id AS id, t.kind AS kind, t.title AS title, t.summary AS summary, \
                t.language AS language, t.sectors AS sectors, t.keywords AS keywords, \
                t.trl AS trl, t.transfer_forms AS transfer_forms, t.price_min AS price_min, \
                t.price_max AS price_max, t.currency AS currency, \
                t.price_basis AS price_basis, t.province AS province, \
                t.published_at AS published_at, t.expires_at AS expires_at, \
                o.id AS organization_id, o.name AS organization_name, \
                o.verified AS organization_verified, \
                r.funding_level AS funding_level, r.programme AS programme, \
                r.task_code AS task_code, r.host_organization AS host_organization, \
                r.managing_agency AS managing_agency, r.rights_status AS rights_status, \
                CASE WHEN t.contact_visibility = 'public' THEN u.display_name END \
                    AS contact_name, \
                CASE WHEN t.contact_visibility = 'public' THEN u.email END AS contact_email \
         FROM technologies t \
         JOIN organizations o ON o.id = t.organization_id \
         JOIN users u ON u.id = t.created_by \
         LEFT JOIN research_results r ON r.technology_id = t.id \
         WHERE t.status = 'published'",
    );
    if let Some(after) = after {
        sql.push(" AND t.id > ");
        sql.bind(after);
    }
    sql.push(" ORDER BY t.id LIMIT ");
    sql.bind(limit);
    Ok(sql.load(conn)?)
}
