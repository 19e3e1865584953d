//! What each kind of job does: plain calls into the services, with progress and log lines
//! reported through the job's handle.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::results::*;
use super::{EpochPoint, JobContext, JobHandle, JobResult, JobSpec, Phase};
use crate::entities::{identification, job, model_version};
use crate::services::{dataset_import, datasets, evaluation, fine_tune, integrity, models, shadow};
use crate::ServiceError;
use sea_orm::{ConnectionTrait, EntityTrait, QueryOrder, QuerySelect};

/// Runs a claimed job; its value is stored as the job's result.
pub async fn execute(ctx: &JobContext, job: &job::Model, handle: &JobHandle) -> Result<JobResult, ServiceError> {
    let spec: JobSpec = serde_json::from_str(&job.params)
        .map_err(|e| ServiceError::InvalidInput(format!("the job's parameters: {e}")))?;
    let out = ctx.jobs_dir.join(job.id.to_string());
    std::fs::create_dir_all(&out).map_err(|e| ServiceError::Storage(format!("{}: {e}", out.display())))?;
    match spec {
        JobSpec::FineTune { dataset, base_model, hidden, epochs, patience, views, unfreeze, test_time } => {
            let head = crate::training::HeadConfig { hidden, max_epochs: epochs, patience, ..Default::default() };
            let options = fine_tune::FineTuneOptions {
                head,
                views,
                cache_dir: Some(out.join("cache")),
                unfreeze_blocks: unfreeze,
                unfreeze_epochs: 0,
                test_time,
            };
            fine_tune_job(ctx, handle, &out, &dataset, base_model, options).await
        }
        JobSpec::Evaluate { model, dataset, split } => evaluate_job(ctx, handle, &out, model, &dataset, &split).await,
        JobSpec::Quantize { model, dataset, calibration } => {
            super::quantize::run(ctx, handle, &out, model_row(ctx, model).await?, &dataset, calibration).await
        }
        JobSpec::ImportDataset { name, folder } => import_job(ctx, handle, &name, &folder).await,
        JobSpec::ExportDataset { dataset, layout, zip: false } => export_job(ctx, handle, &dataset, &layout).await,
        JobSpec::ExportDataset { dataset, layout, zip: true } => export_zip_job(ctx, handle, &dataset, &layout).await,
        JobSpec::Repredict { model, limit } => repredict_job(ctx, handle, model, limit).await,
        JobSpec::CleanFiles { grace_minutes } => {
            handle.log(format!("removing orphaned photos and unfinished writes older than {grace_minutes} minutes"));
            let report =
                integrity::repair(&ctx.db, &ctx.photos, std::time::Duration::from_secs(grace_minutes * 60)).await?;
            handle.log(format!(
                "{} identifications, {} photos; removed {}",
                report.identifications, report.photos, report.removed
            ));
            if !report.rows_without_photo.is_empty() {
                handle
                    .log(format!("WARNING: {} identifications have lost their photo", report.rows_without_photo.len()));
            }
            Ok(JobResult::CleanFiles(CleanFilesResult {
                identifications: report.identifications,
                photos: report.photos,
                removed: report.removed,
                rows_without_photo: report.rows_without_photo.len(),
            }))
        }
        JobSpec::Vacuum {} => vacuum_job(ctx, handle).await,
        JobSpec::DescribeClasses { model, dataset, photo_weight } => {
            let photos = dataset.map(|d| (d, photo_weight as f32 / 100.0));
            let base = match model {
                Some(id) => model_row(ctx, id).await?,
                None => models::active(&ctx.db)
                    .await?
                    .ok_or_else(|| ServiceError::InvalidInput("no model version is active".into()))?,
            };
            super::describe::run(ctx, handle, job.id, base, photos).await
        }
    }
}

async fn model_row(ctx: &JobContext, id: i64) -> Result<model_version::Model, ServiceError> {
    model_version::Entity::find_by_id(id)
        .one(&ctx.db)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("model version {id}")))
}

/// Reports a fine-tune's progress as the page shows it: phase, counts, the epoch history and
/// an estimate of the time left.
struct FineTuneProgress {
    handle: JobHandle,
    started: Instant,
    /// The last epoch the current stage may reach, counting the stages before it.
    max_epochs: AtomicUsize,
    /// Epochs of the stages before the current one: the second stage continues the count.
    offset: AtomicUsize,
    last: AtomicUsize,
}

