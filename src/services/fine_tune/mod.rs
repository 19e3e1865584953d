//! Fine-tuning a dataset version into a new model version: features of the train and val
//! splits from the base bundle's backbone (train photos also mirrored, more views on request;
//! `features.rs`), a head trained with early stopping and temperature scaling, then the
//! backbone's last blocks with it (`second_stage.rs`), exported as a bundle and installed in
//! the registry.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use crate::catalogue;
use crate::entities::dataset_item;
use crate::entities::model_version::{self, ModelSource};
use crate::inference::{Label, Manifest, Taxon, TestTime};
use crate::storage::PhotoStore;
use crate::training::{self, Epoch, HeadConfig};
use crate::ServiceError;

mod features;
mod second_stage;

use second_stage::SecondStage;

#[derive(Debug, Clone)]
pub struct FineTuneResult {
    pub bundle_dir: PathBuf,
    pub model: model_version::Model,
    pub best_val_accuracy: f64,
    /// Val top-1 with the mirror averaged in, when the bundle declares it (what it scores).
    pub mirror_val_accuracy: Option<f64>,
    pub temperature: f64,
    pub history: Vec<Epoch>,
    pub feature_seconds: f64,
    pub total_seconds: f64,
}

/// The taxon of a dataset class: a family the catalogue knows, or one of its species.
pub(crate) fn taxon_of(label: &str) -> Option<Taxon> {
    if label == super::labels::NO_INSECT {
        return None;
    }
    if let Some(s) = catalogue::in_family(label).first() {
        return Some(s.family_taxon());
    }
    if let Some(s) = catalogue::for_label(label) {
        return Some(s.taxon());
    }
    // Unknown to the catalogue: still an insect class, so answers can roll up to Insecta.
    Some(Taxon {
        rank: "class".into(),
        name: "Insecta".into(),
        key: "class:Insecta".into(),
        lineage: [("class".to_string(), "Insecta".to_string())].into(),
    })
}

/// How to fine-tune, beyond the head's own settings.
#[derive(Debug, Clone, Default)]
pub struct FineTuneOptions {
    pub head: HeadConfig,
    /// Views of each training photo: 1 the photo, 2 adds its mirror, more add random views
    /// (random resized crop, flip, colour jitter). 0 means 4.
    pub views: usize,
    /// Where backbone features are cached; a resumed job finds them there and skips the costly
    /// part.
    pub cache_dir: Option<PathBuf>,
    /// Backbone blocks trained with the head after it (None: the default of `SecondStage::choose`
    /// — 3 on cached activations when the backbone can be split there).
    pub unfreeze_blocks: Option<usize>,
    /// Most epochs of that second stage (0: its default).
    pub unfreeze_epochs: usize,
    /// Test-time augmentation the new bundle declares (its temperature is fitted for it).
    pub test_time: TestTime,
}

/// What a running fine-tune reports. Called from worker threads.
pub trait FineTuneObserver: Send + Sync {
    /// `done` of `total` photo views have their features.
    fn features(&self, _done: usize, _total: usize) {}
    fn epoch(&self, _epoch: &Epoch) {}
    /// The second stage begins: at most `max_epochs` epochs, numbered from 1 again.
    fn stage(&self, _max_epochs: usize) {}
    fn note(&self, _line: &str) {}
}

/// Reports nothing.
pub struct Quiet;
impl FineTuneObserver for Quiet {}

