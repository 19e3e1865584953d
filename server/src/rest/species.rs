//! The species catalogue over REST: `GET /api/v1/species` (search, paged) and
//! `GET /api/v1/species/{key}`, public as the catalogue pages are, paged by the API's
//! convention ([`super::paging`]).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query};
use axum::Json;
use insectid::catalogue::{self, Species};
use insectid::error::ErrorKind;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::paging::{self, Paging};
use super::ApiError;

/// Longest search, in characters (as on the catalogue page).
const MAX_QUERY: usize = 200;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SpeciesQuery {
    /// Words that must all appear in a name, the taxonomy or the hosts (English or Chinese).
    q: Option<String>,
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
#[utoipa::path(get, path = "/species", operation_id = "list_species", tag = "species", params(SpeciesQuery, Paging), responses(
    (status = 200, description = "A page of matching entries", body = SpeciesPage),
    (status = 400, description = "A search too long, or a page or page size out of range", body = super::ErrorBody)
))]
pub async fn list(
    search: Result<Query<SpeciesQuery>, QueryRejection>,
    paging: Result<Query<Paging>, QueryRejection>,
) -> Result<Json<SpeciesPage>, ApiError> {
    let q = paging::query(search)?.q.unwrap_or_default();
    let asked = paging::query(paging)?.checked()?;
    if q.chars().count() > MAX_QUERY {
        return Err(ApiError::new(
            ErrorKind::InvalidInput,
            format!("the search is longer than {MAX_QUERY} characters"),
        ));
    }
    let found = catalogue::search(&q);
    let items = found.iter().skip(asked.skip()).take(asked.per_page).map(|s| (*s).clone()).collect();
    Ok(Json(SpeciesPage { items, page: asked.page, per_page: asked.per_page, total: found.len() }))
}

/// One entry: names, taxonomy, the role it plays, host crops, damage and control (EN and 中文).
#[utoipa::path(get, path = "/species/{key}", operation_id = "get_species", tag = "species",
    params(("key" = String, Path, description = "The entry's key, e.g. `ip102-11`")),
    responses(
        (status = 200, description = "The entry", body = Species),
        (status = 404, description = "No entry has this key", body = super::ErrorBody)
    )
)]
pub async fn one(Path(key): Path<String>) -> Result<Json<Species>, ApiError> {
    Ok(Json(insectid::services::species::get(&key)?.clone()))
}
