//! The model registry: install bundles (validated before anything changes), make one active
//! (atomically, through the engine), roll back, delete the inactive, and see which
//! identifications each version made.

use std::path::{Path, PathBuf};

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter,
    QueryOrder, Set,
};
use serde::Serialize;

use super::audit::{self, Actor};
use super::users::require;
use crate::auth::{Account, Role};
use crate::entities::identification;
use crate::entities::model_version::{self, ModelSource};
use crate::inference::{InferenceEngine, Manifest, ModelBundle};
use crate::ServiceError;

fn invalid(e: impl std::fmt::Display) -> ServiceError {
    ServiceError::InvalidInput(e.to_string())
}

/// Records the bundle the engine started with as the active version (installing its row if new).
pub async fn record_startup(
    db: &DatabaseConnection,
    dir: &Path,
    source: ModelSource,
) -> Result<model_version::Model, ServiceError> {
    let manifest = Manifest::read(dir).map_err(invalid)?;
    let row = upsert(db, &manifest, dir, source).await?;
    mark_active(db, row.id).await
}

/// The version marked active.
pub async fn active(db: &DatabaseConnection) -> Result<Option<model_version::Model>, ServiceError> {
    Ok(model_version::Entity::find().filter(model_version::Column::Active.eq(true)).one(db).await?)
}

/// The directory of the version marked active, when its bundle is still there.
pub async fn active_dir(db: &DatabaseConnection) -> Result<Option<PathBuf>, ServiceError> {
    let row = model_version::Entity::find().filter(model_version::Column::Active.eq(true)).one(db).await?;
    Ok(row.map(|r| PathBuf::from(r.dir)).filter(|d| d.join("manifest.json").is_file()))
}

/// An engine of its own for a version other than the live one (an evaluation, shadow mode),
/// so the live engine is neither slowed nor changed.
pub async fn engine_for(
    row: &model_version::Model,
    config: crate::inference::EngineConfig,
) -> Result<std::sync::Arc<InferenceEngine>, ServiceError> {
    let dir = version_dir(row)?;
    let engine = tokio::task::spawn_blocking(move || InferenceEngine::start(&dir, config))
        .await
        .map_err(|e| ServiceError::Storage(e.to_string()))?
        .map_err(|e| ServiceError::InvalidInput(format!("{} {} does not load: {e}", row.name, row.version)))?;
    Ok(std::sync::Arc::new(engine))
}

/// A version's folder, once its manifest shows the folder still holds that version: the default
/// bundle's folder is rebuilt in place when the project ships a new version of it, which leaves
/// the older version's row naming a folder that now answers as another version.
fn version_dir(row: &model_version::Model) -> Result<PathBuf, ServiceError> {
    let dir = PathBuf::from(&row.dir);
    let (name, version) = (&row.name, &row.version);
    match Manifest::read(&dir) {
        Ok(m) if (&m.name, &m.version) == (name, version) => Ok(dir),
        Ok(m) => Err(ServiceError::Conflict(format!(
            "{name} {version} is gone: its folder now holds {} {} (delete this entry)",
            m.name, m.version
        ))),
        Err(e) => Err(ServiceError::InvalidInput(format!("{name} {version} does not load: {e}"))),
    }
}

/// The folder name an installed bundle gets: its name and version with anything but letters,
/// digits, `-`, `_` and `.` replaced, so no manifest can place a bundle outside the models folder.
pub fn bundle_dir_name(name: &str, version: &str) -> String {
    let safe = |s: &str| {
        s.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect::<String>()
    };
    format!("{}-{}", safe(name), safe(version))
}

/// Adds a bundle written on this machine (a fine-tune) to the registry, inactive.
pub async fn register(
    db: &DatabaseConnection,
    manifest: &Manifest,
    dir: &Path,
    source: ModelSource,
) -> Result<model_version::Model, ServiceError> {
    upsert(db, manifest, dir, source).await
}

