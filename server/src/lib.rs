//! The `insectid` server: wires configuration, database, inference engine, layers and routes.
//! `build_app` is public so tests drive the real router without a socket.

pub mod alert_mail;
mod background;
pub mod cli;
pub mod client_addr;
pub mod config;
mod dataset_export;
mod housekeeping;
pub mod http_error;
mod https_redirect;
mod job_files;
pub mod limits;
pub mod ops;
mod page_cache;
mod photos;
pub mod rate_limit;
pub mod request_id;
pub mod rest;
mod router;
pub mod running;
pub mod security;
mod server_fn_errors;
mod state;
mod terminal;
pub mod tls;

use config::Config;

pub use background::{follow_active_model, start_job_runner};
pub use router::build_app;
pub use state::build_state;

#[derive(Debug, thiserror::Error)]
#[error("cannot start: {0}")]
pub struct StartError(pub String);

/// Serves until Ctrl-C or SIGTERM, then lets in-flight requests finish.
pub async fn serve(config: Config) -> Result<(), StartError> {
    let _running = running::hold(&config.data_dir)
        .map_err(|e| StartError(format!("data directory {}: {e}", config.data_dir.display())))?;
    let state = build_state(&config).await?;
    if let Some(mail) = state.mail.clone() {
        alert_mail::start(state.db.clone(), mail, state.sightings.clone(), config.alert_mail_minutes);
    }
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
    let served = match config.tls_files() {
        None => {
            tracing::info!("listening on http://{}", config.bind);
            axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await
        }
        Some(files) => {
            use axum::serve::ListenerExt;
            let cert = tls::ReloadingCert::start(files).map_err(StartError)?;
            let tls = tls::TlsListener::new(listener, cert.server_config())
                .map_err(|e| StartError(format!("cannot listen on {}: {e}", config.bind)))?;
            if let Some(bind) = config.http_redirect_bind {
                https_redirect::start(bind, config.bind.port(), config.public_url.clone()).await.map_err(StartError)?;
            }
            tracing::info!("listening on https://{}", config.bind);
            // tap_io: axum gives the peer's address as connect info for any listener it wraps.
            axum::serve(tls.tap_io(|_| {}), app).with_graceful_shutdown(shutdown_signal()).await
        }
    };
    served.map_err(|e| StartError(format!("server error: {e}")))?;
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
