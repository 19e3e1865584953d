//! Background jobs: fine-tuning, evaluation, dataset import/export and maintenance, queued in
//! the database and run by whichever server instance claims them. Each job carries a typed
//! [`JobSpec`]; nothing a person types ever becomes a shell command.

pub mod commands;
mod describe;
pub mod progress;
mod quantize;
pub mod queue;
pub mod reports;
pub mod results;
pub mod runner;
mod work;

use serde::{Deserialize, Serialize};

use crate::inference::TestTime;

pub use crate::entities::job::{JobKind, JobState};
pub use progress::{EpochPoint, Phase, Progress};
pub use results::JobResult;
pub use runner::{JobContext, JobHandle, JobRunner, RunnerSettings};

/// What a job does, with its parameters. Stored as JSON in `job.params`; unknown fields are
/// refused so a command file cannot smuggle anything in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum JobSpec {
    /// A new classifier head on a base model's backbone, trained on a dataset version.
    FineTune {
        dataset: String,
        /// Model version to start from; the active one when absent.
        #[serde(default)]
        base_model: Option<i64>,
        #[serde(default = "default_hidden")]
        hidden: i64,
        #[serde(default = "default_epochs")]
        epochs: usize,
        #[serde(default = "default_patience")]
        patience: usize,
        /// Views of each training photo: 1 the photo, 2 adds its mirror, more add random
        /// resized crops with colour jitter.
        #[serde(default = "default_views")]
        views: usize,
        /// Backbone blocks trained after the head (absent: `fine_tune::SecondStage::choose`).
        #[serde(default)]
        unfreeze: Option<usize>,
        /// Whether the new bundle averages each photo with its mirror image (default: no;
        /// on rp11 it measured no better, at twice the forward work).
        #[serde(default)]
        test_time: TestTime,
    },
    /// A model version on a split of a dataset version.
    Evaluate {
        model: i64,
        dataset: String,
        #[serde(default = "default_split")]
        split: String,
    },
    /// A folder inside the import directory, as a new dataset version.
    ImportDataset { name: String, folder: String },
    /// A dataset version written to the export directory.
    /// `zip`: write one .zip into the job's folder for its requester to download (the
    /// Datasets page) instead of a folder under DATA_DIR/exports (the Commands page).
    ExportDataset {
        dataset: String,
        #[serde(default = "default_layout")]
        layout: String,
        #[serde(default)]
        zip: bool,
    },
    /// The int8 variant of a model version, calibrated on a dataset version's train split,
    /// installed beside it and both evaluated on the val split.
    Quantize {
        model: i64,
        dataset: String,
        /// Calibration photos (more: slower, rarely better past a few hundred).
        #[serde(default = "default_calibration")]
        calibration: usize,
    },
    /// A model version run over stored identifications, recorded as shadow predictions.
    Repredict {
        model: i64,
        #[serde(default = "default_limit")]
        limit: u64,
    },
    /// Orphaned photos and unfinished temporary files older than the grace period removed.
    CleanFiles {
        #[serde(default = "default_grace")]
        grace_minutes: u64,
    },
    /// The database compacted and its statistics refreshed.
    Vacuum {},
    /// An image–text model version re-made with every species description, activated when
    /// that version is the active one (queued when an administrator edits a description).
    /// With `dataset`, each class also gets the prototype of its train photos there (few-shot:
    /// a class only the photos know is added), counting `photo_weight` % against its prompts.
    DescribeClasses {
        /// The version to re-make; absent: the one active when the job runs (what a
        /// description edit queues, so that edits made while a job runs are not lost).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        model: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dataset: Option<String>,
        #[serde(default = "default_photo_weight")]
        photo_weight: u32,
    },
}

fn default_hidden() -> i64 {
    512
}
fn default_epochs() -> usize {
    60
}
fn default_patience() -> usize {
    10
}
fn default_views() -> usize {
    4
}
fn default_calibration() -> usize {
    512
}
fn default_split() -> String {
    "test".into()
}
fn default_layout() -> String {
    "ip102".into()
}
fn default_limit() -> u64 {
    1000
}
fn default_grace() -> u64 {
    60
}
fn default_photo_weight() -> u32 {
    50
}

impl JobSpec {
    pub fn kind(&self) -> JobKind {
        match self {
            JobSpec::FineTune { .. } => JobKind::FineTune,
            JobSpec::Evaluate { .. } => JobKind::Evaluate,
            JobSpec::Quantize { .. } => JobKind::Quantize,
            JobSpec::ImportDataset { .. } => JobKind::ImportDataset,
            JobSpec::ExportDataset { .. } => JobKind::ExportDataset,
            JobSpec::Repredict { .. } => JobKind::Repredict,
            JobSpec::CleanFiles { .. } => JobKind::CleanFiles,
            JobSpec::Vacuum {} => JobKind::Vacuum,
            JobSpec::DescribeClasses { .. } => JobKind::DescribeClasses,
        }
    }

