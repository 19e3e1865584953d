//! The Commands page (predefined jobs and their runs) and one job's live page: progress,
//! time left, loss curve, log, and cancel / resume / restart.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::api::{get_commands, get_job, CancelJob, EpochPoint, JobRow, RestartJob, ResumeJob, RunCommand};
use crate::auth::action_error;
use crate::i18n::use_lang;

#[component]
pub fn CommandsPage() -> impl IntoView {
    let lang = use_lang();
    let run = ServerAction::<RunCommand>::new();
    let run_error = action_error(run);
    let tick = RwSignal::new(0u32);
    let overview = Resource::new(move || (run.version().get(), tick.get()), |_| get_commands());
    #[cfg(feature = "hydrate")]
    {
        let busy = move || {
            overview
                .get()
                .and_then(|r| r.ok())
                .is_some_and(|o| o.jobs.iter().any(|j| j.state == "queued" || j.state == "running"))
        };
        if let Ok(handle) = set_interval_with_handle(
            move || {
                if busy() {
                    tick.update(|t| *t += 1)
                }
            },
            std::time::Duration::from_secs(2),
        ) {
            on_cleanup(move || handle.clear());
        }
    }
    view! {
        <Title text=lang.t("Commands")/>
        <h1>{lang.t("Commands")}</h1>
        <p class="hint">{lang.t("Predefined jobs from the commands file. Each runs in the background; its page shows live progress and log. No other command can be run from here.")}</p>
        {move || run_error().map(|m| view! { <p class="error" role="alert" id="command-error">{m}</p> })}
        <Suspense fallback=move || view! { <p>{lang.t("Loading…")}</p> }>
            {move || overview.get().map(|r| match r {
                Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                Ok(o) => view! {
                    <div class="command-grid">
                        {o.commands.into_iter().map(|c| { let section_id = format!("command-{}", c.name); view! {
                            <section class="card command" id=section_id>
                                <h2>{c.title.clone()}</h2>
                                <p class="hint">{c.description.clone()}</p>
                                <ActionForm action=run attr:class="form">
                                    <input type="hidden" name="command" value=c.name.clone()/>
                                    {c.params.into_iter().map(|p| {
                                        let field = format!("values[{}]", p.name);
                                        let input = if p.kind == "integer" || p.kind == "name" {
                                            view! {
                                                <input name=field type=if p.kind == "integer" { "number" } else { "text" }
                                                    min=p.min.map(|m| m.to_string()) max=p.max.map(|m| m.to_string())
                                                    value=p.default.clone() required=!p.optional/>
                                            }.into_any()
                                        } else {
                                            let default = p.default.clone();
                                            view! {
                                                <select name=field required=!p.optional>
                                                    {p.options.is_empty().then(|| view! { <option value="">{lang.t("(nothing to choose yet)")}</option> })}
                                                    {p.options.into_iter().map(|(value, text)| {
                                                        let selected = value == default;
                                                        view! { <option value=value selected=selected>{text}</option> }
                                                    }).collect_view()}
                                                </select>
                                            }.into_any()
                                        };
                                        view! { <label>{p.label.clone()}{input}</label> }
                                    }).collect_view()}
                                    <button type="submit" class="button primary">{lang.t("Run")}</button>
                                </ActionForm>
                            </section>
                        }}).collect_view()}
                    </div>
                    <section class="card">
                        <h2>{lang.t("Jobs")}</h2>
                        <JobTable jobs=o.jobs/>
                    </section>
                }.into_any(),
            })}
        </Suspense>
    }
}

#[component]
fn JobTable(jobs: Vec<JobRow>) -> impl IntoView {
    let lang = use_lang();
    if jobs.is_empty() {
        return view! { <p>{lang.t("No jobs yet.")}</p> }.into_any();
    }
    view! {
        <div class="table-wrap">
            <table class="data" id="jobs">
                <thead><tr><th>"#"</th><th>{lang.t("Job")}</th><th>{lang.t("State")}</th><th>{lang.t("Progress")}</th><th>{lang.t("Queued")}</th><th>{lang.t("Outcome")}</th></tr></thead>
                <tbody>
                    {jobs.into_iter().map(|j| view! {
                        <tr data-job=j.id.to_string() data-state=j.state.clone()>
                            <td><a href=format!("/jobs/{}", j.id)>{j.id}</a></td>
                            <td>{if j.command.is_empty() { j.kind.clone() } else { j.command.clone() }}</td>
                            <td><span class=format!("badge state-{}", j.state)>{lang.t(state_text(&j.state))}</span></td>
                            <td>{j.fraction.map(|f| view! { <progress max="100" value=format!("{:.0}", f * 100.0)></progress> })}" "{j.phase.clone()}</td>
                            <td>{j.created_at.clone()}</td>
                            <td class="summary">{j.summary.clone()}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

fn state_text(state: &str) -> &'static str {
    match state {
        "queued" => "queued",
        "running" => "running",
        "succeeded" => "succeeded",
        "failed" => "failed",
        "cancelled" => "cancelled",
        "interrupted" => "interrupted",
        _ => "unknown",
    }
}

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
    let live =
        move || job.get().and_then(|r| r.ok()).is_some_and(|j| j.row.state == "queued" || j.row.state == "running");
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
                    let state = j.row.state.clone();
                    let running = state == "queued" || state == "running";
                    let resumable = matches!(state.as_str(), "interrupted" | "failed" | "cancelled");
                    view! {
                        // Without JavaScript the page refreshes itself while the job runs; with it the
                        // browser ignores what is inside <noscript> (and the page polls instead). Set as
                        // inner HTML: hydration leaves it alone, and leptos_meta would hoist a <Meta>
                        // into the head for everyone.
                        {running.then(|| view! { <div class="refresh" inner_html=r#"<noscript><meta http-equiv="refresh" content="2"></noscript>"#></div> })}
                        <h1>{format!("{} {} · {}", lang.t("Job"), id, if j.row.command.is_empty() { j.row.kind.clone() } else { j.row.command.clone() })}</h1>
                        <section class="card" id="job" data-state=state.clone()>
                            <p>
                                <span class=format!("badge state-{state}") id="job-state">{lang.t(state_text(&state))}</span>
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
