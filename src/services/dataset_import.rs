//! Importing labelled photos from a directory in the IP102 layout (classes.txt + train.txt /
//! val.txt / test.txt) or as class folders (class/photo, or split/class/photo), into a new
//! dataset version. Safe against paths that leave the tree (`..`, absolute paths, symbolic
//! links), duplicates (by content), and unreadable images (skipped and listed). Every step is
//! idempotent (content-addressed photos, unique items), so an interrupted import resumes by
//! running again without duplicates.

use std::collections::{BTreeMap, HashMap};
use std::path::{Component, Path, PathBuf};
use std::time::Instant;

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, Set};
use serde::{Deserialize, Serialize};

use super::datasets::{self, Layout, SPLITS};
use super::labels::{clean_label, decide, LabelSource};
use crate::entities::{dataset_item, dataset_version, import_job};
use crate::storage::PhotoStore;
use crate::ServiceError;

/// A photo larger than this is skipped: no insect photo needs it, and it bounds memory.
pub const MAX_PHOTO_BYTES: u64 = 50 * 1024 * 1024;
const IMAGE_EXTENSIONS: [&str; 8] = ["jpg", "jpeg", "png", "webp", "gif", "bmp", "tif", "tiff"];

/// One file to import: where it is, its class, and its split if the source says.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub path: PathBuf,
    pub label: String,
    pub split: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    pub path: String,
    pub reason: String,
}

/// What a directory holds, before anything is imported.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub layout: Layout,
    pub entries: Vec<Entry>,
    /// Entries refused while planning (outside the tree, links, not images).
    pub refused: Vec<Skipped>,
}

fn split_name(s: &str) -> Option<&'static str> {
    SPLITS.iter().find(|x| x.eq_ignore_ascii_case(s)).copied()
}

fn is_image(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

fn refuse(path: &Path, reason: &str) -> Skipped {
    Skipped { path: path.display().to_string(), reason: reason.into() }
}

/// A path from a list file, taken only when it stays inside `root`.
fn inside(root: &Path, relative: &str) -> Result<PathBuf, &'static str> {
    let rel = Path::new(relative);
    if rel.is_absolute() || rel.components().any(|c| !matches!(c, Component::Normal(_) | Component::CurDir)) {
        return Err("path leaves the dataset directory");
    }
    Ok(root.join(rel))
}

/// Sorted directory entries that are real directories or files; links are refused.
fn children(dir: &Path, refused: &mut Vec<Skipped>) -> std::io::Result<Vec<(PathBuf, bool)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let kind = std::fs::symlink_metadata(&path)?.file_type();
        if kind.is_symlink() {
            refused.push(refuse(&path, "symbolic link (not followed)"));
        } else if kind.is_dir() || kind.is_file() {
            out.push((path, kind.is_dir()));
        }
    }
    out.sort();
    Ok(out)
}

/// A folder named relative to the import directory `base` that really is inside it (no `..`,
/// no link leading out).
pub fn folder_inside(base: &Path, folder: &str) -> Result<PathBuf, ServiceError> {
    let base = base.canonicalize().map_err(|e| ServiceError::Storage(format!("import directory {}: {e}", base.display())))?;
    let real = base
        .join(folder.trim().trim_start_matches('/'))
        .canonicalize()
        .map_err(|_| ServiceError::InvalidInput(format!("there is no folder {folder:?} in the import directory")))?;
    if !real.starts_with(&base) || !real.is_dir() {
        return Err(ServiceError::InvalidInput(format!("{folder:?} is not a folder inside the import directory")));
    }
    Ok(real)
}

/// Reads the directory and decides its layout.
pub fn plan(root: &Path) -> Result<Plan, ServiceError> {
    let meta = std::fs::symlink_metadata(root).map_err(|e| ServiceError::InvalidInput(format!("{}: {e}", root.display())))?;
    if !meta.is_dir() {
        return Err(ServiceError::InvalidInput(format!("{} is not a directory", root.display())));
    }
    let io = |e: std::io::Error| ServiceError::InvalidInput(format!("cannot read {}: {e}", root.display()));
    if root.join("classes.txt").is_file() {
        plan_ip102(root).map_err(io)
    } else {
        plan_folders(root).map_err(io)
    }
}

