//! Personal API tokens: a person's named keys for the REST API (`Authorization: Bearer ...`).
//! A token is shown once when made; only its SHA-256 is kept, with its first characters to
//! recognise it by. Each carries scopes; `admin` only for administrators, and only while they
//! are. A disabled account's tokens stop at once: every use reads the account afresh.

use chrono::{Duration, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};

use super::audit::{self, Actor};
use super::users::require;
use crate::auth::{Account, AccountStatus, Role};
use crate::entities::{api_token, user};
use crate::storage::{random_secret, sha256_hex};
use crate::ServiceError;

/// What every token starts with, so that a leaked one is recognisable (and secret scanners
/// can look for it).
pub const TOKEN_START: &str = "iid_";
/// `iid_` and 64 hex digits (32 random bytes).
const TOKEN_LEN: usize = TOKEN_START.len() + 64;
/// Characters kept as the visible prefix (`iid_` and 8 hex digits).
const PREFIX_LEN: usize = TOKEN_START.len() + 8;
/// Tokens one person may hold that are neither revoked nor expired.
pub const MAX_TOKENS: u64 = 50;
pub const MAX_NAME_CHARS: usize = 80;
pub const MAX_EXPIRY_DAYS: u32 = 3650;
/// A token's last use is written at most this often (not on every request).
const LAST_USED_EVERY: Duration = Duration::seconds(60);

/// What a token may do on the REST API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Send photos to be identified.
    Identify,
    /// Read one's own identifications and feedback.
    Read,
    /// Change them: delete an identification, give feedback.
    Write,
    /// What an administrator does over the API (models, jobs): administrators only.
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 4] = [Scope::Identify, Scope::Read, Scope::Write, Scope::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Identify => "identify",
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|scope| scope.as_str() == s.trim())
    }
}

/// Requests a minute one token may send, per scope of the route (0: no limit). Read from
/// `identify=60,read=600,write=120,admin=60`; scopes not named keep their default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScopeRates {
    pub identify: u32,
    pub read: u32,
    pub write: u32,
    pub admin: u32,
}

impl Default for ScopeRates {
    fn default() -> Self {
        ScopeRates { identify: 60, read: 600, write: 120, admin: 60 }
    }
}

impl ScopeRates {
    pub fn of(&self, scope: Scope) -> u32 {
        match scope {
            Scope::Identify => self.identify,
            Scope::Read => self.read,
            Scope::Write => self.write,
            Scope::Admin => self.admin,
        }
    }
}

impl std::str::FromStr for ScopeRates {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut rates = ScopeRates::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = part.split_once('=').ok_or_else(|| format!("{part:?} is not scope=number"))?;
            let scope =
                Scope::parse(name).ok_or_else(|| format!("{name:?} is not a scope (identify, read, write, admin)"))?;
            let n: u32 = value.trim().parse().map_err(|_| format!("{value:?} is not a number of requests"))?;
            match scope {
                Scope::Identify => rates.identify = n,
                Scope::Read => rates.read = n,
                Scope::Write => rates.write = n,
                Scope::Admin => rates.admin = n,
            }
        }
        Ok(rates)
    }
}

/// The scopes stored as `identify,read`: sorted, without repeats.
fn scopes_text(scopes: &[Scope]) -> String {
    let mut sorted = scopes.to_vec();
    sorted.sort();
    sorted.dedup();
    sorted.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",")
}

fn scopes_of(text: &str) -> Vec<Scope> {
    text.split(',').filter_map(Scope::parse).collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenState {
    Active,
    Expired,
    Revoked,
}

/// A token as its owner sees it (never the secret).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenView {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub scopes: Vec<Scope>,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    pub state: TokenState,
}

impl From<api_token::Model> for TokenView {
    fn from(t: api_token::Model) -> Self {
        let state = if t.revoked_at.is_some() {
            TokenState::Revoked
        } else if t.expires_at.is_some_and(|at| at <= Utc::now()) {
            TokenState::Expired
        } else {
            TokenState::Active
        };
        let time = |at: chrono::DateTime<Utc>| at.format("%Y-%m-%d %H:%M UTC").to_string();
        TokenView {
            id: t.id,
            name: t.name,
            prefix: t.prefix,
            scopes: scopes_of(&t.scopes),
            created_at: time(t.created_at),
            expires_at: t.expires_at.map(time),
            last_used_at: t.last_used_at.map(time),
            state,
        }
    }
}

