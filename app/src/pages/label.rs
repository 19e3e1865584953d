//! The labelling workspace: one photo at a time, with keyboard shortcuts.

use leptos::prelude::*;
use leptos_meta::Title;

use super::feedback::LabelChoices;
use crate::api::{get_label_task, LabelPhoto};
use crate::auth::action_error;
use crate::i18n::use_lang;

/// One photo at a time. Keys once the page is running its script: 1-5 pick a suggestion,
/// S skips, U undoes, / jumps to the free label. Every key is also a button.
#[component]
pub fn LabelPage() -> impl IntoView {
    let lang = use_lang();
    let act = ServerAction::<LabelPhoto>::new();
    let error = action_error(act);
    let task = Resource::new(move || act.version().get(), |_| get_label_task());
    let form = NodeRef::<leptos::html::Form>::new();
    // Keyboard shortcuts press the matching button, so they go the same way as a click.
    #[cfg(feature = "hydrate")]
    {
        let handle = window_event_listener(leptos::ev::keydown, move |ev| {
            let typing = ev
                .target()
                .and_then(|t| leptos::wasm_bindgen::JsCast::dyn_into::<leptos::web_sys::HtmlInputElement>(t).ok())
                .is_some();
            if typing || ev.ctrl_key() || ev.meta_key() || ev.alt_key() {
                return;
            }
            let selector = match ev.key().as_str() {
                k @ ("1" | "2" | "3" | "4" | "5") => format!("button[data-key=\"{k}\"]"),
                "s" | "S" => "button[data-key=\"s\"]".into(),
                "u" | "U" => "button[data-key=\"u\"]".into(),
                "/" => "#free-label".into(),
                _ => return,
            };
            let Some(f) = form.get_untracked() else { return };
            if let Ok(Some(el)) = f.query_selector(&selector) {
                ev.prevent_default();
                if let Ok(input) = leptos::wasm_bindgen::JsCast::dyn_into::<leptos::web_sys::HtmlElement>(el) {
                    if selector == "#free-label" {
                        let _ = input.focus();
                    } else {
                        input.click();
                    }
                }
            }
        });
        on_cleanup(move || handle.remove());
    }
    view! {
        <Title text=lang.t("Label data")/>
        <h1>{lang.t("Label data")}</h1>
        <p class="hint needs-js">{lang.t("Keys: 1–5 choose a suggestion, S skips, U undoes your last label, / types a label.")}</p>
        {move || error().map(|m| view! { <p class="error" role="alert" id="label-error">{m}</p> })}
        <Suspense fallback=move || view! { <p>{lang.t("Loading…")}</p> }>
            {move || task.get().map(|r| match r {
                Ok(t) => {
                    let counts = t.counts.clone();
                    let body = match t.item {
                        None => view! {
                            <p class="notice" role="status" id="label-done">{lang.t("Nothing left to label. New identifications and feedback will appear here.")}</p>
                            <ActionForm action=act attr:class="inline">
                                <input type="hidden" name="sha" value=""/>
                                <button type="submit" name="undo" value="1" class="button">{lang.t("Undo my last label")}</button>
                            </ActionForm>
                        }.into_any(),
                        Some(item) => view! {
                            <div class="label-task">
                                <a href=format!("/results/{}", item.identification_id)>
                                    <img class="photo" src=format!("/photos/{}", item.image_sha256) alt=lang.t("The photo to label") id="label-photo"/>
                                </a>
                                <ActionForm action=act node_ref=form attr:class="card form" attr:id="label-form">
                                    <input type="hidden" name="sha" value=item.image_sha256.clone()/>
                                    <p class="hint">{format!("{} {} · {} {}", item.waiting, lang.t("photos waiting"), lang.t("labelers needed per photo:"), t.labels_per_photo)}</p>
                                    {(!item.proposed.is_empty()).then(|| view! { <p data-testid="proposed">{lang.t("People said:")}" "<strong>{item.proposed.join(", ")}</strong></p> })}
                                    {(!item.votes.is_empty()).then(|| view! { <p>{lang.t("Other labelers:")}" "{item.votes.iter().map(|(l, n)| format!("{l} ×{n}")).collect::<Vec<_>>().join(", ")}</p> })}
                                    <div class="suggestions">
                                        {item.suggestions.iter().take(5).enumerate().map(|(i, (label, p))| view! {
                                            <button type="submit" name="pick" value=label.clone() class="button" data-key=(i + 1).to_string()>
                                                <kbd>{i + 1}</kbd>" "{label.clone()}<span class="hint">{format!(" {:.0} %", p * 100.0)}</span>
                                            </button>
                                        }).collect_view()}
                                    </div>
                                    <label>{lang.t("Another label")}<input type="text" id="free-label" name="label" list="label-species" maxlength="200" autocomplete="off"/></label>
                                    <div class="inline">
                                        <button type="submit" class="button primary">{lang.t("Save label")}</button>
                                        <button type="submit" name="skip" value="1" class="button" data-key="s" formnovalidate=true><kbd>"S"</kbd>" "{lang.t("Skip")}</button>
                                        <button type="submit" name="undo" value="1" class="button" data-key="u" formnovalidate=true><kbd>"U"</kbd>" "{lang.t("Undo")}</button>
                                    </div>
                                </ActionForm>
                            </div>
                        }.into_any(),
                    };
                    view! {
                        {body}
                        <h2>{lang.t("Labelers")}</h2>
                        <table class="data" id="labeler-counts">
                            <thead><tr><th>{lang.t("Labeler")}</th><th>{lang.t("Labelled")}</th><th>{lang.t("Skipped")}</th></tr></thead>
                            <tbody>{counts.into_iter().map(|(n, l, s)| view! { <tr><td>{n}</td><td>{l}</td><td>{s}</td></tr> }).collect_view()}</tbody>
                        </table>
                    }.into_any()
                }
                Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
            })}
        </Suspense>
        <p><a href="/feedback">{lang.t("Feedback")}</a>" · "<a href="/datasets">{lang.t("Datasets")}</a></p>
        <LabelChoices id="label-species"/>
    }
}
