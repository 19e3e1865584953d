//! The signed-in person's identifications, newest first, with re-run and delete.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::{get_history, DeleteIdentification, HistoryQuery, RerunIdentification};
use crate::auth::action_error;
use crate::components::place::PlaceInputs;
use crate::components::verdict::verdict_text;
use crate::i18n::use_lang;

#[component]
pub fn HistoryPage() -> impl IntoView {
    let lang = use_lang();
    let query = use_query_map();
    let filters = move || {
        query.with(|q| {
            let get = |k: &str| q.get(k).unwrap_or_default();
            HistoryQuery {
                label: get("label"),
                from: get("from"),
                to: get("to"),
                latitude: get("latitude"),
                longitude: get("longitude"),
                km: get("km"),
            }
        })
    };
    let page = move || query.with(|q| q.get("page").and_then(|p| p.parse::<u64>().ok()).unwrap_or(0));
    let delete = ServerAction::<DeleteIdentification>::new();
    let rerun = ServerAction::<RerunIdentification>::new();
    let delete_error = action_error(delete);
    let rerun_error = action_error(rerun);
    let history = Resource::new(move || (filters(), page(), delete.version().get()), |(f, p, _)| get_history(f, p));
    let initial = filters();
    let latitude = RwSignal::new(initial.latitude.clone());
    let longitude = RwSignal::new(initial.longitude.clone());
    view! {
        <Title text=lang.t("History")/>
        <h1>{lang.t("History")}</h1>
        <p><a href="/search" id="search-link">{lang.t("Search your photos by description")}</a></p>
        <form method="get" action="/history" class="search history-filters" role="search">
            <label>{lang.t("Class contains")}<input type="search" name="label" value=initial.label/></label>
            <label>{lang.t("Taken from")}<input type="date" name="from" value=initial.from/></label>
            <label>{lang.t("to")}<input type="date" name="to" value=initial.to/></label>
            <fieldset class="near">
                <legend>{lang.t("Near")}</legend>
                <PlaceInputs latitude longitude/>
                <label>{lang.t("within km")}<input name="km" inputmode="decimal" placeholder="10" value=initial.km/></label>
            </fieldset>
            <button type="submit" class="button">{lang.t("Filter")}</button>
            <p class="hint">{lang.t("Date and place filters match only photos whose date or place is known.")}</p>
        </form>
        {move || delete_error().or_else(rerun_error).map(|m| view! { <p class="error" role="alert">{m}</p> })}
        <Suspense fallback=move || view! { <p>{lang.t("Loading your identifications…")}</p> }>
            {move || history.get().map(|r| match r {
                Ok(h) if h.items.is_empty() && filters() != HistoryQuery::default() => view! {
                    <p class="notice" role="status" id="history-none">{lang.t("No identifications match these filters.")}" " <a href="/history">{lang.t("Show all")}</a></p>
                }.into_any(),
                Ok(h) if h.items.is_empty() => view! {
                    <p class="notice" role="status">{lang.t("No identifications yet.")}" " <a href="/upload">{lang.t("Identify a photo")}</a></p>
                }.into_any(),
                Ok(h) => {
                    let pages = h.total.div_ceil(h.per_page).max(1);
                    let f = filters();
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
                                            {r.observation.as_ref().map(|o| {
                                                let taken = (!o.taken_at.is_empty()).then(|| format!("{} {}", lang.t("Taken"), o.taken_at));
                                                let place = o.latitude.zip(o.longitude).map(|(a, b)| format!("{a:.4}, {b:.4}"));
                                                let shared = o.shared.then(|| lang.t("shared").to_string());
                                                let text = [taken, place, shared].into_iter().flatten().collect::<Vec<_>>().join(" · ");
                                                (!text.is_empty()).then(|| view! { <p class="hint observation-line">{text}</p> })
                                            })}
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
                            {(h.page > 0).then(|| view! { <a href=f.href(h.page - 1)>{lang.t("← Newer")}</a> })}
                            {(h.page + 1 < pages).then(|| view! { <a href=f.href(h.page + 1)>{lang.t("Older →")}</a> })}
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
