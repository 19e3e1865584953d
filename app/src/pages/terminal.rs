//! The administrators' SSH terminal: xterm.js in the page, a websocket to the server, which
//! opens SSH sessions to preset hosts only.

use leptos::prelude::*;
use leptos_meta::{Script, Stylesheet, Title};

use crate::api::get_terminal_presets;
use crate::i18n::use_lang;

#[cfg(feature = "hydrate")]
mod js {
    use leptos::wasm_bindgen::prelude::*;

    #[wasm_bindgen]
    extern "C" {
        #[wasm_bindgen(catch, js_namespace = insectidTerminal)]
        pub fn mount(element: &leptos::web_sys::HtmlElement) -> Result<(), JsValue>;
        #[wasm_bindgen(catch, js_namespace = insectidTerminal)]
        pub fn connect(preset: &str, password: &str) -> Result<(), JsValue>;
        #[wasm_bindgen(catch, js_namespace = insectidTerminal)]
        pub fn disconnect() -> Result<(), JsValue>;
        #[wasm_bindgen(catch, js_namespace = insectidTerminal)]
        pub fn reconnect() -> Result<(), JsValue>;
    }
}

#[component]
pub fn TerminalPage() -> impl IntoView {
    let lang = use_lang();
    let presets = Resource::new(|| (), |_| get_terminal_presets());
    let screen = NodeRef::<leptos::html::Div>::new();
    let chosen = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let ready = RwSignal::new(false);
    // xterm.js loads with the page; mount once both it and the element are there.
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        if let Some(el) = screen.get() {
            let try_mount = move || js::mount(&el).is_ok();
            if try_mount() {
                ready.set(true);
            } else if let Ok(h) = set_interval_with_handle(
                move || {
                    if !ready.get_untracked() && screen.get_untracked().is_some_and(|el| js::mount(&el).is_ok()) {
                        ready.set(true);
                    }
                },
                std::time::Duration::from_millis(100),
            ) {
                on_cleanup(move || h.clear());
            }
        }
    });
    let connect = move |_| {
        #[cfg(feature = "hydrate")]
        let _ = js::connect(&chosen.get_untracked(), &password.get_untracked());
    };
    let disconnect = move |_| {
        #[cfg(feature = "hydrate")]
        let _ = js::disconnect();
    };
    let reconnect = move |_| {
        #[cfg(feature = "hydrate")]
        let _ = js::reconnect();
    };
    view! {
        <Title text=lang.t("Terminal")/>
        <Stylesheet href="/xterm/xterm.css"/>
        <Script src="/xterm/xterm.js"/>
        <Script src="/xterm/addon-fit.js"/>
        <Script src="/terminal.js"/>
        <h1>{lang.t("Terminal")}</h1>
        <Suspense fallback=move || view! { <p>{lang.t("Loading…")}</p> }>
            {move || presets.get().map(|r| match r {
                Ok(list) if list.is_empty() => view! {
                    <p class="notice" role="status">{lang.t("No hosts are configured. Set INSECTID_SSH_PRESETS to a file of preset hosts (see the README).")}</p>
                }.into_any(),
                Ok(list) => {
                    if chosen.get_untracked().is_empty() {
                        chosen.set(list[0].name.clone());
                    }
                    let needs_password = {
                        let list = list.clone();
                        move || list.iter().any(|p| p.name == chosen.get() && p.auth == "password")
                    };
                    view! {
                        <p class="hint noscript-only">{lang.t("The terminal needs JavaScript.")}</p>
                        <div class="card form inline terminal-controls needs-js">
                            <label>{lang.t("Host")}
                                <select id="terminal-preset" on:change=move |ev| chosen.set(event_target_value(&ev))>
                                    {list.iter().map(|p| view! {
                                        <option value=p.name.clone()>{format!("{} — {} ({})", p.name, p.target, p.auth)}</option>
                                    }).collect_view()}
                                </select>
                            </label>
                            <Show when=needs_password.clone()>
                                <label>{lang.t("Password")}
                                    <input type="password" id="terminal-password" autocomplete="off" on:input=move |ev| password.set(event_target_value(&ev))/>
                                </label>
                            </Show>
                            <button type="button" class="button primary" id="terminal-connect" disabled=move || !ready.get() on:click=connect>{lang.t("Connect")}</button>
                            <button type="button" class="button" id="terminal-disconnect" on:click=disconnect>{lang.t("Disconnect")}</button>
                            <button type="button" class="button" id="terminal-reconnect" on:click=reconnect>{lang.t("Reconnect")}</button>
                        </div>
                        <ul class="hint presets">
                            {list.into_iter().map(|p| view! {
                                <li>{p.name}": "{p.fingerprint.map(|f| format!("{} {f}", lang.t("host key"))).unwrap_or_else(|| lang.t("host key not pinned yet: confirm it at the first connection").to_string())}</li>
                            }).collect_view()}
                        </ul>
                    }.into_any()
                }
                Err(e) => view! { <p class="error" role="alert" id="terminal-error">{e.to_string()}</p> }.into_any(),
            })}
        </Suspense>
        <p class="terminal-status needs-js" id="terminal-status" role="status" aria-live="polite"></p>
        <div class="terminal needs-js" id="terminal" node_ref=screen></div>
    }
}
