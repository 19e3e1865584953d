//! Importing labelled photos from a directory in the IP102 layout (classes.txt + train.txt /
//! val.txt / test.txt) or as class folders (class/photo, or split/class/photo), into a new
//! dataset version. Safe against paths that leave the tree (`..`, absolute paths, symbolic
//! links), duplicates (by content), and unreadable images (skipped and listed). Every step is
//! idempotent (content-addressed photos, unique items), so an interrupted import resumes by
//! running again without duplicates.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde::Serialize;

use super::datasets::{self, Layout};
use super::labels::{decide, LabelSource};
use crate::entities::dataset_version::VersionState;
use crate::entities::import_job::ImportState;
use crate::entities::{dataset_item, dataset_version, import_job};

mod plan;
use crate::storage::PhotoStore;
use crate::ServiceError;
use plan::refuse;
pub use plan::{folder_inside, folders, plan, Entry, Plan, Skipped, MAX_PHOTO_BYTES};

/// Reads, checks and stores one photo: its digest and bytes, or why it was skipped.
async fn take(
    photos: &PhotoStore,
    root: &Path,
    path: &Path,
) -> Result<Result<(String, Vec<u8>), String>, ServiceError> {
    let (r, p) = (root.to_path_buf(), path.to_path_buf());
    let read = tokio::task::spawn_blocking(move || read_checked(&r, &p))
        .await
        .map_err(|e| ServiceError::Storage(e.to_string()))?;
    Ok(match read {
        Ok(bytes) => photos.put(&bytes).await.map(|sha| (sha, bytes)).map_err(|e| format!("cannot store: {e}")),
        Err(reason) => Err(reason),
    })
}

/// One photo's bytes if it is a readable image file inside the root, or why not.
fn read_checked(root: &Path, path: &Path) -> Result<Vec<u8>, String> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| format!("cannot read: {e}"))?;
    if meta.file_type().is_symlink() {
        return Err("symbolic link (not followed)".into());
    }
    if !meta.is_file() {
        return Err("not a file".into());
    }
    // The canonical path must still be under the root (a linked directory higher up).
    let canonical = path.canonicalize().map_err(|e| format!("cannot resolve: {e}"))?;
    if !canonical.starts_with(root) {
        return Err("path leaves the dataset directory".into());
    }
    if meta.len() > MAX_PHOTO_BYTES {
        return Err(format!("larger than {} MB", MAX_PHOTO_BYTES / 1024 / 1024));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    crate::inference::preprocess::decode(&bytes, Some(64)).map_err(|e| format!("unreadable image: {e}"))?;
    Ok(bytes)
}

/// Progress as the CLI and the page show it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    pub done: usize,
    pub total: usize,
}

