//! Background housekeeping on every instance: dataset downloads older than a day go, so do
//! sign-in failures past the throttling window, and anonymous identifications past their
//! retention period, with the photos nothing else uses.
//! Idempotent, so several instances may run it.

use std::time::Duration;

use app::state::AppState;
use insectid::services::{dataset_export, retention};

/// How often the sweep runs.
const EVERY: Duration = Duration::from_secs(15 * 60);

/// Starts the sweep; `retention_days` 0 keeps anonymous results for ever.
pub fn start(state: AppState, retention_days: u64) {
    let keep = (retention_days > 0)
        .then(|| chrono::Duration::days(i64::try_from(retention_days.min(36_500)).unwrap_or(36_500)));
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(EVERY);
        loop {
            interval.tick().await;
            let dir = state.jobs.dir.clone();
            match tokio::task::spawn_blocking(move || dataset_export::remove_expired(&dir, dataset_export::KEEP)).await
            {
                Ok(Ok(n)) if n > 0 => tracing::info!(archives = n, "expired dataset downloads removed"),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "removing expired dataset downloads failed"),
                Err(e) => tracing::warn!(error = %e, "removing expired dataset downloads failed"),
            }
            if let Err(e) = insectid::services::accounts::forget_old_failures(&state.db).await {
                tracing::warn!(error = %e, "forgetting old sign-in failures failed");
            }
            let Some(keep) = keep else { continue };
            match retention::sweep_anonymous(&state.db, &state.photos, keep).await {
                Ok(r) if r.identifications > 0 => {
                    tracing::info!(
                        identifications = r.identifications,
                        photos = r.photos,
                        "anonymous identifications past their retention removed"
                    )
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "the retention sweep failed; it runs again later"),
            }
        }
    });
}
