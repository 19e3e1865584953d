//! Host keys the administrators confirmed for the terminal's preset hosts.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SshHostKey::Table)
                    .if_not_exists()
                    .col(big_pk_auto(SshHostKey::Id))
                    .col(string_len_uniq(SshHostKey::Preset, 64))
                    .col(string_len(SshHostKey::Fingerprint, 128))
                    .col(string_len(SshHostKey::PinnedBy, 64))
                    .col(timestamp_with_time_zone(SshHostKey::PinnedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(SshHostKey::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum SshHostKey {
    Table,
    Id,
    Preset,
    Fingerprint,
    PinnedBy,
    PinnedAt,
}
