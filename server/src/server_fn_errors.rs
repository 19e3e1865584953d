//! The status of every server function's error, set in one place. A server function returns
//! `Err(AppError)` however it got there (`?` on a service call included) and leptos answers
//! 500 with the error in the body; here the error is read back and the answer given the
//! status of its kind. (A plain HTML form post is answered with a redirect back to its page
//! instead, which shows the error from the URL: that stays as it is.)

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use app::error::AppError;

/// The most error body read back (an error is a short JSON object).
const MAX_ERROR_BYTES: usize = 64 * 1024;

/// The layer: server functions answer under `/api/` (the REST API under `/api/v1/` has its own
/// error type, which sets its status itself).
pub async fn layer(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let server_fn = path.starts_with("/api/") && !path.starts_with("/api/v1/");
    let response = next.run(request).await;
    if server_fn {
        with_status(response).await
    } else {
        response
    }
}

async fn with_status(response: Response) -> Response {
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_ERROR_BYTES).await else {
        return Response::from_parts(parts, Body::empty());
    };
    // The error as the server function encoded it (JSON); anything else stays a 500.
    let Ok(error) = serde_json::from_slice::<AppError>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    parts.status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if error.kind().is_transient() {
        parts.headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    Response::from_parts(parts, Body::from(bytes))
}
