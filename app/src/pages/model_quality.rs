//! The Models page's quality sections (evaluations, comparison, shadow mode) and the
//! comparison page.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::{compare_evaluations, get_evaluations, get_shadow, ShadowOff, ShadowOn};
use crate::auth::action_error;
use crate::i18n::use_lang;

fn pct(x: f64) -> String {
    format!("{:.2} %", x * 100.0)
}

/// A 95 % interval, as "84.3–89.4 %".
pub(crate) fn interval((low, high): (f64, f64)) -> String {
    format!("{:.1}–{:.1} %", low * 100.0, high * 100.0)
}

/// Finished evaluations, and a form choosing two to compare.
#[component]
pub fn Evaluations() -> impl IntoView {
    let lang = use_lang();
    let list = Resource::new(|| (), |_| get_evaluations());
    view! {
        <Suspense fallback=|| ()>
            {move || list.get().map(|r| match r {
                Err(_) => ().into_any(),
                Ok(rows) => view! {
                    <section class="card" aria-labelledby="evaluations-title">
                        <h2 id="evaluations-title">{lang.t("Evaluations")}</h2>
                        <p class="hint">
                            {lang.t("Evaluate and fine-tune on the")}" "<a href="/commands">{lang.t("Commands")}</a>" "{lang.t("page.")}
                        </p>
                        {if rows.is_empty() {
                            view! { <p>{lang.t("No evaluations yet.")}</p> }.into_any()
                        } else {
                            let options = rows.iter().map(|r| (r.job.to_string(), format!("#{} {} · {} ({})", r.job, r.model, r.dataset, r.split))).collect::<Vec<_>>();
                            let second = options.get(1).map(|o| o.0.clone()).unwrap_or_default();
                            view! {
                                <div class="table-wrap">
                                    <table class="data" id="evaluations">
                                        <thead><tr><th>"#"</th><th>{lang.t("Model")}</th><th>{lang.t("Dataset")}</th><th>"top-1"</th><th>{lang.t("95 % interval")}</th><th>"top-5"</th><th>"ECE"</th><th>{lang.t("Photos")}</th></tr></thead>
                                        <tbody>
                                            {rows.into_iter().map(|r| view! {
                                                <tr data-job=r.job.to_string()>
                                                    <td><a href=format!("/jobs/{}", r.job)>{r.job}</a></td>
                                                    <td>{r.model}</td>
                                                    <td>{format!("{} ({})", r.dataset, r.split)}</td>
                                                    <td class="top1">{pct(r.top1)}</td>
                                                    <td class="top1-interval">{interval(r.top1_interval)}</td>
                                                    <td>{pct(r.top5)}</td>
                                                    <td>{format!("{:.3}", r.ece)}</td>
                                                    <td>{r.images}</td>
                                                </tr>
                                            }).collect_view()}
                                        </tbody>
                                    </table>
                                </div>
                                <form method="get" action="/models/compare" class="form inline" id="compare-form">
                                    <label>"A"<select name="a">{options.iter().map(|(v, t)| view! { <option value=v.clone()>{t.clone()}</option> }).collect_view()}</select></label>
                                    <label>"B"<select name="b">{options.iter().map(|(v, t)| {
                                        let selected = *v == second;
                                        view! { <option value=v.clone() selected=selected>{t.clone()}</option> }
                                    }).collect_view()}</select></label>
                                    <button type="submit" class="button">{lang.t("Compare side by side")}</button>
                                </form>
                            }.into_any()
                        }}
                    </section>
                }.into_any(),
            })}
        </Suspense>
    }
}

