use sea_orm::entity::prelude::*;

/// A dataset import: progress, skipped files with reasons, and how it ended.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "import_job")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version_id: i64,
    #[sea_orm(column_type = "Text")]
    pub source: String,
    /// ip102 or folders.
    pub layout: String,
    pub state: ImportState,
    pub total: i32,
    pub done: i32,
    pub imported: i32,
    /// JSON list of {path, reason}.
    #[sea_orm(column_type = "Text")]
    pub skipped: String,
    #[sea_orm(column_type = "Text")]
    pub error: String,
    pub seconds: f64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::dataset_version::Entity",
        from = "Column::VersionId",
        to = "super::dataset_version::Column::Id",
        on_delete = "Cascade"
    )]
    Version,
}

impl Related<super::dataset_version::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Version.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

/// Where an import stands, stored as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, serde::Serialize, serde::Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum ImportState {
    #[sea_orm(string_value = "running")]
    Running,
    #[sea_orm(string_value = "done")]
    Done,
    #[sea_orm(string_value = "failed")]
    Failed,
    /// Its process died; resumed from the photos already imported.
    #[sea_orm(string_value = "interrupted")]
    Interrupted,
}

impl ImportState {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportState::Running => "running",
            ImportState::Done => "done",
            ImportState::Failed => "failed",
            ImportState::Interrupted => "interrupted",
        }
    }
}

impl std::fmt::Display for ImportState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
