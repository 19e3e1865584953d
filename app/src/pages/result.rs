//! One identification's result: the answer, the top classes, the species card, similar
//! species, the heat map and the feedback form.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::species::SpeciesLink;
use crate::api::{get_identification, ClassScore, ResultView, UpdateObservation, VerdictKind};
use crate::components::verdict::verdict_text;
use crate::i18n::{use_lang, Lang};

/// A class as the page's language names it: the catalogue's name when there is one.
fn class_name(lang: Lang, c: &ClassScore) -> String {
    match &c.species {
        Some(s) => lang.species_name(&s.name_en, &s.name_zh).to_string(),
        None => c.label.clone(),
    }
}

#[component]
fn TopClasses(result: ResultView) -> impl IntoView {
    let lang = use_lang();
    view! {
        <ol class="top-classes" aria-label=lang.t("Most likely classes")>
            {result.top.into_iter().map(|c| {
                let pct = c.probability * 100.0;
                let name = class_name(lang, &c);
                let nearby = result.seen_nearby.iter().find(|n| n.label == c.label).map(|n| n.sightings);
                let label = match &c.species {
                    Some(s) => view! { <a class="label" href=format!("/species/{}", s.key)>{name}</a> }.into_any(),
                    None => view! { <span class="label">{name}</span> }.into_any(),
                };
                view! {
                    <li>
                        {label}
                        <span class="bar" role="presentation"><span style=format!("width: {pct:.1}%")></span></span>
                        <span class="pct">{format!("{pct:.1} %")}</span>
                        {nearby.map(|n| view! {
                            <span class="nearby" data-testid="seen-nearby">{format!("{} ({n})", lang.t("seen near you this season"))}</span>
                        })}
                    </li>
                }
            }).collect_view()}
        </ol>
    }
}

#[component]
pub fn ResultPage() -> impl IntoView {
    let lang = use_lang();
    let params = use_params_map();
    let query = use_query_map();
    let id = move || params.with(|p| p.get("id").and_then(|v| v.parse::<i64>().ok()).unwrap_or(0));
    let key = move || query.with(|q| q.get("key"));
    let save_observation = ServerAction::<UpdateObservation>::new();
    let result = Resource::new(
        move || (id(), key(), save_observation.version().get()),
        |(id, key, _)| get_identification(id, key),
    );
    let previous_id = move || query.with(|q| q.get("previous").and_then(|v| v.parse::<i64>().ok()));
    let previous = Resource::new(previous_id, |p| async move {
        match p {
            Some(p) => get_identification(p, None).await.ok(),
            None => None,
        }
    });
    view! {
        <Title text=lang.t("Result")/>
        <h1>{lang.t("Result")}</h1>
        <Suspense fallback=|| ()>
            {move || match (previous.get().flatten(), result.get().and_then(|r| r.ok())) {
                (Some(old), Some(new)) => {
                    let top = |r: &ResultView| r.top.first().map(|t| t.label.clone()).unwrap_or_default();
                    let model = format!("{} {}", new.model_name, new.model_version);
                    let text = if top(&old) == top(&new) && old.verdict == new.verdict {
                        format!("{} {model}: {} ({}).", lang.t("Identified again with"), lang.t("the same answer as before"), verdict_text(lang, &old))
                    } else {
                        format!("{} {model}: {} “{}” ({} {}).", lang.t("Identified again with"), lang.t("the answer changed from"), verdict_text(lang, &old), old.model_name, old.model_version)
                    };
                    Some(view! { <p class="notice" role="status" data-testid="rerun-comparison">{text}</p> })
                }
                _ => None,
            }}
        </Suspense>
        <Suspense fallback=move || view! { <p>{lang.t("Loading…")}</p> }>
            {move || result.get().map(|r| match r {
                Ok(r) => view! {
                    <div class="result">
                        <div>
                            <img class="photo" src=format!("/photos/{}", r.image_sha256) alt=lang.t("The photo you sent")/>
                            // A native disclosure: opens without JavaScript too.
                            <details class="heatmap" id="heatmap">
                                <summary>{lang.t("Where the model looked")}</summary>
                                <img
                                    src=format!("/results/{}/heatmap.png{}", r.id, key().map(|k| format!("?key={k}")).unwrap_or_default())
                                    alt=lang.t("Heat map over the part of the photo the model judged: red counted most")
                                    loading="lazy"
                                />
                            </details>
                        </div>
                        <section class="card">
                            <p class=format!("verdict {}", r.verdict.as_str()) data-testid="verdict">{verdict_text(lang, &r)}</p>
                            {r.answer_rate.clone().map(|rate| {
                                let pct = f64::from(rate.right) * 100.0 / f64::from(rate.answers.max(1));
                                view! {
                                    <p class="answer-rate" data-testid="answer-rate">
                                        {format!("{} {pct:.0} % {}", lang.t("Answers like this were right"), lang.t("of the time"))}
                                        <span class="hint">{format!(" ({} {} {}, {})", rate.right, lang.t("of"), rate.answers, rate.measured_on)}</span>
                                    </p>
                                }
                            })}
                            <TopClasses result=r.clone()/>
                            <p class="hint">{format!("{} {} {} · {:.0} ms · {}", lang.t("Model"), r.model_name, r.model_version, r.total_ms, r.created_at)}</p>
                        </section>
                        <SpeciesCard result=r.clone()/>
                        <Similar result=r.clone()/>
                        <super::feedback::FeedbackSection result=r.clone()/>
                        {r.observation.clone().map(|observation| view! {
                            <super::observation::ObservationSection id=r.id observation save=save_observation/>
                        })}
                    </div>
                }.into_any(),
                Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
            })}
        </Suspense>
        <p><a href="/upload">{lang.t("Identify another photo")}</a></p>
        <super::feedback::LabelChoices id="feedback-species"/>
    }
}

