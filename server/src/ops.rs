//! Operations endpoints: `/healthz` (the process answers), `/readyz` (the database answers and
//! the model is loaded), and Prometheus metrics at `/metrics` (requests and their latency,
//! identifications, the engine's batches and forward passes, background jobs).

use std::sync::OnceLock;
use std::time::Instant;

use app::state::AppState;
use app::state::ClientIp;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use axum::Json;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Latency buckets from 1 ms to 10 s: pages are milliseconds, identifications tens to
/// hundreds of milliseconds, a busy queue seconds.
const SECONDS: [f64; 14] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 7.5, 10.0];
const BATCH: [f64; 12] = [1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 32.0, 64.0, 128.0, 256.0];

/// The process-wide recorder (installed once, however many apps a test builds).
pub fn metrics_handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &SECONDS)
            .and_then(|b| b.set_buckets_for_metric(Matcher::Full("insectid_batch_size".into()), &BATCH));
        match builder.map(|b| b.install_recorder()) {
            Ok(Ok(handle)) => handle,
            // Another recorder is installed already: keep serving, with this one's (empty) view.
            _ => PrometheusBuilder::new().build_recorder().handle(),
        }
    })
}

/// The method as a label: the standard ones by name, anything else (hyper accepts any token)
/// as "other", so a client cannot create series at will.
fn method_label(method: &Method) -> &'static str {
    const KNOWN: [Method; 9] = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::OPTIONS,
        Method::CONNECT,
        Method::TRACE,
    ];
    KNOWN.iter().find(|m| *m == method).map(Method::as_str).unwrap_or("other")
}

/// Counts every request and times it, labelled by route pattern (never the raw path, so
/// the number of series stays bounded), method and status.
pub async fn track(request: Request<Body>, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method()).to_string();
    let route =
        request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()).unwrap_or_else(|| "other".into());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("insectid_http_requests_total", &labels).increment(1);
    metrics::histogram!("insectid_http_request_duration_seconds", &labels).record(started.elapsed().as_secs_f64());
    response
}

/// Whether this request may read the operations details on the main listener: only from the
/// addresses the operator named (loopback by default), never from an unknown one.
fn may_read_details(state: &AppState, client: Option<&ClientIp>) -> bool {
    client.is_some_and(|ClientIp(ip)| state.traffic.metrics_from.iter().any(|net| net.contains(ip)))
}

/// `GET /metrics` on the main listener: for the configured addresses only (404 to others,
/// as if it were not there).
pub async fn metrics_guarded(State(state): State<AppState>, client: Option<Extension<ClientIp>>) -> Response {
    if !may_read_details(&state, client.as_deref()) {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    }
    metrics_page(State(state)).await
}

/// `GET /readyz` on the main listener: the status for everyone, the reasons only for the
/// configured addresses.
pub async fn readyz_guarded(State(state): State<AppState>, client: Option<Extension<ClientIp>>) -> Response {
    if may_read_details(&state, client.as_deref()) {
        return readyz(State(state)).await;
    }
    let ready = state.db.ping().await.is_ok() && state.engine.is_running();
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(serde_json::json!({ "ready": ready }))).into_response()
}

/// The separate operations listener (INSECTID_METRICS_BIND): metrics and full readiness.
pub fn listener_app(state: AppState) -> axum::Router {
    axum::Router::new()
        .route("/metrics", axum::routing::get(metrics_page))
        .route("/readyz", axum::routing::get(readyz))
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .with_state(state)
}

/// `GET /metrics`, in Prometheus' text format.
pub async fn metrics_page(State(state): State<AppState>) -> Response {
    if let Ok((queued, running)) = insectid::jobs::queue::depth(&state.db).await {
        use insectid::jobs::JobState;
        metrics::gauge!("insectid_jobs", "state" => JobState::Queued.as_str()).set(queued as f64);
        metrics::gauge!("insectid_jobs", "state" => JobState::Running.as_str()).set(running as f64);
    }
    let mut response = metrics_handle().render().into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"));
    response
}

/// `GET /readyz`: 200 when this instance can serve (database reachable, model loaded and its
/// worker running), 503 with the reason otherwise. Load balancers route on it.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let database = match state.db.ping().await {
        Ok(()) => Ok("ok".to_string()),
        Err(e) => Err(format!("unreachable: {e}")),
    };
    let active = state.engine.active();
    let model = if state.engine.is_running() {
        Ok(format!("{} {}", active.status.name, active.status.version))
    } else {
        Err("the inference worker has stopped".to_string())
    };
    let ready = database.is_ok() && model.is_ok();
    let show = |r: Result<String, String>| r.unwrap_or_else(|e| e);
    let body = serde_json::json!({ "ready": ready, "database": show(database), "model": show(model) });
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(body)).into_response()
}
