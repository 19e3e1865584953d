//! An identification as an observation: when and where its photo was taken, as the photo's
//! EXIF, the uploading device or its owner tells it, and whether the owner shares it.
//!
//! The exact date and place are private to the owner. Shared, they go out coarse: the day,
//! and the place rounded to 0.01° (about 1 km).

use chrono::{NaiveDate, NaiveDateTime, Utc};
use sea_orm::{ActiveModelTrait, DatabaseConnection, EntityTrait, IntoActiveModel, Set};
use serde::{Deserialize, Serialize};

use super::history::IdentificationView;
use super::users::require;
use crate::auth::{Account, Role};
use crate::entities::identification::{self, ContextSource};
use crate::storage::metadata::PhotoContext;
use crate::ServiceError;

/// The format dates and times are kept in (the camera's clock; EXIF records no time zone).
const TAKEN_AT: &str = "%Y-%m-%d %H:%M:%S";

/// Degrees a shared place is rounded to (0.01° of latitude is 1.1 km).
pub const COARSE_DEGREES: f64 = 0.01;

/// A position on the earth, in degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Place {
    pub latitude: f64,
    pub longitude: f64,
}

impl Place {
    pub fn new(latitude: f64, longitude: f64) -> Result<Place, ServiceError> {
        if !(latitude.is_finite() && (-90.0..=90.0).contains(&latitude)) {
            return Err(ServiceError::InvalidInput(format!("latitude {latitude} is not between -90 and 90")));
        }
        if !(longitude.is_finite() && (-180.0..=180.0).contains(&longitude)) {
            return Err(ServiceError::InvalidInput(format!("longitude {longitude} is not between -180 and 180")));
        }
        Ok(Place { latitude, longitude })
    }

    /// The place as it is shown to others: rounded to about 1 km.
    pub fn coarse(self) -> Place {
        let round = |d: f64| (d / COARSE_DEGREES).round() * COARSE_DEGREES;
        Place { latitude: round(self.latitude), longitude: round(self.longitude) }
    }
}

fn number(text: &str, what: &str) -> Result<Option<f64>, ServiceError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse::<f64>()
        .map(Some)
        .map_err(|_| ServiceError::InvalidInput(format!("the {what} {text:?} is not a number of degrees")))
}

/// A place typed into a form: both numbers or neither.
pub fn parse_place(latitude: &str, longitude: &str) -> Result<Option<Place>, ServiceError> {
    match (number(latitude, "latitude")?, number(longitude, "longitude")?) {
        (Some(lat), Some(lon)) => Place::new(lat, lon).map(Some),
        (None, None) => Ok(None),
        _ => Err(ServiceError::InvalidInput("give both latitude and longitude, or neither".into())),
    }
}

/// A date, or a date and time, as forms send them ("2026-06-01", "2026-06-01T09:12",
/// "2026-06-01 09:12:30"), in the kept format. Not before 1990 nor after tomorrow.
pub fn parse_taken_at(text: &str) -> Result<Option<String>, ServiceError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let normal = text.replacen('T', " ", 1);
    let parsed = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(&normal, f).ok())
        .or_else(|| NaiveDate::parse_from_str(&normal, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(12, 0, 0)))
        .ok_or_else(|| {
            ServiceError::InvalidInput(format!("{text:?} is not a date (YYYY-MM-DD, optionally with HH:MM)"))
        })?;
    let latest = (Utc::now() + chrono::Duration::days(1)).naive_utc();
    let earliest = NaiveDate::from_ymd_opt(1990, 1, 1).and_then(|d| d.and_hms_opt(0, 0, 0)).unwrap_or_default();
    if parsed > latest || parsed < earliest {
        return Err(ServiceError::InvalidInput(format!("{text:?} is not a date between 1990 and today")));
    }
    Ok(Some(parsed.format(TAKEN_AT).to_string()))
}

/// A date and place as a form or an API call gives them.
pub fn parse_context(taken_at: &str, latitude: &str, longitude: &str) -> Result<PhotoContext, ServiceError> {
    let place = parse_place(latitude, longitude)?;
    Ok(PhotoContext {
        taken_at: parse_taken_at(taken_at)?,
        latitude: place.map(|p| p.latitude),
        longitude: place.map(|p| p.longitude),
    })
}

