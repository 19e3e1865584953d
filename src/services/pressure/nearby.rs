//! "Seen near you this season": for a photo with a date and a place, which of its candidate
//! species were confirmed nearby around the same time of year. Said beside the candidates,
//! never folded into the model's probabilities: the answer stays the model's.

use chrono::{Datelike, NaiveDate};

use super::{Cell, Sighting};
use crate::services::observation::Place;

/// Days either side of the photo's day of the year that count as the same season.
pub const SEASON_DAYS: i64 = 28;
/// Sightings needed before the page says "seen near you".
pub const MIN_SIGHTINGS: u32 = 3;

/// Whether two cells touch (or are the same): "near" is the 3 × 3 cells around the photo's,
/// about 330 km across.
fn near(a: Cell, b: Cell) -> bool {
    let dlon = (i32::from(a.west) - i32::from(b.west)).rem_euclid(360);
    (i32::from(a.south) - i32::from(b.south)).abs() <= 1 && (dlon <= 1 || dlon >= 359)
}

/// Days between two dates' places in the year, either way round the new year.
fn season_gap(a: NaiveDate, b: NaiveDate) -> i64 {
    let d = (i64::from(a.ordinal()) - i64::from(b.ordinal())).abs();
    d.min(365 - d)
}

/// For each species key asked about, the confirmed sightings near `place` in the season of
/// `taken`, leaving out the photo's own identification; only those with at least
/// [`MIN_SIGHTINGS`], in the order asked.
pub fn seen_nearby(
    sightings: &[Sighting],
    place: Place,
    taken: NaiveDate,
    species: &[String],
    own_identification: i64,
) -> Vec<(String, u32)> {
    let here = Cell::of(place);
    species
        .iter()
        .filter_map(|key| {
            let n = sightings
                .iter()
                .filter(|s| &s.species_key == key && s.identification_id != own_identification)
                .filter(|s| s.cell.is_some_and(|c| near(c, here)) && season_gap(s.taken, taken) <= SEASON_DAYS)
                .count() as u32;
            (n >= MIN_SIGHTINGS).then(|| (key.clone(), n))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sighting(id: i64, key: &str, taken: &str, lat: f64, lon: f64) -> Sighting {
        let taken = NaiveDate::parse_from_str(taken, "%Y-%m-%d").unwrap();
        Sighting {
            identification_id: id,
            species_key: key.into(),
            taken,
            week: super::super::week_of(taken),
            cell: Some(Cell::of(Place { latitude: lat, longitude: lon })),
        }
    }

    #[test]
    fn only_enough_sightings_close_by_in_the_same_season_count() {
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let all = vec![
            sighting(1, "a", "2026-06-01", 48.1, 7.5),
            sighting(2, "a", "2026-06-20", 48.9, 8.9),  // the next cell east
            sighting(3, "a", "2025-06-25", 47.5, 6.5),  // a year before, same season, cell south-west
            sighting(4, "a", "2026-09-01", 48.1, 7.5),  // another season
            sighting(5, "a", "2026-06-01", 45.0, 7.5),  // too far south
            sighting(6, "b", "2026-06-01", 48.1, 7.5),  // another species
            sighting(7, "a", "2026-06-03", 48.2, 7.6),  // the photo itself
            sighting(8, "c", "2026-01-02", 0.5, 179.5), // across the date line and the new year
            sighting(9, "c", "2025-12-20", 0.5, -179.5),
            sighting(10, "c", "2026-01-10", 1.5, -179.5),
        ];
        let here = Place { latitude: 48.2, longitude: 7.6 };
        let keys = vec!["a".to_string(), "b".to_string()];
        assert_eq!(seen_nearby(&all, here, day("2026-06-10"), &keys, 7), vec![("a".to_string(), 3)]);
        assert!(seen_nearby(&all, here, day("2026-08-05"), &keys, 7).is_empty(), "one in season: not enough");
        let pacific = Place { latitude: 0.9, longitude: -179.9 };
        let c = vec!["c".to_string()];
        assert_eq!(seen_nearby(&all, pacific, day("2026-12-30"), &c, 0), vec![("c".to_string(), 3)]);
    }
}
