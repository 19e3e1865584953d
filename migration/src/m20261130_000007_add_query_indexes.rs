//! Indexes for the queries every page view makes. Without them history, the labelling queue,
//! a photo's feedback and votes, and the "is this photo still used" check scanned whole tables,
//! so each request grew slower as identifications accumulated (the ten-minute load run slowed
//! ~1.7× as 6,000 were made).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (name, table, columns)
const INDEXES: &[(&str, &str, &[&str])] = &[
    // A person's history, newest first, and its count.
    ("idx_identification_user_created", "identification", &["user_id", "created_at", "id"]),
    // A photo's identifications: labelling queue, decided labels, photo still referenced.
    ("idx_identification_image", "identification", &["image_sha256"]),
    // A model version's identifications (models page, version history).
    ("idx_identification_model", "identification", &["model_name", "model_version", "created_at"]),
    ("idx_feedback_image", "feedback", &["image_sha256"]),
    // A labeler's own votes (excluded from their queue; their counts).
    ("idx_label_vote_labeler", "label_vote", &["labeler_id"]),
    ("idx_dataset_item_image", "dataset_item", &["image_sha256"]),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, columns) in INDEXES {
            let mut index = Index::create();
            index.name(*name).table(Alias::new(*table)).if_not_exists();
            for column in *columns {
                index.col(Alias::new(*column));
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, _) in INDEXES {
            manager.drop_index(Index::drop().name(*name).table(Alias::new(*table)).to_owned()).await?;
        }
        Ok(())
    }
}
