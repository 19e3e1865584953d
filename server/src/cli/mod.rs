//! Command-line subcommands other than `serve`: they load the model the same way the server
//! does and print for people, or JSON with `--json`.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use insectid::inference::InferenceEngine;
use insectid::services::evaluation::{evaluate, interval_text, render_confusion, scan_class_folders, EvalReport};
use insectid::services::identify::identify_photo;

use crate::config::Config;
use crate::StartError;

mod bench;
mod dataset;
pub use bench::bench_forward;
pub use dataset::{dataset, finetune};

pub(crate) async fn start_engine(config: &Config) -> Result<InferenceEngine, StartError> {
    let dir = config.model_dir();
    let engine_config = config.engine();
    let engine = tokio::task::spawn_blocking(move || InferenceEngine::start(&dir, engine_config))
        .await
        .map_err(|e| StartError(format!("model loading panicked: {e}")))?
        .map_err(|e| StartError(format!("{e}. Build the default model with `make model`.")))?;
    let active = engine.active();
    let s = &active.status;
    tracing::info!(model = %s.name, version = %s.version, device = %s.device, "model loaded");
    Ok(engine)
}

/// `insectid identify FILE...`: exit status 1 when any file could not be identified.
pub async fn identify(config: &Config, files: &[PathBuf], json: bool, top_k: usize) -> Result<bool, StartError> {
    let engine = start_engine(config).await?;
    let mut all_ok = true;
    let mut out = Vec::new();
    for file in files {
        let result = match tokio::fs::read(file).await {
            Ok(bytes) => identify_photo(&engine, bytes.into(), top_k).await.map_err(|e| e.to_string()),
            Err(e) => Err(format!("cannot read the file: {e}")),
        };
        match (&result, json) {
            (Ok(i), false) => {
                println!("{}: {}", file.display(), i.summary);
                for t in &i.answer.top {
                    println!("  {:>5.1} %  {}", t.probability * 100.0, t.label);
                }
                println!("  model {} {}, {:.0} ms", i.model_name, i.model_version, i.timings.total_ms);
            }
            (Err(e), false) => eprintln!("{}: {e}", file.display()),
            _ => {}
        }
        all_ok &= result.is_ok();
        out.push(match result {
            Ok(i) => serde_json::json!({ "file": file, "result": i }),
            Err(e) => serde_json::json!({ "file": file, "error": e }),
        });
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    }
    Ok(all_ok)
}

/// `insectid eval DIR`: prints the metrics and writes report.json, confusion.csv and
/// confusion.png into `out`.
pub async fn eval(
    config: &Config,
    dir: &Path,
    split: &str,
    out: &Path,
    json: bool,
    concurrency: usize,
) -> Result<(), StartError> {
    let dataset = if dir.is_dir() {
        scan_class_folders(dir).map_err(|e| StartError(e.to_string()))?
    } else {
        // Not a folder: a dataset version of this portal.
        let db =
            insectid::db::connect_and_migrate(&config.database_url()).await.map_err(|e| StartError(e.to_string()))?;
        let photos = config.open_photos().map_err(StartError)?;
        insectid::services::evaluation::from_dataset_version(&db, &photos, &dir.display().to_string(), split)
            .await
            .map_err(|e| StartError(e.to_string()))?
    };
    let engine = start_engine(config).await?;
    let total = dataset.samples.len();
    let terminal = std::io::stderr().is_terminal();
    let mut last_decile = 0;
    let report = evaluate(&engine, &dataset, concurrency, |done, total| {
        if terminal {
            let filled = done * 30 / total;
            eprint!("\r[{}{}] {done}/{total}", "#".repeat(filled), " ".repeat(30 - filled));
            let _ = std::io::stderr().flush();
        } else if done * 10 / total > last_decile {
            last_decile = done * 10 / total;
            eprintln!("{done}/{total} photos");
        }
    })
    .await
    .map_err(|e| StartError(e.to_string()))?;
    if terminal {
        eprintln!();
    }
    write_report(&report, out).map_err(|e| StartError(format!("cannot write the report to {}: {e}", out.display())))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
    } else {
        print_report(&report, total, out);
    }
    Ok(())
}

fn write_report(report: &EvalReport, out: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(out)?;
    std::fs::write(out.join("report.json"), serde_json::to_vec_pretty(report).map_err(std::io::Error::other)?)?;
    let mut csv = String::from("true\\predicted");
    for c in report.classes.iter().chain(std::iter::once(&"other".to_string())) {
        csv.push(',');
        csv.push_str(c);
    }
    csv.push('\n');
    for (name, row) in report.classes.iter().zip(&report.confusion) {
        csv.push_str(name);
        for v in row {
            csv.push_str(&format!(",{v}"));
        }
        csv.push('\n');
    }
    std::fs::write(out.join("confusion.csv"), csv)?;
    insectid::services::evaluation::render_reliability(report)
        .save(out.join("reliability.png"))
        .map_err(std::io::Error::other)?;
    render_confusion(report).save(out.join("confusion.png")).map_err(std::io::Error::other)
}

