//! The `insectid` server: wires configuration, database, inference engine, layers and routes.
//! `build_app` is public so tests drive the real router without a socket.

pub mod cli;
pub mod client_addr;
pub mod config;
mod dataset_export;
mod housekeeping;
mod job_files;
pub mod limits;
pub mod ops;
mod page_cache;
mod photos;
pub mod rate_limit;
pub mod rest;
pub mod running;
pub mod security;
mod terminal;

use std::sync::Arc;

use app::state::AppState;
use app::{shell, App};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use insectid::inference::InferenceEngine;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, handle_server_fns_with_context, LeptosRoutes};
use tower_http::compression::CompressionLayer;
use tower_http::trace::TraceLayer;

use config::Config;

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
    let heatmaps = {
        let dir = model_dir.clone();
        let manifest = engine.active().manifest.clone();
        let device = config.device.resolve().map_err(|e| StartError(e.to_string()))?;
        tokio::task::spawn_blocking(move || insectid::inference::heatmap::HeatMapper::load(&dir, &manifest, device))
            .await
            .map_err(|e| StartError(e.to_string()))?
            .map_err(|e| StartError(e.to_string()))?
    };
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
    insectid::services::models::record_startup(&db, &model_dir, "default")
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
        secure_cookies: config.secure_cookies,
        anonymous_identification: config.anonymous_identification,
        heatmaps: Arc::new(std::sync::Mutex::new(heatmaps)),
        labels_per_photo: config.labels_per_photo.max(1),
        import_dir,
        terminal,
        models_dir,
        jobs,
        shadow,
        page_cache_seconds: config.page_cache_seconds,
        portal_stats: Arc::new(insectid::services::stats::PortalStatsCache::new(std::time::Duration::from_secs(
            config.stats_seconds,
        ))),
        traffic: config.traffic(),
        disk: config.disk_reserve(),
    })
}

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
                    app::api::models::reload_heatmaps(&state, row.dir.clone()).await;
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

/// INSECTID_ADMIN_USERNAME / INSECTID_ADMIN_PASSWORD create the first administrator when
/// there is none yet; later starts leave accounts alone.
async fn bootstrap_admin(db: &sea_orm::DatabaseConnection, config: &Config) -> Result<(), StartError> {
    use insectid::entities::user;
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let (Some(name), Some(password)) = (&config.admin_username, &config.admin_password) else {
        return Ok(());
    };
    let admins = user::Entity::find()
        .filter(user::Column::Role.eq("admin"))
        .count(db)
        .await
        .map_err(|e| StartError(e.to_string()))?;
    if admins == 0 {
        insectid::services::accounts::create_admin(db, name, password.clone())
            .await
            .map_err(|e| StartError(format!("INSECTID_ADMIN_USERNAME: {e}")))?;
        tracing::info!(admin = %name, "created the first administrator");
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
#[error("cannot start: {0}")]
pub struct StartError(pub String);

fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***{}", &url[..s], &url[at..]),
        _ => url.to_string(),
    }
}

async fn server_fn_handler(State(state): State<AppState>, request: Request<Body>) -> impl IntoResponse {
    handle_server_fns_with_context(move || provide_context(state.clone()), request).await
}

