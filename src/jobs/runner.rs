//! The job runner of one server instance: it claims queued jobs one at a time, runs each in its
//! own task with a heartbeat that saves progress and log and notices cancellation, and reaps
//! jobs whose instance died.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use sea_orm::DatabaseConnection;
use tokio::sync::Notify;

use super::queue::{self, Outcome};
use super::{Phase, Progress};
use crate::entities::job;
use crate::inference::EngineConfig;
use crate::services::shadow::ShadowSlot;
use crate::storage::PhotoStore;

/// What jobs work with.
#[derive(Clone)]
pub struct JobContext {
    pub db: DatabaseConnection,
    pub photos: PhotoStore,
    /// Installed model bundles (fine-tunes land here).
    pub models_dir: PathBuf,
    /// One folder per job for its files (reports, pictures, caches).
    pub jobs_dir: PathBuf,
    pub import_dir: PathBuf,
    pub export_dir: PathBuf,
    /// How evaluation and re-prediction load the model they test.
    pub engine: EngineConfig,
    /// A Python with torch 2.13 and efficientnet-lite-pytorch, for the int8 export.
    pub python: PathBuf,
    pub shadow: ShadowSlot,
}

#[derive(Debug, Clone)]
pub struct RunnerSettings {
    /// How often an idle runner looks for work (a job queued here wakes it at once).
    pub poll: Duration,
    pub heartbeat: Duration,
    /// A running job without a heartbeat for this long belongs to a dead instance.
    pub stale_after: Duration,
    pub max_attempts: i32,
    pub auto_resume: bool,
}

impl Default for RunnerSettings {
    fn default() -> Self {
        RunnerSettings {
            poll: Duration::from_secs(2),
            heartbeat: Duration::from_secs(1),
            stale_after: Duration::from_secs(30),
            max_attempts: 3,
            auto_resume: true,
        }
    }
}

#[derive(Default)]
struct Live {
    log: String,
    progress: Progress,
    dirty: bool,
}

/// A running job's side of the conversation: log lines, progress, and whether to stop.
#[derive(Clone)]
pub struct JobHandle {
    pub id: i64,
    live: Arc<Mutex<Live>>,
    cancel: Arc<AtomicBool>,
}

impl JobHandle {
    fn new(job: &job::Model) -> Self {
        let progress = Progress::of(job);
        JobHandle {
            id: job.id,
            live: Arc::new(Mutex::new(Live { log: job.log.clone(), progress, dirty: false })),
            cancel: Arc::new(AtomicBool::new(false)),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Live) -> T) -> T {
        match self.live.lock() {
            Ok(mut g) => f(&mut g),
            Err(p) => f(&mut p.into_inner()),
        }
    }

    pub fn log(&self, line: impl AsRef<str>) {
        self.with(|l| {
            queue::push_log(&mut l.log, line.as_ref());
            l.dirty = true;
        });
    }

    /// Changes the job's progress (saved with the next heartbeat).
    pub fn progress(&self, change: impl FnOnce(&mut Progress)) {
        self.with(|l| {
            change(&mut l.progress);
            l.dirty = true;
        });
    }

    /// `done` of `total` in `phase`.
    pub fn count(&self, phase: Phase, done: usize, total: usize) {
        self.progress(|p| p.count(phase, done, total));
    }

    pub fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        self.cancel.clone()
    }

    /// Progress and log when changed since the last call.
    fn take_dirty(&self) -> Option<(Progress, String)> {
        self.with(|l| {
            let dirty = std::mem::take(&mut l.dirty);
            dirty.then(|| (l.progress.clone(), l.log.clone()))
        })
    }

    fn snapshot(&self) -> (Progress, String) {
        self.with(|l| (l.progress.clone(), l.log.clone()))
    }
}

pub struct JobRunner {
    ctx: JobContext,
    worker: String,
    settings: RunnerSettings,
    wake: Arc<Notify>,
}

impl JobRunner {
    pub fn new(ctx: JobContext, settings: RunnerSettings) -> Self {
        Self::with_waker(ctx, settings, Arc::new(Notify::new()))
    }

