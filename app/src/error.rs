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
    /// What went wrong stays in the server's log under this request id; only the id is sent.
    #[error("something went wrong on the server (request {0}); it was logged")]
    Internal(String),
    #[error("the request failed: {0}")]
    Request(ServerFnErrorErr),
}

impl AppError {
    /// The kind of error this is; its HTTP status is [`ErrorKind::http_status`]'s.
    ///
    /// [`ErrorKind::http_status`]: insectid::error::ErrorKind::http_status
    #[cfg(feature = "ssr")]
    pub fn kind(&self) -> insectid::error::ErrorKind {
        use insectid::error::ErrorKind;
        match self {
            AppError::InvalidInput(_) | AppError::Request(_) => ErrorKind::InvalidInput,
            AppError::TooLarge(_) => ErrorKind::TooLarge,
            AppError::UnsupportedType(_) => ErrorKind::UnsupportedMediaType,
            AppError::Unauthorized(_) => ErrorKind::Unauthorized,
            AppError::Forbidden(_) => ErrorKind::Forbidden,
            AppError::Conflict(_) => ErrorKind::Conflict,
            AppError::TooManyRequests(_) => ErrorKind::TooManyRequests,
            AppError::InsufficientStorage(_) => ErrorKind::InsufficientStorage,
            AppError::NotFound(_) => ErrorKind::NotFound,
            AppError::Busy => ErrorKind::Busy,
            AppError::Internal(_) => ErrorKind::Internal,
        }
    }

    /// The HTTP status this error is answered with.
    #[cfg(feature = "ssr")]
    pub fn status(&self) -> u16 {
        self.kind().http_status()
    }

    /// An error the caller can do nothing about: `detail` goes to the log with the request's
    /// id, and only the id to the caller (who can quote it to an administrator).
    #[cfg(feature = "ssr")]
    pub fn internal(detail: impl std::fmt::Display) -> AppError {
        let id = leptos::prelude::use_context::<axum::http::request::Parts>()
            .and_then(|parts| parts.headers.get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_string))
            .unwrap_or_else(|| "-".into());
        tracing::error!(request_id = %id, error = %detail, "a server function failed");
        AppError::Internal(id)
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
        // On the server, a failure of the server itself (its answer not serialisable, a
        // middleware error) is internal: logged, never sent. What the request got wrong (its
        // arguments, its method) stays a 400 that says so.
        #[cfg(feature = "ssr")]
        if matches!(
            value,
            ServerFnErrorErr::Registration(_)
                | ServerFnErrorErr::ServerError(_)
                | ServerFnErrorErr::MiddlewareError(_)
                | ServerFnErrorErr::Serialization(_)
                | ServerFnErrorErr::Response(_)
        ) {
            return AppError::internal(value);
        }
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
            ErrorKind::UnsupportedMediaType => AppError::UnsupportedType(e.to_string()),
            ErrorKind::Busy => AppError::Busy,
            ErrorKind::Internal => AppError::internal(e),
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
