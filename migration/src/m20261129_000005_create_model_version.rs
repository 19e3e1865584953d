//! The model registry: every bundle installed on this portal, which one answers now, and when
//! each was active.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ModelVersion::Table)
                    .if_not_exists()
                    .col(big_pk_auto(ModelVersion::Id))
                    .col(string_len(ModelVersion::Name, 128))
                    .col(string_len(ModelVersion::Version, 64))
                    .col(text(ModelVersion::Dir))
                    .col(string_len(ModelVersion::Source, 16))
                    .col(text(ModelVersion::Description))
                    .col(integer(ModelVersion::Classes))
                    .col(boolean(ModelVersion::Active))
                    .col(timestamp_with_time_zone(ModelVersion::CreatedAt))
                    .col(timestamp_with_time_zone_null(ModelVersion::ActivatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_model_version_name_version")
                    .table(ModelVersion::Table)
                    .col(ModelVersion::Name)
                    .col(ModelVersion::Version)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ModelVersion::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum ModelVersion {
    Table,
    Id,
    Name,
    Version,
    Dir,
    Source,
    Description,
    Classes,
    Active,
    CreatedAt,
    ActivatedAt,
}
