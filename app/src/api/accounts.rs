//! Signing up, in and out, and the signed-in user's own account.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// The signed-in user as the pages see them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Me {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub role: RoleView,
    pub language: String,
}

/// A person's role as the pages see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RoleView {
    User,
    Labeler,
    Admin,
}

impl RoleView {
    pub fn as_str(self) -> &'static str {
        match self {
            RoleView::User => "user",
            RoleView::Labeler => "labeler",
            RoleView::Admin => "admin",
        }
    }
}

#[cfg(feature = "ssr")]
impl From<insectid::auth::Role> for RoleView {
    fn from(r: insectid::auth::Role) -> Self {
        use insectid::auth::Role;
        match r {
            Role::User => RoleView::User,
            Role::Labeler => RoleView::Labeler,
            Role::Admin => RoleView::Admin,
        }
    }
}

#[cfg(feature = "ssr")]
fn me(a: &insectid::auth::Account) -> Me {
    Me {
        id: a.id,
        username: a.username.clone(),
        display_name: a.display_name.clone(),
        email: a.email.clone(),
        role: a.role.into(),
        language: a.language.clone(),
    }
}

#[server(endpoint = "me")]
pub async fn get_me() -> Result<Option<Me>, AppError> {
    Ok(crate::state::current_account().await?.as_ref().map(me))
}

#[cfg(feature = "ssr")]
async fn sign_in_account(username: String, password: String) -> Result<(), AppError> {
    use crate::state::{auth_session, client_addr};
    let mut session = auth_session().await?;
    let creds = insectid::auth::Credentials { username, password, client_addr: client_addr().await };
    match session.authenticate(creds).await {
        Ok(Some(account)) => {
            // login() gives the session a new id, so a planted id is worthless.
            session.login(&account).await.map_err(AppError::internal)?;
            remember_language(&account.language)?;
            Ok(())
        }
        Ok(None) => Err(AppError::Unauthorized("wrong username or password".into())),
        Err(axum_login::Error::Backend(e)) => Err(e.into()),
        Err(e) => Err(AppError::internal(e)),
    }
}

#[server(endpoint = "sign_in")]
pub async fn sign_in(username: String, password: String) -> Result<(), AppError> {
    sign_in_account(username, password).await?;
    leptos_axum::redirect("/");
    Ok(())
}

#[server(endpoint = "sign_up")]
pub async fn sign_up(
    username: String,
    display_name: String,
    email: String,
    password: String,
    password_again: String,
) -> Result<(), AppError> {
    use crate::state::{answer, app_state, client_addr};
    use insectid::services::accounts;
    if password != password_again {
        return Err(AppError::InvalidInput("the two passwords differ".into()));
    }
    let state = app_state()?;
    let addr = client_addr().await;
    let form = accounts::SignUp { username: username.clone(), display_name, email, password: password.clone() };
    answer(accounts::sign_up(&state.db, form, state.open_registration, Some(&addr)).await)?;
    if state.open_registration {
        sign_in_account(username, password).await?;
        leptos_axum::redirect("/");
    } else {
        leptos_axum::redirect("/signin?pending=1");
    }
    Ok(())
}

#[server(endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), AppError> {
    let mut session = crate::state::auth_session().await?;
    session.logout().await.map_err(AppError::internal)?;
    leptos_axum::redirect("/");
    Ok(())
}

#[cfg(feature = "ssr")]
async fn signed_in() -> Result<insectid::auth::Account, AppError> {
    match crate::state::current_account().await? {
        Some(a) => Ok(a),
        None => Err(AppError::Unauthorized("sign in first".into())),
    }
}

#[server(endpoint = "update_profile")]
pub async fn update_profile(display_name: String, email: String, language: String) -> Result<(), AppError> {
    let account = signed_in().await?;
    let state = crate::state::app_state()?;
    let updated = crate::state::answer(
        insectid::services::accounts::update_profile(&state.db, &account, &display_name, &email, &language).await,
    )?;
    let mut session = crate::state::auth_session().await?;
    session.login(&updated).await.map_err(AppError::internal)?;
    remember_language(&updated.language)?;
    leptos_axum::redirect("/me?saved=profile");
    Ok(())
}

