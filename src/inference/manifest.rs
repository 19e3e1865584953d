//! `manifest.json`: everything needed to feed a bundle's TorchScript model and read its output.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::InferenceError;
use super::Thresholds;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub format: u32,
    /// A classifier, or an image–text model whose classes are text prompts.
    #[serde(default, skip_serializing_if = "BundleKind::is_classifier")]
    pub kind: BundleKind,
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
    /// Number format of `files.model`; the other files are always fp32.
    #[serde(default)]
    pub precision: Precision,
    /// What the engine adds to each photo's forward pass (fine-tuned bundles: its mirror).
    #[serde(default, skip_serializing_if = "TestTime::is_none")]
    pub test_time: TestTime,
    pub files: BundleFiles,
    /// Image–text bundles only: how text and image embeddings meet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_text: Option<ImageTextSpec>,
    #[serde(default)]
    pub sha256: BTreeMap<String, String>,
    pub labels: Vec<Label>,
    pub thresholds: Thresholds,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum BundleKind {
    /// `files.model` (plus `files.head`) maps a photo to one logit per label.
    #[default]
    Classifier,
    /// `files.model` maps a photo to an embedding, `files.text_encoder` maps each label's
    /// prompts to embeddings of the same space; a label's logit is their scaled cosine.
    ImageText,
}

impl BundleKind {
    pub fn is_classifier(&self) -> bool {
        *self == BundleKind::Classifier
    }
}

/// The numbers an image–text model needs besides its two encoders (CLIP's conventions).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ImageTextSpec {
    /// Cosine similarity × this = logit (CLIP's learned temperature, exponentiated).
    pub logit_scale: f32,
    /// Token ids the text encoder takes per prompt, start and end tokens included.
    pub context_length: u32,
    /// Width of both encoders' embeddings.
    pub embed_dim: u32,
    /// The id that fills a prompt's ids up to `context_length`.
    #[serde(default)]
    pub pad_id: u32,
    /// Languages the text encoder reads ("en", "zh"); descriptions in others are not embedded.
    #[serde(default = "english_only")]
    pub languages: Vec<String>,
    /// How much a class's photo prototype counts against its prompts (0..=1).
    #[serde(default)]
    pub photo_weight: f32,
}

fn english_only() -> Vec<String> {
    vec!["en".into()]
}

/// How the classifier's numbers are stored. int8 bundles (made by `scripts/export_int8.py`)
/// run on the CPU only: PyTorch has quantized kernels for x86 and ARM CPUs, none for CUDA.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    #[default]
    Fp32,
    Int8,
}

impl Precision {
    pub fn as_str(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Int8 => "int8",
        }
    }

    /// The device a model of this precision runs on when `wanted` is asked for.
    pub fn device(self, wanted: tch::Device) -> tch::Device {
        match self {
            Precision::Fp32 => wanted,
            Precision::Int8 => tch::Device::Cpu,
        }
    }
}

/// Test-time augmentation: views of the photo whose logits the engine averages. Mirroring
/// costs a second forward pass; on rp11 it bought nothing (README, "Model bundles").
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TestTime {
    /// The photo alone.
    #[default]
    None,
    /// The photo and its mirror image.
    Flip,
}

impl TestTime {
    pub fn is_none(&self) -> bool {
        *self == TestTime::None
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
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
    /// int8 only: `model` quantized with 7-bit activations, for CPUs without VNNI (see
    /// [`BundleFiles::model_for_this_cpu`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_7bit: Option<String>,
    /// Image–text only: token ids → embedding (TorchScript), and the tokenizer.json.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_encoder: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokenizer: Option<String>,
}

impl BundleFiles {
    /// Every file these name, each of which must exist in the bundle.
    pub fn named(&self) -> impl Iterator<Item = &String> {
        std::iter::once(&self.model)
            .chain(self.features.as_ref())
            .chain(self.cam_features.as_ref())
            .chain(self.cam_head.as_ref())
            .chain(self.head.as_ref())
            .chain(self.model_7bit.as_ref())
            .chain(self.text_encoder.as_ref())
            .chain(self.tokenizer.as_ref())
    }

