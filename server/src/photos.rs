//! `GET /photos/{sha256}`: a stored photo. The digest is the capability: only someone who had
//! the photo, or was shown its identification, knows it.

use app::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

pub async fn photo(State(state): State<AppState>, Path(sha): Path<String>) -> Response {
    let Ok(bytes) = state.photos.read(&sha).await else {
        return (StatusCode::NOT_FOUND, "no such photo").into_response();
    };
    let mime = image::guess_format(&bytes).map(|f| f.to_mime_type()).unwrap_or("application/octet-stream");
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    // Content-addressed: the bytes behind a digest never change.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=31536000, immutable"));
    response
}

/// `GET /photos/{sha256}/thumb`: the photo's thumbnail (JPEG), made once.
pub async fn thumbnail(State(state): State<AppState>, Path(sha): Path<String>) -> Response {
    let Ok(bytes) = state.photos.thumbnail(&sha).await else {
        return (StatusCode::NOT_FOUND, "no such photo").into_response();
    };
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=31536000, immutable"));
    response
}

#[derive(serde::Deserialize)]
pub struct KeyQuery {
    key: Option<String>,
}

/// `GET /results/{id}/heatmap.png`: where the model looked for that result's top class, for
/// whoever may see the result (the same rule as the page).
pub async fn heatmap(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<KeyQuery>,
    auth: axum_login::AuthSession<insectid::auth::Backend>,
) -> Response {
    let found = insectid::services::history::get(&state.db, auth.user.as_ref(), id, q.key.as_deref()).await;
    let Ok(view) = found else {
        return (StatusCode::NOT_FOUND, "no such result").into_response();
    };
    let active = state.engine.active();
    let same_model = view.identified.model_name == active.status.name && view.identified.model_version == active.status.version;
    let class = same_model.then(|| view.identified.answer.top.first().map(|t| t.index)).flatten();
    let bytes = match state.photos.read(&view.identified.image_sha256).await {
        Ok(bytes) => bytes,
        Err(e) => return (StatusCode::NOT_FOUND, format!("the photo cannot be read: {e}")).into_response(),
    };
    let mappers = state.heatmaps.clone();
    let made = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, String> {
        let image = insectid::inference::preprocess::decode(&bytes, Some(512)).map_err(|e| e.to_string())?;
        let guard = mappers.lock().map_err(|_| "heat-map lock poisoned".to_string())?;
        let mapper = guard.as_ref().ok_or("this model has no heat-map modules")?;
        let (overlay, _) = mapper.overlay(&image, class, 448).map_err(|e| e.to_string())?;
        let mut png = std::io::Cursor::new(Vec::new());
        overlay.write_to(&mut png, image::ImageFormat::Png).map_err(|e| e.to_string())?;
        Ok(png.into_inner())
    })
    .await;
    match made {
        Ok(Ok(png)) => {
            let mut response = png.into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=3600"));
            response
        }
        Ok(Err(reason)) => (StatusCode::NOT_FOUND, reason).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "heat map task failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
