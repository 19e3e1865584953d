//! The pace of this process's requests: LOAD_RATE per second across all its simulated people,
//! on a fixed timetable. goose's own throttle hands out a batch of tokens every ~10 ms and
//! measures each wait from when it woke, so every late wake-up is lost for good: with the CPU
//! busy it delivered 87–94 % of the rate asked for, and a run meant to be at 80 % of the
//! portal's capacity ran at ~72 %. Here a late wake-up delays one request, not the timetable.

use std::sync::{Mutex, OnceLock};

use tokio::time::{Duration, Instant};

struct Pace {
    interval: Duration,
    next: Mutex<Instant>,
}

static PACE: OnceLock<Option<Pace>> = OnceLock::new();

/// Reads LOAD_RATE (requests per second; unset or empty: as fast as the people can go).
pub fn from_env() -> Result<(), String> {
    let pace = match std::env::var("LOAD_RATE").ok().filter(|v| !v.trim().is_empty()) {
        None => None,
        Some(v) => {
            let rate: f64 = v.trim().parse().map_err(|_| format!("LOAD_RATE must be a number of requests per second, not {v:?}"))?;
            if !(rate.is_finite() && rate > 0.0) {
                return Err(format!("LOAD_RATE must be above zero, not {v:?}"));
            }
            Some(Pace { interval: Duration::from_secs_f64(1.0 / rate), next: Mutex::new(Instant::now()) })
        }
    };
    PACE.set(pace).map_err(|_| "the pace is set once".to_string())
}

/// Waits for this request's slot. Slots are 1/LOAD_RATE apart; a slot nobody took in time is
/// not kept for later, so a pause is never followed by a burst.
pub async fn turn() {
    let Some(Some(pace)) = PACE.get() else { return };
    let slot = {
        let mut next = pace.next.lock().unwrap_or_else(|e| e.into_inner());
        let slot = (*next).max(Instant::now());
        *next = slot + pace.interval;
        slot
    };
    tokio::time::sleep_until(slot).await;
}
