//! Which host key each preset must present: the one in the configuration, else the one an
//! administrator confirmed and pinned. A pin is never replaced silently; a changed key is
//! refused until an administrator removes the pin on purpose.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};

use super::{HostKeyCheck, Preset};
use crate::entities::ssh_host_key;
use crate::ServiceError;

/// The check a connection to `preset` must pass, given the fingerprint the administrator
/// confirmed in this request (if any).
pub async fn check_for(
    db: &DatabaseConnection,
    preset: &Preset,
    confirmed: Option<String>,
) -> Result<HostKeyCheck, ServiceError> {
    if let Some(fixed) = &preset.fingerprint {
        return Ok(HostKeyCheck::Pinned(fixed.clone()));
    }
    Ok(match pinned(db, &preset.name).await? {
        Some(pin) => HostKeyCheck::Pinned(pin),
        None => HostKeyCheck::Unpinned { confirmed },
    })
}

pub async fn pinned(db: &DatabaseConnection, preset: &str) -> Result<Option<String>, ServiceError> {
    Ok(ssh_host_key::Entity::find()
        .filter(ssh_host_key::Column::Preset.eq(preset))
        .one(db)
        .await?
        .map(|k| k.fingerprint))
}

/// Pins the fingerprint for the preset, unless one is pinned already.
pub async fn pin(db: &DatabaseConnection, preset: &str, fingerprint: &str, by: &str) -> Result<(), ServiceError> {
    if pinned(db, preset).await?.is_some() {
        return Ok(());
    }
    ssh_host_key::ActiveModel {
        preset: Set(preset.to_string()),
        fingerprint: Set(fingerprint.to_string()),
        pinned_by: Set(by.to_string()),
        pinned_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Forgets a pin (after the host's key was changed on purpose).
pub async fn unpin(db: &DatabaseConnection, preset: &str) -> Result<bool, ServiceError> {
    Ok(ssh_host_key::Entity::delete_many()
        .filter(ssh_host_key::Column::Preset.eq(preset))
        .exec(db)
        .await?
        .rows_affected
        > 0)
}
