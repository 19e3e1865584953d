//! Identifying photos from the pages.

use leptos::prelude::*;
use leptos::server_fn::codec::{MultipartData, MultipartFormData};
use serde::{Deserialize, Serialize};

use super::ResultView;
use crate::error::AppError;

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
pub async fn identify_photos(data: MultipartData) -> Result<Vec<ResultView>, AppError> {
    use insectid::services::identify::{identify_and_record_all, Uploader};
    let crate::state::Caller { state, actor, .. } = crate::state::caller().await?;
    let user_id = actor.as_ref().map(|a| a.id);
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
    let uploader = Uploader { user_id, context: form.context };
    let outcomes =
        identify_and_record_all(&state.db, &state.engine, &state.photos, photos, &uploader, form.top_k).await;
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
        // The answer as the result page shows it, read back the way that page reads it.
        let (id, key) = (identified.id.unwrap_or_default(), identified.image_sha256);
        let view = insectid::services::history::get(&state.db, actor.as_ref(), id, Some(&key)).await;
        answers.push(super::history::result_view(crate::state::answer(view)?));
    }
    // A plain form post (the upload page) goes on to the result, or to the history for several.
    if let [only] = answers.as_slice() {
        let key = if user_id.is_none() { format!("?key={}", only.image_sha256) } else { String::new() };
        leptos_axum::redirect(&format!("/results/{}{key}", only.id));
    } else if user_id.is_some() {
        leptos_axum::redirect("/history");
    }
    Ok(answers)
}
