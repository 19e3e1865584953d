//! People's identifications: one result, their history, deleting. An identification belongs
//! to its user (administrators see all); an anonymous one is reachable by whoever holds its
//! photo's sha256, which only the uploader was given.

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};

use super::identify::Identified;
use super::observation::Area;
use super::users::require;
use crate::auth::{Account, Role};
use crate::entities::identification::{self, ContextSource};
use crate::storage::metadata::PhotoContext;
use crate::storage::PhotoStore;
use crate::ServiceError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IdentificationView {
    pub id: i64,
    pub created_at: String,
    pub owned: bool,
    pub identified: Identified,
    /// When and where the photo was taken, for its owner only.
    pub context: Option<PhotoContext>,
    /// Where that came from (its owner only).
    pub context_source: Option<ContextSource>,
    /// Its owner shares it with the portal.
    pub shared: bool,
}

fn may_see(row: &identification::Model, actor: Option<&Account>, key: Option<&str>) -> bool {
    match (row.user_id, actor) {
        (_, Some(a)) if a.role == Role::Admin => true,
        (Some(owner), Some(a)) => owner == a.id,
        (None, _) => key == Some(row.image_sha256.as_str()),
        (Some(_), None) => false,
    }
}

pub(crate) fn view(row: identification::Model, actor: Option<&Account>) -> Result<IdentificationView, ServiceError> {
    let identified: Identified = serde_json::from_str(&row.answer)
        .map_err(|e| ServiceError::Storage(format!("identification {} is unreadable: {e}", row.id)))?;
    let owned = actor.is_some_and(|a| row.user_id == Some(a.id));
    let context = PhotoContext { taken_at: row.taken_at, latitude: row.latitude, longitude: row.longitude };
    let known = context != PhotoContext::default();
    Ok(IdentificationView {
        id: row.id,
        created_at: row.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        owned,
        identified: Identified { id: Some(row.id), ..identified },
        context: (owned && known).then_some(context),
        context_source: row.context_source.filter(|_| owned),
        shared: row.shared,
    })
}

/// One identification, if the actor may see it (else "not found", revealing nothing).
pub async fn get(
    db: &DatabaseConnection,
    actor: Option<&Account>,
    id: i64,
    key: Option<&str>,
) -> Result<IdentificationView, ServiceError> {
    let row = identification::Entity::find_by_id(id).one(db).await?;
    match row {
        Some(row) if may_see(&row, actor, key) => view(row, actor),
        _ => Err(ServiceError::NotFound(format!("identification {id}"))),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HistoryPage {
    pub items: Vec<IdentificationView>,
    pub total: u64,
    pub page: u64,
    pub per_page: u64,
}

/// Which of one's identifications to list.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HistoryFilter {
    /// Part of the top class's name.
    pub label: String,
    /// Taken on or after this day, on or before that one (photos without a date never match).
    pub taken_from: Option<chrono::NaiveDate>,
    pub taken_to: Option<chrono::NaiveDate>,
    /// Taken in this square (photos without a place never match).
    pub near: Option<Area>,
}

/// The signed-in user's identifications that match the filter, newest first.
pub async fn list(
    db: &DatabaseConnection,
    actor: Option<&Account>,
    filter: &HistoryFilter,
    page: u64,
    per_page: u64,
) -> Result<HistoryPage, ServiceError> {
    use identification::Column;
    let actor = require(actor, Role::User)?;
    let per_page = per_page.clamp(1, 200);
    let mut query = identification::Entity::find()
        .filter(Column::UserId.eq(actor.id))
        .order_by_desc(Column::CreatedAt)
        .order_by_desc(Column::Id);
    let label = filter.label.trim();
    if !label.is_empty() {
        query = query.filter(Column::TopLabel.contains(label));
    }
    // Kept as "YYYY-MM-DD HH:MM:SS", which sorts as text.
    if let Some(from) = filter.taken_from {
        query = query.filter(Column::TakenAt.gte(format!("{from} 00:00:00")));
    }
    if let Some(to) = filter.taken_to {
        query = query.filter(Column::TakenAt.lte(format!("{to} 23:59:59")));
    }
    if let Some(area) = filter.near {
        let ((south, north), longitudes) = area.bounds();
        let mut east_west = sea_orm::Condition::any();
        for (west, east) in longitudes {
            east_west = east_west.add(Column::Longitude.between(west, east));
        }
        query = query.filter(Column::Latitude.between(south, north)).filter(east_west);
    }
    let paginator = query.paginate(db, per_page);
    let total = paginator.num_items().await?;
    let items =
        paginator.fetch_page(page).await?.into_iter().map(|row| view(row, Some(actor))).collect::<Result<_, _>>()?;
    Ok(HistoryPage { items, total, page, per_page })
}

/// Every identification one model version made, newest first (administrators).
pub async fn of_model_version(
    db: &DatabaseConnection,
    actor: Option<&Account>,
    model_version_id: i64,
    page: u64,
    per_page: u64,
) -> Result<(crate::entities::model_version::Model, HistoryPage), ServiceError> {
    let actor = require(actor, Role::Admin)?;
    let version = crate::entities::model_version::Entity::find_by_id(model_version_id)
        .one(db)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("model {model_version_id}")))?;
    let per_page = per_page.clamp(1, 200);
    let paginator = identification::Entity::find()
        .filter(identification::Column::ModelName.eq(version.name.clone()))
        .filter(identification::Column::ModelVersion.eq(version.version.clone()))
        .order_by_desc(identification::Column::Id)
        .paginate(db, per_page);
    let total = paginator.num_items().await?;
    let items =
        paginator.fetch_page(page).await?.into_iter().map(|row| view(row, Some(actor))).collect::<Result<_, _>>()?;
    Ok((version, HistoryPage { items, total, page, per_page }))
}

