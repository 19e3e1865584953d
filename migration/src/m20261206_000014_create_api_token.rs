//! Personal API tokens: a person's named keys for the REST API, each with scopes, an optional
//! expiry and its last use. Only a hash of the secret is kept; the prefix lets people tell
//! their tokens apart.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ApiToken::Table)
                    .col(big_pk_auto(ApiToken::Id))
                    .col(big_integer(ApiToken::UserId))
                    .col(string(ApiToken::Name))
                    // The token's first characters, shown beside its name (not secret).
                    .col(string(ApiToken::Prefix))
                    // SHA-256 of the whole token, hex: tokens are random, so no slow hash is needed.
                    .col(string(ApiToken::SecretHash))
                    // Comma-separated scope names ("identify,read").
                    .col(string(ApiToken::Scopes))
                    .col(timestamp_with_time_zone(ApiToken::CreatedAt))
                    .col(timestamp_with_time_zone_null(ApiToken::ExpiresAt))
                    .col(timestamp_with_time_zone_null(ApiToken::LastUsedAt))
                    .col(timestamp_with_time_zone_null(ApiToken::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_api_token_user")
                            .from(ApiToken::Table, ApiToken::UserId)
                            .to(User::Table, User::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_api_token_secret_hash")
                    .table(ApiToken::Table)
                    .col(ApiToken::SecretHash)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("idx_api_token_user").table(ApiToken::Table).col(ApiToken::UserId).to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ApiToken::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum ApiToken {
    Table,
    Id,
    UserId,
    Name,
    Prefix,
    SecretHash,
    Scopes,
    CreatedAt,
    ExpiresAt,
    LastUsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum User {
    Table,
    Id,
}
