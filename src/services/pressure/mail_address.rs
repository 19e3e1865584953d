//! Where alert mail may go. Anyone can type any address into their account, so the portal
//! mails alerts only to an address whose owner followed a confirmation link mailed there, and
//! only while it is still the account's address. Every alert message carries a link that stops
//! them without signing in. Both links open a page with a button: mail scanners that fetch
//! links confirm or stop nothing.

use chrono::{Duration, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter, Set};
use serde::{Deserialize, Serialize};

use crate::auth::{Account, Role};
use crate::entities::{pest_alert_subscriber, user};
use crate::mail::{MailError, Mailer};
use crate::services::users::require;
use crate::ServiceError;

/// A confirmation link works this long.
pub const CONFIRM_VALID: Duration = Duration::days(7);
/// Asking again within this time sends no second confirmation message.
pub const RESEND_AFTER: Duration = Duration::minutes(10);

/// Where someone's alert mail stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MailState {
    /// Not asked for (or no address on the account).
    Off,
    /// A confirmation link was mailed to this address and not followed yet.
    Waiting(String),
    /// Alerts are mailed to this address.
    Confirmed(String),
}

async fn subscriber(
    db: &DatabaseConnection,
    user_id: i64,
) -> Result<Option<pest_alert_subscriber::Model>, ServiceError> {
    Ok(pest_alert_subscriber::Entity::find_by_id(user_id).one(db).await?)
}

async fn email_of(db: &DatabaseConnection, user_id: i64) -> Result<Option<String>, ServiceError> {
    Ok(user::Entity::find_by_id(user_id).one(db).await?.and_then(|u| u.email))
}

pub async fn state(db: &DatabaseConnection, actor: Option<&Account>) -> Result<MailState, ServiceError> {
    let Some(actor) = actor else { return Ok(MailState::Off) };
    let (Some(row), Some(email)) = (subscriber(db, actor.id).await?, email_of(db, actor.id).await?) else {
        return Ok(MailState::Off);
    };
    Ok(match row {
        r if !r.by_email => MailState::Off,
        r if r.mail_to.as_deref() == Some(email.as_str()) => MailState::Confirmed(email),
        r if r.confirm_address.as_deref() == Some(email.as_str()) => MailState::Waiting(email),
        _ => MailState::Off,
    })
}

/// After someone asked for alerts by e-mail: mails a confirmation link to their address unless
/// it is confirmed already or a link went there in the last [`RESEND_AFTER`].
pub async fn request_confirmation(
    db: &DatabaseConnection,
    mailer: &Mailer,
    public_url: &str,
    actor: Option<&Account>,
) -> Result<MailState, ServiceError> {
    let actor = require(actor, Role::User)?;
    let person = user::Entity::find_by_id(actor.id).one(db).await?;
    let chinese = person.as_ref().is_some_and(|p| p.language.starts_with("zh"));
    let row = subscriber(db, actor.id).await?;
    let (Some(email), Some(row)) = (person.and_then(|p| p.email), row.filter(|r| r.by_email)) else {
        return Err(ServiceError::InvalidInput(
            "ask for alerts by e-mail, with an address on My account, first".into(),
        ));
    };
    if row.mail_to.as_deref() == Some(email.as_str()) {
        return Ok(MailState::Confirmed(email));
    }
    let recent = row.confirm_sent_at.is_some_and(|at| Utc::now() - at < RESEND_AFTER);
    if recent && row.confirm_address.as_deref() == Some(email.as_str()) {
        return Ok(MailState::Waiting(email));
    }
    let token = crate::storage::random_secret()?;
    let link = format!("{public_url}/alerts/confirm?token={token}");
    let (subject, body) = if chinese {
        (
            "请确认接收虫情预警邮件".to_string(),
            format!("您好：\n\n有人（希望是您）请求将虫情预警发送到此地址。如需确认，请打开以下链接并点击“确认”：\n\n{link}\n\n链接七天内有效。如果不是您本人，请忽略此邮件。\n\n昆虫识别\n"),
        )
    } else {
        (
            "Confirm pest alerts by e-mail".to_string(),
            format!("Hello,\n\nSomeone (we hope you) asked for pest alerts to be mailed to this address. To confirm, open this link and press Confirm:\n\n{link}\n\nThe link works for seven days. If it was not you, ignore this message.\n\nInsect Identifier\n"),
        )
    };
    mailer.send(&email, &subject, body, None).await.map_err(|e| match e {
        MailError::Refused(why) => ServiceError::InvalidInput(format!("the mail relay refused {email}: {why}")),
        other => {
            ServiceError::Busy(format!("the confirmation e-mail could not be sent now ({other}); try again later"))
        }
    })?;
    let mut active = row.into_active_model();
    active.confirm_token = Set(Some(token));
    active.confirm_address = Set(Some(email.clone()));
    active.confirm_sent_at = Set(Some(Utc::now()));
    active.update(db).await?;
    Ok(MailState::Waiting(email))
}

