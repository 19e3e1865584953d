use sea_orm::entity::prelude::*;

/// A person who asked to be told of pest alerts: on their next visit, by e-mail (when the
/// portal has a mail relay and they gave an address), or both.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "pest_alert_subscriber")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: i64,
    pub created_at: DateTimeUtc,
    pub on_visit: bool,
    pub by_email: bool,
    /// The address its owner confirmed for alerts; mail goes there only while it is still the
    /// account's address.
    pub mail_to: Option<String>,
    /// A confirmation link's secret, mailed to `confirm_address` at `confirm_sent_at`.
    pub confirm_token: Option<String>,
    pub confirm_address: Option<String>,
    pub confirm_sent_at: Option<DateTimeUtc>,
    /// The secret of the "stop these e-mails" link in every message.
    pub stop_token: Option<String>,
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
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
