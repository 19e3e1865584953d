//! Fine-tuning a dataset version into a new model version: features of the train and val
//! splits from the base bundle's backbone (train photos also mirrored), a head trained with
//! early stopping and temperature scaling, exported as a bundle and installed in the registry.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use tch::{CModule, Device, Tensor};

use crate::catalogue;
use crate::entities::dataset_item;
use crate::entities::model_version::{self, ModelSource};
use crate::inference::{Label, Manifest, Taxon, TestTime};
use crate::storage::PhotoStore;
use crate::training::{self, Epoch, HeadConfig};
use crate::ServiceError;

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
    /// (random resized crop, flip, colour jitter). 0 means 2.
    pub views: usize,
    /// Where backbone features are cached; a resumed job finds them there and skips the costly
    /// part.
    pub cache_dir: Option<PathBuf>,
    /// Backbone blocks trained with the head after it (None: 2 with a GPU, none without —
    /// on a CPU it costs a full forward and backward pass per photo and epoch).
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
    fn note(&self, _line: &str) {}
}

/// Reports nothing.
pub struct Quiet;
impl FineTuneObserver for Quiet {}

struct Features {
    train_x: Tensor,
    train_y: Tensor,
    val_x: Tensor,
    /// The val photos' mirror images, when the bundle will average them in.
    val_mirrored_x: Option<Tensor>,
    val_y: Tensor,
}

