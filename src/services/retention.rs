//! Anonymous identifications are kept for a limited time (INSECTID_ANONYMOUS_RETENTION_DAYS):
//! a visitor who is not signed in has no history to come back to, and their photos would
//! otherwise fill the disk for ever. Swept in the background; a photo goes with its last
//! identification unless something else (a label, a dataset) still uses it.

use std::collections::BTreeSet;

use chrono::{Duration, Utc};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;

use crate::entities::{feedback, identification, shadow_prediction};
use crate::storage::PhotoStore;
use crate::ServiceError;

/// Rows removed per round, so one sweep never holds a long transaction or a huge list.
const BATCH: u64 = 500;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    pub identifications: u64,
    pub photos: u64,
}

/// Removes anonymous identifications older than `keep`, with what hangs on them (feedback,
/// shadow predictions) and the photos nothing else uses.
pub async fn sweep_anonymous(
    db: &DatabaseConnection,
    photos: &PhotoStore,
    keep: Duration,
) -> Result<SweepReport, ServiceError> {
    let cutoff = Utc::now() - keep;
    let mut report = SweepReport::default();
    loop {
        let rows: Vec<(i64, String)> = identification::Entity::find()
            .select_only()
            .column(identification::Column::Id)
            .column(identification::Column::ImageSha256)
            .filter(identification::Column::UserId.is_null())
            .filter(identification::Column::CreatedAt.lt(cutoff))
            .order_by_asc(identification::Column::Id)
            .limit(BATCH)
            .into_tuple()
            .all(db)
            .await?;
        if rows.is_empty() {
            break;
        }
        let ids: Vec<i64> = rows.iter().map(|(id, _)| *id).collect();
        let shas: BTreeSet<String> = rows.into_iter().map(|(_, sha)| sha).collect();
        feedback::Entity::delete_many().filter(feedback::Column::IdentificationId.is_in(ids.clone())).exec(db).await?;
        shadow_prediction::Entity::delete_many()
            .filter(shadow_prediction::Column::IdentificationId.is_in(ids.clone()))
            .exec(db)
            .await?;
        let gone = identification::Entity::delete_many().filter(identification::Column::Id.is_in(ids)).exec(db).await?;
        report.identifications += gone.rows_affected;
        for sha in shas {
            if super::integrity::remove_if_unused(db, photos, &sha).await? {
                report.photos += 1;
            }
        }
    }
    Ok(report)
}
