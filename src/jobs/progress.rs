//! A running job's progress: one struct, changed only through the job's [`JobHandle`], stored
//! as JSON in `job.progress` and read back by the pages and the API with [`Progress::of`].
//!
//! [`JobHandle`]: super::JobHandle

use serde::{Deserialize, Serialize};

use crate::entities::job;

/// What a job is doing now. The stored names are those earlier versions wrote, so old rows
/// still read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    /// Claimed, not yet counting anything.
    #[default]
    #[serde(rename = "")]
    Starting,
    /// Fine-tuning: the frozen backbone's features of every view.
    #[serde(rename = "features")]
    Features,
    /// Fine-tuning: epochs of the head (and unfrozen blocks).
    #[serde(rename = "training")]
    Training,
    #[serde(rename = "evaluating")]
    Evaluating,
    /// Quantizing: the parent fp32 version on the val split.
    #[serde(rename = "evaluating the fp32 version")]
    EvaluatingFp32,
    /// Quantizing: the new int8 version on the val split.
    #[serde(rename = "evaluating the int8 version")]
    EvaluatingInt8,
    /// Quantizing: calibration photos through the observed model.
    #[serde(rename = "calibrating")]
    Calibrating,
    #[serde(rename = "importing")]
    Importing,
    /// Re-prediction: a model over stored identifications.
    #[serde(rename = "predicting")]
    Predicting,
}

impl Phase {
    /// The words the Commands page shows.
    pub fn text(self) -> &'static str {
        match self {
            Phase::Starting => "",
            Phase::Features => "features",
            Phase::Training => "training",
            Phase::Evaluating => "evaluating",
            Phase::EvaluatingFp32 => "evaluating the fp32 version",
            Phase::EvaluatingInt8 => "evaluating the int8 version",
            Phase::Calibrating => "calibrating",
            Phase::Importing => "importing",
            Phase::Predicting => "predicting",
        }
    }
}

/// One finished training epoch, for the fine-tune's chart.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EpochPoint {
    pub epoch: usize,
    #[serde(deserialize_with = "nan_if_null")]
    pub train_loss: f64,
    #[serde(deserialize_with = "nan_if_null")]
    pub val_accuracy: f64,
}

/// A float as serde_json stores it: NaN and the infinities become `null`, which read back as
/// NaN instead of failing the whole struct (a diverged loss must not hide a job's history).
pub(crate) fn nan_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// Where a job stands: its phase, how far through it, and an estimate of the time left.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Progress {
    pub phase: Phase,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub done: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eta_seconds: Option<f64>,
    /// Fine-tuning: the epochs trained so far in this run.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<EpochPoint>,
}

impl Progress {
    /// `done` of `total` in `phase`, the history kept.
    pub fn count(&mut self, phase: Phase, done: usize, total: usize) {
        self.phase = phase;
        self.done = Some(done as u64);
        self.total = Some(total as u64);
    }

    /// The share done, when the job counts what it does.
    pub fn fraction(&self) -> Option<f64> {
        match (self.done, self.total) {
            (Some(done), Some(total)) if total > 0 => Some((done as f64 / total as f64).clamp(0.0, 1.0)),
            _ => None,
        }
    }

    /// A job row's progress. A row that holds none yet (or that no version of this struct
    /// wrote) reads as just started rather than failing the page that shows it.
    pub fn of(row: &job::Model) -> Progress {
        Self::parse(&row.progress)
    }

    pub(crate) fn parse(text: &str) -> Progress {
        serde_json::from_str(text).unwrap_or_default()
    }

    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string(self).expect("progress serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_written_before_the_struct_still_read() {
        let old = r#"{"phase":"training","done":3,"total":60,"epoch":3,"train_loss":0.5,"val_accuracy":0.8,
            "eta_seconds":42.0,"history":[{"epoch":1,"train_loss":0.9,"val_accuracy":0.7}]}"#;
        let p = Progress::parse(old);
        assert_eq!((p.phase, p.done, p.total, p.eta_seconds), (Phase::Training, Some(3), Some(60), Some(42.0)));
        assert_eq!(p.history, vec![EpochPoint { epoch: 1, train_loss: 0.9, val_accuracy: 0.7 }]);
        assert_eq!(Progress::parse(r#"{"phase":"evaluating the int8 version"}"#).phase, Phase::EvaluatingInt8);
        assert_eq!(Progress::parse("{}"), Progress::default());
        assert_eq!(Progress::parse("not json"), Progress::default());
    }

    #[test]
    fn what_is_written_reads_back_the_same() {
        let mut p = Progress::default();
        p.count(Phase::Calibrating, 5, 20);
        p.history.push(EpochPoint { epoch: 2, train_loss: 0.25, val_accuracy: 0.5 });
        assert_eq!(Progress::parse(&p.to_json()), p);
        assert_eq!(p.fraction(), Some(0.25));
        assert_eq!(serde_json::to_value(Phase::EvaluatingFp32).unwrap(), "evaluating the fp32 version");
        for phase in [Phase::Features, Phase::Importing, Phase::Predicting] {
            assert_eq!(serde_json::to_value(phase).unwrap(), phase.text(), "the page shows what is stored");
        }
    }

    #[test]
    fn a_diverged_loss_keeps_the_history() {
        let mut p = Progress::default();
        p.history.push(EpochPoint { epoch: 1, train_loss: f64::NAN, val_accuracy: 0.5 });
        let read = Progress::parse(&p.to_json());
        assert_eq!(read.history.len(), 1);
        assert!(read.history[0].train_loss.is_nan() && read.history[0].val_accuracy == 0.5);
    }

    #[test]
    fn a_fraction_needs_a_total() {
        let mut p = Progress::default();
        assert_eq!(p.fraction(), None);
        p.count(Phase::Importing, 0, 0);
        assert_eq!(p.fraction(), None);
        p.count(Phase::Importing, 9, 4);
        assert_eq!(p.fraction(), Some(1.0));
    }
}
