//! The webhook courier: claims due `webhook` rows and POSTs each signed event to its
//! endpoint. Claiming, leases, retries with backoff and recording outcomes are the shared
//! outbox engine's ([`crate::delivery`]); this adds the HTTP request, the per-endpoint
//! delivery log, and disabling an endpoint that keeps failing (mailing its owners).
//!
//! The HTTP client is ureq (blocking, on the blocking pool): no redirects, no proxy from the
//! environment, one deadline for the whole exchange, and a resolver that refuses to connect
//! when a host resolves to an address the URL policy forbids — checked on the very addresses
//! it connects to, so a DNS answer cannot change between the check and the connection.

use std::io::Read;
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use tracing::Span;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

use super::{EventType, WebhookEvent, url_policy};
use crate::config::Config;
use crate::db::types::{WebhookEndpointId, WebhookEventId, now};
use crate::db::{Db, DbConn};
use crate::delivery::{self, Attempt, Courier, Outcome, SendFailure, WorkerHandle};
use crate::domain::lang::Lang;
use crate::domain::webhooks::{UrlPolicy, check_ip, check_url, signature};
use crate::error::ApiError;
use crate::mail::{self, Mail, MailConfig, Template};
use crate::store::outbox::{Channel, OutboxRow};
use crate::store::webhooks::{self as store, Endpoint, NewDelivery};
use crate::store::{StoreError, organizations};

const USER_AGENT: &str = concat!("techx-webhooks/", env!("CARGO_PKG_VERSION"));

/// Bytes of a refusing receiver's reply kept in the log, to help its owner see why.
const REPLY_EXCERPT_BYTES: u64 = 300;

/// Starts a webhook worker on the current tokio runtime, paced by the outbox settings.
pub fn start(db: Db, config: &Config) -> WorkerHandle {
    let policy = url_policy(config.environment);
    let timeout = config.webhooks.timeout;
    tracing::info!(
        timeout_ms = timeout.as_millis() as u64,
        disable_after = config.webhooks.disable_after,
        ?policy,
        "webhook outbox worker started"
    );
    let courier = WebhookCourier {
        db: db.clone(),
        agent: http_client(policy, timeout),
        policy,
        timeout,
        disable_after: config.webhooks.disable_after,
        mail: config.mail.clone(),
    };
    delivery::start(db, config.mail.outbox_settings(), courier)
}

/// The HTTP client deliveries use: no redirects, no proxy, one deadline, and a resolver that
/// refuses addresses `policy` forbids (an `io::ErrorKind::PermissionDenied` error).
pub fn http_client(policy: UrlPolicy, timeout: Duration) -> ureq::Agent {
    let agent_config = ureq::Agent::config_builder()
        // Every status is an answer to record, not an error.
        .http_status_as_error(false)
        // A redirect could lead anywhere, private networks included: it counts as a failure.
        .max_redirects(0)
        // An HTTPS_PROXY in the environment would bypass the address checks.
        .proxy(None)
        .timeout_global(Some(timeout))
        .user_agent(USER_AGENT)
        .build();
    ureq::Agent::with_parts(
        agent_config,
        DefaultConnector::default(),
        GuardedResolver { policy, inner: DefaultResolver::default() },
    )
}

struct WebhookCourier {
    db: Db,
    agent: ureq::Agent,
    policy: UrlPolicy,
    timeout: Duration,
    disable_after: u32,
    /// For links in the mail that tells owners their endpoint was disabled.
    mail: MailConfig,
}

/// An attempt that reached the point of sending (or of being refused at send time): what
/// the delivery log records.
#[derive(Debug, Clone)]
struct Request {
    endpoint_id: WebhookEndpointId,
    event_id: WebhookEventId,
    event_type: EventType,
    status_code: Option<u16>,
    duration_ms: u64,
    at: NaiveDateTime,
}

/// `None` when no request was attempted (unknown or inactive endpoint, abandoned row).
#[derive(Debug, Clone, Default)]
pub struct Receipt(Option<Request>);

impl Courier for WebhookCourier {
    type Receipt = Receipt;
    const CHANNEL: Channel = Channel::Webhook;
    const KIND: &'static str = "webhook";

    fn span(&self, row: &OutboxRow, attempt: u32) -> Span {
        tracing::info_span!(
            "webhook_delivery",
            outbox_id = %row.id,
            event_type = %row.template,
            endpoint_id = %row.recipient,
            attempt,
        )
    }

