use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(User::Table)
                    .if_not_exists()
                    .col(big_pk_auto(User::Id))
                    .col(string_len(User::Username, 32))
                    // Lower-cased username: uniqueness is case-insensitive on every backend.
                    .col(string_len_uniq(User::UsernameKey, 32))
                    .col(string_len(User::DisplayName, 80))
                    .col(string_len_null(User::Email, 254))
                    .col(string(User::PasswordHash))
                    .col(string_len(User::Role, 16))
                    .col(string_len(User::Status, 16))
                    .col(string_len(User::Language, 8))
                    .col(timestamp_with_time_zone(User::CreatedAt))
                    .col(timestamp_with_time_zone_null(User::LastLoginAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Session::Table)
                    .if_not_exists()
                    .col(string_len(Session::Id, 64).primary_key())
                    .col(text(Session::Data))
                    .col(big_integer_null(Session::UserId))
                    .col(timestamp_with_time_zone(Session::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("idx_session_expires_at").table(Session::Table).col(Session::ExpiresAt).to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("idx_session_user_id").table(Session::Table).col(Session::UserId).to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuditEvent::Table)
                    .if_not_exists()
                    .col(big_pk_auto(AuditEvent::Id))
                    .col(timestamp_with_time_zone(AuditEvent::CreatedAt))
                    .col(big_integer_null(AuditEvent::ActorId))
                    .col(string_len(AuditEvent::ActorName, 64))
                    .col(string_len(AuditEvent::Action, 48))
                    .col(string_len(AuditEvent::Target, 128))
                    .col(text(AuditEvent::Detail))
                    .col(string_len_null(AuditEvent::ClientAddr, 64))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_audit_event_created_at")
                    .table(AuditEvent::Table)
                    .col(AuditEvent::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LoginFailure::Table)
                    .if_not_exists()
                    .col(big_pk_auto(LoginFailure::Id))
                    .col(string_len(LoginFailure::UsernameKey, 64))
                    .col(string_len(LoginFailure::ClientAddr, 64))
                    .col(timestamp_with_time_zone(LoginFailure::At))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_login_failure_user_at")
                    .table(LoginFailure::Table)
                    .col(LoginFailure::UsernameKey)
                    .col(LoginFailure::At)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_login_failure_addr_at")
                    .table(LoginFailure::Table)
                    .col(LoginFailure::ClientAddr)
                    .col(LoginFailure::At)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            LoginFailure::Table.into_iden(),
            AuditEvent::Table.into_iden(),
            Session::Table.into_iden(),
            User::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum User {
    Table,
    Id,
    Username,
    UsernameKey,
    DisplayName,
    Email,
    PasswordHash,
    Role,
    Status,
    Language,
    CreatedAt,
    LastLoginAt,
}

#[derive(DeriveIden)]
enum Session {
    Table,
    Id,
    Data,
    UserId,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum AuditEvent {
    Table,
    Id,
    CreatedAt,
    ActorId,
    ActorName,
    Action,
    Target,
    Detail,
    ClientAddr,
}

#[derive(DeriveIden)]
enum LoginFailure {
    Table,
    Id,
    UsernameKey,
    ClientAddr,
    At,
}
