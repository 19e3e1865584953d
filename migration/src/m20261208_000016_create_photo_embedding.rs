//! Image embeddings of identified photos, for search by text. On PostgreSQL with the pgvector
//! extension installed (or installable by this role) the vector is also kept as a `vector`
//! column, so the database ranks photos itself; otherwise the server scans the stored bytes.

use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PhotoEmbedding::Table)
                    .col(big_pk_auto(PhotoEmbedding::Id))
                    .col(big_integer_uniq(PhotoEmbedding::IdentificationId))
                    // The identification's owner, copied so a search filters without a join.
                    .col(big_integer_null(PhotoEmbedding::UserId))
                    // The model version that identified the photo, for people.
                    .col(string(PhotoEmbedding::ModelName))
                    .col(string(PhotoEmbedding::ModelVersion))
                    // The embedding space (a digest of the image encoder and its preprocessing):
                    // versions that differ only in class descriptions share it.
                    .col(string(PhotoEmbedding::Space))
                    .col(integer(PhotoEmbedding::Dim))
                    // Little-endian f32s, unit length.
                    .col(blob(PhotoEmbedding::Vector))
                    .col(timestamp_with_time_zone(PhotoEmbedding::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_photo_embedding_identification")
                            .from(PhotoEmbedding::Table, PhotoEmbedding::IdentificationId)
                            .to(Identification::Table, Identification::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // A search pages through one space's rows newest first: everyone's, or one owner's.
        for (name, owner) in [("idx_photo_embedding_space", false), ("idx_photo_embedding_space_owner", true)] {
            let mut index = Index::create();
            index.name(name).table(PhotoEmbedding::Table).col(PhotoEmbedding::Space);
            if owner {
                index.col(PhotoEmbedding::UserId);
            }
            manager.create_index(index.col(PhotoEmbedding::Id).to_owned()).await?;
        }
        if manager.get_database_backend() == DbBackend::Postgres && pgvector_usable(manager).await? {
            let db = manager.get_connection();
            db.execute_unprepared("CREATE EXTENSION IF NOT EXISTS vector").await?;
            // No fixed width: models of different widths share the column (ranked exactly
            // within one space's rows; no approximate index, which would need one width).
            db.execute_unprepared("ALTER TABLE photo_embedding ADD COLUMN embedding_vector vector").await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(PhotoEmbedding::Table).to_owned()).await
    }
}

/// pgvector is installed in this database with its type on the search path (where the
/// queries look for it), or not installed but on the server and this role may create it (it is
/// not a trusted extension: creating it takes a superuser; on managed PostgreSQL, create it
/// first). Installed elsewhere, it is left alone and the server scans.
async fn pgvector_usable(manager: &SchemaManager<'_>) -> Result<bool, DbErr> {
    let sql = "SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector') \
               THEN to_regtype('vector') IS NOT NULL \
               ELSE EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') \
                    AND (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) END AS usable";
    let row = manager.get_connection().query_one_raw(Statement::from_string(DbBackend::Postgres, sql)).await?;
    Ok(row.map(|r| r.try_get::<bool>("", "usable")).transpose()?.unwrap_or(false))
}

#[derive(DeriveIden)]
enum PhotoEmbedding {
    Table,
    Id,
    IdentificationId,
    UserId,
    ModelName,
    ModelVersion,
    Space,
    Dim,
    Vector,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Identification {
    Table,
    Id,
}
