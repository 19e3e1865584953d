//! Personal API tokens on My account: list, make, revoke. A new token's secret reaches its
//! owner once: it is kept in their session until the page that shows it takes it, so it
//! never travels in a URL and a reload does not show it again (with or without JavaScript).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// A token as its owner's page shows it (the browser's build cannot link the service's type).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiTokenView {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub scopes: Vec<String>,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    /// "active", "expired" or "revoked".
    pub state: String,
}

/// The caller's tokens, and whether they may give one the admin scope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiTokens {
    pub tokens: Vec<ApiTokenView>,
    pub may_administer: bool,
}

/// The session key holding a new token's secret until its page shows it.
#[cfg(feature = "ssr")]
const NEW_SECRET_KEY: &str = "new_api_token";

#[cfg(feature = "ssr")]
fn token_view(t: insectid::services::api_tokens::TokenView) -> ApiTokenView {
    use insectid::services::api_tokens::TokenState;
    let state = match t.state {
        TokenState::Active => "active",
        TokenState::Expired => "expired",
        TokenState::Revoked => "revoked",
    };
    ApiTokenView {
        id: t.id,
        name: t.name,
        prefix: t.prefix,
        scopes: t.scopes.iter().map(|s| s.as_str().to_string()).collect(),
        created_at: t.created_at,
        expires_at: t.expires_at,
        last_used_at: t.last_used_at,
        state: state.to_string(),
    }
}

#[server(endpoint = "api_tokens")]
pub async fn get_api_tokens() -> Result<ApiTokens, AppError> {
    let c = crate::state::caller().await?;
    let tokens = crate::state::answer(insectid::services::api_tokens::mine(&c.state.db, c.actor.as_ref()).await)?;
    let may_administer = c.actor.as_ref().is_some_and(|a| a.role == insectid::auth::Role::Admin);
    Ok(ApiTokens { tokens: tokens.into_iter().map(token_view).collect(), may_administer })
}

/// Makes a token from the form (a checkbox per scope; `expires_in_days` empty for none) and
/// sends its owner to the page that shows the secret once.
#[server(endpoint = "create_api_token")]
pub async fn create_api_token(
    name: String,
    #[server(default)] identify: Option<String>,
    #[server(default)] read: Option<String>,
    #[server(default)] write: Option<String>,
    #[server(default)] admin: Option<String>,
    #[server(default)] expires_in_days: Option<String>,
) -> Result<(), AppError> {
    use insectid::services::api_tokens::{create, NewToken, Scope};
    let c = crate::state::caller().await?;
    let checked = [(identify, Scope::Identify), (read, Scope::Read), (write, Scope::Write), (admin, Scope::Admin)];
    let scopes = checked.into_iter().filter(|(on, _)| on.is_some()).map(|(_, scope)| scope).collect();
    let expires_in_days = match expires_in_days.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        None => None,
        Some(d) => Some(d.parse().map_err(|_| AppError::InvalidInput(format!("{d:?} is not a number of days")))?),
    };
    let form = NewToken { name, scopes, expires_in_days };
    let made = crate::state::answer(create(&c.state.db, c.actor.as_ref(), form, Some(&c.addr)).await)?;
    let session = crate::state::auth_session().await?.session;
    session
        .insert(NEW_SECRET_KEY, made.secret.clone())
        .await
        .map_err(|e| AppError::internal(format!("the new token could not be kept for its page: {e}")))?;
    // The token's id in the address: a second token made on this page is a new address, so
    // the page takes (and shows) the new secret.
    leptos_axum::redirect(&format!("/me?token={}#api-tokens", made.token.id));
    Ok(())
}

/// The secret of the token just made, once: the session forgets it as it is read.
#[server(endpoint = "take_new_api_token")]
pub async fn take_new_api_token() -> Result<Option<String>, AppError> {
    let session = crate::state::auth_session().await?.session;
    session
        .remove::<String>(NEW_SECRET_KEY)
        .await
        .map_err(|e| AppError::internal(format!("the new token could not be read back: {e}")))
}

#[server(endpoint = "revoke_api_token")]
pub async fn revoke_api_token(id: i64) -> Result<(), AppError> {
    let c = crate::state::caller().await?;
    crate::state::answer(
        insectid::services::api_tokens::revoke(&c.state.db, c.actor.as_ref(), id, Some(&c.addr)).await,
    )?;
    leptos_axum::redirect("/me?token=revoked#api-tokens");
    Ok(())
}
