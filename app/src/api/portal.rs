//! Portal figures and the active model's status.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortalStats {
    pub identifications: u64,
    pub identifications_last_7_days: u64,
    pub distinct_photos: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ClassScore {
    pub label: String,
    pub probability: f32,
    /// The catalogue entry the label answers to, if any.
    pub species: Option<super::SpeciesSummary>,
}

#[cfg(feature = "ssr")]
impl ClassScore {
    pub fn new(label: &str, probability: f32) -> Self {
        ClassScore {
            label: label.to_string(),
            probability,
            species: insectid::catalogue::for_label(label).map(super::species::summary_of),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ModelStatus {
    pub name: String,
    pub version: String,
    pub architecture: String,
    pub description: String,
    pub classes: usize,
    pub arthropod_classes: usize,
    pub device: String,
    /// "fp32" or "int8".
    pub precision: String,
    pub input_size: u32,
    pub threads: usize,
    pub workers: usize,
    pub max_batch: usize,
    pub loaded_at: String,
    pub load_ms: f64,
    pub warmup_ms: f64,
    pub warmup_top: Vec<ClassScore>,
}

#[server(endpoint = "portal_stats")]
pub async fn get_portal_stats() -> Result<PortalStats, AppError> {
    let state = crate::state::app_state()?;
    match state.portal_stats.get(&state.db).await {
        Ok(s) => Ok(PortalStats {
            identifications: s.identifications,
            identifications_last_7_days: s.identifications_last_7_days,
            distinct_photos: s.distinct_photos,
        }),
        Err(e) => Err(e.into()),
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
        precision: s.precision.as_str().to_string(),
        input_size: s.input_size,
        threads: s.threads,
        workers: s.workers,
        max_batch: s.max_batch,
        loaded_at: s.loaded_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        load_ms: s.load_ms,
        warmup_ms: s.warmup_ms,
        warmup_top: s.warmup_top.iter().map(|t| ClassScore::new(&t.label, t.probability)).collect(),
    }
}
