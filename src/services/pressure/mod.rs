//! Pest pressure: confirmed sightings per species, week and region over the last year.
//!
//! A sighting is an identification its owner shared (see `observation`) whose species is
//! confirmed: by a decided label (accepted feedback, agreeing labelers), else by a confident
//! answer. It counts in the week the photo was taken (else the week it was identified) and,
//! when its place is known, in that place's one-degree cell. Unshared observations never
//! count: where and when someone photographed something is theirs to share.

pub mod alerts;
pub mod nearby;
pub mod region;

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, Duration, NaiveDate, Utc};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect};
use serde::{Deserialize, Serialize};

pub use region::Cell;

use super::observation::Place;
use crate::catalogue;
use crate::entities::identification::{self, VerdictKind};
use crate::entities::photo_label;
use crate::ServiceError;

/// Weeks a chart covers, this one included.
pub const WEEKS: usize = 52;
/// Shared identifications read for one count at most (a year of a busy portal).
const MAX_ROWS: u64 = 200_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sighting {
    pub identification_id: i64,
    pub species_key: String,
    /// The day it was taken (else identified), and the Monday of that week.
    pub taken: NaiveDate,
    pub week: NaiveDate,
    pub cell: Option<Cell>,
}

/// The Monday of `day`'s week.
pub fn week_of(day: NaiveDate) -> NaiveDate {
    day - Duration::days(i64::from(day.weekday().num_days_from_monday()))
}

/// The first week a chart ending in `today`'s week shows.
pub fn first_week(today: NaiveDate) -> NaiveDate {
    week_of(today) - Duration::weeks(WEEKS as i64 - 1)
}

type Row = (i64, String, String, VerdictKind, Option<String>, Option<f64>, Option<f64>, chrono::DateTime<Utc>);

/// The confirmed, shared sightings of the [`WEEKS`] weeks up to `today`.
pub async fn sightings(db: &DatabaseConnection, today: NaiveDate) -> Result<Vec<Sighting>, ServiceError> {
    use identification::Column;
    let first = first_week(today);
    let since = first.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    // A photo is identified after it is taken, so nothing identified before the first week
    // can have been taken in it.
    let rows: Vec<Row> = identification::Entity::find()
        .select_only()
        .columns([Column::Id, Column::ImageSha256, Column::TopLabel, Column::Verdict, Column::TakenAt])
        .columns([Column::Latitude, Column::Longitude, Column::CreatedAt])
        .filter(Column::Shared.eq(true))
        .filter(Column::CreatedAt.gte(since))
        .limit(MAX_ROWS)
        .into_tuple()
        .all(db)
        .await?;
    let mut labels: HashMap<String, String> = HashMap::new();
    for chunk in rows.chunks(500) {
        let shas: Vec<&String> = chunk.iter().map(|r| &r.1).collect();
        let found: Vec<(String, String)> = photo_label::Entity::find()
            .select_only()
            .columns([photo_label::Column::ImageSha256, photo_label::Column::Label])
            .filter(photo_label::Column::ImageSha256.is_in(shas))
            .into_tuple()
            .all(db)
            .await?;
        labels.extend(found);
    }
    let last = week_of(today);
    Ok(rows
        .into_iter()
        .filter_map(|(id, sha, top_label, verdict, taken_at, latitude, longitude, created_at)| {
            // People's label decides; without one, only a confident answer counts.
            let species = match labels.get(&sha) {
                Some(label) => catalogue::for_label(label)?,
                None if verdict == VerdictKind::Confident => catalogue::for_label(&top_label)?,
                None => return None,
            };
            let taken = taken_at.as_deref().and_then(|t| NaiveDate::parse_from_str(t.get(..10)?, "%Y-%m-%d").ok());
            let week = week_of(taken.unwrap_or(created_at.date_naive()));
            let place = latitude.zip(longitude).and_then(|(lat, lon)| Place::new(lat, lon).ok());
            (first..=last).contains(&week).then(|| Sighting {
                identification_id: id,
                species_key: species.key.clone(),
                taken: taken.unwrap_or(created_at.date_naive()),
                week,
                cell: place.map(Cell::of),
            })
        })
        .collect())
}