impl fine_tune::FineTuneObserver for FineTuneProgress {
    fn features(&self, done: usize, total: usize) {
        let elapsed = self.started.elapsed().as_secs_f64();
        let eta = if done > 0 { elapsed / done as f64 * (total - done) as f64 } else { 0.0 };
        self.handle.progress(|p| {
            p.count(Phase::Features, done, total);
            p.eta_seconds = Some(eta.round());
        });
    }

    fn epoch(&self, e: &crate::training::Epoch) {
        let per_epoch = e.seconds / e.epoch.max(1) as f64;
        let epoch = self.offset.load(Ordering::Relaxed) + e.epoch;
        let max_epochs = self.max_epochs.load(Ordering::Relaxed).max(epoch);
        self.last.store(epoch, Ordering::Relaxed);
        self.handle.progress(|p| {
            p.count(Phase::Training, epoch, max_epochs);
            p.eta_seconds = Some((per_epoch * (max_epochs - epoch) as f64).round());
            p.history.push(EpochPoint { epoch, train_loss: e.train_loss, val_accuracy: e.val_accuracy });
        });
        self.handle.log(format!(
            "epoch {:>3}  loss {:.4}  val top-1 {:.2} %",
            epoch,
            e.train_loss,
            e.val_accuracy * 100.0
        ));
    }

    fn stage(&self, max_epochs: usize) {
        let last = self.last.load(Ordering::Relaxed);
        self.offset.store(last, Ordering::Relaxed);
        self.max_epochs.store(last + max_epochs, Ordering::Relaxed);
    }

    fn note(&self, line: &str) {
        self.handle.log(line);
    }
}

async fn fine_tune_job(
    ctx: &JobContext,
    handle: &JobHandle,
    out: &Path,
    dataset: &str,
    base_model: Option<i64>,
    options: fine_tune::FineTuneOptions,
) -> Result<JobResult, ServiceError> {
    let base_dir = match base_model {
        Some(id) => PathBuf::from(model_row(ctx, id).await?.dir),
        None => models::active_dir(&ctx.db)
            .await?
            .ok_or_else(|| ServiceError::Conflict("no active model to fine-tune from".into()))?,
    };
    handle.log(format!("fine-tuning {} on {dataset}", base_dir.display()));
    // The history restarts with the run (a resumed job trains its head again).
    handle.progress(|p| {
        p.phase = Phase::Features;
        p.history.clear();
    });
    let observer = Arc::new(FineTuneProgress {
        handle: handle.clone(),
        started: Instant::now(),
        max_epochs: AtomicUsize::new(options.head.max_epochs),
        offset: AtomicUsize::new(0),
        last: AtomicUsize::new(0),
    });
    let r = fine_tune::run(
        &ctx.db,
        &ctx.photos,
        &base_dir,
        &ctx.models_dir,
        dataset,
        options,
        handle.cancel_flag(),
        observer,
    )
    .await?;
    // The cached features are only worth keeping until the job has its model.
    let _ = std::fs::remove_dir_all(out.join("cache"));
    Ok(JobResult::FineTune(FineTuneResult {
        model_version_id: r.model.id,
        model: format!("{} {}", r.model.name, r.model.version),
        best_val_accuracy: r.best_val_accuracy,
        mirror_val_accuracy: r.mirror_val_accuracy,
        temperature: r.temperature,
        epochs: r.history.len(),
        feature_seconds: r.feature_seconds,
        total_seconds: r.total_seconds,
    }))
}

