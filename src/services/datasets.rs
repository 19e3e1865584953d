//! Datasets: named, versioned sets of labelled photos. A version is built once (from the
//! decided labels, or by an import) and never changes; its train/val/test split is stratified
//! per class with a recorded seed, so the same labels and seed give the same split.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set,
};
use serde::Serialize;

use super::labels::{clean_label, unsafe_in_label};
use super::users::require;
use crate::auth::{Account, Role};
use crate::entities::{dataset, dataset_item, dataset_version, photo_label};
use crate::storage::PhotoStore;
use crate::ServiceError;

pub const SPLITS: [&str; 3] = ["train", "val", "test"];
/// Shares of train and val; test gets the rest.
pub const DEFAULT_SPLIT: (f64, f64) = (0.7, 0.15);

/// A small, well-known generator (SplitMix64), so a seed gives the same split on every platform.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Assigns each (photo, label) to a split, per class: shuffled with the seed, then the first
/// share to train, the next to val, the rest to test. A class with fewer than three photos
/// puts them all in train (a val or test of one photo measures nothing).
pub fn stratified_split(
    items: &[(String, String)],
    seed: u64,
    shares: (f64, f64),
) -> Vec<(String, String, &'static str)> {
    let mut by_class: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (sha, label) in items {
        by_class.entry(label.as_str()).or_default().push(sha.as_str());
    }
    let mut out = Vec::with_capacity(items.len());
    for (label, mut shas) in by_class {
        shas.sort_unstable();
        let mut rng = SplitMix64(
            seed ^ crate::storage::sha256_hex(label.as_bytes())
                .bytes()
                .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64)),
        );
        for i in (1..shas.len()).rev() {
            let j = (rng.next() % (i as u64 + 1)) as usize;
            shas.swap(i, j);
        }
        let n = shas.len();
        let (train, val) = if n < 3 {
            (n, 0)
        } else {
            let val = ((n as f64 * shares.1).round() as usize).max(1);
            let test = n.saturating_sub(((n as f64 * shares.0).round() as usize).max(1) + val).max(1);
            (n - val - test, val)
        };
        for (i, sha) in shas.into_iter().enumerate() {
            let split = if i < train {
                "train"
            } else if i < train + val {
                "val"
            } else {
                "test"
            };
            out.push((sha.to_string(), label.to_string(), split));
        }
    }
    out
}

pub fn check_name(name: &str) -> Result<String, ServiceError> {
    let name = name.trim();
    let ok = (1..=64).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && !name.starts_with('.');
    if ok {
        Ok(name.to_string())
    } else {
        Err(ServiceError::InvalidInput(format!("dataset name {name:?}: 1 to 64 letters, digits, '-', '_' or '.'")))
    }
}

