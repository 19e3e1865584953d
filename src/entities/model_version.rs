use sea_orm::entity::prelude::*;

/// A model bundle installed on the portal.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "model_version")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    pub version: String,
    /// The bundle's directory.
    #[sea_orm(column_type = "Text")]
    pub dir: String,
    /// default, upload or fine-tune.
    pub source: String,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    pub classes: i32,
    pub active: bool,
    pub created_at: DateTimeUtc,
    pub activated_at: Option<DateTimeUtc>,
    /// Runs beside the active model on live traffic (shadow mode).
    pub shadow: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