async fn evaluate_job(
    ctx: &JobContext,
    handle: &JobHandle,
    out: &Path,
    model: i64,
    dataset: &str,
    split: &str,
) -> Result<JobResult, ServiceError> {
    let row = model_row(ctx, model).await?;
    let data = evaluation::from_dataset_version(&ctx.db, &ctx.photos, dataset, split).await?;
    handle.log(format!(
        "evaluating {} {} on {} ({} photos, {} classes)",
        row.name,
        row.version,
        data.root.display(),
        data.samples.len(),
        data.classes.len()
    ));
    let engine = models::engine_for(&row, ctx.engine.clone()).await?;
    let started = Instant::now();
    let report = evaluation::evaluate(&engine, &data, 16, |done, total| {
        if done % 16 == 0 || done == total {
            let eta = started.elapsed().as_secs_f64() / done.max(1) as f64 * (total - done) as f64;
            handle.progress(|p| {
                p.count(Phase::Evaluating, done, total);
                p.eta_seconds = Some(eta.round());
            });
        }
    })
    .await?;
    if handle.cancelled() {
        return Err(ServiceError::Conflict("the evaluation was cancelled".into()));
    }
    let write = |name: &str, bytes: Vec<u8>| {
        std::fs::write(out.join(name), bytes).map_err(|e| ServiceError::Storage(format!("{name}: {e}")))
    };
    write("report.json", serde_json::to_vec(&report).map_err(|e| ServiceError::Storage(e.to_string()))?)?;
    evaluation::render_confusion(&report)
        .save(out.join("confusion.png"))
        .map_err(|e| ServiceError::Storage(e.to_string()))?;
    evaluation::render_reliability(&report)
        .save(out.join("reliability.png"))
        .map_err(|e| ServiceError::Storage(e.to_string()))?;
    handle.log(format!(
        "top-1 {:.2} %, top-5 {:.2} %, ECE {:.3}, {:.1} photos/s",
        report.top1 * 100.0,
        report.top5 * 100.0,
        report.expected_calibration_error,
        report.images_per_second
    ));
    Ok(JobResult::Evaluate(EvaluateResult {
        model_version_id: row.id,
        model: format!("{} {}", row.name, row.version),
        dataset: dataset.to_string(),
        split: split.to_string(),
        images: report.images,
        failed: report.failed.len(),
        top1: report.top1,
        top5: report.top5,
        expected_calibration_error: report.expected_calibration_error,
        per_class: report.per_class,
        calibration: report.calibration,
        seconds: report.seconds,
        images_per_second: report.images_per_second,
        files: super::reports::SERVED_FILES.map(String::from).to_vec(),
        headlines: report.headlines,
    }))
}

async fn import_job(ctx: &JobContext, handle: &JobHandle, name: &str, folder: &str) -> Result<JobResult, ServiceError> {
    let dir = dataset_import::folder_inside(&ctx.import_dir, folder)?;
    let import = dataset_import::start(&ctx.db, name, &dir, 1).await?;
    handle.log(format!("importing {} into {name} ({} photos listed)", dir.display(), import.total));
    let done = dataset_import::run(&ctx.db, &ctx.photos, import.id, |p| {
        if p.done % 25 == 0 || p.done == p.total {
            handle.count(Phase::Importing, p.done, p.total);
        }
    })
    .await?;
    let skipped: Vec<dataset_import::Skipped> = serde_json::from_str(&done.skipped).unwrap_or_default();
    for s in skipped.iter().take(200) {
        handle.log(format!("skipped {}: {}", s.path, s.reason));
    }
    handle.log(format!("imported {} photos, skipped {}", done.imported, skipped.len()));
    Ok(JobResult::Import(ImportResult {
        import: done.id,
        imported: done.imported.into(),
        skipped: skipped.len(),
        seconds: done.seconds,
    }))
}

async fn export_job(
    ctx: &JobContext,
    handle: &JobHandle,
    dataset: &str,
    layout: &str,
) -> Result<JobResult, ServiceError> {
    let layout_kind = datasets::Layout::parse(layout)?;
    let (set, version) = datasets::find_version(&ctx.db, dataset).await?;
    let target = ctx.export_dir.join(format!("{}-{}-{layout}", set.name, version.version));
    if target.exists() {
        std::fs::remove_dir_all(&target).map_err(|e| ServiceError::Storage(format!("{}: {e}", target.display())))?;
    }
    handle.log(format!("exporting {}@{} to {} ({layout} layout)", set.name, version.version, target.display()));
    let photos = datasets::export(&ctx.db, &ctx.photos, dataset, layout_kind, &target).await?;
    handle.log(format!("{photos} photos written"));
    Ok(JobResult::Export(ExportResult { path: target.display().to_string(), photos }))
}