    /// The model file this CPU computes exactly. x86's int8 kernels add pairs of u8×s8
    /// products into 16 bits with saturation unless the CPU has AVX-512 VNNI; full 8-bit
    /// activations overflow there (a fine-tuned model measured 0 % top-1 against 100 % in
    /// fp32 on an AVX2-only CPU), 7-bit ones cannot.
    pub fn model_for_this_cpu(&self) -> &String {
        match &self.model_7bit {
            Some(seven_bit) if !cpu_adds_int8_exactly() => seven_bit,
            _ => &self.model,
        }
    }
}

/// AVX-512 VNNI (or a CPU that is not x86, whose kernels do not saturate this way).
pub fn cpu_adds_int8_exactly() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        true
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Label {
    pub index: usize,
    pub name: String,
    /// None: the class is not an insect or other arthropod.
    pub taxon: Option<Taxon>,
    /// Image–text bundles: descriptions whose mean embedding is the class, as exported.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prompts: Vec<String>,
    /// Image–text bundles: descriptions administrators added (the portal writes these when it
    /// derives a version from its species descriptions; `prompts` stay as exported).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub described: Vec<String>,
    /// Image–text bundles (few-shot): the unit mean image embedding of the class's labelled
    /// photos, blended with its prompts by `image_text.photo_weight`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prototype: Option<Vec<f32>>,
}

impl Label {
    /// Whether the class is the bundle's own (exported prompts or a photo prototype), not one
    /// only administrators' descriptions brought in.
    pub fn is_from_origin(&self) -> bool {
        !self.prompts.is_empty() || self.prototype.is_some()
    }

    /// Every text the class is the mean of.
    pub fn all_prompts(&self) -> impl Iterator<Item = &String> {
        self.prompts.iter().chain(&self.described)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Taxon {
    pub rank: String,
    pub name: String,
    pub key: String,
    /// Rank name → taxon name, from class down to the label's own rank.
    pub lineage: BTreeMap<String, String>,
}

/// A file a manifest names must be a plain name inside the bundle: the bundle's files are read
/// by joining the name to its directory, so `/dev/zero`, `../x` or `a/../../x` would read
/// outside it (an uploaded bundle could name any file of the server, or one that never ends).
pub fn check_file_name(name: &str) -> Result<(), String> {
    let plain = !name.is_empty()
        && !name.starts_with('.')
        && !name.contains(['/', '\\'])
        && !name.chars().any(char::is_control);
    if plain {
        Ok(())
    } else {
        Err(format!("file name {name:?} must be a plain name inside the bundle"))
    }
}

impl Manifest {
    pub fn read(dir: &Path) -> Result<Self, InferenceError> {
        let path = dir.join("manifest.json");
        let invalid = |reason: String| InferenceError::InvalidBundle { path: dir.display().to_string(), reason };
        let text = std::fs::read_to_string(&path).map_err(|e| invalid(format!("cannot read manifest.json: {e}")))?;
        let manifest: Manifest =
            serde_json::from_str(&text).map_err(|e| invalid(format!("manifest.json is not valid: {e}")))?;
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
        // Label names become feedback and dataset classes, written one per line on export.
        if let Some(l) = self.labels.iter().find(|l| l.name.chars().any(crate::services::labels::unsafe_in_label)) {
            return Err(format!("label {} holds a line break or control character", l.index));
        }
        for name in self.file_names() {
            check_file_name(name)?;
        }
        super::image_text::validate(self)?;
        self.thresholds.validate()
    }

    /// Every file the manifest names: its model files and the keys of its digests.
    pub fn file_names(&self) -> impl Iterator<Item = &String> {
        self.files.named().chain(self.sha256.keys())
    }

    pub fn arthropod_classes(&self) -> usize {
        self.labels.iter().filter(|l| l.taxon.is_some()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        serde_json::from_value(serde_json::json!({
            "format": 1, "name": "m", "version": "1", "architecture": "a",
            "input_size": 224, "resize_shorter": 256,
            "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25],
            "files": { "model": "model.pt", "head": "head.pt" },
            "sha256": { "model.pt": "00", "head.pt": "11" },
            "labels": [{ "index": 0, "name": "ladybug", "taxon": null }],
            "thresholds": { "confident": 0.5, "rollup": 0.5, "arthropod_min": 0.1 }
        }))
        .unwrap()
    }

    #[test]
    fn file_names_must_be_plain_names_inside_the_bundle() {
        assert_eq!(manifest().validate(), Ok(()));
        let attacks = [
            "/dev/zero",
            "../model.pt",
            "a/../../etc/passwd",
            "..",
            ".",
            "",
            "sub\\model.pt",
            "model.pt\n",
            "C:\\x",
            ".hidden",
        ];
        for name in attacks {
            let mut m = manifest();
            m.sha256.insert(name.into(), "00".into());
            let err = m.validate().expect_err(name);
            assert!(err.contains("plain name"), "{name:?}: {err}");
            let mut m = manifest();
            m.files.head = Some(name.into());
            assert!(m.validate().is_err(), "files.head = {name:?}");
        }
    }

    #[test]
    fn label_names_hold_no_line_breaks() {
        let mut m = manifest();
        m.labels[0].name = "lady\nbug".into();
        assert!(m.validate().unwrap_err().contains("line break"));
    }
}
