//! Outgoing e-mail through the operator's SMTP relay (lettre). Optional: without a relay the
//! portal runs as before and alerts are shown on visits only.

use std::time::Duration;

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// How long one exchange with the relay may take before the round gives up on it.
const RELAY_TIMEOUT: Duration = Duration::from_secs(20);

/// Replies that refuse a mailbox (unknown, moved, full, not an address), not the whole relay:
/// other permanent replies (535 a wrong password, 554 a blocked sender) hold for every message.
const RECIPIENT_REFUSED: [u16; 4] = [550, 551, 552, 553];

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The relay's address or the sender's is unusable: a configuration mistake.
    #[error("{0}")]
    Config(String),
    /// The relay refused this recipient for good (an unknown or invalid mailbox).
    #[error("the mail relay refused the recipient: {0}")]
    Refused(String),
    /// The relay could not be reached, failed for now, or refused every message (a wrong
    /// password, a sender it does not accept): the message may be sent later.
    #[error("the mail relay is unavailable: {0}")]
    Unavailable(String),
}

/// What the portal mails with: the relay, and its own address for the links in messages.
pub struct MailSetup {
    pub mailer: Mailer,
    /// "https://insects.example.org", no trailing slash.
    pub public_url: String,
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

    /// Sends one plain-text message; `stop_url` becomes its List-Unsubscribe header.
    pub async fn send(&self, to: &str, subject: &str, body: String, stop_url: Option<&str>) -> Result<(), MailError> {
        let to =
            to.parse::<Mailbox>().map_err(|e| MailError::Refused(format!("{to:?} is not an e-mail address: {e}")))?;
        let mut message =
            Message::builder().from(self.from.clone()).to(to).subject(subject).header(ContentType::TEXT_PLAIN);
        if let Some(url) = stop_url {
            let name = HeaderName::new_from_ascii_str("List-Unsubscribe");
            message = message.raw_header(HeaderValue::new(name, format!("<{url}>")));
        }
        let message = message.body(body).map_err(|e| MailError::Refused(e.to_string()))?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(e) if e.status().is_some_and(|code| RECIPIENT_REFUSED.contains(&u16::from(code))) => {
                Err(MailError::Refused(e.to_string()))
            }
            Err(e) => Err(MailError::Unavailable(e.to_string())),
        }
    }
}
