//! `GET /photos/{sha256}`: a stored photo. The digest is the capability: only someone who had
//! the photo, or was shown its identification, knows it.

use app::state::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

pub async fn photo(State(state): State<AppState>, Path(sha): Path<String>) -> Response {
    let photos = state.photos.clone();
    let read = tokio::task::spawn_blocking(move || photos.read(&sha)).await;
    let Ok(Ok(bytes)) = read else {
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
    let photos = state.photos.clone();
    let made = tokio::task::spawn_blocking(move || photos.thumbnail(&sha)).await;
    let Ok(Ok(bytes)) = made else {
        return (StatusCode::NOT_FOUND, "no such photo").into_response();
    };
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=31536000, immutable"));
    response
}
