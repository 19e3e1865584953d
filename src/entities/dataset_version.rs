use sea_orm::entity::prelude::*;

/// One version of a dataset. Once `ready` its items never change.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "dataset_version")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub dataset_id: i64,
    pub version: i32,
    /// building or ready.
    pub state: String,
    /// Where the items came from: "labels" or the import's source.
    pub origin: String,
    pub seed: i64,
    pub items: i32,
    pub classes: i32,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
