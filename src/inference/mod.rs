//! Turning photos into answers: model bundles, preprocessing and the batching engine.

mod active_model;
pub mod answer;
mod batch_tuning;
mod bundle;
pub mod decode_budget;
mod engine;
mod error;
mod forward_pool;
pub mod heatmap;
pub mod image_text;
mod manifest;
pub mod preprocess;
mod similarity;
mod thresholds;
pub mod torch_threads;

pub use active_model::{ActiveModel, ModelStatus};
pub use answer::{answer, Answer, ScoredClass, Verdict};
pub use bundle::{ModelBundle, Scores, TopClass};
pub use engine::{Classified, EngineConfig, InferenceEngine, GPU_BATCH_LIMIT};
pub use error::InferenceError;
pub use forward_pool::cpu_plan;
pub use manifest::{cpu_adds_int8_exactly, BundleKind, ImageTextSpec, Label, Manifest, Precision, Taxon, TestTime};
pub use similarity::ClassVectors;
pub use thresholds::{RankThresholds, Thresholds};

/// Where tensors live: the GPU when asked for and present, else the CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DevicePreference {
    #[default]
    Auto,
    Cpu,
    Cuda,
}

impl std::str::FromStr for DevicePreference {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "cuda" | "gpu" => Ok(Self::Cuda),
            other => Err(format!("unknown device '{other}' (expected auto, cpu or cuda)")),
        }
    }
}

impl DevicePreference {
    pub fn resolve(self) -> Result<tch::Device, InferenceError> {
        match self {
            Self::Cpu => Ok(tch::Device::Cpu),
            Self::Auto => Ok(tch::Device::cuda_if_available()),
            Self::Cuda if tch::Cuda::is_available() => Ok(tch::Device::Cuda(0)),
            Self::Cuda => Err(InferenceError::Device("CUDA was asked for but no CUDA device is available".into())),
        }
    }
}

pub fn device_name(device: tch::Device) -> String {
    match device {
        tch::Device::Cpu => "cpu".into(),
        tch::Device::Cuda(i) => format!("cuda:{i}"),
        other => format!("{other:?}").to_lowercase(),
    }
}
