//! The species catalogue: a searchable list and one page per species.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::species_descriptions::SpeciesDescriptions;
use crate::api::{get_species, search_species, SpeciesPhotoView, SpeciesSummary};
use crate::i18n::{use_lang, Lang};

fn role_text(lang: Lang, role: &str) -> &'static str {
    match role {
        "pest" => lang.t("Pest"),
        "beneficial" => lang.t("Beneficial"),
        "medical" => lang.t("Health risk"),
        _ => lang.t("Harmless to crops"),
    }
}

/// A species in a list: the name in the page's language, the other one, and its place.
#[component]
pub fn SpeciesLink(species: SpeciesSummary) -> impl IntoView {
    let lang = use_lang();
    let (first, second) = match lang {
        Lang::Zh => (species.name_zh.clone(), species.name_en.clone()),
        Lang::En => (species.name_en.clone(), species.name_zh.clone()),
    };
    view! {
        <a href=format!("/species/{}", species.key) class="species-link">
            <strong>{first}</strong>
            " " <span lang=if lang == Lang::Zh { "en" } else { "zh" }>{second}</span>
            " " <em class="hint">{species.scientific.clone()}</em>
        </a>
    }
}

#[component]
pub fn SpeciesListPage() -> impl IntoView {
    let lang = use_lang();
    let query = use_query_map();
    let q = move || query.with(|m| m.get("q").unwrap_or_default());
    let results = Resource::new(q, search_species);
    view! {
        <Title text=lang.t("Species")/>
        <h1>{lang.t("Species")}</h1>
        <p>{lang.t("Pests of rice, wheat, maize, beet, alfalfa, vines, citrus and mango (the 102 classes of IP102), and the insects and other arthropods the default model knows.")}</p>
        <form method="get" action="/species" class="search" role="search">
            <label>{lang.t("Search names, families or crops")}<input type="search" name="q" value=q maxlength="200"/></label>
            <button type="submit" class="button">{lang.t("Search")}</button>
        </form>
        <Suspense fallback=move || view! { <p>{lang.t("Loading…")}</p> }>
            {move || results.get().map(|r| match r {
                Ok(list) if list.is_empty() => view! {
                    <p class="notice" role="status">{lang.t("No species matches that search.")}</p>
                }.into_any(),
                Ok(list) => view! {
                    <p class="hint">{format!("{} {}", list.len(), lang.t("species"))}</p>
                    <ul class="species-list" id="species-list">
                        {list.into_iter().map(|s| {
                            let role = role_text(lang, &s.role);
                            let place = format!("{} · {}", s.order, s.family);
                            view! {
                                <li class="card" class:illustrated=s.thumbnail.is_some()>
                                    {s.thumbnail.clone().map(|sha| view! {
                                        <img class="species-thumb" src=format!("/photos/{sha}/thumb") alt="" width="64" height="64" loading="lazy"/>
                                    })}
                                    <SpeciesLink species=s.clone()/>
                                    <p class="hint">{place}" · "<span class=format!("role {}", s.role)>{role}</span></p>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any(),
                Err(e) => {
                    e.answer_page_with_status();
                    view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any()
                }
            })}
        </Suspense>
    }
}

#[component]
pub fn SpeciesPage() -> impl IntoView {
    let lang = use_lang();
    let params = use_params_map();
    let key = move || params.with(|p| p.get("key").unwrap_or_default());
    let detail = Resource::new(key, get_species);
    view! {
        <Suspense fallback=move || view! { <p>{lang.t("Loading…")}</p> }>
            {move || detail.get().map(|r| match r {
                Ok(d) => {
                    let s = d.summary.clone();
                    let title = lang.species_name(&s.name_en, &s.name_zh).to_string();
                    view! {
                        <Title text=title.clone()/>
                        <article class="species" id="species">
                            <h1>{title}</h1>
                            <p class="names">
                                <span lang="en">{s.name_en.clone()}</span>" · "<span lang="zh">{s.name_zh.clone()}</span>" · "
                                <em>{s.scientific.clone()}</em>
                            </p>
                            <dl class="facts card">
                                <dt>{lang.t("Class")}</dt><dd>{d.class.clone()}</dd>
                                <dt>{lang.t("Order")}</dt><dd>{or_dash(&s.order)}</dd>
                                <dt>{lang.t("Family")}</dt><dd>{or_dash(&s.family)}</dd>
                                <dt>{lang.t("Role")}</dt><dd class=format!("role {}", s.role)>{role_text(lang, &s.role)}</dd>
                                <dt>{lang.t("Host crops")}</dt><dd>{lang.either(&d.hosts, &d.hosts_zh).to_string()}</dd>
                                <dt>{lang.t("Source")}</dt><dd>{d.origin.clone()}</dd>
                            </dl>
                            <section>
                                <h2>{lang.t("Damage")}</h2>
                                <p data-testid="damage">{lang.either(&d.damage, &d.damage_zh).to_string()}</p>
                                <h2>{lang.t("What to do")}</h2>
                                <p>{lang.either(&d.control, &d.control_zh).to_string()}</p>
                            </section>
                            <p class="hint" data-testid="known-to-model">
                                {if d.known_to_model { lang.t("The active model can name this species.") } else { lang.t("The active model does not know this species yet; a model fine-tuned on labelled photos can.") }}
                            </p>
                            <SpeciesDescriptions key=s.key.clone()/>
                            <SpeciesPhotos photos=d.photos.clone()/>
                            <section>
                                <h2>{lang.t("Your sightings")}</h2>
                                {if d.sightings.is_empty() {
                                    view! { <p class="hint">{lang.t("None yet. Photos you identify as this species while signed in appear here.")}</p> }.into_any()
                                } else {
                                    view! {
                                        <ul class="sightings" id="sightings">
                                            {d.sightings.into_iter().map(|r| view! {
                                                <li>
                                                    <a href=format!("/results/{}", r.id)>
                                                        <img src=format!("/photos/{}/thumb", r.image_sha256) alt=format!("{} {}", lang.t("Photo of"), r.created_at) width="96" height="96" loading="lazy"/>
                                                        <span class="hint">{r.created_at.clone()}</span>
                                                    </a>
                                                </li>
                                            }).collect_view()}
                                        </ul>
                                    }.into_any()
                                }}
                            </section>
                            {(!d.relatives.is_empty()).then(|| view! {
                                <section>
                                    <h2>{lang.t("Same family")}</h2>
                                    <ul class="relatives">
                                        {d.relatives.into_iter().map(|r| view! { <li><SpeciesLink species=r/></li> }).collect_view()}
                                    </ul>
                                </section>
                            })}
                        </article>
                    }.into_any()
                }
                Err(e) => {
                    e.answer_page_with_status();
                    view! {
                        <Title text=lang.t("Species")/>
                        <h1>{lang.t("Species")}</h1>
                        <p class="error" role="alert">{e.to_string()}</p>
                    }.into_any()
                }
            })}
        </Suspense>
        <p><a href="/species">{lang.t("All species")}</a></p>
    }
}

/// The portal's own photos of a species, each with what confirms it and where it came from.
#[component]
fn SpeciesPhotos(photos: Vec<SpeciesPhotoView>) -> impl IntoView {
    let lang = use_lang();
    view! {
        <section class="species-photos">
            <h2>{lang.t("Photos from this portal")}</h2>
            {if photos.is_empty() {
                view! { <p class="hint">{lang.t("None shared yet. Photos people share from their results appear here once the species is confirmed.")}</p> }.into_any()
            } else {
                view! {
                    <ul class="gallery" id="species-photos">
                        {photos.into_iter().map(|p| {
                            let confirmed = match p.probability {
                                Some(pr) if !p.labelled => format!("{} {:.0} %", lang.t("model's answer"), pr * 100.0),
                                _ => lang.t("confirmed by people").to_string(),
                            };
                            let caption = [Some(confirmed), p.taken_on.clone(), p.place.clone()]
                                .into_iter()
                                .flatten()
                                .collect::<Vec<_>>()
                                .join(" · ");
                            view! {
                                <li>
                                    <figure>
                                        <a href=format!("/photos/{}", p.image_sha256)>
                                            <img src=format!("/photos/{}/thumb", p.image_sha256) alt=lang.t("A photo shared on this portal") width="160" height="160" loading="lazy"/>
                                        </a>
                                        <figcaption class="hint">{caption}<br/>{lang.t("Shared by a member of this portal")}</figcaption>
                                    </figure>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
    }
}

fn or_dash(s: &str) -> String {
    if s.is_empty() {
        "—".into()
    } else {
        s.to_string()
    }
}
