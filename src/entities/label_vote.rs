use sea_orm::entity::prelude::*;

/// One labeler's label for one photo (None: skipped).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "label_vote")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub created_at: DateTimeUtc,
    pub image_sha256: String,
    pub labeler_id: i64,
    pub label: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::LabelerId",
        to = "super::user::Column::Id",
        on_delete = "Cascade"
    )]
    Labeler,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Labeler.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
