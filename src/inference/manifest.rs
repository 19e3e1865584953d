//! `manifest.json`: everything needed to feed a bundle's TorchScript model and read its output.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::InferenceError;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub format: u32,
    pub name: String,
    pub version: String,
    pub architecture: String,
    #[serde(default)]
    pub description: String,
    /// Side of the square the model takes, in pixels.
    pub input_size: u32,
    /// The photo's shorter side is resized to this before the centre crop.
    pub resize_shorter: u32,
    /// Per-channel normalisation applied to values in 0..1: (x - mean) / std.
    pub mean: [f32; 3],
    pub std: [f32; 3],
    #[serde(default)]
    pub feature_dim: Option<u32>,
    pub files: BundleFiles,
    #[serde(default)]
    pub sha256: BTreeMap<String, String>,
    pub labels: Vec<Label>,
    pub thresholds: Thresholds,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BundleFiles {
    pub model: String,
    #[serde(default)]
    pub features: Option<String>,
    /// Input → last conv block activations, and activations → logits: for heat maps.
    #[serde(default)]
    pub cam_features: Option<String>,
    #[serde(default)]
    pub cam_head: Option<String>,
    /// A head applied to `model`'s output (a fine-tuned bundle: `model` is the backbone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Label {
    pub index: usize,
    pub name: String,
    /// None: the class is not an insect or other arthropod.
    pub taxon: Option<Taxon>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Taxon {
    pub rank: String,
    pub name: String,
    pub key: String,
    /// Rank name → taxon name, from class down to the label's own rank.
    pub lineage: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Thresholds {
    /// Top-1 probability above which the answer is stated as confident.
    pub confident: f32,
    /// Summed probability a higher rank needs before the answer rolls up to it.
    pub rollup: f32,
    /// Below this total arthropod probability the answer is "no insect found".
    pub arthropod_min: f32,
}

impl Manifest {
    pub fn read(dir: &Path) -> Result<Self, InferenceError> {
        let path = dir.join("manifest.json");
        let invalid = |reason: String| InferenceError::InvalidBundle {
            path: dir.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| invalid(format!("cannot read manifest.json: {e}")))?;
        let manifest: Manifest = serde_json::from_str(&text)
            .map_err(|e| invalid(format!("manifest.json is not valid: {e}")))?;
        manifest.validate().map_err(invalid)?;
        Ok(manifest)
    }

    /// Checks the manifest on its own; the model's output width is checked against it on load.
    pub fn validate(&self) -> Result<(), String> {
        if self.format != 1 {
            return Err(format!("unsupported manifest format {}", self.format));
        }
        if self.name.trim().is_empty() || self.version.trim().is_empty() {
            return Err("name and version must not be empty".into());
        }
        if !(16..=1024).contains(&self.input_size) {
            return Err(format!("input_size {} is outside 16..=1024", self.input_size));
        }
        if self.resize_shorter < self.input_size {
            return Err("resize_shorter must be at least input_size".into());
        }
        if self.std.iter().any(|s| !(s.is_finite() && *s > 0.0)) || self.mean.iter().any(|m| !m.is_finite()) {
            return Err("mean must be finite and std positive".into());
        }
        if self.labels.is_empty() {
            return Err("labels must not be empty".into());
        }
        if let Some(pos) = self.labels.iter().enumerate().position(|(i, l)| l.index != i) {
            return Err(format!("label at position {pos} has index {}", self.labels[pos].index));
        }
        let t = self.thresholds;
        for (name, v) in [("confident", t.confident), ("rollup", t.rollup), ("arthropod_min", t.arthropod_min)] {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("threshold {name} = {v} is outside 0..1"));
            }
        }
        Ok(())
    }

    pub fn arthropod_classes(&self) -> usize {
        self.labels.iter().filter(|l| l.taxon.is_some()).count()
    }
}
