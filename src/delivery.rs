//! The outbox delivery engine shared by every channel (mail, webhooks): a worker claims due
//! rows of its channel, hands each to a [`Courier`] for one attempt, and records the outcome
//! — `sent`; or a retry after an exponential, jittered, capped backoff; or `failed` after a
//! permanent failure or `max_attempts` attempts.
//!
//! Several workers (in one process or many) may share a database: rows are claimed under a
//! lease (see `db::dialect::claim_outbox`), and outcomes are written only while the lease
//! holds, together with whatever the courier records beside them (a webhook's delivery log),
//! in one transaction. Database calls run on the blocking pool through [`Db::run`].

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::db::types::LeaseId;
use crate::db::{Db, DbConn, dialect};
use crate::error::ApiError;
use crate::store::outbox::{self, Channel, OutboxRow};

/// Tries at writing an outcome before giving up on it (the database may be restarting).
const RECORD_TRIES: u32 = 5;
const RECORD_RETRY_DELAY: Duration = Duration::from_millis(200);

/// How a worker paces itself; the `TECHX_OUTBOX_*` settings.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Pause between claims when less than a batch was due.
    pub poll_interval: Duration,
    /// Attempts before a row is marked `failed`.
    pub max_attempts: u32,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// How long a claimed row stays reserved for its worker.
    pub lease: Duration,
    /// Rows claimed, and delivered concurrently, per round.
    pub batch_size: u32,
}

/// Why a delivery did not happen. `permanent` failures (the receiver refused for good, the
/// row cannot be delivered at all) are not retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendFailure {
    pub permanent: bool,
    pub message: String,
}

impl SendFailure {
    pub fn transient(message: impl Into<String>) -> Self {
        Self { permanent: false, message: message.into() }
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        Self { permanent: true, message: message.into() }
    }
}

/// What is recorded for one claimed row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    Retry { error: String, after: Duration },
    Failed { error: String },
}

impl Outcome {
    pub fn error(&self) -> Option<&str> {
        match self {
            Outcome::Sent => None,
            Outcome::Retry { error, .. } | Outcome::Failed { error } => Some(error),
        }
    }
}

/// One attempt's result and what the courier learned doing it (written by
/// [`Courier::record`] next to the outcome).
pub struct Attempt<R> {
    pub result: Result<(), SendFailure>,
    pub receipt: R,
}

/// Delivers the rows of one channel.
pub trait Courier: Send + Sync + 'static {
    /// What an attempt learned that must be recorded with its outcome; `Default` is "no
    /// attempt was made" (a row abandoned after its final lease expired).
    type Receipt: Clone + Default + Send + 'static;

    const CHANNEL: Channel;
    /// For logs: "mail", "webhook".
    const KIND: &'static str;

    /// The tracing span of one delivery (fields that help find it in logs).
    fn span(&self, row: &OutboxRow, attempt: u32) -> tracing::Span;

    /// Tries to deliver a claimed row once, within a bounded time (the lease must outlast it).
    fn attempt(&self, row: &OutboxRow) -> impl Future<Output = Attempt<Self::Receipt>> + Send;

    /// Writes what goes with the outcome, in its transaction, only while the lease holds.
    fn record(
        &self,
        _conn: &mut DbConn,
        _row: &OutboxRow,
        _outcome: &Outcome,
        _receipt: &Self::Receipt,
    ) -> Result<(), ApiError> {
        Ok(())
    }
}

/// A running worker; [`WorkerHandle::stop`] ends it after the round in progress.
pub struct WorkerHandle {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl WorkerHandle {
    /// Asks the worker to stop and waits until it has: deliveries in flight are finished and
    /// recorded first, so nothing is left `sending` until its lease expires.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "outbox worker ended abnormally");
        }
    }
}

/// Starts a worker for `courier`'s channel on the current tokio runtime.
pub fn start<C: Courier>(db: Db, settings: Settings, courier: C) -> WorkerHandle {
    let worker = Arc::new(Worker { db, settings, courier: Arc::new(courier) });
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(worker.run(stopped));
    WorkerHandle { stop, task }
}

struct Worker<C> {
    db: Db,
    settings: Settings,
    courier: Arc<C>,
}

impl<C: Courier> Worker<C> {
    async fn run(self: Arc<Self>, mut stopped: watch::Receiver<bool>) {
        loop {
            let claimed = self.round().await;
            if *stopped.borrow() {
                break;
            }
            // A full batch suggests more is due: go again at once.
            if claimed < self.settings.batch_size as usize {
                tokio::select! {
                    // Also fires when the handle is dropped: no one can stop us then.
                    _ = stopped.changed() => break,
                    _ = tokio::time::sleep(self.settings.poll_interval) => {}
                }
            }
        }
        tracing::info!(kind = C::KIND, "outbox worker stopped");
    }

