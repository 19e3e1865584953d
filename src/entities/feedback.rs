use sea_orm::entity::prelude::*;

/// Someone's verdict on an identification: right, wrong (it is `label`), or no insect at all.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "feedback")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub identification_id: i64,
    pub user_id: i64,
    /// Copied from the identification so the review queue filters without a join.
    pub image_sha256: String,
    pub model_version: String,
    pub model_label: String,
    /// correct, wrong or not_insect.
    pub kind: String,
    /// The class the person says it is (wrong), or the model's (correct).
    pub label: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub comment: String,
    /// pending, accepted or rejected.
    pub state: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub reason: Option<String>,
    pub reviewed_by: Option<i64>,
    pub reviewed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
