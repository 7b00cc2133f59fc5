//! The search engine: one tantivy index per process holding what anonymous search may see
//! (published listings and demands), a read model derived from the database.
//!
//! The database stays the source of truth. Triggers append every change that alters what
//! search shows to `search_changes` in the transaction of the change; [`Search::sync`]
//! applies the feed in order (re-reading each changed row) and commits the index together
//! with the feed position it reached, so a restart resumes where the last commit stopped.
//! A missing, unreadable or older-schema index is rebuilt from the database.
//!
//! `query` turns a search request into tantivy queries (terms only, never a query parser);
//! `facets` counts values over every match; `feed` applies changes; `schema` says what a
//! document holds.

mod facets;
mod feed;
mod kept;
pub mod matching;
mod query;
mod schema;
mod shift;
mod top;
mod validators;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument};

pub use facets::{FacetCounts, FacetName};
pub use kept::{Kept, Pages};
pub use query::{Candidate, Criteria, Filters, Found, Order, Request};
pub use schema::{DocType, SCHEMA_VERSION};
pub use validators::Validators;

use crate::error::ApiError;
use schema::Fields;

/// Pages of matches kept per generation (a page of 20 with its reasons is a few KB).
const RANKED_PAGES: usize = 2_048;

/// Memory the index writer may buffer before it writes a segment (one indexing thread).
const WRITER_MEMORY: usize = 64 * 1024 * 1024;

/// A search-engine failure: the index cannot be read or written.
#[derive(Debug, thiserror::Error)]
#[error("search index: {0}")]
pub struct SearchError(String);

impl From<tantivy::TantivyError> for SearchError {
    fn from(e: tantivy::TantivyError) -> Self {
        SearchError(e.to_string())
    }
}

impl From<SearchError> for ApiError {
    fn from(e: SearchError) -> Self {
        tracing::error!(error = %e, "search index failed");
        ApiError::internal()
    }
}

/// Where the index stands in the change feed: the last position applied, and positions
/// below it not seen yet (a PostgreSQL transaction can take a position, then commit after a
/// later one did), each with when it was first missed.
#[derive(Debug, Default)]
struct Position {
    cursor: i64,
    gaps: Vec<(i64, Instant)>,
    /// The feed's first entity when the index last read it (`store::search_feed::origin`).
    origin: Option<String>,
}

struct Writer {
    writer: IndexWriter<TantivyDocument>,
    position: Position,
    /// The index must be rebuilt from the database before it can answer.
    needs_rebuild: bool,
}

pub struct Search {
    fields: Fields,
    reader: IndexReader,
    writer: Mutex<Writer>,
    ready: AtomicBool,
    dir: Option<PathBuf>,
    validators: Validators,
    /// Moves on with every commit: what was computed from the index before is stale.
    generation: AtomicU64,
    /// Pages of matches computed in this generation (`matching`).
    ranked: Kept<matching::RankedKey, matching::Ranked>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Payload {
    schema: u32,
    cursor: i64,
    #[serde(default)]
    gaps: Vec<i64>,
    #[serde(default)]
    origin: Option<String>,
}

impl Search {
    /// Opens the index in `dir` (created when missing), or in memory without a `dir`. An
    /// index that cannot be read or was written by another schema version is emptied and
    /// marked for a rebuild.
    pub fn open(dir: Option<&Path>) -> Result<Self, SearchError> {
        let fields = Fields::new();
        let (index, payload) = match dir {
            None => (Index::create_in_ram(fields.schema.clone()), None),
            Some(dir) => open_dir(dir, &fields)?,
        };
        let writer = index.writer_with_num_threads(1, WRITER_MEMORY)?;
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        let (position, needs_rebuild) = match payload {
            Some(p) => {
                let now = Instant::now();
                (
                    Position {
                        cursor: p.cursor,
                        gaps: p.gaps.iter().map(|g| (*g, now)).collect(),
                        origin: p.origin,
                    },
                    false,
                )
            }
            None => (Position::default(), true),
        };
        Ok(Self {
            fields,
            reader,
            writer: Mutex::new(Writer { writer, position, needs_rebuild }),
            ready: AtomicBool::new(false),
            dir: dir.map(Path::to_path_buf),
            validators: Validators::default(),
            generation: AtomicU64::new(0),
            ranked: Kept::new(RANKED_PAGES),
        })
    }

