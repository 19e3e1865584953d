//! Pest pressure: the overview, one species' year, alerts and who asked to see them.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::SpeciesSummary;
use crate::error::AppError;

/// A region people can pick: a one-degree cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegionView {
    /// "48N7E"
    pub key: String,
    /// "48–49°N, 7–8°E"
    pub name: String,
    pub total: u32,
    /// The last four weeks.
    pub recent: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertView {
    pub id: i64,
    pub species: SpeciesSummary,
    /// None: all regions together.
    pub region: Option<RegionView>,
    pub weekly_threshold: u32,
    /// This week's sightings, and whether they reach the threshold.
    pub this_week: u32,
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PressureRow {
    pub species: SpeciesSummary,
    pub weekly: Vec<u32>,
    pub total: u32,
    pub this_week: u32,
    pub alert_active: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PressureOverview {
    /// The region shown (None: everywhere).
    pub region: Option<RegionView>,
    /// Regions with sightings, to pick from.
    pub regions: Vec<RegionView>,
    pub rows: Vec<PressureRow>,
    /// The Monday of each week charted, oldest first.
    pub weeks: Vec<String>,
    pub active_alerts: Vec<AlertView>,
    /// How the caller asked to be told of alerts (None: not signed in).
    pub subscription: Option<super::alert_mail::SubscriptionView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpeciesPressureView {
    pub species: SpeciesSummary,
    pub region: Option<RegionView>,
    pub weekly: Vec<u32>,
    pub weeks: Vec<String>,
    pub total: u32,
    pub regions: Vec<RegionView>,
    pub alerts: Vec<AlertView>,
    pub admin: bool,
}

/// A candidate class confirmed near the photo's place around the same time of year.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NearbyView {
    /// The model's label, as in the top classes.
    pub label: String,
    pub sightings: u32,
}

/// For its owner's result with a date and place: which of the top classes were seen near
/// there this season (never changing the answer itself).
#[cfg(feature = "ssr")]
pub(crate) async fn seen_nearby(
    state: &crate::state::AppState,
    view: &insectid::services::history::IdentificationView,
) -> Result<Vec<NearbyView>, AppError> {
    use insectid::services::observation::Place;
    use insectid::services::pressure::nearby;
    let Some(context) = view.context.as_ref().filter(|_| view.owned) else { return Ok(Vec::new()) };
    let taken =
        context.taken_at.as_deref().and_then(|t| chrono::NaiveDate::parse_from_str(t.get(..10)?, "%Y-%m-%d").ok());
    let place = context.latitude.zip(context.longitude).and_then(|(lat, lon)| Place::new(lat, lon).ok());
    let (Some(taken), Some(place)) = (taken, place) else { return Ok(Vec::new()) };
    let candidates: Vec<(String, String)> = view
        .identified
        .answer
        .top
        .iter()
        .filter_map(|t| insectid::catalogue::for_label(&t.label).map(|s| (t.label.clone(), s.key.clone())))
        .collect();
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    // Said beside the answer when it can be counted now; a busy moment leaves it out.
    let sightings = match state.sightings.get(&state.db, chrono::Utc::now().date_naive()).await {
        Ok(s) => s,
        Err(insectid::ServiceError::Busy(_)) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let keys: Vec<String> = candidates.iter().map(|(_, k)| k.clone()).collect();
    let found = nearby::seen_nearby(&sightings, place, taken, &keys, view.id);
    Ok(candidates
        .into_iter()
        .filter_map(|(label, key)| {
            found.iter().find(|(k, _)| *k == key).map(|(_, n)| NearbyView { label, sightings: *n })
        })
        .collect())
}

#[cfg(feature = "ssr")]
mod build {
    use insectid::services::pressure::{self, alerts, Cell, RegionPressure, Sighting};

    use super::*;

    pub fn region(cell: Cell, sightings: &[Sighting], today: chrono::NaiveDate) -> RegionView {
        let found = pressure::regions(sightings, None, today).into_iter().find(|r| r.cell == cell);
        let (total, recent) = found.map(|r| (r.total, r.recent)).unwrap_or_default();
        RegionView { key: cell.key(), name: cell.name(), total, recent }
    }

    pub fn regions(rows: Vec<RegionPressure>) -> Vec<RegionView> {
        rows.into_iter()
            .map(|r| RegionView { key: r.cell.key(), name: r.cell.name(), total: r.total, recent: r.recent })
            .collect()
    }

    pub fn weeks(today: chrono::NaiveDate) -> Vec<String> {
        let first = pressure::first_week(today);
        (0..pressure::WEEKS).map(|i| (first + chrono::Duration::weeks(i as i64)).to_string()).collect()
    }

    pub fn species(key: &str) -> Option<SpeciesSummary> {
        insectid::catalogue::get(key).map(crate::api::species::summary_of)
    }

    pub fn alert_views(all: &[alerts::Alert], sightings: &[Sighting], today: chrono::NaiveDate) -> Vec<AlertView> {
        all.iter()
            .filter_map(|a| {
                let this_week =
                    pressure::weekly(sightings, Some(&a.species_key), a.region, today).last().copied().unwrap_or(0);
                Some(AlertView {
                    id: a.id,
                    species: species(&a.species_key)?,
                    region: a.region.map(|c| region(c, sightings, today)),
                    weekly_threshold: a.weekly_threshold,
                    this_week,
                    active: this_week >= a.weekly_threshold,
                })
            })
            .collect()
    }

    pub fn parse_region(text: &str) -> Result<Option<Cell>, AppError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        crate::state::answer(Cell::parse(text)).map(Some)
    }
}

#[server(endpoint = "pest_pressure")]
pub async fn get_pest_pressure(region: String) -> Result<PressureOverview, AppError> {
    use insectid::services::pressure::{self, alerts};
    let crate::state::Caller { state, actor, .. } = crate::state::caller().await?;
    let region = build::parse_region(&region)?;
    let today = chrono::Utc::now().date_naive();
    let sightings = crate::state::answer(state.sightings.get(&state.db, today).await)?;
    let all_alerts = crate::state::answer(alerts::list(&state.db).await)?;
    let alert_views = build::alert_views(&all_alerts, &sightings, today);
    let active_here = |key: &str| {
        alert_views.iter().any(|a| {
            a.active
                && a.species.key == key
                && region.is_none_or(|c| a.region.as_ref().is_none_or(|r| r.key == c.key()))
        })
    };
    let rows = pressure::overview(&sightings, region, today)
        .into_iter()
        .filter_map(|p| {
            Some(PressureRow {
                alert_active: active_here(&p.species_key),
                species: build::species(&p.species_key)?,
                weekly: p.weekly,
                total: p.total,
                this_week: p.this_week,
            })
        })
        .collect();
    let subscription = match &actor {
        Some(actor) => Some(super::alert_mail::subscription_view(&state, actor).await?),
        None => None,
    };
    Ok(PressureOverview {
        region: region.map(|c| build::region(c, &sightings, today)),
        regions: build::regions(pressure::regions(&sightings, None, today)),
        rows,
        weeks: build::weeks(today),
        active_alerts: alert_views.into_iter().filter(|a| a.active).collect(),
        subscription,
    })
}

#[server(endpoint = "species_pressure")]
pub async fn get_species_pressure(key: String, region: String) -> Result<SpeciesPressureView, AppError> {
    use insectid::services::pressure::{self, alerts};
    let crate::state::Caller { state, actor, .. } = crate::state::caller().await?;
    let species = crate::state::answer(insectid::services::species::get(&key))?;
    let region = build::parse_region(&region)?;
    let today = chrono::Utc::now().date_naive();
    let sightings = crate::state::answer(state.sightings.get(&state.db, today).await)?;
    let weekly = pressure::weekly(&sightings, Some(&species.key), region, today);
    let all_alerts = crate::state::answer(alerts::list(&state.db).await)?;
    let mine: Vec<alerts::Alert> = all_alerts.into_iter().filter(|a| a.species_key == species.key).collect();
    Ok(SpeciesPressureView {
        species: crate::api::species::summary_of(species),
        region: region.map(|c| build::region(c, &sightings, today)),
        total: weekly.iter().sum(),
        weekly,
        weeks: build::weeks(today),
        regions: build::regions(pressure::regions(&sightings, Some(&species.key), today)),
        alerts: build::alert_views(&mine, &sightings, today),
        admin: actor.is_some_and(|a| a.role == insectid::auth::Role::Admin),
    })
}

/// Sets a species' weekly threshold in a region ("" for all regions) (administrators).
#[server(endpoint = "set_pest_alert")]
pub async fn set_pest_alert(species: String, region: String, threshold: String) -> Result<(), AppError> {
    let crate::state::Caller { state, actor, .. } = crate::state::caller().await?;
    let threshold: u32 = threshold
        .trim()
        .parse()
        .map_err(|_| AppError::InvalidInput(format!("the threshold {threshold:?} is not a whole number")))?;
    let cell = build::parse_region(&region)?;
    crate::state::answer(
        insectid::services::pressure::alerts::set(&state.db, actor.as_ref(), &species, cell, threshold).await,
    )?;
    leptos_axum::redirect(&format!("/pressure/{species}#alerts"));
    Ok(())
}

#[server(endpoint = "remove_pest_alert")]
pub async fn remove_pest_alert(id: i64) -> Result<(), AppError> {
    let crate::state::Caller { state, actor, .. } = crate::state::caller().await?;
    crate::state::answer(insectid::services::pressure::alerts::remove(&state.db, actor.as_ref(), id).await)
}

/// The active alerts for the caller, if they asked to see them (else none).
#[server(endpoint = "my_pest_alerts")]
pub async fn get_my_pest_alerts() -> Result<Vec<AlertView>, AppError> {
    use insectid::services::pressure::alerts;
    let crate::state::Caller { state, actor, .. } = crate::state::caller().await?;
    // Cheap for everyone who did not ask: no sightings are counted for them.
    if !crate::state::answer(alerts::is_subscribed(&state.db, actor.as_ref()).await)? {
        return Ok(Vec::new());
    }
    let watched = crate::state::answer(alerts::list(&state.db).await)?;
    if watched.is_empty() {
        return Ok(Vec::new());
    }
    let today = chrono::Utc::now().date_naive();
    let sightings = crate::state::answer(state.sightings.get(&state.db, today).await)?;
    let active: Vec<alerts::Alert> = alerts::active(&watched, &sightings, today).into_iter().map(|a| a.alert).collect();
    Ok(build::alert_views(&active, &sightings, today))
}
