//! Identifying photos from the pages.

use leptos::prelude::*;
use leptos::server_fn::codec::{MultipartData, MultipartFormData};
use serde::{Deserialize, Serialize};

use super::ClassScore;
use crate::error::AppError;

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

/// What one upload may hold, as the upload page states it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct UploadRules {
    pub max_files: usize,
    pub max_file_mb: usize,
    pub anonymous_allowed: bool,
    pub signed_in: bool,
}

#[server(endpoint = "upload_rules")]
pub async fn get_upload_rules() -> Result<UploadRules, AppError> {
    let state = crate::state::app_state()?;
    let signed_in = crate::state::current_account().await?.is_some();
    Ok(UploadRules {
        max_files: state.limits.max_files,
        max_file_mb: state.limits.max_bytes / (1024 * 1024),
        anonymous_allowed: state.anonymous_identification,
        signed_in,
    })
}

/// Identifies the photos of a multipart form (fields named `image`) and records them.
#[server(endpoint = "identify_photos", input = MultipartFormData)]
pub async fn identify_photos(data: MultipartData) -> Result<Vec<PhotoAnswer>, AppError> {
    use insectid::services::identify::identify_and_record_all;
    let crate::state::Caller { state, actor, .. } = crate::state::caller().await?;
    let user_id = actor.map(|a| a.id);
    if user_id.is_none() && !state.anonymous_identification {
        return Err(AppError::Unauthorized("sign in to identify photos".into()));
    }
    crate::state::answer(state.disk.check())?;
    let Some(multipart) = data.into_inner() else {
        return Err(AppError::InvalidInput("the upload arrived without a body".into()));
    };
    let form = match crate::upload::collect_uploads(multipart, state.limits).await {
        Ok(f) => f,
        Err(e) => return Err(e.into()),
    };
    let photos = form.files.iter().map(|u| u.bytes.clone());
    let outcomes = identify_and_record_all(&state.db, &state.engine, &state.photos, photos, user_id, form.top_k).await;
    let mut answers = Vec::with_capacity(outcomes.len());
    for (upload, outcome) in form.files.into_iter().zip(outcomes) {
        let identified = match outcome {
            Ok(i) => {
                insectid::services::shadow::observe(&state.db, &state.shadow, &i, upload.bytes.clone());
                i
            }
            Err(e) => {
                let error = match AppError::from(e) {
                    AppError::InvalidInput(m) => AppError::InvalidInput(format!("{}: {m}", upload.filename)),
                    other => other,
                };
                return Err(error);
            }
        };
        answers.push(PhotoAnswer {
            filename: upload.filename,
            identification_id: identified.id,
            image_sha256: identified.image_sha256,
            summary: identified.summary,
            verdict: verdict_kind(&identified.answer.verdict).to_string(),
            top: identified.answer.top.iter().map(|t| ClassScore::new(&t.label, t.probability)).collect(),
            model_name: identified.model_name,
            model_version: identified.model_version,
            total_ms: identified.timings.total_ms,
        });
    }
    // A plain form post (the upload page) goes on to the result, or to the history for several.
    if let [only] = answers.as_slice() {
        if let Some(id) = only.identification_id {
            let key = if user_id.is_none() { format!("?key={}", only.image_sha256) } else { String::new() };
            leptos_axum::redirect(&format!("/results/{id}{key}"));
        }
    } else if user_id.is_some() {
        leptos_axum::redirect("/history");
    }
    Ok(answers)
}

#[cfg(feature = "ssr")]
pub(crate) fn verdict_kind(v: &insectid::inference::Verdict) -> &'static str {
    use insectid::inference::Verdict;
    match v {
        Verdict::Confident { .. } => "confident",
        Verdict::RolledUp { .. } => "rolled_up",
        Verdict::Uncertain { .. } => "uncertain",
        Verdict::NoInsect { .. } => "no_insect",
    }
}
