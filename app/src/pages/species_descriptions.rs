//! A species' descriptions on its page: image–text models (CLIP, BioCLIP) answer with them, a
//! species they lacked included; administrators add and remove them.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::{get_species_descriptions, DescribeSpecies, RemoveSpeciesDescription};
use crate::auth::action_error;
use crate::i18n::use_lang;

#[component]
pub fn SpeciesDescriptions(key: String) -> impl IntoView {
    let lang = use_lang();
    let (add, remove) = (ServerAction::<DescribeSpecies>::new(), ServerAction::<RemoveSpeciesDescription>::new());
    let query = use_query_map();
    // `?described=N` after a change: N is the job bringing it to the model, 0 when none does.
    let job = move || query.with(|q| q.get("described").and_then(|j| j.parse::<i64>().ok()));
    let of = key.clone();
    let list = Resource::new(
        move || (add.version().get(), remove.version().get()),
        move |_| get_species_descriptions(of.clone()),
    );
    let (add_error, remove_error) = (action_error(add), action_error(remove));
    view! {
        <section class="card" id="descriptions" aria-labelledby="descriptions-title">
            <h2 id="descriptions-title">{lang.t("Descriptions")}</h2>
            {move || job().map(|j| if j > 0 {
                view! {
                    <p class="notice" role="status" data-testid="described">
                        {lang.t("Saved. A job brings it to the active model, which answers with it once the job has finished:")}" "
                        <a href=format!("/jobs/{j}")>{format!("{} {j}", lang.t("Job"))}</a>
                    </p>
                }.into_any()
            } else {
                view! {
                    <p class="notice" role="status" data-testid="described">
                        {lang.t("Saved. The active model reads no text; descriptions count once an image–text model is active.")}
                    </p>
                }.into_any()
            })}
            {move || remove_error().map(|m| view! { <p class="error" role="alert">{m}</p> })}
            <Suspense fallback=move || view! { <p>{lang.t("Loading…")}</p> }>
                {move || list.get().map(|r| match r {
                    Ok(d) => {
                        let key = key.clone();
                        let reads = if d.model_languages.is_empty() {
                            lang.t("The active model is a classifier. Image–text models (CLIP, BioCLIP) read these descriptions: a species they lack becomes a class they can answer with.").to_string()
                        } else {
                            format!("{} {}", lang.t("The active model reads descriptions in:"), d.model_languages.join(", "))
                        };
                        view! {
                            <p class="hint" data-testid="model-reads">{reads}</p>
                            {if d.descriptions.is_empty() {
                                view! { <p class="hint">{lang.t("No descriptions yet.")}</p> }.into_any()
                            } else {
                                view! {
                                    <ul class="descriptions" id="description-list">
                                        {d.descriptions.into_iter().map(|item| view! {
                                            <li>
                                                <span class="tag">{item.language.clone()}</span>" "
                                                <q lang=item.language.clone()>{item.text.clone()}</q>
                                                {d.may_edit.then(|| view! {
                                                    <ActionForm action=remove attr:class="inline">
                                                        <input type="hidden" name="id" value=item.id/>
                                                        <button type="submit" class="button secondary">{lang.t("Remove")}</button>
                                                    </ActionForm>
                                                })}
                                            </li>
                                        }).collect_view()}
                                    </ul>
                                }.into_any()
                            }}
                            {d.may_edit.then(|| view! {
                                <ActionForm action=add attr:class="form" attr:id="description-form">
                                    <input type="hidden" name="key" value=key/>
                                    <label>{lang.t("Language")}
                                        <select name="language">
                                            <option value="en" selected=true>"English"</option>
                                            <option value="zh">"中文"</option>
                                        </select>
                                    </label>
                                    <label>{lang.t("Description")}
                                        <input type="text" name="text" maxlength="500" required placeholder=lang.t("e.g. a photo of a small brown planthopper on a rice stem")/>
                                    </label>
                                    {move || add_error().map(|m| view! { <p class="error" role="alert">{m}</p> })}
                                    <button type="submit" class="button">{lang.t("Add description")}</button>
                                </ActionForm>
                            })}
                        }.into_any()
                    }
                    Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                })}
            </Suspense>
        </section>
    }
}
