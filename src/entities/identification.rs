use sea_orm::entity::prelude::*;

/// One photo identified by one model: what it answered and when.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "identification")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub created_at: DateTimeUtc,
    pub user_id: Option<i64>,
    pub image_sha256: String,
    pub model_name: String,
    pub model_version: String,
    pub top_label: String,
    pub top_probability: f64,
    /// The full answer (top-k, roll-up, timings) as JSON.
    #[sea_orm(column_type = "Text")]
    pub answer: String,
    /// The photo's label is decided (kept by `labels`; the labelling queue reads only the
    /// undecided).
    pub label_decided: bool,
    /// When the photo's EXIF says it was taken ("YYYY-MM-DD HH:MM:SS", the camera's clock),
    /// kept for signed-in owners only and shown to them alone.
    pub taken_at: Option<String>,
    /// Where its EXIF GPS says it was taken (degrees), likewise private to its owner.
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id",
        on_delete = "Cascade"
    )]
    User,
    #[sea_orm(has_many = "super::feedback::Entity")]
    Feedback,
    #[sea_orm(has_many = "super::shadow_prediction::Entity")]
    ShadowPrediction,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl Related<super::feedback::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Feedback.def()
    }
}

impl Related<super::shadow_prediction::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ShadowPrediction.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
