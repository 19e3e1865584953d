use sea_orm::entity::prelude::*;

/// A background job: what to do (kind + JSON params), where it stands, its live progress and
/// log, and which server instance runs it (kept alive by `heartbeat_at`).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "job")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub kind: JobKind,
    /// The commands-page entry it came from ("" when started elsewhere).
    pub command: String,
    #[sea_orm(column_type = "Text")]
    pub params: String,
    pub state: JobState,
    pub cancel_requested: bool,
    /// JSON of `jobs::Progress`.
    #[sea_orm(column_type = "Text")]
    pub progress: String,
    #[sea_orm(column_type = "Text")]
    pub log: String,
    /// JSON of the kind's `jobs::results` struct once it succeeded.
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
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::CreatedBy",
        to = "super::user::Column::Id",
        on_delete = "SetNull"
    )]
    Creator,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Creator.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

/// What a job does: the tag of its `JobSpec`, stored as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, serde::Serialize, serde::Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    #[sea_orm(string_value = "fine_tune")]
    FineTune,
    #[sea_orm(string_value = "evaluate")]
    Evaluate,
    #[sea_orm(string_value = "quantize")]
    Quantize,
    #[sea_orm(string_value = "import_dataset")]
    ImportDataset,
    #[sea_orm(string_value = "export_dataset")]
    ExportDataset,
    #[sea_orm(string_value = "repredict")]
    Repredict,
    #[sea_orm(string_value = "clean_files")]
    CleanFiles,
    #[sea_orm(string_value = "vacuum")]
    Vacuum,
    #[sea_orm(string_value = "describe_classes")]
    DescribeClasses,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::FineTune => "fine_tune",
            JobKind::Evaluate => "evaluate",
            JobKind::Quantize => "quantize",
            JobKind::ImportDataset => "import_dataset",
            JobKind::ExportDataset => "export_dataset",
            JobKind::Repredict => "repredict",
            JobKind::CleanFiles => "clean_files",
            JobKind::Vacuum => "vacuum",
            JobKind::DescribeClasses => "describe_classes",
        }
    }
}

impl std::fmt::Display for JobKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a job stands, stored as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, serde::Serialize, serde::Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    #[sea_orm(string_value = "queued")]
    Queued,
    #[sea_orm(string_value = "running")]
    Running,
    #[sea_orm(string_value = "succeeded")]
    Succeeded,
    #[sea_orm(string_value = "failed")]
    Failed,
    #[sea_orm(string_value = "cancelled")]
    Cancelled,
    /// Its server instance died while it ran; it is resumed automatically (a few attempts) or
    /// by an administrator.
    #[sea_orm(string_value = "interrupted")]
    Interrupted,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
            JobState::Interrupted => "interrupted",
        }
    }

    /// Finished one way or another: it can be restarted (and, unless it succeeded, resumed).
    pub fn is_final(self) -> bool {
        !matches!(self, JobState::Queued | JobState::Running)
    }

    /// Waiting or running: the pages keep refreshing.
    pub fn is_active(self) -> bool {
        !self.is_final()
    }
}

impl std::fmt::Display for JobState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
