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
    /// The answer's kind, as in `answer` (kept beside it so sightings can be counted).
    pub verdict: VerdictKind,
    /// Where the date and place came from; none when there are none.
    pub context_source: Option<ContextSource>,
    /// Its owner shares it: the photo may be shown on the species' page and the date and a
    /// place rounded to about 1 km count in pest pressure. Never for an anonymous photo.
    pub shared: bool,
}

/// Which kind of answer the model gave (see `inference::Verdict`), stored as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, serde::Serialize, serde::Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum VerdictKind {
    #[sea_orm(string_value = "confident")]
    Confident,
    #[sea_orm(string_value = "rolled_up")]
    RolledUp,
    #[sea_orm(string_value = "uncertain")]
    Uncertain,
    #[sea_orm(string_value = "no_insect")]
    NoInsect,
}

impl VerdictKind {
    pub fn of(verdict: &crate::inference::Verdict) -> Self {
        use crate::inference::Verdict;
        match verdict {
            Verdict::Confident { .. } => VerdictKind::Confident,
            Verdict::RolledUp { .. } => VerdictKind::RolledUp,
            Verdict::Uncertain { .. } => VerdictKind::Uncertain,
            Verdict::NoInsect { .. } => VerdictKind::NoInsect,
        }
    }
}

/// Where an observation's date and place came from, stored as text.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    EnumIter,
    DeriveActiveEnum,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum ContextSource {
    /// The photo's EXIF.
    #[sea_orm(string_value = "photo")]
    Photo,
    /// The uploading device (the browser's clock and, with permission, its position).
    #[sea_orm(string_value = "device")]
    Device,
    /// Its owner, on the result page.
    #[sea_orm(string_value = "owner")]
    Owner,
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
