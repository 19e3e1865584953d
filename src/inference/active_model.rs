//! The model answering: what it is (manifest, status, class vectors, text encoder) and how a
//! bundle becomes it: loaded, put on its device, proved on a start-up image, its batch limit
//! measured.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use image::{DynamicImage, RgbImage};

use super::batch_tuning::measure_best_batch;
use super::engine::EngineConfig;
use super::forward_pool::{on_worker_threads, Parallelism};
use super::image_text::{embedding_space, TextEncoder};
use super::preprocess;
use super::{device_name, InferenceError, Manifest, ModelBundle, TopClass};

/// What the model status page shows: which model answers, where it runs, and proof it works.
#[derive(Debug, Clone)]
pub struct ModelStatus {
    pub name: String,
    pub version: String,
    pub architecture: String,
    pub description: String,
    pub classes: usize,
    pub arthropod_classes: usize,
    pub device: String,
    pub precision: super::Precision,
    pub input_size: u32,
    /// Intra-op threads per forward pass.
    pub threads: usize,
    /// Forward passes at once.
    pub workers: usize,
    pub max_batch: usize,
    pub loaded_at: DateTime<Utc>,
    pub load_ms: f64,
    /// Preprocessing plus forward pass of the start-up image.
    pub warmup_ms: f64,
    pub warmup_top: Vec<TopClass>,
}

/// The model answering right now: its manifest (labels, thresholds) and status.
#[derive(Debug)]
pub struct ActiveModel {
    pub manifest: Manifest,
    pub status: ModelStatus,
    /// None when the model does not expose its classifier weights.
    pub class_vectors: Option<super::ClassVectors>,
    /// The text encoder of an image–text model, for text search queries (only it: a status
    /// held long after a switch must not keep the old model's image tower alive).
    text_encoder: Option<Arc<TextEncoder>>,
    /// The space of an image–text model's photo embeddings (see [`embedding_space`]).
    pub embedding_space: Option<String>,
}

impl ActiveModel {
    /// Unit embeddings of texts in the space of this model's photo embeddings; None when the
    /// model does not embed text. Blocking (a forward pass of the text encoder).
    pub fn embed_texts(&self, texts: &[&str]) -> Option<Result<Vec<Vec<f32>>, InferenceError>> {
        self.text_encoder.as_ref().map(|encoder| super::bundle::embedding_rows(encoder, texts))
    }

    /// Up to `k` arthropod classes the model finds most like the class `label`, with their
    /// cosine similarity; empty for an unknown label or a model without class vectors.
    pub fn similar_classes(&self, label: &str, k: usize) -> Vec<(String, f32)> {
        let (Some(vectors), Some(index)) =
            (&self.class_vectors, self.manifest.labels.iter().position(|l| l.name == label))
        else {
            return Vec::new();
        };
        let labels = &self.manifest.labels;
        let arthropod = |i: usize| labels.get(i).is_some_and(|l| l.taxon.is_some());
        vectors
            .most_similar(index, k, arthropod)
            .into_iter()
            .filter_map(|(i, s)| labels.get(i).map(|l| (l.name.clone(), s)))
            .collect()
    }
}

pub(super) fn load_and_warm_up(
    dir: &Path,
    config: &EngineConfig,
) -> Result<(Arc<ModelBundle>, ActiveModel), InferenceError> {
    let device = config.device.resolve()?;
    let started = Instant::now();
    let mut bundle = ModelBundle::load(dir, device)?;
    // int8 bundles run on the CPU in int8 whatever is configured; half is for fp32 ones.
    if config.half && bundle.manifest.precision == super::Precision::Fp32 {
        bundle.to_half()?;
    }
    let load_ms = started.elapsed().as_secs_f64() * 1000.0;
    let parallelism = Parallelism::for_device(config, bundle.device);
    // Both on one thread computing as a worker will.
    let (warmup_ms, warmup_top, max_batch) =
        on_worker_threads(parallelism.threads, || -> Result<_, InferenceError> {
            let (ms, top, input) = warm_up(&bundle)?;
            let max_batch = match (config.max_batch, bundle.device) {
                (0, tch::Device::Cpu) => measure_best_batch(&bundle, &input)?,
                (0, _) => super::engine::GPU_BATCH_LIMIT,
                (n, _) => n,
            };
            Ok((ms, top, max_batch))
        })?;
    let m = &bundle.manifest;
    let status = ModelStatus {
        name: m.name.clone(),
        version: m.version.clone(),
        architecture: m.architecture.clone(),
        description: m.description.clone(),
        classes: m.labels.len(),
        arthropod_classes: m.arthropod_classes(),
        device: device_name(bundle.device),
        precision: m.precision,
        input_size: m.input_size,
        threads: parallelism.threads,
        workers: parallelism.workers,
        max_batch,
        loaded_at: Utc::now(),
        load_ms,
        warmup_ms,
        warmup_top,
    };
    let manifest = bundle.manifest.clone();
    let class_vectors = bundle.class_vectors();
    let text_encoder = bundle.text_encoder();
    let embedding_space = bundle.embeds_text().then(|| embedding_space(&manifest));
    Ok((Arc::new(bundle), ActiveModel { manifest, status, class_vectors, text_encoder, embedding_space }))
}

/// A deterministic synthetic photo (a coloured gradient), so start-up needs no file.
fn warmup_image() -> DynamicImage {
    DynamicImage::ImageRgb8(RgbImage::from_fn(640, 480, |x, y| {
        image::Rgb([(x * 255 / 639) as u8, (y * 255 / 479) as u8, ((x + y) % 256) as u8])
    }))
}

/// Time and top classes of the start-up image's identification, and its model input.
fn warm_up(bundle: &ModelBundle) -> Result<(f64, Vec<TopClass>, Vec<f32>), InferenceError> {
    let image = warmup_image();
    let started = Instant::now();
    let input = preprocess::model_input(&image, bundle.preprocessing())?;
    let rows = bundle.probabilities(&[&input])?;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let top = rows.first().map(|r| bundle.top_k(r, 3)).unwrap_or_default();
    Ok((ms, top, input))
}