    /// A runner woken by `wake` (the server hands the same one to the pages that queue jobs).
    pub fn with_waker(ctx: JobContext, settings: RunnerSettings, wake: Arc<Notify>) -> Self {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "host".into());
        // The start time's nanoseconds tell apart two runners of one process (tests run several).
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let worker = format!("{host}-{}-{nanos:08x}", std::process::id());
        JobRunner { ctx, worker, settings, wake }
    }

    /// This instance's name in `job.worker`.
    pub fn worker(&self) -> &str {
        &self.worker
    }

    /// Wakes the runner (call after queueing a job on this instance).
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Claims and runs jobs until the process ends.
    pub async fn run_forever(self) {
        let mut last_reap = std::time::Instant::now() - self.settings.stale_after;
        loop {
            if last_reap.elapsed() >= self.settings.stale_after / 3 {
                if let Err(e) = queue::reap(
                    &self.ctx.db,
                    self.settings.stale_after,
                    self.settings.max_attempts,
                    self.settings.auto_resume,
                )
                .await
                {
                    tracing::warn!(error = %e, "reaping stale jobs failed");
                }
                last_reap = std::time::Instant::now();
            }
            match self.run_next().await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "claiming a job failed"),
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(self.settings.poll) => {}
            }
        }
    }

    /// Claims one job and runs it to its end; false when there was none.
    pub async fn run_next(&self) -> Result<bool, crate::ServiceError> {
        let Some(job) = queue::claim(&self.ctx.db, &self.worker).await? else {
            return Ok(false);
        };
        let handle = JobHandle::new(&job);
        handle.log(format!("started on {} (attempt {})", self.worker, job.attempts));
        tracing::info!(job = job.id, kind = %job.kind, worker = %self.worker, "job started");
        let beat =
            tokio::spawn(heartbeat(self.ctx.db.clone(), handle.clone(), self.worker.clone(), self.settings.heartbeat));
        let work = {
            let (ctx, job, handle) = (self.ctx.clone(), job.clone(), handle.clone());
            tokio::spawn(async move { super::work::execute(&ctx, &job, &handle).await })
        };
        let outcome = match work.await {
            Ok(Ok(value)) => Outcome::Succeeded(Box::new(value)),
            Ok(Err(_)) if handle.cancelled() => Outcome::Cancelled,
            Ok(Err(e)) => Outcome::Failed(e.to_string()),
            Err(e) => Outcome::Failed(format!("the job stopped unexpectedly: {e}")),
        };
        beat.abort();
        let outcome_name = outcome.state().as_str();
        metrics::counter!("insectid_jobs_finished_total", "kind" => job.kind.as_str(), "outcome" => outcome_name)
            .increment(1);
        if let Some(started) = job.started_at {
            let seconds = (Utc::now() - started).num_milliseconds() as f64 / 1000.0;
            metrics::histogram!("insectid_job_duration_seconds", "kind" => job.kind.as_str()).record(seconds);
        }
        match &outcome {
            Outcome::Failed(e) => handle.log(format!("failed: {e}")),
            _ => handle.log(outcome_name),
        }
        let (progress, log) = handle.snapshot();
        let recorded = queue::finish(&self.ctx.db, job.id, &self.worker, outcome.clone(), &progress, log).await?;
        if !recorded {
            tracing::warn!(job = job.id, "the job was taken over by another instance; this run's outcome is dropped");
        }
        tracing::info!(job = job.id, kind = %job.kind, outcome = outcome_name, "job ended");
        Ok(true)
    }
}

async fn heartbeat(db: DatabaseConnection, handle: JobHandle, worker: String, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        let (progress, log) = match handle.take_dirty() {
            Some((p, l)) => (Some(p), Some(l)),
            None => (None, None),
        };
        match queue::heartbeat(&db, handle.id, &worker, progress.as_ref(), log).await {
            Ok(beat) if !beat.owned || beat.cancel_requested => {
                if !handle.cancel.swap(true, Ordering::Relaxed) {
                    handle.log(if beat.owned {
                        "cancel requested; stopping at the next checkpoint"
                    } else {
                        "another instance took this job over; stopping"
                    });
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(job = handle.id, error = %e, "heartbeat failed"),
        }
    }
}
