//! Counts the statements a pool's connections run, through diesel's instrumentation:
//! tests hold a request to its round trips with it, and it costs one relaxed atomic add.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use diesel::connection::{Instrumentation, InstrumentationEvent};

pub struct Probe {
    statements: Arc<AtomicU64>,
}

impl Probe {
    pub fn new(statements: Arc<AtomicU64>) -> Self {
        Self { statements }
    }
}

thread_local! {
    /// While `Some`, counts the writing statements (INSERT, UPDATE, DELETE) this thread
    /// runs: the audit hook appends an entry only to a transaction that changed something.
    static WRITES: std::cell::Cell<Option<u64>> = const { std::cell::Cell::new(None) };
}

/// Counts writing statements on this thread from now on; returns the count so far.
pub fn watch_writes() -> u64 {
    WRITES.with(|w| {
        let count = w.get().unwrap_or(0);
        w.set(Some(count));
        count
    })
}

/// Stops counting; returns the count.
pub fn unwatch_writes() -> u64 {
    WRITES.with(|w| w.take().unwrap_or(0))
}

fn is_write(sql: &str) -> bool {
    let head = sql.trim_start().get(..6).unwrap_or("");
    ["INSERT", "UPDATE", "DELETE"].iter().any(|w| head.eq_ignore_ascii_case(w))
}

impl Instrumentation for Probe {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::StartQuery { query, .. } = event {
            self.statements.fetch_add(1, Ordering::Relaxed);
            // Rendering the SQL costs an allocation: only while an audit hook watches.
            WRITES.with(|w| {
                if let Some(count) = w.get()
                    && is_write(&query.to_string())
                {
                    w.set(Some(count + 1));
                }
            });
        }
    }
}
