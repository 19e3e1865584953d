//! The REST API's one error type: every failure has a status code and a JSON body
//! `{"error": "...", "status": 400}` saying what was wrong.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use insectid::error::ErrorKind;
use insectid::ServiceError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("the server is busy identifying other photos; retry in a moment")]
    Busy,
    #[error("{1}")]
    Other(StatusCode, String),
    #[error("internal error; see the server log")]
    Internal,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Other(status, _) => *status,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A service error about one named file of the request.
    pub fn for_file(file: &str, e: ServiceError) -> Self {
        match e.kind() {
            ErrorKind::InvalidInput | ErrorKind::NotFound => ApiError::BadRequest(format!("{file}: {e}")),
            ErrorKind::Busy => ApiError::Busy,
            ErrorKind::Unauthorized => ApiError::Other(StatusCode::UNAUTHORIZED, e.to_string()),
            ErrorKind::Forbidden => ApiError::Other(StatusCode::FORBIDDEN, e.to_string()),
            ErrorKind::Conflict => ApiError::Other(StatusCode::CONFLICT, e.to_string()),
            ErrorKind::TooManyRequests => ApiError::Other(StatusCode::TOO_MANY_REQUESTS, e.to_string()),
            ErrorKind::TooLarge => ApiError::PayloadTooLarge(e.to_string()),
            ErrorKind::InsufficientStorage => ApiError::Other(StatusCode::INSUFFICIENT_STORAGE, e.to_string()),
            ErrorKind::Internal => {
                tracing::error!(error = %e, file, "identification failed");
                ApiError::Internal
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = Json(serde_json::json!({ "error": self.to_string(), "status": status.as_u16() }));
        let mut response = (status, body).into_response();
        if let ApiError::Busy = self {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}
