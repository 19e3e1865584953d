//! Signing in and up, and the signed-in user's own account page.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::{ChangePassword, DeleteAccount, SignIn, SignUp, UpdateProfile};
use crate::auth::{account_action, action_done, action_error, use_auth};
use crate::i18n::use_lang;

#[component]
fn FormError(message: Option<String>) -> impl IntoView {
    message.map(|m| view! { <p class="error" role="alert">{m}</p> })
}

#[component]
pub fn SignInPage() -> impl IntoView {
    let lang = use_lang();
    let sign_in = account_action::<SignIn>();
    let query = use_query_map();
    let pending = move || query.with(|q| q.get("pending").is_some());
    let error = action_error(sign_in);
    view! {
        <Title text=lang.t("Sign in")/>
        <h1>{lang.t("Sign in")}</h1>
        <Show when=pending>
            <p class="notice" role="status">{lang.t("Your account was created and waits for an administrator's approval.")}</p>
        </Show>
        <ActionForm action=sign_in attr:class="card form" attr:id="sign-in-form">
            <label>{lang.t("Username")}<input type="text" name="username" autocomplete="username" required/></label>
            <label>{lang.t("Password")}<input type="password" name="password" autocomplete="current-password" required/></label>
            {move || view! { <FormError message=error()/> }}
            <button type="submit" class="button primary">{lang.t("Sign in")}</button>
        </ActionForm>
        <p>{lang.t("No account yet? ")} <a href="/signup">{lang.t("Sign up")}</a></p>
    }
}

#[component]
pub fn SignUpPage() -> impl IntoView {
    let lang = use_lang();
    let sign_up = account_action::<SignUp>();
    let error = action_error(sign_up);
    view! {
        <Title text=lang.t("Sign up")/>
        <h1>{lang.t("Sign up")}</h1>
        <ActionForm action=sign_up attr:class="card form" attr:id="sign-up-form">
            <label>{lang.t("Username")}<input type="text" name="username" autocomplete="username" required minlength="3" maxlength="32"/></label>
            <p class="hint">{lang.t("3 to 32 letters, digits, '_', '-' or '.'.")}</p>
            <label>{lang.t("Display name (optional)")}<input type="text" name="display_name" maxlength="80"/></label>
            <label>{lang.t("Email (optional)")}<input type="email" name="email" autocomplete="email"/></label>
            <label>{lang.t("Password")}<input type="password" name="password" autocomplete="new-password" required minlength="10"/></label>
            <p class="hint">{lang.t("At least 10 characters and hard to guess: a few unrelated words work well.")}</p>
            <label>{lang.t("Password again")}<input type="password" name="password_again" autocomplete="new-password" required/></label>
            {move || view! { <FormError message=error()/> }}
            <button type="submit" class="button primary">{lang.t("Create account")}</button>
        </ActionForm>
        <p>{lang.t("Already registered? ")} <a href="/signin">{lang.t("Sign in")}</a></p>
    }
}

#[derive(Clone, Copy)]
struct MeActions {
    update_profile: ServerAction<UpdateProfile>,
    change_password: ServerAction<ChangePassword>,
    delete_account: ServerAction<DeleteAccount>,
    tokens: super::api_tokens::TokenActions,
}

#[component]
pub fn MePage() -> impl IntoView {
    let lang = use_lang();
    let auth = use_auth();
    // Outside the Suspense: refreshing `me` re-renders the forms but keeps their outcomes.
    let actions = MeActions {
        update_profile: account_action::<UpdateProfile>(),
        change_password: account_action::<ChangePassword>(),
        delete_account: account_action::<DeleteAccount>(),
        tokens: super::api_tokens::token_actions(),
    };
    view! {
        <Title text=lang.t("My account")/>
        <h1>{lang.t("My account")}</h1>
        <Suspense fallback=move || view! { <p>{lang.t("Loading…")}</p> }>
            {move || auth.me.get().map(|r| match r {
                Ok(Some(me)) => view! { <AccountForms me actions/> }.into_any(),
                Ok(None) => view! {
                    <p class="notice" role="status">{lang.t("You are not signed in. ")} <a href="/signin">{lang.t("Sign in")}</a>{lang.t(" to see your account.")}</p>
                }.into_any(),
                Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
            })}
        </Suspense>
    }
}

