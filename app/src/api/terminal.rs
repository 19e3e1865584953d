//! The web terminal's preset hosts, for the page's picker (administrators only).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PresetView {
    pub name: String,
    /// user@host:port
    pub target: String,
    /// password or key
    pub auth: String,
    /// The host key the host must present, when known.
    pub fingerprint: Option<String>,
}

#[server(endpoint = "terminal_presets")]
pub async fn get_terminal_presets() -> Result<Vec<PresetView>, AppError> {
    use insectid::terminal::PresetAuth;
    let caller = crate::state::caller().await?;
    crate::state::answer(
        insectid::services::users::require(caller.actor.as_ref(), insectid::auth::Role::Admin).map(|_| ()),
    )?;
    let mut out = Vec::new();
    for p in caller.state.terminal.presets.all() {
        let pinned = crate::state::answer(insectid::terminal::host_keys::pinned(&caller.state.db, &p.name).await)?;
        out.push(PresetView {
            name: p.name.clone(),
            target: format!("{}@{}:{}", p.user, p.host, p.port),
            auth: match p.auth {
                PresetAuth::Password => "password".into(),
                PresetAuth::Key { .. } => "key".into(),
            },
            fingerprint: p.fingerprint.clone().or(pinned),
        });
    }
    Ok(out)
}
