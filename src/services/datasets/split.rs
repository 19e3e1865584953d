//! The train/val/test split: stratified per class, reproducible from a recorded seed.

use std::collections::BTreeMap;

pub const SPLITS: [&str; 3] = ["train", "val", "test"];
/// Shares of train and val; test gets the rest.
pub const DEFAULT_SPLIT: (f64, f64) = (0.7, 0.15);

/// A small, well-known generator (SplitMix64), so a seed gives the same split on every platform.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Assigns each (photo, label) to a split, per class: shuffled with the seed, then the first
/// share to train, the next to val, the rest to test. A class with fewer than three photos
/// puts them all in train (a val or test of one photo measures nothing).
pub fn stratified_split(
    items: &[(String, String)],
    seed: u64,
    shares: (f64, f64),
) -> Vec<(String, String, &'static str)> {
    let mut by_class: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (sha, label) in items {
        by_class.entry(label.as_str()).or_default().push(sha.as_str());
    }
    let mut out = Vec::with_capacity(items.len());
    for (label, mut shas) in by_class {
        shas.sort_unstable();
        let mut rng = SplitMix64(
            seed ^ crate::storage::sha256_hex(label.as_bytes())
                .bytes()
                .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64)),
        );
        for i in (1..shas.len()).rev() {
            let j = (rng.next() % (i as u64 + 1)) as usize;
            shas.swap(i, j);
        }
        let n = shas.len();
        let (train, val) = if n < 3 {
            (n, 0)
        } else {
            let val = ((n as f64 * shares.1).round() as usize).max(1);
            let test = n.saturating_sub(((n as f64 * shares.0).round() as usize).max(1) + val).max(1);
            (n - val - test, val)
        };
        for (i, sha) in shas.into_iter().enumerate() {
            let split = if i < train {
                "train"
            } else if i < train + val {
                "val"
            } else {
                "test"
            };
            out.push((sha.to_string(), label.to_string(), split));
        }
    }
    out
}
