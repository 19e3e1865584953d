//! Fine-tuning a dataset version into a new model version: features of the train and val
//! splits from the base bundle's backbone (train photos also mirrored), a head trained with
//! early stopping and temperature scaling, exported as a bundle and installed in the registry.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use tch::{CModule, Device, Tensor};

use crate::catalogue;
use crate::entities::{dataset_item, model_version};
use crate::inference::{Label, Manifest, Taxon};
use crate::storage::PhotoStore;
use crate::training::{self, Epoch, HeadConfig};
use crate::ServiceError;

#[derive(Debug, Clone)]
pub struct FineTuneResult {
    pub bundle_dir: PathBuf,
    pub model: model_version::Model,
    pub best_val_accuracy: f64,
    pub temperature: f64,
    pub history: Vec<Epoch>,
    pub feature_seconds: f64,
    pub total_seconds: f64,
}

/// The taxon of a dataset class: a family the catalogue knows, or one of its species.
fn taxon_of(label: &str) -> Option<Taxon> {
    if label == super::labels::NO_INSECT {
        return None;
    }
    let lineage = |s: &catalogue::Species, rank: &str| {
        let mut l = std::collections::BTreeMap::from([("class".to_string(), s.class.clone())]);
        if !s.order.is_empty() {
            l.insert("order".into(), s.order.clone());
        }
        if rank != "order" && !s.family.is_empty() {
            l.insert("family".into(), s.family.clone());
        }
        l
    };
    if let Some(s) = catalogue::in_family(label).first() {
        return Some(Taxon { rank: "family".into(), name: s.family.clone(), key: format!("family:{}", s.family), lineage: lineage(s, "family") });
    }
    if let Some(s) = catalogue::for_label(label) {
        let mut l = lineage(s, "species");
        l.insert("species".into(), s.name_en.clone());
        return Some(Taxon { rank: "species".into(), name: s.name_en.clone(), key: format!("species:{}", s.name_en), lineage: l });
    }
    // Unknown to the catalogue: still an insect class, so answers can roll up to Insecta.
    Some(Taxon { rank: "class".into(), name: "Insecta".into(), key: "class:Insecta".into(), lineage: [("class".to_string(), "Insecta".to_string())].into() })
}

/// Fine-tunes `spec` (a dataset version) on the bundle at `base_dir`; the new bundle goes under
/// `models_dir` and into the registry (inactive: evaluate it, then activate it).
pub async fn run(
    db: &DatabaseConnection,
    photos: &PhotoStore,
    base_dir: &Path,
    models_dir: &Path,
    spec: &str,
    config: HeadConfig,
    cancel: &AtomicBool,
    progress: impl FnMut(&Epoch) + Send,
) -> Result<FineTuneResult, ServiceError> {
    let started = Instant::now();
    let (set, version) = super::datasets::find_version(db, spec).await?;
    let items = dataset_item::Entity::find().filter(dataset_item::Column::VersionId.eq(version.id)).all(db).await?;
    let mut classes: Vec<String> = items.iter().map(|i| i.label.clone()).collect();
    classes.sort();
    classes.dedup();
    if classes.len() < 2 {
        return Err(ServiceError::InvalidInput("fine-tuning needs at least two classes".into()));
    }
    let split = |name: &str| -> Result<(Vec<Vec<u8>>, Vec<i64>), ServiceError> {
        let mut bytes = Vec::new();
        let mut labels = Vec::new();
        for item in items.iter().filter(|i| i.split == name) {
            bytes.push(photos.read(&item.image_sha256).map_err(|e| ServiceError::Storage(format!("photo {}: {e}", item.image_sha256)))?);
            labels.push(classes.iter().position(|c| *c == item.label).unwrap_or_default() as i64);
        }
        Ok((bytes, labels))
    };
    let (train, train_y) = split("train")?;
    let (val, val_y) = split("val")?;
    let base = Manifest::read(base_dir).map_err(|e| ServiceError::InvalidInput(e.to_string()))?;
    let features_file = base.files.features.clone().ok_or_else(|| ServiceError::InvalidInput("the active bundle has no features.pt".into()))?;
    let prep = crate::inference::preprocess::Preprocessing::from(&base);
    let dir = base_dir.to_path_buf();
    let extracted = tokio::task::spawn_blocking(move || -> Result<(Tensor, Tensor, Tensor, Tensor), training::TrainingError> {
        let features = CModule::load_on_device(dir.join(&features_file), Device::Cpu)?;
        let plain = training::extract_features(&features, prep, &train, false)?;
        let mirrored = training::extract_features(&features, prep, &train, true)?;
        let train_x = Tensor::cat(&[plain, mirrored], 0);
        let y = Tensor::from_slice(&train_y);
        let train_y = Tensor::cat(&[y.shallow_clone(), y], 0);
        let val_x = training::extract_features(&features, prep, &val, false)?;
        Ok((train_x, train_y, val_x, Tensor::from_slice(&val_y)))
    })
    .await
    .map_err(|e| ServiceError::Storage(e.to_string()))?
    .map_err(|e| ServiceError::InvalidInput(e.to_string()))?;
    let feature_seconds = started.elapsed().as_secs_f64();
    let (train_x, train_y, val_x, val_y) = extracted;
    let trained = training::train_head(&train_x, &train_y, &val_x, &val_y, classes.len() as i64, config, cancel, progress)
        .map_err(|e| ServiceError::InvalidInput(e.to_string()))?;
    let labels: Vec<Label> = classes.iter().enumerate().map(|(index, name)| Label { index, name: name.clone(), taxon: taxon_of(name) }).collect();
    let name = format!("{}-{}", base.name, set.name);
    let stamp = chrono::Utc::now().format("%Y%m%d%H%M%S").to_string();
    let model_version = format!("{}.{}-ft{stamp}", set.name, version.version);
    let out = models_dir.join(format!("{name}-{model_version}"));
    let manifest = training::export_bundle(base_dir, &trained, labels, &name, &model_version, &out)
        .map_err(|e| ServiceError::InvalidInput(e.to_string()))?;
    let model = super::models::register(db, &manifest, &out, "fine-tune").await?;
    Ok(FineTuneResult {
        bundle_dir: out,
        model,
        best_val_accuracy: trained.best_val_accuracy,
        temperature: trained.temperature,
        history: trained.history.clone(),
        feature_seconds,
        total_seconds: started.elapsed().as_secs_f64(),
    })
}
