//! Each identification says whether its photo's label is decided, so the labelling queue reads
//! the undecided ones in confidence order straight from an index. Before, it walked every
//! identification ever made in that order and skipped the decided ones: 4 ms per labelling page
//! at 10,000 identifications in the load test, growing with each one.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Identification::Table)
                    .add_column(boolean(Identification::LabelDecided).default(false))
                    .to_owned(),
            )
            .await?;
        let decided = Query::select().column(PhotoLabel::ImageSha256).from(PhotoLabel::Table).to_owned();
        manager
            .exec_stmt(
                Query::update()
                    .table(Identification::Table)
                    .value(Identification::LabelDecided, true)
                    .and_where(Expr::col(Identification::ImageSha256).in_subquery(decided))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_identification_queue")
                    .table(Identification::Table)
                    .col(Identification::LabelDecided)
                    .col(Identification::TopProbability)
                    .col(Identification::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name("idx_identification_queue").table(Identification::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter().table(Identification::Table).drop_column(Identification::LabelDecided).to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Identification {
    Table,
    Id,
    ImageSha256,
    TopProbability,
    LabelDecided,
}

#[derive(DeriveIden)]
enum PhotoLabel {
    Table,
    ImageSha256,
}