    async fn attempt(&self, row: &OutboxRow) -> Attempt<Receipt> {
        match self.prepare(row).await {
            Ok((endpoint, event)) => self.post(row, endpoint, event).await,
            Err(failure) => Attempt { result: Err(failure), receipt: Receipt(None) },
        }
    }

    fn record(
        &self,
        conn: &mut DbConn,
        row: &OutboxRow,
        outcome: &Outcome,
        receipt: &Receipt,
    ) -> Result<(), ApiError> {
        let Some(request) = &receipt.0 else { return Ok(()) };
        // Deleted while we were sending: its log went with it.
        if store::find(conn, request.endpoint_id)?.is_none() {
            return Ok(());
        }
        store::log_delivery(
            conn,
            &NewDelivery {
                endpoint_id: request.endpoint_id,
                outbox_id: row.id,
                event_id: request.event_id,
                event_type: request.event_type.as_str(),
                attempt: row.attempts,
                status_code: request.status_code,
                error: outcome.error(),
                duration_ms: request.duration_ms,
                at: request.at,
            },
        )?;
        let Some(error) = outcome.error() else {
            return Ok(store::record_success(conn, request.endpoint_id)?);
        };
        let Some(endpoint) = store::record_failure(conn, request.endpoint_id)? else {
            return Ok(());
        };
        let failures = endpoint.consecutive_failures;
        if endpoint.active && failures >= i32::try_from(self.disable_after).unwrap_or(i32::MAX) {
            let reason = format!("{failures} delivery attempts in a row failed; the last: {error}");
            if store::disable(conn, endpoint.id, &reason)? {
                tracing::warn!(endpoint_id = %endpoint.id, failures, "webhook endpoint disabled");
                self.tell_owners(conn, &endpoint, failures, error)?;
            }
        }
        Ok(())
    }
}

impl WebhookCourier {
    /// The endpoint and event of a claimed row; failures here mean no request is made.
    async fn prepare(&self, row: &OutboxRow) -> Result<(Endpoint, WebhookEvent), SendFailure> {
        let endpoint_id: WebhookEndpointId = uuid::Uuid::parse_str(&row.recipient)
            .map_err(|_| {
                SendFailure::permanent(format!(
                    "recipient {:?} is not an endpoint id",
                    row.recipient
                ))
            })?
            .into();
        let event: WebhookEvent = serde_json::from_str(&row.payload)
            .map_err(|e| SendFailure::permanent(format!("payload is not a webhook event: {e}")))?;
        let endpoint = self
            .db
            .run(move |conn| store::find(conn, endpoint_id))
            .await
            .map_err(|e| SendFailure::transient(format!("cannot read the endpoint: {e}")))?
            .ok_or_else(|| SendFailure::permanent("the endpoint was deleted"))?;
        if !endpoint.active {
            return Err(SendFailure::permanent(if endpoint.disabled_at.is_some() {
                "the endpoint was disabled after repeated failures"
            } else {
                "the endpoint is paused (active = false)"
            }));
        }
        Ok((endpoint, event))
    }

    /// Signs and POSTs the stored body; every outcome here is logged.
    async fn post(
        &self,
        row: &OutboxRow,
        endpoint: Endpoint,
        event: WebhookEvent,
    ) -> Attempt<Receipt> {
        let at = now();
        let started = Instant::now();
        let (status_code, result) = match check_url(&endpoint.url, self.policy) {
            // The URL was valid when saved; the policy (TECHX_ENV) may have changed since.
            Err(reason) => {
                (None, Err(SendFailure::transient(format!("refused: the URL {reason}"))))
            }
            Ok(_) => self.send(row, &endpoint, event.event_type).await,
        };
        let request = Request {
            endpoint_id: endpoint.id,
            event_id: event.id.into(),
            event_type: event.event_type,
            status_code,
            duration_ms: started.elapsed().as_millis() as u64,
            at,
        };
        Attempt { result, receipt: Receipt(Some(request)) }
    }

