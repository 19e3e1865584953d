//! The probabilities at which an answer is stated: confident, rolled up to a rank, or "no insect".

use serde::{Deserialize, Serialize};

/// Unknown keys are refused: a misspelled threshold would otherwise change answers unseen.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Top-1 probability above which the answer is stated as confident.
    pub confident: f32,
    /// Summed probability a higher rank needs before the answer rolls up to it.
    pub rollup: f32,
    /// Ranks whose roll-ups were measured apart: a coarse rank is right more often than a fine
    /// one at the same summed probability, so one shared value either lets fine roll-ups be
    /// wrong or turns away coarse ones that would be right (measured with
    /// `scripts/measure_thresholds.py`).
    #[serde(default, skip_serializing_if = "RankThresholds::is_empty")]
    pub rollup_by_rank: RankThresholds,
    /// Below this total arthropod probability the answer is "no insect found".
    pub arthropod_min: f32,
}

/// A roll-up threshold for each rank that has its own; the others use `Thresholds::rollup`.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RankThresholds {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub genus: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<f32>,
}

impl RankThresholds {
    fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    fn get(&self, rank: &str) -> Option<f32> {
        self.named().into_iter().find(|(name, _)| *name == rank).and_then(|(_, v)| v)
    }

    fn named(&self) -> [(&'static str, Option<f32>); 4] {
        [("genus", self.genus), ("family", self.family), ("order", self.order), ("class", self.class)]
    }
}

impl Thresholds {
    /// The summed probability a roll-up to `rank` needs.
    pub fn rollup_at(&self, rank: &str) -> f32 {
        self.rollup_by_rank.get(rank).unwrap_or(self.rollup)
    }

    pub fn validate(&self) -> Result<(), String> {
        let ranks = self.rollup_by_rank.named().into_iter().filter_map(|(rank, v)| Some((rank, v?)));
        let named = [("confident", self.confident), ("rollup", self.rollup), ("arthropod_min", self.arthropod_min)];
        for (name, v) in named.into_iter().chain(ranks) {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("threshold {name} = {v} is outside 0..1"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(json: serde_json::Value) -> Result<Thresholds, String> {
        let t: Thresholds = serde_json::from_value(json).map_err(|e| e.to_string())?;
        t.validate().map(|()| t)
    }

    #[test]
    fn a_rank_without_its_own_threshold_uses_the_shared_one() {
        let t = read(serde_json::json!({
            "confident": 0.9, "rollup": 0.9, "arthropod_min": 0.06, "rollup_by_rank": { "class": 0.7 }
        }))
        .unwrap();
        assert_eq!((t.rollup_at("class"), t.rollup_at("order"), t.rollup_at("genus")), (0.7, 0.9, 0.9));
    }

    #[test]
    fn manifests_without_rank_thresholds_read_and_write_as_before() {
        // Values an f32 holds exactly, so that they write back as they were read.
        let old = serde_json::json!({ "confident": 0.5, "rollup": 0.75, "arthropod_min": 0.25 });
        let t = read(old.clone()).unwrap();
        assert_eq!(t.rollup_at("class"), 0.75);
        assert_eq!(serde_json::to_value(t).unwrap(), old);
    }

    #[test]
    fn rank_thresholds_outside_0_1_or_of_unknown_ranks_are_refused() {
        let bad = read(serde_json::json!({
            "confident": 0.9, "rollup": 0.9, "arthropod_min": 0.06, "rollup_by_rank": { "order": 1.5 }
        }));
        assert_eq!(bad.unwrap_err(), "threshold order = 1.5 is outside 0..1");
        let typo = read(serde_json::json!({
            "confident": 0.9, "rollup": 0.9, "arthropod_min": 0.06, "rollup_by_rank": { "clas": 0.7 }
        }));
        assert!(typo.unwrap_err().contains("unknown field `clas`"));
        let typo = read(serde_json::json!({
            "confident": 0.9, "rollup": 0.9, "arthropod_min": 0.06, "rollup_by_rnk": { "class": 0.7 }
        }));
        assert!(typo.unwrap_err().contains("unknown field `rollup_by_rnk`"));
    }
}