/// Starts an import of `dir` into a new version of `name` (or resumes the unfinished import of
/// the same directory into the same dataset). Returns the job; `run` does the work.
pub async fn start(
    db: &DatabaseConnection,
    name: &str,
    dir: &Path,
    seed: u64,
) -> Result<import_job::Model, ServiceError> {
    let source = dir.canonicalize().map_err(|e| ServiceError::InvalidInput(format!("{}: {e}", dir.display())))?;
    let source_text = source.display().to_string();
    let set = datasets::ensure_dataset(db, name, "").await?;
    // An unfinished import of the same source into this dataset is resumed, not repeated.
    for job in import_job::Entity::find()
        .filter(import_job::Column::Source.eq(source_text.clone()))
        .filter(import_job::Column::State.ne(ImportState::Done))
        .all(db)
        .await?
    {
        if let Some(v) = dataset_version::Entity::find_by_id(job.version_id).one(db).await? {
            if v.dataset_id == set.id && v.state == VersionState::Building {
                return Ok(job);
            }
        }
    }
    let plan = {
        let s = source.clone();
        tokio::task::spawn_blocking(move || plan(&s)).await.map_err(|e| ServiceError::Storage(e.to_string()))??
    };
    let version = datasets::new_version(db, &set, VersionState::Building, &source_text, seed).await?;
    let now = Utc::now();
    Ok(import_job::ActiveModel {
        created_at: Set(now),
        updated_at: Set(now),
        version_id: Set(version.id),
        source: Set(source_text),
        layout: Set(match plan.layout {
            Layout::Ip102 => "ip102",
            Layout::Folders => "folders",
        }
        .into()),
        state: Set(ImportState::Running),
        total: Set(plan.entries.len() as i32),
        done: Set(0),
        imported: Set(0),
        skipped: Set("[]".into()),
        error: Set(String::new()),
        seconds: Set(0.0),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

/// Runs (or resumes) an import job to the end, reporting progress after each photo.
pub async fn run(
    db: &DatabaseConnection,
    photos: &PhotoStore,
    job_id: i64,
    progress: impl Fn(Progress),
) -> Result<import_job::Model, ServiceError> {
    let job = import_job::Entity::find_by_id(job_id)
        .one(db)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("import {job_id}")))?;
    let result = run_job(db, photos, job.clone(), progress).await;
    if let Err(e) = &result {
        let mut failed = job.into_active_model();
        failed.state = Set(ImportState::Failed);
        failed.error = Set(e.to_string());
        failed.updated_at = Set(Utc::now());
        failed.update(db).await?;
    }
    result
}

async fn run_job(
    db: &DatabaseConnection,
    photos: &PhotoStore,
    job: import_job::Model,
    progress: impl Fn(Progress),
) -> Result<import_job::Model, ServiceError> {
    let started = Instant::now();
    let root = PathBuf::from(&job.source);
    let plan = {
        let r = root.clone();
        tokio::task::spawn_blocking(move || plan(&r)).await.map_err(|e| ServiceError::Storage(e.to_string()))??
    };
    let version = dataset_version::Entity::find_by_id(job.version_id)
        .one(db)
        .await?
        .ok_or_else(|| ServiceError::NotFound("the import's dataset version".into()))?;
    if version.state != VersionState::Building {
        return Err(ServiceError::Conflict(format!("dataset version {} is already complete", version.version)));
    }
    let mut skipped = plan.refused.clone();
    let mut by_sha: HashMap<String, String> = HashMap::new();
    let mut unsplit: Vec<(String, String)> = Vec::new();
    let total = plan.entries.len();
    let mut imported = 0usize;
    let mut job = job.into_active_model();
    job.state = Set(ImportState::Running);
    job.total = Set(total as i32);
    for (n, entry) in plan.entries.iter().enumerate() {
        match take(photos, &root, &entry.path).await? {
            Err(reason) => skipped.push(refuse(&entry.path, &reason)),
            Ok((sha, bytes)) => match by_sha.get(&sha) {
                Some(first) => skipped.push(refuse(&entry.path, &format!("duplicate of {first}"))),
                None => {
                    by_sha.insert(sha.clone(), entry.path.display().to_string());
                    decide(db, &sha, &entry.label, LabelSource::Import).await?;
                    // The decided label now keeps the photo; a delete of the same photo may have
                    // removed it between our store and that commit.
                    photos.ensure(&bytes).await.map_err(|e| ServiceError::Storage(format!("cannot store: {e}")))?;
                    match entry.split {
                        Some(split) => insert_item(db, version.id, &sha, &entry.label, split).await?,
                        None => unsplit.push((sha, entry.label.clone())),
                    }
                    imported += 1;
                }
            },
        }
        if n % 50 == 49 || n + 1 == total {
            job.done = Set(n as i32 + 1);
            job.imported = Set(imported as i32);
            job.updated_at = Set(Utc::now());
            job = job.update(db).await?.into_active_model();
        }
        progress(Progress { done: n + 1, total });
    }
    // Sources without splits get a stratified one, seeded by the version.
    for (sha, label, split) in datasets::stratified_split(&unsplit, version.seed as u64, datasets::DEFAULT_SPLIT) {
        insert_item(db, version.id, &sha, &label, split).await?;
    }
    datasets::finish_version(db, version).await?;
    job.state = Set(ImportState::Done);
    job.done = Set(total as i32);
    job.imported = Set(imported as i32);
    job.skipped = Set(serde_json::to_string(&skipped).unwrap_or_else(|_| "[]".into()));
    job.seconds = Set(started.elapsed().as_secs_f64());
    job.updated_at = Set(Utc::now());
    Ok(job.update(db).await?)
}

async fn insert_item(
    db: &DatabaseConnection,
    version_id: i64,
    sha: &str,
    label: &str,
    split: &str,
) -> Result<(), ServiceError> {
    let row = dataset_item::ActiveModel {
        version_id: Set(version_id),
        image_sha256: Set(sha.into()),
        label: Set(label.into()),
        split: Set(split.into()),
        ..Default::default()
    };
    let conflict = OnConflict::columns([dataset_item::Column::VersionId, dataset_item::Column::ImageSha256])
        .do_nothing()
        .to_owned();
    match dataset_item::Entity::insert(row).on_conflict(conflict).exec_without_returning(db).await {
        Ok(_) | Err(sea_orm::DbErr::RecordNotInserted) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Jobs a restart found "running": their process died. Marked interrupted, to be resumed.
pub async fn mark_interrupted(db: &DatabaseConnection) -> Result<u64, ServiceError> {
    let running = import_job::Entity::find().filter(import_job::Column::State.eq(ImportState::Running)).all(db).await?;
    let n = running.len() as u64;
    for job in running {
        let mut j = job.into_active_model();
        j.state = Set(ImportState::Interrupted);
        j.updated_at = Set(Utc::now());
        j.update(db).await?;
    }
    Ok(n)
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobSummary {
    pub job: import_job::Model,
    pub dataset: String,
    pub version: i32,
}

/// The newest imports first, with the dataset version each fills.
pub async fn jobs(db: &DatabaseConnection) -> Result<Vec<JobSummary>, ServiceError> {
    let mut out = Vec::new();
    for job in import_job::Entity::find().order_by_desc(import_job::Column::Id).limit(50).all(db).await? {
        let version = dataset_version::Entity::find_by_id(job.version_id).one(db).await?;
        let dataset = match &version {
            Some(v) => crate::entities::dataset::Entity::find_by_id(v.dataset_id)
                .one(db)
                .await?
                .map(|d| d.name)
                .unwrap_or_default(),
            None => String::new(),
        };
        out.push(JobSummary { job, dataset, version: version.map(|v| v.version).unwrap_or_default() });
    }
    Ok(out)
}

/// Class counts of a plan, for a dry run.
pub fn classes(plan: &Plan) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for e in &plan.entries {
        *out.entry(e.label.clone()).or_insert(0) += 1;
    }
    out
}
