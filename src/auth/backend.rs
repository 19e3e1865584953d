//! The axum-login backend: credentials are checked by the accounts service (throttling,
//! disabled accounts); sessions load only active accounts, so disabling ends them at once.

use std::collections::HashSet;

use axum_login::{AuthnBackend, AuthzBackend, UserId};
use sea_orm::{DatabaseConnection, EntityTrait};

use super::{Account, AccountStatus, Role};
use crate::entities::user;
use crate::services::accounts;
use crate::ServiceError;

#[derive(Clone, Debug)]
pub struct Backend {
    db: DatabaseConnection,
}

impl Backend {
    pub fn new(db: DatabaseConnection) -> Self {
        Backend { db }
    }
}

#[derive(Clone)]
pub struct Credentials {
    pub username: String,
    pub password: String,
    /// The client's address, for per-address throttling and the audit log.
    pub client_addr: String,
}

impl AuthnBackend for Backend {
    type User = Account;
    type Credentials = Credentials;
    type Error = ServiceError;

    async fn authenticate(&self, creds: Credentials) -> Result<Option<Account>, ServiceError> {
        accounts::check_credentials(&self.db, &creds.username, &creds.password, &creds.client_addr).await.map(Some)
    }

    async fn get_user(&self, id: &UserId<Self>) -> Result<Option<Account>, ServiceError> {
        let found = user::Entity::find_by_id(*id).one(&self.db).await?;
        Ok(found.filter(|u| u.status == AccountStatus::Active).map(Account::from))
    }
}

/// What a role may do, for routes guarded with axum-login's `permission_required!`. The
/// services apply the same rule themselves through `services::users::require`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    Identify,
    Label,
    Administer,
}

impl Permission {
    pub fn of(role: Role) -> HashSet<Permission> {
        let mut set = HashSet::from([Permission::Identify]);
        if role >= Role::Labeler {
            set.insert(Permission::Label);
        }
        if role >= Role::Admin {
            set.insert(Permission::Administer);
        }
        set
    }
}

impl AuthzBackend for Backend {
    type Permission = Permission;

    async fn get_user_permissions(&self, user: &Account) -> Result<HashSet<Permission>, ServiceError> {
        Ok(Permission::of(user.role))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_may_do_what_the_roles_below_it_may() {
        assert_eq!(Permission::of(Role::User), HashSet::from([Permission::Identify]));
        assert_eq!(Permission::of(Role::Labeler), HashSet::from([Permission::Identify, Permission::Label]));
        assert_eq!(Permission::of(Role::Admin).len(), 3);
    }
}
