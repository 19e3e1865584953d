//! Identifying photos: preprocessing off the async runtime, the batching engine, the honest
//! answer, and (for the portal) the stored photo and its identification row.

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use sea_orm::{ActiveModelTrait, DatabaseConnection, Set};
use serde::{Deserialize, Serialize};

use crate::entities::identification::{self, VerdictKind};
use crate::inference::decode_budget::DecodeBudget;
use crate::inference::{answer, preprocess, Answer, InferenceEngine, InferenceError};
use crate::storage::metadata::{read_context, PhotoContext};
use crate::storage::{sha256_hex, PhotoStore};
use crate::ServiceError;

/// Time spent in one stage of an identification, for `/metrics` (the benchmark reads the
/// breakdown from there): decode, inference (queue + forward), hash, store, database, ensure.
fn record_stage(stage: &'static str, since: Instant) -> Instant {
    let now = Instant::now();
    metrics::histogram!("insectid_identify_stage_seconds", "stage" => stage).record((now - since).as_secs_f64());
    now
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Timings {
    /// Decoding and preprocessing.
    pub preprocess_ms: f64,
    /// Waiting in the queue plus the (batched) forward pass.
    pub inference_ms: f64,
    pub total_ms: f64,
}

/// One photo's identification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Identified {
    /// The stored identification row, when recorded.
    pub id: Option<i64>,
    pub image_sha256: String,
    pub model_name: String,
    pub model_version: String,
    pub answer: Answer,
    pub summary: String,
    pub timings: Timings,
    pub batch_size: usize,
}

/// Identifies one photo without storing anything (the CLI and evaluation use this).
pub async fn identify_photo(
    engine: &InferenceEngine,
    bytes: Arc<[u8]>,
    top_k: usize,
) -> Result<Identified, ServiceError> {
    Ok(identify_embedded(engine, bytes, top_k).await?.0)
}

/// Identifies one photo; also gives its image embedding and that embedding's space when the
/// model has one.
async fn identify_embedded(
    engine: &InferenceEngine,
    bytes: Arc<[u8]>,
    top_k: usize,
) -> Result<(Identified, Option<(Vec<f32>, String)>), ServiceError> {
    let started = Instant::now();
    let p = engine.preprocessing();
    let size = preprocess::probe(&bytes, Some(p.resize_shorter))?;
    let permit = DecodeBudget::global().reserve(&size).await?;
    let decode_bytes = bytes.clone();
    // The permit goes with the work: a request dropped meanwhile does not free it early.
    let input = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        crate::inference::torch_threads::compute_on(1);
        preprocess::prepare(&decode_bytes, p)
    })
    .await
    .map_err(|e| InferenceError::Device(format!("preprocessing task failed: {e}")))??;
    let preprocessed = record_stage("decode", started);
    let classified = engine.classify(input).await?;
    let done = record_stage("inference", preprocessed);
    let image_sha256 = sha256_hex(&bytes);
    record_stage("hash", done);
    let answer = answer(&classified.model.manifest, &classified.probabilities, top_k.clamp(1, 20));
    let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1000.0;
    let identified = Identified {
        id: None,
        image_sha256,
        model_name: classified.model.status.name.clone(),
        model_version: classified.model.status.version.clone(),
        summary: answer.verdict.summary(),
        answer,
        timings: Timings {
            preprocess_ms: ms(started, preprocessed),
            inference_ms: ms(preprocessed, done),
            total_ms: ms(started, done),
        },
        batch_size: classified.batch_size,
    };
    Ok((identified, classified.embedding.zip(classified.model.embedding_space.clone())))
}

/// Who uploads a photo, and what their device said about when and where it was taken.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Uploader {
    pub user_id: Option<i64>,
    pub context: PhotoContext,
}

impl Uploader {
    pub fn anonymous() -> Uploader {
        Uploader::default()
    }

    pub fn user(id: i64) -> Uploader {
        Uploader { user_id: Some(id), context: PhotoContext::default() }
    }
}

