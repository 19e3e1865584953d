use crate::error::ErrorKind;

#[derive(Debug, Clone, thiserror::Error)]
pub enum InferenceError {
    #[error("invalid model bundle at {path}: {reason}")]
    InvalidBundle { path: String, reason: String },
    #[error("the image could not be read: {0}")]
    BadImage(String),
    #[error("the identification queue is full; retry in a moment")]
    Busy,
    #[error("the inference engine has stopped")]
    Stopped,
    #[error("device error: {0}")]
    Device(String),
    #[error("model execution failed: {0}")]
    Torch(String),
}

impl InferenceError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            InferenceError::BadImage(_) => ErrorKind::InvalidInput,
            InferenceError::Busy => ErrorKind::Busy,
            InferenceError::InvalidBundle { .. }
            | InferenceError::Stopped
            | InferenceError::Device(_)
            | InferenceError::Torch(_) => ErrorKind::Internal,
        }
    }
}

impl From<tch::TchError> for InferenceError {
    fn from(e: tch::TchError) -> Self {
        InferenceError::Torch(e.to_string())
    }
}
