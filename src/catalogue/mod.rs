//! The species catalogue: what the portal knows about each pest (names in English and Chinese,
//! taxonomy, host crops, damage, control). Read-only reference data compiled into the binary
//! from `species.txt` (and its texts in Chinese from `species_zh.txt`), so every instance
//! serves the same texts without a database migration.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::inference::Taxon;

const SOURCE: &str = include_str!("species.txt");
const SOURCE_ZH: &str = include_str!("species_zh.txt");

/// Where an entry comes from: a class of the IP102 dataset or of ImageNet-1k.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Origin {
    /// IP102 class number, 1-based as in its classes.txt.
    Ip102(u32),
    /// ImageNet-1k class index.
    ImageNet(u32),
}

/// What a species means for a grower.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Pest,
    Beneficial,
    Neutral,
    /// Matters for people's or animals' health rather than crops.
    Medical,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Species {
    /// Stable URL key: `ip102-7`, `imagenet-301`.
    pub key: String,
    pub origin: Origin,
    /// The name as the dataset spells it; also the model label it answers to.
    pub name_en: String,
    pub name_zh: String,
    pub scientific: String,
    pub class: String,
    pub order: String,
    pub family: String,
    pub role: Role,
    pub hosts: String,
    pub damage: String,
    pub control: String,
    /// The three texts above in Chinese.
    pub hosts_zh: String,
    pub damage_zh: String,
    pub control_zh: String,
}

impl Species {
    /// The species as a model label's taxon: its class, order and family above it.
    pub fn taxon(&self) -> Taxon {
        let mut lineage = self.lineage();
        lineage.insert("species".into(), self.name_en.clone());
        Taxon { rank: "species".into(), name: self.name_en.clone(), key: format!("species:{}", self.name_en), lineage }
    }

    /// Its family as a taxon (a class that stands for the whole family).
    pub fn family_taxon(&self) -> Taxon {
        let lineage = self.lineage();
        Taxon { rank: "family".into(), name: self.family.clone(), key: format!("family:{}", self.family), lineage }
    }

    fn lineage(&self) -> std::collections::BTreeMap<String, String> {
        let mut l = std::collections::BTreeMap::from([("class".to_string(), self.class.clone())]);
        if !self.order.is_empty() {
            l.insert("order".into(), self.order.clone());
        }
        if !self.family.is_empty() {
            l.insert("family".into(), self.family.clone());
        }
        l
    }

    /// Whether a model label names this species (labels compare case-insensitively, as
    /// dataset class names are not consistently capitalised).
    pub fn answers_to(&self, label: &str) -> bool {
        self.name_en.eq_ignore_ascii_case(label.trim())
    }

    fn haystack(&self) -> String {
        let names = format!("{} {} {}", self.name_en, self.name_zh, self.scientific);
        format!("{names} {} {} {} {}", self.order, self.family, self.hosts, self.hosts_zh).to_lowercase()
    }
}

fn parse_line(number: usize, line: &str) -> Result<Species, String> {
    let fields: Vec<&str> = line.split('|').map(str::trim).collect();
    let [origin, en, zh, scientific, class, order, family, role, hosts, damage, control] = fields.as_slice() else {
        return Err(format!("line {number}: expected 11 fields, found {}", fields.len()));
    };
    let (source, index) = origin.split_once(':').ok_or(format!("line {number}: origin {origin:?} lacks ':'"))?;
    let index: u32 = index.parse().map_err(|_| format!("line {number}: bad class number {index:?}"))?;
    let (origin, key) = match source {
        "ip102" => (Origin::Ip102(index), format!("ip102-{index}")),
        "imagenet" => (Origin::ImageNet(index), format!("imagenet-{index}")),
        other => return Err(format!("line {number}: unknown source {other:?}")),
    };
    let role = match *role {
        "pest" => Role::Pest,
        "beneficial" => Role::Beneficial,
        "neutral" => Role::Neutral,
        "medical" => Role::Medical,
        other => return Err(format!("line {number}: unknown role {other:?}")),
    };
    if en.is_empty()
        || zh.is_empty()
        || scientific.is_empty()
        || class.is_empty()
        || damage.is_empty()
        || control.is_empty()
    {
        return Err(format!("line {number}: a required field is empty"));
    }
    let text = |s: &&str| s.to_string();
    Ok(Species {
        key,
        origin,
        name_en: text(en),
        name_zh: text(zh),
        scientific: text(scientific),
        class: text(class),
        order: text(order),
        family: text(family),
        role,
        hosts: text(hosts),
        damage: text(damage),
        control: text(control),
        hosts_zh: String::new(),
        damage_zh: String::new(),
        control_zh: String::new(),
    })
}

/// Fills in the Chinese texts from `species_zh.txt`'s format: one line per entry, in the same
/// order, `source:number | hosts | damage | control`. Every entry must have its line.
pub fn add_chinese(species: &mut [Species], text: &str) -> Result<(), String> {
    let lines: Vec<(usize, &str)> =
        text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#')).collect();
    if lines.len() != species.len() {
        return Err(format!("{} Chinese entries for {} species", lines.len(), species.len()));
    }
    for (s, (i, line)) in species.iter_mut().zip(lines) {
        let fields: Vec<&str> = line.split('|').map(str::trim).collect();
        let [origin, hosts, damage, control] = fields.as_slice() else {
            return Err(format!("line {}: expected 4 fields, found {}", i + 1, fields.len()));
        };
        if origin.replace(':', "-") != s.key {
            return Err(format!("line {}: {origin} where {} was expected", i + 1, s.key));
        }
        if hosts.is_empty() || damage.is_empty() || control.is_empty() {
            return Err(format!("line {}: a text is empty", i + 1));
        }
        (s.hosts_zh, s.damage_zh, s.control_zh) = (hosts.to_string(), damage.to_string(), control.to_string());
    }
    Ok(())
}

/// Parses catalogue text; `#` lines and blank lines are comments.
pub fn parse(text: &str) -> Result<Vec<Species>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|(i, l)| parse_line(i + 1, l))
        .collect()
}

/// Every entry: IP102 classes in their order, then the ImageNet arthropods.
pub fn all() -> &'static [Species] {
    static CATALOGUE: OnceLock<Vec<Species>> = OnceLock::new();
    // The file is part of the source and checked by the tests, so a parse error is a build defect.
    CATALOGUE.get_or_init(|| {
        let mut all = parse(SOURCE).unwrap_or_else(|e| panic!("species.txt: {e}"));
        add_chinese(&mut all, SOURCE_ZH).unwrap_or_else(|e| panic!("species_zh.txt: {e}"));
        all
    })
}

pub fn get(key: &str) -> Option<&'static Species> {
    all().iter().find(|s| s.key == key)
}

/// The entry a model label answers to, if the catalogue has one.
pub fn for_label(label: &str) -> Option<&'static Species> {
    all().iter().find(|s| s.answers_to(label))
}

/// The entries of a family (for answers that roll up to it, or family-level models).
pub fn in_family(family: &str) -> Vec<&'static Species> {
    all().iter().filter(|s| !family.is_empty() && s.family.eq_ignore_ascii_case(family)).collect()
}

/// Entries whose names, taxonomy or hosts contain every word of the query (any case, English
/// or Chinese). An empty query matches everything.
pub fn search(query: &str) -> Vec<&'static Species> {
    let words: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
    all()
        .iter()
        .filter(|s| {
            let hay = s.haystack();
            words.iter().all(|w| hay.contains(w.as_str()))
        })
        .collect()
}

#[cfg(test)]
mod tests;
