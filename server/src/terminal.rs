//! `GET /terminal/ws?preset=NAME`: the web terminal's websocket. Only an administrator's
//! session from this origin may open it, only to a preset host; everything is checked before
//! the upgrade. The first message carries the size (and the password or a confirmed host key);
//! after that the domain's bridge moves the bytes.

use std::future::Future;
use std::time::{Duration, Instant};

use app::state::{AppState, ClientIp};
use axum::extract::rejection::QueryRejection;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures::{SinkExt, StreamExt};
use insectid::auth::{Account, Role};
use insectid::error::ErrorKind;
use insectid::services::audit::{self, Actor};
use insectid::terminal::{self, host_keys, Frame, Preset, ServerMessage, SessionPermit, TerminalError};
use serde::Deserialize;

use crate::http_error::HttpError;

/// How often an open terminal checks that its administrator still may have it.
const REVOCATION_CHECK: Duration = Duration::from_secs(2);

#[derive(Deserialize)]
pub struct WsQuery {
    preset: String,
}

/// The browser's first message.
#[derive(Deserialize)]
struct ConnectRequest {
    #[serde(default)]
    password: Option<String>,
    cols: u32,
    rows: u32,
    /// The fingerprint the administrator confirmed for a host seen for the first time.
    #[serde(default)]
    accept: Option<String>,
}

#[axum::debug_handler]
pub async fn terminal_ws(
    State(state): State<AppState>,
    auth: axum_login::AuthSession<insectid::auth::Backend>,
    client: Option<Extension<ClientIp>>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    query: Result<Query<WsQuery>, QueryRejection>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let (Some(account), Some(session_id)) = (auth.user, auth.session.id()) else {
        return HttpError::new(ErrorKind::Unauthorized, "sign in as an administrator to open a terminal")
            .into_response();
    };
    if account.role != Role::Admin {
        return HttpError::new(ErrorKind::Forbidden, "the terminal is for administrators").into_response();
    }
    // Browsers send Origin on websocket upgrades; a page of another site must not ride the session.
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()).and_then(crate::security::host_of);
    // HTTP/2 carries the host in the URI's authority, not in a Host header.
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).or_else(|| uri.authority().map(|a| a.as_str()));
    if !matches!((origin, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h)) {
        return HttpError::new(ErrorKind::Forbidden, "cross-origin terminal connection refused").into_response();
    }
    let Ok(Query(query)) = query else {
        return HttpError::new(ErrorKind::InvalidInput, "name a preset host: /terminal/ws?preset=NAME").into_response();
    };
    let preset = match state.terminal.presets.get(&query.preset) {
        Ok(p) => p.clone(),
        Err(e) => return HttpError::new(ErrorKind::NotFound, e.to_string()).into_response(),
    };
    let permit = match state.terminal.registry.acquire(account.id, &state.terminal.limits) {
        Ok(p) => p,
        Err(e) => return HttpError::new(ErrorKind::TooManyRequests, e.to_string()).into_response(),
    };
    let ws = match ws {
        Ok(ws) => ws,
        Err(rejection) => return rejection.into_response(),
    };
    let password_hash = match terminal::revocation::password_hash(&state.db, account.id).await {
        Ok(hash) => hash,
        // A vanished account is "not signed in"; a database failure is the server's.
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return HttpError::new(ErrorKind::Unauthorized, e.to_string()).into_response()
        }
        Err(e) => return HttpError::from(e).into_response(),
    };
    // The shell stays open only while this session's access stands (checked every 2 s).
    let revoked = terminal::revocation::watch(
        state.db.clone(),
        account.id,
        session_id.to_string(),
        password_hash,
        REVOCATION_CHECK,
    );
    let addr = client.map(|Extension(ClientIp(ip))| ip.to_string()).unwrap_or_else(|| "unknown".into());
    ws.max_message_size(state.terminal.limits.max_message)
        .on_upgrade(move |socket| session(socket, state, account, preset, addr, permit, revoked))
}

fn to_message(frame: Frame) -> Message {
    match frame {
        Frame::Text(t) => Message::Text(t.into()),
        Frame::Binary(b) => Message::Binary(b.into()),
        Frame::Close => Message::Close(None),
    }
}

