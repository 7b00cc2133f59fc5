//! The mail courier: claims due `email` rows, renders them in the recipient's language and
//! sends them over SMTP (or into `.eml` files). Claiming, leases, retries with backoff and
//! recording outcomes are the shared outbox engine's ([`crate::delivery`]).

use tracing::Span;

use super::MailConfig;
use super::templates::{Renderer, Template};
use super::transport::{Transport, build_message};
use crate::db::Db;
use crate::delivery::{self, Attempt, Courier, SendFailure, Settings};
pub use crate::delivery::{WorkerHandle, backoff};
use crate::store::outbox::{Channel, OutboxRow};

/// Starts a mail worker on the current tokio runtime (the actix system in `techx serve`; the
/// test runtime in tests).
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
    let settings = config.outbox_settings();
    Ok(delivery::start(db, settings, MailCourier { config, transport, renderer }))
}

struct MailCourier {
    config: MailConfig,
    transport: Transport,
    renderer: Renderer,
}

impl Courier for MailCourier {
    type Receipt = ();
    const CHANNEL: Channel = Channel::Email;
    const KIND: &'static str = "mail";

    fn span(&self, row: &OutboxRow, attempt: u32) -> Span {
        let to_domain = row.recipient.rsplit('@').next().unwrap_or("").trim_end_matches('>');
        tracing::info_span!(
            "mail_delivery",
            outbox_id = %row.id,
            template = %row.template,
            attempt,
            to_domain,
            transport = %self.transport.describe(),
        )
    }

    async fn attempt(&self, row: &OutboxRow) -> Attempt<()> {
        Attempt { result: self.send(row).await, receipt: () }
    }
}

impl MailCourier {
    async fn send(&self, row: &OutboxRow) -> Result<(), SendFailure> {
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
}

impl MailConfig {
    /// The outbox engine's pacing (`TECHX_OUTBOX_*`), shared by every channel.
    pub fn outbox_settings(&self) -> Settings {
        Settings {
            poll_interval: self.poll_interval,
            max_attempts: self.max_attempts,
            backoff_base: self.backoff_base,
            backoff_max: self.backoff_max,
            lease: self.lease,
            batch_size: self.batch_size,
        }
    }
}