/// The candidate in shadow: agreement with the active model on live photos, disagreements.
#[component]
pub fn ShadowSection(on: ServerAction<ShadowOn>) -> impl IntoView {
    let lang = use_lang();
    let off = ServerAction::<ShadowOff>::new();
    let off_error = action_error(off);
    let shadow = Resource::new(move || (on.version().get(), off.version().get()), |_| get_shadow());
    view! {
        <Suspense fallback=|| ()>
            {move || shadow.get().map(|r| match r {
                Err(_) => ().into_any(),
                Ok(None) => view! {
                    <section class="card" id="shadow">
                        <h2>{lang.t("Shadow mode")}</h2>
                        <p>{lang.t("No candidate is running in shadow. Choose Shadow on an installed version to run it beside the active model on live photos.")}</p>
                    </section>
                }.into_any(),
                Ok(Some(s)) => view! {
                    <section class="card" id="shadow" data-model=s.model_id.to_string()>
                        <h2>{lang.t("Shadow mode")}</h2>
                        {move || off_error().map(|m| view! { <p class="error" role="alert">{m}</p> })}
                        <p>{format!("{}: {}", lang.t("Candidate"), s.model)}</p>
                        <p id="shadow-agreement">
                            {format!("{} {} / {} ({:.1} %) · {:.0} ms", lang.t("Agreement"), s.agreed, s.compared, s.agreement_rate * 100.0, s.mean_millis)}
                        </p>
                        {(!s.disagreements.is_empty()).then(|| view! {
                            <div class="table-wrap">
                                <table class="data" id="shadow-disagreements">
                                    <thead><tr><th>{lang.t("Photo")}</th><th>{lang.t("Active model")}</th><th>{lang.t("Candidate")}</th><th>{lang.t("When")}</th></tr></thead>
                                    <tbody>
                                        {s.disagreements.iter().map(|d| view! {
                                            <tr>
                                                <td><a href=format!("/results/{}", d.identification_id)><img class="thumb" src=format!("/photos/{}/thumb", d.image_sha256) alt="" loading="lazy"/></a></td>
                                                <td>{d.active.clone()}</td>
                                                <td>{d.candidate.clone()}</td>
                                                <td>{d.at.clone()}</td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                        })}
                        <ActionForm action=off attr:class="inline">
                            <button type="submit" class="button" id="shadow-off">{lang.t("Stop shadow mode")}</button>
                        </ActionForm>
                    </section>
                }.into_any(),
            })}
        </Suspense>
    }
}

/// The button that puts a version in shadow (in the registry's table).
#[component]
pub fn ShadowButton(id: i64, action: ServerAction<ShadowOn>) -> impl IntoView {
    let lang = use_lang();
    view! {
        <ActionForm action=action attr:class="inline">
            <input type="hidden" name="id" value=id.to_string()/>
            <button type="submit" class="button small">{lang.t("Shadow")}</button>
        </ActionForm>
    }
}

#[component]
pub fn ComparePage() -> impl IntoView {
    let lang = use_lang();
    let query = use_query_map();
    let ids = move || {
        query.with(|q| {
            (
                q.get("a").and_then(|s| s.parse().ok()).unwrap_or(0i64),
                q.get("b").and_then(|s| s.parse().ok()).unwrap_or(0i64),
            )
        })
    };
    let comparison = Resource::new(ids, |(a, b)| compare_evaluations(a, b));
    view! {
        <Title text=lang.t("Comparison")/>
        <h1>{lang.t("Two models side by side")}</h1>
        <p><a href="/models">{lang.t("Models")}</a></p>
        <Suspense fallback=move || view! { <p>{lang.t("Loading…")}</p> }>
            {move || comparison.get().map(|r| match r {
                Err(e) => view! { <p class="error" role="alert" id="compare-error">{e.to_string()}</p> }.into_any(),
                Ok(c) => {
                    let verdict = if c.mcnemar_p < 0.05 {
                        lang.t("The difference in accuracy is unlikely to be chance (p < 0.05).")
                    } else {
                        lang.t("The difference in accuracy could be chance (p ≥ 0.05).")
                    };
                    view! {
                        <section class="card" id="comparison">
                            <p>{format!("{} · {} {}", c.dataset, c.photos, lang.t("photos"))}</p>
                            <table class="data">
                                <thead><tr><th></th><th>{format!("A: {}", c.a.model)}</th><th>{format!("B: {}", c.b.model)}</th></tr></thead>
                                <tbody>
                                    <tr><th scope="row">"top-1"</th><td class="a-top1">{pct(c.a.top1)}</td><td class="b-top1">{pct(c.b.top1)}</td></tr>
                                    <tr><th scope="row">"top-5"</th><td>{pct(c.a.top5)}</td><td>{pct(c.b.top5)}</td></tr>
                                    <tr><th scope="row">"ECE"</th><td>{format!("{:.3}", c.a.ece)}</td><td>{format!("{:.3}", c.b.ece)}</td></tr>
                                    <tr><th scope="row">{lang.t("Photos per second")}</th><td>{format!("{:.1}", c.a.images_per_second)}</td><td>{format!("{:.1}", c.b.images_per_second)}</td></tr>
                                    <tr><th scope="row">{lang.t("Reliability diagram")}</th>
                                        <td><img src=format!("/jobs/{}/files/reliability.png", c.a.job) alt="A" class="plot"/></td>
                                        <td><img src=format!("/jobs/{}/files/reliability.png", c.b.job) alt="B" class="plot"/></td></tr>
                                </tbody>
                            </table>
                            <p id="compare-photos">{format!(
                                "{} {} · {} {} · {} {} · {} {} · {} {}",
                                c.both_right, lang.t("both right"), c.only_a_right, lang.t("only A right"), c.only_b_right, lang.t("only B right"),
                                c.both_wrong, lang.t("both wrong"), c.same_answer, lang.t("same answer"),
                            )}</p>
                            <p>{format!("McNemar p = {:.4}. ", c.mcnemar_p)}{verdict}</p>
                        </section>
                        <section class="card">
                            <h2>{lang.t("Per class")}</h2>
                            <div class="table-wrap">
                                <table class="data" id="compare-classes">
                                    <thead><tr><th>{lang.t("Class")}</th><th>{lang.t("Photos")}</th><th>{lang.t("Recall A")}</th><th>{lang.t("Recall B")}</th><th>{lang.t("Precision A")}</th><th>{lang.t("Precision B")}</th></tr></thead>
                                    <tbody>
                                        {c.per_class.into_iter().map(|p| {
                                            let better = if p.recall.1 > p.recall.0 { "b-better" } else if p.recall.0 > p.recall.1 { "a-better" } else { "" };
                                            view! {
                                                <tr class=better>
                                                    <td>{p.name}</td><td>{p.support}</td>
                                                    <td>{pct(p.recall.0)}</td><td>{pct(p.recall.1)}</td>
                                                    <td>{pct(p.precision.0)}</td><td>{pct(p.precision.1)}</td>
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                        </section>
                    }.into_any()
                }
            })}
        </Suspense>
    }
}

/// `/models/{id}/identifications`: what one version answered, newest first.
#[component]
pub fn VersionIdentificationsPage() -> impl IntoView {
    let lang = use_lang();
    let params = leptos_router::hooks::use_params_map();
    let query = use_query_map();
    let id = move || params.with(|p| p.get("id").and_then(|s| s.parse::<i64>().ok()).unwrap_or_default());
    let page = move || query.with(|q| q.get("page").and_then(|s| s.parse::<u64>().ok()).unwrap_or(0));
    let list = Resource::new(move || (id(), page()), |(id, page)| crate::api::get_model_identifications(id, page));
    view! {
        <Title text=lang.t("Identifications")/>
        <p><a href="/models">{lang.t("Models")}</a></p>
        <Suspense fallback=move || view! { <p>{lang.t("Loading…")}</p> }>
            {move || list.get().map(|r| match r {
                Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                Ok(v) => {
                    let h = v.history;
                    let pages = h.total.div_ceil(h.per_page).max(1);
                    let id = id();
                    view! {
                        <h1>{format!("{} · {}", v.model, lang.t("Identifications"))}</h1>
                        <p>{format!("{} {} · {} {} / {pages}", h.total, lang.t("identifications"), lang.t("page"), h.page + 1)}</p>
                        <ul class="history" id="version-identifications">
                            {h.items.into_iter().map(|r| view! {
                                <li class="card history-item" data-id=r.id>
                                    <a href=format!("/results/{}", r.id)>
                                        <img src=format!("/photos/{}/thumb", r.image_sha256) alt="" loading="lazy" width="96" height="96"/>
                                    </a>
                                    <div>
                                        <a href=format!("/results/{}", r.id)><strong>{crate::components::verdict::verdict_text(lang, &r)}</strong></a>
                                        <p class="hint">{r.created_at.clone()}</p>
                                    </div>
                                </li>
                            }).collect_view()}
                        </ul>
                        <nav class="pager" aria-label=lang.t("History pages")>
                            {(h.page > 0).then(|| view! { <a href=format!("/models/{id}/identifications?page={}", h.page - 1)>{lang.t("← Newer")}</a> })}
                            {(h.page + 1 < pages).then(|| view! { <a href=format!("/models/{id}/identifications?page={}", h.page + 1)>{lang.t("Older →")}</a> })}
                        </nav>
                    }.into_any()
                }
            })}
        </Suspense>
    }
}
