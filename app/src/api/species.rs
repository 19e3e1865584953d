//! The species catalogue: search, one species with the caller's sightings.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::ResultView;
use crate::error::AppError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpeciesSummary {
    pub key: String,
    pub name_en: String,
    pub name_zh: String,
    pub scientific: String,
    pub order: String,
    pub family: String,
    /// pest, beneficial, neutral or medical.
    pub role: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpeciesDetail {
    pub summary: SpeciesSummary,
    pub class: String,
    /// "IP102 class 7", "ImageNet class 301".
    pub origin: String,
    pub hosts: String,
    pub damage: String,
    pub control: String,
    /// The three texts in Chinese; the page shows the page's language.
    pub hosts_zh: String,
    pub damage_zh: String,
    pub control_zh: String,
    /// Whether the active model can answer with this species.
    pub known_to_model: bool,
    pub sightings: Vec<ResultView>,
    /// Other catalogue entries of the same family.
    pub relatives: Vec<SpeciesSummary>,
}

#[cfg(feature = "ssr")]
pub(crate) fn summary_of(s: &insectid::catalogue::Species) -> SpeciesSummary {
    use insectid::catalogue::Role;
    SpeciesSummary {
        key: s.key.clone(),
        name_en: s.name_en.clone(),
        name_zh: s.name_zh.clone(),
        scientific: s.scientific.clone(),
        order: s.order.clone(),
        family: s.family.clone(),
        role: match s.role {
            Role::Pest => "pest",
            Role::Beneficial => "beneficial",
            Role::Neutral => "neutral",
            Role::Medical => "medical",
        }
        .into(),
    }
}

#[server(endpoint = "species_search")]
pub async fn search_species(query: String) -> Result<Vec<SpeciesSummary>, AppError> {
    if query.chars().count() > 200 {
        return Err(AppError::InvalidInput("the search is longer than 200 characters".into()));
    }
    Ok(insectid::catalogue::search(&query).into_iter().map(summary_of).collect())
}

#[server(endpoint = "species")]
pub async fn get_species(key: String) -> Result<SpeciesDetail, AppError> {
    use insectid::catalogue::Origin;
    use insectid::services::species;
    let caller = crate::state::caller().await?;
    let s = crate::state::answer(species::get(&key))?;
    let sightings = crate::state::answer(species::sightings(&caller.state.db, caller.actor.as_ref(), s, 12).await)?;
    let known_to_model = caller.state.engine.active().manifest.labels.iter().any(|l| s.answers_to(&l.name));
    Ok(SpeciesDetail {
        summary: summary_of(s),
        class: s.class.clone(),
        origin: match s.origin {
            Origin::Ip102(n) => format!("IP102 class {n}"),
            Origin::ImageNet(n) => format!("ImageNet class {n}"),
        },
        hosts: s.hosts.clone(),
        damage: s.damage.clone(),
        control: s.control.clone(),
        hosts_zh: s.hosts_zh.clone(),
        damage_zh: s.damage_zh.clone(),
        control_zh: s.control_zh.clone(),
        known_to_model,
        sightings: sightings.into_iter().map(super::history::result_view).collect(),
        relatives: insectid::catalogue::in_family(&s.family)
            .into_iter()
            .filter(|r| r.key != s.key)
            .map(summary_of)
            .collect(),
    })
}
