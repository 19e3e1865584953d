//! How someone is told of pest alerts: on their visits, by e-mail (to an address they confirm
//! by a mailed link), and the links in the mail (confirm, stop) that work without signing in.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// Where someone's alert mail stands (mirrors the domain's `MailState`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MailStateView {
    Off,
    /// A confirmation link went to this address.
    Waiting(String),
    /// Alerts are mailed to this address.
    Confirmed(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionView {
    pub on_visit: bool,
    pub mail: MailStateView,
    /// The portal has a mail relay: e-mail may be asked for.
    pub mail_available: bool,
}

#[cfg(feature = "ssr")]
pub(crate) async fn subscription_view(
    state: &crate::state::AppState,
    actor: &insectid::auth::Account,
) -> Result<SubscriptionView, AppError> {
    use insectid::services::pressure::{alerts, mail_address};
    let subscription = crate::state::answer(alerts::subscription(&state.db, Some(actor)).await)?;
    let mail = match crate::state::answer(mail_address::state(&state.db, Some(actor)).await)? {
        mail_address::MailState::Off => MailStateView::Off,
        mail_address::MailState::Waiting(a) => MailStateView::Waiting(a),
        mail_address::MailState::Confirmed(a) => MailStateView::Confirmed(a),
    };
    Ok(SubscriptionView { on_visit: subscription.on_visit, mail, mail_available: state.mail.is_some() })
}

/// Asks (`on`, `email` present) or stops asking to be told of alerts. Asking for e-mail mails
/// a confirmation link to the account's address unless it is confirmed already.
#[server(endpoint = "set_pest_alert_subscription")]
pub async fn set_pest_alert_subscription(on: Option<String>, email: Option<String>) -> Result<(), AppError> {
    use insectid::services::pressure::{alerts, mail_address};
    let crate::state::Caller { state, actor, .. } = crate::state::caller().await?;
    let ticked = |v: Option<String>| v.is_some_and(|v| v == "on" || v == "true");
    let current = crate::state::answer(alerts::subscription(&state.db, actor.as_ref()).await)?;
    let wanted = alerts::Subscription {
        on_visit: ticked(on),
        // Without a relay the form has no e-mail box: what was asked before stays.
        by_email: if state.mail.is_some() { ticked(email) } else { current.by_email },
    };
    crate::state::answer(alerts::subscribe(&state.db, actor.as_ref(), wanted).await)?;
    if let (true, Some(mail)) = (wanted.by_email, state.mail.as_ref()) {
        crate::state::answer(
            mail_address::request_confirmation(&state.db, &mail.mailer, &mail.public_url, actor.as_ref()).await,
        )?;
    }
    leptos_axum::redirect("/pressure?alerts=saved#alert-subscription");
    Ok(())
}

/// What a mailed link stands for, shown before its button is pressed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertMailLink {
    pub address: String,
}

/// `kind` "confirm" or "stop".
#[server(endpoint = "alert_mail_link")]
pub async fn get_alert_mail_link(kind: String, token: String) -> Result<AlertMailLink, AppError> {
    use insectid::services::pressure::mail_address;
    let crate::state::Caller { state, .. } = crate::state::caller().await?;
    let address = match kind.as_str() {
        "confirm" => mail_address::confirmation_address(&state.db, &token).await,
        "stop" => mail_address::stop_address(&state.db, &token).await,
        other => return Err(AppError::InvalidInput(format!("unknown link kind {other:?} (confirm or stop)"))),
    };
    Ok(AlertMailLink { address: crate::state::answer(address)? })
}

/// Follows a confirmation link (its button): alerts go to that address from now on.
#[server(endpoint = "confirm_alert_mail")]
pub async fn confirm_alert_mail(token: String) -> Result<(), AppError> {
    let crate::state::Caller { state, .. } = crate::state::caller().await?;
    crate::state::answer(insectid::services::pressure::mail_address::confirm(&state.db, &token).await)?;
    leptos_axum::redirect("/alerts/confirm?done=1");
    Ok(())
}

/// Follows a message's stop link (its button): no more alert mail.
#[server(endpoint = "stop_alert_mail")]
pub async fn stop_alert_mail(token: String) -> Result<(), AppError> {
    let crate::state::Caller { state, .. } = crate::state::caller().await?;
    crate::state::answer(insectid::services::pressure::mail_address::stop(&state.db, &token).await)?;
    leptos_axum::redirect("/alerts/stop?done=1");
    Ok(())
}
