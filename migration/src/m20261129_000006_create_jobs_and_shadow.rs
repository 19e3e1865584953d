//! Background jobs (fine-tune, evaluate, import, export, maintenance), claimed by whichever
//! server instance is free and kept alive by a heartbeat; and shadow predictions, a candidate
//! model's answers on live traffic beside the active model's.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Job::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Job::Id))
                    .col(string_len(Job::Kind, 32))
                    .col(string_len(Job::Command, 64))
                    .col(text(Job::Params))
                    .col(string_len(Job::State, 16))
                    .col(boolean(Job::CancelRequested))
                    .col(text(Job::Progress))
                    .col(text(Job::Log))
                    .col(text(Job::Result))
                    .col(text(Job::Error))
                    .col(big_integer_null(Job::CreatedBy))
                    .col(string_len(Job::Worker, 64))
                    .col(integer(Job::Attempts))
                    .col(timestamp_with_time_zone(Job::CreatedAt))
                    .col(timestamp_with_time_zone_null(Job::StartedAt))
                    .col(timestamp_with_time_zone_null(Job::HeartbeatAt))
                    .col(timestamp_with_time_zone_null(Job::FinishedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("idx_job_state").table(Job::Table).col(Job::State).col(Job::Id).to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ShadowPrediction::Table)
                    .if_not_exists()
                    .col(big_pk_auto(ShadowPrediction::Id))
                    .col(big_integer(ShadowPrediction::IdentificationId))
                    .col(big_integer(ShadowPrediction::ModelVersionId))
                    .col(string_len(ShadowPrediction::ActiveLabel, 200))
                    .col(double(ShadowPrediction::ActiveProbability))
                    .col(string_len(ShadowPrediction::Label, 200))
                    .col(double(ShadowPrediction::Probability))
                    .col(boolean(ShadowPrediction::Agrees))
                    .col(double(ShadowPrediction::Millis))
                    .col(timestamp_with_time_zone(ShadowPrediction::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_shadow_prediction_model_identification")
                    .table(ShadowPrediction::Table)
                    .col(ShadowPrediction::ModelVersionId)
                    .col(ShadowPrediction::IdentificationId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ModelVersion::Table)
                    .add_column(boolean(ModelVersion::Shadow).default(false))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(ModelVersion::Table).drop_column(ModelVersion::Shadow).to_owned())
            .await?;
        manager.drop_table(Table::drop().table(ShadowPrediction::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Job::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Job {
    Table,
    Id,
    Kind,
    Command,
    Params,
    State,
    CancelRequested,
    Progress,
    Log,
    Result,
    Error,
    CreatedBy,
    Worker,
    Attempts,
    CreatedAt,
    StartedAt,
    HeartbeatAt,
    FinishedAt,
}

#[derive(DeriveIden)]
enum ShadowPrediction {
    Table,
    Id,
    IdentificationId,
    ModelVersionId,
    ActiveLabel,
    ActiveProbability,
    Label,
    Probability,
    Agrees,
    Millis,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ModelVersion {
    Table,
    Shadow,
}
