//! What each kind of job leaves when it succeeds: one struct per kind, written once by the job
//! (stored as JSON in `job.result`) and read back through [`JobResult::of`].

use serde::{Deserialize, Serialize};

use super::JobKind;
use crate::entities::job;
use crate::services::evaluation::headlines::HeadlineRate;
use crate::services::evaluation::{CalibrationBin, ClassMetrics};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FineTuneResult {
    pub model_version_id: i64,
    /// "name version" of the new model.
    pub model: String,
    #[serde(deserialize_with = "super::progress::nan_if_null")]
    pub best_val_accuracy: f64,
    /// Val top-1 with each photo averaged with its mirror, when the bundle does that: then
    /// this, not `best_val_accuracy`, is what the installed model scores on val.
    #[serde(default)]
    pub mirror_val_accuracy: Option<f64>,
    #[serde(deserialize_with = "super::progress::nan_if_null")]
    pub temperature: f64,
    pub epochs: usize,
    pub feature_seconds: f64,
    pub total_seconds: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvaluateResult {
    pub model_version_id: i64,
    pub model: String,
    pub dataset: String,
    pub split: String,
    pub images: usize,
    /// Photos that could not be read.
    pub failed: usize,
    #[serde(deserialize_with = "super::progress::nan_if_null")]
    pub top1: f64,
    #[serde(deserialize_with = "super::progress::nan_if_null")]
    pub top5: f64,
    #[serde(deserialize_with = "super::progress::nan_if_null")]
    pub expected_calibration_error: f64,
    pub per_class: Vec<ClassMetrics>,
    pub calibration: Vec<CalibrationBin>,
    pub seconds: f64,
    pub images_per_second: f64,
    /// The files in the job's folder (see `reports::SERVED_FILES`).
    pub files: Vec<String>,
    /// How often each kind of headline was right (none in results written before).
    #[serde(default)]
    pub headlines: Vec<HeadlineRate>,
}

impl EvaluateResult {
    /// The 95 % interval of top-1 on these photos.
    pub fn top1_interval(&self) -> (f64, f64) {
        crate::services::evaluation::ratio_interval(self.top1, self.images)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuantizeResult {
    /// The installed int8 version.
    pub model_version_id: i64,
    pub model: String,
    pub parent_version_id: i64,
    pub calibration_photos: usize,
    #[serde(deserialize_with = "super::progress::nan_if_null")]
    pub fp32_top1: f64,
    #[serde(deserialize_with = "super::progress::nan_if_null")]
    pub int8_top1: f64,
    pub fp32_images_per_second: f64,
    pub int8_images_per_second: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportResult {
    /// The `import_job` row.
    pub import: i64,
    pub imported: i64,
    pub skipped: usize,
    pub seconds: f64,
}

/// A dataset version written as a folder under the export directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportResult {
    pub path: String,
    pub photos: usize,
}

/// A dataset version written as one .zip in the job's folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportZipResult {
    pub zip: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepredictResult {
    pub model_version_id: i64,
    pub compared: u64,
    pub agreed: u64,
    pub missing_photos: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CleanFilesResult {
    pub identifications: u64,
    pub photos: u64,
    pub removed: u64,
    pub rows_without_photo: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VacuumResult {
    pub statement: String,
    pub seconds: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DescribeResult {
    /// The new model version.
    pub model_id: i64,
    pub version: String,
    pub classes: usize,
    /// Classes that carry descriptions, and how many of them the model did not have.
    pub described_classes: usize,
    pub new_classes: usize,
    /// Classes with a photo prototype (few-shot).
    #[serde(default)]
    pub prototyped_classes: usize,
    pub descriptions: usize,
    /// Whether it became the active version (its origin still was).
    pub activated: bool,
    pub seconds: f64,
}

/// A succeeded job's result. Stored without a tag: the job's kind says which it is.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum JobResult {
    FineTune(FineTuneResult),
    Evaluate(EvaluateResult),
    Quantize(QuantizeResult),
    Import(ImportResult),
    Export(ExportResult),
    ExportZip(ExportZipResult),
    Repredict(RepredictResult),
    CleanFiles(CleanFilesResult),
    Vacuum(VacuumResult),
    Describe(DescribeResult),
}

impl JobResult {
    /// A succeeded job's result; None while it has none (or for a row no version wrote).
    pub fn of(row: &job::Model) -> Option<JobResult> {
        Self::parse(row.kind, &row.result)
    }

    pub(crate) fn parse(kind: JobKind, text: &str) -> Option<JobResult> {
        fn read<T: serde::de::DeserializeOwned>(text: &str) -> Option<T> {
            serde_json::from_str(text).ok()
        }
        match kind {
            JobKind::FineTune => read(text).map(JobResult::FineTune),
            JobKind::Evaluate => read(text).map(JobResult::Evaluate),
            JobKind::Quantize => read(text).map(JobResult::Quantize),
            JobKind::ImportDataset => read(text).map(JobResult::Import),
            JobKind::ExportDataset => {
                read(text).map(JobResult::ExportZip).or_else(|| read(text).map(JobResult::Export))
            }
            JobKind::Repredict => read(text).map(JobResult::Repredict),
            JobKind::CleanFiles => read(text).map(JobResult::CleanFiles),
            JobKind::Vacuum => read(text).map(JobResult::Vacuum),
            JobKind::DescribeClasses => read(text).map(JobResult::Describe),
        }
    }

    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string(self).expect("results serialise")
    }

    /// One line about what the job produced, for the jobs list.
    pub fn summary(&self) -> String {
        let pct = |x: f64| format!("{:.2} %", x * 100.0);
        match self {
            JobResult::FineTune(r) => match r.mirror_val_accuracy {
                Some(m) => {
                    format!("{} · val top-1 {} with the mirror ({} without)", r.model, pct(m), pct(r.best_val_accuracy))
                }
                None => format!("{} · best val top-1 {}", r.model, pct(r.best_val_accuracy)),
            },
            JobResult::Evaluate(r) => {
                let interval = crate::services::evaluation::interval_text(r.top1_interval());
                format!("{} · top-1 {} (95 % interval {interval}) · top-5 {}", r.model, pct(r.top1), pct(r.top5))
            }
            JobResult::Quantize(r) => {
                format!("{} · val top-1 {} (fp32 {})", r.model, pct(r.int8_top1), pct(r.fp32_top1))
            }
            JobResult::Import(r) => format!("{} photos imported, {} skipped", r.imported, r.skipped),
            JobResult::Export(r) => format!("{} photos written to {}", r.photos, r.path),
            JobResult::ExportZip(r) => format!("{} bytes ready to download", r.bytes),
            JobResult::Repredict(r) => format!("{} compared, {} agree", r.compared, r.agreed),
            JobResult::CleanFiles(r) => format!(
                "{} identifications, {} photos, {} removed, {} without photo",
                r.identifications, r.photos, r.removed, r.rows_without_photo
            ),
            JobResult::Vacuum(r) => format!("{} in {:.2} s", r.statement, r.seconds),
            JobResult::Describe(r) => format!(
                "version {} · {} classes, {} described ({} new){}",
                r.version,
                r.classes,
                r.described_classes,
                r.new_classes,
                if r.activated { " · active" } else { "" }
            ),
        }
    }

    /// Files the job wrote into its folder, served on its page.
    pub fn files(&self) -> &[String] {
        match self {
            JobResult::Evaluate(r) => &r.files,
            _ => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_evaluation_says_how_far_its_top1_can_be_trusted() {
        let r = EvaluateResult {
            model_version_id: 1,
            model: "m 1".into(),
            dataset: "rp11@1".into(),
            split: "val".into(),
            images: 676,
            failed: 0,
            top1: 595.0 / 676.0,
            top5: 1.0,
            expected_calibration_error: 0.02,
            per_class: Vec::new(),
            calibration: Vec::new(),
            seconds: 1.0,
            images_per_second: 676.0,
            files: Vec::new(),
            headlines: Vec::new(),
        };
        // 595 of 676: Wilson's 95 % interval is 85.35–90.25 %.
        assert_eq!(
            JobResult::Evaluate(r).summary(),
            "m 1 · top-1 88.02 % (95 % interval 85.4–90.3 %) · top-5 100.00 %"
        );
    }

    #[test]
    fn the_kind_says_how_to_read_a_result() {
        let zip = JobResult::ExportZip(ExportZipResult { zip: "dataset.zip".into(), bytes: 10 });
        let folder = JobResult::Export(ExportResult { path: "/x".into(), photos: 3 });
        for r in [zip, folder] {
            assert_eq!(JobResult::parse(JobKind::ExportDataset, &r.to_json()), Some(r.clone()));
        }
        let vacuum = JobResult::Vacuum(VacuumResult { statement: "VACUUM".into(), seconds: 0.5 });
        assert_eq!(vacuum.to_json(), r#"{"statement":"VACUUM","seconds":0.5}"#, "stored without a tag");
        assert_eq!(JobResult::parse(JobKind::Vacuum, &vacuum.to_json()), Some(vacuum));
        assert_eq!(JobResult::parse(JobKind::Repredict, r#"{"statement":"VACUUM","seconds":0.5}"#), None);
        assert_eq!(JobResult::parse(JobKind::FineTune, "{}"), None, "a failed job's empty result");
    }

    #[test]
    fn summaries_name_the_figures() {
        let r = FineTuneResult {
            model_version_id: 4,
            model: "pests 1.1".into(),
            best_val_accuracy: 0.8912,
            mirror_val_accuracy: None,
            temperature: 1.3,
            epochs: 12,
            feature_seconds: 30.0,
            total_seconds: 90.0,
        };
        assert_eq!(JobResult::FineTune(r.clone()).summary(), "pests 1.1 · best val top-1 89.12 %");
        let mirrored = JobResult::FineTune(FineTuneResult { mirror_val_accuracy: Some(0.8963), ..r });
        assert_eq!(mirrored.summary(), "pests 1.1 · val top-1 89.63 % with the mirror (89.12 % without)");
        assert!(mirrored.files().is_empty());
    }
}
