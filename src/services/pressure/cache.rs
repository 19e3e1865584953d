//! The year's sightings, counted at most once per `fresh_for` on this instance. Every page a
//! subscriber opens (the alert banner), every result with a date and a place (seen nearby) and
//! every pressure page needs them, and one count reads up to 50,000 rows. A write here that
//! changes them (a shared observation, a decided label, a deletion) makes the next use count
//! again; other instances' writes show within `fresh_for`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use sea_orm::DatabaseConnection;

use super::{sightings, Sighting};
use crate::ServiceError;

/// Writes on this instance that changed sightings, so far.
static CHANGES: AtomicU64 = AtomicU64::new(0);

/// Says that sightings changed: every cache counts again at its next use.
pub fn sightings_changed() {
    CHANGES.fetch_add(1, Ordering::Relaxed);
}

pub struct SightingsCache {
    fresh_for: Duration,
    slot: tokio::sync::Mutex<Option<Counted>>,
}

struct Counted {
    today: NaiveDate,
    changes: u64,
    at: Instant,
    sightings: Arc<Vec<Sighting>>,
}

impl SightingsCache {
    /// `fresh_for` zero: every call counts afresh.
    pub fn new(fresh_for: Duration) -> SightingsCache {
        SightingsCache { fresh_for, slot: tokio::sync::Mutex::new(None) }
    }

    pub async fn get(&self, db: &DatabaseConnection, today: NaiveDate) -> Result<Arc<Vec<Sighting>>, ServiceError> {
        if self.fresh_for.is_zero() {
            return Ok(Arc::new(sightings(db, today).await?));
        }
        // Held while counting: callers arriving meanwhile wait for that one count instead of
        // each starting their own.
        // Read before waiting: a count that began after the changes this caller knows of will
        // do, so callers queued behind a count take it rather than each counting again.
        let known = CHANGES.load(Ordering::Relaxed);
        let mut slot = self.slot.lock().await;
        let fresh = |c: &&Counted| c.today == today && c.changes >= known && c.at.elapsed() < self.fresh_for;
        if let Some(c) = slot.as_ref().filter(fresh) {
            return Ok(c.sightings.clone());
        }
        // Read before counting: a change made while counting makes the next use count again.
        let changes = CHANGES.load(Ordering::Relaxed);
        let counted = Arc::new(sightings(db, today).await?);
        *slot = Some(Counted { today, changes, at: Instant::now(), sightings: counted.clone() });
        Ok(counted)
    }
}
