//! `GET /api/v1/pressure.csv[?species=KEY][&region=48N7E]`: confirmed, shared sightings per
//! week, species and region over the last year, for a spreadsheet (the pressure pages' data).

use app::state::AppState;
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use insectid::services::pressure::{self, Cell, Sighting};

use super::ApiError;

#[derive(serde::Deserialize)]
pub struct CsvQuery {
    species: Option<String>,
    region: Option<String>,
}

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
