//! `GET /api/v1/pressure.csv[?species=KEY][&region=48N7E]`: confirmed, shared sightings per
//! week, species and region over the last year, for a spreadsheet (the pressure pages' data).

use app::state::AppState;
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use insectid::services::pressure::{self, Cell, Sighting};

use super::ApiError;

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CsvQuery {
    /// A catalogue key (e.g. `ip102-11`): only that species.
    species: Option<String>,
    /// A one-degree cell (e.g. `48N7E`): only sightings there.
    region: Option<String>,
}

/// Confirmed, shared sightings per week, species and region over the last 52 weeks:
/// `week,species_key,species,region,sightings`.
#[utoipa::path(get, path = "/pressure.csv", tag = "pressure", params(CsvQuery), responses(
    (status = 200, description = "The counts as CSV", content_type = "text/csv", body = String),
    (status = 400, description = "A region that is no cell", body = super::ErrorBody),
    (status = 404, description = "An unknown species", body = super::ErrorBody),
    (status = 503, description = "Counting for others; see Retry-After", body = super::ErrorBody)
))]
pub async fn csv(State(state): State<AppState>, Query(q): Query<CsvQuery>) -> Result<Response, ApiError> {
    let species = match q.species.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(key) => Some(insectid::services::species::get(key)?.key.clone()),
        None => None,
    };
    let region = match q.region.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(key) => Some(Cell::parse(key)?),
        None => None,
    };
    let today = chrono::Utc::now().date_naive();
    let sightings: Vec<Sighting> = state
        .sightings
        .get(&state.db, today)
        .await?
        .iter()
        .filter(|s| region.is_none_or(|c| s.cell == Some(c)))
        .cloned()
        .collect();
    let body = pressure::csv(&sightings, species.as_deref());
    let name = format!("pest-pressure-{}{today}.csv", species.map(|s| format!("{s}-")).unwrap_or_default());
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}
