//! What an evaluation runs over: class folders on disk, or a split of a dataset version in
//! the photo store; and which of the model's labels count as each class.

use std::path::{Path, PathBuf};

use crate::inference::Manifest;
use crate::ServiceError;

const IMAGE_EXTENSIONS: [&str; 8] = ["jpg", "jpeg", "png", "webp", "bmp", "gif", "tif", "tiff"];

#[derive(Debug, Clone)]
pub struct Dataset {
    pub root: PathBuf,
    pub classes: Vec<String>,
    pub samples: Vec<(Sample, usize)>,
    /// Where `Sample::Stored` photos are read from.
    pub store: Option<crate::storage::PhotoStore>,
}

/// One photo of an evaluation: a file of a folder, or a photo in the file store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sample {
    File(PathBuf),
    Stored(String),
}

impl std::fmt::Display for Sample {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Sample::File(path) => write!(f, "{}", path.display()),
            Sample::Stored(sha) => write!(f, "sha256:{sha}"),
        }
    }
}

impl Dataset {
    pub(super) async fn read(&self, sample: &Sample) -> std::io::Result<Vec<u8>> {
        match (sample, &self.store) {
            (Sample::File(path), _) => tokio::fs::read(path).await,
            (Sample::Stored(sha), Some(store)) => store.read(sha).await,
            (Sample::Stored(_), None) => Err(std::io::Error::other("a stored photo without its store")),
        }
    }
}

/// Reads `DIR/<class>/<photo>`; classes sorted by name, hidden entries and non-images skipped.
pub fn scan_class_folders(dir: &Path) -> Result<Dataset, ServiceError> {
    let read = |d: &Path| {
        std::fs::read_dir(d).map_err(|e| ServiceError::InvalidInput(format!("cannot read {}: {e}", d.display())))
    };
    let mut classes: Vec<String> = Vec::new();
    for entry in read(dir)? {
        let entry = entry.map_err(|e| ServiceError::InvalidInput(e.to_string()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) && !name.starts_with('.') {
            classes.push(name);
        }
    }
    classes.sort();
    let mut samples = Vec::new();
    for (class, name) in classes.iter().enumerate() {
        let mut files: Vec<PathBuf> = read(&dir.join(name))?
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
            .map(|e| e.path())
            .filter(|p| {
                p.extension()
                    .and_then(|x| x.to_str())
                    .is_some_and(|x| IMAGE_EXTENSIONS.contains(&x.to_ascii_lowercase().as_str()))
            })
            .collect();
        files.sort();
        samples.extend(files.into_iter().map(|f| (Sample::File(f), class)));
    }
    if samples.is_empty() {
        return Err(ServiceError::InvalidInput(format!(
            "{} holds no photos in class folders (DIR/<class>/<photo>)",
            dir.display()
        )));
    }
    Ok(Dataset { root: dir.to_path_buf(), classes, samples, store: None })
}

/// For each dataset class, the model labels that count as it (by name, else by taxon).
pub fn class_targets(manifest: &Manifest, classes: &[String]) -> Vec<Vec<usize>> {
    classes
        .iter()
        .map(|c| {
            let by_name: Vec<usize> =
                manifest.labels.iter().filter(|l| l.name.eq_ignore_ascii_case(c)).map(|l| l.index).collect();
            if !by_name.is_empty() {
                return by_name;
            }
            manifest
                .labels
                .iter()
                .filter(|l| l.taxon.as_ref().is_some_and(|t| t.lineage.values().any(|v| v.eq_ignore_ascii_case(c))))
                .map(|l| l.index)
                .collect()
        })
        .collect()
}

/// A split of a dataset version as an evaluation dataset (photos read from the store).
pub async fn from_dataset_version(
    db: &sea_orm::DatabaseConnection,
    photos: &crate::storage::PhotoStore,
    spec: &str,
    split: &str,
) -> Result<Dataset, ServiceError> {
    use crate::entities::dataset_item;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let (set, version) = crate::services::datasets::find_version(db, spec).await?;
    let items = dataset_item::Entity::find()
        .filter(dataset_item::Column::VersionId.eq(version.id))
        .filter(dataset_item::Column::Split.eq(split))
        .all(db)
        .await?;
    if items.is_empty() {
        return Err(ServiceError::InvalidInput(format!(
            "{}@{} has no photos in its {split} split",
            set.name, version.version
        )));
    }
    let mut classes: Vec<String> = items.iter().map(|i| i.label.clone()).collect();
    classes.sort();
    classes.dedup();
    let samples = items
        .iter()
        .filter_map(|i| Some((Sample::Stored(i.image_sha256.clone()), classes.iter().position(|c| *c == i.label)?)))
        .collect();
    let root = PathBuf::from(format!("{}@{} ({split})", set.name, version.version));
    Ok(Dataset { root, classes, samples, store: Some(photos.clone()) })
}
