//! Evaluating the active model on a class-folder dataset (`DIR/<class>/<photo>`): top-1 and
//! top-5 accuracy, per-class precision and recall, and a confusion matrix.
//!
//! A dataset class is matched to the model's labels by name, or else by taxon: a folder named
//! `Curculionidae` counts every label whose lineage holds that family, so a general model can
//! be scored on a dataset labelled at a higher rank.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use image::{Rgb, RgbImage};
use serde::{Deserialize, Serialize};

use super::identify::identify_photo;
use crate::inference::{InferenceEngine, InferenceError, Manifest};
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
    async fn read(&self, sample: &Sample) -> std::io::Result<Vec<u8>> {
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

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClassMetrics {
    pub name: String,
    /// Model labels that count as this class.
    pub matching_labels: usize,
    pub support: u32,
    pub correct: u32,
    pub precision: f64,
    pub recall: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CalibrationBin {
    pub count: u32,
    pub mean_confidence: f64,
    pub accuracy: f64,
}

/// Bins (confidence, correct) pairs and computes the expected calibration error (Guo et al.).
pub fn calibration(samples: &[(f32, bool)]) -> (Vec<CalibrationBin>, f64) {
    let mut bins = vec![(0u32, 0f64, 0u32); 10];
    for (confidence, correct) in samples {
        let b = ((confidence.clamp(0.0, 1.0) * 10.0) as usize).min(9);
        bins[b].0 += 1;
        bins[b].1 += *confidence as f64;
        bins[b].2 += *correct as u32;
    }
    let total = samples.len().max(1) as f64;
    let mut ece = 0.0;
    let out = bins
        .into_iter()
        .map(|(count, conf, right)| {
            if count == 0 {
                return CalibrationBin::default();
            }
            let (mean_confidence, accuracy) = (conf / count as f64, right as f64 / count as f64);
            ece += count as f64 / total * (mean_confidence - accuracy).abs();
            CalibrationBin { count, mean_confidence, accuracy }
        })
        .collect();
    (out, ece)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EvalReport {
    pub model_name: String,
    pub model_version: String,
    pub dataset: String,
    pub classes: Vec<String>,
    pub images: usize,
    /// Photos that could not be read, with the reason.
    pub failed: Vec<(String, String)>,
    pub top1: f64,
    pub top5: f64,
    pub per_class: Vec<ClassMetrics>,
    /// Rows: true class; columns: predicted class, the last one "other" (no dataset class).
    pub confusion: Vec<Vec<u32>>,
    /// Reliability: ten equal-width bins of top-1 confidence, each with its photo count, mean
    /// confidence and accuracy; and the expected calibration error over them.
    pub calibration: Vec<CalibrationBin>,
    pub expected_calibration_error: f64,
    pub seconds: f64,
    pub images_per_second: f64,
    /// Each photo's outcome, for comparing two models on the same photos.
    #[serde(default)]
    pub predictions: Vec<PhotoPrediction>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhotoPrediction {
    pub photo: String,
    pub truth: usize,
    /// A dataset class, or `classes.len()` for "other".
    pub predicted: usize,
    pub confidence: f32,
}

/// Runs every photo of the dataset through the engine, `concurrency` at a time so the
/// engine batches them. `on_progress(done, total)` is called as photos finish.
pub async fn evaluate(
    engine: &InferenceEngine,
    dataset: &Dataset,
    concurrency: usize,
    mut on_progress: impl FnMut(usize, usize),
) -> Result<EvalReport, ServiceError> {
    let started = Instant::now();
    let active = engine.active();
    let targets = class_targets(&active.manifest, &dataset.classes);
    let n = dataset.classes.len();
    let mut confusion = vec![vec![0u32; n + 1]; n];
    let (mut top1, mut top5, mut images) = (0u32, 0u32, 0usize);
    let mut failed = Vec::new();
    let mut confidences: Vec<(f32, bool)> = Vec::new();
    let mut predictions = Vec::new();
    let total = dataset.samples.len();
    let mut results = futures::stream::iter(dataset.samples.iter().cloned())
        .map(|(sample, class)| async move {
            let outcome = match dataset.read(&sample).await {
                Ok(bytes) => identify_retrying(engine, bytes.into()).await,
                Err(e) => Err(ServiceError::InvalidInput(format!("cannot read: {e}"))),
            };
            (sample, class, outcome)
        })
        .buffer_unordered(concurrency.max(1));
    let mut done = 0;
    while let Some((path, class, outcome)) = results.next().await {
        done += 1;
        on_progress(done, total);
        let identified = match outcome {
            Ok(i) => i,
            Err(e) if e.kind() == crate::error::ErrorKind::InvalidInput => {
                failed.push((path.to_string(), e.to_string()));
                continue;
            }
            Err(e) => return Err(e),
        };
        images += 1;
        let top: Vec<usize> = identified.answer.top.iter().map(|t| t.index).collect();
        let predicted = top.first().and_then(|best| targets.iter().position(|t| t.contains(best))).unwrap_or(n);
        confusion[class][predicted] += 1;
        if predicted == class {
            top1 += 1;
        }
        let confidence = identified.answer.top.first().map(|t| t.probability).unwrap_or(0.0);
        confidences.push((confidence, predicted == class));
        predictions.push(PhotoPrediction { photo: path.to_string(), truth: class, predicted, confidence });
        if top.iter().any(|i| targets[class].contains(i)) {
            top5 += 1;
        }
    }
    let per_class = (0..n)
        .map(|c| {
            let support: u32 = confusion[c].iter().sum();
            let predicted: u32 = confusion.iter().map(|row| row[c]).sum();
            let correct = confusion[c][c];
            ClassMetrics {
                name: dataset.classes[c].clone(),
                matching_labels: targets[c].len(),
                support,
                correct,
                precision: if predicted > 0 { correct as f64 / predicted as f64 } else { 0.0 },
                recall: if support > 0 { correct as f64 / support as f64 } else { 0.0 },
            }
        })
        .collect();
    let (calibration, expected_calibration_error) = calibration(&confidences);
    let seconds = started.elapsed().as_secs_f64();
    let ratio = |x: u32| if images > 0 { x as f64 / images as f64 } else { 0.0 };
    Ok(EvalReport {
        model_name: active.status.name.clone(),
        model_version: active.status.version.clone(),
        dataset: dataset.root.display().to_string(),
        classes: dataset.classes.clone(),
        images,
        failed,
        top1: ratio(top1),
        top5: ratio(top5),
        per_class,
        confusion,
        calibration,
        expected_calibration_error,
        seconds,
        images_per_second: images as f64 / seconds.max(1e-9),
        predictions,
    })
}

/// Evaluation owns its load: a full queue means "wait a little", not "fail the run".
async fn identify_retrying(
    engine: &InferenceEngine,
    bytes: Arc<[u8]>,
) -> Result<super::identify::Identified, ServiceError> {
    loop {
        match identify_photo(engine, bytes.clone(), 5).await {
            Err(ServiceError::Inference(InferenceError::Busy)) => tokio::time::sleep(Duration::from_millis(5)).await,
            other => return other,
        }
    }
}

/// The confusion matrix as a picture: one square per cell, white (none) to dark green (the
/// whole row), the diagonal outlined; the last column is "other".
pub fn render_confusion(report: &EvalReport) -> RgbImage {
    const CELL: u32 = 28;
    const PAD: u32 = 8;
    let rows = report.confusion.len() as u32;
    let cols = rows + 1;
    let mut img = RgbImage::from_pixel(PAD * 2 + cols * CELL, PAD * 2 + rows * CELL, Rgb([255, 255, 255]));
    for (r, row) in report.confusion.iter().enumerate() {
        let total: u32 = row.iter().sum::<u32>().max(1);
        for (c, &count) in row.iter().enumerate() {
            let f = count as f32 / total as f32;
            let shade = |full: u8| (255.0 - (255.0 - full as f32) * f).round() as u8;
            let colour = Rgb([shade(31), shade(110), shade(62)]);
            let (x0, y0) = (PAD + c as u32 * CELL, PAD + r as u32 * CELL);
            for y in y0..y0 + CELL {
                for x in x0..x0 + CELL {
                    let edge = x == x0 || y == y0 || x == x0 + CELL - 1 || y == y0 + CELL - 1;
                    let px = if edge && r == c {
                        Rgb([200, 40, 40])
                    } else if edge {
                        Rgb([225, 228, 224])
                    } else {
                        colour
                    };
                    img.put_pixel(x, y, px);
                }
            }
        }
    }
    img
}

/// The reliability diagram: per confidence bin, a bar of the accuracy reached (green) against
/// the diagonal a calibrated model would follow (grey line); empty bins are left blank.
pub fn render_reliability(report: &EvalReport) -> RgbImage {
    const W: u32 = 320;
    const H: u32 = 320;
    const PAD: u32 = 10;
    let mut img = RgbImage::from_pixel(W + 2 * PAD, H + 2 * PAD, Rgb([255, 255, 255]));
    let bar = W / 10;
    for (i, bin) in report.calibration.iter().enumerate() {
        if bin.count == 0 {
            continue;
        }
        let height = (bin.accuracy * H as f64).round() as u32;
        for x in PAD + i as u32 * bar + 2..PAD + (i as u32 + 1) * bar - 2 {
            for y in PAD + H - height..PAD + H {
                img.put_pixel(x, y, Rgb([47, 111, 62]));
            }
        }
    }
    for step in 0..W {
        let y = PAD + H - 1 - step * H / W;
        img.put_pixel(PAD + step, y, Rgb([150, 150, 150]));
    }
    img
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
    let (set, version) = super::datasets::find_version(db, spec).await?;
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

#[cfg(test)]
mod calibration_tests {
    #[test]
    fn expected_calibration_error_weighs_each_bin_by_its_share() {
        let (bins, ece) = super::calibration(&[(0.95, true), (0.95, false), (0.15, false), (0.15, false)]);
        assert_eq!((bins[9].count, bins[1].count), (2, 2));
        assert!((bins[9].accuracy - 0.5).abs() < 1e-9);
        // Half the photos at 0.95 confidence but 50 % right, half at 0.15 and 0 % right.
        assert!((ece - (0.5 * 0.45 + 0.5 * 0.15)).abs() < 1e-6, "{ece}");
        assert_eq!(super::calibration(&[]).1, 0.0);
    }
}
