//! Accounts seen by their owners: signing up, signing in (throttled), the profile, the
//! password, and deleting one's own account.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, Set,
    SqlErr,
};

use super::audit::{self, Actor};
use super::users::{end_sessions, erase_user_data, other_active_admins};
use crate::auth::{passwords, Account, AccountStatus, Role};
use crate::entities::{login_failure, user};
use crate::storage::PhotoStore;
use crate::ServiceError;

mod throttle;

use throttle::reserve_try;
pub use throttle::{delay_after, forget_old_failures};

/// Failed sign-ins are counted within this window.
pub const THROTTLE_WINDOW_MINUTES: i64 = 15;
/// Failures of one account from one address before each further try has to wait.
pub const FREE_FAILURES: u64 = 3;
/// The longest wait between tries of one account from one address.
pub const MAX_DELAY_SECONDS: i64 = 15 * 60;
/// Failures from one address, whatever the accounts, before it must wait out the window.
pub const MAX_FAILURES_PER_ADDRESS: u64 = 30;
pub const LANGUAGES: [&str; 2] = ["en", "zh"];

pub struct SignUp {
    pub username: String,
    pub display_name: String,
    pub email: String,
    pub password: String,
}

pub fn username_key(username: &str) -> String {
    username.trim().to_lowercase()
}

pub fn validate_username(username: &str) -> Result<(), ServiceError> {
    let ok_chars = username.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    let starts_ok = username.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    if !(3..=32).contains(&username.len()) || !ok_chars || !starts_ok {
        return Err(ServiceError::InvalidInput(
            "the username needs 3 to 32 characters: letters, digits, '_', '-' or '.', starting with a letter or digit"
                .into(),
        ));
    }
    Ok(())
}

fn clean_display_name(name: &str, fallback: &str) -> Result<String, ServiceError> {
    let name = name.trim();
    if name.chars().any(char::is_control) || name.chars().count() > 80 {
        return Err(ServiceError::InvalidInput("the display name may have at most 80 printable characters".into()));
    }
    Ok(if name.is_empty() { fallback.to_string() } else { name.to_string() })
}

fn clean_email(email: &str) -> Result<Option<String>, ServiceError> {
    let email = email.trim();
    if email.is_empty() {
        return Ok(None);
    }
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        });
    if !valid {
        return Err(ServiceError::InvalidInput(format!("{email:?} is not an email address")));
    }
    Ok(Some(email.to_string()))
}

fn language(lang: &str) -> Result<String, ServiceError> {
    if LANGUAGES.contains(&lang) {
        Ok(lang.to_string())
    } else {
        Err(ServiceError::InvalidInput(format!("unknown language {lang:?} (en or zh)")))
    }
}

async fn insert_user(
    db: &DatabaseConnection,
    username: &str,
    display_name: String,
    email: Option<String>,
    password_hash: String,
    role: Role,
    state: AccountStatus,
) -> Result<user::Model, ServiceError> {
    let row = user::ActiveModel {
        username: Set(username.to_string()),
        username_key: Set(username_key(username)),
        display_name: Set(display_name),
        email: Set(email),
        password_hash: Set(password_hash),
        role: Set(role),
        status: Set(state),
        language: Set("en".into()),
        created_at: Set(Utc::now()),
        last_login_at: Set(None),
        ..Default::default()
    };
    row.insert(db).await.map_err(|e| match e.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => {
            ServiceError::Conflict(format!("the username {username} is taken"))
        }
        _ => ServiceError::Database(e),
    })
}

/// Registers an account: active at once with open registration, else waiting for approval.
pub async fn sign_up(
    db: &DatabaseConnection,
    form: SignUp,
    open_registration: bool,
    client_addr: Option<&str>,
) -> Result<user::Model, ServiceError> {
    let username = form.username.trim();
    validate_username(username)?;
    let display_name = clean_display_name(&form.display_name, username)?;
    let email = clean_email(&form.email)?;
    passwords::check_strength(&form.password, username).map_err(ServiceError::InvalidInput)?;
    let state = if open_registration { AccountStatus::Active } else { AccountStatus::Pending };
    let hash = passwords::hash(form.password).await?;
    let created = insert_user(db, username, display_name, email, hash, Role::User, state).await?;
    audit::record(
        db,
        Actor::Named(&created.username),
        "account.sign_up",
        &created.username,
        state.as_str(),
        client_addr,
    )
    .await?;
    Ok(created)
}

/// The first administrator, from the environment at start-up: created when the portal has
/// no administrator yet, otherwise nothing happens (the password given is not applied).
/// True when it was created.
pub async fn ensure_first_admin(
    db: &DatabaseConnection,
    username: &str,
    password: String,
) -> Result<bool, ServiceError> {
    let admins = user::Entity::find().filter(user::Column::Role.eq(Role::Admin)).count(db).await?;
    if admins > 0 {
        return Ok(false);
    }
    create_admin(db, username, password).await?;
    Ok(true)
}

/// The first administrator (or another), from the command line or the environment.
pub async fn create_admin(
    db: &DatabaseConnection,
    username: &str,
    password: String,
) -> Result<user::Model, ServiceError> {
    validate_username(username)?;
    passwords::check_strength(&password, username).map_err(ServiceError::InvalidInput)?;
    let hash = passwords::hash(password).await?;
    let created =
        insert_user(db, username, username.to_string(), None, hash, Role::Admin, AccountStatus::Active).await?;
    audit::record(db, Actor::Named("command line"), "user.admin_created", username, "", None).await?;
    Ok(created)
}

