//! The error every server function returns, serialisable so the browser sees the same variant.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    InvalidInput(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    UnsupportedType(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooManyRequests(String),
    #[error("{0}")]
    InsufficientStorage(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("the server is busy; retry in a moment")]
    Busy,
    #[error("something went wrong on the server: {0}")]
    Internal(String),
    #[error("the request failed: {0}")]
    Request(ServerFnErrorErr),
}

impl AppError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            AppError::InvalidInput(_) => 400,
            AppError::TooLarge(_) => 413,
            AppError::UnsupportedType(_) => 415,
            AppError::Unauthorized(_) => 401,
            AppError::Forbidden(_) => 403,
            AppError::Conflict(_) => 409,
            AppError::TooManyRequests(_) => 429,
            AppError::InsufficientStorage(_) => 507,
            AppError::NotFound(_) => 404,
            AppError::Busy => 503,
            AppError::Internal(_) => 500,
            AppError::Request(_) => 400,
        }
    }

    /// Answers the page being rendered with this error's status, so a page that shows an
    /// error is not a 200 (to caches, crawlers and monitoring). Nothing happens in the browser.
    pub fn answer_page_with_status(&self) {
        #[cfg(feature = "ssr")]
        if let (Some(response), Ok(status)) = (
            leptos::prelude::use_context::<leptos_axum::ResponseOptions>(),
            axum::http::StatusCode::from_u16(self.status()),
        ) {
            response.set_status(status);
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AppError::Request(value)
    }
}

#[cfg(feature = "ssr")]
impl From<insectid::ServiceError> for AppError {
    fn from(e: insectid::ServiceError) -> Self {
        use insectid::error::ErrorKind;
        match e.kind() {
            ErrorKind::InvalidInput => AppError::InvalidInput(e.to_string()),
            ErrorKind::Unauthorized => AppError::Unauthorized(e.to_string()),
            ErrorKind::Forbidden => AppError::Forbidden(e.to_string()),
            ErrorKind::Conflict => AppError::Conflict(e.to_string()),
            ErrorKind::TooManyRequests => AppError::TooManyRequests(e.to_string()),
            ErrorKind::TooLarge => AppError::TooLarge(e.to_string()),
            ErrorKind::InsufficientStorage => AppError::InsufficientStorage(e.to_string()),
            ErrorKind::NotFound => AppError::NotFound(e.to_string()),
            ErrorKind::Busy => AppError::Busy,
            ErrorKind::Internal => {
                tracing::error!(error = %e, "service failed");
                AppError::Internal("see the server log".into())
            }
        }
    }
}

#[cfg(feature = "ssr")]
impl From<crate::upload::UploadError> for AppError {
    fn from(e: crate::upload::UploadError) -> Self {
        use crate::upload::UploadError;
        match e {
            UploadError::BadRequest(m) => AppError::InvalidInput(m),
            UploadError::TooLarge(m) => AppError::TooLarge(m),
            UploadError::UnsupportedType(m) => AppError::UnsupportedType(m),
        }
    }
}
