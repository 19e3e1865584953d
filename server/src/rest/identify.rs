//! `POST /api/v1/identify`: one or many photos as multipart form data → JSON answers.

use std::sync::Arc;

use app::state::AppState;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::Json;
use insectid::services::identify::{identify_and_record, Identified, UploadLimits};
use serde::Serialize;

use super::ApiError;

/// The whole request may carry `max_files` photos of `max_bytes` each, plus form overhead.
pub fn body_limit(limits: &UploadLimits) -> DefaultBodyLimit {
    DefaultBodyLimit::max(limits.max_files * limits.max_bytes + 64 * 1024)
}

#[derive(Debug, Serialize)]
pub struct IdentifyResponse {
    pub results: Vec<FileResult>,
}

#[derive(Debug, Serialize)]
pub struct FileResult {
    pub filename: String,
    #[serde(flatten)]
    pub identified: Identified,
}

struct Upload {
    filename: String,
    bytes: Arc<[u8]>,
}

const FILE_FIELDS: [&str; 3] = ["image", "images", "file"];

pub async fn identify(State(state): State<AppState>, mut multipart: Multipart) -> Result<Json<IdentifyResponse>, ApiError> {
    let limits = state.limits;
    let mut uploads: Vec<Upload> = Vec::new();
    let mut top_k = 5usize;
    while let Some(mut field) = multipart.next_field().await.map_err(ApiError::from_multipart)? {
        let name = field.name().unwrap_or_default().to_string();
        if name == "top_k" {
            let text = field.text().await.map_err(ApiError::from_multipart)?;
            top_k = text
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|k| (1..=20).contains(k))
                .ok_or_else(|| ApiError::BadRequest(format!("top_k must be a number from 1 to 20, not {text:?}")))?;
            continue;
        }
        if !FILE_FIELDS.contains(&name.as_str()) {
            return Err(ApiError::BadRequest(format!(
                "unexpected form field {name:?}; send photos in fields named \"image\" (and optionally \"top_k\")"
            )));
        }
        if uploads.len() == limits.max_files {
            return Err(ApiError::BadRequest(format!("too many files: at most {} photos per request", limits.max_files)));
        }
        let filename = field.file_name().map(str::to_string).unwrap_or_else(|| format!("file {}", uploads.len() + 1));
        if let Some(ct) = field.content_type() {
            if !(ct.starts_with("image/") || ct == "application/octet-stream") {
                return Err(ApiError::UnsupportedMediaType(format!(
                    "{filename}: content type {ct} is not an image (JPEG, PNG, WebP, GIF, BMP or TIFF)"
                )));
            }
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(ApiError::from_multipart)? {
            if bytes.len() + chunk.len() > limits.max_bytes {
                return Err(ApiError::PayloadTooLarge(format!(
                    "{filename}: larger than {} MB, the most one photo may be",
                    limits.max_bytes / (1024 * 1024)
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        uploads.push(Upload { filename, bytes: bytes.into() });
    }
    if uploads.is_empty() {
        return Err(ApiError::BadRequest("no photo in the request: send one or more files in a field named \"image\"".into()));
    }
    // All photos go to the engine at once, so they share forward passes.
    let runs = uploads.iter().map(|u| identify_and_record(&state.db, &state.engine, &state.photos, u.bytes.clone(), None, top_k));
    let outcomes = futures::future::join_all(runs).await;
    let mut results = Vec::with_capacity(outcomes.len());
    for (upload, outcome) in uploads.into_iter().zip(outcomes) {
        let identified = outcome.map_err(|e| ApiError::for_file(&upload.filename, e))?;
        results.push(FileResult { filename: upload.filename, identified });
    }
    Ok(Json(IdentifyResponse { results }))
}
