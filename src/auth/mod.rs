//! Accounts as axum-login sees them: the signed-in account, the authentication backend over
//! the database, password hashing and the tower-sessions store over sea-orm.

pub mod backend;
pub mod passwords;
pub mod session_store;

use sea_orm::entity::prelude::{DeriveActiveEnum, EnumIter, StringLen};
use serde::{Deserialize, Serialize};

use crate::entities::user;

pub use backend::{Backend, Credentials, Permission};

/// Roles, in increasing power: each role may do what the ones below it may. Stored as text.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, EnumIter, DeriveActiveEnum,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "lowercase")]
pub enum Role {
    #[sea_orm(string_value = "user")]
    User,
    #[sea_orm(string_value = "labeler")]
    Labeler,
    #[sea_orm(string_value = "admin")]
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Labeler => "labeler",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "user" => Some(Role::User),
            "labeler" => Some(Role::Labeler),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// Account states, stored as text. Only active accounts can sign in or keep a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "lowercase")]
pub enum AccountStatus {
    #[sea_orm(string_value = "active")]
    Active,
    #[sea_orm(string_value = "disabled")]
    Disabled,
    /// Registered while registration needs an administrator's approval.
    #[sea_orm(string_value = "pending")]
    Pending,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Active => "active",
            AccountStatus::Disabled => "disabled",
            AccountStatus::Pending => "pending",
        }
    }
}

/// The signed-in account carried by a session.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct Account {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub role: Role,
    pub language: String,
    password_hash: String,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("role", &self.role)
            .finish()
    }
}

impl From<user::Model> for Account {
    fn from(u: user::Model) -> Self {
        Account {
            id: u.id,
            username: u.username,
            display_name: u.display_name,
            email: u.email,
            role: u.role,
            language: u.language,
            password_hash: u.password_hash,
        }
    }
}

impl Account {
    pub fn can(&self, needed: Role) -> bool {
        self.role >= needed
    }
}

impl axum_login::AuthUser for Account {
    type Id = i64;

    fn id(&self) -> i64 {
        self.id
    }

    /// A new password hash invalidates every session made with the old one.
    fn session_auth_hash(&self) -> &[u8] {
        self.password_hash.as_bytes()
    }
}

impl std::fmt::Display for AccountStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
