//! Datasets: named, versioned sets of labelled photos. A version is built once (from the
//! decided labels, or by an import) and never changes; its train/val/test split is stratified
//! per class with a recorded seed, so the same labels and seed give the same split.

mod export;
mod split;

pub use export::{export, export_zip, folder_name, Layout};
pub use split::{stratified_split, DEFAULT_SPLIT, SPLITS};

use std::collections::BTreeMap;

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set,
};
use serde::Serialize;

use super::labels::clean_label;
use super::users::require;
use crate::auth::{Account, Role};
use crate::entities::dataset_version::VersionState;
use crate::entities::{dataset, dataset_item, dataset_version, photo_label};
use crate::ServiceError;

pub fn check_name(name: &str) -> Result<String, ServiceError> {
    let name = name.trim();
    let ok = (1..=64).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && !name.starts_with('.');
    if ok {
        Ok(name.to_string())
    } else {
        Err(ServiceError::InvalidInput(format!("dataset name {name:?}: 1 to 64 letters, digits, '-', '_' or '.'")))
    }
}

/// The dataset of that name, made if new.
pub async fn ensure_dataset<C: ConnectionTrait>(
    db: &C,
    name: &str,
    description: &str,
) -> Result<dataset::Model, ServiceError> {
    let name = check_name(name)?;
    if let Some(d) = dataset::Entity::find().filter(dataset::Column::Name.eq(name.clone())).one(db).await? {
        return Ok(d);
    }
    Ok(dataset::ActiveModel {
        name: Set(name),
        description: Set(description.trim().to_string()),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

/// Opens the dataset's next version number in the given state.
pub async fn new_version<C: ConnectionTrait>(
    db: &C,
    dataset: &dataset::Model,
    state: VersionState,
    origin: &str,
    seed: u64,
) -> Result<dataset_version::Model, ServiceError> {
    let last = dataset_version::Entity::find()
        .filter(dataset_version::Column::DatasetId.eq(dataset.id))
        .order_by_desc(dataset_version::Column::Version)
        .one(db)
        .await?;
    Ok(dataset_version::ActiveModel {
        dataset_id: Set(dataset.id),
        version: Set(last.map(|v| v.version + 1).unwrap_or(1)),
        state: Set(state),
        origin: Set(origin.chars().take(200).collect()),
        seed: Set(seed as i64),
        items: Set(0),
        classes: Set(0),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

/// Builds a new version of `name` from every photo's decided label (administrators and labelers).
pub async fn create_from_labels(
    db: &DatabaseConnection,
    actor: Option<&Account>,
    name: &str,
    seed: u64,
) -> Result<dataset_version::Model, ServiceError> {
    require(actor, Role::Labeler)?;
    build_from_labels(db, name, seed).await
}

/// The same for the operator's command line, which needs no account.
pub async fn build_from_labels(
    db: &DatabaseConnection,
    name: &str,
    seed: u64,
) -> Result<dataset_version::Model, ServiceError> {
    // Labels decided before they were cleaned are cleaned here, and one that cannot be (a line
    // break) stops the build rather than entering the dataset.
    let labels: Vec<(String, String)> = photo_label::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|l| match clean_label(&l.label) {
            Ok(label) => Ok((l.image_sha256, label)),
            Err(e) => Err(ServiceError::InvalidInput(format!("photo {}: {e}", l.image_sha256))),
        })
        .collect::<Result<_, _>>()?;
    if labels.is_empty() {
        return Err(ServiceError::InvalidInput(
            "no photo has a label yet: accept feedback or label photos first".into(),
        ));
    }
    let txn = crate::db::begin_write(db).await?;
    let set = ensure_dataset(&txn, name, "").await?;
    let version = new_version(&txn, &set, VersionState::Ready, "labels", seed).await?;
    let assigned = stratified_split(&labels, seed, DEFAULT_SPLIT);
    for chunk in assigned.chunks(500) {
        let rows = chunk.iter().map(|(sha, label, split)| dataset_item::ActiveModel {
            version_id: Set(version.id),
            image_sha256: Set(sha.clone()),
            label: Set(label.clone()),
            split: Set((*split).into()),
            ..Default::default()
        });
        dataset_item::Entity::insert_many(rows).exec(&txn).await?;
    }
    let version = finish_version(&txn, version).await?;
    txn.commit().await?;
    Ok(version)
}

/// Counts a version's items and classes and marks it ready: from now on it never changes.
pub async fn finish_version<C: ConnectionTrait>(
    db: &C,
    version: dataset_version::Model,
) -> Result<dataset_version::Model, ServiceError> {
    let items = dataset_item::Entity::find().filter(dataset_item::Column::VersionId.eq(version.id)).all(db).await?;
    let classes: std::collections::HashSet<&str> = items.iter().map(|i| i.label.as_str()).collect();
    let mut v: dataset_version::ActiveModel = version.into();
    v.items = Set(items.len() as i32);
    v.classes = Set(classes.len() as i32);
    v.state = Set(VersionState::Ready);
    Ok(v.update(db).await?)
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionSummary {
    pub dataset: String,
    pub version: dataset_version::Model,
    /// Items per split, in SPLITS order.
    pub per_split: [u64; 3],
}

/// Every dataset's versions, newest first.
pub async fn list(db: &DatabaseConnection, actor: Option<&Account>) -> Result<Vec<VersionSummary>, ServiceError> {
    require(actor, Role::Labeler)?;
    list_all(db).await
}

pub async fn list_all(db: &DatabaseConnection) -> Result<Vec<VersionSummary>, ServiceError> {
    use sea_orm::QuerySelect;
    let sets: BTreeMap<i64, String> =
        dataset::Entity::find().all(db).await?.into_iter().map(|d| (d.id, d.name)).collect();
    let versions = dataset_version::Entity::find()
        .order_by_desc(dataset_version::Column::CreatedAt)
        .order_by_desc(dataset_version::Column::Id)
        .all(db)
        .await?;
    // One grouped count for every version's splits: the page polls this while imports run.
    let counts: Vec<(i64, String, i64)> = dataset_item::Entity::find()
        .select_only()
        .column(dataset_item::Column::VersionId)
        .column(dataset_item::Column::Split)
        .column_as(dataset_item::Column::Id.count(), "n")
        .group_by(dataset_item::Column::VersionId)
        .group_by(dataset_item::Column::Split)
        .into_tuple()
        .all(db)
        .await?;
    let mut out = Vec::new();
    for v in versions {
        let mut per_split = [0u64; 3];
        for (_, split, n) in counts.iter().filter(|c| c.0 == v.id) {
            if let Some(k) = SPLITS.iter().position(|s| s == split) {
                per_split[k] = *n as u64;
            }
        }
        out.push(VersionSummary {
            dataset: sets.get(&v.dataset_id).cloned().unwrap_or_default(),
            version: v,
            per_split,
        });
    }
    Ok(out)
}

/// The version `name@N`, or the newest ready one for a bare name.
pub async fn find_version(
    db: &DatabaseConnection,
    spec: &str,
) -> Result<(dataset::Model, dataset_version::Model), ServiceError> {
    let (name, number) = match spec.split_once('@') {
        Some((n, v)) => {
            (n, Some(v.parse::<i32>().map_err(|_| ServiceError::InvalidInput(format!("bad version in {spec:?}")))?))
        }
        None => (spec, None),
    };
    let set = dataset::Entity::find()
        .filter(dataset::Column::Name.eq(name))
        .one(db)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("dataset {name}")))?;
    let mut q = dataset_version::Entity::find()
        .filter(dataset_version::Column::DatasetId.eq(set.id))
        .filter(dataset_version::Column::State.eq(VersionState::Ready));
    if let Some(n) = number {
        q = q.filter(dataset_version::Column::Version.eq(n));
    }
    let version = q
        .order_by_desc(dataset_version::Column::Version)
        .one(db)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("a ready version of {spec}")))?;
    Ok((set, version))
}
