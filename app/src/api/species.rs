//! The species catalogue: search, one species with the caller's sightings.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::ResultView;
use crate::error::AppError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SpeciesSummary {
    pub key: String,
    pub name_en: String,
    pub name_zh: String,
    pub scientific: String,
    pub order: String,
    pub family: String,
    /// pest, beneficial, neutral or medical.
    pub role: String,
    /// The digest of a photo that illustrates it (filled in the catalogue list).
    pub thumbnail: Option<String>,
}

/// A photo on a species' page, shared by its owner, with what confirms it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpeciesPhotoView {
    pub image_sha256: String,
    /// Decided by people (a label), or else the model's confident answer.
    pub labelled: bool,
    pub probability: Option<f64>,
    /// "2024-06-01"
    pub taken_on: Option<String>,
    /// "48.13, 7.53" (rounded to about 1 km)
    pub place: Option<String>,
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
    /// The portal's own photos of it, best first.
    pub photos: Vec<SpeciesPhotoView>,
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
        thumbnail: None,
    }
}

#[cfg(feature = "ssr")]
fn photo_view(p: insectid::services::species_photos::SpeciesPhoto) -> SpeciesPhotoView {
    use insectid::services::species_photos::Confirmation;
    let (labelled, probability) = match p.confirmed_by {
        Confirmation::Label => (true, None),
        Confirmation::Answer { probability } => (false, Some(probability)),
    };
    SpeciesPhotoView {
        image_sha256: p.image_sha256,
        labelled,
        probability,
        taken_on: p.observation.taken_on,
        place: p.observation.place.map(|p| format!("{:.2}, {:.2}", p.latitude, p.longitude)),
    }
}

/// Photos a species' page shows at most.
pub const SPECIES_PHOTOS: usize = 12;

#[server(endpoint = "species_search")]
pub async fn search_species(query: String) -> Result<Vec<SpeciesSummary>, AppError> {
    if query.chars().count() > 200 {
        return Err(AppError::InvalidInput("the search is longer than 200 characters".into()));
    }
    let state = crate::state::app_state()?;
    let thumbnails = crate::state::answer(insectid::services::species_photos::thumbnails(&state.db).await)?;
    let with_thumbnail = |s: &insectid::catalogue::Species| SpeciesSummary {
        thumbnail: thumbnails.get(&s.key).cloned(),
        ..summary_of(s)
    };
    Ok(insectid::catalogue::search(&query).into_iter().map(with_thumbnail).collect())
}

#[server(endpoint = "species")]
pub async fn get_species(key: String) -> Result<SpeciesDetail, AppError> {
    use insectid::catalogue::Origin;
    use insectid::services::species;
    let caller = crate::state::caller().await?;
    let s = crate::state::answer(species::get(&key))?;
    let sightings = crate::state::answer(species::sightings(&caller.state.db, caller.actor.as_ref(), s, 12).await)?;
    let photos = crate::state::answer(
        insectid::services::species_photos::of_species(&caller.state.db, s, SPECIES_PHOTOS).await,
    )?;
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
        photos: photos.into_iter().map(photo_view).collect(),
        relatives: insectid::catalogue::in_family(&s.family)
            .into_iter()
            .filter(|r| r.key != s.key)
            .map(summary_of)
            .collect(),
    })
}
