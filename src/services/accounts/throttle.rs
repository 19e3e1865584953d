//! Sign-in throttling: failures counted per account and address within a window, each try
//! reserved before the password is checked (so parallel guesses cannot slip past the count).

use chrono::{Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
};

use super::{FREE_FAILURES, MAX_DELAY_SECONDS, MAX_FAILURES_PER_ADDRESS, THROTTLE_WINDOW_MINUTES};
use crate::entities::login_failure;
use crate::ServiceError;

/// How long one account must rest, from one address, after `failures` failures: nothing for
/// the first [`FREE_FAILURES`], then 1 s doubling with each further failure, up to
/// [`MAX_DELAY_SECONDS`]. Only that address waits: a stranger cannot lock the owner out.
pub fn delay_after(failures: u64) -> Duration {
    if failures < FREE_FAILURES {
        return Duration::zero();
    }
    let doublings = (failures - FREE_FAILURES).min(20) as u32;
    Duration::seconds((1i64 << doublings).min(MAX_DELAY_SECONDS))
}

/// The address a sign-in is throttled under: an IPv6 client's /64 (the block one host usually
/// holds, so rotating addresses inside it gains nothing), any other address as it is.
fn throttle_key(client_addr: &str) -> String {
    match client_addr.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        _ => client_addr.to_string(),
    }
}

/// Deletes failures older than the throttling window (they count for nothing any more).
pub async fn forget_old_failures(db: &DatabaseConnection) -> Result<u64, ServiceError> {
    let before = Utc::now() - Duration::minutes(THROTTLE_WINDOW_MINUTES);
    let gone = login_failure::Entity::delete_many().filter(login_failure::Column::At.lt(before)).exec(db).await?;
    Ok(gone.rows_affected)
}

/// Reserves this try before any password is checked: its row is written first, so tries
/// racing each other each see the others' rows and cannot all pass the check. Refused
/// reservations are removed; a try that fails stays as a failure.
pub(super) async fn reserve_try(
    db: &DatabaseConnection,
    key: &str,
    client_addr: &str,
) -> Result<login_failure::Model, ServiceError> {
    let now = Utc::now();
    let reserved = login_failure::ActiveModel {
        username_key: Set(key.chars().take(64).collect()),
        client_addr: Set(throttle_key(client_addr).chars().take(64).collect()),
        at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    let since = now - Duration::minutes(THROTTLE_WINDOW_MINUTES);
    let from_address = login_failure::Entity::find()
        .filter(login_failure::Column::ClientAddr.eq(reserved.client_addr.clone()))
        .filter(login_failure::Column::At.gte(since))
        .filter(login_failure::Column::Id.lte(reserved.id))
        .count(db)
        .await?;
    let refusal = if from_address > MAX_FAILURES_PER_ADDRESS {
        Some(format!(
            "too many failed sign-ins from your address; wait {THROTTLE_WINDOW_MINUTES} minutes and try again"
        ))
    } else {
        // Earlier tries of this account from this address, newest first.
        let earlier = login_failure::Entity::find()
            .filter(login_failure::Column::UsernameKey.eq(reserved.username_key.clone()))
            .filter(login_failure::Column::ClientAddr.eq(reserved.client_addr.clone()))
            .filter(login_failure::Column::At.gte(since))
            .filter(login_failure::Column::Id.lt(reserved.id))
            .order_by_desc(login_failure::Column::Id)
            .all(db)
            .await?;
        let wait = delay_after(earlier.len() as u64);
        let ready_at = earlier.first().map(|last| last.at + wait);
        match ready_at {
            Some(at) if at > now => {
                let seconds = ((at - now).num_milliseconds() + 999) / 1000;
                Some(format!("too many failed sign-ins for this account; try again in {seconds} seconds"))
            }
            _ => None,
        }
    };
    match refusal {
        Some(message) => {
            login_failure::Entity::delete_by_id(reserved.id).exec(db).await?;
            Err(ServiceError::TooManyAttempts(message))
        }
        None => Ok(reserved),
    }
}
