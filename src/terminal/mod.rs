//! The administrators' web terminal: SSH sessions (russh) to preset hosts, bridged to a browser
//! websocket. The bridge is generic over the websocket's sink and stream, so it is tested
//! without a network; the SSH side is tested against a real OpenSSH server.

mod bridge;
pub mod host_keys;
mod limits;
mod presets;
pub mod revocation;
mod ssh;

pub use bridge::{bridge, bridge_until, ClientMessage, EndReason, Frame, Pty, PtyEvent, ServerMessage};
pub use limits::{SessionLimits, SessionPermit, SessionRegistry};
pub use presets::{Preset, PresetAuth, Presets};
pub use ssh::{connect, HostKeyCheck, SshShell};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TerminalError {
    #[error("terminal configuration: {0}")]
    Config(String),
    #[error("no preset host is named {0:?}")]
    UnknownPreset(String),
    /// The host's key is not pinned yet: the administrator must confirm this fingerprint.
    #[error("the host key of {preset} is not known yet: {fingerprint}")]
    UnknownHostKey { preset: String, fingerprint: String },
    #[error(
        "HOST KEY CHANGED for {preset}: expected {expected}, the server presented {presented}. Refusing to connect."
    )]
    HostKeyChanged { preset: String, expected: String, presented: String },
    #[error("authentication failed for {0}")]
    AuthFailed(String),
    #[error("a password is needed for this host")]
    PasswordNeeded,
    #[error("cannot reach {0}")]
    Unreachable(String),
    #[error("SSH: {0}")]
    Ssh(String),
    #[error("{0}")]
    Limit(String),
}

impl From<russh::Error> for TerminalError {
    fn from(e: russh::Error) -> Self {
        TerminalError::Ssh(e.to_string())
    }
}
