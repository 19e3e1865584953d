//! Opening an SSH shell with a PTY on a preset host, checking its host key first.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::client::{self, AuthResult, Handle};
use russh::keys::{HashAlg, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh::{ChannelMsg, ChannelReadHalf, ChannelWriteHalf};

use super::bridge::{Pty, PtyEvent};
use super::{Preset, PresetAuth, TerminalError};

/// What the host's key must be.
#[derive(Debug, Clone, PartialEq)]
pub enum HostKeyCheck {
    /// This fingerprint and no other (from the preset or pinned earlier).
    Pinned(String),
    /// Not pinned yet: accept only the fingerprint the administrator confirmed, if any.
    Unpinned { confirmed: Option<String> },
}

struct KeyChecker {
    check: HostKeyCheck,
    presented: Arc<Mutex<Option<String>>>,
}

fn fingerprint(key: &PublicKeyOrCertificate) -> String {
    match key {
        PublicKeyOrCertificate::PublicKey { key, .. } => key.fingerprint(HashAlg::Sha256).to_string(),
        PublicKeyOrCertificate::Certificate(c) => c.public_key().fingerprint(HashAlg::Sha256).to_string(),
    }
}

impl client::Handler for KeyChecker {
    type Error = russh::Error;

    async fn check_server_key(&mut self, key: &PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        let presented = fingerprint(key);
        let ok = match &self.check {
            HostKeyCheck::Pinned(expected) => *expected == presented,
            HostKeyCheck::Unpinned { confirmed } => confirmed.as_deref() == Some(presented.as_str()),
        };
        if let Ok(mut slot) = self.presented.lock() {
            *slot = Some(presented);
        }
        Ok(ok)
    }
}

/// An open shell: the SSH connection and its channel's two halves.
pub struct SshShell {
    handle: Handle<KeyChecker>,
    reader: ChannelReadHalf,
    writer: ChannelWriteHalf<client::Msg>,
    /// The host key's fingerprint, to pin after a confirmed first connection.
    pub fingerprint: String,
}

/// Connects to the preset, checks the host key, authenticates and starts a shell on a PTY.
pub async fn connect(
    preset: &Preset,
    check: HostKeyCheck,
    password: Option<&str>,
    cols: u32,
    rows: u32,
) -> Result<SshShell, TerminalError> {
    let config = Arc::new(client::Config {
        inactivity_timeout: Some(Duration::from_secs(3600)),
        keepalive_interval: Some(Duration::from_secs(30)),
        ..Default::default()
    });
    let presented = Arc::new(Mutex::new(None));
    let checker = KeyChecker { check: check.clone(), presented: presented.clone() };
    let address = (preset.host.as_str(), preset.port);
    let connecting = tokio::time::timeout(Duration::from_secs(15), client::connect(config, address, checker)).await;
    let seen = || presented.lock().ok().and_then(|s| s.clone());
    let mut handle = match connecting {
        Err(_) => return Err(TerminalError::Unreachable(format!("{}:{} (timed out)", preset.host, preset.port))),
        Ok(Ok(h)) => h,
        Ok(Err(e)) => {
            // A refused key ends the handshake; say which key and why.
            return Err(match (seen(), &check) {
                (Some(p), HostKeyCheck::Pinned(expected)) if *expected != p => TerminalError::HostKeyChanged {
                    preset: preset.name.clone(),
                    expected: expected.clone(),
                    presented: p,
                },
                (Some(p), HostKeyCheck::Unpinned { confirmed }) if confirmed.as_deref() != Some(p.as_str()) => {
                    TerminalError::UnknownHostKey { preset: preset.name.clone(), fingerprint: p }
                }
                (None, _) if matches!(e, russh::Error::IO(_)) => {
                    TerminalError::Unreachable(format!("{}:{} ({e})", preset.host, preset.port))
                }
                _ => TerminalError::Ssh(e.to_string()),
            });
        }
    };
    let fingerprint = seen().unwrap_or_default();
    let auth = match &preset.auth {
        PresetAuth::Password => {
            let password = password.filter(|p| !p.is_empty()).ok_or(TerminalError::PasswordNeeded)?;
            handle.authenticate_password(preset.user.clone(), password).await?
        }
        PresetAuth::Key { path } => {
            let key = russh::keys::load_secret_key(path, None)
                .map_err(|e| TerminalError::Config(format!("key {}: {e}", path.display())))?;
            let hash = handle.best_supported_rsa_hash().await?.flatten();
            handle.authenticate_publickey(preset.user.clone(), PrivateKeyWithHashAlg::new(Arc::new(key), hash)).await?
        }
    };
    if !matches!(auth, AuthResult::Success) {
        return Err(TerminalError::AuthFailed(format!("{}@{}", preset.user, preset.name)));
    }
    let channel = handle.channel_open_session().await?;
    channel.request_pty(true, "xterm-256color", cols.clamp(10, 1000), rows.clamp(2, 500), 0, 0, &[]).await?;
    channel.request_shell(true).await?;
    let (reader, writer) = channel.split();
    Ok(SshShell { handle, reader, writer, fingerprint })
}

impl Pty for SshShell {
    async fn send(&mut self, data: Vec<u8>) -> Result<(), String> {
        self.writer.data_bytes(data).await.map_err(|e| e.to_string())
    }

    async fn resize(&mut self, cols: u32, rows: u32) -> Result<(), String> {
        self.writer.window_change(cols.clamp(10, 1000), rows.clamp(2, 500), 0, 0).await.map_err(|e| e.to_string())
    }

    async fn recv(&mut self) -> PtyEvent {
        loop {
            match self.reader.wait().await {
                Some(ChannelMsg::Data { data }) => return PtyEvent::Output(data.to_vec()),
                Some(ChannelMsg::ExtendedData { data, .. }) => return PtyEvent::Output(data.to_vec()),
                Some(ChannelMsg::ExitStatus { exit_status }) => return PtyEvent::Exited(Some(exit_status)),
                Some(ChannelMsg::Eof | ChannelMsg::Close) | None => return PtyEvent::Exited(None),
                Some(_) => continue,
            }
        }
    }

    async fn close(&mut self) {
        let _ = self.writer.eof().await;
        let _ = self.writer.close().await;
        let _ = self.handle.disconnect(russh::Disconnect::ByApplication, "session ended", "en").await;
    }
}
