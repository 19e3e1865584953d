//! An open terminal lasts only as long as the administrator's right to it: the session that
//! opened it must still exist, and the account must still be an active administrator with the
//! password it had. Checked every few seconds while the shell is open.

use std::time::Duration;

use chrono::Utc;
use sea_orm::{DatabaseConnection, EntityTrait};

use crate::auth::{AccountStatus, Role};
use crate::entities::{session, user};
use crate::ServiceError;

/// Why the terminal must close now, or None while access stands. `password_hash` is the
/// account's hash when the terminal opened.
pub async fn revoked(
    db: &DatabaseConnection,
    user_id: i64,
    session_id: &str,
    password_hash: &str,
) -> Result<Option<String>, ServiceError> {
    let session = session::Entity::find_by_id(session_id.to_string()).one(db).await?;
    match session {
        None => return Ok(Some("signed out".into())),
        Some(s) if s.user_id != Some(user_id) || s.expires_at <= Utc::now() => {
            return Ok(Some("the session ended".into()))
        }
        Some(_) => {}
    }
    let Some(account) = user::Entity::find_by_id(user_id).one(db).await? else {
        return Ok(Some("the account was deleted".into()));
    };
    Ok(if account.status != AccountStatus::Active {
        Some("the account was disabled".into())
    } else if account.role != Role::Admin {
        Some("no longer an administrator".into())
    } else if account.password_hash != password_hash {
        Some("the password was changed".into())
    } else {
        None
    })
}

/// The account's password hash now (what [`revoked`] compares against later).
pub async fn password_hash(db: &DatabaseConnection, user_id: i64) -> Result<String, ServiceError> {
    let account = user::Entity::find_by_id(user_id).one(db).await?;
    account.map(|a| a.password_hash).ok_or_else(|| ServiceError::NotFound("your account".into()))
}

/// Resolves with the reason once access is revoked, checking every `every`. A check that
/// fails (database unreachable) is retried; three in a row close the terminal.
pub async fn watch(
    db: DatabaseConnection,
    user_id: i64,
    session_id: String,
    password_hash: String,
    every: Duration,
) -> String {
    let mut failures = 0;
    loop {
        tokio::time::sleep(every).await;
        match revoked(&db, user_id, &session_id, &password_hash).await {
            Ok(Some(why)) => return why,
            Ok(None) => failures = 0,
            Err(e) => {
                failures += 1;
                tracing::warn!(error = %e, "checking a terminal's access failed");
                if failures >= 3 {
                    return "access could not be checked".into();
                }
            }
        }
    }
}
