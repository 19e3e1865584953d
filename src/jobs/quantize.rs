//! The int8 job: a model version quantized by `scripts/export_int8.py` (PyTorch's FX
//! post-training quantization has no Rust counterpart), calibrated on photos of a dataset
//! version's train split, installed as a new inactive version beside its fp32 parent, and
//! both evaluated on the dataset's val split so the Models page can show what 8 bits cost.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};

use super::results::QuantizeResult;
use super::{JobContext, JobHandle, JobResult, Phase};
use crate::entities::model_version::{self, ModelSource};
use crate::inference::{Manifest, ModelBundle, Precision};
use crate::services::dataset_export::RemoveOnDrop;
use crate::services::evaluation::{self, Sample};
use crate::services::models;
use crate::ServiceError;

/// The exporter and the modules it imports, carried inside the binary so an installed server
/// needs no checkout; written into the job's folder to run.
const EXPORTER: [(&str, &str); 3] = [
    ("export_int8.py", include_str!("../../scripts/export_int8.py")),
    ("bundle_parts.py", include_str!("../../scripts/bundle_parts.py")),
    ("reference_preprocess.py", include_str!("../../scripts/reference_preprocess.py")),
];

/// Most lines of the exporter's output kept in the job's log.
const LOG_LINES: usize = 200;

fn storage(what: &str, e: impl std::fmt::Display) -> ServiceError {
    ServiceError::Storage(format!("{what}: {e}"))
}

pub async fn run(
    ctx: &JobContext,
    handle: &JobHandle,
    out: &Path,
    parent: model_version::Model,
    dataset: &str,
    count: usize,
) -> Result<JobResult, ServiceError> {
    let parent_dir = PathBuf::from(&parent.dir);
    let manifest = Manifest::read(&parent_dir).map_err(|e| ServiceError::InvalidInput(e.to_string()))?;
    if !manifest.kind.is_classifier() {
        let what = format!("{} {}", parent.name, parent.version);
        return Err(ServiceError::InvalidInput(format!(
            "{what} is an image–text model: int8 export is for classifiers"
        )));
    }
    if manifest.precision != Precision::Fp32 {
        return Err(ServiceError::InvalidInput(format!(
            "{} {} is {} already",
            parent.name,
            parent.version,
            manifest.precision.as_str()
        )));
    }
    // The exporter names the result after its parent: refuse before minutes of work.
    let target = ctx.models_dir.join(models::bundle_dir_name(&format!("{}-int8", manifest.name), &manifest.version));
    if target.exists() {
        return Err(ServiceError::Conflict(format!("{} is installed already", target.display())));
    }
    // Photos (with their EXIF) and a half-written bundle never outlive the job, whatever ends it.
    let calibration = RemoveOnDrop(out.join("calibration"));
    let staging = RemoveOnDrop(out.join("bundle"));
    let written = write_calibration(ctx, handle, dataset, count, &calibration.0).await?;
    handle.log(format!(
        "quantizing {} {} with {written} calibration photos of {dataset} (train)",
        parent.name, parent.version
    ));
    let scripts = out.join("scripts");
    std::fs::create_dir_all(&scripts).map_err(|e| storage("scripts", e))?;
    for (name, text) in EXPORTER {
        std::fs::write(scripts.join(name), text).map_err(|e| storage(name, e))?;
    }
    let _ = std::fs::remove_dir_all(&staging.0);
    let args = [
        scripts.join("export_int8.py").into_os_string(),
        parent_dir.clone().into_os_string(),
        staging.0.clone().into_os_string(),
        "--calibration".into(),
        calibration.0.clone().into_os_string(),
        "--count".into(),
        written.to_string().into(),
    ];
    run_exporter(ctx, handle, &args).await?;
    drop(calibration);
    let installed = install(ctx, &staging.0, &target).await?;
    handle.log(format!("installed {} {} (inactive)", installed.name, installed.version));

    let mut figures = Vec::new();
    for (row, phase) in [(&parent, Phase::EvaluatingFp32), (&installed, Phase::EvaluatingInt8)] {
        if handle.cancelled() {
            return Err(ServiceError::Conflict(
                "the evaluation was cancelled (the int8 version stays installed)".into(),
            ));
        }
        figures.push(evaluate(ctx, handle, row, phase, dataset).await?);
    }
    let (fp32, int8) = (&figures[0], &figures[1]);
    handle.log(format!(
        "val top-1: fp32 {:.2} %, int8 {:.2} % ({:+.2} pt); {:.1} against {:.1} photos/s",
        fp32.0 * 100.0,
        int8.0 * 100.0,
        (int8.0 - fp32.0) * 100.0,
        fp32.1,
        int8.1
    ));
    Ok(JobResult::Quantize(QuantizeResult {
        model_version_id: installed.id,
        model: format!("{} {}", installed.name, installed.version),
        parent_version_id: parent.id,
        calibration_photos: written,
        fp32_top1: fp32.0,
        int8_top1: int8.0,
        fp32_images_per_second: fp32.1,
        int8_images_per_second: int8.1,
    }))
}