fn print_report(r: &EvalReport, total: usize, out: &Path) {
    println!("model {} {} on {} ({} of {total} photos readable)", r.model_name, r.model_version, r.dataset, r.images);
    println!(
        "top-1 {:.2} % (95 % interval {})   top-5 {:.2} %   expected calibration error {:.3}   {:.1} photos/s",
        r.top1 * 100.0,
        interval_text(r.top1_interval()),
        r.top5 * 100.0,
        r.expected_calibration_error,
        r.images_per_second
    );
    println!("{:<24} {:>7} {:>7} {:>9} {:>7} {:>7}", "class", "labels", "photos", "precision", "recall", "f1");
    for c in &r.per_class {
        let f1 =
            if c.precision + c.recall > 0.0 { 2.0 * c.precision * c.recall / (c.precision + c.recall) } else { 0.0 };
        println!(
            "{:<24} {:>7} {:>7} {:>8.1}% {:>6.1}% {:>6.1}%",
            c.name,
            c.matching_labels,
            c.support,
            c.precision * 100.0,
            c.recall * 100.0,
            f1 * 100.0
        );
    }
    println!("{:<12} {:>7} {:>7} {:>7} {:>15}", "verdict", "answers", "share", "right", "95 % interval");
    for h in &r.headlines {
        let right = h.share_right().unwrap_or(0.0) * 100.0;
        let interval = interval_text(h.right_interval());
        let share = h.share_of(&r.headlines) * 100.0;
        println!("{:<12} {:>7} {:>6.1}% {:>6.1}% {:>15}", h.kind.as_str(), h.answers, share, right, interval);
    }
    for (file, reason) in &r.failed {
        println!("skipped {file}: {reason}");
    }
    println!("report, confusion.csv and confusion.png written to {}", out.display());
}

/// `insectid admin create NAME`: password from INSECTID_ADMIN_PASSWORD, else standard input.
pub async fn create_admin(config: &Config, username: &str) -> Result<(), StartError> {
    let password = match &config.admin_password {
        Some(p) => p.clone(),
        None => {
            eprintln!("password for {username} (one line on standard input):");
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).map_err(|e| StartError(format!("cannot read the password: {e}")))?;
            line.trim_end_matches(['\r', '\n']).to_string()
        }
    };
    let db = insectid::db::connect_and_migrate(&config.database_url()).await.map_err(|e| StartError(e.to_string()))?;
    let created = insectid::services::accounts::create_admin(&db, username, password)
        .await
        .map_err(|e| StartError(e.to_string()))?;
    println!("administrator {} created", created.username);
    Ok(())
}

/// `insectid check [--repair]`: database and photo store agree. True when clean afterwards.
pub async fn check(config: &Config, repair: bool, grace_minutes: u64, json: bool) -> Result<bool, StartError> {
    use insectid::services::integrity;
    let min = crate::running::MIN_GRACE_MINUTES_WHILE_RUNNING;
    if repair
        && grace_minutes < min
        && crate::running::portal_running(&config.data_dir).map_err(|e| StartError(e.to_string()))?
    {
        return Err(StartError(format!(
            "a portal is running on {}: a repair now needs --grace-minutes {min} or more, so photos of uploads still being committed are spared",
            config.data_dir.display()
        )));
    }
    let db = insectid::db::connect_and_migrate(&config.database_url()).await.map_err(|e| StartError(e.to_string()))?;
    let photos = config.open_photos().map_err(StartError)?;
    let report = if repair {
        integrity::repair(&db, &photos, std::time::Duration::from_secs(grace_minutes * 60)).await
    } else {
        integrity::check(&db, &photos).await
    }
    .map_err(|e| StartError(e.to_string()))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
    } else {
        println!("{} identifications, {} photos", report.identifications, report.photos);
        for (id, sha) in &report.rows_without_photo {
            println!("MISSING  identification {id}: photo {sha} is not in the store");
        }
        for sha in &report.orphan_photos {
            println!("ORPHAN   photo {sha} belongs to no identification");
        }
        for path in &report.temp_files {
            println!("UNFINISHED write {}", path.display());
        }
        if repair {
            println!("removed {} leftovers", report.removed);
        }
        println!("{}", if report.is_clean() { "clean" } else { "NOT clean" });
    }
    Ok(report.is_clean())
}
