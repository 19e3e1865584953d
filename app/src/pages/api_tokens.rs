//! My account's API tokens: the list, a form to make one, revocation, and the new token's
//! secret shown once.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::{get_api_tokens, take_new_api_token, ApiTokenView, CreateApiToken, RevokeApiToken};
use crate::auth::action_error;
use crate::i18n::{use_lang, Lang};

/// The section's actions and the new token's secret: made by the account page outside its
/// Suspense, so that refreshing the account re-renders the section without taking the secret
/// again (it is taken from the session once) and keeps the forms' outcomes.
#[derive(Clone, Copy)]
pub struct TokenActions {
    create: ServerAction<CreateApiToken>,
    revoke: ServerAction<RevokeApiToken>,
    secret: Resource<Option<String>>,
}

pub fn token_actions() -> TokenActions {
    let query = use_query_map();
    // `?token=ID` right after making one (any value: the session holds at most the newest).
    let just_made = move || query.with(|q| q.get("token").filter(|t| t.parse::<i64>().is_ok()));
    let secret = Resource::new(just_made, |made| async move {
        if made.is_some() {
            take_new_api_token().await.ok().flatten()
        } else {
            None
        }
    });
    TokenActions { create: ServerAction::new(), revoke: ServerAction::new(), secret }
}

#[component]
pub fn ApiTokensSection(actions: TokenActions) -> impl IntoView {
    let lang = use_lang();
    let TokenActions { create, revoke, secret } = actions;
    let tokens = Resource::new(move || (create.version().get(), revoke.version().get()), |_| get_api_tokens());
    let (create_error, revoke_error) = (action_error(create), action_error(revoke));
    view! {
        <section class="card" id="api-tokens" aria-labelledby="api-tokens-title">
            <h2 id="api-tokens-title">{lang.t("API tokens")}</h2>
            <p class="hint">{lang.t("Programs call the REST API (see /api) with the header Authorization: Bearer and a token. A token acts for you within its scopes; it never signs in to these pages.")}</p>
            <Suspense fallback=|| ()>
                {move || secret.get().flatten().map(|s| view! {
                    <div class="notice new-token" role="status">
                        <p>{lang.t("Your new token. Copy it now: it is not shown again.")}</p>
                        <code data-testid="new-api-token">{s}</code>
                    </div>
                })}
            </Suspense>
            <ActionForm action=create attr:class="form" attr:id="api-token-form">
                <label>{lang.t("Name")}<input type="text" name="name" maxlength="80" required placeholder=lang.t("e.g. field laptop")/></label>
                <fieldset>
                    <legend>{lang.t("Scopes")}</legend>
                    <label class="check"><input type="checkbox" name="identify" value="on" checked=true/>{lang.t("identify: send photos")}</label>
                    <label class="check"><input type="checkbox" name="read" value="on"/>{lang.t("read: my identifications")}</label>
                    <label class="check"><input type="checkbox" name="write" value="on"/>{lang.t("write: delete, give feedback")}</label>
                    <Suspense fallback=|| ()>
                        {move || tokens.get().and_then(Result::ok).filter(|t| t.may_administer).map(|_| view! {
                            <label class="check"><input type="checkbox" name="admin" value="on"/>{lang.t("admin: models and jobs")}</label>
                        })}
                    </Suspense>
                </fieldset>
                <label>{lang.t("Expires")}
                    <select name="expires_in_days">
                        <option value="30">{lang.t("in 30 days")}</option>
                        <option value="90" selected=true>{lang.t("in 90 days")}</option>
                        <option value="365">{lang.t("in a year")}</option>
                        <option value="">{lang.t("never (until revoked)")}</option>
                    </select>
                </label>
                {move || create_error().map(|m| view! { <p class="error" role="alert">{m}</p> })}
                <button type="submit" class="button">{lang.t("Make token")}</button>
            </ActionForm>
            {move || revoke_error().map(|m| view! { <p class="error" role="alert">{m}</p> })}
            <Suspense fallback=move || view! { <p>{lang.t("Loading…")}</p> }>
                {move || tokens.get().map(|r| match r {
                    Ok(t) if t.tokens.is_empty() => view! { <p class="hint">{lang.t("No tokens yet.")}</p> }.into_any(),
                    Ok(t) => view! { <TokenTable tokens=t.tokens revoke/> }.into_any(),
                    Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn TokenTable(tokens: Vec<ApiTokenView>, revoke: ServerAction<RevokeApiToken>) -> impl IntoView {
    let lang = use_lang();
    view! {
        <div class="table-wrap">
            <table class="api-tokens" id="api-token-list">
                <thead><tr>
                    <th>{lang.t("Name")}</th><th>{lang.t("Token")}</th><th>{lang.t("Scopes")}</th>
                    <th>{lang.t("Made")}</th><th>{lang.t("Expires")}</th><th>{lang.t("Last used")}</th><th></th>
                </tr></thead>
                <tbody>
                    {tokens.into_iter().map(|t| view! {
                        <tr data-state=t.state.clone()>
                            <td>{t.name.clone()}</td>
                            <td><code>{format!("{}…", t.prefix)}</code></td>
                            <td>{t.scopes.join(", ")}</td>
                            <td>{t.created_at.clone()}</td>
                            <td>{t.expires_at.clone().unwrap_or_else(|| lang.t("never").to_string())}</td>
                            <td>{t.last_used_at.clone().unwrap_or_else(|| lang.t("not yet").to_string())}</td>
                            <td>{token_action(lang, &t, revoke)}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

/// Revoke for a live token; otherwise what became of it.
fn token_action(lang: Lang, t: &ApiTokenView, revoke: ServerAction<RevokeApiToken>) -> AnyView {
    let (id, label) = (t.id.to_string(), format!("{} {}", lang.t("Revoke"), t.name));
    match t.state.as_str() {
        "active" => view! {
            <ActionForm action=revoke attr:class="inline">
                <input type="hidden" name="id" value=id/>
                <button type="submit" class="button small danger" aria-label=label>{lang.t("Revoke")}</button>
            </ActionForm>
        }
        .into_any(),
        "expired" => view! { <span class="hint">{lang.t("expired")}</span> }.into_any(),
        _ => view! { <span class="hint">{lang.t("revoked")}</span> }.into_any(),
    }
}
