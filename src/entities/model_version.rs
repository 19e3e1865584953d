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
    pub source: ModelSource,
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
pub enum Relation {
    #[sea_orm(has_many = "super::shadow_prediction::Entity")]
    ShadowPrediction,
}

impl Related<super::shadow_prediction::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ShadowPrediction.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

/// How a bundle came to the portal, stored as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, serde::Serialize, serde::Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum ModelSource {
    /// The bundle `make model` exported and the server started with; its files are not the
    /// registry's to delete.
    #[sea_orm(string_value = "default")]
    #[serde(rename = "default")]
    Default,
    #[sea_orm(string_value = "upload")]
    #[serde(rename = "upload")]
    Upload,
    #[sea_orm(string_value = "fine-tune")]
    #[serde(rename = "fine-tune")]
    FineTune,
    /// An int8 copy of another version, written by a quantize job.
    #[sea_orm(string_value = "int8")]
    #[serde(rename = "int8")]
    Int8,
    /// An image–text version re-made with the species descriptions, by a describe job.
    #[sea_orm(string_value = "described")]
    #[serde(rename = "described")]
    Described,
}

impl ModelSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ModelSource::Default => "default",
            ModelSource::Upload => "upload",
            ModelSource::FineTune => "fine-tune",
            ModelSource::Int8 => "int8",
            ModelSource::Described => "described",
        }
    }
}
