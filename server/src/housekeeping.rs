//! Background housekeeping on every instance: anonymous identifications past their retention
//! period go, with the photos nothing else uses. Idempotent, so several instances may run it.

use std::time::Duration;

use app::state::AppState;

/// How often the sweep runs.
const EVERY: Duration = Duration::from_secs(15 * 60);

/// Starts the sweep (nothing when `retention_days` is 0: anonymous results are kept).
pub fn start(state: AppState, retention_days: u64) {
    if retention_days == 0 {
        return;
    }
    let keep = chrono::Duration::days(i64::try_from(retention_days).unwrap_or(i64::MAX / 86_400_000).min(365 * 100));
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(EVERY);
        loop {
            interval.tick().await;
            match insectid::services::retention::sweep_anonymous(&state.db, &state.photos, keep).await {
                Ok(r) if r.identifications > 0 => {
                    tracing::info!(identifications = r.identifications, photos = r.photos, "anonymous identifications past their retention removed")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "the retention sweep failed; it runs again later"),
            }
        }
    });
}
