//! Pest-alert e-mail rounds, on every instance that has a mail relay: the notice table makes
//! each message go out once however many instances run rounds.

use std::sync::Arc;
use std::time::Duration;

use insectid::mail::{MailSetup, Mailer};
use insectid::services::pressure::{mail, SightingsCache};

use crate::config::Config;

/// The mail setup when a relay is configured; half a configuration is a mistake worth a stop.
pub fn configured(config: &Config) -> Result<Option<MailSetup>, String> {
    let public_url = public_url(config.public_url.as_deref())?;
    let mailer = match (&config.smtp_url, &config.mail_from) {
        (None, None) => return Ok(None),
        (Some(url), Some(from)) => Mailer::new(url, from).map_err(|e| e.to_string())?,
        (Some(_), None) => {
            return Err("INSECTID_SMTP_URL is set: INSECTID_MAIL_FROM must say who mail comes from".into())
        }
        (None, Some(_)) => return Err("INSECTID_MAIL_FROM is set but INSECTID_SMTP_URL is not".into()),
    };
    // The links in messages (confirming an address, stopping alerts) must lead to this portal,
    // whatever Host header a request came with.
    let public_url =
        public_url.ok_or("INSECTID_SMTP_URL is set: INSECTID_PUBLIC_URL must give the portal's address")?;
    Ok(Some(MailSetup { mailer, public_url }))
}

/// INSECTID_PUBLIC_URL without its trailing slash, if it is an http(s) address.
fn public_url(url: Option<&str>) -> Result<Option<String>, String> {
    let Some(url) = url else { return Ok(None) };
    let url = url.trim().trim_end_matches('/');
    let host = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://")).unwrap_or_default();
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(format!(
            "INSECTID_PUBLIC_URL must be an http(s) address like https://insects.example.org, not {url:?}"
        ));
    }
    Ok(Some(url.to_string()))
}

/// Starts the rounds, the first a few seconds after the start (the server is up by then).
pub fn start(db: sea_orm::DatabaseConnection, setup: Arc<MailSetup>, counts: Arc<SightingsCache>, every_minutes: u64) {
    let every = Duration::from_secs(every_minutes.clamp(1, 24 * 60) * 60);
    tokio::spawn(async move {
        let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + Duration::from_secs(5), every);
        // A long round delays the next one instead of making rounds run back to back.
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            let today = chrono::Utc::now().date_naive();
            match mail::send_due(&db, &setup.mailer, &setup.public_url, &counts, today).await {
                Ok(round) if round.relay_error.is_some() || round.deferred > 0 => {
                    tracing::warn!(?round, "pest alert e-mail: some left for the next round")
                }
                Ok(round) if round.sent + round.refused > 0 => tracing::info!(?round, "pest alert e-mail sent"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "pest alert e-mail round failed; it runs again later"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    fn config(args: &[&str]) -> crate::config::Config {
        crate::config::Cli::parse_from(std::iter::once("insectid").chain(args.iter().copied())).config
    }

    // lettre's connection pool lives on the tokio runtime, as in the server.
    #[tokio::test]
    async fn a_relay_needs_a_sender_and_usable_addresses() {
        assert!(super::configured(&config(&[])).unwrap().is_none(), "no relay: no mail, no error");
        let half =
            super::configured(&config(&["--smtp-url", "smtp://relay:25", "--public-url", "http://p"])).err().unwrap();
        assert!(half.contains("INSECTID_MAIL_FROM"), "{half}");
        let other_half = super::configured(&config(&["--mail-from", "a@b.test"])).err().unwrap();
        assert!(other_half.contains("INSECTID_SMTP_URL"), "{other_half}");
        let no_links = super::configured(&config(&["--smtp-url", "smtp://relay:25", "--mail-from", "a@b.test"]));
        assert!(no_links.err().unwrap().contains("INSECTID_PUBLIC_URL"));
        let bad_url = super::configured(&config(&["--smtp-url", "ftp://relay", "--mail-from", "a@b.test"]));
        assert!(bad_url.err().unwrap().contains("relay URL"));
        let bad_from = super::configured(&config(&[
            "--smtp-url",
            "smtp://relay:25",
            "--mail-from",
            "nobody",
            "--public-url",
            "http://p",
        ]));
        assert!(bad_from.err().unwrap().contains("not an e-mail address"));
        let args = ["--smtp-url", "smtps://u:p@mail.example.org", "--mail-from", "Portal <a@b.test>"];
        let good = super::configured(&config(&[&args[..], &["--public-url", "https://insects.example.org/"]].concat()));
        assert_eq!(good.unwrap().unwrap().public_url, "https://insects.example.org");
        let bad_public = super::configured(&config(&[&args[..], &["--public-url", "insects.example.org"]].concat()));
        assert!(bad_public.err().unwrap().contains("INSECTID_PUBLIC_URL"));
    }
}
