//! Descriptions of species written by administrators: the prompts an image–text model adds to a
//! class (or a class it did not have), in the language each is written in.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ClassDescription::Table)
                    .col(big_pk_auto(ClassDescription::Id))
                    // The catalogue's species key (`ip102-7`).
                    .col(string(ClassDescription::SpeciesKey))
                    // "en" or "zh".
                    .col(string(ClassDescription::Language))
                    .col(string(ClassDescription::Text))
                    .col(big_integer_null(ClassDescription::CreatedBy))
                    .col(timestamp_with_time_zone(ClassDescription::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_class_description_user")
                            .from(ClassDescription::Table, ClassDescription::CreatedBy)
                            .to(User::Table, User::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_class_description_text")
                    .table(ClassDescription::Table)
                    .col(ClassDescription::SpeciesKey)
                    .col(ClassDescription::Language)
                    .col(ClassDescription::Text)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ClassDescription::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum ClassDescription {
    Table,
    Id,
    SpeciesKey,
    Language,
    Text,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum User {
    Table,
    Id,
}