/// What a new identification keeps: the photo's own date and place first, the device's for
/// what the photo does not say.
pub fn merge(from_photo: PhotoContext, from_device: PhotoContext) -> (PhotoContext, Option<ContextSource>) {
    let photo_place = from_photo.latitude.is_some() && from_photo.longitude.is_some();
    let source = if from_photo.taken_at.is_some() || photo_place {
        Some(ContextSource::Photo)
    } else if from_device != PhotoContext::default() {
        Some(ContextSource::Device)
    } else {
        None
    };
    let (latitude, longitude) = if photo_place {
        (from_photo.latitude, from_photo.longitude)
    } else {
        (from_device.latitude, from_device.longitude)
    };
    (PhotoContext { taken_at: from_photo.taken_at.or(from_device.taken_at), latitude, longitude }, source)
}

/// The owner sets (or clears) the date and place of an identification and whether it is
/// shared. Nobody else may, not even an administrator: it is the owner's account of it.
pub async fn update(
    db: &DatabaseConnection,
    actor: Option<&Account>,
    id: i64,
    context: PhotoContext,
    shared: bool,
) -> Result<IdentificationView, ServiceError> {
    let actor = require(actor, Role::User)?;
    let row = identification::Entity::find_by_id(id).one(db).await?;
    let row = match row {
        Some(row) if row.user_id == Some(actor.id) => row,
        Some(_) if actor.role == Role::Admin => {
            return Err(ServiceError::Forbidden("only its owner may change when and where a photo was taken".into()))
        }
        _ => return Err(ServiceError::NotFound(format!("identification {id}"))),
    };
    let stored = PhotoContext { taken_at: row.taken_at.clone(), latitude: row.latitude, longitude: row.longitude };
    // The form shows degrees to 5 decimals (about 1 m): a place sent back unchanged keeps the
    // stored one, so sharing alone does not round it or make it the owner's.
    let same = |new: Option<f64>, old: Option<f64>| match (new, old) {
        (Some(n), Some(o)) if (n - o).abs() < 5.1e-6 => Some(o),
        _ => new,
    };
    let context = PhotoContext {
        latitude: same(context.latitude, stored.latitude),
        longitude: same(context.longitude, stored.longitude),
        ..context
    };
    let source = if context == stored {
        row.context_source
    } else if context == PhotoContext::default() {
        None
    } else {
        Some(ContextSource::Owner)
    };
    let mut active = row.into_active_model();
    active.taken_at = Set(context.taken_at);
    active.latitude = Set(context.latitude);
    active.longitude = Set(context.longitude);
    active.context_source = Set(source);
    active.shared = Set(shared);
    let row = active.update(db).await?;
    super::pressure::cache::sightings_changed();
    super::history::view(row, Some(actor))
}

/// An observation as others see it once shared: the day, and the place rounded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SharedObservation {
    /// "YYYY-MM-DD".
    pub taken_on: Option<String>,
    pub place: Option<Place>,
}

pub fn shared_view(row: &identification::Model) -> Option<SharedObservation> {
    if !row.shared {
        return None;
    }
    let place = row.latitude.zip(row.longitude).and_then(|(lat, lon)| Place::new(lat, lon).ok());
    Some(SharedObservation {
        taken_on: row.taken_at.as_ref().and_then(|t| t.get(..10)).map(str::to_string),
        place: place.map(Place::coarse),
    })
}

/// A square around a place: what "near" means in filters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Area {
    pub center: Place,
    pub km: f64,
}

/// Kilometres in one degree of latitude.
const KM_PER_DEGREE: f64 = 111.32;

impl Area {
    pub fn new(center: Place, km: f64) -> Result<Area, ServiceError> {
        if !(km.is_finite() && (0.1..=2000.0).contains(&km)) {
            return Err(ServiceError::InvalidInput(format!("a distance of {km} km is not between 0.1 and 2000")));
        }
        Ok(Area { center, km })
    }