/// Fine-tunes `spec` (a dataset version) on the bundle at `base_dir`; the new bundle goes under
/// `models_dir` and into the registry (inactive: evaluate it, then activate it).
// The stores it reads and writes, what to train, and the job's two hooks (cancel, progress).
#[allow(clippy::too_many_arguments)]
pub async fn run(
    db: &DatabaseConnection,
    photos: &PhotoStore,
    base_dir: &Path,
    models_dir: &Path,
    spec: &str,
    options: FineTuneOptions,
    cancel: Arc<AtomicBool>,
    observer: Arc<dyn FineTuneObserver>,
) -> Result<FineTuneResult, ServiceError> {
    let started = Instant::now();
    // Refused before any photo is read.
    let base = Manifest::read(base_dir).map_err(|e| ServiceError::InvalidInput(e.to_string()))?;
    if !base.kind.is_classifier() {
        let refusal = "the base is an image–text model: its classes change by describing them, not by fine-tuning";
        return Err(ServiceError::InvalidInput(refusal.into()));
    }
    let config = options.head;
    let views = if options.views == 0 { 4 } else { options.views.min(16) };
    let (set, version) = super::datasets::find_version(db, spec).await?;
    let items = dataset_item::Entity::find().filter(dataset_item::Column::VersionId.eq(version.id)).all(db).await?;
    let mut classes: Vec<String> = items.iter().map(|i| i.label.clone()).collect();
    classes.sort();
    classes.dedup();
    if classes.len() < 2 {
        return Err(ServiceError::InvalidInput("fine-tuning needs at least two classes".into()));
    }
    let split = async |name: &str| -> Result<(Vec<Vec<u8>>, Vec<i64>), ServiceError> {
        let mut bytes = Vec::new();
        let mut labels = Vec::new();
        for item in items.iter().filter(|i| i.split == name) {
            bytes.push(
                photos
                    .read(&item.image_sha256)
                    .await
                    .map_err(|e| ServiceError::Storage(format!("photo {}: {e}", item.image_sha256)))?,
            );
            labels.push(classes.iter().position(|c| *c == item.label).unwrap_or_default() as i64);
        }
        Ok((bytes, labels))
    };
    let (train, train_y) = split("train").await?;
    let (val, val_y) = split("val").await?;
    let (train, val) = (Arc::new(train), Arc::new(val));
    if train.is_empty() || val.is_empty() {
        return Err(ServiceError::InvalidInput(format!(
            "{}@{} needs photos in both its train and val splits",
            set.name, version.version
        )));
    }
    observer.note(&format!(
        "{}@{}: {} classes, {} train photos × {views} views, {} val photos",
        set.name,
        version.version,
        classes.len(),
        train.len(),
        val.len()
    ));
    let features_file = base
        .files
        .features
        .clone()
        .ok_or_else(|| ServiceError::InvalidInput("the base bundle has no features.pt".into()))?;
    let prep = crate::inference::preprocess::Preprocessing::from(&base);
    let features_path = base_dir.join(&features_file);
    let test_time = options.test_time;
    let rows = train.len() * views + val.len();
    let (requested, path, size) = (options.unfreeze_blocks, features_path.clone(), prep.input_size as i64);
    let (stage, why) = tokio::task::spawn_blocking(move || SecondStage::choose(requested, &path, size, rows))
        .await
        .map_err(|e| ServiceError::Storage(e.to_string()))?;
    if let Some(why) = why {
        observer.note(&why);
    }
    let request = features::Request {
        features_path: features_path.clone(),
        prep,
        train: train.clone(),
        train_y: train_y.clone(),
        val: val.clone(),
        val_y: val_y.clone(),
        views,
        // Mirrored val features of the base backbone serve only a head on that backbone.
        val_mirrored: test_time == TestTime::Flip && stage == SecondStage::None,
        split: stage.split(),
        cache: options.cache_dir.clone(),
    };
    let (obs, stop) = (observer.clone(), cancel.clone());
    let extracted = tokio::task::spawn_blocking(move || features::extract(&request, obs.as_ref(), &stop))
        .await
        .map_err(|e| ServiceError::Storage(e.to_string()))?
        .map_err(training_error)?;
    let feature_seconds = started.elapsed().as_secs_f64();
    observer.note(&format!("features ready in {feature_seconds:.1} s; training the head"));
    let labels: Vec<Label> = classes
        .iter()
        .enumerate()
        .map(|(index, name)| Label {
            index,
            name: name.clone(),
            taxon: taxon_of(name),
            prompts: Vec::new(),
            described: Vec::new(),
            prototype: None,
        })
        .collect();
    let name = format!("{}-{}", base.name, set.name);
    let stamp = chrono::Utc::now().format("%Y%m%d%H%M%S").to_string();
    let model_version = format!("{}.{}-ft{stamp}", set.name, version.version);
    let out = models_dir.join(super::models::bundle_dir_name(&name, &model_version));
    let bundle_dir = out.clone();

    let second = second_stage::Inputs {
        features_path,
        prep,
        train,
        train_y,
        val,
        val_y,
        epochs: options.unfreeze_epochs,
        flip: test_time == TestTime::Flip,
    };
    let (obs, stop, n_classes, base_dir_owned) =
        (observer.clone(), cancel.clone(), classes.len() as i64, base_dir.to_path_buf());
    let (trained, mirror_val_accuracy, manifest) =
        tokio::task::spawn_blocking(move || -> Result<_, training::TrainingError> {
            crate::inference::torch_threads::compute_on(crate::inference::torch_threads::all_cores());
            let mut trained = training::train_head(
                &extracted.train_x,
                &extracted.train_y,
                &extracted.val_x,
                &extracted.val_y,
                n_classes,
                config,
                &stop,
                |e| obs.epoch(e),
            )?;
            // The pooled train features are done with: free them before the second stage.
            let features::Features { train_x, activations, .. } = extracted;
            drop(train_x);
            let backbone = second_stage::run(stage, &mut trained, second, activations, obs.as_ref(), &stop)?;
            let val_pair = match &backbone {
                Some((_, features)) => features.as_ref().map(|(x, m)| (x, m)),
                None => extracted.val_mirrored_x.as_ref().map(|m| (&extracted.val_x, m)),
            };
            let mirror_accuracy = val_pair.map(|(val_x, m)| {
                let accuracy = training::calibrate_flip(&mut trained, val_x, m, &extracted.val_y);
                obs.note(&format!(
                    "val top-1 {:.2} % with each photo averaged with its mirror ({:.2} % without)",
                    accuracy * 100.0,
                    training::plain_accuracy(&trained, val_x, &extracted.val_y) * 100.0
                ));
                accuracy
            });
            let backbone = backbone.map(|(b, _)| b);
            let manifest = training::export_bundle(
                &base_dir_owned,
                &trained,
                backbone.as_ref(),
                test_time,
                labels,
                &name,
                &model_version,
                &out,
            )?;
            Ok((trained, mirror_accuracy, manifest))
        })
        .await
        .map_err(|e| ServiceError::Storage(e.to_string()))?
        .map_err(training_error)?;
    let model = super::models::register(db, &manifest, &bundle_dir, ModelSource::FineTune).await?;
    observer.note(&format!(
        "installed {} {} (inactive): val top-1 {:.2} %, temperature {:.2}",
        model.name,
        model.version,
        mirror_val_accuracy.unwrap_or(trained.best_val_accuracy) * 100.0,
        trained.temperature
    ));
    Ok(FineTuneResult {
        bundle_dir,
        model,
        best_val_accuracy: trained.best_val_accuracy,
        mirror_val_accuracy,
        temperature: trained.temperature,
        history: trained.history.clone(),
        feature_seconds,
        total_seconds: started.elapsed().as_secs_f64(),
    })
}

fn training_error(e: training::TrainingError) -> ServiceError {
    match e {
        training::TrainingError::Cancelled => ServiceError::Conflict("the fine-tune was cancelled".into()),
        other => ServiceError::InvalidInput(other.to_string()),
    }
}
