//! What administrators do over REST: the model registry (list, activate) and a job's status.
//! The same services and rules as the Models and Commands pages; a token needs `admin`.

use app::state::AppState;
use axum::extract::{Path, State};
use axum::Json;
use insectid::services::api_tokens::Scope;

use super::caller::Caller;
use super::ApiError;

/// Every installed model version, newest first, with its latest evaluation.
#[utoipa::path(get, path = "/models", operation_id = "list_models", tag = "admin",
    responses(
        (status = 200, description = "The registry", body = Vec<app::api::ModelVersionView>),
        (status = 401, description = "No session and no valid token", body = super::ErrorBody),
        (status = 403, description = "Not an administrator, or the token lacks the admin scope", body = super::ErrorBody)
    ),
    security(("token" = ["admin"]), ("session" = []))
)]
pub async fn models(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<app::api::ModelVersionView>>, ApiError> {
    let actor = caller.account_for(Scope::Admin)?;
    Ok(Json(app::api::models::model_versions_for(&state, actor).await?))
}

/// Makes a version the one that answers (in-flight identifications finish on the old one).
#[utoipa::path(post, path = "/models/{id}/activate", operation_id = "activate_model", tag = "admin",
    params(("id" = i64, Path, description = "The model version's id")),
    responses(
        (status = 200, description = "The registry after the switch", body = Vec<app::api::ModelVersionView>),
        (status = 400, description = "The bundle could not be loaded; nothing changed", body = super::ErrorBody),
        (status = 401, description = "No session and no valid token", body = super::ErrorBody),
        (status = 403, description = "Not an administrator, or the token lacks the admin scope", body = super::ErrorBody),
        (status = 404, description = "No such model version", body = super::ErrorBody)
    ),
    security(("token" = ["admin"]), ("session" = []))
)]
pub async fn activate(
    State(state): State<AppState>,
    caller: Caller,
    client: Option<axum::Extension<app::state::ClientIp>>,
    Path(id): Path<i64>,
) -> Result<Json<Vec<app::api::ModelVersionView>>, ApiError> {
    let actor = caller.account_for(Scope::Admin)?;
    let addr = client.map(|c| c.0 .0.to_string()).unwrap_or_default();
    app::api::models::activate_for(&state, actor, id, &addr).await?;
    Ok(Json(app::api::models::model_versions_for(&state, actor).await?))
}

/// A job's state, progress and outcome.
#[utoipa::path(get, path = "/jobs/{id}", operation_id = "get_job", tag = "admin",
    params(("id" = i64, Path, description = "The job's id")),
    responses(
        (status = 200, description = "The job", body = app::api::JobRow),
        (status = 401, description = "No session and no valid token", body = super::ErrorBody),
        (status = 403, description = "Not an administrator, or the token lacks the admin scope", body = super::ErrorBody),
        (status = 404, description = "No such job", body = super::ErrorBody)
    ),
    security(("token" = ["admin"]), ("session" = []))
)]
pub async fn job(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<app::api::JobRow>, ApiError> {
    let actor = caller.account_for(Scope::Admin)?;
    let job = insectid::jobs::queue::get(&state.db, actor, id).await?;
    Ok(Json(app::api::jobs::job_row(&job)))
}
