//! When and where a photo was taken, read from its EXIF at upload, kept as private fields of a
//! signed-in person's identification: only its owner sees them, and the photo itself is
//! served and exported without them.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one at a time.
        let columns = [
            string_null(Identification::TakenAt),
            double_null(Identification::Latitude),
            double_null(Identification::Longitude),
        ];
        for column in columns {
            let mut column = column;
            manager.alter_table(Table::alter().table(Identification::Table).add_column(&mut column).to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Identification::TakenAt, Identification::Latitude, Identification::Longitude] {
            manager.alter_table(Table::alter().table(Identification::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Identification {
    Table,
    TakenAt,
    Latitude,
    Longitude,
}
