//! What the server hands to every page render and server function (through Leptos context).

use std::sync::Arc;

use axum::extract::FromRef;
use insectid::inference::InferenceEngine;
use insectid::services::identify::UploadLimits;
use insectid::storage::PhotoStore;
use leptos::prelude::*;
use sea_orm::DatabaseConnection;

use crate::error::AppError;

#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub db: DatabaseConnection,
    pub engine: Arc<InferenceEngine>,
    pub photos: PhotoStore,
    pub limits: UploadLimits,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// The state inside a server function; its absence is a wiring bug, reported as such.
pub fn app_state() -> Result<AppState, AppError> {
    use_context::<AppState>().ok_or_else(|| AppError::Internal("application state is not provided".into()))
}

/// Server functions set the HTTP status of their errors through this.
pub fn fail<T>(error: AppError) -> Result<T, AppError> {
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        if let Ok(code) = axum::http::StatusCode::from_u16(error.status()) {
            response.set_status(code);
        }
    }
    Err(error)
}
