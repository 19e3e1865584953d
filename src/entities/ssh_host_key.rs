use sea_orm::entity::prelude::*;

/// A terminal preset's host key, pinned when an administrator confirmed its fingerprint.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "ssh_host_key")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub preset: String,
    pub fingerprint: String,
    pub pinned_by: String,
    pub pinned_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
