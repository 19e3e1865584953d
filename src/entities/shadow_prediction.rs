use sea_orm::entity::prelude::*;

/// A candidate model's answer for a live identification, beside the active model's.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "shadow_prediction")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub identification_id: i64,
    pub model_version_id: i64,
    pub active_label: String,
    pub active_probability: f64,
    pub label: String,
    pub probability: f64,
    pub agrees: bool,
    /// The candidate's preprocessing + forward time.
    pub millis: f64,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::identification::Entity",
        from = "Column::IdentificationId",
        to = "super::identification::Column::Id",
        on_delete = "Cascade"
    )]
    Identification,
    #[sea_orm(
        belongs_to = "super::model_version::Entity",
        from = "Column::ModelVersionId",
        to = "super::model_version::Column::Id",
        on_delete = "Cascade"
    )]
    ModelVersion,
}

impl Related<super::identification::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Identification.def()
    }
}

impl Related<super::model_version::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ModelVersion.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
