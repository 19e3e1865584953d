use sea_orm::entity::prelude::*;

/// One alert mailed to one person for one week. The row is claimed before sending (so that of
/// several instances only one sends) and marked sent once the relay accepted the message.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "pest_alert_notice")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub alert_id: i64,
    /// The Monday of the week whose count reached the threshold.
    #[sea_orm(primary_key, auto_increment = false)]
    pub week: Date,
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: i64,
    /// The round that claimed it (its marks touch only its own claims).
    pub claimed_by: String,
    pub claimed_at: DateTimeUtc,
    pub sent_at: Option<DateTimeUtc>,
    /// The relay's permanent refusal (a bad address): not tried again that week.
    pub refused: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::pest_alert::Entity",
        from = "Column::AlertId",
        to = "super::pest_alert::Column::Id",
        on_delete = "Cascade"
    )]
    PestAlert,
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id",
        on_delete = "Cascade"
    )]
    User,
}

impl ActiveModelBehavior for ActiveModel {}
