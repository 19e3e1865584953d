//! User management for administrators, and the permission rule every service applies.

use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseConnection, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde::{Deserialize, Serialize};

use super::audit::{self, Actor};
use crate::auth::{passwords, Account, AccountStatus, Role};
use crate::entities::{identification, session, user};
use crate::storage::PhotoStore;
use crate::ServiceError;

/// The permission check: signed in, and with at least `role`.
pub fn require(actor: Option<&Account>, role: Role) -> Result<&Account, ServiceError> {
    let Some(actor) = actor else {
        return Err(ServiceError::Unauthorized("sign in first".into()));
    };
    if !actor.can(role) {
        return Err(ServiceError::Forbidden(format!("this needs the {} role", role.as_str())));
    }
    Ok(actor)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserSummary {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub role: Role,
    pub status: AccountStatus,
    pub created_at: String,
    pub last_login_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserPage {
    pub users: Vec<UserSummary>,
    pub total: u64,
    pub page: u64,
    pub per_page: u64,
}

fn summary(u: user::Model) -> UserSummary {
    let when = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M UTC").to_string();
    UserSummary {
        id: u.id,
        username: u.username,
        display_name: u.display_name,
        email: u.email,
        role: u.role,
        status: u.status,
        created_at: when(u.created_at),
        last_login_at: u.last_login_at.map(when),
    }
}

/// Users whose name, display name or email contains `search` (case-insensitive), by name.
pub async fn list_users(
    db: &DatabaseConnection,
    actor: Option<&Account>,
    search: &str,
    page: u64,
    per_page: u64,
) -> Result<UserPage, ServiceError> {
    require(actor, Role::Admin)?;
    let per_page = per_page.clamp(1, 100);
    let mut query = user::Entity::find().order_by_asc(user::Column::UsernameKey);
    let needle = search.trim().to_lowercase();
    if !needle.is_empty() {
        let pattern = format!("%{}%", needle.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        let lower = |c: user::Column| Expr::expr(Func::lower(Expr::col(c)));
        query = query.filter(
            Condition::any()
                .add(user::Column::UsernameKey.like(pattern.clone()))
                .add(lower(user::Column::DisplayName).like(pattern.clone()))
                .add(lower(user::Column::Email).like(pattern)),
        );
    }
    let paginator = query.paginate(db, per_page);
    let total = paginator.num_items().await?;
    let users = paginator.fetch_page(page).await?.into_iter().map(summary).collect();
    Ok(UserPage { users, total, page, per_page })
}

async fn target(db: &DatabaseConnection, id: i64) -> Result<user::Model, ServiceError> {
    user::Entity::find_by_id(id).one(db).await?.ok_or_else(|| ServiceError::NotFound(format!("user {id}")))
}

/// Active administrators other than `except`.
pub(crate) async fn other_active_admins(db: &DatabaseConnection, except: i64) -> Result<u64, ServiceError> {
    Ok(user::Entity::find()
        .filter(user::Column::Role.eq(Role::Admin.as_str()))
        .filter(user::Column::Status.eq(AccountStatus::Active))
        .filter(user::Column::Id.ne(except))
        .count(db)
        .await?)
}

async fn guard_last_admin(db: &DatabaseConnection, target: &user::Model, what: &str) -> Result<(), ServiceError> {
    if target.role == Role::Admin
        && target.status == AccountStatus::Active
        && other_active_admins(db, target.id).await? == 0
    {
        return Err(ServiceError::Forbidden(format!(
            "{} is the last administrator and cannot be {what}",
            target.username
        )));
    }
    Ok(())
}

/// Ends every session of a user at once.
pub(crate) async fn end_sessions(db: &DatabaseConnection, user_id: i64) -> Result<(), ServiceError> {
    session::Entity::delete_many().filter(session::Column::UserId.eq(user_id)).exec(db).await?;
    Ok(())
}

/// Removes a user's identifications, feedback and label votes, and the photos nothing else uses
/// (a photo that became part of a dataset stays with it).
pub(crate) async fn erase_user_data(
    db: &DatabaseConnection,
    photos: &PhotoStore,
    user_id: i64,
) -> Result<(), ServiceError> {
    let shas: Vec<String> = identification::Entity::find()
        .select_only()
        .column(identification::Column::ImageSha256)
        .filter(identification::Column::UserId.eq(user_id))
        .distinct()
        .into_tuple()
        .all(db)
        .await?;
    let ids: Vec<i64> = identification::Entity::find()
        .select_only()
        .column(identification::Column::Id)
        .filter(identification::Column::UserId.eq(user_id))
        .into_tuple()
        .all(db)
        .await?;
    use crate::entities::{feedback, label_vote};
    feedback::Entity::delete_many()
        .filter(feedback::Column::UserId.eq(user_id).or(feedback::Column::IdentificationId.is_in(ids)))
        .exec(db)
        .await?;
    label_vote::Entity::delete_many().filter(label_vote::Column::LabelerId.eq(user_id)).exec(db).await?;
    identification::Entity::delete_many().filter(identification::Column::UserId.eq(user_id)).exec(db).await?;
    super::pressure::cache::sightings_changed();
    end_sessions(db, user_id).await?;
    for sha in shas {
        super::integrity::remove_if_unused(db, photos, &sha).await?;
    }
    Ok(())
}

pub async fn set_role(
    db: &DatabaseConnection,
    actor: Option<&Account>,
    id: i64,
    role: Role,
    client_addr: Option<&str>,
) -> Result<(), ServiceError> {
    let actor = require(actor, Role::Admin)?;
    let user = target(db, id).await?;
    if role != Role::Admin {
        guard_last_admin(db, &user, "demoted").await?;
    }
    let (name, before) = (user.username.clone(), user.role);
    let mut row = user.into_active_model();
    row.role = Set(role);
    row.update(db).await?;
    audit::record(
        db,
        Actor::Account(actor),
        "user.role_changed",
        &name,
        &format!("{} → {}", before.as_str(), role.as_str()),
        client_addr,
    )
    .await
}

/// Enables (or approves) and disables accounts; a disabled user's sessions end at once.
pub async fn set_active(
    db: &DatabaseConnection,
    actor: Option<&Account>,
    id: i64,
    active: bool,
    client_addr: Option<&str>,
) -> Result<(), ServiceError> {
    let actor = require(actor, Role::Admin)?;
    let user = target(db, id).await?;
    if !active {
        guard_last_admin(db, &user, "disabled").await?;
    }
    let name = user.username.clone();
    let mut row = user.into_active_model();
    row.status = Set(if active { AccountStatus::Active } else { AccountStatus::Disabled });
    row.update(db).await?;
    if !active {
        end_sessions(db, id).await?;
    }
    let action = if active { "user.enabled" } else { "user.disabled" };
    audit::record(db, Actor::Account(actor), action, &name, "", client_addr).await
}

pub async fn reset_password(
    db: &DatabaseConnection,
    actor: Option<&Account>,
    id: i64,
    new_password: &str,
    client_addr: Option<&str>,
) -> Result<(), ServiceError> {
    let actor = require(actor, Role::Admin)?;
    let user = target(db, id).await?;
    passwords::check_strength(new_password, &user.username).map_err(ServiceError::InvalidInput)?;
    let name = user.username.clone();
    let mut row = user.into_active_model();
    row.password_hash = Set(passwords::hash(new_password.to_string()).await?);
    row.update(db).await?;
    end_sessions(db, id).await?;
    super::api_tokens::revoke_all(db, id).await?;
    let detail = "sessions ended, API tokens revoked";
    audit::record(db, Actor::Account(actor), "user.password_reset", &name, detail, client_addr).await
}

/// Deletes an account and its data; `confirmed` is the administrator's explicit yes (asked
/// after who is asking, so a stranger learns nothing from the form's checks).
pub async fn delete_user(
    db: &DatabaseConnection,
    photos: &PhotoStore,
    actor: Option<&Account>,
    id: i64,
    confirmed: bool,
    client_addr: Option<&str>,
) -> Result<(), ServiceError> {
    let actor = require(actor, Role::Admin)?;
    if !confirmed {
        return Err(ServiceError::InvalidInput("tick the box to confirm the deletion".into()));
    }
    let user = target(db, id).await?;
    guard_last_admin(db, &user, "deleted").await?;
    erase_user_data(db, photos, id).await?;
    user::Entity::delete_by_id(id).exec(db).await?;
    // An administrator deleting their own account is gone by now: the audit names them.
    let who = if id == actor.id { Actor::Named(&actor.username) } else { Actor::Account(actor) };
    audit::record(db, who, "user.deleted", &user.username, "identifications and unshared photos removed", client_addr)
        .await
}

/// A person's name for lists (labeler counts, reviews); "deleted account" once they are gone.
pub async fn display_name(db: &DatabaseConnection, id: i64) -> Result<String, ServiceError> {
    Ok(user::Entity::find_by_id(id).one(db).await?.map(|u| u.username).unwrap_or_else(|| "deleted account".into()))
}
