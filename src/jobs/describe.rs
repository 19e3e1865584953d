//! The describe job: an image–text model version re-made with every species description an
//! administrator wrote (`services::class_descriptions`). The new version shares its origin's
//! encoders (hard links where the disk allows), carries the descriptions in its manifest, has
//! its class vectors computed and stored on install, and becomes the active version when its
//! origin still is: the engine of every instance follows the registry.

use std::path::Path;
use std::time::Instant;

use super::results::DescribeResult;
use super::{JobContext, JobHandle, JobResult};
use crate::entities::model_version::{self, ModelSource};
use crate::inference::{BundleKind, Manifest, ModelBundle};
use crate::services::{class_descriptions, models, prototypes};
use crate::ServiceError;

fn storage(what: &str, e: impl std::fmt::Display) -> ServiceError {
    ServiceError::Storage(format!("{what}: {e}"))
}

pub async fn run(
    ctx: &JobContext,
    handle: &JobHandle,
    job_id: i64,
    base: model_version::Model,
    photos: Option<(String, f32)>,
) -> Result<JobResult, ServiceError> {
    let started = Instant::now();
    let base_dir = Path::new(&base.dir).to_path_buf();
    let manifest = Manifest::read(&base_dir).map_err(|e| ServiceError::InvalidInput(e.to_string()))?;
    if manifest.kind != BundleKind::ImageText {
        let what = format!("{} {}", base.name, base.version);
        return Err(ServiceError::InvalidInput(format!(
            "{what} is a classifier: only image–text models read descriptions"
        )));
    }
    let descriptions = class_descriptions::all(&ctx.db).await?;
    let mut derived = class_descriptions::derive_manifest(&manifest, &descriptions);
    derived.version = class_descriptions::derived_version(&manifest.version, job_id);
    let prototyped = match photos {
        Some((dataset, weight)) => {
            handle.log(format!("embedding the train photos of {dataset}"));
            let p = prototypes::add_prototypes(&ctx.db, &ctx.photos, &base_dir, &mut derived, &dataset, weight).await?;
            handle.log(format!(
                "{} photos: prototypes for {} classes, {} of them new",
                p.photos, p.classes, p.new_classes
            ));
            p.classes
        }
        None => derived.labels.iter().filter(|l| l.prototype.is_some()).count(),
    };
    let described = derived.labels.iter().filter(|l| !l.described.is_empty()).count();
    let kept = manifest.labels.iter().filter(|l| l.is_from_origin()).count();
    let added = derived.labels.len() - kept;
    handle.log(format!(
        "{} descriptions: {described} classes described; {added} classes new to the model; {} in all",
        descriptions.len(),
        derived.labels.len()
    ));

    let target = ctx.models_dir.join(models::bundle_dir_name(&derived.name, &derived.version));
    let staging = ctx.models_dir.join(format!(".describing-{job_id}"));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).map_err(|e| storage("the new bundle's folder", e))?;
    let built = build(&base_dir, &staging, &derived).await;
    let row = match built {
        Ok(()) => install(ctx, &staging, &target, &derived).await,
        Err(e) => Err(e),
    };
    let _ = std::fs::remove_dir_all(&staging);
    let row = row?;
    handle.log(format!("installed {} {} with its class vectors", row.name, row.version));

    let base_is_active = models::active(&ctx.db).await?.is_some_and(|a| a.id == base.id);
    if base_is_active {
        models::mark_active(&ctx.db, row.id).await?;
        handle.log("activated: every instance answers with it within its registry poll");
    } else {
        handle.log(format!("{} {} is no longer active: the new version is left inactive", base.name, base.version));
    }
    Ok(JobResult::Describe(DescribeResult {
        model_id: row.id,
        version: row.version,
        classes: derived.labels.len(),
        described_classes: described,
        new_classes: added,
        prototyped_classes: prototyped,
        descriptions: descriptions.len(),
        activated: base_is_active,
        seconds: started.elapsed().as_secs_f64(),
    }))
}

/// The origin's files (linked, else copied) and the new manifest, proven by loading: the
/// load embeds every prompt and stores the class vectors in the folder.
async fn build(base_dir: &Path, staging: &Path, derived: &Manifest) -> Result<(), ServiceError> {
    for file in derived.files.named().chain(derived.sha256.keys()) {
        let (from, to) = (base_dir.join(file), staging.join(file));
        if to.exists() {
            continue;
        }
        if std::fs::hard_link(&from, &to).is_err() {
            std::fs::copy(&from, &to).map_err(|e| storage(file, e))?;
        }
    }
    let text = serde_json::to_string_pretty(derived).map_err(|e| storage("manifest.json", e))?;
    std::fs::write(staging.join("manifest.json"), text).map_err(|e| storage("manifest.json", e))?;
    let dir = staging.to_path_buf();
    tokio::task::spawn_blocking(move || ModelBundle::load(&dir, tch::Device::Cpu))
        .await
        .map_err(|e| storage("loading the bundle", e))?
        .map_err(|e| ServiceError::InvalidInput(format!("the described bundle does not load: {e}")))?;
    Ok(())
}

async fn install(
    ctx: &JobContext,
    staging: &Path,
    target: &Path,
    manifest: &Manifest,
) -> Result<model_version::Model, ServiceError> {
    if target.exists() {
        return Err(ServiceError::Conflict(format!("{} is installed already", target.display())));
    }
    std::fs::rename(staging, target).map_err(|e| storage("installing the bundle", e))?;
    models::register(&ctx.db, manifest, target, ModelSource::Described).await.inspect_err(|_| {
        let _ = std::fs::remove_dir_all(target);
    })
}
