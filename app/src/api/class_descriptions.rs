//! A species' descriptions: what image–text models add to its class (administrators write them).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DescriptionView {
    pub id: i64,
    /// "en" or "zh".
    pub language: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpeciesDescriptions {
    pub descriptions: Vec<DescriptionView>,
    pub may_edit: bool,
    /// The languages the active model reads; empty when it is a classifier (reads no text).
    pub model_languages: Vec<String>,
}

#[server(endpoint = "species_descriptions")]
pub async fn get_species_descriptions(key: String) -> Result<SpeciesDescriptions, AppError> {
    let c = crate::state::caller().await?;
    let s = crate::state::answer(insectid::services::species::get(&key))?;
    let rows = crate::state::answer(insectid::services::class_descriptions::list(&c.state.db, &s.key).await)?;
    let active = c.state.engine.active();
    let model_languages = active.manifest.image_text.as_ref().map(|s| s.languages.clone()).unwrap_or_default();
    Ok(SpeciesDescriptions {
        descriptions: rows
            .into_iter()
            .map(|d| DescriptionView { id: d.id, language: d.language.as_str().into(), text: d.text })
            .collect(),
        may_edit: c.actor.as_ref().is_some_and(|a| a.role == insectid::auth::Role::Admin),
        model_languages,
    })
}

#[cfg(feature = "ssr")]
fn language(value: &str) -> Result<insectid::entities::class_description::Language, AppError> {
    insectid::entities::class_description::Language::parse(value)
        .ok_or_else(|| AppError::InvalidInput(format!("{value:?} is not a language this portal offers (en, zh)")))
}

/// Back to the species' descriptions, saying which job brings the change to the model (0: none).
#[cfg(feature = "ssr")]
fn back_to(key: &str, job: Option<i64>) {
    leptos_axum::redirect(&format!("/species/{key}?described={}#descriptions", job.unwrap_or(0)));
}

#[server(endpoint = "describe_species")]
pub async fn describe_species(key: String, language: String, text: String) -> Result<(), AppError> {
    let c = crate::state::caller().await?;
    let language = self::language(&language)?;
    let db = &c.state.db;
    let done = insectid::services::class_descriptions::add(db, c.actor.as_ref(), &key, language, &text, Some(&c.addr));
    let done = crate::state::answer(done.await)?;
    back_to(&done.description.species_key, done.job.map(|j| j.id));
    Ok(())
}

#[server(endpoint = "remove_species_description")]
pub async fn remove_species_description(id: i64) -> Result<(), AppError> {
    let c = crate::state::caller().await?;
    let db = &c.state.db;
    let done = insectid::services::class_descriptions::remove(db, c.actor.as_ref(), id, Some(&c.addr));
    let done = crate::state::answer(done.await)?;
    back_to(&done.description.species_key, done.job.map(|j| j.id));
    Ok(())
}
