//! The regions pest pressure is counted in: a grid of one-degree cells (about 111 km north to
//! south), coarse enough that a count never points at a field.

use serde::{Deserialize, Serialize};

use crate::services::observation::Place;
use crate::ServiceError;

/// A one-degree cell, named by its south-west corner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Cell {
    pub south: i16,
    pub west: i16,
}

impl Cell {
    pub fn of(place: Place) -> Cell {
        // A place on the north pole or the date line's east edge belongs to the cell below.
        let south = (place.latitude.floor() as i16).clamp(-90, 89);
        let west = (place.longitude.floor() as i16).clamp(-180, 179);
        Cell { south, west }
    }

    /// The key in URLs and alerts: "48N7E", "34S151E", "0N1W".
    pub fn key(self) -> String {
        let (ns, ew) = (if self.south < 0 { 'S' } else { 'N' }, if self.west < 0 { 'W' } else { 'E' });
        format!("{}{ns}{}{ew}", self.south.unsigned_abs(), self.west.unsigned_abs())
    }

    /// As people read it: "48–49°N, 7–8°E".
    pub fn name(self) -> String {
        let span = |from: i16, positive: char, negative: char| {
            let to = from + 1;
            if from >= 0 {
                format!("{from}–{to}°{positive}")
            } else if to <= 0 {
                format!("{}–{}°{negative}", to.unsigned_abs(), from.unsigned_abs())
            } else {
                format!("1°{negative}–0°")
            }
        };
        format!("{}, {}", span(self.south, 'N', 'S'), span(self.west, 'E', 'W'))
    }

    pub fn parse(key: &str) -> Result<Cell, ServiceError> {
        let bad = || ServiceError::InvalidInput(format!("{key:?} is not a region (like 48N7E)"));
        let key = key.trim().to_ascii_uppercase();
        // Digits, a hemisphere letter, digits, a hemisphere letter: nothing else (no signs,
        // no other characters), so the numbers stay small and every slice is on ASCII.
        if !key.is_ascii() || key.len() > 8 {
            return Err(bad());
        }
        let split = key.find(['N', 'S']).ok_or_else(bad)?;
        let (lat, rest) = key.split_at(split);
        let (ns, lon) = rest.split_at(1);
        let (lon, ew) = lon.split_at(lon.len().checked_sub(1).ok_or_else(bad)?);
        let degrees =
            |d: &str| (!d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())).then(|| d.parse::<i16>().ok()).flatten();
        let (lat, lon) = (degrees(lat).ok_or_else(bad)?, degrees(lon).ok_or_else(bad)?);
        let south = if ns == "S" { -lat } else { lat };
        let west = match ew {
            "W" => -lon,
            "E" => lon,
            _ => return Err(bad()),
        };
        if !(-90..=89).contains(&south) || !(-180..=179).contains(&west) {
            return Err(bad());
        }
        Ok(Cell { south, west })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_named_by_their_south_west_corner_and_parse_back() {
        let cell = Cell::of(Place { latitude: 48.13, longitude: 7.53 });
        assert_eq!((cell.key(), cell.name()), ("48N7E".to_string(), "48–49°N, 7–8°E".to_string()));
        let south = Cell::of(Place { latitude: -33.9, longitude: -70.6 });
        assert_eq!((south.key(), south.name()), ("34S71W".to_string(), "33–34°S, 70–71°W".to_string()));
        for cell in [cell, south, Cell { south: 89, west: 179 }, Cell { south: -1, west: -1 }] {
            assert_eq!(Cell::parse(&cell.key()).unwrap(), cell);
        }
        assert_eq!(Cell::of(Place { latitude: 90.0, longitude: 180.0 }), Cell { south: 89, west: 179 });
        for bad in ["", "48N", "N7E", "91N0E", "48X7E", "48N7Q", "48N181E", "48N7É", "-32768S0E", "+4N5E", "99999N1E"]
        {
            assert!(Cell::parse(bad).is_err(), "{bad}");
        }
    }
}