fn plan_ip102(root: &Path) -> std::io::Result<Plan> {
    let text = std::fs::read_to_string(root.join("classes.txt"))?;
    // "1 rice leaf roller" (IP102) or a bare name per line; list files use 0-based indices.
    // A name that is no clean label stays in the list (the indices after it still count) and
    // its photos are refused with the reason.
    let classes: Vec<Result<String, String>> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| match l.split_once(' ') {
            Some((n, name)) if n.parse::<u32>().is_ok() => name,
            _ => l,
        })
        .map(|name| clean_label(name).map_err(|e| format!("its class in classes.txt: {e}")))
        .collect();
    let images = if root.join("images").is_dir() { root.join("images") } else { root.to_path_buf() };
    let mut entries = Vec::new();
    let mut refused = Vec::new();
    for split in SPLITS {
        let Ok(list) = std::fs::read_to_string(root.join(format!("{split}.txt"))) else { continue };
        for (n, line) in list.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let where_ = format!("{split}.txt line {}", n + 1);
            let Some((path, index)) = line.rsplit_once(char::is_whitespace) else {
                refused.push(Skipped { path: where_, reason: "expected `path label`".into() });
                continue;
            };
            let label = match index.trim().parse::<usize>().ok().and_then(|i| classes.get(i)) {
                Some(Ok(label)) => label,
                Some(Err(reason)) => {
                    refused.push(Skipped { path: where_, reason: reason.clone() });
                    continue;
                }
                None => {
                    refused.push(Skipped { path: where_, reason: format!("label {index:?} is not a class of classes.txt") });
                    continue;
                }
            };
            match inside(&images, path.trim()) {
                Ok(file) => entries.push(Entry { path: file, label: label.clone(), split: Some(split) }),
                Err(reason) => refused.push(Skipped { path: format!("{where_}: {path}"), reason: reason.into() }),
            }
        }
    }
    Ok(Plan { layout: Layout::Ip102, entries, refused })
}

fn plan_folders(root: &Path) -> std::io::Result<Plan> {
    let mut refused = Vec::new();
    let top = children(root, &mut refused)?;
    let split_dirs: Vec<_> = top.iter().filter(|(p, dir)| *dir && p.file_name().and_then(|n| n.to_str()).and_then(split_name).is_some()).collect();
    let class_roots: Vec<(PathBuf, Option<&'static str>)> = if split_dirs.is_empty() {
        vec![(root.to_path_buf(), None)]
    } else {
        split_dirs.iter().map(|(p, _)| (p.clone(), p.file_name().and_then(|n| n.to_str()).and_then(split_name))).collect()
    };
    let mut entries = Vec::new();
    for (dir, split) in class_roots {
        for (class_dir, is_dir) in children(&dir, &mut refused)? {
            if !is_dir {
                continue;
            }
            let name = class_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            // A folder name can hold anything but '/': a line break in it is refused, not imported.
            let label = match clean_label(&name) {
                Ok(label) => label,
                Err(e) => {
                    refused.push(refuse(&class_dir, &format!("class folder name: {e}")));
                    continue;
                }
            };
            for (file, is_dir) in children(&class_dir, &mut refused)? {
                if is_dir {
                    refused.push(refuse(&file, "nested folder inside a class folder"));
                } else if is_image(&file) {
                    entries.push(Entry { path: file, label: label.clone(), split });
                } else {
                    refused.push(refuse(&file, "not an image file"));
                }
            }
        }
    }
    Ok(Plan { layout: Layout::Folders, entries, refused })
}

