//! The audit log of security-relevant events, written by the services that cause them.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryOrder, Set};
use serde::{Deserialize, Serialize};

use super::users::require;
use crate::auth::{Account, Role};
use crate::entities::audit_event;
use crate::ServiceError;

/// Who did it: an account, or a name for the rest (an unknown username, the command line).
pub enum Actor<'a> {
    Account(&'a Account),
    Named(&'a str),
}

pub async fn record(
    db: &DatabaseConnection,
    actor: Actor<'_>,
    action: &str,
    target: &str,
    detail: &str,
    client_addr: Option<&str>,
) -> Result<(), ServiceError> {
    let (actor_id, actor_name) = match actor {
        Actor::Account(a) => (Some(a.id), a.username.clone()),
        Actor::Named(n) => (None, n.chars().take(64).collect()),
    };
    audit_event::ActiveModel {
        created_at: Set(Utc::now()),
        actor_id: Set(actor_id),
        actor_name: Set(actor_name),
        action: Set(action.to_string()),
        target: Set(target.chars().take(128).collect()),
        detail: Set(detail.to_string()),
        client_addr: Set(client_addr.map(|a| a.chars().take(64).collect())),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditPage {
    pub events: Vec<AuditEntry>,
    pub total: u64,
    pub page: u64,
    pub per_page: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
    pub client_addr: Option<String>,
}

/// Newest first; administrators only.
pub async fn list(
    db: &DatabaseConnection,
    actor: Option<&Account>,
    page: u64,
    per_page: u64,
) -> Result<AuditPage, ServiceError> {
    require(actor, Role::Admin)?;
    let per_page = per_page.clamp(1, 200);
    let paginator = audit_event::Entity::find()
        .order_by_desc(audit_event::Column::CreatedAt)
        .order_by_desc(audit_event::Column::Id)
        .paginate(db, per_page);
    let total = paginator.num_items().await?;
    let events = paginator
        .fetch_page(page)
        .await?
        .into_iter()
        .map(|e| AuditEntry {
            at: e.created_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            actor: e.actor_name,
            action: e.action,
            target: e.target,
            detail: e.detail,
            client_addr: e.client_addr,
        })
        .collect();
    Ok(AuditPage { events, total, page, per_page })
}
