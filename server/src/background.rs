//! What runs beside the requests: following the model registry (several instances) and the
//! job runner.

use app::state::AppState;

use crate::config::Config;
use crate::StartError;

/// Follows the registry: when an administrator activates a version on another instance, this
/// one switches to it within `every` (the engine's switch is atomic, heat maps follow).
pub fn follow_active_model(state: AppState, every: std::time::Duration) {
    tokio::spawn(async move {
        // Acting only when the registry's choice changes (not whenever it differs from the
        // engine) keeps a local activation, whose engine switches just before the registry
        // records it, from being undone in between.
        let mut seen: Option<(String, String)> = None;
        loop {
            tokio::time::sleep(every).await;
            let row = match insectid::services::models::active(&state.db).await {
                Ok(Some(row)) => row,
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "reading the active model from the registry failed");
                    continue;
                }
            };
            let chosen = (row.name.clone(), row.version.clone());
            if seen.as_ref() == Some(&chosen) {
                continue;
            }
            seen = Some(chosen);
            let current = state.engine.active();
            if current.status.name == row.name && current.status.version == row.version {
                continue;
            }
            let (engine, dir) = (state.engine.clone(), std::path::PathBuf::from(&row.dir));
            match tokio::task::spawn_blocking(move || engine.switch_to(&dir)).await {
                Ok(Ok(_)) => {
                    tracing::info!(model = %row.name, version = %row.version, "switched to the version activated on another instance");
                    state.heatmaps.reload(row.dir.clone().into(), state.engine.active().manifest.clone()).await;
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, version = %row.version, "the activated version does not load here")
                }
                Err(e) => tracing::warn!(error = %e, "switching models failed"),
            }
        }
    });
}

/// Starts this instance's job runner. On SQLite there is only ever one instance, so a job
/// still "running" was this process's before a restart: it is interrupted at once. On
/// PostgreSQL other instances may be running theirs; only stale heartbeats count.
pub async fn start_job_runner(state: &AppState, config: &Config) -> Result<(), StartError> {
    use insectid::jobs::{queue, JobContext, JobRunner};
    let settings = config.runner_settings();
    if state.db.get_database_backend() == sea_orm::DatabaseBackend::Sqlite {
        let seen = queue::reap(&state.db, std::time::Duration::ZERO, settings.max_attempts, settings.auto_resume)
            .await
            .map_err(|e| StartError(format!("jobs: {e}")))?;
        if !seen.is_empty() {
            tracing::warn!(jobs = ?seen, "jobs were interrupted by a restart");
        }
    }
    if !config.job_runner {
        return Ok(());
    }
    let export_dir = config.data_dir.join("exports");
    std::fs::create_dir_all(&export_dir)
        .map_err(|e| StartError(format!("export directory {}: {e}", export_dir.display())))?;
    let ctx = JobContext {
        db: state.db.clone(),
        photos: state.photos.clone(),
        models_dir: state.models_dir.clone(),
        jobs_dir: state.jobs.dir.clone(),
        import_dir: state.import_dir.clone(),
        export_dir,
        engine: state.jobs.engine.clone(),
        python: config.python(),
        shadow: state.shadow.clone(),
    };
    let runner = JobRunner::with_waker(ctx, settings, state.jobs.wake.clone());
    tracing::info!(worker = %runner.worker(), "job runner started");
    tokio::spawn(runner.run_forever());
    Ok(())
}