/// What a person asks for when making a token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewToken {
    pub name: String,
    pub scopes: Vec<Scope>,
    /// None: the token lasts until revoked.
    pub expires_in_days: Option<u32>,
}

/// A token just made: `secret` is shown to its owner this once and never again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreatedToken {
    pub secret: String,
    pub token: TokenView,
}

pub async fn create(
    db: &DatabaseConnection,
    actor: Option<&Account>,
    form: NewToken,
    client_addr: Option<&str>,
) -> Result<CreatedToken, ServiceError> {
    let actor = require(actor, Role::User)?;
    let name = form.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(ServiceError::InvalidInput(format!("give the token a name of 1 to {MAX_NAME_CHARS} characters")));
    }
    if form.scopes.is_empty() {
        return Err(ServiceError::InvalidInput("choose at least one scope".into()));
    }
    if form.scopes.contains(&Scope::Admin) && actor.role != Role::Admin {
        return Err(ServiceError::Forbidden("only administrators may make tokens with the admin scope".into()));
    }
    let expires_at = match form.expires_in_days {
        Some(days) if !(1..=MAX_EXPIRY_DAYS).contains(&days) => {
            return Err(ServiceError::InvalidInput(format!(
                "a token lasts 1 to {MAX_EXPIRY_DAYS} days, or until revoked"
            )));
        }
        Some(days) => Some(Utc::now() + Duration::days(i64::from(days))),
        None => None,
    };
    let now = Utc::now();
    let live =
        sea_orm::Condition::any().add(api_token::Column::ExpiresAt.is_null()).add(api_token::Column::ExpiresAt.gt(now));
    let held = api_token::Entity::find()
        .filter(api_token::Column::UserId.eq(actor.id))
        .filter(api_token::Column::RevokedAt.is_null())
        .filter(live)
        .count(db)
        .await?;
    if held >= MAX_TOKENS {
        return Err(ServiceError::Conflict(format!("you hold {MAX_TOKENS} tokens already; revoke one first")));
    }
    let secret = format!("{TOKEN_START}{}", random_secret()?);
    let row = api_token::ActiveModel {
        user_id: Set(actor.id),
        name: Set(name.to_string()),
        prefix: Set(secret[..PREFIX_LEN].to_string()),
        secret_hash: Set(sha256_hex(secret.as_bytes())),
        scopes: Set(scopes_text(&form.scopes)),
        created_at: Set(now),
        expires_at: Set(expires_at),
        ..Default::default()
    }
    .insert(db)
    .await?;
    let detail = format!("{} ({})", row.prefix, row.scopes);
    audit::record(db, Actor::Account(actor), "api_token.create", name, &detail, client_addr).await?;
    Ok(CreatedToken { secret, token: row.into() })
}

/// The caller's own tokens, newest first (revoked and expired ones too, marked so).
pub async fn mine(db: &DatabaseConnection, actor: Option<&Account>) -> Result<Vec<TokenView>, ServiceError> {
    let actor = require(actor, Role::User)?;
    let mut rows = api_token::Entity::find().filter(api_token::Column::UserId.eq(actor.id)).all(db).await?;
    rows.sort_by_key(|t| std::cmp::Reverse(t.id));
    Ok(rows.into_iter().map(TokenView::from).collect())
}

/// Revokes one of the caller's own tokens; it stops working at once.
pub async fn revoke(
    db: &DatabaseConnection,
    actor: Option<&Account>,
    id: i64,
    client_addr: Option<&str>,
) -> Result<(), ServiceError> {
    let actor = require(actor, Role::User)?;
    let row = api_token::Entity::find_by_id(id)
        .one(db)
        .await?
        .filter(|t| t.user_id == actor.id)
        .ok_or_else(|| ServiceError::NotFound("no such token of yours".into()))?;
    if row.revoked_at.is_some() {
        return Ok(());
    }
    let (name, prefix) = (row.name.clone(), row.prefix.clone());
    let mut active: api_token::ActiveModel = row.into();
    active.revoked_at = Set(Some(Utc::now()));
    active.update(db).await?;
    audit::record(db, Actor::Account(actor), "api_token.revoke", &name, &prefix, client_addr).await
}

