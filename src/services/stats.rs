use std::time::{Duration, Instant};

use chrono::Utc;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect};

use crate::entities::identification;
use crate::ServiceError;

/// Headline numbers for the home page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalStats {
    pub identifications: u64,
    pub identifications_last_7_days: u64,
    pub distinct_photos: u64,
}

pub async fn portal_stats(db: &DatabaseConnection) -> Result<PortalStats, ServiceError> {
    let identifications = identification::Entity::find().count(db).await?;
    let since = Utc::now() - chrono::Duration::days(7);
    let identifications_last_7_days =
        identification::Entity::find().filter(identification::Column::CreatedAt.gte(since)).count(db).await?;
    let distinct_photos = identification::Entity::find()
        .select_only()
        .column(identification::Column::ImageSha256)
        .distinct()
        .count(db)
        .await?;
    Ok(PortalStats { identifications, identifications_last_7_days, distinct_photos })
}

/// The home page's figures, counted at most once per `max_age` by each instance. The home page
/// is the most viewed page and its counts read the whole identification table, so counting on
/// every view made every view slower as identifications accumulated; a figure a few seconds old
/// is as good on a home page.
pub struct PortalStatsCache {
    max_age: Duration,
    last: tokio::sync::Mutex<Option<(Instant, PortalStats)>>,
}

impl PortalStatsCache {
    /// `max_age` zero counts on every call.
    pub fn new(max_age: Duration) -> Self {
        PortalStatsCache { max_age, last: tokio::sync::Mutex::new(None) }
    }

    pub async fn get(&self, db: &DatabaseConnection) -> Result<PortalStats, ServiceError> {
        if self.max_age.is_zero() {
            return portal_stats(db).await;
        }
        // Held while counting, so the views arriving meanwhile wait for this count instead of
        // each starting their own.
        let mut last = self.last.lock().await;
        if let Some((_, stats)) = last.as_ref().filter(|(at, _)| at.elapsed() < self.max_age) {
            return Ok(stats.clone());
        }
        let stats = portal_stats(db).await?;
        *last = Some((Instant::now(), stats.clone()));
        Ok(stats)
    }
}