/// Identifies a photo and records it: the file first (fsynced), then the row that refers to it.
pub async fn identify_and_record(
    db: &DatabaseConnection,
    engine: &InferenceEngine,
    store: &PhotoStore,
    bytes: Arc<[u8]>,
    uploader: &Uploader,
    top_k: usize,
) -> Result<Identified, ServiceError> {
    let user_id = uploader.user_id;
    let (mut identified, embedding) = match identify_embedded(engine, bytes.clone(), top_k).await {
        Ok(i) => i,
        Err(e) => {
            metrics::counter!("insectid_identifications_total", "outcome" => format!("{:?}", e.kind()).to_lowercase())
                .increment(1);
            return Err(e);
        }
    };
    let storing = Instant::now();
    let stored_sha =
        store.put(&bytes).await.map_err(|e| ServiceError::Storage(format!("cannot store the photo: {e}")))?;
    debug_assert_eq!(stored_sha, identified.image_sha256);
    let recording = record_stage("store", storing);
    let top = identified.answer.top.first();
    // The date and place only for a signed-in owner, who alone sees them; an anonymous
    // result's link may reach anyone.
    let (context, context_source) = match user_id {
        Some(_) => super::observation::merge(read_context(&bytes), uploader.context.clone()),
        None => Default::default(),
    };
    let row = identification::ActiveModel {
        created_at: Set(Utc::now()),
        user_id: Set(user_id),
        image_sha256: Set(stored_sha),
        model_name: Set(identified.model_name.clone()),
        model_version: Set(identified.model_version.clone()),
        top_label: Set(top.map(|t| t.label.clone()).unwrap_or_default()),
        top_probability: Set(top.map(|t| f64::from(t.probability)).unwrap_or(0.0)),
        answer: Set(serde_json::to_string(&identified).map_err(|e| ServiceError::Storage(e.to_string()))?),
        label_decided: Set(super::labels::is_decided(db, &identified.image_sha256).await?),
        taken_at: Set(context.taken_at),
        latitude: Set(context.latitude),
        longitude: Set(context.longitude),
        verdict: Set(VerdictKind::of(&identified.answer.verdict)),
        context_source: Set(context_source),
        ..Default::default()
    }
    .insert(db)
    .await?;
    if let Some((embedding, space)) = embedding {
        // The answer stands without it: the photo is only missing from text search.
        if let Err(e) = super::photo_search::record(db, &row, &embedding, &space).await {
            tracing::warn!(error = %e, identification = row.id, "cannot keep the photo's embedding");
        }
    }
    let ensuring = record_stage("database", recording);
    // A delete of the same photo may have removed it between our store and our commit.
    store.ensure(&bytes).await.map_err(|e| ServiceError::Storage(format!("cannot store the photo: {e}")))?;
    record_stage("ensure", ensuring);
    identified.id = Some(row.id);
    metrics::counter!("insectid_identifications_total", "outcome" => "ok").increment(1);
    Ok(identified)
}

/// What one upload may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadLimits {
    pub max_bytes: usize,
    pub max_files: usize,
}

impl Default for UploadLimits {
    fn default() -> Self {
        UploadLimits { max_bytes: 20 * 1024 * 1024, max_files: 16 }
    }
}

/// Pixels all photos of one request may decode to together: sixteen 16-megapixel PNGs. JPEGs
/// count at the reduced scale they are decoded at, so phone photos take little of it.
pub const REQUEST_PIXEL_BUDGET: u64 = 256_000_000;

/// Refuses a request whose photos would decode to more pixels together than
/// [`REQUEST_PIXEL_BUDGET`], reading only their headers (an unreadable photo is left for
/// its own identification to refuse).
pub fn check_request_pixels(engine: &InferenceEngine, photos: &[Arc<[u8]>]) -> Result<(), ServiceError> {
    let target = Some(engine.preprocessing().resize_shorter);
    let pixels: u64 = photos.iter().filter_map(|b| preprocess::probe(b, target).ok()).map(|s| s.decoded_pixels).sum();
    if pixels > REQUEST_PIXEL_BUDGET {
        return Err(ServiceError::TooLarge(format!(
            "these photos decode to {} megapixels together; one request may take at most {} (send fewer or smaller photos)",
            pixels / 1_000_000,
            REQUEST_PIXEL_BUDGET / 1_000_000
        )));
    }
    Ok(())
}

/// Identifies and records several photos at once, so they share forward passes; one result per
/// photo, in order. A request over the pixel budget gets the same refusal for every photo.
pub async fn identify_and_record_all(
    db: &DatabaseConnection,
    engine: &InferenceEngine,
    store: &PhotoStore,
    photos: impl IntoIterator<Item = Arc<[u8]>>,
    uploader: &Uploader,
    top_k: usize,
) -> Vec<Result<Identified, ServiceError>> {
    let photos: Vec<Arc<[u8]>> = photos.into_iter().collect();
    if let Err(e) = check_request_pixels(engine, &photos) {
        return photos.iter().map(|_| Err(ServiceError::TooLarge(e.to_string()))).collect();
    }
    let runs = photos.into_iter().map(|bytes| identify_and_record(db, engine, store, bytes, uploader, top_k));
    futures::future::join_all(runs).await
}
