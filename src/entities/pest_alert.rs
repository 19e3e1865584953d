use sea_orm::entity::prelude::*;

/// An administrator's alert: tell subscribers when a species' sightings in one week reach
/// `weekly_threshold` in a region (a grid cell's key, or "" for all regions together).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "pest_alert")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub species_key: String,
    pub region: String,
    pub weekly_threshold: i32,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