/// A dataset version as one .zip in the job's folder, for its requester to download. Written
/// aside and moved into place at the end; whatever a failure or cancellation leaves is removed.
async fn export_zip_job(
    ctx: &JobContext,
    handle: &JobHandle,
    dataset: &str,
    layout: &str,
) -> Result<JobResult, ServiceError> {
    use crate::services::dataset_export::{archive, RemoveOnDrop};
    let layout_kind = datasets::Layout::parse(layout)?;
    let folder = ctx.jobs_dir.join(handle.id.to_string());
    let staging = RemoveOnDrop(folder.join("staging"));
    let _ = std::fs::remove_dir_all(&staging.0);
    handle.log(format!("writing {dataset} as a .zip ({layout} layout)"));
    let made = datasets::export_zip(&ctx.db, &ctx.photos, dataset, layout_kind, &staging.0).await?;
    let target = archive(&ctx.jobs_dir, handle.id);
    std::fs::rename(&made, &target).map_err(|e| ServiceError::Storage(format!("{}: {e}", target.display())))?;
    let bytes = std::fs::metadata(&target).map(|m| m.len()).unwrap_or_default();
    handle.log(format!("{bytes} bytes ready to download"));
    Ok(JobResult::ExportZip(ExportZipResult { zip: crate::services::dataset_export::ZIP_NAME.into(), bytes }))
}

async fn repredict_job(
    ctx: &JobContext,
    handle: &JobHandle,
    model: i64,
    limit: u64,
) -> Result<JobResult, ServiceError> {
    let row = model_row(ctx, model).await?;
    let engine = models::engine_for(&row, ctx.engine.clone()).await?;
    let rows =
        identification::Entity::find().order_by_desc(identification::Column::Id).limit(limit).all(&ctx.db).await?;
    handle.log(format!("running {} {} over the newest {} identifications", row.name, row.version, rows.len()));
    let (mut compared, mut agreed, mut missing) = (0u64, 0u64, 0u64);
    for (n, ident) in rows.iter().enumerate() {
        if handle.cancelled() {
            return Err(ServiceError::Conflict("re-prediction was cancelled".into()));
        }
        let Ok(bytes) = ctx.photos.read(&ident.image_sha256).await else {
            missing += 1;
            continue;
        };
        let started = Instant::now();
        let candidate = crate::services::identify::identify_photo(&engine, bytes.into(), 1).await?;
        let active = (ident.top_label.clone(), ident.top_probability as f32);
        let millis = started.elapsed().as_secs_f64() * 1000.0;
        match shadow::record(&ctx.db, row.id, ident.id, &active, &candidate, millis).await {
            Ok(_) => {}
            // Deleted while the job ran (its owner, retention): nothing to compare any more.
            Err(ServiceError::Conflict(_)) => {
                missing += 1;
                continue;
            }
            Err(e) => return Err(e),
        }
        compared += 1;
        agreed +=
            u64::from(candidate.answer.top.first().is_some_and(|t| t.label.eq_ignore_ascii_case(&ident.top_label)));
        if n % 10 == 9 || n + 1 == rows.len() {
            handle.count(Phase::Predicting, n + 1, rows.len());
        }
    }
    handle.log(format!("{compared} compared, {agreed} agree with the answer first given; {missing} photos missing"));
    Ok(JobResult::Repredict(RepredictResult { model_version_id: row.id, compared, agreed, missing_photos: missing }))
}

async fn vacuum_job(ctx: &JobContext, handle: &JobHandle) -> Result<JobResult, ServiceError> {
    let started = Instant::now();
    let sql = match ctx.db.get_database_backend() {
        sea_orm::DatabaseBackend::Postgres => "VACUUM (ANALYZE)",
        sea_orm::DatabaseBackend::Sqlite => "VACUUM",
        other => return Err(ServiceError::InvalidInput(format!("vacuum is not supported on {other:?}"))),
    };
    handle.log(format!("running {sql}"));
    ctx.db.execute_unprepared(sql).await?;
    if ctx.db.get_database_backend() == sea_orm::DatabaseBackend::Sqlite {
        ctx.db.execute_unprepared("ANALYZE").await?;
    }
    let seconds = started.elapsed().as_secs_f64();
    handle.log(format!("done in {seconds:.2} s"));
    Ok(JobResult::Vacuum(VacuumResult { statement: sql.into(), seconds }))
}
