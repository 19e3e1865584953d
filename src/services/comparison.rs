//! Two evaluations of the same photos side by side: each model's figures, per class, and where
//! they differ photo by photo, with McNemar's exact test telling whether the difference in
//! accuracy is more than chance.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::evaluation::EvalReport;
use crate::ServiceError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Side {
    pub model: String,
    pub top1: f64,
    pub top5: f64,
    pub expected_calibration_error: f64,
    pub images_per_second: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassPair {
    pub name: String,
    pub support: u32,
    pub recall: (f64, f64),
    pub precision: (f64, f64),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub dataset: String,
    pub a: Side,
    pub b: Side,
    pub per_class: Vec<ClassPair>,
    /// Photos both evaluations saw.
    pub photos: usize,
    pub both_right: usize,
    pub only_a_right: usize,
    pub only_b_right: usize,
    pub both_wrong: usize,
    /// Photos where both gave the same class (right or wrong).
    pub same_answer: usize,
    /// Two-sided exact McNemar p-value over the photos only one model got right.
    pub mcnemar_p: f64,
}

fn side(r: &EvalReport) -> Side {
    Side {
        model: format!("{} {}", r.model_name, r.model_version),
        top1: r.top1,
        top5: r.top5,
        expected_calibration_error: r.expected_calibration_error,
        images_per_second: r.images_per_second,
    }
}

/// Compares two evaluations of one dataset split (refused for different datasets or classes).
pub fn compare(a: &EvalReport, b: &EvalReport) -> Result<Comparison, ServiceError> {
    if a.dataset != b.dataset || a.classes != b.classes {
        return Err(ServiceError::InvalidInput(format!(
            "the evaluations are of different data ({} and {}): compare two runs on the same split",
            a.dataset, b.dataset
        )));
    }
    let by_photo: HashMap<&str, (usize, usize)> =
        b.predictions.iter().map(|p| (p.photo.as_str(), (p.truth, p.predicted))).collect();
    let (mut both_right, mut only_a, mut only_b, mut both_wrong, mut same, mut photos) = (0, 0, 0, 0, 0, 0);
    for p in &a.predictions {
        let Some(&(truth, predicted_b)) = by_photo.get(p.photo.as_str()) else { continue };
        photos += 1;
        let (ra, rb) = (p.predicted == p.truth, predicted_b == truth);
        match (ra, rb) {
            (true, true) => both_right += 1,
            (true, false) => only_a += 1,
            (false, true) => only_b += 1,
            (false, false) => both_wrong += 1,
        }
        if p.predicted == predicted_b {
            same += 1;
        }
    }
    let per_class = a
        .per_class
        .iter()
        .zip(&b.per_class)
        .map(|(x, y)| ClassPair {
            name: x.name.clone(),
            support: x.support,
            recall: (x.recall, y.recall),
            precision: (x.precision, y.precision),
        })
        .collect();
    Ok(Comparison {
        dataset: a.dataset.clone(),
        a: side(a),
        b: side(b),
        per_class,
        photos,
        both_right,
        only_a_right: only_a,
        only_b_right: only_b,
        both_wrong,
        same_answer: same,
        mcnemar_p: mcnemar_exact(only_a, only_b),
    })
}

/// P(a split at least this uneven | each discordant photo is a fair coin), two-sided.
pub fn mcnemar_exact(n01: usize, n10: usize) -> f64 {
    let n = n01 + n10;
    if n == 0 {
        return 1.0;
    }
    let k = n01.min(n10);
    let ln_choose = |n: usize, k: usize| -> f64 { (1..=k).map(|i| ((n - k + i) as f64).ln() - (i as f64).ln()).sum() };
    let tail: f64 = (0..=k).map(|i| (ln_choose(n, i) - n as f64 * std::f64::consts::LN_2).exp()).sum();
    (2.0 * tail).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::evaluation::{ClassMetrics, PhotoPrediction};

    fn report(model: &str, predicted: &[usize]) -> EvalReport {
        let truth = [0, 0, 1, 1, 1, 0];
        EvalReport {
            model_name: model.into(),
            model_version: "1".into(),
            dataset: "d@1 (val)".into(),
            classes: vec!["a".into(), "b".into()],
            images: 6,
            failed: vec![],
            top1: 0.0,
            top5: 0.0,
            per_class: vec![
                ClassMetrics {
                    name: "a".into(),
                    matching_labels: 1,
                    support: 3,
                    correct: 0,
                    precision: 0.5,
                    recall: 0.5,
                },
                ClassMetrics {
                    name: "b".into(),
                    matching_labels: 1,
                    support: 3,
                    correct: 0,
                    precision: 0.5,
                    recall: 0.5,
                },
            ],
            confusion: vec![],
            calibration: vec![],
            expected_calibration_error: 0.0,
            seconds: 1.0,
            images_per_second: 6.0,
            predictions: truth
                .iter()
                .zip(predicted)
                .enumerate()
                .map(|(i, (&t, &p))| PhotoPrediction {
                    photo: format!("p{i}"),
                    truth: t,
                    predicted: p,
                    confidence: 0.5,
                })
                .collect(),
            headlines: Vec::new(),
        }
    }

    #[test]
    fn photo_by_photo_counts_add_up() {
        // truth:   0 0 1 1 1 0
        let a = report("a", &[0, 0, 1, 0, 2, 1]);
        let b = report("b", &[0, 1, 1, 1, 2, 0]);
        let c = compare(&a, &b).unwrap();
        assert_eq!((c.photos, c.both_right, c.only_a_right, c.only_b_right, c.both_wrong), (6, 2, 1, 2, 1));
        assert_eq!(c.same_answer, 3);
        assert_eq!(c.per_class[0].recall, (0.5, 0.5));
    }

    #[test]
    fn different_data_is_refused() {
        let a = report("a", &[0; 6]);
        let mut b = report("b", &[0; 6]);
        b.dataset = "other@1 (val)".into();
        assert!(compare(&a, &b).is_err());
    }

    #[test]
    fn mcnemar_matches_the_binomial_tail() {
        assert_eq!(mcnemar_exact(0, 0), 1.0);
        assert!((mcnemar_exact(5, 5) - 1.0).abs() < 1e-12);
        // 0 vs 6 discordant: 2 × 0.5^6 = 0.03125.
        assert!((mcnemar_exact(0, 6) - 0.03125).abs() < 1e-12);
        // 1 vs 9: 2 × (1 + 10) / 1024.
        assert!((mcnemar_exact(9, 1) - 22.0 / 1024.0).abs() < 1e-12);
    }
}
