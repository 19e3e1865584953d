//! `GET /jobs/{id}/files/{name}`: the pictures and report a job wrote, for administrators.
//! Only the names in [`insectid::jobs::reports::SERVED_FILES`] are ever served.

use app::state::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use insectid::auth::Role;
use insectid::error::ErrorKind;

use crate::http_error::HttpError;

pub async fn job_file(
    State(state): State<AppState>,
    auth: axum_login::AuthSession<insectid::auth::Backend>,
    Path((id, name)): Path<(i64, String)>,
) -> Result<Response, HttpError> {
    insectid::services::users::require(auth.user.as_ref(), Role::Admin)?;
    let Some(path) = insectid::jobs::reports::file(&state.jobs.dir, id, &name) else {
        return Err(HttpError::new(ErrorKind::NotFound, format!("job {id} has no file {name:?}")));
    };
    let bytes = tokio::fs::read(&path).await.map_err(|e| HttpError::internal(format!("{}: {e}", path.display())))?;
    let kind = if name.ends_with(".png") { "image/png" } else { "application/json" };
    let mut r = bytes.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    Ok(r)
}