    async fn send(
        &self,
        row: &OutboxRow,
        endpoint: &Endpoint,
        event_type: EventType,
    ) -> (Option<u16>, Result<(), SendFailure>) {
        let timestamp = chrono::Utc::now().timestamp();
        let body = row.payload.clone();
        let request = self
            .agent
            .post(&endpoint.url)
            .header("Content-Type", "application/json")
            .header("X-Techx-Event", event_type.as_str())
            .header("X-Techx-Delivery", row.id.to_string())
            .header("X-Techx-Timestamp", timestamp.to_string())
            .header("X-Techx-Signature", signature(&endpoint.secret, timestamp, &body));
        let timeout = self.timeout;
        let exchange = tokio::task::spawn_blocking(move || exchange(request, &body, timeout));
        // ureq enforces the deadline itself; this bounds a stuck resolver thread, too.
        match tokio::time::timeout(timeout + Duration::from_secs(1), exchange).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(e)) => (None, Err(SendFailure::transient(format!("delivery task failed: {e}")))),
            Err(_) => (None, Err(timed_out(timeout))),
        }
    }

    /// Mails every owner of the endpoint's organisation that it was disabled.
    fn tell_owners(
        &self,
        conn: &mut DbConn,
        endpoint: &Endpoint,
        failures: i32,
        last_error: &str,
    ) -> Result<(), ApiError> {
        let organization = organizations::get(conn, endpoint.organization_id)?;
        let manage_url = self
            .mail
            .link(&format!("/organizations/{}/webhooks/{}", endpoint.organization_id, endpoint.id));
        for owner in store::owner_contacts(conn, endpoint.organization_id)? {
            let mail = Mail {
                to: owner.email.clone(),
                template: Template::WebhookDisabled,
                lang: Lang::parse(&owner.language).unwrap_or_default(),
                context: serde_json::json!({
                    "display_name": owner.display_name,
                    "organization_name": organization.name,
                    "webhook_url": endpoint.url,
                    "failures": failures,
                    "last_error": last_error,
                    "manage_url": manage_url,
                }),
            };
            match mail::enqueue(conn, &mail) {
                Ok(_) => {}
                // One owner's unusable address must not stop the others being told.
                Err(StoreError::Invalid { .. }) => {
                    tracing::warn!(to = %owner.email, "cannot mail a webhook owner: bad address");
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

/// One blocking HTTP exchange: the status when the receiver answered, and whether it counts
/// as delivered (2xx).
fn exchange(
    request: ureq::RequestBuilder<ureq::typestate::WithBody>,
    body: &str,
    timeout: Duration,
) -> (Option<u16>, Result<(), SendFailure>) {
    match request.send(body) {
        Ok(mut response) => {
            let status = response.status();
            if status.is_success() {
                return (Some(status.as_u16()), Ok(()));
            }
            let mut excerpt = Vec::new();
            let _ =
                response.body_mut().as_reader().take(REPLY_EXCERPT_BYTES).read_to_end(&mut excerpt);
            let excerpt =
                String::from_utf8_lossy(&excerpt).split_whitespace().collect::<Vec<_>>().join(" ");
            let mut error = format!("HTTP {}", status.as_u16());
            if status.is_redirection() {
                error.push_str(" (redirects are not followed)");
            } else if !excerpt.is_empty() {
                error.push_str(": ");
                error.push_str(&excerpt);
            }
            (Some(status.as_u16()), Err(SendFailure::transient(error)))
        }
        Err(ureq::Error::Timeout(_)) => (None, Err(timed_out(timeout))),
        // The resolver's refusal, worded for the log.
        Err(ureq::Error::Io(e)) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            (None, Err(SendFailure::transient(e.to_string())))
        }
        Err(e) => (None, Err(SendFailure::transient(e.to_string()))),
    }
}

fn timed_out(timeout: Duration) -> SendFailure {
    SendFailure::transient(format!("no response within {} ms", timeout.as_millis()))
}

/// Resolves as usual, then refuses the connection unless every address passes the URL
/// policy: a public host name that resolves to a private address must not reach it.
#[derive(Debug)]
struct GuardedResolver {
    policy: UrlPolicy,
    inner: DefaultResolver,
}

impl Resolver for GuardedResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let addresses = self.inner.resolve(uri, config, timeout)?;
        for address in addresses.iter() {
            if let Err(class) = check_ip(address.ip(), self.policy) {
                let host = uri.host().unwrap_or("the host");
                return Err(ureq::Error::Io(std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    format!("refused: {host} resolves to {}, {class}", address.ip()),
                )));
            }
        }
        Ok(addresses)
    }
}
