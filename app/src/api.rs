//! Server functions: each takes the request's inputs, calls one service, returns plain data.
//! Every one has a fixed endpoint so URLs stay stable across builds.

use leptos::prelude::*;
use leptos::server_fn::codec::{MultipartData, MultipartFormData};
use serde::{Deserialize, Serialize};

use crate::error::AppError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortalStats {
    pub identifications: u64,
    pub identifications_last_7_days: u64,
    pub distinct_photos: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassScore {
    pub label: String,
    pub probability: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelStatus {
    pub name: String,
    pub version: String,
    pub architecture: String,
    pub description: String,
    pub classes: usize,
    pub arthropod_classes: usize,
    pub device: String,
    pub input_size: u32,
    pub threads: usize,
    pub max_batch: usize,
    pub loaded_at: String,
    pub load_ms: f64,
    pub warmup_ms: f64,
    pub warmup_top: Vec<ClassScore>,
}

#[server(endpoint = "portal_stats")]
pub async fn get_portal_stats() -> Result<PortalStats, AppError> {
    let state = crate::state::app_state()?;
    match insectid::services::stats::portal_stats(&state.db).await {
        Ok(s) => Ok(PortalStats {
            identifications: s.identifications,
            identifications_last_7_days: s.identifications_last_7_days,
            distinct_photos: s.distinct_photos,
        }),
        Err(e) => crate::state::fail(e.into()),
    }
}

#[server(endpoint = "model_status")]
pub async fn get_model_status() -> Result<ModelStatus, AppError> {
    let state = crate::state::app_state()?;
    Ok(model_status_of(&state.engine.active().status))
}

#[cfg(feature = "ssr")]
pub fn model_status_of(s: &insectid::inference::ModelStatus) -> ModelStatus {
    ModelStatus {
        name: s.name.clone(),
        version: s.version.clone(),
        architecture: s.architecture.clone(),
        description: s.description.clone(),
        classes: s.classes,
        arthropod_classes: s.arthropod_classes,
        device: s.device.clone(),
        input_size: s.input_size,
        threads: s.threads,
        max_batch: s.max_batch,
        loaded_at: s.loaded_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        load_ms: s.load_ms,
        warmup_ms: s.warmup_ms,
        warmup_top: s
            .warmup_top
            .iter()
            .map(|t| ClassScore { label: t.label.clone(), probability: t.probability })
            .collect(),
    }
}

/// One photo's answer as the pages show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhotoAnswer {
    pub filename: String,
    pub identification_id: Option<i64>,
    pub image_sha256: String,
    pub summary: String,
    /// confident, rolled_up, uncertain or no_insect.
    pub verdict: String,
    pub top: Vec<ClassScore>,
    pub model_name: String,
    pub model_version: String,
    pub total_ms: f64,
}

/// Identifies the photos of a multipart form (fields named `image`) and records them.
#[server(endpoint = "identify_photos", input = MultipartFormData)]
pub async fn identify_photos(data: MultipartData) -> Result<Vec<PhotoAnswer>, AppError> {
    use insectid::services::identify::identify_and_record_all;
    let state = crate::state::app_state()?;
    let Some(multipart) = data.into_inner() else {
        return crate::state::fail(AppError::InvalidInput("the upload arrived without a body".into()));
    };
    let form = match crate::upload::collect_uploads(multipart, state.limits).await {
        Ok(f) => f,
        Err(e) => return crate::state::fail(e.into()),
    };
    let photos = form.files.iter().map(|u| u.bytes.clone());
    let outcomes = identify_and_record_all(&state.db, &state.engine, &state.photos, photos, None, form.top_k).await;
    let mut answers = Vec::with_capacity(outcomes.len());
    for (upload, outcome) in form.files.into_iter().zip(outcomes) {
        let identified = match outcome {
            Ok(i) => i,
            Err(e) => {
                let error = match AppError::from(e) {
                    AppError::InvalidInput(m) => AppError::InvalidInput(format!("{}: {m}", upload.filename)),
                    other => other,
                };
                return crate::state::fail(error);
            }
        };
        answers.push(PhotoAnswer {
            filename: upload.filename,
            identification_id: identified.id,
            image_sha256: identified.image_sha256,
            summary: identified.summary,
            verdict: verdict_kind(&identified.answer.verdict).to_string(),
            top: identified
                .answer
                .top
                .iter()
                .map(|t| ClassScore { label: t.label.clone(), probability: t.probability })
                .collect(),
            model_name: identified.model_name,
            model_version: identified.model_version,
            total_ms: identified.timings.total_ms,
        });
    }
    Ok(answers)
}

#[cfg(feature = "ssr")]
fn verdict_kind(v: &insectid::inference::Verdict) -> &'static str {
    use insectid::inference::Verdict;
    match v {
        Verdict::Confident { .. } => "confident",
        Verdict::RolledUp { .. } => "rolled_up",
        Verdict::Uncertain { .. } => "uncertain",
        Verdict::NoInsect { .. } => "no_insect",
    }
}
