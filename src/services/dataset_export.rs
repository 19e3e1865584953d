//! Dataset downloads. A labeler asks for a version as a .zip (a POST, so no other site can make
//! a labeler's browser start one); a background job writes the archive into the job's folder;
//! the person who asked, or an administrator, downloads it from there, streamed from disk.
//! Archives are removed a day after they were made.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};

use super::audit::{self, Actor};
use super::datasets::{self, Layout};
use super::users::require;
use crate::auth::{Account, Role};
use crate::entities::job;
use crate::jobs::{queue, JobKind, JobSpec, JobState};
use crate::ServiceError;

/// The archive's name in its job's folder.
pub const ZIP_NAME: &str = "export.zip";
/// How long a finished archive stays downloadable.
pub const KEEP: Duration = Duration::from_secs(24 * 3600);
const KIND: JobKind = JobKind::ExportDataset;

/// One of a person's downloads, as the Datasets page lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportView {
    pub job_id: i64,
    pub dataset: String,
    pub layout: String,
    pub state: JobState,
    /// Whether the archive can be downloaded now.
    pub ready: bool,
    pub error: String,
}

/// Queues an export of `spec` (NAME@N) as a .zip. A person has one export waiting at a time:
/// asking again while one is queued or running returns that one.
pub async fn request(
    db: &DatabaseConnection,
    actor: Option<&Account>,
    spec: &str,
    layout: &str,
) -> Result<job::Model, ServiceError> {
    let who = require(actor, Role::Labeler)?;
    Layout::parse(layout)?;
    let (set, version) = datasets::find_version(db, spec).await?;
    let waiting = [JobState::Queued, JobState::Running];
    let pending = job::Entity::find()
        .filter(job::Column::Kind.eq(KIND))
        .filter(job::Column::CreatedBy.eq(who.id))
        .filter(job::Column::State.is_in(waiting))
        .one(db)
        .await?;
    if let Some(pending) = pending {
        return Ok(pending);
    }
    let spec = JobSpec::ExportDataset {
        dataset: format!("{}@{}", set.name, version.version),
        layout: layout.to_string(),
        zip: true,
    };
    let row = queue::enqueue(db, &spec, "", Some(who.id)).await?;
    audit::record(
        db,
        Actor::Account(who),
        "dataset.export_requested",
        &format!("{}@{}", set.name, version.version),
        layout,
        None,
    )
    .await?;
    Ok(row)
}

/// The person's latest downloads, newest first.
pub async fn mine(
    db: &DatabaseConnection,
    jobs_dir: &Path,
    actor: Option<&Account>,
    limit: u64,
) -> Result<Vec<ExportView>, ServiceError> {
    let who = require(actor, Role::Labeler)?;
    let rows = job::Entity::find()
        .filter(job::Column::Kind.eq(KIND))
        .filter(job::Column::CreatedBy.eq(who.id))
        .order_by_desc(job::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let Ok(JobSpec::ExportDataset { dataset, layout, zip: true }) =
                serde_json::from_str::<JobSpec>(&row.params)
            else {
                return None;
            };
            let ready = row.state == JobState::Succeeded && archive(jobs_dir, row.id).is_file();
            Some(ExportView { job_id: row.id, dataset, layout, state: row.state, ready, error: row.error })
        })
        .collect())
}

/// Where a finished export's archive lies, for the person who asked or an administrator;
/// anyone else is told there is no such download.
pub async fn download(
    db: &DatabaseConnection,
    jobs_dir: &Path,
    actor: Option<&Account>,
    id: i64,
) -> Result<(PathBuf, String), ServiceError> {
    let who = require(actor, Role::Labeler)?;
    let missing = || ServiceError::NotFound(format!("download {id}"));
    let row = job::Entity::find_by_id(id).one(db).await?.filter(|j| j.kind == KIND).ok_or_else(missing)?;
    if row.created_by != Some(who.id) && who.role != Role::Admin {
        return Err(missing());
    }
    let Ok(JobSpec::ExportDataset { dataset, layout, .. }) = serde_json::from_str::<JobSpec>(&row.params) else {
        return Err(missing());
    };
    if row.state != JobState::Succeeded {
        return Err(ServiceError::Conflict(format!("the export of {dataset} is {}", row.state)));
    }
    let path = archive(jobs_dir, id);
    if !path.is_file() {
        return Err(ServiceError::NotFound(format!("the export of {dataset} has expired; ask for it again")));
    }
    let file_name = format!("{}-{layout}.zip", dataset.replace(['@', '/', '\\', '"'], "-"));
    Ok((path, file_name))
}

/// The archive of export job `id`.
pub fn archive(jobs_dir: &Path, id: i64) -> PathBuf {
    jobs_dir.join(id.to_string()).join(ZIP_NAME)
}

/// Removes archives older than `keep`; how many went.
pub fn remove_expired(jobs_dir: &Path, keep: Duration) -> std::io::Result<usize> {
    let mut removed = 0;
    let Ok(entries) = std::fs::read_dir(jobs_dir) else { return Ok(0) };
    for entry in entries.flatten() {
        let zip = entry.path().join(ZIP_NAME);
        let Ok(made) = zip.metadata().and_then(|m| m.modified()) else { continue };
        if SystemTime::now().duration_since(made).unwrap_or_default() > keep {
            std::fs::remove_file(&zip)?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Removes a folder when dropped: an export cancelled or failed half-way leaves nothing.
pub struct RemoveOnDrop(pub PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
