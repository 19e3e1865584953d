//! `GET /photos/{sha256}`: a stored photo. The digest is the capability: only someone who had
//! the photo, or was shown its identification, knows it.

use app::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use insectid::error::ErrorKind;

use crate::http_error::HttpError;

/// The photo is served without its personal metadata (place, time, device, comments): the
/// link is shared with anyone who sees the result.
pub async fn photo(State(state): State<AppState>, Path(sha): Path<String>) -> Result<Response, HttpError> {
    let Ok(original) = state.photos.read(&sha).await else {
        return Err(HttpError::new(ErrorKind::NotFound, "no such photo"));
    };
    use insectid::inference::{decode_budget::DecodeBudget, preprocess};
    use insectid::storage::metadata;
    // A TIFF is written anew from its pixels: that decode takes its place in the budget.
    let permit = if metadata::strip_decodes(&original) {
        let size =
            preprocess::probe(&original, None).map_err(|e| HttpError::new(ErrorKind::NotFound, e.to_string()))?;
        match DecodeBudget::global().reserve(&size).await {
            Ok(permit) => Some(permit),
            Err(_) => return Err(busy("the server is decoding other photos")),
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
        Ok(Err(reason)) => return Err(HttpError::internal(format!("stripping photo {sha}'s metadata: {reason}"))),
        Err(e) => return Err(HttpError::internal(format!("stripping photo {sha}'s metadata stopped: {e}"))),
    };
    let mime = image::guess_format(&bytes).map(|f| f.to_mime_type()).unwrap_or("application/octet-stream");
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    // Content-addressed: the bytes behind a digest never change.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=31536000, immutable"));
    Ok(response)
}

/// `GET /photos/{sha256}/thumb`: the photo's thumbnail (JPEG), made once.
pub async fn thumbnail(State(state): State<AppState>, Path(sha): Path<String>) -> Result<Response, HttpError> {
    let bytes = match state.photos.thumbnail(&sha).await {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
            return Err(busy("the server is decoding other photos"))
        }
        Err(_) => return Err(HttpError::new(ErrorKind::NotFound, "no such photo")),
    };
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=31536000, immutable"));
    Ok(response)
}

#[derive(serde::Deserialize)]
pub struct KeyQuery {
    key: Option<String>,
}

/// Heat maps are drawn one at a time; a request that finds one being drawn is answered
/// "busy" at once rather than queued on the blocking pool.
static HEATMAP_DRAWING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

fn busy(what: &str) -> HttpError {
    HttpError::new(ErrorKind::Busy, format!("{what}; retry in a moment"))
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
) -> Result<Response, HttpError> {
    use insectid::inference::{decode_budget::DecodeBudget, preprocess, InferenceError};
    let found = insectid::services::history::get(&state.db, auth.user.as_ref(), id, q.key.as_deref()).await;
    let Ok(view) = found else {
        return Err(HttpError::new(ErrorKind::NotFound, "no such result"));
    };
    let active = state.engine.active();
    let same_model =
        view.identified.model_name == active.status.name && view.identified.model_version == active.status.version;
    let class = same_model.then(|| view.identified.answer.top.first().map(|t| t.index)).flatten();
    let sha = view.identified.image_sha256.clone();
    let variant = format!("{}\0{}\0{class:?}", active.status.name, active.status.version);
    if let Some(png) = state.photos.heatmap(&sha, &variant).await {
        return Ok(png_response(png));
    }
    let Ok(drawing) = HEATMAP_DRAWING.try_acquire() else {
        // (A `&'static` permit: it moves into the drawing below.)
        return Err(busy("another heat map is being drawn"));
    };
    let not_found = |reason: String| HttpError::new(ErrorKind::NotFound, reason);
    let bytes = state.photos.read(&sha).await.map_err(|_| not_found("the photo cannot be read".into()))?;
    let size = preprocess::probe(&bytes, Some(512)).map_err(|e| not_found(e.to_string()))?;
    let decoding = match DecodeBudget::global().reserve(&size).await {
        Ok(permit) => permit,
        Err(InferenceError::Busy) => return Err(busy("the server is decoding other photos")),
        Err(e) => return Err(not_found(e.to_string())),
    };
    let mappers = state.heatmaps.clone();
    // The photo that does not decode and the model without heat maps are the caller's 404;
    // a failure while drawing is the server's (its text goes to the log only).
    // (Errors are built outside the blocking thread, where the request's id is known.)
    let made = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, (ErrorKind, String)> {
        // Both permits go with the work: a request dropped meanwhile does not free them early.
        let (_decoding, _drawing) = (decoding, drawing);
        insectid::inference::torch_threads::compute_on(1);
        let image = preprocess::decode(&bytes, Some(512)).map_err(|e| (ErrorKind::NotFound, e.to_string()))?;
        let (overlay, _) = mappers.with(|mapper| {
            let mapper =
                mapper.ok_or_else(|| (ErrorKind::NotFound, "this model has no heat-map modules".to_string()))?;
            mapper.overlay(&image, class, 448).map_err(|e| (ErrorKind::Internal, format!("drawing a heat map: {e}")))
        })?;
        let mut png = std::io::Cursor::new(Vec::new());
        overlay
            .write_to(&mut png, image::ImageFormat::Png)
            .map_err(|e| (ErrorKind::Internal, format!("encoding a heat map: {e}")))?;
        Ok(png.into_inner())
    })
    .await;
    match made {
        Ok(Ok(png)) => {
            if let Err(e) = state.photos.put_heatmap(&sha, &variant, png.clone()).await {
                tracing::warn!(error = %e, "keeping a heat map failed; it will be drawn again");
            }
            Ok(png_response(png))
        }
        Ok(Err((ErrorKind::NotFound, reason))) => Err(not_found(reason)),
        Ok(Err((_, detail))) => Err(HttpError::internal(detail)),
        Err(e) => Err(HttpError::internal(format!("the heat-map task stopped: {e}"))),
    }
}
