//! The pages the links in alert mail open: confirm an address, stop the mail. Each shows what
//! the link is for and acts only when its button is pressed (mail scanners fetch links), then
//! lands on `?done=1`, with or without JavaScript.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::{get_alert_mail_link, ConfirmAlertMail, StopAlertMail};
use crate::auth::action_error;
use crate::i18n::use_lang;

#[component]
pub fn ConfirmAlertMailPage() -> impl IntoView {
    let lang = use_lang();
    let confirm = ServerAction::<ConfirmAlertMail>::new();
    let error = action_error(confirm);
    view! {
        <Title text=lang.t("Confirm pest alerts by e-mail")/>
        <h1>{lang.t("Confirm pest alerts by e-mail")}</h1>
        <LinkPage kind="confirm" done_text=lang.t("Confirmed: pest alerts will be mailed to this address.")>
            <ActionForm action=confirm attr:class="form" attr:id="alert-mail-link">
                <LinkToken/>
                <button type="submit" class="button">{lang.t("Confirm")}</button>
            </ActionForm>
            {move || error().map(|m| view! { <p class="error" role="alert">{m}</p> })}
        </LinkPage>
    }
}

#[component]
pub fn StopAlertMailPage() -> impl IntoView {
    let lang = use_lang();
    let stop = ServerAction::<StopAlertMail>::new();
    let error = action_error(stop);
    view! {
        <Title text=lang.t("Stop pest alert e-mail")/>
        <h1>{lang.t("Stop pest alert e-mail")}</h1>
        <LinkPage kind="stop" done_text=lang.t("Stopped: no more pest alerts are mailed to this address.")>
            <ActionForm action=stop attr:class="form" attr:id="alert-mail-link">
                <LinkToken/>
                <button type="submit" class="button danger">{lang.t("Stop these e-mails")}</button>
            </ActionForm>
            {move || error().map(|m| view! { <p class="error" role="alert">{m}</p> })}
        </LinkPage>
    }
}

/// Done: says so. Otherwise the address the link stands for and the form; a link that is not
/// valid says so.
#[component]
fn LinkPage(kind: &'static str, done_text: &'static str, children: ChildrenFn) -> impl IntoView {
    let lang = use_lang();
    let query = use_query_map();
    let done = move || query.with(|q| q.get("done").is_some());
    let token = move || query.with(|q| q.get("token").unwrap_or_default());
    let link = Resource::new(token, move |t| get_alert_mail_link(kind.to_string(), t));
    let children = StoredValue::new(children);
    view! {
        <Show when=done fallback=move || view! {
            <Suspense fallback=move || view! { <p>{lang.t("Loading…")}</p> }>
                {move || link.get().map(|r| match r {
                    Ok(l) => view! {
                        <p data-testid="alert-mail-address">{lang.t("Address:")} " " <strong>{l.address}</strong></p>
                        {children.read_value()()}
                    }.into_any(),
                    Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                })}
            </Suspense>
        }>
            <p class="notice" role="status">{done_text}</p>
            <p><a href="/pressure">{lang.t("Pest pressure")}</a></p>
        </Show>
    }
}

#[component]
fn LinkToken() -> impl IntoView {
    let query = use_query_map();
    view! { <input type="hidden" name="token" value=move || query.with(|q| q.get("token").unwrap_or_default())/> }
}
