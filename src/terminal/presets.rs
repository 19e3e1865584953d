//! The hosts the terminal may reach: presets from the configuration, nothing else (as
//! sshwifty's OnlyAllowPresetRemotes). A request names a preset; it can never name a host.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::TerminalError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum PresetAuth {
    /// Asked in the browser each time, never stored.
    Password,
    /// A private key file the server holds (OpenSSH format, unencrypted).
    Key { path: PathBuf },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preset {
    pub name: String,
    pub host: String,
    #[serde(default = "default_port")]
    pub port: u16,
    pub user: String,
    pub auth: PresetAuth,
    /// "SHA256:…" as `ssh-keygen -lf` prints it. When set, any other key is refused.
    #[serde(default)]
    pub fingerprint: Option<String>,
}

fn default_port() -> u16 {
    22
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Presets(Vec<Preset>);

impl Presets {
    /// Reads a JSON list of presets. A missing file means no presets (the page says so).
    pub fn load(path: &Path) -> Result<Presets, TerminalError> {
        let bad = |m: String| TerminalError::Config(format!("{}: {m}", path.display()));
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        let list: Vec<Preset> = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        Presets::new(list).map_err(bad)
    }

    pub fn new(list: Vec<Preset>) -> Result<Presets, String> {
        for (i, p) in list.iter().enumerate() {
            let ok_name = !p.name.is_empty()
                && p.name.len() <= 64
                && p.name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            if !ok_name {
                return Err(format!("preset {i}: name {:?} must be 1 to 64 letters, digits, '-', '_' or '.'", p.name));
            }
            if list.iter().filter(|q| q.name == p.name).count() > 1 {
                return Err(format!("preset {:?} is defined twice", p.name));
            }
            if p.host.trim().is_empty() || p.user.trim().is_empty() || p.port == 0 {
                return Err(format!("preset {:?}: host, user and port are required", p.name));
            }
            if let Some(f) = &p.fingerprint {
                if !f.starts_with("SHA256:") {
                    return Err(format!("preset {:?}: fingerprint must look like SHA256:… (ssh-keygen -lf)", p.name));
                }
            }
        }
        Ok(Presets(list))
    }

    pub fn get(&self, name: &str) -> Result<&Preset, TerminalError> {
        self.0.iter().find(|p| p.name == name).ok_or_else(|| TerminalError::UnknownPreset(name.to_string()))
    }

    pub fn all(&self) -> &[Preset] {
        &self.0
    }
}
