//! Background jobs for administrators: the Commands page's menu and runs, one job's live
//! progress and log, and cancelling, resuming or restarting it.

use std::collections::BTreeMap;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamView {
    pub name: String,
    pub label: String,
    /// model, dataset, import_folder, name, integer or choice.
    pub kind: String,
    /// (value, text) for the kinds chosen from a list.
    pub options: Vec<(String, String)>,
    pub default: String,
    pub min: Option<i64>,
    pub max: Option<i64>,
    pub optional: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandView {
    pub name: String,
    pub title: String,
    pub description: String,
    pub params: Vec<ParamView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRow {
    pub id: i64,
    pub kind: String,
    pub command: String,
    pub state: String,
    /// 0..=1 when known.
    pub fraction: Option<f64>,
    pub phase: String,
    pub created_at: String,
    pub summary: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandsOverview {
    pub commands: Vec<CommandView>,
    pub jobs: Vec<JobRow>,
}

#[cfg(feature = "ssr")]
fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

#[cfg(feature = "ssr")]
fn progress_of(job: &insectid::entities::job::Model) -> (Option<f64>, String, serde_json::Value) {
    let p: serde_json::Value = serde_json::from_str(&job.progress).unwrap_or_default();
    let num = |k: &str| p.get(k).and_then(|v| v.as_f64());
    let fraction = match (num("done"), num("total")) {
        (Some(d), Some(t)) if t > 0.0 => Some((d / t).clamp(0.0, 1.0)),
        _ => None,
    };
    let fraction = if job.state == "succeeded" { Some(1.0) } else { fraction };
    let phase = p.get("phase").and_then(|v| v.as_str()).unwrap_or_default().to_string();
    (fraction, phase, p)
}

/// One line about what a finished job produced.
#[cfg(feature = "ssr")]
fn summary_of(job: &insectid::entities::job::Model) -> String {
    let r: serde_json::Value = serde_json::from_str(&job.result).unwrap_or_default();
    let pct = |k: &str| r.get(k).and_then(|v| v.as_f64()).map(|x| format!("{:.2} %", x * 100.0)).unwrap_or_default();
    match (job.state.as_str(), job.kind.as_str()) {
        ("failed", _) => job.error.clone(),
        ("succeeded", "fine_tune") => {
            format!("{} · best val top-1 {}", r["model"].as_str().unwrap_or_default(), pct("best_val_accuracy"))
        }
        ("succeeded", "evaluate") => {
            format!("{} · top-1 {} · top-5 {}", r["model"].as_str().unwrap_or_default(), pct("top1"), pct("top5"))
        }
        ("succeeded", _) => r
            .as_object()
            .map(|o| {
                o.iter().filter(|(_, v)| v.is_number()).map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(" · ")
            })
            .unwrap_or_default(),
        _ => String::new(),
    }
}

#[cfg(feature = "ssr")]
fn row(job: &insectid::entities::job::Model) -> JobRow {
    let (fraction, phase, _) = progress_of(job);
    JobRow {
        id: job.id,
        kind: job.kind.clone(),
        command: job.command.clone(),
        state: job.state.clone(),
        fraction,
        phase,
        created_at: when(job.created_at),
        summary: summary_of(job),
    }
}

/// Options of the list-valued parameter kinds, from the registry, datasets and import folder.
#[cfg(feature = "ssr")]
async fn options_for(
    state: &crate::state::AppState,
    actor: Option<&insectid::auth::Account>,
    kind: insectid::jobs::commands::ParamKind,
) -> Result<Vec<(String, String)>, insectid::ServiceError> {
    use insectid::jobs::commands::ParamKind;
    Ok(match kind {
        ParamKind::Model => insectid::services::models::list(&state.db, actor)
            .await?
            .into_iter()
            .map(|v| {
                (
                    v.model.id.to_string(),
                    format!("{} {}{}", v.model.name, v.model.version, if v.model.active { " (active)" } else { "" }),
                )
            })
            .collect(),
        ParamKind::Dataset => insectid::services::datasets::list_all(&state.db)
            .await?
            .into_iter()
            .filter(|s| s.version.state == "ready")
            .map(|s| {
                let spec = format!("{}@{}", s.dataset, s.version.version);
                let text = format!("{spec} ({} photos, {} classes)", s.version.items, s.version.classes);
                (spec, text)
            })
            .collect(),
        ParamKind::ImportFolder => {
            let mut folders: Vec<(String, String)> = std::fs::read_dir(&state.import_dir)
                .map(|d| {
                    d.flatten()
                        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .map(|n| (n.clone(), n))
                        .collect()
                })
                .unwrap_or_default();
            folders.sort();
            folders
        }
        ParamKind::Choice | ParamKind::Integer | ParamKind::Name => Vec::new(),
    })
}

#[server(endpoint = "commands")]
pub async fn get_commands() -> Result<CommandsOverview, AppError> {
    use insectid::jobs::commands::ParamKind;
    let c = crate::state::caller().await?;
    let jobs = crate::state::answer(insectid::jobs::queue::list(&c.state.db, c.actor.as_ref(), 50).await)?;
    let mut commands = Vec::new();
    for command in &c.state.jobs.commands.0 {
        let mut params = Vec::new();
        for p in &command.params {
            let options = match p.kind {
                ParamKind::Choice => p.choices.iter().map(|x| (x.clone(), x.clone())).collect(),
                kind => crate::state::answer(options_for(&c.state, c.actor.as_ref(), kind).await)?,
            };
            params.push(ParamView {
                name: p.name.clone(),
                label: if p.label.is_empty() { p.name.clone() } else { p.label.clone() },
                kind: serde_json::to_value(p.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                options,
                default: p.default.clone().unwrap_or_default(),
                min: p.min,
                max: p.max,
                optional: p.optional,
            });
        }
        commands.push(CommandView {
            name: command.name.clone(),
            title: command.title.clone(),
            description: command.description.clone(),
            params,
        });
    }
    Ok(CommandsOverview { commands, jobs: jobs.iter().map(row).collect() })
}

/// Queues a predefined command with the chosen values (`values[name]=…` in a form).
#[server(endpoint = "run_command")]
pub async fn run_command(
    command: String,
    #[server(default)] values: BTreeMap<String, String>,
) -> Result<i64, AppError> {
    let c = crate::state::caller().await?;
    crate::state::answer(
        insectid::services::users::require(c.actor.as_ref(), insectid::auth::Role::Admin).map(|_| ()),
    )?;
    let Some(declared) = c.state.jobs.commands.find(&command) else {
        return crate::state::fail(AppError::NotFound(format!("there is no command {command:?}")));
    };
    let spec = match declared.spec(&values) {
        Ok(s) => s,
        Err(e) => return crate::state::fail(AppError::InvalidInput(e)),
    };
    let job =
        crate::state::answer(insectid::jobs::queue::submit(&c.state.db, c.actor.as_ref(), &spec, &command).await)?;
    c.state.jobs.wake.notify_one();
    leptos_axum::redirect(&format!("/jobs/{}", job.id));
    Ok(job.id)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochPoint {
    pub epoch: u32,
    pub train_loss: f64,
    pub val_accuracy: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobView {
    pub row: JobRow,
    pub params: String,
    pub done: Option<f64>,
    pub total: Option<f64>,
    pub eta_seconds: Option<f64>,
    pub history: Vec<EpochPoint>,
    pub log: String,
    pub result: String,
    pub error: String,
    pub attempts: i32,
    pub worker: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// Files the job wrote (pictures, reports), served under /jobs/{id}/files/.
    pub files: Vec<String>,
    pub cancel_requested: bool,
}

#[server(endpoint = "job")]
pub async fn get_job(id: i64) -> Result<JobView, AppError> {
    let c = crate::state::caller().await?;
    let job = crate::state::answer(insectid::jobs::queue::get(&c.state.db, c.actor.as_ref(), id).await)?;
    let (_, _, p) = progress_of(&job);
    let history = p
        .get("history")
        .and_then(|h| h.as_array())
        .map(|h| {
            h.iter()
                .map(|e| EpochPoint {
                    epoch: e["epoch"].as_u64().unwrap_or_default() as u32,
                    train_loss: e["train_loss"].as_f64().unwrap_or_default(),
                    val_accuracy: e["val_accuracy"].as_f64().unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default();
    let result: serde_json::Value = serde_json::from_str(&job.result).unwrap_or_default();
    let files = result
        .get("files")
        .and_then(|f| f.as_array())
        .map(|f| f.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let pretty = |text: &str| {
        serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| text.to_string())
    };
    Ok(JobView {
        row: row(&job),
        params: pretty(&job.params),
        done: p.get("done").and_then(|v| v.as_f64()),
        total: p.get("total").and_then(|v| v.as_f64()),
        eta_seconds: p.get("eta_seconds").and_then(|v| v.as_f64()),
        history,
        log: job.log.clone(),
        result: if job.state == "succeeded" { pretty(&job.result) } else { String::new() },
        error: job.error.clone(),
        attempts: job.attempts,
        worker: job.worker.clone(),
        started_at: job.started_at.map(when),
        finished_at: job.finished_at.map(when),
        files,
        cancel_requested: job.cancel_requested,
    })
}

#[server(endpoint = "cancel_job")]
pub async fn cancel_job(id: i64) -> Result<(), AppError> {
    let c = crate::state::caller().await?;
    crate::state::answer(insectid::jobs::queue::cancel(&c.state.db, c.actor.as_ref(), id).await)?;
    leptos_axum::redirect(&format!("/jobs/{id}"));
    Ok(())
}

#[server(endpoint = "resume_job")]
pub async fn resume_job(id: i64) -> Result<(), AppError> {
    let c = crate::state::caller().await?;
    crate::state::answer(insectid::jobs::queue::resume(&c.state.db, c.actor.as_ref(), id).await)?;
    c.state.jobs.wake.notify_one();
    leptos_axum::redirect(&format!("/jobs/{id}"));
    Ok(())
}

#[server(endpoint = "restart_job")]
pub async fn restart_job(id: i64) -> Result<i64, AppError> {
    let c = crate::state::caller().await?;
    let job = crate::state::answer(insectid::jobs::queue::restart(&c.state.db, c.actor.as_ref(), id).await)?;
    c.state.jobs.wake.notify_one();
    leptos_axum::redirect(&format!("/jobs/{}", job.id));
    Ok(job.id)
}
