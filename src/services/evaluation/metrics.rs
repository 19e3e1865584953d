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

/// The 95 % Wilson score interval of a proportion, `right` of `n`: on 676 photos, top-1 near
/// 88 % is known to about ±2.5 points, so two models a point apart may not differ at all.
/// Wilson's rather than the normal approximation: it stays inside 0..1 near 0 % and 100 %.
pub fn wilson_interval(right: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    const Z: f64 = 1.959_963_984_540_054;
    let (n, p) = (n as f64, right.min(n) as f64 / n as f64);
    let z2 = Z * Z;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = Z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / (1.0 + z2 / n);
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// The 95 % interval of a share stored as a ratio of `n` photos (as reports store top-1).
pub fn ratio_interval(ratio: f64, n: usize) -> (f64, f64) {
    wilson_interval((ratio.clamp(0.0, 1.0) * n as f64).round() as u64, n as u64)
}

/// An interval as reports print it: "85.4–90.3 %".
pub fn interval_text((low, high): (f64, f64)) -> String {
    format!("{:.1}–{:.1} %", low * 100.0, high * 100.0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn wilson_intervals_match_published_values() {
        // Newcombe (1998), table I: 81 of 263 → 0.2553–0.3662; 0 of 10 → 0–0.2775.
        let (lo, hi) = super::wilson_interval(81, 263);
        assert!((lo - 0.2553).abs() < 5e-4 && (hi - 0.3662).abs() < 5e-4, "{lo} {hi}");
        let (lo, hi) = super::wilson_interval(0, 10);
        assert!(lo == 0.0 && (hi - 0.2775).abs() < 5e-4, "{hi}");
        let (lo, hi) = super::wilson_interval(10, 10);
        assert!((hi - 1.0).abs() < 1e-9 && (lo - 0.7225).abs() < 5e-4, "{lo} {hi}");
        assert_eq!(super::wilson_interval(0, 0), (0.0, 1.0), "no photos: nothing known");
        // rp11/val's size: 88 % of 676 is known to about ±2.5 points.
        let (lo, hi) = super::ratio_interval(0.88, 676);
        assert!(hi - lo > 0.045 && hi - lo < 0.052, "{lo} {hi}");
        assert_eq!(super::interval_text((lo, hi)), "85.4–90.3 %");
    }

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