async fn session(
    socket: WebSocket,
    state: AppState,
    account: Account,
    preset: Preset,
    addr: String,
    _permit: SessionPermit,
    revoked: impl Future<Output = String>,
) {
    let db = &state.db;
    let (sink, stream) = socket.split();
    let mut sink = sink.with(|f: Frame| futures::future::ready(Ok::<_, axum::Error>(to_message(f))));
    let mut stream = stream.filter_map(|m| {
        futures::future::ready(match m {
            Ok(Message::Text(t)) => Some(Ok(Frame::Text(t.to_string()))),
            Ok(Message::Binary(b)) => Some(Ok(Frame::Binary(b.to_vec()))),
            Ok(Message::Close(_)) => Some(Ok(Frame::Close)),
            Ok(_) => None,
            Err(e) => Some(Err(e.to_string())),
        })
    });
    let audit = |action: &'static str, detail: String| {
        let (account, preset, addr) = (&account, preset.name.clone(), addr.clone());
        async move {
            if let Err(e) = audit::record(db, Actor::Account(account), action, &preset, &detail, Some(&addr)).await {
                tracing::error!(error = %e, "cannot write the terminal audit event");
            }
        }
    };
    let first = tokio::time::timeout(std::time::Duration::from_secs(60), stream.next()).await;
    let request = match first {
        Ok(Some(Ok(Frame::Text(t)))) => serde_json::from_str::<ConnectRequest>(&t)
            .map_err(|e| format!("the first message must be the connect request: {e}")),
        _ => Err("no connect request arrived".to_string()),
    };
    let request = match request {
        Ok(r) => r,
        Err(message) => {
            let _ = sink.send(ServerMessage::Error { message }.frame()).await;
            let _ = sink.send(Frame::Close).await;
            return;
        }
    };
    let check = match host_keys::check_for(db, &preset, request.accept.clone()).await {
        Ok(c) => c,
        Err(e) => {
            let _ = sink.send(ServerMessage::Error { message: e.to_string() }.frame()).await;
            return;
        }
    };
    let unpinned = matches!(check, terminal::HostKeyCheck::Unpinned { .. });
    let shell = terminal::connect(&preset, check, request.password.as_deref(), request.cols, request.rows).await;
    let shell = match shell {
        Ok(s) => s,
        Err(TerminalError::UnknownHostKey { fingerprint, .. }) => {
            audit("terminal.host_key_unknown", format!("shown {fingerprint} for confirmation")).await;
            let _ = sink.send(ServerMessage::HostKey { preset: preset.name.clone(), fingerprint }.frame()).await;
            let _ = sink.send(Frame::Close).await;
            return;
        }
        Err(e) => {
            let action = if matches!(e, TerminalError::HostKeyChanged { .. }) {
                "terminal.host_key_changed"
            } else {
                "terminal.refused"
            };
            audit(action, e.to_string()).await;
            let _ = sink.send(ServerMessage::Error { message: e.to_string() }.frame()).await;
            let _ = sink.send(Frame::Close).await;
            return;
        }
    };
    if unpinned {
        if let Err(e) = host_keys::pin(db, &preset.name, &shell.fingerprint, &account.username).await {
            tracing::error!(error = %e, "cannot pin the host key");
        }
        audit("terminal.host_key_pinned", shell.fingerprint.clone()).await;
    }
    audit("terminal.opened", format!("{}@{}:{}", preset.user, preset.host, preset.port)).await;
    let since = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S UTC").to_string();
    let connected = ServerMessage::Connected {
        preset: preset.name.clone(),
        host: format!("{}@{}:{}", preset.user, preset.host, preset.port),
        since,
    };
    if sink.send(connected.frame()).await.is_err() {
        return;
    }
    let started = Instant::now();
    let limits = state.terminal.limits;
    let reason = terminal::bridge_until(sink, stream, shell, limits.idle, limits.max_message, revoked).await;
    audit("terminal.closed", format!("after {} s: {}", started.elapsed().as_secs(), reason.describe())).await;
}