/// The dataset of that name, made if new.
pub async fn ensure_dataset<C: ConnectionTrait>(
    db: &C,
    name: &str,
    description: &str,
) -> Result<dataset::Model, ServiceError> {
    let name = check_name(name)?;
    if let Some(d) = dataset::Entity::find().filter(dataset::Column::Name.eq(name.clone())).one(db).await? {
        return Ok(d);
    }
    Ok(dataset::ActiveModel {
        name: Set(name),
        description: Set(description.trim().to_string()),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

/// Opens the dataset's next version number in the given state.
pub async fn new_version<C: ConnectionTrait>(
    db: &C,
    dataset: &dataset::Model,
    state: &str,
    origin: &str,
    seed: u64,
) -> Result<dataset_version::Model, ServiceError> {
    let last = dataset_version::Entity::find()
        .filter(dataset_version::Column::DatasetId.eq(dataset.id))
        .order_by_desc(dataset_version::Column::Version)
        .one(db)
        .await?;
    Ok(dataset_version::ActiveModel {
        dataset_id: Set(dataset.id),
        version: Set(last.map(|v| v.version + 1).unwrap_or(1)),
        state: Set(state.into()),
        origin: Set(origin.chars().take(200).collect()),
        seed: Set(seed as i64),
        items: Set(0),
        classes: Set(0),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

/// Builds a new version of `name` from every photo's decided label (administrators and labelers).
pub async fn create_from_labels(
    db: &DatabaseConnection,
    actor: Option<&Account>,
    name: &str,
    seed: u64,
) -> Result<dataset_version::Model, ServiceError> {
    require(actor, Role::Labeler)?;
    build_from_labels(db, name, seed).await
}

/// The same for the operator's command line, which needs no account.
pub async fn build_from_labels(
    db: &DatabaseConnection,
    name: &str,
    seed: u64,
) -> Result<dataset_version::Model, ServiceError> {
    // Labels decided before they were cleaned are cleaned here, and one that cannot be (a line
    // break) stops the build rather than entering the dataset.
    let labels: Vec<(String, String)> = photo_label::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|l| match clean_label(&l.label) {
            Ok(label) => Ok((l.image_sha256, label)),
            Err(e) => Err(ServiceError::InvalidInput(format!("photo {}: {e}", l.image_sha256))),
        })
        .collect::<Result<_, _>>()?;
    if labels.is_empty() {
        return Err(ServiceError::InvalidInput(
            "no photo has a label yet: accept feedback or label photos first".into(),
        ));
    }
    let txn = crate::db::begin_write(db).await?;
    let set = ensure_dataset(&txn, name, "").await?;
    let version = new_version(&txn, &set, "ready", "labels", seed).await?;
    let assigned = stratified_split(&labels, seed, DEFAULT_SPLIT);
    for chunk in assigned.chunks(500) {
        let rows = chunk.iter().map(|(sha, label, split)| dataset_item::ActiveModel {
            version_id: Set(version.id),
            image_sha256: Set(sha.clone()),
            label: Set(label.clone()),
            split: Set((*split).into()),
            ..Default::default()
        });
        dataset_item::Entity::insert_many(rows).exec(&txn).await?;
    }
    let version = finish_version(&txn, version).await?;
    txn.commit().await?;
    Ok(version)
}

/// Counts a version's items and classes and marks it ready: from now on it never changes.
pub async fn finish_version<C: ConnectionTrait>(
    db: &C,
    version: dataset_version::Model,
) -> Result<dataset_version::Model, ServiceError> {
    let items = dataset_item::Entity::find().filter(dataset_item::Column::VersionId.eq(version.id)).all(db).await?;
    let classes: std::collections::HashSet<&str> = items.iter().map(|i| i.label.as_str()).collect();
    let mut v: dataset_version::ActiveModel = version.into();
    v.items = Set(items.len() as i32);
    v.classes = Set(classes.len() as i32);
    v.state = Set("ready".into());
    Ok(v.update(db).await?)
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionSummary {
    pub dataset: String,
    pub version: dataset_version::Model,
    /// Items per split, in SPLITS order.
    pub per_split: [u64; 3],
}

/// Every dataset's versions, newest first.
pub async fn list(db: &DatabaseConnection, actor: Option<&Account>) -> Result<Vec<VersionSummary>, ServiceError> {
    require(actor, Role::Labeler)?;
    list_all(db).await
}

pub async fn list_all(db: &DatabaseConnection) -> Result<Vec<VersionSummary>, ServiceError> {
    use sea_orm::QuerySelect;
    let sets: BTreeMap<i64, String> =
        dataset::Entity::find().all(db).await?.into_iter().map(|d| (d.id, d.name)).collect();
    let versions = dataset_version::Entity::find()
        .order_by_desc(dataset_version::Column::CreatedAt)
        .order_by_desc(dataset_version::Column::Id)
        .all(db)
        .await?;
    // One grouped count for every version's splits: the page polls this while imports run.
    let counts: Vec<(i64, String, i64)> = dataset_item::Entity::find()
        .select_only()
        .column(dataset_item::Column::VersionId)
        .column(dataset_item::Column::Split)
        .column_as(dataset_item::Column::Id.count(), "n")
        .group_by(dataset_item::Column::VersionId)
        .group_by(dataset_item::Column::Split)
        .into_tuple()
        .all(db)
        .await?;
    let mut out = Vec::new();
    for v in versions {
        let mut per_split = [0u64; 3];
        for (_, split, n) in counts.iter().filter(|c| c.0 == v.id) {
            if let Some(k) = SPLITS.iter().position(|s| s == split) {
                per_split[k] = *n as u64;
            }
        }
        out.push(VersionSummary {
            dataset: sets.get(&v.dataset_id).cloned().unwrap_or_default(),
            version: v,
            per_split,
        });
    }
    Ok(out)
}

/// The version `name@N`, or the newest ready one for a bare name.
pub async fn find_version(
    db: &DatabaseConnection,
    spec: &str,
) -> Result<(dataset::Model, dataset_version::Model), ServiceError> {
    let (name, number) = match spec.split_once('@') {
        Some((n, v)) => {
            (n, Some(v.parse::<i32>().map_err(|_| ServiceError::InvalidInput(format!("bad version in {spec:?}")))?))
        }
        None => (spec, None),
    };
    let set = dataset::Entity::find()
        .filter(dataset::Column::Name.eq(name))
        .one(db)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("dataset {name}")))?;
    let mut q = dataset_version::Entity::find()
        .filter(dataset_version::Column::DatasetId.eq(set.id))
        .filter(dataset_version::Column::State.eq("ready"));
    if let Some(n) = number {
        q = q.filter(dataset_version::Column::Version.eq(n));
    }
    let version = q
        .order_by_desc(dataset_version::Column::Version)
        .one(db)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("a ready version of {spec}")))?;
    Ok((set, version))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// images/ + classes.txt + train.txt / val.txt / test.txt with `path label` lines.
    Ip102,
    /// split/class/photo.
    Folders,
}

impl Layout {
    pub fn parse(s: &str) -> Result<Layout, ServiceError> {
        match s {
            "ip102" => Ok(Layout::Ip102),
            "folders" => Ok(Layout::Folders),
            other => Err(ServiceError::InvalidInput(format!("unknown layout {other:?} (ip102 or folders)"))),
        }
    }
}

/// A class name as a folder name: no separators, no leading dot.
pub fn folder_name(label: &str) -> String {
    let cleaned: String = label.chars().map(|c| if matches!(c, '/' | '\\' | '\0') { '_' } else { c }).collect();
    cleaned.trim_start_matches('.').to_string()
}

fn extension(bytes: &[u8]) -> &'static str {
    match image::guess_format(bytes) {
        Ok(image::ImageFormat::Png) => "png",
        Ok(image::ImageFormat::WebP) => "webp",
        Ok(image::ImageFormat::Gif) => "gif",
        Ok(image::ImageFormat::Bmp) => "bmp",
        Ok(image::ImageFormat::Tiff) => "tiff",
        _ => "jpg",
    }
}

/// Writes a version to `out` (which must not exist or be empty). Returns the files written.
pub async fn export(
    db: &DatabaseConnection,
    photos: &PhotoStore,
    spec: &str,
    layout: Layout,
    out: &Path,
) -> Result<usize, ServiceError> {
    let (_, version) = find_version(db, spec).await?;
    let mut items = dataset_item::Entity::find().filter(dataset_item::Column::VersionId.eq(version.id)).all(db).await?;
    items.sort_by(|a, b| {
        (a.split.as_str(), a.label.as_str(), a.image_sha256.as_str()).cmp(&(
            b.split.as_str(),
            b.label.as_str(),
            b.image_sha256.as_str(),
        ))
    });
    write_export(photos, &items, layout, out).await.map_err(|e| ServiceError::Storage(format!("export: {e}")))
}

async fn write_export(
    photos: &PhotoStore,
    items: &[dataset_item::Model],
    layout: Layout,
    out: &Path,
) -> std::io::Result<usize> {
    use std::fmt::Write as _;
    if tokio::fs::try_exists(out).await? && tokio::fs::read_dir(out).await?.next_entry().await?.is_some() {
        return Err(std::io::Error::other(format!("{} is not empty", out.display())));
    }
    let classes: Vec<&str> = {
        let mut c: Vec<&str> = items.iter().map(|i| i.label.as_str()).collect();
        c.sort_unstable();
        c.dedup();
        c
    };
    // Labels are cleaned where they enter; this only guards the files against one that got
    // past (an older version): a line break would add a line to classes.txt and shift the
    // index of every class after it.
    if let Some(bad) = classes.iter().find(|c| c.chars().any(unsafe_in_label)) {
        return Err(std::io::Error::other(format!("class {bad:?} holds a line break or control character")));
    }
    tokio::fs::create_dir_all(out).await?;
    let index: BTreeMap<&str, usize> = classes.iter().enumerate().map(|(i, c)| (*c, i)).collect();
    let mut lists: BTreeMap<&str, String> = SPLITS.iter().map(|s| (*s, String::new())).collect();
    for item in items {
        let original = photos.read(&item.image_sha256).await?;
        // Exports leave the portal: no photo takes its place or owner along (off the async
        // runtime: a TIFF is written anew from its pixels).
        let bytes = tokio::task::spawn_blocking(move || {
            crate::storage::metadata::strip_private(&original).map(|b| b.into_owned())
        })
        .await
        .map_err(std::io::Error::other)?
        .map_err(|e| std::io::Error::other(format!("photo {}: {e}", item.image_sha256)))?;
        let file = format!("{}.{}", item.image_sha256, extension(&bytes));
        match layout {
            Layout::Ip102 => {
                tokio::fs::create_dir_all(out.join("images")).await?;
                tokio::fs::write(out.join("images").join(&file), &bytes).await?;
                let line = lists.entry(item.split.as_str()).or_default();
                let _ = writeln!(line, "{file} {}", index[item.label.as_str()]);
            }
            Layout::Folders => {
                let dir = out.join(&item.split).join(folder_name(&item.label));
                tokio::fs::create_dir_all(&dir).await?;
                tokio::fs::write(dir.join(&file), &bytes).await?;
            }
        }
    }
    if layout == Layout::Ip102 {
        let names: String = classes.iter().enumerate().map(|(i, c)| format!("{} {c}\n", i + 1)).collect();
        tokio::fs::write(out.join("classes.txt"), names).await?;
        for (split, lines) in lists {
            tokio::fs::write(out.join(format!("{split}.txt")), lines).await?;
        }
    }
    Ok(items.len())
}

/// A version as one .zip file in `work` (a scratch folder of the caller's): the export's layout
/// inside, photos stored uncompressed (they are compressed already).
pub async fn export_zip(
    db: &DatabaseConnection,
    photos: &PhotoStore,
    spec: &str,
    layout: Layout,
    work: &Path,
) -> Result<std::path::PathBuf, ServiceError> {
    let tree = work.join("tree");
    export(db, photos, spec, layout, &tree).await?;
    let (from, zip_path) = (tree.clone(), work.join("export.zip"));
    let out = zip_path.clone();
    tokio::task::spawn_blocking(move || zip_tree(&from, &out))
        .await
        .map_err(|e| ServiceError::Storage(e.to_string()))?
        .map_err(|e| ServiceError::Storage(format!("zip: {e}")))?;
    let _ = std::fs::remove_dir_all(&tree);
    Ok(zip_path)
}

fn zip_tree(root: &Path, out: &Path) -> std::io::Result<()> {
    let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(std::fs::File::create(out)?));
    let stored = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&dir)?.flatten().map(|e| e.path()).collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let name = path.strip_prefix(root).map_err(std::io::Error::other)?.to_string_lossy().replace('\\', "/");
            zip.start_file(name, stored).map_err(std::io::Error::other)?;
            std::io::copy(&mut std::fs::File::open(&path)?, &mut zip)?;
        }
    }
    zip.finish().map_err(std::io::Error::other)?;
    Ok(())
}