    /// Latitude bounds, and the longitude ranges (two where the square crosses the date line).
    pub fn bounds(&self) -> ((f64, f64), Vec<(f64, f64)>) {
        let dlat = self.km / KM_PER_DEGREE;
        let latitudes = ((self.center.latitude - dlat).max(-90.0), (self.center.latitude + dlat).min(90.0));
        let widest = latitudes.0.abs().max(latitudes.1.abs()).to_radians().cos();
        if widest < 1e-6 {
            return (latitudes, vec![(-180.0, 180.0)]);
        }
        let dlon = self.km / (KM_PER_DEGREE * widest);
        if dlon >= 180.0 {
            return (latitudes, vec![(-180.0, 180.0)]);
        }
        let (west, east) = (self.center.longitude - dlon, self.center.longitude + dlon);
        let longitudes = if west < -180.0 {
            vec![(west + 360.0, 180.0), (-180.0, east)]
        } else if east > 180.0 {
            vec![(west, 180.0), (-180.0, east - 360.0)]
        } else {
            vec![(west, east)]
        };
        (latitudes, longitudes)
    }
}

/// "Near" as a form gives it: a place and a distance, all three or none.
pub fn parse_area(latitude: &str, longitude: &str, km: &str) -> Result<Option<Area>, ServiceError> {
    let place = parse_place(latitude, longitude)?;
    let km = number(km, "distance")?;
    match (place, km) {
        (Some(center), Some(km)) => Area::new(center, km).map(Some),
        (Some(center), None) => Area::new(center, 10.0).map(Some),
        (None, None) => Ok(None),
        (None, Some(_)) => Err(ServiceError::InvalidInput("give the place to measure the distance from".into())),
    }
}

/// A day typed into a filter.
pub fn parse_day(text: &str) -> Result<Option<NaiveDate>, ServiceError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| ServiceError::InvalidInput(format!("{text:?} is not a date (YYYY-MM-DD)")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_parse_to_the_kept_format_and_bad_values_are_refused() {
        assert_eq!(parse_taken_at("2024-06-01T09:12").unwrap().as_deref(), Some("2024-06-01 09:12:00"));
        assert_eq!(parse_taken_at(" 2024-06-01 ").unwrap().as_deref(), Some("2024-06-01 12:00:00"));
        assert_eq!(parse_taken_at("").unwrap(), None);
        for bad in ["yesterday", "1989-12-31", "2999-01-01", "2024-13-01"] {
            assert!(matches!(parse_taken_at(bad), Err(ServiceError::InvalidInput(_))), "{bad}");
        }
        assert_eq!(parse_place("48.1", "-7.5").unwrap(), Some(Place { latitude: 48.1, longitude: -7.5 }));
        assert!(parse_place("48.1", "").is_err(), "half a place");
        assert!(parse_place("91", "0").is_err() && parse_place("0", "NaN").is_err() && parse_place("x", "1").is_err());
    }

    #[test]
    fn a_shared_place_is_rounded_to_about_a_kilometre() {
        let coarse = Place { latitude: 48.12534, longitude: 7.52531 }.coarse();
        assert!((coarse.latitude - 48.13).abs() < 1e-9 && (coarse.longitude - 7.53).abs() < 1e-9, "{coarse:?}");
    }

    #[test]
    fn the_photo_comes_first_and_the_device_fills_in() {
        let photo = PhotoContext { taken_at: Some("2024-06-01 09:12:00".into()), ..Default::default() };
        let device =
            PhotoContext { taken_at: Some("2026-11-30 10:00:00".into()), latitude: Some(1.0), longitude: Some(2.0) };
        let (kept, source) = merge(photo, device.clone());
        assert_eq!(kept.taken_at.as_deref(), Some("2024-06-01 09:12:00"));
        assert_eq!((kept.latitude, kept.longitude), (Some(1.0), Some(2.0)));
        assert_eq!(source, Some(ContextSource::Photo));
        assert_eq!(merge(PhotoContext::default(), device.clone()), (device, Some(ContextSource::Device)));
        assert_eq!(merge(PhotoContext::default(), PhotoContext::default()).1, None);
    }

    #[test]
    fn an_area_is_a_square_that_wraps_at_the_date_line() {
        let area = Area::new(Place { latitude: 0.0, longitude: 179.95 }, 11.132).unwrap();
        let ((south, north), lons) = area.bounds();
        assert!((south + 0.1).abs() < 1e-9 && (north - 0.1).abs() < 1e-9);
        assert_eq!(lons.len(), 2, "{lons:?}");
        assert!((lons[0].0 - 179.85).abs() < 1e-6 && (lons[1].1 + 179.95).abs() < 1e-6, "{lons:?}");
        assert!(parse_area("1", "2", "").unwrap().is_some_and(|a| a.km == 10.0));
        assert!(parse_area("", "", "5").is_err() && parse_area("1", "2", "0").is_err());
    }
}
