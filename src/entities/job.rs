use sea_orm::entity::prelude::*;

/// A background job: what to do (kind + JSON params), where it stands, its live progress and
/// log, and which server instance runs it (kept alive by `heartbeat_at`).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "job")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub kind: String,
    /// The commands-page entry it came from ("" when started elsewhere).
    pub command: String,
    #[sea_orm(column_type = "Text")]
    pub params: String,
    /// queued, running, succeeded, failed, cancelled or interrupted.
    pub state: String,
    pub cancel_requested: bool,
    /// JSON, kind-specific (phase, done/total, epochs, ETA).
    #[sea_orm(column_type = "Text")]
    pub progress: String,
    #[sea_orm(column_type = "Text")]
    pub log: String,
    /// JSON summary of what the job produced.
    #[sea_orm(column_type = "Text")]
    pub result: String,
    #[sea_orm(column_type = "Text")]
    pub error: String,
    pub created_by: Option<i64>,
    pub worker: String,
    pub attempts: i32,
    pub created_at: DateTimeUtc,
    pub started_at: Option<DateTimeUtc>,
    pub heartbeat_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
