//! The one error answer of the routes that are not server functions (the REST API, photos,
//! job files, downloads, the terminal): the status is the error kind's
//! ([`ErrorKind::http_status`]) and the body `{"error": "...", "status": 404}`. An internal
//! error's detail goes only to the log, under the request's id; the body carries the id.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use insectid::error::ErrorKind;
use insectid::ServiceError;

use crate::request_id;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError {
    kind: ErrorKind,
    message: String,
    /// Seconds a transient error asks the client to wait (1 unless known).
    retry_after: Option<u64>,
}

impl HttpError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        HttpError { kind, message: message.into(), retry_after: None }
    }

    /// A 429 for a client that must wait `seconds` before its next request.
    pub fn too_many(message: impl Into<String>, seconds: u64) -> Self {
        HttpError { kind: ErrorKind::TooManyRequests, message: message.into(), retry_after: Some(seconds) }
    }

    /// Something the caller can do nothing about: `detail` is logged with the request id.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        let id = request_id::current();
        tracing::error!(request_id = %id, error = %detail, "request failed");
        HttpError::new(ErrorKind::Internal, format!("something went wrong on the server (request {id}); it was logged"))
    }

    /// A service error about one named file of the request.
    pub fn for_file(file: &str, e: ServiceError) -> Self {
        match e.kind() {
            ErrorKind::Internal => HttpError::internal(format!("{file}: {e}")),
            kind => HttpError::new(kind, format!("{file}: {e}")),
        }
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.kind.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<ServiceError> for HttpError {
    fn from(e: ServiceError) -> Self {
        match e.kind() {
            ErrorKind::Internal => HttpError::internal(e),
            kind => HttpError::new(kind, e.to_string()),
        }
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = Json(serde_json::json!({ "error": self.message, "status": status.as_u16() }));
        let mut response = (status, body).into_response();
        if self.kind.is_transient() {
            let seconds = HeaderValue::from(self.retry_after.unwrap_or(1));
            response.headers_mut().insert(header::RETRY_AFTER, seconds);
        }
        if self.kind == ErrorKind::Unauthorized {
            // RFC 6750: the API takes bearer tokens (browsers, a session cookie).
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"insectid\""));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_answers_with_its_status_and_one_body_shape() {
        for kind in ErrorKind::ALL {
            let response = HttpError::new(kind, "what went wrong").into_response();
            assert_eq!(response.status().as_u16(), kind.http_status(), "{kind:?}");
            assert_eq!(response.headers().contains_key(header::RETRY_AFTER), kind.is_transient(), "{kind:?}");
        }
        let missing = HttpError::from(ServiceError::NotFound("photo 7".into()));
        assert_eq!(missing.status(), StatusCode::NOT_FOUND, "not found is a 404 here too");
    }

    #[test]
    fn an_internal_error_sends_the_request_id_and_keeps_the_detail() {
        let error = HttpError::from(ServiceError::Storage("/secret/path: disk on fire".into()));
        assert_eq!(error.kind(), ErrorKind::Internal);
        assert!(!error.to_string().contains("secret"), "{error}");
        assert!(error.to_string().contains("request"), "{error}");
    }
}
