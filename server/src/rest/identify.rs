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
use utoipa::ToSchema;

use super::ApiError;

#[derive(Debug, Serialize, ToSchema)]
pub struct IdentifyResponse {
    /// One per photo, in the order sent.
    pub results: Vec<FileResult>,
}

#[derive(Debug, Serialize, ToSchema)]
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

/// The form `POST /api/v1/identify` takes (documentation only: it is read as a stream).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct IdentifyForm {
    /// A photo (JPEG, PNG, WebP, GIF, BMP or TIFF); repeat the field for several.
    #[schema(value_type = String, format = Binary)]
    image: Vec<u8>,
    /// Classes listed per photo (1 to 20, default 5).
    top_k: Option<u32>,
    /// When the photos were taken ("2026-11-28" or "2026-11-28T09:30"), kept for their owner.
    taken_at: Option<String>,
    /// Where (decimal degrees), kept for their owner.
    latitude: Option<f64>,
    longitude: Option<f64>,
}

/// Identifies one or more photos and records the answers (for the signed-in caller, or
/// anonymously when the portal allows it).
#[utoipa::path(post, path = "/identify", tag = "identify",
    request_body(content = IdentifyForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "An answer per photo", body = IdentifyResponse),
        (status = 400, description = "Not a form, no photo, or a photo that cannot be read", body = super::ErrorBody),
        (status = 401, description = "This portal identifies only for signed-in people, or a token that is not valid", body = super::ErrorBody),
        (status = 403, description = "The token lacks the identify scope", body = super::ErrorBody),
        (status = 413, description = "Too many photos, bytes or pixels", body = super::ErrorBody),
        (status = 415, description = "A file that is no photo", body = super::ErrorBody),
        (status = 429, description = "Too many uploads from this address or with this token; see Retry-After", body = super::ErrorBody),
        (status = 503, description = "The model's queue is full; see Retry-After", body = super::ErrorBody),
        (status = 507, description = "The server's disk is too full to keep photos", body = super::ErrorBody)
    ),
    security(("token" = ["identify"]), ("session" = []), ())
)]
pub async fn identify(
    State(state): State<AppState>,
    caller: super::caller::Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<IdentifyResponse>, ApiError> {
    let user_id = caller.account_for(insectid::services::api_tokens::Scope::Identify)?.map(|a| a.id);
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
