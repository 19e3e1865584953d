//! `GET /datasets/{name@version}/export.zip?layout=ip102|folders`: a dataset version as a
//! download, for labelers and administrators.

use app::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use insectid::auth::Role;
use insectid::services::datasets::{export_zip, Layout};

#[derive(serde::Deserialize)]
pub struct LayoutQuery {
    layout: Option<String>,
}

pub async fn export(
    State(state): State<AppState>,
    auth: axum_login::AuthSession<insectid::auth::Backend>,
    Path(spec): Path<String>,
    Query(q): Query<LayoutQuery>,
) -> Response {
    if let Err(e) = insectid::services::users::require(auth.user.as_ref(), Role::Labeler) {
        return refusal(e);
    }
    let layout = match Layout::parse(q.layout.as_deref().unwrap_or("ip102")) {
        Ok(l) => l,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let work = std::env::temp_dir().join(format!("insectid-export-{}-{}", std::process::id(), insectid::storage::sha256_hex(format!("{spec}{:?}{:?}", q.layout, std::time::SystemTime::now()).as_bytes())));
    let made = export_zip(&state.db, &state.photos, &spec, layout, &work).await;
    let response = match made {
        Ok(path) => match tokio::fs::read(&path).await {
            Ok(bytes) => {
                let mut r = bytes.into_response();
                let h = r.headers_mut();
                h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/zip"));
                let file = format!("attachment; filename=\"{}-{}.zip\"", spec.replace(['"', '/', '\\'], "_"), q.layout.as_deref().unwrap_or("ip102"));
                if let Ok(v) = HeaderValue::from_str(&file) {
                    h.insert(header::CONTENT_DISPOSITION, v);
                }
                r
            }
            Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        },
        Err(e) => refusal(e),
    };
    let _ = tokio::fs::remove_dir_all(&work).await;
    response
}

pub(crate) fn refusal(e: insectid::ServiceError) -> Response {
    let e = app::error::AppError::from(e);
    (StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), e.to_string()).into_response()
}
