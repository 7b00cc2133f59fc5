//! What the pool learns from each connection's diesel instrumentation: how many statements
//! it ran (a counter shared by the pool, which tests read to hold a request to one round
//! trip) and whether a statement failed because the connection itself is gone — so the
//! pool discards it on return instead of testing every connection on checkout.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel::result::{DatabaseErrorKind, Error};

pub struct Probe {
    statements: Arc<AtomicU64>,
    lost: bool,
}

impl Probe {
    pub fn new(statements: Arc<AtomicU64>) -> Self {
        Self { statements, lost: false }
    }

    /// The connection failed in a way no retry on it can fix.
    pub fn lost(&self) -> bool {
        self.lost
    }
}

impl Instrumentation for Probe {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match event {
            InstrumentationEvent::StartQuery { .. } => {
                self.statements.fetch_add(1, Ordering::Relaxed);
            }
            InstrumentationEvent::FinishQuery {
                error:
                    Some(Error::DatabaseError(
                        DatabaseErrorKind::ClosedConnection
                        | DatabaseErrorKind::UnableToSendCommand,
                        _,
                    )),
                ..
            } => self.lost = true,
            _ => {}
        }
    }
}
