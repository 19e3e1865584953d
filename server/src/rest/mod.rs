//! The versioned JSON API under /api/v1, for scripts and other programs.

mod identify;
mod pressure;

use app::state::AppState;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};

/// The REST API's one error: [`HttpError`](crate::http_error::HttpError), `{"error", "status"}`.
pub use crate::http_error::HttpError as ApiError;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/model", get(model_status))
        .route("/identify", post(identify::identify))
        .route("/pressure.csv", get(pressure::csv))
}

async fn model_status(State(state): State<AppState>) -> Json<app::api::ModelStatus> {
    Json(app::api::model_status_of(&state.engine.active().status))
}
