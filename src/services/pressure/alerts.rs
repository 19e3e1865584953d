//! Alerts: an administrator sets a weekly threshold per species and region; when this week's
//! sightings reach it, the overview flags it and people who asked see it on their next visit
//! (and get it by e-mail: `mail.rs`).

use chrono::{NaiveDate, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{DatabaseConnection, EntityTrait, QueryOrder, Set};
use serde::{Deserialize, Serialize};

use super::{weekly, Cell, Sighting};
use crate::auth::{Account, Role};
use crate::entities::{pest_alert, pest_alert_subscriber, user};
use crate::services::users::require;
use crate::ServiceError;

/// The most sightings a week a threshold may ask for.
pub const MAX_THRESHOLD: u32 = 100_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub id: i64,
    pub species_key: String,
    /// None: all regions together.
    pub region: Option<Cell>,
    pub weekly_threshold: u32,
}

fn alert(row: pest_alert::Model) -> Alert {
    Alert {
        id: row.id,
        species_key: row.species_key,
        region: Cell::parse(&row.region).ok(),
        weekly_threshold: u32::try_from(row.weekly_threshold).unwrap_or(0),
    }
}

/// Every alert, by species (anyone may see what is watched).
pub async fn list(db: &DatabaseConnection) -> Result<Vec<Alert>, ServiceError> {
    let rows = pest_alert::Entity::find()
        .order_by_asc(pest_alert::Column::SpeciesKey)
        .order_by_asc(pest_alert::Column::Region)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(alert).collect())
}

/// Sets (or changes) the threshold for a species in a region (administrators).
pub async fn set(
    db: &DatabaseConnection,
    actor: Option<&Account>,
    species_key: &str,
    region: Option<Cell>,
    weekly_threshold: u32,
) -> Result<(), ServiceError> {
    require(actor, Role::Admin)?;
    let species = crate::services::species::get(species_key)?;
    if !(1..=MAX_THRESHOLD).contains(&weekly_threshold) {
        return Err(ServiceError::InvalidInput(format!(
            "the threshold must be from 1 to {MAX_THRESHOLD} sightings a week, not {weekly_threshold}"
        )));
    }
    let row = pest_alert::ActiveModel {
        species_key: Set(species.key.clone()),
        region: Set(region.map(Cell::key).unwrap_or_default()),
        weekly_threshold: Set(weekly_threshold as i32),
        created_at: Set(Utc::now()),
        ..Default::default()
    };
    let upsert = OnConflict::columns([pest_alert::Column::SpeciesKey, pest_alert::Column::Region])
        .update_column(pest_alert::Column::WeeklyThreshold)
        .to_owned();
    pest_alert::Entity::insert(row).on_conflict(upsert).exec_without_returning(db).await?;
    Ok(())
}

/// Removes an alert (administrators).
pub async fn remove(db: &DatabaseConnection, actor: Option<&Account>, id: i64) -> Result<(), ServiceError> {
    require(actor, Role::Admin)?;
    let gone = pest_alert::Entity::delete_by_id(id).exec(db).await?;
    if gone.rows_affected == 0 {
        return Err(ServiceError::NotFound(format!("alert {id}")));
    }
    Ok(())
}

/// An alert whose threshold this week's sightings reached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActiveAlert {
    pub alert: Alert,
    pub this_week: u32,
}

pub fn active(alerts: &[Alert], sightings: &[Sighting], today: NaiveDate) -> Vec<ActiveAlert> {
    alerts
        .iter()
        .filter_map(|a| {
            let this_week = weekly(sightings, Some(&a.species_key), a.region, today).last().copied().unwrap_or(0);
            (this_week >= a.weekly_threshold).then(|| ActiveAlert { alert: a.clone(), this_week })
        })
        .collect()
}

/// How a person asked to be told of active alerts; both off: not at all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    /// Shown on every page they open.
    pub on_visit: bool,
    /// Mailed once a week per alert, when the portal has a mail relay.
    pub by_email: bool,
}

/// Asks (or stops asking) to be told of active alerts. E-mail needs an address on the account.
pub async fn subscribe(
    db: &DatabaseConnection,
    actor: Option<&Account>,
    wanted: Subscription,
) -> Result<(), ServiceError> {
    let actor = require(actor, Role::User)?;
    if wanted == Subscription::default() {
        pest_alert_subscriber::Entity::delete_by_id(actor.id).exec(db).await?;
        return Ok(());
    }
    if wanted.by_email {
        let email = user::Entity::find_by_id(actor.id).one(db).await?.and_then(|u| u.email);
        if email.is_none() {
            return Err(ServiceError::InvalidInput(
                "add an e-mail address on My account first, then ask for alerts by e-mail".into(),
            ));
        }
    }
    let row = pest_alert_subscriber::ActiveModel {
        user_id: Set(actor.id),
        created_at: Set(Utc::now()),
        on_visit: Set(wanted.on_visit),
        by_email: Set(wanted.by_email),
        ..Default::default()
    };
    let update = OnConflict::column(pest_alert_subscriber::Column::UserId)
        .update_columns([pest_alert_subscriber::Column::OnVisit, pest_alert_subscriber::Column::ByEmail])
        .to_owned();
    pest_alert_subscriber::Entity::insert(row).on_conflict(update).exec_without_returning(db).await?;
    Ok(())
}

/// What the caller asked for (nothing for anonymous visitors).
pub async fn subscription(db: &DatabaseConnection, actor: Option<&Account>) -> Result<Subscription, ServiceError> {
    let Some(actor) = actor else { return Ok(Subscription::default()) };
    let row = pest_alert_subscriber::Entity::find_by_id(actor.id).one(db).await?;
    Ok(row.map(|r| Subscription { on_visit: r.on_visit, by_email: r.by_email }).unwrap_or_default())
}

pub async fn is_subscribed(db: &DatabaseConnection, actor: Option<&Account>) -> Result<bool, ServiceError> {
    Ok(subscription(db, actor).await?.on_visit)
}

/// What a visitor is shown: the active alerts, if they asked for them.
pub async fn for_visitor(
    db: &DatabaseConnection,
    actor: Option<&Account>,
    today: NaiveDate,
) -> Result<Vec<ActiveAlert>, ServiceError> {
    if !is_subscribed(db, actor).await? {
        return Ok(Vec::new());
    }
    let alerts = list(db).await?;
    if alerts.is_empty() {
        return Ok(Vec::new());
    }
    let sightings = super::sightings(db, today).await?;
    Ok(active(&alerts, &sightings, today))
}
