//! Accounts as axum-login sees them: the signed-in account, the authentication backend over
//! the database, password hashing and the tower-sessions store over sea-orm.

pub mod backend;
pub mod passwords;
pub mod session_store;

use serde::{Deserialize, Serialize};

use crate::entities::user;

pub use backend::{Backend, Credentials, Permission};

/// Roles, in increasing power: each role may do what the ones below it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Labeler,
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

/// Account states. Only active accounts can sign in or keep a session.
pub mod status {
    pub const ACTIVE: &str = "active";
    pub const DISABLED: &str = "disabled";
    /// Registered while registration needs an administrator's approval.
    pub const PENDING: &str = "pending";
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
            role: Role::parse(&u.role).unwrap_or(Role::User),
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
