//! `insectid dataset …`: the operator's side of datasets, with a progress bar for imports.

use insectid::services::{dataset_import, datasets};

use crate::config::{Config, DatasetAction};
use crate::StartError;

fn fail(e: impl std::fmt::Display) -> StartError {
    StartError(e.to_string())
}

pub async fn dataset(config: &Config, action: DatasetAction) -> Result<(), StartError> {
    let db = insectid::db::connect_and_migrate(&config.database_url()).await.map_err(fail)?;
    let photos = config.open_photos().map_err(fail)?;
    match action {
        DatasetAction::Import { dir, name, seed } => {
            let job = dataset_import::start(&db, &name, &dir, seed).await.map_err(fail)?;
            let bar = indicatif::ProgressBar::new(job.total.max(0) as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} photos  {per_sec}  eta {eta}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            let done =
                dataset_import::run(&db, &photos, job.id, |p| bar.set_position(p.done as u64)).await.map_err(fail)?;
            bar.finish();
            let skipped: Vec<dataset_import::Skipped> = serde_json::from_str(&done.skipped).unwrap_or_default();
            for s in &skipped {
                println!("skipped {}: {}", s.path, s.reason);
            }
            let (_, version) = datasets::find_version(&db, &name).await.map_err(fail)?;
            println!(
                "{name} version {}: {} photos imported of {} ({} skipped), {} classes, {:.1} s",
                version.version,
                done.imported,
                done.total,
                skipped.len(),
                version.classes,
                done.seconds
            );
        }
        DatasetAction::Export { spec, out, layout } => {
            let layout = datasets::Layout::parse(&layout).map_err(fail)?;
            let n = datasets::export(&db, &photos, &spec, layout, &out).await.map_err(fail)?;
            println!("{n} photos written to {}", out.display());
        }
        DatasetAction::Create { name, seed } => {
            let v = datasets::build_from_labels(&db, &name, seed).await.map_err(fail)?;
            println!("{name} version {}: {} photos, {} classes", v.version, v.items, v.classes);
        }
        DatasetAction::List => {
            for s in datasets::list_all(&db).await.map_err(fail)? {
                let v = &s.version;
                println!(
                    "{}@{}  {}  {} photos ({} train / {} val / {} test), {} classes, from {}",
                    s.dataset,
                    v.version,
                    v.state,
                    v.items,
                    s.per_split[0],
                    s.per_split[1],
                    s.per_split[2],
                    v.classes,
                    v.origin
                );
            }
        }
    }
    Ok(())
}

/// Prints a fine-tune's progress on the terminal.
struct Printer;

impl insectid::services::fine_tune::FineTuneObserver for Printer {
    fn features(&self, done: usize, total: usize) {
        if done % 512 < 16 || done == total {
            println!("features {done}/{total}");
        }
    }
    fn epoch(&self, e: &insectid::training::Epoch) {
        println!(
            "epoch {:>3}  loss {:.4}  val top-1 {:.2} %  {:.0} s",
            e.epoch,
            e.train_loss,
            e.val_accuracy * 100.0,
            e.seconds
        );
    }
    fn note(&self, line: &str) {
        println!("{line}");
    }
}

/// `insectid finetune SPEC`: prints each epoch, then where the new version is.
#[allow(clippy::too_many_arguments)]
pub async fn finetune(
    config: &Config,
    spec: &str,
    hidden: i64,
    epochs: usize,
    patience: usize,
    views: usize,
    unfreeze: Option<usize>,
    unfreeze_epochs: usize,
    test_time: insectid::inference::TestTime,
) -> Result<(), StartError> {
    use insectid::services::fine_tune::{self, FineTuneOptions};
    let db = insectid::db::connect_and_migrate(&config.database_url()).await.map_err(fail)?;
    let photos = config.open_photos().map_err(fail)?;
    let base = insectid::services::models::active_dir(&db).await.map_err(fail)?.unwrap_or_else(|| config.model_dir());
    let models_dir = config.data_dir.join("models");
    std::fs::create_dir_all(&models_dir).map_err(fail)?;
    let head = insectid::training::HeadConfig { hidden, max_epochs: epochs, patience, ..Default::default() };
    let options =
        FineTuneOptions { head, views, cache_dir: None, unfreeze_blocks: unfreeze, unfreeze_epochs, test_time };
    println!("fine-tuning {} on {spec}", base.display());
    let cancel = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let result = fine_tune::run(&db, &photos, &base, &models_dir, spec, options, cancel, std::sync::Arc::new(Printer))
        .await
        .map_err(fail)?;
    if let Some(mirrored) = result.mirror_val_accuracy {
        println!("val top-1 {:.2} % with each photo averaged with its mirror", mirrored * 100.0);
    }
    println!(
        "best val top-1 {:.2} % (one view), temperature {:.2}; features {:.0} s, whole job {:.0} s",
        result.best_val_accuracy * 100.0,
        result.temperature,
        result.feature_seconds,
        result.total_seconds
    );
    println!(
        "installed {} {} at {} (inactive: activate it on the Models page)",
        result.model.name,
        result.model.version,
        result.bundle_dir.display()
    );
    Ok(())
}
