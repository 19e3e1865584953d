//! Feedback on identifications, labels (labelers' votes and the decided label per photo),
//! datasets with immutable versions, and dataset imports that can resume.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Feedback::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Feedback::Id))
                    .col(timestamp_with_time_zone(Feedback::CreatedAt))
                    .col(timestamp_with_time_zone(Feedback::UpdatedAt))
                    .col(big_integer(Feedback::IdentificationId))
                    .col(big_integer(Feedback::UserId))
                    .col(string_len(Feedback::ImageSha256, 64))
                    .col(string_len(Feedback::ModelVersion, 64))
                    .col(string_len(Feedback::ModelLabel, 200))
                    .col(string_len(Feedback::Kind, 16))
                    .col(string_len_null(Feedback::Label, 200))
                    .col(text(Feedback::Comment))
                    .col(string_len(Feedback::State, 16))
                    .col(text_null(Feedback::Reason))
                    .col(big_integer_null(Feedback::ReviewedBy))
                    .col(timestamp_with_time_zone_null(Feedback::ReviewedAt))
                    .to_owned(),
            )
            .await?;
        // One feedback per person per identification: a second one edits the first.
        manager
            .create_index(
                Index::create()
                    .name("idx_feedback_identification_user")
                    .table(Feedback::Table)
                    .col(Feedback::IdentificationId)
                    .col(Feedback::UserId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("idx_feedback_state").table(Feedback::Table).col(Feedback::State).to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LabelVote::Table)
                    .if_not_exists()
                    .col(big_pk_auto(LabelVote::Id))
                    .col(timestamp_with_time_zone(LabelVote::CreatedAt))
                    .col(string_len(LabelVote::ImageSha256, 64))
                    .col(big_integer(LabelVote::LabelerId))
                    // NULL: the labeler skipped the photo.
                    .col(string_len_null(LabelVote::Label, 200))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_label_vote_photo_labeler")
                    .table(LabelVote::Table)
                    .col(LabelVote::ImageSha256)
                    .col(LabelVote::LabelerId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PhotoLabel::Table)
                    .if_not_exists()
                    .col(big_pk_auto(PhotoLabel::Id))
                    .col(string_len_uniq(PhotoLabel::ImageSha256, 64))
                    .col(string_len(PhotoLabel::Label, 200))
                    .col(string_len(PhotoLabel::Source, 32))
                    .col(timestamp_with_time_zone(PhotoLabel::DecidedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Dataset::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Dataset::Id))
                    .col(string_len_uniq(Dataset::Name, 64))
                    .col(text(Dataset::Description))
                    .col(timestamp_with_time_zone(Dataset::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DatasetVersion::Table)
                    .if_not_exists()
                    .col(big_pk_auto(DatasetVersion::Id))
                    .col(big_integer(DatasetVersion::DatasetId))
                    .col(integer(DatasetVersion::Version))
                    // building (an import still running or interrupted) or ready (never changes again).
                    .col(string_len(DatasetVersion::State, 16))
                    .col(string_len(DatasetVersion::Origin, 200))
                    .col(big_integer(DatasetVersion::Seed))
                    .col(integer(DatasetVersion::Items))
                    .col(integer(DatasetVersion::Classes))
                    .col(timestamp_with_time_zone(DatasetVersion::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_dataset_version_number")
                    .table(DatasetVersion::Table)
                    .col(DatasetVersion::DatasetId)
                    .col(DatasetVersion::Version)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DatasetItem::Table)
                    .if_not_exists()
                    .col(big_pk_auto(DatasetItem::Id))
                    .col(big_integer(DatasetItem::VersionId))
                    .col(string_len(DatasetItem::ImageSha256, 64))
                    .col(string_len(DatasetItem::Label, 200))
                    .col(string_len(DatasetItem::Split, 8))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_dataset_item_version_photo")
                    .table(DatasetItem::Table)
                    .col(DatasetItem::VersionId)
                    .col(DatasetItem::ImageSha256)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ImportJob::Table)
                    .if_not_exists()
                    .col(big_pk_auto(ImportJob::Id))
                    .col(timestamp_with_time_zone(ImportJob::CreatedAt))
                    .col(timestamp_with_time_zone(ImportJob::UpdatedAt))
                    .col(big_integer(ImportJob::VersionId))
                    .col(text(ImportJob::Source))
                    .col(string_len(ImportJob::Layout, 16))
                    .col(string_len(ImportJob::State, 16))
                    .col(integer(ImportJob::Total))
                    .col(integer(ImportJob::Done))
                    .col(integer(ImportJob::Imported))
                    .col(text(ImportJob::Skipped))
                    .col(text(ImportJob::Error))
                    .col(double(ImportJob::Seconds))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ImportJob::Table.into_iden(),
            DatasetItem::Table.into_iden(),
            DatasetVersion::Table.into_iden(),
            Dataset::Table.into_iden(),
            PhotoLabel::Table.into_iden(),
            LabelVote::Table.into_iden(),
            Feedback::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Feedback {
    Table,
    Id,
    CreatedAt,
    UpdatedAt,
    IdentificationId,
    UserId,
    ImageSha256,
    ModelVersion,
    ModelLabel,
    Kind,
    Label,
    Comment,
    State,
    Reason,
    ReviewedBy,
    ReviewedAt,
}

#[derive(DeriveIden)]
enum LabelVote {
    Table,
    Id,
    CreatedAt,
    ImageSha256,
    LabelerId,
    Label,
}

#[derive(DeriveIden)]
enum PhotoLabel {
    Table,
    Id,
    ImageSha256,
    Label,
    Source,
    DecidedAt,
}

#[derive(DeriveIden)]
enum Dataset {
    Table,
    Id,
    Name,
    Description,
    CreatedAt,
}

#[derive(DeriveIden)]
enum DatasetVersion {
    Table,
    Id,
    DatasetId,
    Version,
    State,
    Origin,
    Seed,
    Items,
    Classes,
    CreatedAt,
}

#[derive(DeriveIden)]
enum DatasetItem {
    Table,
    Id,
    VersionId,
    ImageSha256,
    Label,
    Split,
}

#[derive(DeriveIden)]
enum ImportJob {
    Table,
    Id,
    CreatedAt,
    UpdatedAt,
    VersionId,
    Source,
    Layout,
    State,
    Total,
    Done,
    Imported,
    Skipped,
    Error,
    Seconds,
}