    /// Whether the index has caught up with the feed once since it was opened.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// The ETags of public pages, once the index follows the feed (before that, nothing
    /// would forget a changed page).
    pub fn validators(&self) -> Option<&Validators> {
        self.is_ready().then_some(&self.validators)
    }

    /// The index's generation: it moves on with every commit (see [`Pages`]).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The feed position the index holds.
    pub fn position(&self) -> i64 {
        self.lock().position.cursor
    }

    /// Keeps the index current in the background: catches up (rebuilding when needed),
    /// then applies the feed every `interval`. Failures are logged and retried.
    pub fn spawn_follower(
        self: &std::sync::Arc<Self>,
        db: crate::db::Db,
        interval: std::time::Duration,
    ) {
        let search = self.clone();
        let spawned = std::thread::Builder::new().name("search-feed".into()).spawn(move || {
            // While the database is away, say so once every half minute, not five times a
            // second.
            let mut failing_since: Option<Instant> = None;
            let mut last_said = Instant::now();
            loop {
                let result = db.conn().map_err(ApiError::from).and_then(|mut conn| {
                    if search.is_ready() {
                        search.sync(&mut conn).map(|_| ())
                    } else {
                        search.catch_up(&mut conn)
                    }
                });
                match (result, failing_since) {
                    (Ok(()), Some(since)) => {
                        tracing::info!(after_secs = since.elapsed().as_secs(), "search index: following the change feed again");
                        failing_since = None;
                    }
                    (Ok(()), None) => {}
                    (Err(e), since) => {
                        if since.is_none() || last_said.elapsed() >= std::time::Duration::from_secs(30) {
                            tracing::warn!(error = %e.detail, "search index: cannot apply the change feed; retrying");
                            last_said = Instant::now();
                        }
                        failing_since = since.or(Some(Instant::now()));
                    }
                }
                std::thread::sleep(interval);
            }
        });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "search index: cannot start the feed follower");
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Writer> {
        // A panic while indexing leaves the writer usable: tantivy's own state is
        // consistent between operations, and the feed re-applies anything uncommitted.
        self.writer.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn commit(&self, w: &mut Writer) -> Result<(), SearchError> {
        let payload = Payload {
            schema: SCHEMA_VERSION,
            cursor: w.position.cursor,
            gaps: w.position.gaps.iter().map(|(g, _)| *g).collect(),
            origin: w.position.origin.clone(),
        };
        let payload = serde_json::to_string(&payload).map_err(|e| SearchError(e.to_string()))?;
        let mut prepared = w.writer.prepare_commit()?;
        prepared.set_payload(&payload);
        prepared.commit()?;
        self.reader.reload()?;
        self.generation.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }
}

fn open_dir(dir: &Path, fields: &Fields) -> Result<(Index, Option<Payload>), SearchError> {
    let existing = if dir.join("meta.json").exists() {
        match Index::open_in_dir(dir).and_then(|index| Ok((index.load_metas()?, index))) {
            Ok((metas, index)) => {
                let payload =
                    metas.payload.as_deref().and_then(|p| serde_json::from_str::<Payload>(p).ok());
                match payload {
                    Some(p) if p.schema == SCHEMA_VERSION && index.schema() == fields.schema => {
                        Some((index, p))
                    }
                    _ => {
                        tracing::warn!(dir = %dir.display(), "search index is of another version: rebuilding it");
                        None
                    }
                }
            }
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "search index is unreadable: rebuilding it");
                None
            }
        }
    } else {
        None
    };
    if let Some((index, payload)) = existing {
        return Ok((index, Some(payload)));
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir)
            .map_err(|e| SearchError(format!("cannot clear {}: {e}", dir.display())))?;
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| SearchError(format!("cannot create {}: {e}", dir.display())))?;
    Ok((Index::create_in_dir(dir, fields.schema.clone())?, None))
}
