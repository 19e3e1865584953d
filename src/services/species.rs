//! The species catalogue as people use it: search, one entry, and where the caller has met it.

use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::history::{view, IdentificationView};
use crate::auth::Account;
use crate::catalogue::{self, Species};
use crate::entities::identification;
use crate::ServiceError;

pub fn get(key: &str) -> Result<&'static Species, ServiceError> {
    catalogue::get(key).ok_or_else(|| ServiceError::NotFound(format!("species {key}")))
}

/// The caller's own identifications whose top class is this species, newest first. Nobody
/// else's: a sighting says where someone's photo was taken, which is theirs to share.
pub async fn sightings(
    db: &DatabaseConnection,
    actor: Option<&Account>,
    species: &Species,
    limit: u64,
) -> Result<Vec<IdentificationView>, ServiceError> {
    let Some(actor) = actor else { return Ok(Vec::new()) };
    let rows = identification::Entity::find()
        .filter(identification::Column::UserId.eq(actor.id))
        .filter(Expr::expr(Func::lower(Expr::col(identification::Column::TopLabel))).eq(species.name_en.to_lowercase()))
        .order_by_desc(identification::Column::CreatedAt)
        .order_by_desc(identification::Column::Id)
        .limit(limit.clamp(1, 100))
        .all(db)
        .await?;
    rows.into_iter().map(|r| view(r, Some(actor))).collect()
}
