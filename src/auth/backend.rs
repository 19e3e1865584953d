//! The axum-login backend: credentials are checked by the accounts service (throttling,
//! disabled accounts); sessions load only active accounts, so disabling ends them at once.

use axum_login::{AuthnBackend, UserId};
use sea_orm::{DatabaseConnection, EntityTrait};

use super::{status, Account};
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
        Ok(found.filter(|u| u.status == status::ACTIVE).map(Account::from))
    }
}
