//! The signed-in person's identifications, newest first, with re-run and delete.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::{get_history, DeleteIdentification, RerunIdentification};
use crate::auth::action_error;
use crate::components::verdict::verdict_text;
use crate::i18n::use_lang;

#[component]
pub fn HistoryPage() -> impl IntoView {
    let lang = use_lang();
    let query = use_query_map();
    let label = move || query.with(|q| q.get("label").unwrap_or_default());
    let page = move || query.with(|q| q.get("page").and_then(|p| p.parse::<u64>().ok()).unwrap_or(0));
    let delete = ServerAction::<DeleteIdentification>::new();
    let rerun = ServerAction::<RerunIdentification>::new();
    let delete_error = action_error(delete);
    let rerun_error = action_error(rerun);
    let history = Resource::new(move || (label(), page(), delete.version().get()), |(l, p, _)| get_history(l, p));
    view! {
        <Title text=lang.t("History")/>
        <h1>{lang.t("History")}</h1>
        <form method="get" action="/history" class="search" role="search">
            <label>{lang.t("Class contains")}<input type="search" name="label" value=label/></label>
            <button type="submit" class="button">{lang.t("Filter")}</button>
        </form>
        {move || delete_error().or_else(rerun_error).map(|m| view! { <p class="error" role="alert">{m}</p> })}
        <Suspense fallback=move || view! { <p>{lang.t("Loading your identifications…")}</p> }>
            {move || history.get().map(|r| match r {
                Ok(h) if h.items.is_empty() => view! {
                    <p class="notice" role="status">{lang.t("No identifications yet.")}" " <a href="/upload">{lang.t("Identify a photo")}</a></p>
                }.into_any(),
                Ok(h) => {
                    let pages = h.total.div_ceil(h.per_page).max(1);
                    let l = label();
                    view! {
                        <p>{format!("{} {} · {} {} / {pages}", h.total, lang.t("identifications"), lang.t("page"), h.page + 1)}</p>
                        <ul class="history" id="history-list">
                            {h.items.into_iter().map(|r| {
                                let alt = r.top.first().map(|t| t.label.clone()).unwrap_or_default();
                                view! {
                                    <li class="card history-item" data-id=r.id>
                                        <a href=format!("/results/{}", r.id)>
                                            <img src=format!("/photos/{}/thumb", r.image_sha256) alt=alt loading="lazy" width="96" height="96"/>
                                        </a>
                                        <div>
                                            <a href=format!("/results/{}", r.id)><strong>{verdict_text(lang, &r)}</strong></a>
                                            <p class="hint">{format!("{} · {} {}", r.created_at, r.model_name, r.model_version)}</p>
                                            <ActionForm action=rerun attr:class="inline">
                                                <input type="hidden" name="id" value=r.id.to_string()/>
                                                <button type="submit" class="button small">{lang.t("Re-run")}</button>
                                            </ActionForm>
                                            <ActionForm action=delete attr:class="inline">
                                                <input type="hidden" name="id" value=r.id.to_string()/>
                                                <button type="submit" class="button small danger">{lang.t("Delete")}</button>
                                            </ActionForm>
                                        </div>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                        <nav class="pager" aria-label=lang.t("History pages")>
                            {(h.page > 0).then(|| view! { <a href=format!("/history?label={}&page={}", l, h.page - 1)>{lang.t("← Newer")}</a> })}
                            {(h.page + 1 < pages).then(|| view! { <a href=format!("/history?label={}&page={}", l, h.page + 1)>{lang.t("Older →")}</a> })}
                        </nav>
                    }.into_any()
                }
                Err(crate::error::AppError::Unauthorized(_)) => view! {
                    <p class="notice" role="status">{lang.t("Your history is kept when you are signed in.")}" " <a href="/signin">{lang.t("Sign in")}</a></p>
                }.into_any(),
                Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
            })}
        </Suspense>
    }
}