    /// Ranges and names checked before a job is queued (existence is checked by the queue).
    pub fn validate(&self) -> Result<(), String> {
        match self {
            JobSpec::FineTune { hidden, epochs, patience, views, unfreeze, .. } => {
                check_range("views", *views as i64, 1, 16)?;
                check_range("unfreeze", unfreeze.unwrap_or(0) as i64, 0, 16)?;
                check_range("hidden", *hidden, 0, 4096)?;
                check_range("epochs", *epochs as i64, 1, 500)?;
                check_range("patience", *patience as i64, 1, 100)
            }
            JobSpec::Evaluate { split, .. } => check_split(split),
            JobSpec::Quantize { calibration, .. } => check_range("calibration", *calibration as i64, 16, 5000),
            JobSpec::ImportDataset { name, folder } => {
                crate::services::datasets::check_name(name).map_err(|e| e.to_string())?;
                if folder.trim().is_empty() {
                    return Err("choose a folder to import".into());
                }
                Ok(())
            }
            JobSpec::ExportDataset { layout, .. } => {
                crate::services::datasets::Layout::parse(layout).map(|_| ()).map_err(|e| e.to_string())
            }
            JobSpec::Repredict { limit, .. } => check_range("limit", *limit as i64, 1, 1_000_000),
            JobSpec::CleanFiles { grace_minutes } => {
                check_range("grace_minutes", *grace_minutes as i64, 0, 60 * 24 * 30)
            }
            JobSpec::DescribeClasses { photo_weight, .. } => {
                check_range("photo_weight", i64::from(*photo_weight), 0, 100)
            }
            JobSpec::Vacuum {} => Ok(()),
        }
    }
}

fn check_range(name: &str, value: i64, min: i64, max: i64) -> Result<(), String> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(format!("{name} must be between {min} and {max}, not {value}"))
    }
}

fn check_split(split: &str) -> Result<(), String> {
    match split {
        "train" | "val" | "test" => Ok(()),
        other => Err(format!("split must be train, val or test, not {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_round_trip_and_refuse_unknown_fields() {
        let spec = JobSpec::Evaluate { model: 3, dataset: "rp11@1".into(), split: "val".into() };
        let json = serde_json::to_string(&spec).unwrap();
        assert_eq!(json, r#"{"kind":"evaluate","model":3,"dataset":"rp11@1","split":"val"}"#);
        assert_eq!(serde_json::from_str::<JobSpec>(&json).unwrap(), spec);
        let smuggled = r#"{"kind":"vacuum","command":"rm -rf /"}"#;
        let err = serde_json::from_str::<JobSpec>(smuggled).unwrap_err().to_string();
        assert!(err.contains("unknown field `command`"), "{err}");
        let err = serde_json::from_str::<JobSpec>(r#"{"kind":"shell","cmd":"ls"}"#).unwrap_err().to_string();
        assert!(err.contains("unknown variant `shell`"), "{err}");
    }

    #[test]
    fn a_specs_kind_is_its_stored_tag() {
        let specs = [
            JobSpec::Evaluate { model: 1, dataset: "d@1".into(), split: "val".into() },
            JobSpec::Vacuum {},
            JobSpec::CleanFiles { grace_minutes: 5 },
            JobSpec::ExportDataset { dataset: "d@1".into(), layout: "ip102".into(), zip: true },
        ];
        for spec in specs {
            let json = serde_json::to_value(&spec).unwrap();
            assert_eq!(json["kind"], spec.kind().as_str());
            assert_eq!(serde_json::to_value(spec.kind()).unwrap(), json["kind"]);
        }
        use sea_orm::{ActiveEnum, Iterable};
        for kind in JobKind::iter() {
            assert_eq!(kind.to_value(), kind.as_str(), "the column holds what the code names");
        }
        for state in JobState::iter() {
            assert_eq!(state.to_value(), state.as_str());
        }
    }

    #[test]
    fn validation_names_the_bad_value() {
        let spec = JobSpec::FineTune {
            dataset: "d".into(),
            base_model: None,
            hidden: 512,
            epochs: 0,
            patience: 5,
            views: 2,
            unfreeze: None,
            test_time: TestTime::Flip,
        };
        assert_eq!(spec.validate().unwrap_err(), "epochs must be between 1 and 500, not 0");
        let split = JobSpec::Evaluate { model: 1, dataset: "d".into(), split: "everything".into() }.validate();
        assert_eq!(split.unwrap_err(), r#"split must be train, val or test, not "everything""#);
        let layout = JobSpec::ExportDataset { dataset: "d".into(), layout: "tar".into(), zip: false }.validate();
        assert!(layout.unwrap_err().contains("tar"));
        assert!(JobSpec::Vacuum {}.validate().is_ok());
    }
}
