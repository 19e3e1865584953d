//! User management and the audit log, for administrators (the services check the role).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub role: String,
    pub status: String,
    pub created_at: String,
    pub last_login_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsersPage {
    pub users: Vec<UserRow>,
    pub total: u64,
    pub page: u64,
    pub per_page: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRow {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
    pub client_addr: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditLog {
    pub events: Vec<AuditRow>,
    pub total: u64,
    pub page: u64,
    pub per_page: u64,
}

pub const USERS_PER_PAGE: u64 = 20;
pub const AUDIT_PER_PAGE: u64 = 25;

#[server(endpoint = "users")]
pub async fn get_users(search: String, page: u64) -> Result<UsersPage, AppError> {
    use crate::state::{answer, caller, Caller};
    let Caller { state, actor, .. } = caller().await?;
    let p =
        answer(insectid::services::users::list_users(&state.db, actor.as_ref(), &search, page, USERS_PER_PAGE).await)?;
    Ok(UsersPage {
        users: p
            .users
            .into_iter()
            .map(|u| UserRow {
                id: u.id,
                username: u.username,
                display_name: u.display_name,
                email: u.email,
                role: u.role.as_str().to_string(),
                status: u.status.as_str().to_string(),
                created_at: u.created_at,
                last_login_at: u.last_login_at,
            })
            .collect(),
        total: p.total,
        page: p.page,
        per_page: p.per_page,
    })
}

#[server(endpoint = "set_user_role")]
pub async fn set_user_role(id: i64, role: String) -> Result<(), AppError> {
    use crate::state::{answer, caller, Caller};
    let Caller { state, actor, addr } = caller().await?;
    let Some(role) = insectid::auth::Role::parse(&role) else {
        return Err(AppError::InvalidInput(format!("unknown role {role:?}")));
    };
    answer(insectid::services::users::set_role(&state.db, actor.as_ref(), id, role, Some(&addr)).await)
}

#[server(endpoint = "set_user_active")]
pub async fn set_user_active(id: i64, active: bool) -> Result<(), AppError> {
    use crate::state::{answer, caller, Caller};
    let Caller { state, actor, addr } = caller().await?;
    answer(insectid::services::users::set_active(&state.db, actor.as_ref(), id, active, Some(&addr)).await)
}

#[server(endpoint = "reset_user_password")]
pub async fn reset_user_password(id: i64, password: String) -> Result<(), AppError> {
    use crate::state::{answer, caller, Caller};
    let Caller { state, actor, addr } = caller().await?;
    answer(insectid::services::users::reset_password(&state.db, actor.as_ref(), id, &password, Some(&addr)).await)
}

#[server(endpoint = "delete_user")]
pub async fn delete_user(id: i64, confirm: Option<String>) -> Result<(), AppError> {
    use crate::state::{answer, caller, Caller};
    let Caller { state, actor, addr } = caller().await?;
    let confirmed = confirm.as_deref() == Some("yes");
    let deleted =
        insectid::services::users::delete_user(&state.db, &state.photos, actor.as_ref(), id, confirmed, Some(&addr));
    answer(deleted.await)
}

#[server(endpoint = "audit_log")]
pub async fn get_audit_log(page: u64) -> Result<AuditLog, AppError> {
    use crate::state::{answer, caller, Caller};
    let Caller { state, actor, .. } = caller().await?;
    let p = answer(insectid::services::audit::list(&state.db, actor.as_ref(), page, AUDIT_PER_PAGE).await)?;
    Ok(AuditLog {
        events: p
            .events
            .into_iter()
            .map(|e| AuditRow {
                at: e.at,
                actor: e.actor,
                action: e.action,
                target: e.target,
                detail: e.detail,
                client_addr: e.client_addr,
            })
            .collect(),
        total: p.total,
        page: p.page,
        per_page: p.per_page,
    })
}
