use chrono::{Duration, Utc};
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
    let since = Utc::now() - Duration::days(7);
    let identifications_last_7_days = identification::Entity::find()
        .filter(identification::Column::CreatedAt.gte(since))
        .count(db)
        .await?;
    let distinct_photos = identification::Entity::find()
        .select_only()
        .column(identification::Column::ImageSha256)
        .distinct()
        .count(db)
        .await?;
    Ok(PortalStats { identifications, identifications_last_7_days, distinct_photos })
}
