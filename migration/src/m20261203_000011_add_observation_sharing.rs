//! An identification as an observation: which kind of answer it was (so confident sightings
//! can be counted without reading every answer), where its date and place came from, and
//! whether its owner shares it (coarsely) with the portal's catalogue and pest-pressure pages.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The verdict kinds as `Verdict` serializes them (`"verdict":{"kind":"confident",…}`).
const KINDS: [&str; 4] = ["confident", "rolled_up", "uncertain", "no_insect"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one at a time.
        let mut verdict = string(Identification::Verdict);
        verdict.default("uncertain");
        let mut shared = boolean(Identification::Shared);
        shared.default(false);
        let columns = [verdict, string_null(Identification::ContextSource), shared];
        for column in columns {
            let mut column = column;
            manager.alter_table(Table::alter().table(Identification::Table).add_column(&mut column).to_owned()).await?;
        }
        // Existing answers say their kind in their JSON; serde_json writes it without spaces.
        for kind in KINDS {
            let pattern = format!("%\"verdict\":{{\"kind\":\"{kind}\"%");
            let update = Query::update()
                .table(Identification::Table)
                .value(Identification::Verdict, kind)
                .and_where(Expr::col(Identification::Answer).like(pattern))
                .to_owned();
            manager.exec_stmt(update).await?;
        }
        let from_photo = Query::update()
            .table(Identification::Table)
            .value(Identification::ContextSource, "photo")
            .cond_where(
                Cond::any()
                    .add(Expr::col(Identification::TakenAt).is_not_null())
                    .add(Expr::col(Identification::Latitude).is_not_null()),
            )
            .to_owned();
        manager.exec_stmt(from_photo).await?;
        // The catalogue and the pressure pages read shared answers of one class.
        manager
            .create_index(
                Index::create()
                    .name("idx_identification_shared_label")
                    .table(Identification::Table)
                    .col(Identification::Shared)
                    .col(Identification::TopLabel)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name("idx_identification_shared_label").table(Identification::Table).to_owned())
            .await?;
        for column in [Identification::Verdict, Identification::ContextSource, Identification::Shared] {
            manager.alter_table(Table::alter().table(Identification::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Identification {
    Table,
    Answer,
    TopLabel,
    TakenAt,
    Latitude,
    Verdict,
    ContextSource,
    Shared,
}
