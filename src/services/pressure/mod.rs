//! Pest pressure: confirmed sightings per species, week and region over the last year.
//!
//! A sighting is an identification its owner shared (see `observation`) whose species is
//! confirmed: by a decided label (accepted feedback, agreeing labelers), else by a confident
//! answer, and whose date is known. It counts in the week the photo was taken and, when its
//! place is known, in the one-degree cell of that place as shared (rounded). Unshared
//! observations never count: where and when someone photographed something is theirs to share.

pub mod alerts;
pub mod cache;
pub mod mail;
pub mod mail_address;
pub mod nearby;
pub mod region;

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDate};
use sea_orm::sea_query::{Expr, ExprTrait, Order, Query};
use sea_orm::{DatabaseConnection, FromQueryResult};
use serde::{Deserialize, Serialize};

pub use cache::SightingsCache;
pub use region::Cell;

use super::observation::Place;
use crate::catalogue;
use crate::entities::identification;
use crate::entities::photo_label;
use crate::ServiceError;

/// Weeks a chart covers, this one included.
pub const WEEKS: usize = 52;
/// Shared identifications read for one count at most (a year of a busy portal).
const MAX_ROWS: u64 = 50_000;

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

/// One shared identification with its decided label, if any.
#[derive(FromQueryResult)]
struct Row {
    id: i64,
    image_sha256: String,
    top_label: String,
    verdict: String,
    taken_at: String,
    latitude: Option<f64>,
    longitude: Option<f64>,
    label: Option<String>,
}

/// Counts made at once: each reads up to [`MAX_ROWS`] rows, so a flood of requests waits
/// its turn as "busy" instead of piling up on the database.
static COUNTING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// The confirmed, shared sightings of the [`WEEKS`] weeks up to `today`, one per photo and
/// species (the same photo shared twice counts once).
pub async fn sightings(db: &DatabaseConnection, today: NaiveDate) -> Result<Vec<Sighting>, ServiceError> {
    use identification::{Column as I, Entity as Identification};
    use photo_label::{Column as L, Entity as Label};
    let Ok(_turn) = COUNTING.try_acquire() else {
        return Err(ServiceError::Busy("the server is counting sightings for others; retry in a moment".into()));
    };
    let first = first_week(today);
    // Kept as "YYYY-MM-DD HH:MM:SS", which sorts as text. Only dated observations count: an
    // upload's own date is not what its owner shared.
    let stmt = Query::select()
        .columns([(Identification, I::Id), (Identification, I::ImageSha256), (Identification, I::TopLabel)])
        .columns([(Identification, I::Verdict), (Identification, I::TakenAt)])
        .columns([(Identification, I::Latitude), (Identification, I::Longitude)])
        .column((Label, L::Label))
        .from(Identification)
        .left_join(Label, Expr::col((Identification, I::ImageSha256)).equals((Label, L::ImageSha256)))
        .and_where(Expr::col((Identification, I::Shared)).eq(true))
        .and_where(Expr::col((Identification, I::TakenAt)).gte(format!("{first} 00:00:00")))
        .order_by((Identification, I::TakenAt), Order::Desc)
        .limit(MAX_ROWS)
        .to_owned();
    let rows = Row::find_by_statement(db.get_database_backend().build(&stmt)).all(db).await?;
    let last = week_of(today);
    let mut seen = std::collections::HashSet::new();
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            // People's label decides; without one, only a confident answer counts.
            let species = match &row.label {
                Some(label) => catalogue::for_label(label)?,
                None if row.verdict == "confident" => catalogue::for_label(&row.top_label)?,
                None => return None,
            };
            let taken = NaiveDate::parse_from_str(row.taken_at.get(..10)?, "%Y-%m-%d").ok()?;
            let week = week_of(taken);
            // The cell of the place as shared (rounded), never of the exact one.
            let place = row.latitude.zip(row.longitude).and_then(|(lat, lon)| Place::new(lat, lon).ok());
            let fresh = seen.insert((row.image_sha256, species.key.clone()));
            (fresh && (first..=last).contains(&week)).then(|| Sighting {
                identification_id: row.id,
                species_key: species.key.clone(),
                taken,
                week,
                cell: place.map(|p| Cell::of(p.coarse())),
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