async fn upsert(
    db: &DatabaseConnection,
    manifest: &Manifest,
    dir: &Path,
    source: ModelSource,
) -> Result<model_version::Model, ServiceError> {
    let existing = model_version::Entity::find()
        .filter(model_version::Column::Name.eq(manifest.name.clone()))
        .filter(model_version::Column::Version.eq(manifest.version.clone()))
        .one(db)
        .await?;
    if let Some(row) = existing {
        return Ok(row);
    }
    Ok(model_version::ActiveModel {
        name: Set(manifest.name.clone()),
        version: Set(manifest.version.clone()),
        dir: Set(dir.display().to_string()),
        source: Set(source),
        description: Set(manifest.description.clone()),
        classes: Set(manifest.labels.len() as i32),
        active: Set(false),
        created_at: Set(Utc::now()),
        activated_at: Set(None),
        shadow: Set(false),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

pub(crate) async fn mark_active(db: &DatabaseConnection, id: i64) -> Result<model_version::Model, ServiceError> {
    let txn = crate::db::begin_write(db).await?;
    for row in model_version::Entity::find().filter(model_version::Column::Active.eq(true)).all(&txn).await? {
        let mut r = row.into_active_model();
        r.active = Set(false);
        r.update(&txn).await?;
    }
    let row = model_version::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("model {id}")))?;
    let mut r = row.into_active_model();
    r.active = Set(true);
    r.activated_at = Set(Some(Utc::now()));
    let row = r.update(&txn).await?;
    txn.commit().await?;
    Ok(row)
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionInfo {
    pub model: model_version::Model,
    /// Identifications this version made.
    pub identifications: u64,
}

/// Every installed version, newest first, with how many identifications each made.
pub async fn list(db: &DatabaseConnection, actor: Option<&Account>) -> Result<Vec<VersionInfo>, ServiceError> {
    require(actor, Role::Admin)?;
    let mut out = Vec::new();
    for model in model_version::Entity::find()
        .order_by_desc(model_version::Column::CreatedAt)
        .order_by_desc(model_version::Column::Id)
        .all(db)
        .await?
    {
        let identifications = identification::Entity::find()
            .filter(identification::Column::ModelName.eq(model.name.clone()))
            .filter(identification::Column::ModelVersion.eq(model.version.clone()))
            .count(db)
            .await?;
        out.push(VersionInfo { model, identifications });
    }
    Ok(out)
}

/// Installs a bundle from an uploaded .zip: unpacked aside, loaded and proven with a test
/// forward pass, and only then moved among the models. Nothing changes on any failure.
pub async fn install_zip(
    db: &DatabaseConnection,
    actor: Option<&Account>,
    models_dir: &Path,
    archive: &Path,
    client_addr: Option<&str>,
) -> Result<model_version::Model, ServiceError> {
    let actor = require(actor, Role::Admin)?;
    let staging = models_dir.join(format!(
        ".incoming-{}-{}",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or_default()
    ));
    let (from, to) = (archive.to_path_buf(), staging.clone());
    let checked = tokio::task::spawn_blocking(move || -> Result<(PathBuf, Manifest), String> {
        let root = super::archive::unpack_zip_file(&from, &to)?;
        let root = if root.join("manifest.json").is_file() {
            root
        } else {
            find_manifest(&root).ok_or("the archive holds no manifest.json")?
        };
        crate::inference::image_text::discard_class_vectors(&root);
        // Proven on the CPU: a bundle that cannot run a forward pass never reaches the engine.
        // An image-text bundle's prompts are embedded here, and kept with it.
        let bundle = ModelBundle::load(&root, tch::Device::Cpu).map_err(|e| e.to_string())?;
        Ok((root, bundle.manifest.clone()))
    })
    .await
    .unwrap_or_else(|e| Err(format!("loading it failed: {e}")));
    let (root, manifest) = match checked {
        Ok(v) => v,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(ServiceError::InvalidInput(format!("the bundle was refused: {e}")));
        }
    };
    let taken = model_version::Entity::find()
        .filter(model_version::Column::Name.eq(manifest.name.clone()))
        .filter(model_version::Column::Version.eq(manifest.version.clone()))
        .count(db)
        .await?
        > 0;
    let target = models_dir.join(bundle_dir_name(&manifest.name, &manifest.version));
    if taken || target.exists() {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(ServiceError::Conflict(format!(
            "{} {} is installed already: give the new bundle another version",
            manifest.name, manifest.version
        )));
    }
    std::fs::rename(&root, &target).map_err(|e| ServiceError::Storage(format!("cannot install the bundle: {e}")))?;
    let _ = std::fs::remove_dir_all(&staging);
    let row = upsert(db, &manifest, &target, ModelSource::Upload).await?;
    audit::record(
        db,
        Actor::Account(actor),
        "model.installed",
        &format!("{} {}", row.name, row.version),
        "",
        client_addr,
    )
    .await?;
    Ok(row)
}

fn find_manifest(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir).ok()?.flatten().map(|e| e.path()).find(|p| p.is_dir() && p.join("manifest.json").is_file())
}

