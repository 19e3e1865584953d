//! Evaluating the active model on a class-folder dataset (`DIR/<class>/<photo>`): top-1 and
//! top-5 accuracy, per-class precision and recall, and a confusion matrix.
//!
//! A dataset class is matched to the model's labels by name, or else by taxon: a folder named
//! `Curculionidae` counts every label whose lineage holds that family, so a general model can
//! be scored on a dataset labelled at a higher rank.

mod charts;
mod dataset;
pub mod headlines;
mod metrics;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde::{Deserialize, Serialize};

pub use charts::{render_confusion, render_reliability};
pub use dataset::{class_targets, from_dataset_version, scan_class_folders, Dataset, Sample};
pub use metrics::{calibration, interval_text, ratio_interval, wilson_interval, CalibrationBin, ClassMetrics};

use super::identify::identify_photo;
use crate::inference::{InferenceEngine, InferenceError};
use crate::ServiceError;

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
    /// How often each kind of headline was right (older reports have none).
    #[serde(default)]
    pub headlines: Vec<headlines::HeadlineRate>,
}

impl EvalReport {
    /// The 95 % interval of top-1 on these photos.
    pub fn top1_interval(&self) -> (f64, f64) {
        ratio_interval(self.top1, self.images)
    }
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
    let mut tally = headlines::HeadlineTally::default();
    let truths: Vec<_> = dataset.classes.iter().map(|c| headlines::truth_lineage(&active.manifest, c)).collect();
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
        let right = headlines::is_right(&identified.answer, &dataset.classes[class], &targets[class], &truths[class]);
        tally.add(headlines::HeadlineKind::of(&identified.answer.verdict), right);
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
        headlines: tally.rates(),
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
