//! `GET /jobs/{id}/files/{name}`: the pictures and report a job wrote, for administrators.
//! Only the names in [`insectid::jobs::reports::SERVED_FILES`] are ever served.

use app::state::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use insectid::auth::Role;

pub async fn job_file(
    State(state): State<AppState>,
    auth: axum_login::AuthSession<insectid::auth::Backend>,
    Path((id, name)): Path<(i64, String)>,
) -> Response {
    if let Err(e) = insectid::services::users::require(auth.user.as_ref(), Role::Admin) {
        return crate::dataset_export::refusal(e);
    }
    let Some(path) = insectid::jobs::reports::file(&state.jobs.dir, id, &name) else {
        return (StatusCode::NOT_FOUND, format!("job {id} has no file {name:?}")).into_response();
    };
    match tokio::fs::read(&path).await {
        Ok(bytes) => {
            let kind = if name.ends_with(".png") { "image/png" } else { "application/json" };
            let mut r = bytes.into_response();
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
            r
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}
