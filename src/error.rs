use crate::inference::InferenceError;

/// What a service call can fail with. Callers map [`ServiceError::kind`] to their transport
/// (an HTTP status, a CLI exit code) without matching on messages.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("database error: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error(transparent)]
    Inference(#[from] InferenceError),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("{0}")]
    InvalidInput(String),
    #[error("storage error: {0}")]
    Storage(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooManyAttempts(String),
    /// The request asks for more than the server lets one request take (pixels, bytes).
    #[error("{0}")]
    TooLarge(String),
    /// The server is at a limit of concurrent work; the request may be retried shortly.
    #[error("{0}")]
    Busy(String),
    /// The disk is too full to keep what the request brings.
    #[error("{0}")]
    InsufficientStorage(String),
}

/// The transport-neutral class of an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidInput,
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    TooManyRequests,
    TooLarge,
    InsufficientStorage,
    Busy,
    Internal,
}

impl ServiceError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            ServiceError::Database(_) => ErrorKind::Internal,
            ServiceError::Inference(e) => e.kind(),
            ServiceError::NotFound(_) => ErrorKind::NotFound,
            ServiceError::InvalidInput(_) => ErrorKind::InvalidInput,
            ServiceError::Storage(_) => ErrorKind::Internal,
            ServiceError::Unauthorized(_) => ErrorKind::Unauthorized,
            ServiceError::Forbidden(_) => ErrorKind::Forbidden,
            ServiceError::Conflict(_) => ErrorKind::Conflict,
            ServiceError::TooManyAttempts(_) => ErrorKind::TooManyRequests,
            ServiceError::TooLarge(_) => ErrorKind::TooLarge,
            ServiceError::Busy(_) => ErrorKind::Busy,
            ServiceError::InsufficientStorage(_) => ErrorKind::InsufficientStorage,
        }
    }
}
