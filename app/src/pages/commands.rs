//! The Commands page: the predefined jobs an administrator may run, and the latest runs.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::{get_commands, JobRow, ParamInput, RunCommand};
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
        let busy =
            move || overview.get().and_then(|r| r.ok()).is_some_and(|o| o.jobs.iter().any(|j| j.state.is_active()));
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
                                        let input = if p.input != ParamInput::List {
                                            view! {
                                                <input name=field type=if p.input == ParamInput::Number { "number" } else { "text" }
                                                    min=p.min.map(|m| m.to_string()) max=p.max.map(|m| m.to_string())
                                                    value=p.default.clone() required=!p.optional/>
                                            }.into_any()
                                        } else {
                                            let default = p.default.clone();
                                            view! {
                                                <select name=field required=!p.optional>
                                                    {p.options.is_empty().then(|| view! { <option value="">{lang.t("(nothing to choose yet)")}</option> })}
                                                    {(p.optional && !p.options.is_empty()).then(|| view! { <option value="">{lang.t("(not set)")}</option> })}
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
                        <tr data-job=j.id.to_string() data-state=j.state.as_str()>
                            <td><a href=format!("/jobs/{}", j.id)>{j.id}</a></td>
                            <td>{if j.command.is_empty() { j.kind.clone() } else { j.command.clone() }}</td>
                            <td><span class=format!("badge state-{}", j.state.as_str())>{lang.t(j.state.as_str())}</span></td>
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
