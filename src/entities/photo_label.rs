use sea_orm::entity::prelude::*;

/// The decided label of a photo, what datasets are built from.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "photo_label")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub image_sha256: String,
    pub label: String,
    pub source: LabelSource,
    pub decided_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Who decided a photo's label, stored as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum LabelSource {
    /// A reviewer accepted someone's feedback.
    #[sea_orm(string_value = "feedback")]
    Feedback,
    /// Enough labelers agreed.
    #[sea_orm(string_value = "labelers")]
    Labelers,
    /// A dataset import (never overrides what people decided).
    #[sea_orm(string_value = "import")]
    Import,
}
