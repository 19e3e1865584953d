//! Search by text over the caller's identified photos (administrators: everyone's), with the
//! active image–text model; the same service as the Search page.

use app::state::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use insectid::services::api_tokens::Scope;
use insectid::services::photo_search::{self, SearchResults, MAX_RESULTS};
use serde::Deserialize;
use utoipa::IntoParams;

use super::caller::Caller;
use super::paging;
use super::ApiError;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// What to find, e.g. "small green leafhopper on rice" (at most 200 characters).
    q: String,
    /// How many photos, 1–50 (default 20).
    limit: Option<usize>,
}

/// Photos most like a description, best first.
#[utoipa::path(get, path = "/search", operation_id = "search_photos", tag = "identifications",
    params(SearchQuery),
    responses(
        (status = 200, description = "The caller's photos most like the text", body = SearchResults),
        (status = 400, description = "An empty or too long query, or a limit out of range", body = super::ErrorBody),
        (status = 401, description = "No session and no valid token", body = super::ErrorBody),
        (status = 403, description = "The token lacks the read scope", body = super::ErrorBody),
        (status = 409, description = "The active model does not read text", body = super::ErrorBody),
        (status = 503, description = "Too many searches at once; see Retry-After", body = super::ErrorBody)
    ),
    security(("token" = ["read"]), ("session" = []))
)]
pub async fn search(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<SearchQuery>, QueryRejection>,
) -> Result<Json<SearchResults>, ApiError> {
    let actor = caller.account_for(Scope::Read)?;
    let query = paging::query(query)?;
    let limit = query.limit.unwrap_or(20);
    if !(1..=MAX_RESULTS).contains(&limit) {
        let message = format!("limit is 1 to {MAX_RESULTS}");
        return Err(ApiError::new(insectid::error::ErrorKind::InvalidInput, message));
    }
    Ok(Json(photo_search::search(&state.db, &state.engine, actor, &query.q, limit).await?))
}
