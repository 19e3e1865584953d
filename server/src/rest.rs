//! The versioned JSON API under /api/v1, for scripts and other programs.

use app::state::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

pub fn routes() -> Router<AppState> {
    Router::new().route("/model", get(model_status))
}

async fn model_status(State(state): State<AppState>) -> Json<app::api::ModelStatus> {
    Json(app::api::model_status_of(state.engine.status()))
}
