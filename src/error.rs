use crate::inference::InferenceError;

/// What a service call can fail with. Callers map [`ServiceError::kind`] to their transport
/// (an HTTP status, a CLI exit code) without matching on messages.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("database error: {0}")]
    Database(sea_orm::DbErr),
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

impl From<sea_orm::DbErr> for ServiceError {
    /// A write that names a row deleted meanwhile (a foreign key refused it) is the caller's
    /// race, not a server fault: a conflict, worded without the database's text.
    fn from(e: sea_orm::DbErr) -> Self {
        match e.sql_err() {
            Some(sea_orm::SqlErr::ForeignKeyConstraintViolation(_)) => {
                ServiceError::Conflict("something this refers to was deleted meanwhile; reload and try again".into())
            }
            _ => ServiceError::Database(e),
        }
    }
}

/// The transport-neutral class of an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    InvalidInput,
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    TooManyRequests,
    TooLarge,
    /// A file of a type the request may not carry (an upload that is no image).
    UnsupportedMediaType,
    InsufficientStorage,
    Busy,
    Internal,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 11] = [
        ErrorKind::InvalidInput,
        ErrorKind::Unauthorized,
        ErrorKind::Forbidden,
        ErrorKind::NotFound,
        ErrorKind::Conflict,
        ErrorKind::TooManyRequests,
        ErrorKind::TooLarge,
        ErrorKind::UnsupportedMediaType,
        ErrorKind::InsufficientStorage,
        ErrorKind::Busy,
        ErrorKind::Internal,
    ];

    /// The HTTP status an error of this kind is answered with: the one mapping, used by the
    /// server functions, the REST API and the file routes alike.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorKind::InvalidInput => 400,
            ErrorKind::Unauthorized => 401,
            ErrorKind::Forbidden => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::Conflict => 409,
            ErrorKind::TooLarge => 413,
            ErrorKind::UnsupportedMediaType => 415,
            ErrorKind::TooManyRequests => 429,
            ErrorKind::Internal => 500,
            ErrorKind::Busy => 503,
            ErrorKind::InsufficientStorage => 507,
        }
    }

    /// Worth retrying shortly (answered with `Retry-After`).
    pub fn is_transient(self) -> bool {
        matches!(self, ErrorKind::Busy | ErrorKind::TooManyRequests)
    }
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
