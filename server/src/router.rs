//! The whole HTTP application: pages, server functions, REST API, file routes and static
//! files, under the layers every request passes (ids, tracing, limits, security, caching).

use std::sync::Arc;

use app::state::AppState;
use app::{shell, App};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, handle_server_fns_with_context, LeptosRoutes};
use tower_http::compression::CompressionLayer;
use tower_http::trace::TraceLayer;

use crate::{
    client_addr, dataset_export, job_files, limits, ops, page_cache, photos, rate_limit, request_id, rest, security,
    server_fn_errors, terminal,
};

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
    let token_limits = rest::caller::TokenLimits::new(&traffic.token_rates);
    let header = if traffic.rfc7239_forwarded {
        client_addr::ForwardedHeader::Forwarded
    } else {
        client_addr::ForwardedHeader::XForwardedFor
    };
    let resolver = Arc::new(client_addr::Resolver {
        proxies: client_addr::AddressRanges(traffic.trusted_proxies.clone()),
        header,
        tls_listener: traffic.tls_listener,
    });
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
        .merge(rest::routes())
        .route("/api/v1/{*rest}", axum::routing::any(rest::no_such_route))
        .route("/api", get(rest::api_page))
        .leptos_routes_with_context(
            &state,
            routes,
            move || provide_context(context_state.clone()),
            move || shell(shell_options.clone()),
        )
        .fallback_service(site_files)
        .layer(axum::middleware::from_fn(server_fn_errors::layer))
        .layer(axum::middleware::from_fn_with_state(guards, limits::guard_api))
        .layer(axum::Extension(token_limits))
        .layer(axum::middleware::from_fn(page_cache::mark_anonymous))
        .layer(security::auth_layer(state.db.clone(), state.secure_cookies))
        .layer(axum::middleware::from_fn(security::same_origin))
        .layer(axum::middleware::from_fn(security::security_headers))
        .layer(CompressionLayer::new())
        .layer(axum::middleware::from_fn_with_state(page_cache, page_cache::serve_cached))
        .layer(axum::middleware::from_fn(ops::track))
        .layer(axum::middleware::from_fn(security::over_https))
        .layer(axum::middleware::from_fn_with_state(resolver, client_addr::resolve))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(limits::BODY_IDLE))
        .layer(limits::catch_panics())
        .layer(axum::middleware::from_fn(request_id::scope))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<Body>| {
            tracing::info_span!("request", id = %request_id::of(request), method = %request.method(), uri = %request.uri())
        }))
        .layer(request_id::propagate())
        .layer(request_id::assign())
        .layer(axum::middleware::from_fn(request_id::forget_client_id))
        .with_state(state)
}
