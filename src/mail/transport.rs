//! Where mail goes: an SMTP server (`TECHX_SMTP_URL`) or, without one, `.eml` files in
//! `TECHX_MAIL_DIR`; and how a rendered mail becomes a MIME message.

use std::path::PathBuf;

use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::MailConfig;
use super::config::redact_url;
use super::templates::Rendered;
use crate::db::types::OutboxId;
pub use crate::delivery::SendFailure;
use crate::domain::lang::Lang;

pub enum Transport {
    Smtp { mailer: AsyncSmtpTransport<Tokio1Executor>, label: String },
    Files { writer: AsyncFileTransport<Tokio1Executor>, dir: PathBuf },
}

impl Transport {
    /// Builds the transport the settings ask for. Call it inside the tokio runtime that
    /// will send: lettre's SMTP connection pool spawns its housekeeping task there.
    pub fn from_config(config: &MailConfig) -> Result<Self, String> {
        match &config.smtp_url {
            Some(url) => {
                let mailer = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| format!("TECHX_SMTP_URL: {e}"))?
                    .timeout(Some(config.smtp_timeout))
                    .build();
                Ok(Self::Smtp { mailer, label: format!("smtp {}", redact_url(url)) })
            }
            None => Ok(Self::Files {
                writer: AsyncFileTransport::new(&config.mail_dir),
                dir: config.mail_dir.clone(),
            }),
        }
    }

    /// For logs: where mail goes, without credentials.
    pub fn describe(&self) -> String {
        match self {
            Self::Smtp { label, .. } => label.clone(),
            Self::Files { dir, .. } => format!(".eml files in {}", dir.display()),
        }
    }

    pub async fn send(&self, message: Message) -> Result<(), SendFailure> {
        match self {
            Self::Smtp { mailer, .. } => match mailer.send(message).await {
                Ok(_) => Ok(()),
                Err(e) if e.is_permanent() => Err(SendFailure::permanent(e.to_string())),
                Err(e) => Err(SendFailure::transient(e.to_string())),
            },
            Self::Files { writer, dir } => {
                // Created on each send so that a folder removed while running comes back.
                tokio::fs::create_dir_all(dir).await.map_err(|e| {
                    SendFailure::transient(format!("cannot create {}: {e}", dir.display()))
                })?;
                writer.send(message).await.map(|_| ()).map_err(|e| {
                    SendFailure::transient(format!("cannot write to {}: {e}", dir.display()))
                })
            }
        }
    }
}

/// `Content-Language`, so mail clients (and tests) know which language a mail is in.
#[derive(Debug, Clone)]
struct ContentLanguage(String);

impl Header for ContentLanguage {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Content-Language")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self(s.trim().to_owned()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// The MIME message for one outbox row: text and HTML alternatives, `From` the configured
/// sender, and a `Message-ID` derived from the row so a retried mail keeps its id.
pub fn build_message(
    config: &MailConfig,
    outbox_id: OutboxId,
    recipient: &str,
    lang: Lang,
    rendered: Rendered,
) -> Result<Message, SendFailure> {
    let to: Mailbox =
        recipient.parse().map_err(|e| SendFailure::permanent(format!("invalid recipient: {e}")))?;
    Message::builder()
        .message_id(Some(format!("<{outbox_id}@{}>", config.from.email.domain())))
        .from(config.from.clone())
        .to(to)
        .subject(rendered.subject)
        .header(ContentLanguage(lang.code().to_owned()))
        .multipart(MultiPart::alternative_plain_html(rendered.text, rendered.html))
        .map_err(|e| SendFailure::permanent(format!("cannot build the message: {e}")))
}