/// Ends every token of a person at once (a new password: a session taken over may have made
/// some).
pub async fn revoke_all(db: &DatabaseConnection, user_id: i64) -> Result<(), ServiceError> {
    api_token::Entity::update_many()
        .col_expr(api_token::Column::RevokedAt, sea_orm::sea_query::Expr::value(Utc::now()))
        .filter(api_token::Column::UserId.eq(user_id))
        .filter(api_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Who a bearer token speaks for, and what it may do.
#[derive(Debug, Clone)]
pub struct TokenCaller {
    pub account: Account,
    /// The same account as a plain user: what every scope but `admin` acts as.
    as_user: Account,
    pub token_id: i64,
    pub scopes: Vec<Scope>,
}

impl TokenCaller {
    /// The account a route of `scope` acts as. Only the admin scope carries an administrator's
    /// or labeler's powers; with the others a token reaches its owner's own identifications,
    /// so a leaked read or write token of an administrator exposes no one else's.
    pub fn acting_as(&self, scope: Scope) -> &Account {
        if scope == Scope::Admin {
            &self.account
        } else {
            &self.as_user
        }
    }

    /// The token carries `scope`, and for `admin` its owner is an administrator still.
    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope) && (scope != Scope::Admin || self.account.role == Role::Admin)
    }
}

/// The account and scopes of a bearer token; Unauthorized for anything but a live token of an
/// active account. Malformed tokens are refused without a query.
pub async fn authenticate(db: &DatabaseConnection, presented: &str) -> Result<TokenCaller, ServiceError> {
    let invalid = || ServiceError::Unauthorized("this API token is not valid: unknown, revoked or expired".into());
    let well_formed = presented.len() == TOKEN_LEN
        && presented.starts_with(TOKEN_START)
        && presented[TOKEN_START.len()..].bytes().all(|b| b.is_ascii_hexdigit());
    if !well_formed {
        return Err(invalid());
    }
    let found = api_token::Entity::find()
        .filter(api_token::Column::SecretHash.eq(sha256_hex(presented.as_bytes())))
        .find_also_related(user::Entity)
        .one(db)
        .await?;
    let Some((token, Some(owner))) = found else {
        return Err(invalid());
    };
    let now = Utc::now();
    if token.revoked_at.is_some() || token.expires_at.is_some_and(|at| at <= now) {
        return Err(invalid());
    }
    if owner.status != AccountStatus::Active {
        return Err(ServiceError::Unauthorized("this API token's account is not active".into()));
    }
    if token.last_used_at.is_none_or(|at| now - at >= LAST_USED_EVERY) {
        api_token::Entity::update_many()
            .col_expr(api_token::Column::LastUsedAt, sea_orm::sea_query::Expr::value(now))
            .filter(api_token::Column::Id.eq(token.id))
            .exec(db)
            .await?;
    }
    let account = Account::from(owner);
    let mut as_user = account.clone();
    as_user.role = Role::User;
    Ok(TokenCaller { account, as_user, token_id: token.id, scopes: scopes_of(&token.scopes) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_stored_sorted_once_and_read_back() {
        let text = scopes_text(&[Scope::Write, Scope::Identify, Scope::Write]);
        assert_eq!(text, "identify,write");
        assert_eq!(scopes_of(&text), vec![Scope::Identify, Scope::Write]);
        assert_eq!(scopes_of("read,bogus"), vec![Scope::Read]);
    }

    #[test]
    fn rates_read_per_scope_and_refuse_nonsense() {
        let rates: ScopeRates = "identify=5, admin=0".parse().unwrap();
        assert_eq!(rates, ScopeRates { identify: 5, admin: 0, ..ScopeRates::default() });
        assert!("identify".parse::<ScopeRates>().is_err());
        assert!("delete=3".parse::<ScopeRates>().is_err());
        assert!("read=many".parse::<ScopeRates>().is_err());
    }
}