/// Deletes an identification (its owner or an administrator), the feedback on it, and its photo
/// when nothing else (another identification, a label, a dataset) uses it.
pub async fn delete(
    db: &DatabaseConnection,
    photos: &PhotoStore,
    actor: Option<&Account>,
    id: i64,
) -> Result<(), ServiceError> {
    let actor = require(actor, Role::User)?;
    let row = identification::Entity::find_by_id(id).one(db).await?;
    let Some(row) = row.filter(|r| r.user_id == Some(actor.id) || actor.role == Role::Admin) else {
        return Err(ServiceError::NotFound(format!("identification {id}")));
    };
    use crate::entities::feedback;
    feedback::Entity::delete_many().filter(feedback::Column::IdentificationId.eq(id)).exec(db).await?;
    identification::Entity::delete_by_id(id).exec(db).await?;
    super::pressure::cache::sightings_changed();
    super::integrity::remove_if_unused(db, photos, &row.image_sha256).await?;
    Ok(())
}

/// Identifies an identification's photo again with the active model, as a new identification
/// of the same owner; the caller compares it with the old one.
pub async fn rerun(
    db: &DatabaseConnection,
    engine: &crate::inference::InferenceEngine,
    photos: &PhotoStore,
    actor: Option<&Account>,
    id: i64,
) -> Result<super::identify::Identified, ServiceError> {
    let actor = require(actor, Role::User)?;
    let row = identification::Entity::find_by_id(id).one(db).await?;
    let Some(row) = row.filter(|r| r.user_id == Some(actor.id) || actor.role == Role::Admin) else {
        return Err(ServiceError::NotFound(format!("identification {id}")));
    };
    let bytes = photos
        .read(&row.image_sha256)
        .await
        .map_err(|e| ServiceError::Storage(format!("the photo of identification {id} is missing: {e}")))?;
    let uploader = super::identify::Uploader { user_id: row.user_id, context: PhotoContext::default() };
    let identified = super::identify::identify_and_record(db, engine, photos, bytes.into(), &uploader, 5).await?;
    // The new answer keeps the old one's date and place as they stood (an owner's correction
    // or clearing included), not the photo's EXIF again; sharing is asked anew.
    if let Some(new_id) = identified.id {
        use sea_orm::sea_query::Expr;
        identification::Entity::update_many()
            .col_expr(identification::Column::TakenAt, Expr::value(row.taken_at.clone()))
            .col_expr(identification::Column::Latitude, Expr::value(row.latitude))
            .col_expr(identification::Column::Longitude, Expr::value(row.longitude))
            .col_expr(identification::Column::ContextSource, Expr::value(row.context_source))
            .filter(identification::Column::Id.eq(new_id))
            .exec(db)
            .await?;
    }
    Ok(identified)
}
