//! `POST /api/v1/identify`: one or many photos as multipart form data → JSON answers.

use app::state::AppState;
use app::upload::{collect_uploads, constraints, UploadError};
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::Json;
use insectid::error::ErrorKind;
use insectid::services::identify::{identify_and_record_all, Identified, Uploader};
use serde::Serialize;

use super::ApiError;

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

impl From<UploadError> for ApiError {
    fn from(e: UploadError) -> Self {
        ApiError::new(e.kind(), e.to_string())
    }
}

pub async fn identify(
    State(state): State<AppState>,
    auth: axum_login::AuthSession<insectid::auth::Backend>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<IdentifyResponse>, ApiError> {
    let user_id = auth.user.as_ref().map(|a| a.id);
    if user_id.is_none() && !state.anonymous_identification {
        return Err(ApiError::new(ErrorKind::Unauthorized, "sign in to identify photos"));
    }
    state.disk.check()?;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let boundary = multer::parse_boundary(content_type).map_err(|_| {
        ApiError::new(
            ErrorKind::InvalidInput,
            "expected a multipart/form-data body with photos in fields named \"image\"",
        )
    })?;
    let multipart = multer::Multipart::with_constraints(body.into_data_stream(), boundary, constraints(&state.limits));
    let form = collect_uploads(multipart, state.limits).await?;
    let photos = form.files.iter().map(|u| u.bytes.clone());
    let uploader = Uploader { user_id, context: form.context };
    let outcomes =
        identify_and_record_all(&state.db, &state.engine, &state.photos, photos, &uploader, form.top_k).await;
    let mut results = Vec::with_capacity(outcomes.len());
    for (upload, outcome) in form.files.into_iter().zip(outcomes) {
        let identified = outcome.map_err(|e| ApiError::for_file(&upload.filename, e))?;
        insectid::services::shadow::observe(&state.db, &state.shadow, &identified, upload.bytes.clone());
        results.push(FileResult { filename: upload.filename, identified });
    }
    Ok(Json(IdentifyResponse { results }))
}
