//! One's identifications over REST: the list (paged, newest first), one, deleting one, and
//! feedback on one. The same services and rules as the History and result pages: people see
//! their own, administrators everyone's.

use app::state::AppState;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use insectid::error::ErrorKind;
use insectid::services::api_tokens::Scope;
use insectid::services::history::{self, HistoryFilter, IdentificationView};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::caller::Caller;
use super::paging::{self, Paging};
use super::ApiError;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IdentificationsQuery {
    /// Part of the answer's class name.
    label: Option<String>,
}

/// One page of identifications.
#[derive(Serialize, ToSchema)]
pub struct IdentificationsPage {
    pub items: Vec<IdentificationView>,
    pub page: usize,
    pub per_page: usize,
    /// Identifications matching, on all pages.
    pub total: u64,
}

/// The caller's identifications, newest first.
#[utoipa::path(get, path = "/identifications", operation_id = "list_identifications", tag = "identifications",
    params(IdentificationsQuery, Paging),
    responses(
        (status = 200, description = "A page of the caller's identifications", body = IdentificationsPage),
        (status = 400, description = "A page or page size out of range", body = super::ErrorBody),
        (status = 401, description = "No session and no valid token", body = super::ErrorBody),
        (status = 403, description = "The token lacks the read scope", body = super::ErrorBody),
        (status = 429, description = "Too many requests with this token; see Retry-After", body = super::ErrorBody)
    ),
    security(("token" = ["read"]), ("session" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    filter: Result<Query<IdentificationsQuery>, QueryRejection>,
    paging: Result<Query<Paging>, QueryRejection>,
) -> Result<Json<IdentificationsPage>, ApiError> {
    let actor = caller.account_for(Scope::Read)?;
    let label = paging::query(filter)?.label.unwrap_or_default();
    let asked = paging::query(paging)?.checked()?;
    let filter = HistoryFilter { label, ..HistoryFilter::default() };
    let found = history::list(&state.db, actor, &filter, asked.page as u64 - 1, asked.per_page as u64).await?;
    Ok(Json(IdentificationsPage { items: found.items, page: asked.page, per_page: asked.per_page, total: found.total }))
}

/// One identification the caller may see.
#[utoipa::path(get, path = "/identifications/{id}", operation_id = "get_identification", tag = "identifications",
    params(("id" = i64, Path, description = "The identification's id")),
    responses(
        (status = 200, description = "The identification", body = IdentificationView),
        (status = 401, description = "No session and no valid token", body = super::ErrorBody),
        (status = 403, description = "The token lacks the read scope", body = super::ErrorBody),
        (status = 404, description = "No such identification of the caller's", body = super::ErrorBody)
    ),
    security(("token" = ["read"]), ("session" = []))
)]
pub async fn one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<IdentificationView>, ApiError> {
    let actor = caller.account_for(Scope::Read)?;
    if actor.is_none() {
        return Err(ApiError::new(ErrorKind::Unauthorized, "sign in or send a token to read identifications"));
    }
    Ok(Json(history::get(&state.db, actor, id, None).await?))
}

/// Deletes an identification, the feedback on it, and its photo when nothing else uses it.
#[utoipa::path(delete, path = "/identifications/{id}", operation_id = "delete_identification", tag = "identifications",
    params(("id" = i64, Path, description = "The identification's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No session and no valid token", body = super::ErrorBody),
        (status = 403, description = "The token lacks the write scope", body = super::ErrorBody),
        (status = 404, description = "No such identification of the caller's", body = super::ErrorBody)
    ),
    security(("token" = ["write"]), ("session" = []))
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    let actor = caller.account_for(Scope::Write)?;
    history::delete(&state.db, &state.photos, actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What a person says about an answer.
#[derive(Deserialize, ToSchema)]
pub struct FeedbackRequest {
    /// `correct`, `wrong` or `not_insect`.
    kind: String,
    /// For `wrong`: the right class, one the catalogue or the active model knows.
    #[serde(default)]
    label: String,
    #[serde(default)]
    comment: String,
}

/// Records (or replaces) the caller's feedback on an identification; it is reviewed afresh.
#[utoipa::path(post, path = "/identifications/{id}/feedback", operation_id = "give_feedback", tag = "identifications",
    params(("id" = i64, Path, description = "The identification's id")),
    request_body(content = FeedbackRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The feedback as recorded", body = app::api::FeedbackView),
        (status = 400, description = "Not JSON, an unknown kind, or an unknown class", body = super::ErrorBody),
        (status = 401, description = "No session and no valid token", body = super::ErrorBody),
        (status = 403, description = "The token lacks the write scope", body = super::ErrorBody),
        (status = 404, description = "No such identification of the caller's", body = super::ErrorBody)
    ),
    security(("token" = ["write"]), ("session" = []))
)]
pub async fn feedback(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    body: Result<Json<FeedbackRequest>, JsonRejection>,
) -> Result<Json<app::api::FeedbackView>, ApiError> {
    let actor = caller.account_for(Scope::Write)?;
    let Json(form) = body.map_err(|e| ApiError::new(ErrorKind::InvalidInput, e.body_text()))?;
    let saved = app::api::feedback::submit_for(&state, actor, id, &form.kind, form.label, form.comment).await?;
    Ok(Json(saved))
}
