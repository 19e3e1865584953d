//! The plain-HTTP listener beside HTTPS (`INSECTID_HTTP_REDIRECT_BIND`): it serves nothing,
//! only a permanent redirect to the same path over HTTPS. The target is the public URL when
//! one is configured, else the host the client asked for on the HTTPS port.

use std::net::SocketAddr;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;

#[derive(Clone)]
struct Target {
    /// `https://insects.example.org` (no trailing slash), when known.
    public_url: Option<String>,
    https_port: u16,
}

async fn redirect(State(target): State<Target>, headers: HeaderMap, uri: Uri) -> Response {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let base = match &target.public_url {
        Some(url) => url.clone(),
        None => {
            let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
            // The name without its port; an IPv6 literal keeps its brackets.
            let name = match host.rfind(']') {
                Some(end) => &host[..=end],
                None => host.split(':').next().unwrap_or_default(),
            };
            let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || "-.[]:".contains(c));
            if !valid {
                return (StatusCode::BAD_REQUEST, "this address serves HTTPS only; ask for it by name").into_response();
            }
            match target.https_port {
                443 => format!("https://{name}"),
                port => format!("https://{name}:{port}"),
            }
        }
    };
    (StatusCode::PERMANENT_REDIRECT, [(header::LOCATION, format!("{base}{path}"))]).into_response()
}

/// Starts the redirecting listener (its bind error stops the start).
pub async fn start(bind: SocketAddr, https_port: u16, public_url: Option<String>) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|e| format!("cannot listen on {bind} (INSECTID_HTTP_REDIRECT_BIND): {e}"))?;
    let public_url = public_url.map(|u| u.trim_end_matches('/').to_string()).filter(|u| u.starts_with("https://"));
    let app = Router::new().fallback(redirect).with_state(Target { public_url, https_port });
    tracing::info!("redirecting http://{bind} to HTTPS");
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the HTTP redirect listener stopped");
        }
    });
    Ok(())
}