#[server(endpoint = "change_password")]
pub async fn change_password(current: String, new: String, new_again: String) -> Result<(), AppError> {
    use crate::state::{answer, app_state, auth_session, client_addr};
    let account = signed_in().await?;
    if new != new_again {
        return Err(AppError::InvalidInput("the two new passwords differ".into()));
    }
    let state = app_state()?;
    let addr = client_addr().await;
    let updated =
        answer(insectid::services::accounts::change_password(&state.db, &account, &current, &new, Some(&addr)).await)?;
    // Every session of the account ended; this browser continues with a fresh one.
    let mut session = auth_session().await?;
    session.login(&updated).await.map_err(AppError::internal)?;
    leptos_axum::redirect("/me?saved=password");
    Ok(())
}

#[server(endpoint = "delete_account")]
pub async fn delete_account(password: String) -> Result<(), AppError> {
    use crate::state::{answer, app_state, auth_session, client_addr};
    let account = signed_in().await?;
    let state = app_state()?;
    let addr = client_addr().await;
    answer(
        insectid::services::accounts::delete_own_account(&state.db, &state.photos, &account, &password, Some(&addr))
            .await,
    )?;
    let mut session = auth_session().await?;
    session.logout().await.map_err(AppError::internal)?;
    leptos_axum::redirect("/?account_deleted=1");
    Ok(())
}

/// This browser shows the account's language from now on.
#[cfg(feature = "ssr")]
fn remember_language(code: &str) -> Result<(), AppError> {
    use axum::http::{header::SET_COOKIE, HeaderValue};
    let state = crate::state::app_state()?;
    let lang = crate::i18n::Lang::parse(code).unwrap_or_default();
    if let (Some(response), Ok(value)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        HeaderValue::from_str(&crate::i18n::cookie(lang, state.secure_cookies)),
    ) {
        response.append_header(SET_COOKIE, value);
    }
    Ok(())
}

/// Switches the interface language for this browser (and the account, when signed in), then
/// goes back to the page the switch was made on.
#[server(endpoint = "set_language")]
pub async fn set_language(lang: String, back: String) -> Result<(), AppError> {
    let Some(chosen) = crate::i18n::Lang::parse(&lang) else {
        return Err(AppError::InvalidInput(format!("unknown language {lang:?} (en or zh)")));
    };
    if let Some(account) = crate::state::current_account().await? {
        let state = crate::state::app_state()?;
        let updated =
            crate::state::answer(insectid::services::accounts::set_language(&state.db, &account, chosen.code()).await)?;
        let mut session = crate::state::auth_session().await?;
        session.login(&updated).await.map_err(AppError::internal)?;
    }
    remember_language(chosen.code())?;
    // Only a path on this site: an open redirect would let a link send people anywhere.
    leptos_axum::redirect(if is_local_path(&back) { &back } else { "/" });
    Ok(())
}

/// Whether `back` is a path on this site, safe to redirect to. Browsers drop tabs and line
/// breaks from a URL and read `\` as `/`, so `/\t/evil` or `/\evil` leaves the site just as
/// `//evil` does: the path must start with one `/`, and hold no whitespace, control character
/// or backslash anywhere, nor their percent-encoded forms (nothing decoding it later may turn
/// it into one of those).
pub fn is_local_path(back: &str) -> bool {
    let mut chars = back.chars();
    let single_slash = chars.next() == Some('/') && !matches!(chars.next(), Some('/' | '\\'));
    let plain = !back.chars().any(|c| c.is_whitespace() || c.is_control() || c == '\\');
    let lower = back.to_ascii_lowercase();
    let encoded = (0..0x20).chain([0x7f, b'\\' as u32]).any(|b| lower.contains(&format!("%{b:02x}")));
    single_slash && plain && !encoded
}

#[cfg(test)]
mod tests {
    use super::is_local_path;

    #[test]
    fn only_paths_on_this_site_are_redirected_to() {
        let attacks = [
            "//evil",
            "/\\evil",
            "\\/evil",
            "/\t/evil",
            "/\n/evil",
            "/\r/evil",
            "/ /evil",
            "https://evil",
            "evil",
            "",
            "/%09/evil",
            "/%0a/evil",
            "/%0D/evil",
            "/%5c/evil",
            "/%5Cevil",
            "/a\\b",
            "/a b",
            "/\u{0}x",
            "/\u{a0}/evil",
            "/\u{2028}/evil",
            "javascript:alert(1)",
        ];
        for back in attacks {
            assert!(!is_local_path(back), "{back:?} must not be redirected to");
        }
        for back in ["/", "/species?x=1", "/results/3", "/results/3?previous=2#feedback", "/species/%C3%A9t%C3%A9"] {
            assert!(is_local_path(back), "{back:?} is a path on this site");
        }
    }
}
