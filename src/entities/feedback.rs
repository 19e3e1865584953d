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
    pub kind: FeedbackKind,
    /// The class the person says it is (wrong), or the model's (correct).
    pub label: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub comment: String,
    pub state: FeedbackState,
    #[sea_orm(column_type = "Text", nullable)]
    pub reason: Option<String>,
    pub reviewed_by: Option<i64>,
    pub reviewed_at: Option<DateTimeUtc>,
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
    /// Who gave it.
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id",
        on_delete = "Cascade"
    )]
    Author,
    /// Who accepted or rejected it (unknown once that account is deleted).
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::ReviewedBy",
        to = "super::user::Column::Id",
        on_delete = "SetNull"
    )]
    Reviewer,
}

impl Related<super::identification::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Identification.def()
    }
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Author.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

/// What the person said, stored as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, serde::Serialize, serde::Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum FeedbackKind {
    #[sea_orm(string_value = "correct")]
    Correct,
    /// It is `label`.
    #[sea_orm(string_value = "wrong")]
    Wrong,
    #[sea_orm(string_value = "not_insect")]
    NotInsect,
}

impl FeedbackKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedbackKind::Correct => "correct",
            FeedbackKind::Wrong => "wrong",
            FeedbackKind::NotInsect => "not_insect",
        }
    }
}

/// Where a feedback stands in the review queue, stored as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, serde::Serialize, serde::Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum FeedbackState {
    #[sea_orm(string_value = "pending")]
    Pending,
    #[sea_orm(string_value = "accepted")]
    Accepted,
    #[sea_orm(string_value = "rejected")]
    Rejected,
}

impl FeedbackState {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedbackState::Pending => "pending",
            FeedbackState::Accepted => "accepted",
            FeedbackState::Rejected => "rejected",
        }
    }
}

impl std::fmt::Display for FeedbackKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for FeedbackState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
