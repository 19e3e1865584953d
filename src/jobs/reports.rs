//! What finished jobs left behind: evaluation reports (for the Models page and comparisons)
//! and the files a job wrote.

use std::path::{Path, PathBuf};

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::auth::{Account, Role};
use crate::entities::job;
use crate::jobs::results::EvaluateResult;
use crate::jobs::{JobKind, JobResult, JobState};
use crate::services::comparison::{self, Comparison};
use crate::services::evaluation::EvalReport;
use crate::services::users::require;
use crate::ServiceError;

/// Files a job may serve: the pictures and report an evaluation writes.
pub const SERVED_FILES: [&str; 3] = ["confusion.png", "reliability.png", "report.json"];

/// A job's file, if it is one that may be served and it exists.
pub fn file(jobs_dir: &Path, id: i64, name: &str) -> Option<PathBuf> {
    SERVED_FILES.contains(&name).then(|| jobs_dir.join(id.to_string()).join(name)).filter(|p| p.is_file())
}

/// Succeeded evaluations (job id and result), newest first.
pub async fn evaluations(
    db: &DatabaseConnection,
    actor: Option<&Account>,
    limit: u64,
) -> Result<Vec<(i64, EvaluateResult)>, ServiceError> {
    require(actor, Role::Admin)?;
    let rows = job::Entity::find()
        .filter(job::Column::Kind.eq(JobKind::Evaluate))
        .filter(job::Column::State.eq(JobState::Succeeded))
        .order_by_desc(job::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    Ok(rows
        .iter()
        .filter_map(|row| match JobResult::of(row) {
            Some(JobResult::Evaluate(result)) => Some((row.id, result)),
            _ => None,
        })
        .collect())
}

async fn report(db: &DatabaseConnection, jobs_dir: &Path, id: i64) -> Result<EvalReport, ServiceError> {
    let j = job::Entity::find_by_id(id).one(db).await?.ok_or_else(|| ServiceError::NotFound(format!("job {id}")))?;
    if j.kind != JobKind::Evaluate || j.state != JobState::Succeeded {
        return Err(ServiceError::InvalidInput(format!("job {id} is not a finished evaluation")));
    }
    let path = jobs_dir.join(id.to_string()).join("report.json");
    let text =
        tokio::fs::read(&path).await.map_err(|e| ServiceError::NotFound(format!("evaluation {id}'s report: {e}")))?;
    serde_json::from_slice(&text).map_err(|e| ServiceError::Storage(format!("evaluation {id}'s report: {e}")))
}

/// Two finished evaluations side by side.
pub async fn compare(
    db: &DatabaseConnection,
    actor: Option<&Account>,
    jobs_dir: &Path,
    a: i64,
    b: i64,
) -> Result<Comparison, ServiceError> {
    require(actor, Role::Admin)?;
    if a == b {
        return Err(ServiceError::InvalidInput("choose two different evaluations".into()));
    }
    comparison::compare(&report(db, jobs_dir, a).await?, &report(db, jobs_dir, b).await?)
}
