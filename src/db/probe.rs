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

impl Instrumentation for Probe {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::StartQuery { .. } = event {
            self.statements.fetch_add(1, Ordering::Relaxed);
        }
    }
}
