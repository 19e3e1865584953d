//! Describing species in words. Administrators write descriptions of catalogue species (in
//! English or Chinese); the active image–text model answers with them once a job has derived
//! a version whose classes carry them ([`derive_manifest`]), embedded its prompts and made it
//! the active one. A species the model lacked becomes a new class: added by describing it.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
};

use super::audit::{self, Actor};
use super::users::require;
use crate::auth::{Account, Role};
use crate::catalogue;
use crate::entities::class_description::{self, Language};
use crate::entities::job;
use crate::inference::{image_text, BundleKind, Label, Manifest};
use crate::jobs::{queue, JobKind, JobSpec};
use crate::ServiceError;

/// Descriptions one species may have.
pub const MAX_PER_SPECIES: u64 = 20;

/// A species' descriptions, oldest first. Anyone may read them: they are shown on its page.
pub async fn list(db: &DatabaseConnection, species_key: &str) -> Result<Vec<class_description::Model>, ServiceError> {
    Ok(class_description::Entity::find()
        .filter(class_description::Column::SpeciesKey.eq(species_key))
        .order_by_asc(class_description::Column::Id)
        .all(db)
        .await?)
}

/// What saving or removing a description set going.
#[derive(Debug, Clone, PartialEq)]
pub struct Described {
    pub description: class_description::Model,
    /// The job that brings it to the active model; None when that model reads no text.
    pub job: Option<job::Model>,
}

/// Adds a description of a catalogue species (administrators only).
pub async fn add(
    db: &DatabaseConnection,
    actor: Option<&Account>,
    species_key: &str,
    language: Language,
    text: &str,
    client_addr: Option<&str>,
) -> Result<Described, ServiceError> {
    let admin = require(actor, Role::Admin)?;
    let species =
        catalogue::get(species_key).ok_or_else(|| ServiceError::NotFound(format!("species {species_key}")))?;
    let text = text.trim();
    image_text::check_prompt(text).map_err(ServiceError::InvalidInput)?;
    let existing = class_description::Entity::find().filter(class_description::Column::SpeciesKey.eq(&species.key));
    if existing.clone().count(db).await? >= MAX_PER_SPECIES {
        return Err(ServiceError::Conflict(format!("{} has {MAX_PER_SPECIES} descriptions already", species.name_en)));
    }
    let same = existing
        .filter(class_description::Column::Language.eq(language))
        .filter(class_description::Column::Text.eq(text))
        .count(db)
        .await?;
    if same > 0 {
        return Err(ServiceError::Conflict("that description is there already".into()));
    }
    let description = class_description::ActiveModel {
        species_key: Set(species.key.clone()),
        language: Set(language),
        text: Set(text.to_string()),
        created_by: Set(Some(admin.id)),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await
    .map_err(|e| match e.sql_err() {
        // The same description saved twice at once: the unique index decides.
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => {
            ServiceError::Conflict("that description is there already".into())
        }
        _ => e.into(),
    })?;
    audit::record(db, Actor::Account(admin), "species.described", &species.key, text, client_addr).await?;
    let job = queue_for_active_model(db, admin).await?;
    Ok(Described { description, job })
}

/// Removes a description (administrators only).
pub async fn remove(
    db: &DatabaseConnection,
    actor: Option<&Account>,
    id: i64,
    client_addr: Option<&str>,
) -> Result<Described, ServiceError> {
    let admin = require(actor, Role::Admin)?;
    let description = class_description::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("description {id}")))?;
    class_description::Entity::delete_by_id(id).exec(db).await?;
    let detail = &description.text;
    audit::record(
        db,
        Actor::Account(admin),
        "species.description_removed",
        &description.species_key,
        detail,
        client_addr,
    )
    .await?;
    let job = queue_for_active_model(db, admin).await?;
    Ok(Described { description, job })
}

/// Queues the job that re-describes the active model, when it reads text and no such job is
/// waiting already: a waiting one reads every description, and the model active, when it runs.
async fn queue_for_active_model(db: &DatabaseConnection, admin: &Account) -> Result<Option<job::Model>, ServiceError> {
    let Some(active) = super::models::active(db).await? else { return Ok(None) };
    let reads_text = Manifest::read(std::path::Path::new(&active.dir)).is_ok_and(|m| m.kind == BundleKind::ImageText);
    if !reads_text {
        return Ok(None);
    }
    // Without photos: a version made with a dataset keeps its prototypes (they are its own).
    let spec = JobSpec::DescribeClasses { model: None, dataset: None, photo_weight: 50 };
    let waiting = job::Entity::find()
        .filter(job::Column::Kind.eq(JobKind::DescribeClasses))
        .filter(job::Column::State.eq(crate::jobs::JobState::Queued))
        .order_by_desc(job::Column::Id)
        .all(db)
        .await?;
    if let Some(waiting) =
        waiting.into_iter().find(|j| serde_json::from_str::<JobSpec>(&j.params).ok().as_ref() == Some(&spec))
    {
        return Ok(Some(waiting));
    }
    Ok(Some(queue::enqueue(db, &spec, "describe-classes", Some(admin.id)).await?))
}

/// Every description, oldest first (what a derived version is built from).
pub async fn all(db: &DatabaseConnection) -> Result<Vec<class_description::Model>, ServiceError> {
    Ok(class_description::Entity::find().order_by_asc(class_description::Column::Id).all(db).await?)
}

/// The manifest of `base` with the descriptions as its classes' `described` prompts: a
/// described species the model has (its label answers to the species' name) gains them, one
/// it lacks becomes a new class after the others. Descriptions in languages the model does
/// not read are left out. Earlier descriptions in `base` (a version derived before) are
/// replaced, so deriving from a derived version equals deriving from its origin.
pub fn derive_manifest(base: &Manifest, descriptions: &[class_description::Model]) -> Manifest {
    let reads = |l: Language| base.image_text.as_ref().is_some_and(|s| s.languages.iter().any(|x| x == l.as_str()));
    let mut labels: Vec<Label> = base
        .labels
        .iter()
        .filter(|l| l.is_from_origin())
        .map(|l| Label { described: Vec::new(), ..l.clone() })
        .collect();
    for d in descriptions.iter().filter(|d| reads(d.language)) {
        let Some(species) = catalogue::get(&d.species_key) else { continue };
        match labels.iter_mut().find(|l| species.answers_to(&l.name)) {
            Some(label) => label.described.push(d.text.clone()),
            None => labels.push(Label {
                index: labels.len(),
                name: species.name_en.clone(),
                taxon: Some(species.taxon()),
                prompts: Vec::new(),
                described: vec![d.text.clone()],
                prototype: None,
            }),
        }
    }
    for (i, label) in labels.iter_mut().enumerate() {
        label.index = i;
    }
    Manifest { labels, ..base.clone() }
}

/// The version a derived bundle gets: its origin's version, marked with the job that made it.
pub fn derived_version(base_version: &str, job_id: i64) -> String {
    let origin = base_version.split("+described.").next().unwrap_or(base_version);
    format!("{origin}+described.{job_id}")
}
