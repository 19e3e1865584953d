//! `GET /jobs/{id}/export.zip`: a finished dataset export, for the person who asked for it (or
//! an administrator), streamed from disk (ranges and resumption included) instead of read into
//! memory.

use app::state::AppState;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;
use tower_http::services::ServeFile;

pub async fn download(
    State(state): State<AppState>,
    auth: axum_login::AuthSession<insectid::auth::Backend>,
    Path(id): Path<i64>,
    request: Request<Body>,
) -> Response {
    let found = insectid::services::dataset_export::download(&state.db, &state.jobs.dir, auth.user.as_ref(), id).await;
    let (path, file_name) = match found {
        Ok(found) => found,
        Err(e) => return refusal(e),
    };
    // The content type comes from the name (export.zip: application/zip).
    let mut response = match ServeFile::new(&path).oneshot(request).await {
        Ok(response) => response.into_response(),
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        response.headers_mut().insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

pub(crate) fn refusal(e: insectid::ServiceError) -> Response {
    let e = app::error::AppError::from(e);
    (StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), e.to_string()).into_response()
}
