//! The outbox worker: claims due `email` rows, renders and sends them, and records the
//! outcome — `sent`; or a retry after an exponential, jittered, capped backoff; or `failed`
//! after a permanent rejection or `TECHX_OUTBOX_MAX_ATTEMPTS` attempts.
//!
//! Several workers (in one process or many) may share a database: rows are claimed under a
//! lease (see `db::dialect::claim_outbox`), and outcomes are written only while the lease
//! holds. Database calls run on the blocking pool through [`Db::run`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument;

use super::MailConfig;
use super::templates::{Renderer, Template};
use super::transport::{SendFailure, Transport, build_message};
use crate::db::Db;
use crate::db::types::Id;
use crate::store::outbox::{self, Channel, OutboxRow};

/// Tries at writing an outcome before giving up on it (the database may be restarting).
const RECORD_TRIES: u32 = 5;
const RECORD_RETRY_DELAY: Duration = Duration::from_millis(200);

/// A running worker; [`WorkerHandle::stop`] ends it after the round in progress.
pub struct WorkerHandle {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl WorkerHandle {
    /// Asks the worker to stop and waits until it has: mail being sent is finished and
    /// recorded first, so nothing is left `sending` until its lease expires.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "mail outbox worker ended abnormally");
        }
    }
}

/// Starts a worker on the current tokio runtime (the actix system in `techx serve`; the test
/// runtime in tests).
pub fn start(db: Db, config: MailConfig) -> Result<WorkerHandle, String> {
    let transport = Transport::from_config(&config)?;
    let renderer =
        Renderer::new(&config.public_url).map_err(|e| format!("mail templates: {e:#}"))?;
    tracing::info!(
        transport = %transport.describe(),
        poll_ms = config.poll_interval.as_millis() as u64,
        max_attempts = config.max_attempts,
        "mail outbox worker started"
    );
    let worker = Arc::new(Worker { db, config, transport, renderer });
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(worker.run(stopped));
    Ok(WorkerHandle { stop, task })
}

struct Worker {
    db: Db,
    config: MailConfig,
    transport: Transport,
    renderer: Renderer,
}

#[derive(Debug, Clone)]
enum Outcome {
    Sent,
    Retry { error: String, after: Duration },
    Failed { error: String },
}

impl Worker {
    async fn run(self: Arc<Self>, mut stopped: watch::Receiver<bool>) {
        loop {
            let claimed = self.round().await;
            if *stopped.borrow() {
                break;
            }
            // A full batch suggests more is due: go again at once.
            if claimed < self.config.batch_size as usize {
                tokio::select! {
                    // Also fires when the handle is dropped: no one can stop us then.
                    _ = stopped.changed() => break,
                    _ = tokio::time::sleep(self.config.poll_interval) => {}
                }
            }
        }
        tracing::info!("mail outbox worker stopped");
    }

    /// Claims one batch and delivers it concurrently; returns how many rows it claimed.
    async fn round(&self) -> usize {
        let (lease, batch) = (self.config.lease, self.config.batch_size);
        let claimed =
            self.db.run(move |conn| outbox::claim(conn, Channel::Email, lease, batch)).await;
        let rows = match claimed {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "cannot claim outbox rows");
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
        let to_domain = row.recipient.rsplit('@').next().unwrap_or("").trim_end_matches('>');
        let span = tracing::info_span!(
            "mail_delivery",
            outbox_id = %row.id,
            template = %row.template,
            attempt,
            to_domain,
        );
        self.deliver_leased(row, lease_id, attempt).instrument(span).await;
    }

    async fn deliver_leased(&self, row: OutboxRow, lease_id: Id, attempt: u32) {
        let max = self.config.max_attempts;
        if attempt > max {
            // Claimed again after the final attempt's lease ran out: its worker died or hung
            // mid-delivery, and it may even have been delivered. Stop here.
            let error = format!("abandoned: the lease of attempt {max} of {max} expired");
            tracing::error!(%error, "mail delivery abandoned");
            return self.record(row.id, lease_id, Outcome::Failed { error }).await;
        }
        let started = Instant::now();
        let result = self.attempt(&row).await;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        let outcome = match result {
            Ok(()) => {
                tracing::info!(elapsed_ms, transport = %self.transport.describe(), "mail delivered");
                Outcome::Sent
            }
            Err(failure) if failure.permanent || attempt >= max => {
                tracing::error!(
                    elapsed_ms,
                    error = %failure.message,
                    permanent = failure.permanent,
                    "mail delivery failed; giving up"
                );
                Outcome::Failed { error: failure.message }
            }
            Err(failure) => {
                let after = backoff(
                    self.config.backoff_base,
                    self.config.backoff_max,
                    attempt,
                    fastrand::f64(),
                );
                tracing::warn!(
                    elapsed_ms,
                    error = %failure.message,
                    retry_in_ms = after.as_millis() as u64,
                    "mail delivery failed; will retry"
                );
                Outcome::Retry { error: failure.message, after }
            }
        };
        self.record(row.id, lease_id, outcome).await;
    }

    async fn attempt(&self, row: &OutboxRow) -> Result<(), SendFailure> {
        // Whatever cannot be rendered now never will be: those failures are permanent.
        let template = Template::parse(&row.template).ok_or_else(|| {
            SendFailure::permanent(format!("unknown mail template {:?}", row.template))
        })?;
        let lang = row.lang().ok_or_else(|| {
            SendFailure::permanent(format!("unknown language {:?}", row.language))
        })?;
        let context: serde_json::Value = serde_json::from_str(&row.payload)
            .map_err(|e| SendFailure::permanent(format!("payload is not JSON: {e}")))?;
        let rendered = self
            .renderer
            .render(template, lang, &context)
            .map_err(|e| SendFailure::permanent(e.to_string()))?;
        let message = build_message(&self.config, row.id, &row.recipient, lang, rendered)?;
        // lettre's timeout is per SMTP command; the lease needs a bound on the whole mail.
        let deadline = self.config.smtp_timeout;
        match tokio::time::timeout(deadline, self.transport.send(message)).await {
            Ok(result) => result,
            Err(_) => Err(SendFailure::transient(format!(
                "delivery took longer than {} ms",
                deadline.as_millis()
            ))),
        }
    }

    /// Writes the outcome, retrying briefly: after a delivery, a lost "sent" would mean
    /// sending the mail again once the lease runs out.
    async fn record(&self, id: Id, lease_id: Id, outcome: Outcome) {
        for try_number in 1..=RECORD_TRIES {
            let to_write = outcome.clone();
            let written = self
                .db
                .run(move |conn| match to_write {
                    Outcome::Sent => outbox::mark_sent(conn, id, lease_id),
                    Outcome::Retry { error, after } => {
                        outbox::mark_retry(conn, id, lease_id, &error, after)
                    }
                    Outcome::Failed { error } => outbox::mark_failed(conn, id, lease_id, &error),
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
/// mails which failed together do not all retry at the same moment.
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