/// Up to `count` photos of the train split, evenly spread over it, as files the exporter can
/// open (named by digest, with their format's extension).
async fn write_calibration(
    ctx: &JobContext,
    handle: &JobHandle,
    dataset: &str,
    count: usize,
    dir: &Path,
) -> Result<usize, ServiceError> {
    let data = evaluation::from_dataset_version(&ctx.db, &ctx.photos, dataset, "train").await?;
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).map_err(|e| storage("calibration photos", e))?;
    let step = (data.samples.len() as f64 / count.max(1) as f64).max(1.0);
    let mut written = 0;
    for i in 0..count.min(data.samples.len()) {
        if handle.cancelled() {
            return Err(ServiceError::Conflict("the int8 export was cancelled".into()));
        }
        let Sample::Stored(sha) = &data.samples[(i as f64 * step) as usize].0 else { continue };
        let bytes = ctx.photos.read(sha).await.map_err(|e| storage("a calibration photo", e))?;
        let extension = match image::guess_format(&bytes) {
            Ok(image::ImageFormat::Png) => "png",
            Ok(image::ImageFormat::WebP) => "webp",
            Ok(image::ImageFormat::Jpeg) => "jpg",
            _ => continue,
        };
        std::fs::write(dir.join(format!("{sha}.{extension}")), bytes).map_err(|e| storage("a calibration photo", e))?;
        written += 1;
    }
    if written == 0 {
        return Err(ServiceError::InvalidInput(format!(
            "{dataset} has no photos to calibrate with in its train split"
        )));
    }
    Ok(written)
}

/// Runs the exporter under the job: its progress lines become the job's progress, its other
/// output the job's log; a cancelled job kills it.
async fn run_exporter(ctx: &JobContext, handle: &JobHandle, args: &[std::ffi::OsString]) -> Result<(), ServiceError> {
    let mut child = tokio::process::Command::new(&ctx.python)
        .args(args)
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            ServiceError::InvalidInput(format!("cannot start {} (INSECTID_PYTHON): {e}", ctx.python.display()))
        })?;
    let stdout = child.stdout.take().map(|s| BufReader::new(s).lines());
    let stderr = child.stderr.take().map(|s| BufReader::new(s).lines());
    let (Some(mut stdout), Some(mut stderr)) = (stdout, stderr) else {
        return Err(ServiceError::Storage("the exporter's output is not readable".into()));
    };
    let (mut logged, mut last_error) = (0usize, String::new());
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let (mut out_open, mut err_open) = (true, true);
    while out_open || err_open {
        tokio::select! {
            line = stdout.next_line(), if out_open => match line {
                Ok(Some(line)) => {
                    if let Some((done, total)) = calibration_progress(&line) {
                        handle.count(Phase::Calibrating, done, total);
                    } else if logged < LOG_LINES {
                        handle.log(&line);
                        logged += 1;
                    }
                }
                _ => out_open = false,
            },
            line = stderr.next_line(), if err_open => match line {
                // PyTorch's deprecation warnings are stated in the README; the last line of
                // anything else is the reason a failure gives.
                Ok(Some(line)) => {
                    if !line.trim().is_empty() && !line.contains("Warning") && !line.starts_with(' ') {
                        last_error = line;
                    }
                }
                _ => err_open = false,
            },
            _ = tick.tick() => {
                if handle.cancelled() {
                    let _ = child.kill().await;
                    return Err(ServiceError::Conflict("the int8 export was cancelled".into()));
                }
            }
        }
    }
    let status = child.wait().await.map_err(|e| storage("the exporter", e))?;
    if !status.success() {
        return Err(ServiceError::InvalidInput(format!("the int8 export failed ({status}): {last_error}")));
    }
    Ok(())
}

/// `calibration 64/512` → (64, 512).
fn calibration_progress(line: &str) -> Option<(usize, usize)> {
    let (done, total) = line.strip_prefix("calibration ")?.split_once('/')?;
    Some((done.trim().parse().ok()?, total.trim().parse().ok()?))
}

/// Proves the exported bundle loads, then moves it into the models folder and registers it;
/// a failed registration takes the folder away again, so a retry starts clean.
async fn install(ctx: &JobContext, staging: &Path, target: &Path) -> Result<model_version::Model, ServiceError> {
    let manifest =
        Manifest::read(staging).map_err(|e| ServiceError::InvalidInput(format!("the exported bundle: {e}")))?;
    let dir = staging.to_path_buf();
    tokio::task::spawn_blocking(move || ModelBundle::load(&dir, tch::Device::Cpu))
        .await
        .map_err(|e| storage("loading the bundle", e))?
        .map_err(|e| ServiceError::InvalidInput(format!("the exported bundle does not load: {e}")))?;
    std::fs::rename(staging, target).map_err(|e| storage("installing the bundle", e))?;
    match models::register(&ctx.db, &manifest, target, ModelSource::Int8).await {
        Ok(row) if Path::new(&row.dir) == target => Ok(row),
        Ok(row) => {
            let _ = std::fs::remove_dir_all(target);
            Err(ServiceError::Conflict(format!("{} {} is registered already, at {}", row.name, row.version, row.dir)))
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(target);
            Err(e)
        }
    }
}

/// Top-1 and photos per second of a version on the val split.
/// Both run as stored (no half precision), so the figures compare the two files.
async fn evaluate(
    ctx: &JobContext,
    handle: &JobHandle,
    row: &model_version::Model,
    phase: Phase,
    dataset: &str,
) -> Result<(f64, f64), ServiceError> {
    let data = evaluation::from_dataset_version(&ctx.db, &ctx.photos, dataset, "val").await?;
    let engine = models::engine_for(row, crate::inference::EngineConfig { half: false, ..ctx.engine.clone() }).await?;
    let report = evaluation::evaluate(&engine, &data, 16, |done, total| {
        handle.count(phase, done, total);
    })
    .await?;
    Ok((report.top1, report.images_per_second))
}

#[cfg(test)]
mod tests {
    #[test]
    fn calibration_progress_lines_are_read() {
        assert_eq!(super::calibration_progress("calibration 64/512"), Some((64, 512)));
        assert_eq!(super::calibration_progress("calibration x/512"), None);
        assert_eq!(super::calibration_progress("wrote int8 bundle"), None);
    }
}
