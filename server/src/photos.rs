//! `GET /photos/{sha256}`: a stored photo. The digest is the capability: only someone who had
//! the photo, or was shown its identification, knows it.

use app::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// The photo is served without its personal metadata (place, time, device, comments): the
/// link is shared with anyone who sees the result.
pub async fn photo(State(state): State<AppState>, Path(sha): Path<String>) -> Response {
    let Ok(original) = state.photos.read(&sha).await else {
        return (StatusCode::NOT_FOUND, "no such photo").into_response();
    };
    use insectid::inference::{decode_budget::DecodeBudget, preprocess};
    use insectid::storage::metadata;
    // A TIFF is written anew from its pixels: that decode takes its place in the budget.
    let permit = if metadata::strip_decodes(&original) {
        let size = match preprocess::probe(&original, None) {
            Ok(size) => size,
            Err(e) => return (StatusCode::NOT_FOUND, e.to_string()).into_response(),
        };
        match DecodeBudget::global().reserve(&size).await {
            Ok(permit) => Some(permit),
            Err(_) => return busy("the server is decoding other photos"),
        }
    } else {
        None
    };
    let stripped = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        metadata::strip_private(&original).map(|b| b.into_owned())
    });
    let bytes = match stripped.await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(reason)) => return (StatusCode::UNPROCESSABLE_ENTITY, reason).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "stripping a photo's metadata failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
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
    let bytes = match state.photos.thumbnail(&sha).await {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return busy("the server is decoding other photos"),
        Err(_) => return (StatusCode::NOT_FOUND, "no such photo").into_response(),
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

/// Heat maps are drawn one at a time; a request that finds one being drawn is answered
/// "busy" at once rather than queued on the blocking pool.
static HEATMAP_DRAWING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

fn busy(what: &str) -> Response {
    let mut response = (StatusCode::SERVICE_UNAVAILABLE, format!("{what}; retry in a moment")).into_response();
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
    response
}

fn png_response(png: Vec<u8>) -> Response {
    let mut response = png.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=3600"));
    response
}

/// `GET /results/{id}/heatmap.png`: where the model looked for that result's top class, for
/// whoever may see the result (the same rule as the page). Drawn once per photo, model and
/// class, then served from the file store.
pub async fn heatmap(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<KeyQuery>,
    auth: axum_login::AuthSession<insectid::auth::Backend>,
) -> Response {
    use insectid::inference::{decode_budget::DecodeBudget, preprocess, InferenceError};
    let found = insectid::services::history::get(&state.db, auth.user.as_ref(), id, q.key.as_deref()).await;
    let Ok(view) = found else {
        return (StatusCode::NOT_FOUND, "no such result").into_response();
    };
    let active = state.engine.active();
    let same_model =
        view.identified.model_name == active.status.name && view.identified.model_version == active.status.version;
    let class = same_model.then(|| view.identified.answer.top.first().map(|t| t.index)).flatten();
    let sha = view.identified.image_sha256.clone();
    let variant = format!("{}\0{}\0{class:?}", active.status.name, active.status.version);
    if let Some(png) = state.photos.heatmap(&sha, &variant).await {
        return png_response(png);
    }
    let Ok(drawing) = HEATMAP_DRAWING.try_acquire() else {
        // (A `&'static` permit: it moves into the drawing below.)
        return busy("another heat map is being drawn");
    };
    let bytes = match state.photos.read(&sha).await {
        Ok(bytes) => bytes,
        Err(_) => return (StatusCode::NOT_FOUND, "the photo cannot be read").into_response(),
    };
    let size = match preprocess::probe(&bytes, Some(512)) {
        Ok(size) => size,
        Err(e) => return (StatusCode::NOT_FOUND, e.to_string()).into_response(),
    };
    let decoding = match DecodeBudget::global().reserve(&size).await {
        Ok(permit) => permit,
        Err(InferenceError::Busy) => return busy("the server is decoding other photos"),
        Err(e) => return (StatusCode::NOT_FOUND, e.to_string()).into_response(),
    };
    let mappers = state.heatmaps.clone();
    let made = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, String> {
        // Both permits go with the work: a request dropped meanwhile does not free them early.
        let (_decoding, _drawing) = (decoding, drawing);
        insectid::inference::torch_threads::compute_on(1);
        let image = preprocess::decode(&bytes, Some(512)).map_err(|e| e.to_string())?;
        // A panic while drawing poisons the lock; the mapper itself is unchanged by drawing,
        // so later requests go on using it.
        let guard = mappers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mapper = guard.as_ref().ok_or("this model has no heat-map modules")?;
        let (overlay, _) = mapper.overlay(&image, class, 448).map_err(|e| e.to_string())?;
        let mut png = std::io::Cursor::new(Vec::new());
        overlay.write_to(&mut png, image::ImageFormat::Png).map_err(|e| e.to_string())?;
        Ok(png.into_inner())
    })
    .await;
    match made {
        Ok(Ok(png)) => {
            if let Err(e) = state.photos.put_heatmap(&sha, &variant, png.clone()).await {
                tracing::warn!(error = %e, "keeping a heat map failed; it will be drawn again");
            }
            png_response(png)
        }
        Ok(Err(reason)) => (StatusCode::NOT_FOUND, reason).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "heat map task failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
