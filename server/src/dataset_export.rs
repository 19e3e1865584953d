//! `GET /jobs/{id}/export.zip`: a finished dataset export, for the person who asked for it (or
//! an administrator), streamed from disk (ranges and resumption included) instead of read into
//! memory.

use app::state::AppState;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;
use tower_http::services::ServeFile;

use crate::http_error::HttpError;

pub async fn download(
    State(state): State<AppState>,
    auth: axum_login::AuthSession<insectid::auth::Backend>,
    Path(id): Path<i64>,
    request: Request<Body>,
) -> Result<Response, HttpError> {
    let found = insectid::services::dataset_export::download(&state.db, &state.jobs.dir, auth.user.as_ref(), id);
    let (path, file_name) = found.await?;
    // The content type comes from the name (export.zip: application/zip).
    let mut response = match ServeFile::new(&path).oneshot(request).await {
        Ok(response) => response.into_response(),
        Err(e) => return Err(HttpError::internal(format!("{}: {e}", path.display()))),
    };
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        response.headers_mut().insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}
