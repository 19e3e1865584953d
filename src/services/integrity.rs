//! Does the database agree with the photo store? Photos are written, fsynced and renamed into
//! place before their row commits, so a crash can leave a photo without a row (or a temp file)
//! but never a row without its photo. `check` verifies both directions; `repair` removes what a
//! crash left behind, sparing anything younger than a grace period that a running server may
//! be about to commit.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use sea_orm::{DatabaseConnection, EntityTrait, QuerySelect};
use serde::Serialize;

use crate::entities::{dataset_item, identification, label_vote, photo_label};
use crate::storage::PhotoStore;
use crate::ServiceError;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IntegrityReport {
    pub identifications: u64,
    pub photos: u64,
    /// Identifications whose photo is missing: data lost, reported, never "repaired".
    pub rows_without_photo: Vec<(i64, String)>,
    /// Photos nothing (identification, label, dataset) uses.
    pub orphan_photos: Vec<String>,
    /// Unfinished writes.
    pub temp_files: Vec<PathBuf>,
    /// What `repair` removed.
    pub removed: u64,
}

impl IntegrityReport {
    /// Nothing committed is missing and nothing is left over.
    pub fn is_clean(&self) -> bool {
        self.rows_without_photo.is_empty() && self.orphan_photos.is_empty() && self.temp_files.is_empty()
    }
}

fn storage(e: std::io::Error) -> ServiceError {
    ServiceError::Storage(format!("cannot read the photo store: {e}"))
}

/// Whether anything still refers to the photo: an identification, a label, a labeler's vote or
/// a dataset version (which must never lose an item).
pub async fn photo_in_use<C: sea_orm::ConnectionTrait>(db: &C, sha: &str) -> Result<bool, ServiceError> {
    use sea_orm::{ColumnTrait, PaginatorTrait, QueryFilter};
    Ok(identification::Entity::find().filter(identification::Column::ImageSha256.eq(sha)).count(db).await? > 0
        || super::labels::is_decided(db, sha).await?
        || label_vote::Entity::find().filter(label_vote::Column::ImageSha256.eq(sha)).count(db).await? > 0
        || dataset_item::Entity::find().filter(dataset_item::Column::ImageSha256.eq(sha)).count(db).await? > 0)
}

/// Removes a photo once nothing refers to it. An upload of the same photo may be committing its
/// row meanwhile: the photo is set aside first, the references are read again, and it goes back
/// if one appeared; the upload itself stores it again if it finds it gone
/// ([`PhotoStore::ensure`]). So no row is ever left without its photo. True when removed.
pub async fn remove_if_unused(db: &DatabaseConnection, photos: &PhotoStore, sha: &str) -> Result<bool, ServiceError> {
    if photo_in_use(db, sha).await? {
        return Ok(false);
    }
    let Some(aside) = photos.set_aside(sha).await.map_err(storage)? else {
        return Ok(false);
    };
    // Unsure (the database did not answer) counts as in use: the photo goes back.
    if photo_in_use(db, sha).await.unwrap_or(true) {
        photos.restore(sha, &aside).await.map_err(storage)?;
        return Ok(false);
    }
    photos.discard(sha, &aside).await.map_err(storage)?;
    Ok(true)
}

/// Photos a crash left set aside: put back when something refers to them, else removed.
async fn settle_set_aside(db: &DatabaseConnection, photos: &PhotoStore) -> Result<u64, ServiceError> {
    let mut settled = 0;
    for (sha, aside, _) in photos.set_aside_leftovers().await.map_err(storage)? {
        if photo_in_use(db, &sha).await? && !photos.contains(&sha).await.map_err(storage)? {
            photos.restore(&sha, &aside).await.map_err(storage)?;
        } else {
            photos.discard(&sha, &aside).await.map_err(storage)?;
        }
        settled += 1;
    }
    Ok(settled)
}

/// Every photo something refers to.
async fn referenced(db: &DatabaseConnection) -> Result<HashSet<String>, ServiceError> {
    let mut all: HashSet<String> = HashSet::new();
    all.extend(
        identification::Entity::find()
            .select_only()
            .column(identification::Column::ImageSha256)
            .into_tuple::<String>()
            .all(db)
            .await?,
    );
    all.extend(
        photo_label::Entity::find()
            .select_only()
            .column(photo_label::Column::ImageSha256)
            .into_tuple::<String>()
            .all(db)
            .await?,
    );
    all.extend(
        label_vote::Entity::find()
            .select_only()
            .column(label_vote::Column::ImageSha256)
            .into_tuple::<String>()
            .all(db)
            .await?,
    );
    all.extend(
        dataset_item::Entity::find()
            .select_only()
            .column(dataset_item::Column::ImageSha256)
            .into_tuple::<String>()
            .all(db)
            .await?,
    );
    Ok(all)
}

pub async fn check(db: &DatabaseConnection, photos: &PhotoStore) -> Result<IntegrityReport, ServiceError> {
    scan(db, photos, None).await
}

/// Removes orphan photos and temp files older than `grace`, then reports what is left.
pub async fn repair(
    db: &DatabaseConnection,
    photos: &PhotoStore,
    grace: Duration,
) -> Result<IntegrityReport, ServiceError> {
    scan(db, photos, Some(grace)).await
}

async fn scan(
    db: &DatabaseConnection,
    photos: &PhotoStore,
    repair_older_than: Option<Duration>,
) -> Result<IntegrityReport, ServiceError> {
    let rows: Vec<(i64, String)> = identification::Entity::find()
        .select_only()
        .column(identification::Column::Id)
        .column(identification::Column::ImageSha256)
        .into_tuple()
        .all(db)
        .await?;
    let stored = photos.list().await.map_err(storage)?;
    let temps = photos.temp_files().await.map_err(storage)?;
    let referenced = referenced(db).await?;
    let used: HashSet<&str> = referenced.iter().map(String::as_str).collect();
    let present: HashSet<&str> = stored.iter().map(|(sha, _)| sha.as_str()).collect();
    let old_enough = |written: &SystemTime| {
        repair_older_than.is_some_and(|grace| SystemTime::now().duration_since(*written).unwrap_or_default() >= grace)
    };
    let mut report = IntegrityReport {
        identifications: rows.len() as u64,
        photos: stored.len() as u64,
        rows_without_photo: rows.iter().filter(|(_, sha)| !present.contains(sha.as_str())).cloned().collect(),
        ..Default::default()
    };
    if repair_older_than.is_some() {
        report.removed += settle_set_aside(db, photos).await?;
    }
    for (sha, written) in &stored {
        if used.contains(sha.as_str()) {
            continue;
        }
        if old_enough(written) && remove_if_unused(db, photos, sha).await.unwrap_or(false) {
            report.removed += 1;
        } else {
            report.orphan_photos.push(sha.clone());
        }
    }
    for (path, written) in temps {
        if old_enough(&written) && photos.remove_temp(&path).await.is_ok() {
            report.removed += 1;
        } else {
            report.temp_files.push(path);
        }
    }
    report.orphan_photos.sort();
    Ok(report)
}