/// The address a link's secret stands for, to show before the button is pressed.
pub async fn confirmation_address(db: &DatabaseConnection, token: &str) -> Result<String, ServiceError> {
    let row = by_confirm_token(db, token).await?;
    Ok(row.confirm_address.unwrap_or_default())
}

async fn by_confirm_token(db: &DatabaseConnection, token: &str) -> Result<pest_alert_subscriber::Model, ServiceError> {
    let gone =
        || ServiceError::NotFound("this confirmation link is not valid (any more): ask again on Pest pressure".into());
    if token.len() != 64 {
        return Err(gone());
    }
    let row = pest_alert_subscriber::Entity::find()
        .filter(pest_alert_subscriber::Column::ConfirmToken.eq(token))
        .one(db)
        .await?
        .ok_or_else(gone)?;
    match row.confirm_sent_at {
        Some(at) if Utc::now() - at <= CONFIRM_VALID => Ok(row),
        _ => Err(gone()),
    }
}

/// Follows a confirmation link: alerts go to that address from now on (while the account keeps it).
pub async fn confirm(db: &DatabaseConnection, token: &str) -> Result<String, ServiceError> {
    let row = by_confirm_token(db, token).await?;
    let address = row.confirm_address.clone().unwrap_or_default();
    if email_of(db, row.user_id).await?.as_deref() != Some(address.as_str()) {
        return Err(ServiceError::Conflict(
            "the account's address changed since this link was sent: ask again on Pest pressure".into(),
        ));
    }
    let stop_token = match row.stop_token.clone() {
        Some(t) => t,
        None => crate::storage::random_secret()?,
    };
    let mut active = row.into_active_model();
    active.mail_to = Set(Some(address.clone()));
    active.by_email = Set(true);
    active.confirm_token = Set(None);
    active.confirm_sent_at = Set(None);
    active.stop_token = Set(Some(stop_token));
    active.update(db).await?;
    Ok(address)
}

/// The address a stop link's secret stands for, to show before the button is pressed.
pub async fn stop_address(db: &DatabaseConnection, token: &str) -> Result<String, ServiceError> {
    Ok(by_stop_token(db, token).await?.mail_to.unwrap_or_default())
}

async fn by_stop_token(db: &DatabaseConnection, token: &str) -> Result<pest_alert_subscriber::Model, ServiceError> {
    let invalid = || ServiceError::NotFound("this link is not valid".into());
    // Not one of ours: no query for it.
    if token.len() != 64 {
        return Err(invalid());
    }
    let found = pest_alert_subscriber::Entity::find().filter(pest_alert_subscriber::Column::StopToken.eq(token));
    found.one(db).await?.ok_or_else(invalid)
}

/// Follows a message's stop link: no more alert mail (visits are left as they were).
pub async fn stop(db: &DatabaseConnection, token: &str) -> Result<(), ServiceError> {
    let row = by_stop_token(db, token).await?;
    let mut active = row.into_active_model();
    active.by_email = Set(false);
    active.update(db).await?;
    Ok(())
}
