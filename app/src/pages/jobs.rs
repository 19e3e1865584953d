//! One job's live page: progress, time left, loss curve, log, files, and cancel / resume /
//! restart.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::api::{get_job, CancelJob, EpochPoint, RestartJob, ResumeJob, VerdictRow};
use crate::auth::action_error;
use crate::i18n::use_lang;

fn duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{} h {} min", s / 3600, s % 3600 / 60)
    } else if s >= 60 {
        format!("{} min {} s", s / 60, s % 60)
    } else {
        format!("{s} s")
    }
}

/// Training loss (scaled to its largest value) and validation accuracy per epoch.
#[component]
fn LossCurve(history: Vec<EpochPoint>) -> impl IntoView {
    let lang = use_lang();
    let (w, h) = (480.0, 200.0);
    let n = history.len().max(2) as f64 - 1.0;
    let max_loss = history.iter().map(|e| e.train_loss).fold(f64::MIN_POSITIVE, f64::max);
    let points = |f: &dyn Fn(&EpochPoint) -> f64| {
        history
            .iter()
            .enumerate()
            .map(|(i, e)| format!("{:.1},{:.1}", i as f64 / n * w, h - f(e).clamp(0.0, 1.0) * h))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let loss = points(&|e| e.train_loss / max_loss);
    let accuracy = points(&|e| e.val_accuracy);
    let best = history.iter().map(|e| e.val_accuracy).fold(0.0, f64::max);
    view! {
        <figure class="loss-curve">
            <svg viewBox=format!("-4 -4 {} {}", w + 8.0, h + 8.0) role="img" aria-label=lang.t("Loss curve") id="loss-curve">
                <rect x="0" y="0" width=w.to_string() height=h.to_string() class="plot-area"/>
                <polyline points=loss class="loss" fill="none"/>
                <polyline points=accuracy class="accuracy" fill="none"/>
            </svg>
            <figcaption>
                <span class="key loss">{lang.t("training loss (relative)")}</span>" · "
                <span class="key accuracy">{lang.t("validation top-1")}</span>
                {format!(" · {} {} · best {:.2} %", history.len(), lang.t("epochs"), best * 100.0)}
            </figcaption>
        </figure>
    }
}

/// An evaluation's verdicts: how often each kind was given and how often it was right.
#[component]
fn VerdictTable(rows: Vec<VerdictRow>) -> impl IntoView {
    let lang = use_lang();
    let pct = |x: f64| format!("{:.1} %", x * 100.0);
    view! {
        <div class="table-wrap">
            <table class="data" id="verdicts">
                <thead><tr>
                    <th>{lang.t("Verdict")}</th><th>{lang.t("Answers")}</th><th>{lang.t("Share")}</th>
                    <th>{lang.t("Right")}</th><th>{lang.t("95 % interval")}</th>
                </tr></thead>
                <tbody>
                    {rows.into_iter().map(|r| view! {
                        <tr>
                            <td>{lang.t(r.kind.label())}</td><td>{r.answers}</td><td>{pct(r.share)}</td>
                            <td>{pct(r.right)}</td><td>{super::model_quality::interval(r.right_interval)}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
pub fn JobPage() -> impl IntoView {
    let lang = use_lang();
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").and_then(|s| s.parse::<i64>().ok()).unwrap_or_default());
    let (cancel, resume, restart) =
        (ServerAction::<CancelJob>::new(), ServerAction::<ResumeJob>::new(), ServerAction::<RestartJob>::new());
    let errors = (action_error(cancel), action_error(resume), action_error(restart));
    let error = move || errors.0().or_else(errors.1).or_else(errors.2);
    let tick = RwSignal::new(0u32);
    let job = Resource::new(
        move || (id(), tick.get(), cancel.version().get(), resume.version().get()),
        |(id, ..)| get_job(id),
    );
    #[cfg(feature = "hydrate")]
    let live = move || job.get().and_then(|r| r.ok()).is_some_and(|j| j.row.state.is_active());
    #[cfg(feature = "hydrate")]
    {
        if let Ok(handle) = set_interval_with_handle(
            move || {
                if live() {
                    tick.update(|t| *t += 1)
                }
            },
            std::time::Duration::from_secs(1),
        ) {
            on_cleanup(move || handle.clear());
        }
    }
    view! {
        <Title text=move || format!("{} {}", lang.t("Job"), id())/>
        <p><a href="/commands">{lang.t("Commands")}</a></p>
        {move || error().map(|m| view! { <p class="error" role="alert" id="job-error">{m}</p> })}
        <Suspense fallback=move || view! { <p>{lang.t("Loading…")}</p> }>
            {move || job.get().map(|r| match r {
                Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                Ok(j) => {
                    let id = j.row.id;
                    let state = j.row.state;
                    let running = state.is_active();
                    let resumable = state.is_resumable();
                    view! {
                        // Without JavaScript the page refreshes itself while the job runs; with it the
                        // browser ignores what is inside <noscript> (and the page polls instead). Set as
                        // inner HTML: hydration leaves it alone, and leptos_meta would hoist a <Meta>
                        // into the head for everyone.
                        {running.then(|| view! { <div class="refresh" inner_html=r#"<noscript><meta http-equiv="refresh" content="2"></noscript>"#></div> })}
                        <h1>{format!("{} {} · {}", lang.t("Job"), id, if j.row.command.is_empty() { j.row.kind.clone() } else { j.row.command.clone() })}</h1>
                        <section class="card" id="job" data-state=state.as_str()>
                            <p>
                                <span class=format!("badge state-{}", state.as_str()) id="job-state">{lang.t(state.as_str())}</span>
                                {j.cancel_requested.then(|| view! { " " <span class="hint">{lang.t("stopping at the next checkpoint…")}</span> })}
                            </p>
                            {j.row.fraction.map(|f| view! {
                                <p class="job-progress">
                                    <progress max="100" value=format!("{:.0}", f * 100.0)></progress>
                                    {format!(" {:.0} % · {}", f * 100.0, j.row.phase)}
                                    {j.done.zip(j.total).map(|(d, t)| format!(" · {d:.0} / {t:.0}"))}
                                    {j.eta_seconds.filter(|_| running).map(|s| format!(" · {} {}", duration(s), lang.t("left")))}
                                </p>
                            })}
                            <table class="facts">
                                <tbody>
                                    <tr><th scope="row">{lang.t("Queued")}</th><td>{j.row.created_at.clone()}</td></tr>
                                    <tr><th scope="row">{lang.t("Started")}</th><td>{j.started_at.clone().unwrap_or_default()}</td></tr>
                                    <tr><th scope="row">{lang.t("Finished")}</th><td>{j.finished_at.clone().unwrap_or_default()}</td></tr>
                                    <tr><th scope="row">{lang.t("Attempts")}</th><td>{j.attempts}{(!j.worker.is_empty()).then(|| format!(" · {}", j.worker))}</td></tr>
                                </tbody>
                            </table>
                            {(!j.error.is_empty()).then(|| view! { <p class="error" role="alert" id="job-failure">{j.error.clone()}</p> })}
                            <div class="actions">
                                {running.then(|| view! {
                                    <ActionForm action=cancel attr:class="inline">
                                        <input type="hidden" name="id" value=id.to_string()/>
                                        <button type="submit" class="button danger" id="job-cancel">{lang.t("Cancel")}</button>
                                    </ActionForm>
                                })}
                                {resumable.then(|| view! {
                                    <ActionForm action=resume attr:class="inline">
                                        <input type="hidden" name="id" value=id.to_string()/>
                                        <button type="submit" class="button" id="job-resume">{lang.t("Resume")}</button>
                                    </ActionForm>
                                })}
                                {(!running).then(|| view! {
                                    <ActionForm action=restart attr:class="inline">
                                        <input type="hidden" name="id" value=id.to_string()/>
                                        <button type="submit" class="button" id="job-restart">{lang.t("Restart")}</button>
                                    </ActionForm>
                                })}
                            </div>
                        </section>
                        {(!j.history.is_empty()).then(|| view! { <section class="card"><h2>{lang.t("Training")}</h2><LossCurve history=j.history.clone()/></section> })}
                        {(!j.files.is_empty()).then(|| view! {
                            <section class="card job-files">
                                <h2>{lang.t("Results")}</h2>
                                {j.files.iter().filter(|f| f.ends_with(".png")).map(|f| view! {
                                    <figure><img src=format!("/jobs/{id}/files/{f}") alt=f.clone()/><figcaption>{f.clone()}</figcaption></figure>
                                }).collect_view()}
                                <p><a href=format!("/jobs/{id}/files/report.json")>"report.json"</a></p>
                            </section>
                        })}
                        {(!j.verdicts.is_empty()).then(|| view! { <section class="card"><h2>{lang.t("Verdicts")}</h2><VerdictTable rows=j.verdicts.clone()/></section> })}
                        {(!j.result.is_empty()).then(|| view! { <section class="card"><h2>{lang.t("Outcome")}</h2><pre id="job-result">{j.result.clone()}</pre></section> })}
                        <section class="card">
                            <h2>{lang.t("Parameters")}</h2>
                            <pre>{j.params.clone()}</pre>
                            <h2>{lang.t("Log")}</h2>
                            <pre class="log" id="job-log">{j.log.clone()}</pre>
                        </section>
                    }.into_any()
                }
            })}
        </Suspense>
    }
}
