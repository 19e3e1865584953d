//! Search one's identified photos by a description ("small green leafhopper on rice"), with
//! the active image–text model. A plain GET form: it works without JavaScript.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::search_photos;
use crate::components::verdict::verdict_text;
use crate::i18n::use_lang;

#[component]
pub fn PhotoSearchPage() -> impl IntoView {
    let lang = use_lang();
    let query = use_query_map();
    let text = move || query.with(|q| q.get("q").unwrap_or_default());
    let found = Resource::new(text, |q| async move {
        if q.trim().is_empty() {
            None
        } else {
            Some(search_photos(q).await)
        }
    });
    view! {
        <Title text=lang.t("Search photos")/>
        <h1>{lang.t("Search photos")}</h1>
        <form method="get" action="/search" class="search" role="search">
            <label>{lang.t("Find photos like")}
                <input type="search" name="q" value=text() maxlength="200" placeholder=lang.t("small green leafhopper on rice")/>
            </label>
            <button type="submit" class="button">{lang.t("Search")}</button>
            <p class="hint">{lang.t("Searches the photos you identified with the active image–text model; administrators search everyone's.")}</p>
        </form>
        <Suspense fallback=move || view! { <p>{lang.t("Searching…")}</p> }>
            {move || found.get().flatten().map(|r| match r {
                Ok(s) if s.hits.is_empty() => view! {
                    <p class="notice" role="status" id="search-none">{lang.t("No photo identified by this model yet.")}</p>
                }.into_any(),
                Ok(s) => view! {
                    <p class="hint" id="search-model">{format!("{} · {} ({})", lang.t("Ranked by"), s.model, s.method)}</p>
                    <ul class="history" id="search-results">
                        {s.hits.into_iter().map(|h| {
                            let r = h.result;
                            let alt = r.top.first().map(|t| t.label.clone()).unwrap_or_default();
                            view! {
                                <li class="card history-item" data-id=r.id>
                                    <a href=format!("/results/{}", r.id)>
                                        <img src=format!("/photos/{}/thumb", r.image_sha256) alt=alt loading="lazy" width="96" height="96"/>
                                    </a>
                                    <div>
                                        <a href=format!("/results/{}", r.id)><strong>{verdict_text(lang, &r)}</strong></a>
                                        <p class="hint">{format!("{} {:.3} · {}", lang.t("similarity"), h.similarity, r.created_at)}</p>
                                    </div>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any(),
                Err(crate::error::AppError::Unauthorized(_)) => view! {
                    <p class="notice" role="status">{lang.t("Sign in to search your photos.")}" " <a href="/signin">{lang.t("Sign in")}</a></p>
                }.into_any(),
                Err(e) => view! { <p class="error" role="alert" id="search-error">{e.to_string()}</p> }.into_any(),
            })}
        </Suspense>
    }
}