/// Reads, checks and stores one photo: its digest and bytes, or why it was skipped.
async fn take(photos: &PhotoStore, root: &Path, path: &Path) -> Result<Result<(String, Vec<u8>), String>, ServiceError> {
    let (r, p) = (root.to_path_buf(), path.to_path_buf());
    let read = tokio::task::spawn_blocking(move || read_checked(&r, &p)).await.map_err(|e| ServiceError::Storage(e.to_string()))?;
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
pub async fn start(db: &DatabaseConnection, name: &str, dir: &Path, seed: u64) -> Result<import_job::Model, ServiceError> {
    let source = dir.canonicalize().map_err(|e| ServiceError::InvalidInput(format!("{}: {e}", dir.display())))?;
    let source_text = source.display().to_string();
    let set = datasets::ensure_dataset(db, name, "").await?;
    // An unfinished import of the same source into this dataset is resumed, not repeated.
    for job in import_job::Entity::find().filter(import_job::Column::Source.eq(source_text.clone())).filter(import_job::Column::State.ne("done")).all(db).await? {
        if let Some(v) = dataset_version::Entity::find_by_id(job.version_id).one(db).await? {
            if v.dataset_id == set.id && v.state == "building" {
                return Ok(job);
            }
        }
    }
    let plan = { let s = source.clone(); tokio::task::spawn_blocking(move || plan(&s)).await.map_err(|e| ServiceError::Storage(e.to_string()))?? };
    let version = datasets::new_version(db, &set, "building", &source_text, seed).await?;
    let now = Utc::now();
    Ok(import_job::ActiveModel {
        created_at: Set(now),
        updated_at: Set(now),
        version_id: Set(version.id),
        source: Set(source_text),
        layout: Set(match plan.layout { Layout::Ip102 => "ip102", Layout::Folders => "folders" }.into()),
        state: Set("running".into()),
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
pub async fn run(db: &DatabaseConnection, photos: &PhotoStore, job_id: i64, progress: impl Fn(Progress)) -> Result<import_job::Model, ServiceError> {
    let job = import_job::Entity::find_by_id(job_id).one(db).await?.ok_or_else(|| ServiceError::NotFound(format!("import {job_id}")))?;
    let result = run_job(db, photos, job.clone(), progress).await;
    if let Err(e) = &result {
        let mut failed = job.into_active_model();
        failed.state = Set("failed".into());
        failed.error = Set(e.to_string());
        failed.updated_at = Set(Utc::now());
        failed.update(db).await?;
    }
    result
}

async fn run_job(db: &DatabaseConnection, photos: &PhotoStore, job: import_job::Model, progress: impl Fn(Progress)) -> Result<import_job::Model, ServiceError> {
    let started = Instant::now();
    let root = PathBuf::from(&job.source);
    let plan = { let r = root.clone(); tokio::task::spawn_blocking(move || plan(&r)).await.map_err(|e| ServiceError::Storage(e.to_string()))?? };
    let version = dataset_version::Entity::find_by_id(job.version_id).one(db).await?.ok_or_else(|| ServiceError::NotFound("the import's dataset version".into()))?;
    if version.state != "building" {
        return Err(ServiceError::Conflict(format!("dataset version {} is already complete", version.version)));
    }
    let mut skipped = plan.refused.clone();
    let mut by_sha: HashMap<String, String> = HashMap::new();
    let mut unsplit: Vec<(String, String)> = Vec::new();
    let total = plan.entries.len();
    let mut imported = 0usize;
    let mut job = job.into_active_model();
    job.state = Set("running".into());
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
    job.state = Set("done".into());
    job.done = Set(total as i32);
    job.imported = Set(imported as i32);
    job.skipped = Set(serde_json::to_string(&skipped).unwrap_or_else(|_| "[]".into()));
    job.seconds = Set(started.elapsed().as_secs_f64());
    job.updated_at = Set(Utc::now());
    Ok(job.update(db).await?)
}

async fn insert_item(db: &DatabaseConnection, version_id: i64, sha: &str, label: &str, split: &str) -> Result<(), ServiceError> {
    let row = dataset_item::ActiveModel {
        version_id: Set(version_id),
        image_sha256: Set(sha.into()),
        label: Set(label.into()),
        split: Set(split.into()),
        ..Default::default()
    };
    let conflict = OnConflict::columns([dataset_item::Column::VersionId, dataset_item::Column::ImageSha256]).do_nothing().to_owned();
    match dataset_item::Entity::insert(row).on_conflict(conflict).exec_without_returning(db).await {
        Ok(_) | Err(sea_orm::DbErr::RecordNotInserted) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Jobs a restart found "running": their process died. Marked interrupted, to be resumed.
pub async fn mark_interrupted(db: &DatabaseConnection) -> Result<u64, ServiceError> {
    let running = import_job::Entity::find().filter(import_job::Column::State.eq("running")).all(db).await?;
    let n = running.len() as u64;
    for job in running {
        let mut j = job.into_active_model();
        j.state = Set("interrupted".into());
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
            Some(v) => crate::entities::dataset::Entity::find_by_id(v.dataset_id).one(db).await?.map(|d| d.name).unwrap_or_default(),
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
