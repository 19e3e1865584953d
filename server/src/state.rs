//! The application state built from configuration: database (migrated), photo store, model
//! engine and heat maps, the first administrator, and everything the pages share.

use std::sync::Arc;

use app::state::AppState;
use insectid::inference::InferenceEngine;
use leptos::config::LeptosOptions;

use crate::config::Config;
use crate::StartError;

/// Everything the server needs, built from configuration.
pub async fn build_state(config: &Config) -> Result<AppState, StartError> {
    let db = insectid::db::connect_and_migrate(&config.database_url())
        .await
        .map_err(|e| StartError(format!("database {}: {e}", redact(&config.database_url()))))?;
    // The version an administrator activated survives restarts, unless the operator names a
    // bundle explicitly (INSECTID_MODEL_DIR).
    let activated = match config.model_dir {
        Some(_) => None,
        None => {
            insectid::services::models::active_dir(&db).await.map_err(|e| StartError(format!("model registry: {e}")))?
        }
    };
    let model_dir = activated.clone().unwrap_or_else(|| config.model_dir());
    let start_dir = model_dir.clone();
    let engine_config = config.engine();
    let engine = tokio::task::spawn_blocking(move || InferenceEngine::start(&start_dir, engine_config))
        .await
        .map_err(|e| StartError(format!("model loading panicked: {e}")))?
        .map_err(|e| StartError(format!("{e}. Build the default model with `make model`.")))?;
    let active = engine.active();
    let status = &active.status;
    tracing::info!(
        model = %status.name, version = %status.version, device = %status.device,
        classes = status.classes, warmup_ms = format!("{:.1}", status.warmup_ms),
        "model loaded"
    );
    let heatmaps = insectid::inference::heatmap::HeatMaps::load(
        model_dir.clone(),
        engine.active().manifest.clone(),
        config.device,
    )
    .await
    .map_err(|e| StartError(e.to_string()))?;
    let leptos_options = LeptosOptions::builder()
        .output_name("insectid")
        .site_root(config.site_root.display().to_string())
        .site_pkg_dir("pkg")
        .site_addr(config.bind)
        .build();
    let photos = config.open_photos().map_err(StartError)?;
    bootstrap_admin(&db, config).await?;
    // What a crash left behind (a photo stored whose row never committed, a half-written file)
    // goes now. On SQLite this is the only instance, so nothing is in flight; on PostgreSQL
    // another instance may be committing an upload, so only leftovers an hour old go.
    let grace = if db.get_database_backend() == sea_orm::DatabaseBackend::Sqlite { 0 } else { 3600 };
    let leftovers = insectid::services::integrity::repair(&db, &photos, std::time::Duration::from_secs(grace))
        .await
        .map_err(|e| StartError(format!("checking the photo store: {e}")))?;
    if leftovers.removed > 0 || !leftovers.rows_without_photo.is_empty() {
        tracing::warn!(
            removed = leftovers.removed,
            missing = leftovers.rows_without_photo.len(),
            "cleaned up after an unclean stop"
        );
    }
    // Imports whose process died are marked so the page offers to resume them.
    let interrupted =
        insectid::services::dataset_import::mark_interrupted(&db).await.map_err(|e| StartError(e.to_string()))?;
    if interrupted > 0 {
        tracing::warn!(
            imports = interrupted,
            "dataset imports were interrupted by a restart; resume them on the Datasets page"
        );
    }
    let presets = match &config.ssh_presets {
        Some(path) => insectid::terminal::Presets::load(path).map_err(|e| StartError(e.to_string()))?,
        None => insectid::terminal::Presets::default(),
    };
    let terminal = app::state::TerminalSetup {
        presets,
        limits: insectid::terminal::SessionLimits {
            per_user: config.terminal_sessions_per_user.max(1),
            total: config.terminal_sessions.max(1),
            idle: std::time::Duration::from_secs(config.terminal_idle_minutes.max(1) * 60),
            ..Default::default()
        },
        registry: Default::default(),
    };
    let models_dir = config.data_dir.join("models");
    std::fs::create_dir_all(&models_dir)
        .map_err(|e| StartError(format!("models directory {}: {e}", models_dir.display())))?;
    // The bundle the engine started with is the registry's active version.
    insectid::services::models::record_startup(
        &db,
        &model_dir,
        insectid::entities::model_version::ModelSource::Default,
    )
    .await
    .map_err(|e| StartError(format!("model registry: {e}")))?;
    let import_dir = config.import_dir();
    std::fs::create_dir_all(&import_dir)
        .map_err(|e| StartError(format!("import directory {}: {e}", import_dir.display())))?;
    let commands = match &config.commands_file {
        Some(path) => insectid::jobs::commands::Commands::load(path).map_err(|e| StartError(e.to_string()))?,
        None => insectid::jobs::commands::Commands::builtin(),
    };
    let jobs_dir = config.data_dir.join("jobs");
    std::fs::create_dir_all(&jobs_dir)
        .map_err(|e| StartError(format!("jobs directory {}: {e}", jobs_dir.display())))?;
    // Side engines (evaluations, shadow) run beside the live one: one forward pass at a time
    // (on all cores, as before the live engine had a pass per core: an evaluation is a batch
    // job that should finish soon on an idle server).
    let side_engine = insectid::inference::EngineConfig { threads: 0, workers: 1, ..config.engine() };
    let jobs = app::state::JobsSetup {
        commands: Arc::new(commands),
        dir: jobs_dir,
        wake: Arc::new(tokio::sync::Notify::new()),
        engine: side_engine,
    };
    let shadow = insectid::services::shadow::ShadowSlot::default();
    insectid::services::shadow::restore(&db, &shadow, &jobs.engine)
        .await
        .map_err(|e| StartError(format!("shadow model: {e}")))?;
    Ok(AppState {
        leptos_options,
        db,
        engine: Arc::new(engine),
        photos,
        limits: config.upload_limits(),
        open_registration: config.open_registration,
        secure_cookies: config.secure_cookies || config.tls_cert.is_some(),
        anonymous_identification: config.anonymous_identification,
        heatmaps,
        labels_per_photo: config.labels_per_photo.max(1),
        import_dir,
        terminal,
        models_dir,
        jobs,
        shadow,
        sightings: Arc::new(insectid::services::pressure::SightingsCache::new(std::time::Duration::from_secs(
            config.page_cache_seconds,
        ))),
        mail: crate::alert_mail::configured(config).map_err(StartError)?.map(Arc::new),
        page_cache_seconds: config.page_cache_seconds,
        portal_stats: Arc::new(insectid::services::stats::PortalStatsCache::new(std::time::Duration::from_secs(
            config.stats_seconds,
        ))),
        traffic: config.traffic(),
        disk: config.disk_reserve(),
    })
}

/// INSECTID_ADMIN_USERNAME / INSECTID_ADMIN_PASSWORD create the first administrator when
/// there is none yet; later starts leave accounts alone.
async fn bootstrap_admin(db: &sea_orm::DatabaseConnection, config: &Config) -> Result<(), StartError> {
    let (Some(name), Some(password)) = (&config.admin_username, &config.admin_password) else {
        return Ok(());
    };
    let created = insectid::services::accounts::ensure_first_admin(db, name, password.clone())
        .await
        .map_err(|e| StartError(format!("INSECTID_ADMIN_USERNAME: {e}")))?;
    if created {
        tracing::info!(admin = %name, "created the first administrator");
    }
    Ok(())
}

fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***{}", &url[..s], &url[at..]),
        _ => url.to_string(),
    }
}