/// The whole HTTP application: pages, server functions, REST API and static files.
pub fn build_app(state: AppState) -> Router {
    ops::metrics_handle();
    let routes = generate_route_list(App);
    let context_state = state.clone();
    let shell_options = state.leptos_options.clone();
    let page_cache =
        page_cache::PageCache::new(std::time::Duration::from_secs(state.page_cache_seconds), 64 * 1024 * 1024);
    let traffic = &state.traffic;
    let guards = Arc::new(limits::ApiGuards {
        photo_upload_bytes: limits::photo_upload_body_bytes(&state.limits),
        sign_ins: rate_limit::RouteLimit::per_minute("sign-ins", traffic.sign_ins_per_minute),
        uploads: rate_limit::RouteLimit::per_minute("uploads", traffic.uploads_per_minute),
    });
    let header = if traffic.rfc7239_forwarded {
        client_addr::ForwardedHeader::Forwarded
    } else {
        client_addr::ForwardedHeader::XForwardedFor
    };
    let proxies = Arc::new((client_addr::AddressRanges(traffic.trusted_proxies.clone()), header));
    // The built site's files (WASM, JS, CSS, public assets) and the 404 page for anything else.
    // Files are served by tower-http's ServeDir, not by leptos_axum's file handler: that one
    // answers a file inside a reactive owner that inherits whatever page render the thread was
    // in, and applies (takes) that page's response headers, so a page rendered alongside a WASM
    // download arrived without its CSP (and the download with it).
    let not_found =
        axum::handler::Handler::with_state(leptos_axum::file_and_error_handler::<AppState, _>(shell), state.clone());
    let site_files =
        tower_http::services::ServeDir::new(state.leptos_options.site_root.to_string()).fallback(not_found);
    Router::new()
        .route("/api/{*fn_name}", post(server_fn_handler).get(server_fn_handler))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ops::readyz_guarded))
        .route("/metrics", get(ops::metrics_guarded))
        .route("/photos/{sha}", get(photos::photo))
        .route("/photos/{sha}/thumb", get(photos::thumbnail))
        .route("/results/{id}/heatmap.png", get(photos::heatmap))
        .route("/jobs/{id}/export.zip", get(dataset_export::download))
        .route("/jobs/{id}/files/{name}", get(job_files::job_file))
        .route("/terminal/ws", get(terminal::terminal_ws))
        .nest("/api/v1", rest::routes())
        .leptos_routes_with_context(
            &state,
            routes,
            move || provide_context(context_state.clone()),
            move || shell(shell_options.clone()),
        )
        .fallback_service(site_files)
        .layer(axum::middleware::from_fn_with_state(guards, limits::guard_api))
        .layer(axum::middleware::from_fn(page_cache::mark_anonymous))
        .layer(security::auth_layer(state.db.clone(), state.secure_cookies))
        .layer(axum::middleware::from_fn(security::same_origin))
        .layer(axum::middleware::from_fn(security::security_headers))
        .layer(CompressionLayer::new())
        .layer(axum::middleware::from_fn_with_state(page_cache, page_cache::serve_cached))
        .layer(axum::middleware::from_fn(ops::track))
        .layer(axum::middleware::from_fn_with_state(proxies, client_addr::resolve))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(limits::BODY_IDLE))
        .layer(limits::catch_panics())
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Serves until Ctrl-C or SIGTERM, then lets in-flight requests finish.
pub async fn serve(config: Config) -> Result<(), StartError> {
    let _running = running::hold(&config.data_dir)
        .map_err(|e| StartError(format!("data directory {}: {e}", config.data_dir.display())))?;
    let state = build_state(&config).await?;
    start_job_runner(&state, &config).await?;
    follow_active_model(state.clone(), std::time::Duration::from_secs(config.registry_poll_seconds.max(1)));
    insectid::auth::session_store::SeaOrmSessionStore::new(state.db.clone())
        .spawn_cleanup(std::time::Duration::from_secs(600));
    housekeeping::start(state.clone(), config.anonymous_retention_days);
    if let Some(bind) = config.metrics_bind {
        let listener = tokio::net::TcpListener::bind(bind)
            .await
            .map_err(|e| StartError(format!("cannot listen on {bind} (INSECTID_METRICS_BIND): {e}")))?;
        let ops = ops::listener_app(state.clone());
        tracing::info!("metrics and readiness on http://{bind}");
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, ops).await {
                tracing::error!(error = %e, "the metrics listener stopped");
            }
        });
    }
    let app = build_app(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .map_err(|e| StartError(format!("cannot listen on {}: {e}", config.bind)))?;
    tracing::info!("listening on http://{}", config.bind);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| StartError(format!("server error: {e}")))?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}
