//! Outgoing e-mail through the operator's SMTP relay (lettre). Optional: without a relay the
//! portal runs as before and alerts are shown on visits only.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// How long one exchange with the relay may take before the round gives up on it.
const RELAY_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The relay's address or the sender's is unusable: a configuration mistake.
    #[error("{0}")]
    Config(String),
    /// The relay refused this message for good (a 5xx reply, e.g. an unknown recipient).
    #[error("the mail relay refused the message: {0}")]
    Refused(String),
    /// The relay could not be reached or failed for now; the message may be sent later.
    #[error("the mail relay is unavailable: {0}")]
    Unavailable(String),
}

/// A relay and the address mail comes from.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    // The relay's URL may hold a password: only the sender is shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").field("from", &self.from.to_string()).finish_non_exhaustive()
    }
}

impl Mailer {
    /// `url` as lettre reads it: `smtp://host:25` (plain, for a relay on the same host),
    /// `smtp://user:pass@host:587?tls=required` (STARTTLS), `smtps://user:pass@host` (TLS).
    pub fn new(url: &str, from: &str) -> Result<Mailer, MailError> {
        let from = from
            .parse::<Mailbox>()
            .map_err(|e| MailError::Config(format!("the sender address {from:?} is not an e-mail address: {e}")))?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| MailError::Config(format!("the mail relay URL is not usable: {e}")))?
            .timeout(Some(RELAY_TIMEOUT))
            .build();
        Ok(Mailer { transport, from })
    }

    /// Sends one plain-text message.
    pub async fn send(&self, to: &str, subject: &str, body: String) -> Result<(), MailError> {
        let to =
            to.parse::<Mailbox>().map_err(|e| MailError::Refused(format!("{to:?} is not an e-mail address: {e}")))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| MailError::Refused(e.to_string()))?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(MailError::Refused(e.to_string())),
            Err(e) => Err(MailError::Unavailable(e.to_string())),
        }
    }
}
