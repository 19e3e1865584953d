//! From class probabilities to an honest answer: confident when the model is, rolled up to the
//! lowest rank that is sure enough when it is not (as iNaturalist does), and "no insect found"
//! when the photo holds no arthropod the model knows.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Manifest, Thresholds};

/// Ranks an answer can roll up through, lowest first (a species is a label's own rank).
pub const ROLLUP_RANKS: [&str; 4] = ["genus", "family", "order", "class"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ScoredClass {
    pub index: usize,
    pub label: String,
    pub probability: f32,
    /// `rank:Name` of the class's taxon; None for a class that is no arthropod.
    pub taxon_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Verdict {
    /// The top class is above the confidence threshold.
    Confident { label: String, probability: f32, taxon_key: Option<String> },
    /// No class is sure enough, but a group of them at `rank` is.
    RolledUp { rank: String, name: String, taxon_key: String, probability: f32 },
    /// Probably an arthropod, but not even its class is sure enough. `best` is the top class
    /// when that is an arthropod and arthropods have at least half the mass: said as a guess ("most likely …, not certain"), never as an
    /// answer. (Absent in answers recorded before it existed.)
    Uncertain {
        arthropod_probability: f32,
        #[serde(default)]
        best: Option<ScoredClass>,
    },
    /// The arthropod classes together are below the threshold.
    NoInsect { arthropod_probability: f32 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Answer {
    pub top: Vec<ScoredClass>,
    pub verdict: Verdict,
    /// Total probability of all arthropod classes.
    pub arthropod_probability: f32,
}

impl Verdict {
    /// The answer in plain words, for pages and the CLI.
    pub fn summary(&self) -> String {
        match self {
            Verdict::Confident { label, probability, .. } => format!("{label} ({:.0} %)", probability * 100.0),
            Verdict::RolledUp { rank, name, probability, .. } => {
                format!("{} {name} ({:.0} %), {} uncertain", article_rank(rank), probability * 100.0, finer(rank))
            }
            Verdict::Uncertain { best: Some(best), .. } => {
                format!("most likely {} ({:.0} %), not certain", with_article(&best.label), best.probability * 100.0)
            }
            Verdict::Uncertain { arthropod_probability, best: None } => format!(
                "probably an insect or other arthropod ({:.0} %), but the model cannot say which",
                arthropod_probability * 100.0
            ),
            Verdict::NoInsect { .. } => "no insect found".to_string(),
        }
    }
}

/// "a weevil", "an earwig".
pub fn with_article(name: &str) -> String {
    let vowel = name.chars().next().is_some_and(|c| "aeiouAEIOU".contains(c));
    format!("{} {name}", if vowel { "an" } else { "a" })
}

fn article_rank(rank: &str) -> String {
    match rank {
        "order" => "an insect of the order".into(),
        "class" => "an animal of the class".into(),
        other => format!("a member of the {other}"),
    }
}

fn finer(rank: &str) -> &'static str {
    match rank {
        "genus" => "species",
        "family" => "genus and species",
        "order" => "family and species",
        _ => "order and species",
    }
}

/// Builds the answer for one probability row.
pub fn answer(manifest: &Manifest, probabilities: &[f32], k: usize) -> Answer {
    let mut order: Vec<usize> = (0..probabilities.len()).collect();
    order.sort_unstable_by(|a, b| probabilities[*b].total_cmp(&probabilities[*a]));
    let label = |i: usize| manifest.labels.get(i);
    let top: Vec<ScoredClass> = order
        .iter()
        .take(k.max(1))
        .map(|&i| ScoredClass {
            index: i,
            label: label(i).map(|l| l.name.clone()).unwrap_or_default(),
            probability: probabilities[i],
            taxon_key: label(i).and_then(|l| l.taxon.as_ref()).map(|t| t.key.clone()),
        })
        .collect();
    let arthropod_probability: f32 = probabilities
        .iter()
        .enumerate()
        .filter(|(i, _)| label(*i).is_some_and(|l| l.taxon.is_some()))
        .map(|(_, p)| *p)
        .sum();
    let verdict = verdict(manifest, probabilities, &top[0], arthropod_probability, manifest.thresholds);
    Answer { top, verdict, arthropod_probability }
}

fn verdict(manifest: &Manifest, probabilities: &[f32], best: &ScoredClass, arthropods: f32, t: Thresholds) -> Verdict {
    // A model whose every class is a taxon (a pest model) has no "no insect" mass to measure.
    let has_other_classes = manifest.labels.iter().any(|l| l.taxon.is_none());
    if has_other_classes && arthropods < t.arthropod_min {
        return Verdict::NoInsect { arthropod_probability: arthropods };
    }
    if best.probability >= t.confident && best.taxon_key.is_some() {
        return Verdict::Confident {
            label: best.label.clone(),
            probability: best.probability,
            taxon_key: best.taxon_key.clone(),
        };
    }
    for rank in ROLLUP_RANKS {
        let mut groups: BTreeMap<&str, f32> = BTreeMap::new();
        for (i, l) in manifest.labels.iter().enumerate() {
            if let Some(name) = l.taxon.as_ref().and_then(|t| t.lineage.get(rank)) {
                *groups.entry(name.as_str()).or_default() += probabilities.get(i).copied().unwrap_or(0.0);
            }
        }
        if let Some((name, p)) = groups.into_iter().max_by(|a, b| a.1.total_cmp(&b.1)) {
            if p >= t.rollup_at(rank) {
                return Verdict::RolledUp {
                    rank: rank.to_string(),
                    name: name.to_string(),
                    taxon_key: format!("{rank}:{name}"),
                    probability: p,
                };
            }
        }
    }
    // A guess only where an arthropod is likelier than not and the top class is one.
    let best = (best.taxon_key.is_some() && arthropods >= 0.5).then(|| best.clone());
    Verdict::Uncertain { arthropod_probability: arthropods, best }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inference::manifest::{BundleFiles, Label, Taxon};

    fn taxon(class: &str, order: &str, family: &str) -> Option<Taxon> {
        let lineage: BTreeMap<String, String> = [("class", class), ("order", order), ("family", family)]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Some(Taxon { rank: "family".into(), name: family.into(), key: format!("family:{family}"), lineage })
    }

    fn manifest() -> Manifest {
        let label = |index, name: &str, taxon| Label {
            index,
            name: name.into(),
            taxon,
            prompts: vec![],
            described: vec![],
            prototype: None,
        };
        let labels = vec![
            label(0, "ladybug", taxon("Insecta", "Coleoptera", "Coccinellidae")),
            label(1, "weevil", taxon("Insecta", "Coleoptera", "Curculionidae")),
            label(2, "leaf beetle", taxon("Insecta", "Coleoptera", "Chrysomelidae")),
            label(3, "bee", taxon("Insecta", "Hymenoptera", "Apidae")),
            label(4, "daisy", None),
        ];
        Manifest {
            format: 1,
            kind: Default::default(),
            name: "t".into(),
            version: "1".into(),
            architecture: "x".into(),
            description: String::new(),
            input_size: 224,
            resize_shorter: 256,
            mean: [0.5; 3],
            std: [0.5; 3],
            feature_dim: None,
            precision: Default::default(),
            test_time: Default::default(),
            files: BundleFiles { model: "model.pt".into(), ..Default::default() },
            image_text: None,
            sha256: Default::default(),
            labels,
            thresholds: Thresholds {
                confident: 0.6,
                rollup: 0.6,
                rollup_by_rank: Default::default(),
                arthropod_min: 0.3,
            },
        }
    }

    #[test]
    fn a_sure_top_class_is_a_confident_answer() {
        let a = answer(&manifest(), &[0.8, 0.1, 0.05, 0.03, 0.02], 3);
        assert_eq!(a.top.len(), 3);
        assert_eq!(a.top[0].label, "ladybug");
        assert!(matches!(a.verdict, Verdict::Confident { ref label, .. } if label == "ladybug"));
        assert_eq!(a.verdict.summary(), "ladybug (80 %)");
    }

    #[test]
    fn unsure_beetles_roll_up_to_their_order() {
        let a = answer(&manifest(), &[0.3, 0.25, 0.2, 0.05, 0.2], 5);
        match &a.verdict {
            Verdict::RolledUp { rank, name, probability, taxon_key } => {
                assert_eq!(
                    (rank.as_str(), name.as_str(), taxon_key.as_str()),
                    ("order", "Coleoptera", "order:Coleoptera")
                );
                assert!((probability - 0.75).abs() < 1e-6);
            }
            other => panic!("{other:?}"),
        }
        assert!(a.verdict.summary().contains("Coleoptera (75 %)"));
        assert!((a.arthropod_probability - 0.8).abs() < 1e-6);
    }

    #[test]
    fn a_spread_over_orders_rolls_up_to_the_class() {
        let a = answer(&manifest(), &[0.2, 0.1, 0.1, 0.3, 0.3], 5);
        assert!(
            matches!(a.verdict, Verdict::RolledUp { ref rank, ref name, .. } if rank == "class" && name == "Insecta"),
            "{:?}",
            a.verdict
        );
    }

    #[test]
    fn a_rank_with_its_own_threshold_rolls_up_where_the_shared_one_would_not() {
        let mut m = manifest();
        m.thresholds.rollup = 0.95;
        let spread = [0.2, 0.1, 0.1, 0.3, 0.3];
        assert!(matches!(answer(&m, &spread, 5).verdict, Verdict::Uncertain { .. }));
        m.thresholds.rollup_by_rank.class = Some(0.65);
        let a = answer(&m, &spread, 5);
        assert!(matches!(a.verdict, Verdict::RolledUp { ref rank, .. } if rank == "class"), "{:?}", a.verdict);
        // The order's 0.75 of these beetles still needs the shared 0.95: the class answers.
        let beetles = answer(&m, &[0.3, 0.25, 0.2, 0.05, 0.2], 5);
        assert!(matches!(beetles.verdict, Verdict::RolledUp { ref rank, .. } if rank == "class"));
        m.thresholds.rollup_by_rank.order = Some(0.7);
        let beetles = answer(&m, &[0.3, 0.25, 0.2, 0.05, 0.2], 5);
        assert!(matches!(beetles.verdict, Verdict::RolledUp { ref rank, .. } if rank == "order"));
    }

    #[test]
    fn little_arthropod_mass_means_no_insect() {
        let a = answer(&manifest(), &[0.1, 0.05, 0.05, 0.05, 0.75], 5);
        assert!(matches!(a.verdict, Verdict::NoInsect { .. }));
        assert_eq!(a.verdict.summary(), "no insect found");
    }

    #[test]
    fn a_sure_non_arthropod_with_some_insect_mass_is_not_called_an_insect() {
        let mut m = manifest();
        m.thresholds.rollup = 0.9;
        let a = answer(&m, &[0.1, 0.1, 0.1, 0.05, 0.65], 5);
        assert!(matches!(a.verdict, Verdict::Uncertain { best: None, .. }), "{:?}", a.verdict);
        assert!(a.verdict.summary().contains("cannot say which"), "no guess when the top class is no arthropod");
    }

    #[test]
    fn an_uncertain_answer_names_its_best_guess_as_a_guess() {
        let mut m = manifest();
        m.thresholds.rollup = 0.95;
        let a = answer(&m, &[0.5, 0.1, 0.1, 0.2, 0.1], 5);
        match &a.verdict {
            Verdict::Uncertain { best: Some(best), .. } => assert_eq!(best.label, m.labels[0].name),
            other => panic!("{other:?}"),
        }
        let said = a.verdict.summary();
        assert!(said.starts_with("most likely ") && said.ends_with("(50 %), not certain"), "{said}");
    }

    #[test]
    fn answers_recorded_before_the_guess_still_read() {
        let old = r#"{"kind":"uncertain","arthropod_probability":0.8}"#;
        let v: Verdict = serde_json::from_str(old).unwrap();
        assert_eq!(v, Verdict::Uncertain { arthropod_probability: 0.8, best: None });
        assert_eq!(with_article("earwig"), "an earwig");
        assert_eq!(with_article("weevil"), "a weevil");
    }
}