fn matches(s: &Sighting, species: Option<&str>, region: Option<Cell>) -> bool {
    species.is_none_or(|k| s.species_key == k) && region.is_none_or(|c| s.cell == Some(c))
}

/// Counts per week, oldest first ([`WEEKS`] of them, ending with `today`'s week).
pub fn weekly(sightings: &[Sighting], species: Option<&str>, region: Option<Cell>, today: NaiveDate) -> Vec<u32> {
    let first = first_week(today);
    let mut counts = vec![0u32; WEEKS];
    for s in sightings.iter().filter(|s| matches(s, species, region)) {
        let i = ((s.week - first).num_days() / 7) as usize;
        if let Some(c) = counts.get_mut(i) {
            *c += 1;
        }
    }
    counts
}

/// One species' year in a region (or everywhere).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpeciesPressure {
    pub species_key: String,
    pub weekly: Vec<u32>,
    pub total: u32,
    pub this_week: u32,
}

/// Every species with sightings, busiest this week first, then busiest over the year.
pub fn overview(sightings: &[Sighting], region: Option<Cell>, today: NaiveDate) -> Vec<SpeciesPressure> {
    let mut keys: Vec<&str> =
        sightings.iter().filter(|s| matches(s, None, region)).map(|s| s.species_key.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    let mut rows: Vec<SpeciesPressure> = keys
        .into_iter()
        .map(|key| {
            let weekly = weekly(sightings, Some(key), region, today);
            SpeciesPressure {
                species_key: key.to_string(),
                total: weekly.iter().sum(),
                this_week: weekly.last().copied().unwrap_or(0),
                weekly,
            }
        })
        .collect();
    rows.sort_by(|a, b| (b.this_week, b.total).cmp(&(a.this_week, a.total)).then(a.species_key.cmp(&b.species_key)));
    rows
}

/// One region's record for a species.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegionPressure {
    pub cell: Cell,
    pub total: u32,
    /// The last four weeks, this one included.
    pub recent: u32,
}

/// The regions a species (or any, with `None`) was seen in, busiest lately first.
pub fn regions(sightings: &[Sighting], species: Option<&str>, today: NaiveDate) -> Vec<RegionPressure> {
    let recent_from = week_of(today) - Duration::weeks(3);
    let mut by_cell: BTreeMap<Cell, (u32, u32)> = BTreeMap::new();
    for s in sightings.iter().filter(|s| matches(s, species, None)) {
        if let Some(cell) = s.cell {
            let entry = by_cell.entry(cell).or_default();
            entry.0 += 1;
            entry.1 += u32::from(s.week >= recent_from);
        }
    }
    let mut rows: Vec<RegionPressure> =
        by_cell.into_iter().map(|(cell, (total, recent))| RegionPressure { cell, total, recent }).collect();
    rows.sort_by(|a, b| (b.recent, b.total).cmp(&(a.recent, a.total)).then(a.cell.cmp(&b.cell)));
    rows
}

/// Counts per week, species and region as CSV (`week,species_key,species,region,sightings`;
/// region empty where the place is unknown), for a spreadsheet.
pub fn csv(sightings: &[Sighting], species: Option<&str>) -> String {
    let mut counts: BTreeMap<(NaiveDate, &str, String), u32> = BTreeMap::new();
    for s in sightings.iter().filter(|s| matches(s, species, None)) {
        *counts.entry((s.week, s.species_key.as_str(), s.cell.map(Cell::key).unwrap_or_default())).or_default() += 1;
    }
    let mut out = String::from("week,species_key,species,region,sightings\n");
    for ((week, key, region), n) in counts {
        let name = catalogue::get(key).map(|s| s.name_en.replace('"', "\"\"")).unwrap_or_default();
        out.push_str(&format!("{week},{key},\"{name}\",{region},{n}\n"));
    }
    out
}
