//! Background jobs for administrators: the Commands page's menu and runs, one job's live
//! progress and log, and cancelling, resuming or restarting it.

use std::collections::BTreeMap;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// How the page asks for a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ParamInput {
    Number,
    Text,
    /// One of `ParamView::options`.
    List,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamView {
    pub name: String,
    pub label: String,
    pub input: ParamInput,
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

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRow {
    pub id: i64,
    pub kind: String,
    pub command: String,
    pub state: JobStateView,
    /// 0..=1 when known.
    pub fraction: Option<f64>,
    pub phase: String,
    pub created_at: String,
    pub summary: String,
}

/// Where a job stands, as the pages show it (the server's `JobState`, which the browser's
/// build cannot link).
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStateView {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    Interrupted,
}

impl JobStateView {
    /// The state's name: its CSS class suffix and its translation key.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStateView::Queued => "queued",
            JobStateView::Running => "running",
            JobStateView::Succeeded => "succeeded",
            JobStateView::Failed => "failed",
            JobStateView::Cancelled => "cancelled",
            JobStateView::Interrupted => "interrupted",
        }
    }

    /// Waiting or running: the page keeps refreshing.
    pub fn is_active(self) -> bool {
        matches!(self, JobStateView::Queued | JobStateView::Running)
    }

    /// Ended without success: it can be resumed from its checkpoints.
    pub fn is_resumable(self) -> bool {
        matches!(self, JobStateView::Interrupted | JobStateView::Failed | JobStateView::Cancelled)
    }
}

#[cfg(feature = "ssr")]
impl From<insectid::jobs::JobState> for JobStateView {
    fn from(state: insectid::jobs::JobState) -> Self {
        use insectid::jobs::JobState;
        match state {
            JobState::Queued => JobStateView::Queued,
            JobState::Running => JobStateView::Running,
            JobState::Succeeded => JobStateView::Succeeded,
            JobState::Failed => JobStateView::Failed,
            JobState::Cancelled => JobStateView::Cancelled,
            JobState::Interrupted => JobStateView::Interrupted,
        }
    }
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

/// A job row as the lists show it; its progress and result read through their structs.
#[cfg(feature = "ssr")]
pub fn job_row(job: &insectid::entities::job::Model) -> JobRow {
    use insectid::jobs::{JobResult, JobState, Progress};
    let progress = Progress::of(job);
    let summary = match job.state {
        JobState::Failed => job.error.clone(),
        JobState::Succeeded => JobResult::of(job).map(|r| r.summary()).unwrap_or_default(),
        _ => String::new(),
    };
    JobRow {
        id: job.id,
        kind: job.kind.as_str().to_string(),
        command: job.command.clone(),
        state: job.state.into(),
        fraction: if job.state == JobState::Succeeded { Some(1.0) } else { progress.fraction() },
        phase: progress.phase.text().to_string(),
        created_at: when(job.created_at),
        summary,
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
            .filter(|s| s.version.state == insectid::entities::dataset_version::VersionState::Ready)
            .map(|s| {
                let spec = format!("{}@{}", s.dataset, s.version.version);
                let text = format!("{spec} ({} photos, {} classes)", s.version.items, s.version.classes);
                (spec, text)
            })
            .collect(),
        ParamKind::ImportFolder => insectid::services::dataset_import::folders(&state.import_dir)
            .await
            .into_iter()
            .map(|n| (n.clone(), n))
            .collect(),
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
                input: match p.kind {
                    ParamKind::Integer => ParamInput::Number,
                    ParamKind::Name => ParamInput::Text,
                    ParamKind::Model | ParamKind::Dataset | ParamKind::ImportFolder | ParamKind::Choice => {
                        ParamInput::List
                    }
                },
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
    Ok(CommandsOverview { commands, jobs: jobs.iter().map(job_row).collect() })
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
        return Err(AppError::NotFound(format!("there is no command {command:?}")));
    };
    let spec = match declared.spec(&values) {
        Ok(s) => s,
        Err(e) => return Err(AppError::InvalidInput(e)),
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

/// The kinds of verdict an evaluation counts (the server's `HeadlineKind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum VerdictKindView {
    Confident,
    RolledUp,
    BestGuess,
    Arthropod,
    NoInsect,
}

impl VerdictKindView {
    /// English, for `lang.t`.
    pub fn label(self) -> &'static str {
        match self {
            VerdictKindView::Confident => "Confident",
            VerdictKindView::RolledUp => "Rolled up to a group",
            VerdictKindView::BestGuess => "Best guess, not certain",
            VerdictKindView::Arthropod => "Some arthropod, cannot say which",
            VerdictKindView::NoInsect => "No insect",
        }
    }
}

/// One kind of verdict in an evaluation: its share of the answers, and how often it was right
/// (its precision) with that figure's 95 % interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerdictRow {
    pub kind: VerdictKindView,
    pub answers: u32,
    pub share: f64,
    pub right: f64,
    pub right_interval: (f64, f64),
}

#[cfg(feature = "ssr")]
fn verdict_rows(result: Option<&insectid::jobs::JobResult>) -> Vec<VerdictRow> {
    use insectid::services::evaluation::headlines::HeadlineKind;
    let Some(insectid::jobs::JobResult::Evaluate(r)) = result else { return Vec::new() };
    r.headlines
        .iter()
        .map(|h| VerdictRow {
            kind: match h.kind {
                HeadlineKind::Confident => VerdictKindView::Confident,
                HeadlineKind::RolledUp => VerdictKindView::RolledUp,
                HeadlineKind::BestGuess => VerdictKindView::BestGuess,
                HeadlineKind::Arthropod => VerdictKindView::Arthropod,
                HeadlineKind::NoInsect => VerdictKindView::NoInsect,
            },
            answers: h.answers,
            share: h.share_of(&r.headlines),
            right: h.share_right().unwrap_or(0.0),
            right_interval: h.right_interval(),
        })
        .collect()
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
    /// An evaluation's verdicts, each with its share and precision.
    pub verdicts: Vec<VerdictRow>,
    pub cancel_requested: bool,
}

#[server(endpoint = "job")]
pub async fn get_job(id: i64) -> Result<JobView, AppError> {
    let c = crate::state::caller().await?;
    let job = crate::state::answer(insectid::jobs::queue::get(&c.state.db, c.actor.as_ref(), id).await)?;
    let progress = insectid::jobs::Progress::of(&job);
    let history = progress
        .history
        .iter()
        .map(|e| EpochPoint { epoch: e.epoch as u32, train_loss: e.train_loss, val_accuracy: e.val_accuracy })
        .collect();
    let result = insectid::jobs::JobResult::of(&job);
    let pretty = |text: &str| {
        serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| text.to_string())
    };
    Ok(JobView {
        row: job_row(&job),
        params: pretty(&job.params),
        done: progress.done.map(|d| d as f64),
        total: progress.total.map(|t| t as f64),
        eta_seconds: progress.eta_seconds,
        history,
        log: job.log.clone(),
        result: if result.is_some() { pretty(&job.result) } else { String::new() },
        error: job.error.clone(),
        attempts: job.attempts,
        worker: job.worker.clone(),
        started_at: job.started_at.map(when),
        finished_at: job.finished_at.map(when),
        files: result.as_ref().map(|r| r.files().to_vec()).unwrap_or_default(),
        verdicts: verdict_rows(result.as_ref()),
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
