//! The job queue in the database. Claiming takes the oldest queued job with
//! `FOR UPDATE SKIP LOCKED` (PostgreSQL; SQLite has one writer anyway) and a compare-and-set on
//! its state, so each job is claimed by exactly one instance. A running job's instance keeps
//! `heartbeat_at` fresh; a job whose heartbeat went stale is marked interrupted and, within its
//! attempts, queued again for any instance to resume.

use std::time::Duration;

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionTrait,
};

use super::{JobKind, JobResult, JobSpec, JobState, Progress};
use crate::auth::{Account, Role};
use crate::entities::job;
use crate::services::audit::{self, Actor};
use crate::services::users::require;
use crate::ServiceError;

/// The most log text a job keeps (the newest part).
pub const MAX_LOG_BYTES: usize = 256 * 1024;

fn state_is(s: JobState) -> sea_orm::sea_query::SimpleExpr {
    job::Column::State.eq(s)
}

/// Rows this version can read: a job of a kind only a newer instance knows (several
/// instances on one database, upgraded one at a time) is left to that instance instead of
/// failing every query that would read it.
fn known_kind() -> sea_orm::sea_query::SimpleExpr {
    use sea_orm::Iterable;
    job::Column::Kind.is_in(JobKind::iter())
}

/// Puts a job in the queue (its spec validated first).
pub async fn enqueue<C: ConnectionTrait>(
    db: &C,
    spec: &JobSpec,
    command: &str,
    created_by: Option<i64>,
) -> Result<job::Model, ServiceError> {
    spec.validate().map_err(ServiceError::InvalidInput)?;
    let params = serde_json::to_string(spec).map_err(|e| ServiceError::InvalidInput(e.to_string()))?;
    Ok(job::ActiveModel {
        kind: Set(spec.kind()),
        command: Set(command.into()),
        params: Set(params),
        state: Set(JobState::Queued),
        cancel_requested: Set(false),
        progress: Set(Progress::default().to_json()),
        log: Set(String::new()),
        result: Set("{}".into()),
        error: Set(String::new()),
        created_by: Set(created_by),
        worker: Set(String::new()),
        attempts: Set(0),
        created_at: Set(Utc::now()),
        started_at: Set(None),
        heartbeat_at: Set(None),
        finished_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

/// The oldest queued job, now running on `worker`; None when the queue is empty.
pub async fn claim(db: &DatabaseConnection, worker: &str) -> Result<Option<job::Model>, ServiceError> {
    let txn = db.begin().await?;
    let candidate = job::Entity::find()
        .filter(state_is(JobState::Queued))
        .filter(known_kind())
        .order_by_asc(job::Column::Id)
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .one(&txn)
        .await?;
    let Some(candidate) = candidate else {
        txn.commit().await?;
        return Ok(None);
    };
    let now = Utc::now();
    let claimed = job::Entity::update_many()
        .col_expr(job::Column::State, Expr::value(JobState::Running))
        .col_expr(job::Column::Worker, Expr::value(worker))
        .col_expr(job::Column::Attempts, Expr::col(job::Column::Attempts).add(1))
        .col_expr(job::Column::StartedAt, Expr::value(now))
        .col_expr(job::Column::HeartbeatAt, Expr::value(now))
        .filter(job::Column::Id.eq(candidate.id))
        .filter(state_is(JobState::Queued))
        .exec(&txn)
        .await?;
    if claimed.rows_affected != 1 {
        txn.rollback().await?;
        return Ok(None);
    }
    let row = job::Entity::find_by_id(candidate.id).one(&txn).await?;
    txn.commit().await?;
    Ok(row)
}

/// What a heartbeat learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Beat {
    /// Still this worker's job (false once another instance took it over).
    pub owned: bool,
    pub cancel_requested: bool,
}

/// Keeps a running job alive and saves its progress and log.
pub async fn heartbeat(
    db: &DatabaseConnection,
    id: i64,
    worker: &str,
    progress: Option<&Progress>,
    log: Option<String>,
) -> Result<Beat, ServiceError> {
    let mut update = job::Entity::update_many().col_expr(job::Column::HeartbeatAt, Expr::value(Utc::now()));
    if let Some(p) = progress {
        update = update.col_expr(job::Column::Progress, Expr::value(p.to_json()));
    }
    if let Some(l) = log {
        update = update.col_expr(job::Column::Log, Expr::value(l));
    }
    let result = update
        .filter(job::Column::Id.eq(id))
        .filter(job::Column::Worker.eq(worker))
        .filter(state_is(JobState::Running))
        .exec(db)
        .await?;
    let cancel_requested = job::Entity::find_by_id(id).one(db).await?.is_some_and(|j| j.cancel_requested);
    Ok(Beat { owned: result.rows_affected == 1, cancel_requested })
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    // (Boxed: an evaluation's result is much larger than the other outcomes.)
    Succeeded(Box<JobResult>),
    Failed(String),
    Cancelled,
}

impl Outcome {
    /// The state a job ends in.
    pub fn state(&self) -> JobState {
        match self {
            Outcome::Succeeded(_) => JobState::Succeeded,
            Outcome::Failed(_) => JobState::Failed,
            Outcome::Cancelled => JobState::Cancelled,
        }
    }
}

/// Records the end of a run; ignored (false) when the job is no longer this worker's.
pub async fn finish(
    db: &DatabaseConnection,
    id: i64,
    worker: &str,
    outcome: Outcome,
    progress: &Progress,
    log: String,
) -> Result<bool, ServiceError> {
    let state = outcome.state();
    let (result, error) = match outcome {
        Outcome::Succeeded(r) => (r.to_json(), String::new()),
        Outcome::Failed(e) => ("{}".to_string(), e),
        Outcome::Cancelled => ("{}".to_string(), String::new()),
    };
    let done = job::Entity::update_many()
        .col_expr(job::Column::State, Expr::value(state))
        .col_expr(job::Column::Result, Expr::value(result))
        .col_expr(job::Column::Error, Expr::value(error))
        .col_expr(job::Column::Progress, Expr::value(progress.to_json()))
        .col_expr(job::Column::Log, Expr::value(log))
        .col_expr(job::Column::FinishedAt, Expr::value(Utc::now()))
        .filter(job::Column::Id.eq(id))
        .filter(job::Column::Worker.eq(worker))
        .filter(state_is(JobState::Running))
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Adds a timestamped line to a log, keeping its newest `MAX_LOG_BYTES` (cut at a character
/// boundary).
pub(crate) fn push_log(log: &mut String, line: &str) {
    log.push_str(&format!("{} {line}\n", Utc::now().format("%H:%M:%S")));
    if log.len() > MAX_LOG_BYTES {
        let cut = log.len() - MAX_LOG_BYTES;
        let cut = (cut..log.len()).find(|i| log.is_char_boundary(*i)).unwrap_or(log.len());
        log.drain(..cut);
    }
}

fn append_log(log: &str, line: &str) -> String {
    let mut out = log.to_string();
    push_log(&mut out, line);
    out
}

/// Marks running jobs whose heartbeat is older than `stale` as interrupted (their instance
/// died), and queues again those with attempts left when `auto_resume`. Returns the ids seen.
pub async fn reap(
    db: &DatabaseConnection,
    stale: Duration,
    max_attempts: i32,
    auto_resume: bool,
) -> Result<Vec<i64>, ServiceError> {
    let cutoff = Utc::now() - chrono::Duration::from_std(stale).unwrap_or_else(|_| chrono::Duration::seconds(60));
    let dead = job::Entity::find()
        .filter(state_is(JobState::Running))
        .filter(known_kind())
        .filter(job::Column::HeartbeatAt.lt(cutoff).or(job::Column::HeartbeatAt.is_null()))
        .all(db)
        .await?;
    let mut seen = Vec::new();
    for j in dead {
        let resume = auto_resume && j.attempts < max_attempts && !j.cancel_requested;
        let note = if resume {
            format!(
                "interrupted: instance {} stopped answering; queued again (attempt {} of {max_attempts} next)",
                j.worker,
                j.attempts + 1
            )
        } else {
            format!("interrupted: instance {} stopped answering", j.worker)
        };
        let state = if resume { JobState::Queued } else { JobState::Interrupted };
        let changed = job::Entity::update_many()
            .col_expr(job::Column::State, Expr::value(state))
            .col_expr(job::Column::Log, Expr::value(append_log(&j.log, &note)))
            .col_expr(job::Column::Worker, Expr::value(""))
            .filter(job::Column::Id.eq(j.id))
            .filter(state_is(JobState::Running))
            .filter(job::Column::Worker.eq(j.worker.clone()))
            .exec(db)
            .await?;
        if changed.rows_affected == 1 {
            tracing::warn!(job = j.id, kind = %j.kind, resumed = resume, "{note}");
            seen.push(j.id);
        }
    }
    Ok(seen)
}

async fn find(db: &DatabaseConnection, id: i64) -> Result<job::Model, ServiceError> {
    job::Entity::find_by_id(id).one(db).await?.ok_or_else(|| ServiceError::NotFound(format!("job {id}")))
}

/// Cancels a queued job at once; a running one stops at its next checkpoint.
pub async fn cancel(db: &DatabaseConnection, actor: Option<&Account>, id: i64) -> Result<job::Model, ServiceError> {
    let admin = require(actor, Role::Admin)?;
    let j = find(db, id).await?;
    let state = j.state;
    let mut row: job::ActiveModel = j.clone().into();
    match state {
        JobState::Queued | JobState::Interrupted => {
            row.state = Set(JobState::Cancelled);
            row.finished_at = Set(Some(Utc::now()));
        }
        JobState::Running => row.cancel_requested = Set(true),
        _ => return Err(ServiceError::Conflict(format!("job {id} has already ended ({state})"))),
    }
    // A running job's log belongs to its runner, which notes the request itself.
    if state != JobState::Running {
        row.log = Set(append_log(&j.log, &format!("cancelled by {}", admin.username)));
    }
    let row = row.update(db).await?;
    audit::record(db, Actor::Account(admin), "job.cancelled", &format!("{id} {}", j.kind), "", None).await?;
    Ok(row)
}

/// Queues an interrupted, failed or cancelled job again; it continues from its checkpoints
/// (a fine-tune reuses its cached features).
pub async fn resume(db: &DatabaseConnection, actor: Option<&Account>, id: i64) -> Result<job::Model, ServiceError> {
    let admin = require(actor, Role::Admin)?;
    let j = find(db, id).await?;
    if !matches!(j.state, JobState::Interrupted | JobState::Failed | JobState::Cancelled) {
        return Err(ServiceError::Conflict(format!(
            "job {id} is {}: only an interrupted, failed or cancelled job can be resumed",
            j.state
        )));
    }
    let mut row: job::ActiveModel = j.clone().into();
    row.state = Set(JobState::Queued);
    row.cancel_requested = Set(false);
    row.error = Set(String::new());
    row.finished_at = Set(None);
    row.log = Set(append_log(&j.log, &format!("resumed by {}", admin.username)));
    let row = row.update(db).await?;
    audit::record(db, Actor::Account(admin), "job.resumed", &format!("{id} {}", j.kind), "", None).await?;
    Ok(row)
}

/// A fresh job with the same parameters as an ended one.
pub async fn restart(db: &DatabaseConnection, actor: Option<&Account>, id: i64) -> Result<job::Model, ServiceError> {
    let admin = require(actor, Role::Admin)?;
    let j = find(db, id).await?;
    if !j.state.is_final() {
        return Err(ServiceError::Conflict(format!("job {id} is still {}", j.state)));
    }
    let spec: JobSpec = serde_json::from_str(&j.params)
        .map_err(|e| ServiceError::InvalidInput(format!("job {id}'s parameters: {e}")))?;
    let new = enqueue(db, &spec, &j.command, Some(admin.id)).await?;
    audit::record(db, Actor::Account(admin), "job.restarted", &format!("{id} → {}", new.id), "", None).await?;
    Ok(new)
}

/// Queues a job for an administrator (the Commands and Models pages).
pub async fn submit(
    db: &DatabaseConnection,
    actor: Option<&Account>,
    spec: &JobSpec,
    command: &str,
) -> Result<job::Model, ServiceError> {
    let admin = require(actor, Role::Admin)?;
    let row = enqueue(db, spec, command, Some(admin.id)).await?;
    audit::record(db, Actor::Account(admin), "job.queued", &format!("{} {}", row.id, row.kind), &row.params, None)
        .await?;
    Ok(row)
}

/// The newest jobs first.
pub async fn list(
    db: &DatabaseConnection,
    actor: Option<&Account>,
    limit: u64,
) -> Result<Vec<job::Model>, ServiceError> {
    require(actor, Role::Admin)?;
    Ok(job::Entity::find().filter(known_kind()).order_by_desc(job::Column::Id).limit(limit).all(db).await?)
}

pub async fn get(db: &DatabaseConnection, actor: Option<&Account>, id: i64) -> Result<job::Model, ServiceError> {
    require(actor, Role::Admin)?;
    find(db, id).await
}

/// Queued and running jobs of one kind.
pub async fn pending_of_kind(db: &DatabaseConnection, kind: JobKind) -> Result<u64, ServiceError> {
    use sea_orm::PaginatorTrait;
    Ok(job::Entity::find()
        .filter(job::Column::Kind.eq(kind))
        .filter(job::Column::State.is_in([JobState::Queued, JobState::Running]))
        .count(db)
        .await?)
}

/// Queued and running jobs (the metrics' queue depth).
pub async fn depth(db: &DatabaseConnection) -> Result<(u64, u64), ServiceError> {
    use sea_orm::PaginatorTrait;
    let queued = job::Entity::find().filter(state_is(JobState::Queued)).count(db).await?;
    let running = job::Entity::find().filter(state_is(JobState::Running)).count(db).await?;
    Ok((queued, running))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_log_keeps_its_newest_part() {
        let long = "é".repeat(super::MAX_LOG_BYTES);
        let out = super::append_log(&long, "last line");
        assert!(out.len() <= super::MAX_LOG_BYTES);
        assert!(out.ends_with("last line\n"));
    }
}
