//! How often each kind of headline the result page can give was right, so the page can say
//! "answers like this were right N % of the time".
//!
//! A photo's truth is its dataset class. A class named "no insect" (the label feedback gives a
//! photo without one) holds photos without arthropods: only "no insect" is right for them.
//! For every other class, a headline is right when what it claims agrees with the class: the
//! class named (confident), the taxon at the rank it rolled up to, the best guess named, or
//! merely "some arthropod".

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::inference::{Answer, Manifest, Verdict};

/// The headlines the result page words differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeadlineKind {
    /// "weevil (91 %)".
    Confident,
    /// "a beetle (Coleoptera, 88 %), species uncertain".
    RolledUp,
    /// "most likely a weevil (62 %), not certain".
    BestGuess,
    /// "probably an insect or other arthropod, but the model cannot say which".
    Arthropod,
    /// "no insect found".
    NoInsect,
}

impl HeadlineKind {
    pub const ALL: [HeadlineKind; 5] = [
        HeadlineKind::Confident,
        HeadlineKind::RolledUp,
        HeadlineKind::BestGuess,
        HeadlineKind::Arthropod,
        HeadlineKind::NoInsect,
    ];

    /// The kind's name in reports, as serde writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            HeadlineKind::Confident => "confident",
            HeadlineKind::RolledUp => "rolled_up",
            HeadlineKind::BestGuess => "best_guess",
            HeadlineKind::Arthropod => "arthropod",
            HeadlineKind::NoInsect => "no_insect",
        }
    }

    pub fn of(verdict: &Verdict) -> HeadlineKind {
        match verdict {
            Verdict::Confident { .. } => HeadlineKind::Confident,
            Verdict::RolledUp { .. } => HeadlineKind::RolledUp,
            Verdict::Uncertain { best: Some(_), .. } => HeadlineKind::BestGuess,
            Verdict::Uncertain { best: None, .. } => HeadlineKind::Arthropod,
            Verdict::NoInsect { .. } => HeadlineKind::NoInsect,
        }
    }
}

/// One kind's record on an evaluation's photos.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadlineRate {
    pub kind: HeadlineKind,
    /// Photos answered with this kind of headline, and how many of those were right.
    pub answers: u32,
    pub right: u32,
}

impl HeadlineRate {
    /// This kind's precision: the share of its answers that were right.
    pub fn share_right(&self) -> Option<f64> {
        (self.answers > 0).then(|| f64::from(self.right) / f64::from(self.answers))
    }

    /// The 95 % interval of [`Self::share_right`]: a kind given 20 times says little.
    pub fn right_interval(&self) -> (f64, f64) {
        super::wilson_interval(u64::from(self.right), u64::from(self.answers))
    }

    /// This kind's share of all the answers in `rates`.
    pub fn share_of(&self, rates: &[HeadlineRate]) -> f64 {
        let total: u32 = rates.iter().map(|r| r.answers).sum();
        if total == 0 {
            0.0
        } else {
            f64::from(self.answers) / f64::from(total)
        }
    }
}

/// The dataset class of photos without arthropods.
pub fn is_no_insect_class(name: &str) -> bool {
    let name = name.trim();
    name.eq_ignore_ascii_case(crate::services::labels::NO_INSECT) || name.eq_ignore_ascii_case("no_insect")
}

/// Ranks from the narrowest up, as lineages name them.
const RANKS: [&str; 5] = ["species", "genus", "family", "order", "class"];

/// What a dataset class is, rank by rank: the lineage of a model label of that name; else, for
/// a taxon some label descends from, that taxon and the ranks above it; else what the
/// catalogue says of a family or species of that name (RP11's families are not all among the
/// ImageNet model's labels, yet a roll-up to their order can be right).
pub fn truth_lineage(manifest: &Manifest, class: &str) -> BTreeMap<String, String> {
    let same = |name: &str| name.eq_ignore_ascii_case(class.trim());
    if let Some(taxon) = manifest.labels.iter().find(|l| same(&l.name)).and_then(|l| l.taxon.as_ref()) {
        return taxon.lineage.clone();
    }
    for taxon in manifest.labels.iter().filter_map(|l| l.taxon.as_ref()) {
        if let Some((rank, _)) = taxon.lineage.iter().find(|(_, name)| same(name)) {
            let from = RANKS.iter().position(|r| r == rank).unwrap_or(0);
            return taxon
                .lineage
                .iter()
                .filter(|(r, _)| RANKS[from..].contains(&r.as_str()))
                .map(|(r, n)| (r.clone(), n.clone()))
                .collect();
        }
    }
    let species = crate::catalogue::all().iter().find(|s| same(&s.family) || s.answers_to(class));
    let Some(s) = species else { return BTreeMap::new() };
    let mut lineage = BTreeMap::new();
    if !same(&s.family) {
        lineage.insert("species".to_string(), s.name_en.clone());
    }
    for (rank, name) in [("family", &s.family), ("order", &s.order), ("class", &s.class)] {
        if !name.is_empty() {
            lineage.insert(rank.to_string(), name.clone());
        }
    }
    lineage
}

/// Whether the answer's headline agrees with the photo's class: `targets` are the model labels
/// that count as that class (see `class_targets`), `truth` its lineage ([`truth_lineage`]).
pub fn is_right(answer: &Answer, class: &str, targets: &[usize], truth: &BTreeMap<String, String>) -> bool {
    if is_no_insect_class(class) {
        return matches!(answer.verdict, Verdict::NoInsect { .. });
    }
    match &answer.verdict {
        // A confident answer names the top class.
        Verdict::Confident { .. } => answer.top.first().is_some_and(|t| targets.contains(&t.index)),
        Verdict::RolledUp { rank, name, .. } => truth.get(rank).is_some_and(|n| n.eq_ignore_ascii_case(name)),
        Verdict::Uncertain { best: Some(best), .. } => targets.contains(&best.index),
        Verdict::Uncertain { best: None, .. } => true,
        Verdict::NoInsect { .. } => false,
    }
}

/// Counts answers and right answers per kind.
#[derive(Debug, Default)]
pub struct HeadlineTally {
    counts: std::collections::HashMap<HeadlineKind, (u32, u32)>,
}

impl HeadlineTally {
    pub fn add(&mut self, kind: HeadlineKind, right: bool) {
        let entry = self.counts.entry(kind).or_default();
        entry.0 += 1;
        entry.1 += u32::from(right);
    }

    /// Every kind that was given at least once, in [`HeadlineKind::ALL`]'s order.
    pub fn rates(&self) -> Vec<HeadlineRate> {
        HeadlineKind::ALL
            .iter()
            .filter_map(|k| self.counts.get(k).map(|&(answers, right)| HeadlineRate { kind: *k, answers, right }))
            .collect()
    }
}