/// What the catalogue says about the answer: the species of a confident answer (or of an
/// uncertain answer's best guess, marked as such), or the pests of the family an answer rolled
/// up to.
#[component]
fn SpeciesCard(result: ResultView) -> impl IntoView {
    let lang = use_lang();
    if let Some(s) = result.species {
        let role = s.role.clone();
        return view! {
            <section class="card species-card" id="species-card">
                <h2>{lang.species_name(&s.name_en, &s.name_zh).to_string()}</h2>
                {(result.verdict == VerdictKind::Uncertain).then(|| view! {
                    <p class="notice uncertain-note" data-testid="uncertain-note">
                        {lang.t("The model is not certain of this: compare your photo with this species before acting.")}
                    </p>
                })}
                <p><em>{s.scientific.clone()}</em>" · "{format!("{} · {}", s.order, s.family)}</p>
                <p class=format!("role {role}")>{match role.as_str() {
                    "pest" => lang.t("A crop pest: see the damage it does and what to do."),
                    "beneficial" => lang.t("A beneficial animal: it helps against pests."),
                    "medical" => lang.t("Not a crop pest, but a risk to people or animals."),
                    _ => lang.t("Harmless to crops."),
                }}</p>
                <a class="button" href=format!("/species/{}", s.key)>{lang.t("Species card")}</a>
            </section>
        }
        .into_any();
    }
    if result.family_species.is_empty() {
        return ().into_any();
    }
    view! {
        <section class="card species-card" id="species-card">
            <h2>{format!("{} {}", lang.t("Known pests of the family"), result.verdict_name)}</h2>
            <ul>
                {result.family_species.into_iter().map(|s| view! { <li><SpeciesLink species=s/></li> }).collect_view()}
            </ul>
        </section>
    }
    .into_any()
}

/// Species the model finds most alike, to compare before trusting the answer.
#[component]
fn Similar(result: ResultView) -> impl IntoView {
    let lang = use_lang();
    (!result.similar.is_empty()).then(|| view! {
        <section class="card" id="similar-species">
            <h2>{lang.t("Similar species")}</h2>
            <p class="hint">{lang.t("Classes the model finds most alike; compare them before you trust the answer.")}</p>
            <ul>
                {result.similar.into_iter().map(|c| {
                    let name = class_name(lang, &c);
                    let similarity = format!(" · {:.2}", c.probability);
                    match c.species {
                        Some(s) => view! { <li><a href=format!("/species/{}", s.key)>{name}</a><span class="hint">{similarity}</span></li> }.into_any(),
                        None => view! { <li>{name}<span class="hint">{similarity}</span></li> }.into_any(),
                    }
                }).collect_view()}
            </ul>
        </section>
    })
}
