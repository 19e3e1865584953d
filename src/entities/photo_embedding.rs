use sea_orm::entity::prelude::*;

/// The image embedding of one identified photo, as the image–text model that identified it
/// computed it (see `services::photo_search`). On PostgreSQL with pgvector the table also has
/// an `embedding_vector` column this entity does not map; the service writes and reads it.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "photo_embedding")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub identification_id: i64,
    pub user_id: Option<i64>,
    pub model_name: String,
    pub model_version: String,
    /// Digest of the image encoder and its preprocessing: embeddings compare within a space.
    pub space: String,
    pub dim: i32,
    /// Little-endian f32s.
    pub vector: Vec<u8>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::identification::Entity",
        from = "Column::IdentificationId",
        to = "super::identification::Column::Id",
        on_delete = "Cascade"
    )]
    Identification,
}

impl Related<super::identification::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Identification.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
