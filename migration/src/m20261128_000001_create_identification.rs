use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Identification::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Identification::Id))
                    .col(timestamp_with_time_zone(Identification::CreatedAt))
                    .col(big_integer_null(Identification::UserId))
                    .col(string_len(Identification::ImageSha256, 64))
                    .col(string(Identification::ModelName))
                    .col(string(Identification::ModelVersion))
                    .col(string(Identification::TopLabel))
                    .col(double(Identification::TopProbability))
                    .col(text(Identification::Answer))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_identification_created_at")
                    .table(Identification::Table)
                    .col(Identification::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Identification::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Identification {
    Table,
    Id,
    CreatedAt,
    UserId,
    ImageSha256,
    ModelName,
    ModelVersion,
    TopLabel,
    TopProbability,
    Answer,
}