#[component]
fn AccountForms(me: crate::api::Me, actions: MeActions) -> impl IntoView {
    let lang = use_lang();
    let MeActions { update_profile, change_password, delete_account, tokens } = actions;
    // Success shows after a JS submit (the action's value) and after a no-JS one (the redirect's query).
    let query = use_query_map();
    let saved = move |what: &'static str| query.with(|q| q.get("saved").as_deref() == Some(what));
    let (profile_error, profile_done) = (action_error(update_profile), action_done(update_profile));
    let profile_done = move || profile_done() || saved("profile");
    let (password_error, password_done) = (action_error(change_password), action_done(change_password));
    let password_done = move || password_done() || saved("password");
    let delete_error = action_error(delete_account);
    let chosen = me.language.clone();
    view! {
        <section class="card" aria-labelledby="profile-title">
            <h2 id="profile-title">{lang.t("Profile")}</h2>
            <p>{lang.t("Signed in as ")} <strong data-testid="me-username">{me.username.clone()}</strong> {lang.t(" · role ")} <span data-testid="me-role">{me.role.as_str()}</span></p>
            <ActionForm action=update_profile attr:class="form" attr:id="profile-form">
                <label>{lang.t("Display name")}<input type="text" name="display_name" value=me.display_name.clone() maxlength="80"/></label>
                <label>{lang.t("Email")}<input type="email" name="email" value=me.email.clone().unwrap_or_default()/></label>
                <label>{lang.t("Language")}
                    <select name="language">
                        <option value="en" selected=chosen == "en">"English"</option>
                        <option value="zh" selected=chosen == "zh">"中文"</option>
                    </select>
                </label>
                {move || view! { <FormError message=profile_error()/> }}
                <Show when=profile_done><p class="ok" role="status">{lang.t("Profile saved.")}</p></Show>
                <button type="submit" class="button">{lang.t("Save profile")}</button>
            </ActionForm>
        </section>
        <section class="card" aria-labelledby="password-title">
            <h2 id="password-title">{lang.t("Change password")}</h2>
            <p class="hint">{lang.t("Changing it signs you out everywhere else and revokes your API tokens.")}</p>
            <ActionForm action=change_password attr:class="form" attr:id="password-form">
                <label>{lang.t("Current password")}<input type="password" name="current" autocomplete="current-password" required/></label>
                <label>{lang.t("New password")}<input type="password" name="new" autocomplete="new-password" required minlength="10"/></label>
                <label>{lang.t("New password again")}<input type="password" name="new_again" autocomplete="new-password" required/></label>
                {move || view! { <FormError message=password_error()/> }}
                <Show when=password_done><p class="ok" role="status">{lang.t("Password changed; other sessions ended.")}</p></Show>
                <button type="submit" class="button">{lang.t("Change password")}</button>
            </ActionForm>
        </section>
        <super::api_tokens::ApiTokensSection actions=tokens/>
        <section class="card danger" aria-labelledby="delete-title">
            <h2 id="delete-title">{lang.t("Delete account")}</h2>
            <p>{lang.t("Deleting your account removes your identification history and the photos nobody else's identification uses. It cannot be undone.")}</p>
            <ActionForm action=delete_account attr:class="form" attr:id="delete-account-form">
                <label>{lang.t("Password")}<input type="password" name="password" autocomplete="current-password" required/></label>
                {move || view! { <FormError message=delete_error()/> }}
                <button type="submit" class="button danger">{lang.t("Delete my account")}</button>
            </ActionForm>
        </section>
    }
}