/// Checks a sign-in. Tries of one account from one address wait longer after each failure;
/// an address with many failures waits out the window. Every failure is kept for throttling
/// and the audit log.
pub async fn check_credentials(
    db: &DatabaseConnection,
    username: &str,
    password: &str,
    client_addr: &str,
) -> Result<Account, ServiceError> {
    let key = username_key(username);
    let reserved = reserve_try(db, &key, client_addr).await?;
    let found = user::Entity::find().filter(user::Column::UsernameKey.eq(key.clone())).one(db).await?;
    let checked = match &found {
        Some(u) => passwords::verify(password.to_string(), u.password_hash.clone()).await,
        // An unknown name costs the same hashing time as a wrong password.
        None => passwords::hash(password.to_string()).await.map(|_| false),
    };
    let matches = match checked {
        Ok(m) => m,
        Err(e) => {
            // Not checked (busy): not a failure either.
            login_failure::Entity::delete_by_id(reserved.id).exec(db).await?;
            return Err(e);
        }
    };
    let Some(found) = found.filter(|_| matches) else {
        audit::record(
            db,
            Actor::Named(username),
            "auth.sign_in_failed",
            username,
            "wrong username or password",
            Some(client_addr),
        )
        .await?;
        return Err(ServiceError::Unauthorized("wrong username or password".into()));
    };
    // The right password from this address: its earlier failures for this account are forgiven.
    login_failure::Entity::delete_many()
        .filter(login_failure::Column::UsernameKey.eq(reserved.username_key.clone()))
        .filter(login_failure::Column::ClientAddr.eq(reserved.client_addr.clone()))
        .exec(db)
        .await?;
    match found.status {
        AccountStatus::Active => {}
        AccountStatus::Pending => {
            return Err(ServiceError::Forbidden("this account is waiting for an administrator's approval".into()))
        }
        _ => {
            audit::record(
                db,
                Actor::Named(username),
                "auth.sign_in_refused",
                username,
                "account disabled",
                Some(client_addr),
            )
            .await?;
            return Err(ServiceError::Forbidden("this account is disabled".into()));
        }
    }
    let mut row = found.into_active_model();
    row.last_login_at = Set(Some(Utc::now()));
    let found = row.update(db).await?;
    let account = Account::from(found);
    audit::record(db, Actor::Account(&account), "auth.sign_in", &account.username, "", Some(client_addr)).await?;
    Ok(account)
}

pub async fn update_profile(
    db: &DatabaseConnection,
    actor: &Account,
    display_name: &str,
    email: &str,
    lang: &str,
) -> Result<Account, ServiceError> {
    let row = user::Entity::find_by_id(actor.id)
        .one(db)
        .await?
        .ok_or_else(|| ServiceError::NotFound("your account".into()))?;
    let mut row = row.into_active_model();
    row.display_name = Set(clean_display_name(display_name, &actor.username)?);
    row.email = Set(clean_email(email)?);
    row.language = Set(language(lang)?);
    Ok(Account::from(row.update(db).await?))
}

/// Remembers the account's interface language (en or zh).
pub async fn set_language(db: &DatabaseConnection, actor: &Account, lang: &str) -> Result<Account, ServiceError> {
    let row = user::Entity::find_by_id(actor.id)
        .one(db)
        .await?
        .ok_or_else(|| ServiceError::NotFound("your account".into()))?;
    let mut row = row.into_active_model();
    row.language = Set(language(lang)?);
    Ok(Account::from(row.update(db).await?))
}

/// Changes the password after checking the current one and ends every session of the account;
/// the caller signs the current browser in again with the returned account.
pub async fn change_password(
    db: &DatabaseConnection,
    actor: &Account,
    current: &str,
    new: &str,
    client_addr: Option<&str>,
) -> Result<Account, ServiceError> {
    let row = user::Entity::find_by_id(actor.id)
        .one(db)
        .await?
        .ok_or_else(|| ServiceError::NotFound("your account".into()))?;
    if !passwords::verify(current.to_string(), row.password_hash.clone()).await? {
        return Err(ServiceError::InvalidInput("the current password is wrong".into()));
    }
    passwords::check_strength(new, &row.username).map_err(ServiceError::InvalidInput)?;
    let mut active = row.into_active_model();
    active.password_hash = Set(passwords::hash(new.to_string()).await?);
    let updated = active.update(db).await?;
    end_sessions(db, actor.id).await?;
    // A session taken over could have made tokens: the owner's usual recovery ends them too.
    super::api_tokens::revoke_all(db, actor.id).await?;
    audit::record(
        db,
        Actor::Account(actor),
        "account.password_changed",
        &actor.username,
        "other sessions ended, API tokens revoked",
        client_addr,
    )
    .await?;
    Ok(Account::from(updated))
}

/// Deletes one's own account after the password is confirmed. Its identifications go with it,
/// and so do their photos unless another identification still uses them.
pub async fn delete_own_account(
    db: &DatabaseConnection,
    photos: &PhotoStore,
    actor: &Account,
    password: &str,
    client_addr: Option<&str>,
) -> Result<(), ServiceError> {
    let row = user::Entity::find_by_id(actor.id)
        .one(db)
        .await?
        .ok_or_else(|| ServiceError::NotFound("your account".into()))?;
    if !passwords::verify(password.to_string(), row.password_hash.clone()).await? {
        return Err(ServiceError::InvalidInput("the password is wrong".into()));
    }
    if actor.role == Role::Admin && other_active_admins(db, actor.id).await? == 0 {
        return Err(ServiceError::Forbidden(
            "you are the last administrator: make someone else an administrator first".into(),
        ));
    }
    erase_user_data(db, photos, actor.id).await?;
    user::Entity::delete_by_id(actor.id).exec(db).await?;
    // By name: the account (and so its id) is gone, and the audit trail only names it.
    let actor_name = Actor::Named(&actor.username);
    audit::record(db, actor_name, "account.deleted", &actor.username, "by its owner", client_addr).await?;
    Ok(())
}
