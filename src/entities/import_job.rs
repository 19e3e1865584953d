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
    /// running, done, failed or interrupted.
    pub state: String,
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
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
