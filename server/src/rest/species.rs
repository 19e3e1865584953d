//! The species catalogue over REST: `GET /api/v1/species` (search, paged) and
//! `GET /api/v1/species/{key}`, public as the catalogue pages are. Paging is the API's
//! convention: `page` from 1, `per_page` 1 to 200 (50 by default), and the answer says `total`.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query};
use axum::Json;
use insectid::catalogue::{self, Species};
use insectid::error::ErrorKind;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::ApiError;

pub const MAX_PER_PAGE: usize = 200;
const DEFAULT_PER_PAGE: usize = 50;
/// Longest search, in characters (as on the catalogue page).
const MAX_QUERY: usize = 200;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SpeciesQuery {
    /// Words that must all appear in a name, the taxonomy or the hosts (English or Chinese).
    q: Option<String>,
    /// The page, from 1.
    page: Option<usize>,
    /// Entries per page, 1 to 200 (default 50).
    per_page: Option<usize>,
}

/// One page of entries.
#[derive(Serialize, ToSchema)]
pub struct SpeciesPage {
    pub items: Vec<Species>,
    pub page: usize,
    pub per_page: usize,
    /// Entries matching, on all pages.
    pub total: usize,
}

/// Entries matching a search, by catalogue order.
#[utoipa::path(get, path = "/species", tag = "species", params(SpeciesQuery), responses(
    (status = 200, description = "A page of matching entries", body = SpeciesPage),
    (status = 400, description = "A search too long, or a page or page size out of range", body = super::ErrorBody)
))]
pub async fn list(query: Result<Query<SpeciesQuery>, QueryRejection>) -> Result<Json<SpeciesPage>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::new(ErrorKind::InvalidInput, e.body_text()))?;
    let q = query.q.unwrap_or_default();
    if q.chars().count() > MAX_QUERY {
        return Err(ApiError::new(
            ErrorKind::InvalidInput,
            format!("the search is longer than {MAX_QUERY} characters"),
        ));
    }
    let page = query.page.unwrap_or(1);
    let per_page = query.per_page.unwrap_or(DEFAULT_PER_PAGE);
    if page == 0 || !(1..=MAX_PER_PAGE).contains(&per_page) {
        return Err(ApiError::new(
            ErrorKind::InvalidInput,
            format!("page counts from 1 and per_page is 1 to {MAX_PER_PAGE}"),
        ));
    }
    let found = catalogue::search(&q);
    let items = found.iter().skip((page - 1).saturating_mul(per_page)).take(per_page).map(|s| (*s).clone()).collect();
    Ok(Json(SpeciesPage { items, page, per_page, total: found.len() }))
}

/// One entry: names, taxonomy, the role it plays, host crops, damage and control (EN and 中文).
#[utoipa::path(get, path = "/species/{key}", tag = "species",
    params(("key" = String, Path, description = "The entry's key, e.g. `ip102-11`")),
    responses(
        (status = 200, description = "The entry", body = Species),
        (status = 404, description = "No entry has this key", body = super::ErrorBody)
    )
)]
pub async fn one(Path(key): Path<String>) -> Result<Json<Species>, ApiError> {
    Ok(Json(insectid::services::species::get(&key)?.clone()))
}
