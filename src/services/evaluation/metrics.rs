//! Per-class figures and calibration: the numbers an evaluation report holds.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    pub name: String,
    /// Model labels that count as this class.
    pub matching_labels: usize,
    pub support: u32,
    pub correct: u32,
    pub precision: f64,
    pub recall: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CalibrationBin {
    pub count: u32,
    pub mean_confidence: f64,
    pub accuracy: f64,
}

/// Bins (confidence, correct) pairs and computes the expected calibration error (Guo et al.).
pub fn calibration(samples: &[(f32, bool)]) -> (Vec<CalibrationBin>, f64) {
    let mut bins = vec![(0u32, 0f64, 0u32); 10];
    for (confidence, correct) in samples {
        let b = ((confidence.clamp(0.0, 1.0) * 10.0) as usize).min(9);
        bins[b].0 += 1;
        bins[b].1 += *confidence as f64;
        bins[b].2 += *correct as u32;
    }
    let total = samples.len().max(1) as f64;
    let mut ece = 0.0;
    let out = bins
        .into_iter()
        .map(|(count, conf, right)| {
            if count == 0 {
                return CalibrationBin::default();
            }
            let (mean_confidence, accuracy) = (conf / count as f64, right as f64 / count as f64);
            ece += count as f64 / total * (mean_confidence - accuracy).abs();
            CalibrationBin { count, mean_confidence, accuracy }
        })
        .collect();
    (out, ece)
}

#[cfg(test)]
mod tests {
    #[test]
    fn expected_calibration_error_weighs_each_bin_by_its_share() {
        let (bins, ece) = super::calibration(&[(0.95, true), (0.95, false), (0.15, false), (0.15, false)]);
        assert_eq!((bins[9].count, bins[1].count), (2, 2));
        assert!((bins[9].accuracy - 0.5).abs() < 1e-9);
        // Half the photos at 0.95 confidence but 50 % right, half at 0.15 and 0 % right.
        assert!((ece - (0.5 * 0.45 + 0.5 * 0.15)).abs() < 1e-6, "{ece}");
        assert_eq!(super::calibration(&[]).1, 0.0);
    }
}