    /// Claims one batch and delivers it concurrently; returns how many rows it claimed.
    async fn round(&self) -> usize {
        let (lease, batch) = (self.settings.lease, self.settings.batch_size);
        let claimed = self.db.run(move |conn| outbox::claim(conn, C::CHANNEL, lease, batch)).await;
        let rows = match claimed {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(kind = C::KIND, error = %e, "cannot claim outbox rows");
                return 0;
            }
        };
        let count = rows.len();
        join_all(rows.into_iter().map(|row| self.deliver(row))).await;
        count
    }

    async fn deliver(&self, row: OutboxRow) {
        let Some(lease_id) = row.lease_id else {
            tracing::error!(outbox_id = %row.id, "claimed outbox row has no lease");
            return;
        };
        let attempt = u32::try_from(row.attempts).unwrap_or(u32::MAX);
        let span = self.courier.span(&row, attempt);
        self.deliver_leased(row, lease_id, attempt).instrument(span).await;
    }

    async fn deliver_leased(&self, row: OutboxRow, lease_id: LeaseId, attempt: u32) {
        let max = self.settings.max_attempts;
        if attempt > max {
            // Claimed again after the final attempt's lease ran out: its worker died or hung
            // mid-delivery, and it may even have been delivered. Stop here.
            let error = format!("abandoned: the lease of attempt {max} of {max} expired");
            tracing::error!(%error, "delivery abandoned");
            let outcome = Outcome::Failed { error };
            return self.record(row, lease_id, outcome, C::Receipt::default()).await;
        }
        let started = Instant::now();
        let Attempt { result, receipt } = self.courier.attempt(&row).await;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        let outcome = match result {
            Ok(()) => {
                tracing::info!(elapsed_ms, "delivered");
                Outcome::Sent
            }
            Err(failure) if failure.permanent || attempt >= max => {
                tracing::error!(
                    elapsed_ms,
                    error = %failure.message,
                    permanent = failure.permanent,
                    "delivery failed; giving up"
                );
                Outcome::Failed { error: failure.message }
            }
            Err(failure) => {
                let after = backoff(
                    self.settings.backoff_base,
                    self.settings.backoff_max,
                    attempt,
                    fastrand::f64(),
                );
                tracing::warn!(
                    elapsed_ms,
                    error = %failure.message,
                    retry_in_ms = after.as_millis() as u64,
                    "delivery failed; will retry"
                );
                Outcome::Retry { error: failure.message, after }
            }
        };
        self.record(row, lease_id, outcome, receipt).await;
    }

    /// Writes the outcome (and the courier's record of it), retrying briefly: after a
    /// delivery, a lost "sent" would mean delivering again once the lease runs out.
    async fn record(
        &self,
        row: OutboxRow,
        lease_id: LeaseId,
        outcome: Outcome,
        receipt: C::Receipt,
    ) {
        let row = Arc::new(row);
        for try_number in 1..=RECORD_TRIES {
            let (row, to_write, receipt) = (row.clone(), outcome.clone(), receipt.clone());
            let courier = self.courier.clone();
            let written = self
                .db
                .run(move |conn| {
                    dialect::write_transaction(conn, |conn| -> Result<_, ApiError> {
                        let id = row.id;
                        let held = match &to_write {
                            Outcome::Sent => outbox::mark_sent(conn, id, lease_id)?,
                            Outcome::Retry { error, after } => {
                                outbox::mark_retry(conn, id, lease_id, error, *after)?
                            }
                            Outcome::Failed { error } => {
                                outbox::mark_failed(conn, id, lease_id, error)?
                            }
                        };
                        if held {
                            courier.record(conn, &row, &to_write, &receipt)?;
                        }
                        Ok(held)
                    })
                })
                .await;
            match written {
                Ok(true) => return,
                Ok(false) => {
                    tracing::warn!(
                        "outbox row's lease expired before its outcome was recorded; \
                         another worker may deliver it again (lease too short?)"
                    );
                    return;
                }
                Err(e) if try_number < RECORD_TRIES => {
                    tracing::warn!(error = %e, "cannot record the delivery outcome; retrying");
                    tokio::time::sleep(RECORD_RETRY_DELAY * try_number).await;
                }
                Err(e) => {
                    tracing::error!(
                        error = %e,
                        ?outcome,
                        "cannot record the delivery outcome; the row is retried after its lease"
                    );
                }
            }
        }
    }
}

/// The pause after `failed_attempts` failures: `base · 2^(failed_attempts − 1)`, capped at
/// `max`, then drawn from the upper half of that ("equal jitter", `unit` in 0..1) so that
/// deliveries which failed together do not all retry at the same moment.
pub fn backoff(base: Duration, max: Duration, failed_attempts: u32, unit: f64) -> Duration {
    // 2^31 times even a 1 ms base exceeds any allowed cap.
    let doublings = failed_attempts.saturating_sub(1).min(31);
    let ceiling = base.saturating_mul(1_u32 << doublings).min(max);
    let half = ceiling / 2;
    half + half.mul_f64(unit.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: Duration = Duration::from_secs(30);
    const MAX: Duration = Duration::from_secs(3_600);

    #[test]
    fn backoff_doubles_per_attempt_within_its_jitter_band() {
        let mut previous_ceiling = Duration::ZERO;
        for attempt in 1..=6 {
            let ceiling = BASE * 2_u32.pow(attempt - 1);
            assert_eq!(backoff(BASE, MAX, attempt, 1.0), ceiling, "attempt {attempt}");
            assert_eq!(backoff(BASE, MAX, attempt, 0.0), ceiling / 2, "attempt {attempt}");
            let mid = backoff(BASE, MAX, attempt, 0.5);
            assert!(mid > ceiling / 2 && mid < ceiling, "attempt {attempt}: {mid:?}");
            assert!(ceiling > previous_ceiling);
            previous_ceiling = ceiling;
        }
    }

    #[test]
    fn backoff_is_capped_and_never_overflows() {
        for attempt in [8, 20, 31, 32, 33, 1_000, u32::MAX] {
            assert_eq!(backoff(BASE, MAX, attempt, 1.0), MAX, "attempt {attempt}");
            assert_eq!(backoff(BASE, MAX, attempt, 0.0), MAX / 2, "attempt {attempt}");
        }
        // Attempt 0 cannot happen (the claim counts the attempt) but must not misbehave.
        assert_eq!(backoff(BASE, MAX, 0, 1.0), BASE);
        // Jitter outside 0..1 is clamped.
        assert_eq!(backoff(BASE, MAX, 1, 7.0), BASE);
    }
}
