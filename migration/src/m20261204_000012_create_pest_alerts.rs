//! Pest-pressure alerts: an administrator's weekly threshold per species and region, and the
//! people who asked to be told when one is passed.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PestAlert::Table)
                    .col(big_pk_auto(PestAlert::Id))
                    .col(string(PestAlert::SpeciesKey))
                    // A grid cell's key ("48N7E"), or "" for all regions together.
                    .col(string(PestAlert::Region))
                    .col(integer(PestAlert::WeeklyThreshold))
                    .col(timestamp_with_time_zone(PestAlert::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_pest_alert_species_region")
                    .table(PestAlert::Table)
                    .col(PestAlert::SpeciesKey)
                    .col(PestAlert::Region)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PestAlertSubscriber::Table)
                    .col(big_integer(PestAlertSubscriber::UserId).primary_key())
                    .col(timestamp_with_time_zone(PestAlertSubscriber::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_pest_alert_subscriber_user")
                            .from(PestAlertSubscriber::Table, PestAlertSubscriber::UserId)
                            .to(User::Table, User::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(PestAlertSubscriber::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(PestAlert::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum PestAlert {
    Table,
    Id,
    SpeciesKey,
    Region,
    WeeklyThreshold,
    CreatedAt,
}

#[derive(DeriveIden)]
enum PestAlertSubscriber {
    Table,
    UserId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum User {
    Table,
    Id,
}
