//! What the server hands to every page render and server function (through Leptos context).

use std::sync::Arc;

use axum::extract::FromRef;
use insectid::inference::InferenceEngine;
use insectid::services::identify::UploadLimits;
use insectid::storage::PhotoStore;
use leptos::prelude::*;
use sea_orm::DatabaseConnection;

use crate::error::AppError;

#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub db: DatabaseConnection,
    pub engine: Arc<InferenceEngine>,
    pub photos: PhotoStore,
    pub limits: UploadLimits,
    /// New accounts are active at once (true) or wait for an administrator's approval.
    pub open_registration: bool,
    /// People who are not signed in may identify photos.
    pub anonymous_identification: bool,
    /// Session cookies marked Secure (the portal is behind HTTPS).
    pub secure_cookies: bool,
    /// Grad-CAM for the result pages (None when the bundle has no heat-map modules).
    pub heatmaps: insectid::inference::heatmap::HeatMaps,
    /// Labelers who must agree before a photo's label is decided.
    pub labels_per_photo: u32,
    /// The only place the Datasets page imports from; uploaded archives are unpacked here.
    pub import_dir: std::path::PathBuf,
    pub terminal: TerminalSetup,
    /// Where installed model bundles live.
    pub models_dir: std::path::PathBuf,
    pub jobs: JobsSetup,
    /// The candidate model running beside the active one, if any.
    pub shadow: insectid::services::shadow::ShadowSlot,
    /// The year's pest-pressure sightings, counted again only once older than the page cache.
    pub sightings: Arc<insectid::services::pressure::SightingsCache>,
    /// The mail relay, when configured: people may then ask for pest alerts by e-mail.
    pub mail: Option<Arc<insectid::mail::MailSetup>>,
    /// How long anonymous visitors' catalogue pages are served from the page cache (0: never).
    pub page_cache_seconds: u64,
    /// The home page's figures, counted again only once they are older than their max age.
    pub portal_stats: Arc<insectid::services::stats::PortalStatsCache>,
    /// Whose forwarding headers are believed, and how often one address may ask for costly work.
    pub traffic: TrafficPolicy,
    /// Free disk space kept in reserve: uploads and imports are refused below it.
    pub disk: insectid::storage::DiskReserve,
}

/// How the server tells clients apart and how much one client may ask for.
#[derive(Clone, Debug)]
pub struct TrafficPolicy {
    /// Reverse proxies whose `Forwarded` / `X-Forwarded-For` name the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Read RFC 7239 `Forwarded` from them instead of `X-Forwarded-For`.
    pub rfc7239_forwarded: bool,
    /// Sign-ins and sign-ups one address may send a minute (0: no limit).
    pub sign_ins_per_minute: u32,
    /// Photo uploads (requests) one address may send a minute (0: no limit).
    pub uploads_per_minute: u32,
    /// Addresses that may read `/metrics` and `/readyz`'s details on the main listener.
    pub metrics_from: Vec<ipnet::IpNet>,
    /// Requests a minute one API token may send, per scope of the route.
    pub token_rates: insectid::services::api_tokens::ScopeRates,
    /// The main listener speaks TLS itself (INSECTID_TLS_CERT).
    pub tls_listener: bool,
}

impl Default for TrafficPolicy {
    fn default() -> Self {
        let loopback = ["127.0.0.0/8", "::1/128"].iter().filter_map(|n| n.parse().ok()).collect();
        TrafficPolicy {
            trusted_proxies: Vec::new(),
            rfc7239_forwarded: false,
            sign_ins_per_minute: 10,
            uploads_per_minute: 30,
            metrics_from: loopback,
            token_rates: Default::default(),
            tls_listener: false,
        }
    }
}

/// The client's address as the server decided it (the socket's peer, or the client a trusted
/// proxy names). Put in the request's extensions by the server before any handler runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub std::net::IpAddr);

/// Background jobs: the Commands page's menu, where jobs write their files, and how to wake
/// this instance's runner when a job is queued.
#[derive(Clone)]
pub struct JobsSetup {
    pub commands: Arc<insectid::jobs::commands::Commands>,
    pub dir: std::path::PathBuf,
    pub wake: Arc<tokio::sync::Notify>,
    /// How jobs and shadow mode load models other than the active one.
    pub engine: insectid::inference::EngineConfig,
}

/// The web terminal's preset hosts, limits, and the sessions open now.
#[derive(Clone, Debug, Default)]
pub struct TerminalSetup {
    pub presets: insectid::terminal::Presets,
    pub limits: insectid::terminal::SessionLimits,
    pub registry: insectid::terminal::SessionRegistry,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// The state inside a server function; its absence is a wiring bug, reported as such.
pub fn app_state() -> Result<AppState, AppError> {
    use_context::<AppState>().ok_or_else(|| AppError::internal("application state is not provided"))
}

pub type AuthSession = axum_login::AuthSession<insectid::auth::Backend>;

/// The request's authentication session (put there by axum-login's layer).
pub async fn auth_session() -> Result<AuthSession, AppError> {
    leptos_axum::extract::<AuthSession>()
        .await
        .map_err(|e| AppError::internal(format!("no authentication session: {e}")))
}

/// The signed-in account, if any. Services check what it may do.
pub async fn current_account() -> Result<Option<insectid::auth::Account>, AppError> {
    Ok(auth_session().await?.user)
}

/// The client's address, for throttling and the audit log ("unknown" without connect info).
pub async fn client_addr() -> String {
    use axum::extract::ConnectInfo;
    if let Ok(axum::Extension(ClientIp(ip))) = leptos_axum::extract::<axum::Extension<ClientIp>>().await {
        return ip.to_string();
    }
    leptos_axum::extract::<ConnectInfo<std::net::SocketAddr>>()
        .await
        .map(|ConnectInfo(addr)| addr.ip().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

/// A service call's result as the server function's. Its status is set in one place for
/// every server function, from the error's kind (the server's `server_fn_errors` layer).
pub fn answer<T>(result: Result<T, insectid::ServiceError>) -> Result<T, AppError> {
    result.map_err(AppError::from)
}

/// What most server functions start from: the state, who is calling, and from where.
pub struct Caller {
    pub state: AppState,
    pub actor: Option<insectid::auth::Account>,
    pub addr: String,
}

pub async fn caller() -> Result<Caller, AppError> {
    Ok(Caller { state: app_state()?, actor: current_account().await?, addr: client_addr().await })
}
