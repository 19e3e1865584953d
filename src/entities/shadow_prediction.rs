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
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