/// Features of one view of one split, cached per view: a resumed job recomputes only the views
/// it had not finished.
fn cached(
    cache: Option<&Path>,
    name: &str,
    rows: usize,
    compute: impl FnOnce() -> Result<Tensor, training::TrainingError>,
) -> Result<(Tensor, bool), training::TrainingError> {
    let file = cache.map(|c| c.join(format!("{name}.safetensors")));
    if let Some(f) = &file {
        if let Ok(found) = Tensor::read_safetensors(f) {
            if let Some((_, t)) = found.into_iter().find(|(k, t)| k == "x" && t.size().first() == Some(&(rows as i64)))
            {
                return Ok((t, true));
            }
        }
    }
    let t = compute()?;
    if let Some(f) = &file {
        let io = |e: std::io::Error| training::TrainingError::Input(format!("feature cache: {e}"));
        std::fs::create_dir_all(f.parent().unwrap_or(Path::new("."))).map_err(io)?;
        let tmp = f.with_extension("tmp");
        Tensor::write_safetensors(&[("x", &t)], &tmp)?;
        std::fs::rename(&tmp, f).map_err(io)?;
    }
    Ok((t, false))
}

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
    let views = if options.views == 0 { 2 } else { options.views.min(16) };
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
    let photos_for_unfreezing = (train.clone(), val.clone(), train_y.clone(), val_y.clone());
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
    let dir = base_dir.to_path_buf();
    let (cache, obs, stop) = (options.cache_dir.clone(), observer.clone(), cancel.clone());
    let test_time = options.test_time;
    let unfreeze_blocks = options.unfreeze_blocks.unwrap_or(if tch::Cuda::is_available() { 2 } else { 0 });
    // Mirrored val features of the base backbone serve only a head on that backbone.
    let mirror_base = test_time == TestTime::Flip && unfreeze_blocks == 0;
    let val_views = if mirror_base { 2 } else { 1 };
    let extracted = tokio::task::spawn_blocking(move || -> Result<Features, training::TrainingError> {
        crate::inference::torch_threads::compute_on(crate::inference::torch_threads::all_cores());
        // The backbone pass is the costly part: on the GPU when there is one.
        let device = Device::cuda_if_available();
        obs.note(&format!("extracting backbone features on {}", crate::inference::device_name(device)));
        let features = CModule::load_on_device(dir.join(&features_file), device)?;
        let total = (train.len() * views + val.len() * val_views).max(1);
        let mut parts = Vec::new();
        let mut ys = Vec::new();
        let y = Tensor::from_slice(&train_y);
        for (n, view) in training::augment::views(views).into_iter().enumerate() {
            let offset = n * train.len();
            let (x, from_cache) = cached(cache.as_deref(), &format!("train-view-{n}"), train.len(), || {
                training::extract_features(&features, device, prep, &train, view, &stop, |d| {
                    obs.features(offset + d, total)
                })
            })?;
            if from_cache {
                obs.note(&format!("view {} of {views} from the cache", n + 1));
                obs.features(offset + train.len(), total);
            }
            parts.push(x);
            ys.push(y.shallow_clone());
        }
        let offset = views * train.len();
        let (val_x, _) = cached(cache.as_deref(), "val", val.len(), || {
            training::extract_features(&features, device, prep, &val, training::augment::View::Plain, &stop, |d| {
                obs.features(offset + d, total)
            })
        })?;
        let val_mirrored_x = if mirror_base {
            let offset = offset + val.len();
            let mirrored = training::augment::View::InputMirrored;
            let (x, _) = cached(cache.as_deref(), "val-mirrored", val.len(), || {
                training::extract_features(&features, device, prep, &val, mirrored, &stop, |d| {
                    obs.features(offset + d, total)
                })
            })?;
            Some(x)
        } else {
            None
        };
        Ok(Features {
            train_x: Tensor::cat(&parts, 0),
            train_y: Tensor::cat(&ys, 0),
            val_x,
            val_mirrored_x,
            val_y: Tensor::from_slice(&val_y),
        })
    })
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

    let unfreeze_epochs = options.unfreeze_epochs;
    let features_path = base_dir.join(base.files.features.as_deref().unwrap_or("features.pt"));
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
            let backbone = if unfreeze_blocks > 0 {
                let device = Device::cuda_if_available();
                obs.note(&format!(
                    "head trained (val top-1 {:.2} %); now the last {unfreeze_blocks} backbone blocks with it, on {}",
                    trained.best_val_accuracy * 100.0,
                    crate::inference::device_name(device)
                ));
                let (train, val, train_y, val_y) = photos_for_unfreezing;
                let inputs = |photos: &[Vec<u8>]| -> Result<Tensor, training::TrainingError> {
                    let size = prep.input_size as i64;
                    let mut all = Vec::with_capacity(photos.len() * (3 * size * size) as usize);
                    for bytes in photos {
                        let image = crate::inference::preprocess::decode(bytes, Some(prep.resize_shorter))
                            .map_err(|e| training::TrainingError::Input(e.to_string()))?;
                        all.extend(
                            crate::inference::preprocess::model_input(&image, prep)
                                .map_err(|e| training::TrainingError::Input(e.to_string()))?,
                        );
                    }
                    Ok(Tensor::from_slice(&all).view([photos.len() as i64, 3, size, size]))
                };
                let defaults = training::unfreeze::UnfreezeConfig::default();
                let max_epochs = if unfreeze_epochs == 0 { defaults.max_epochs } else { unfreeze_epochs };
                let unfreeze = training::unfreeze::UnfreezeConfig { blocks: unfreeze_blocks, max_epochs, ..defaults };
                let val_inputs = inputs(&val)?;
                let backbone = training::unfreeze::train_backbone(
                    &features_path,
                    device,
                    &mut trained,
                    &inputs(&train)?,
                    &Tensor::from_slice(&train_y),
                    &val_inputs,
                    &Tensor::from_slice(&val_y),
                    unfreeze,
                    &stop,
                    |e| obs.epoch(e),
                )?;
                // The trained backbone's own features of the val photos and their mirrors.
                let mirrored = if test_time == TestTime::Flip {
                    let features = |x: &Tensor| training::unfreeze::features_of(&backbone, device, x);
                    Some((features(&val_inputs)?, features(&val_inputs.flip([3]))?))
                } else {
                    None
                };
                Some((backbone, mirrored))
            } else {
                None
            };
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
