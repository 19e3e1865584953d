use sea_orm::entity::prelude::*;

/// An administrator's description of a catalogue species: a prompt image–text models add to
/// that class (see `services::class_descriptions`).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "class_description")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub species_key: String,
    pub language: Language,
    pub text: String,
    pub created_by: Option<i64>,
    pub created_at: DateTimeUtc,
}

/// The language a description is written in; a model embeds only those it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, serde::Serialize, serde::Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[sea_orm(string_value = "en")]
    En,
    #[sea_orm(string_value = "zh")]
    Zh,
}

impl Language {
    pub fn as_str(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Zh => "zh",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "en" => Some(Language::En),
            "zh" => Some(Language::Zh),
            _ => None,
        }
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::CreatedBy",
        to = "super::user::Column::Id",
        on_delete = "SetNull"
    )]
    User,
}

impl ActiveModelBehavior for ActiveModel {}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}