/// Makes a version the one that answers. The engine switches atomically (in-flight requests
/// finish on the old model); a bundle that fails to load changes nothing.
pub async fn activate(
    db: &DatabaseConnection,
    engine: &std::sync::Arc<InferenceEngine>,
    actor: Option<&Account>,
    id: i64,
    client_addr: Option<&str>,
) -> Result<model_version::Model, ServiceError> {
    let actor = require(actor, Role::Admin)?;
    let row = model_version::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("model {id}")))?;
    let (engine, dir) = (engine.clone(), version_dir(&row)?);
    tokio::task::spawn_blocking(move || engine.switch_to(&dir))
        .await
        .map_err(|e| ServiceError::Storage(e.to_string()))?
        .map_err(|e| ServiceError::InvalidInput(format!("{} {} cannot be activated: {e}", row.name, row.version)))?;
    let row = mark_active(db, id).await?;
    audit::record(
        db,
        Actor::Account(actor),
        "model.activated",
        &format!("{} {}", row.name, row.version),
        "",
        client_addr,
    )
    .await?;
    Ok(row)
}

/// Activates the version that was active before the current one.
pub async fn rollback(
    db: &DatabaseConnection,
    engine: &std::sync::Arc<InferenceEngine>,
    actor: Option<&Account>,
    client_addr: Option<&str>,
) -> Result<model_version::Model, ServiceError> {
    require(actor, Role::Admin)?;
    let previous = model_version::Entity::find()
        .filter(model_version::Column::Active.eq(false))
        .filter(model_version::Column::ActivatedAt.is_not_null())
        .order_by_desc(model_version::Column::ActivatedAt)
        .one(db)
        .await?
        .ok_or_else(|| ServiceError::Conflict("no earlier active version to roll back to".into()))?;
    activate(db, engine, actor, previous.id, client_addr).await
}

/// Deletes an inactive version and its files (its identifications keep their records).
pub async fn delete(
    db: &DatabaseConnection,
    actor: Option<&Account>,
    id: i64,
    client_addr: Option<&str>,
) -> Result<(), ServiceError> {
    let actor = require(actor, Role::Admin)?;
    let row = model_version::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("model {id}")))?;
    if row.active {
        return Err(ServiceError::Conflict(format!(
            "{} {} is the active model: activate another one first",
            row.name, row.version
        )));
    }
    if row.shadow {
        return Err(ServiceError::Conflict(format!(
            "{} {} runs in shadow mode: stop shadow mode first",
            row.name, row.version
        )));
    }
    if row.source != ModelSource::Default {
        let _ = std::fs::remove_dir_all(&row.dir);
    }
    model_version::Entity::delete_by_id(id).exec(db).await?;
    audit::record(
        db,
        Actor::Account(actor),
        "model.deleted",
        &format!("{} {}", row.name, row.version),
        "",
        client_addr,
    )
    .await?;
    Ok(())
}
