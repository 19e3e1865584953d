//! A species' alerts on its pressure page: what is watched, what is active, and for
//! administrators the form to set or remove a threshold.

use leptos::prelude::*;

use crate::api::{RemovePestAlert, SetPestAlert, SpeciesPressureView};
use crate::auth::action_error;
use crate::i18n::use_lang;

#[component]
pub fn AlertsSection(
    detail: SpeciesPressureView,
    set: ServerAction<SetPestAlert>,
    remove: ServerAction<RemovePestAlert>,
) -> impl IntoView {
    let lang = use_lang();
    let set_error = action_error(set);
    let remove_error = action_error(remove);
    let admin = detail.admin;
    let key = detail.species.key.clone();
    view! {
        <section class="card" id="alerts">
            <h2>{lang.t("Alerts")}</h2>
            {if detail.alerts.is_empty() {
                view! { <p class="hint">{lang.t("No alert is set for this species.")}</p> }.into_any()
            } else {
                view! {
                    <ul class="alert-list">
                        {detail.alerts.clone().into_iter().map(|a| {
                            let place = a.region.as_ref().map(|r| r.name.clone()).unwrap_or_else(|| lang.t("all regions").to_string());
                            let text = format!("{place}: {} {} · {} {}", lang.t("alert at"), a.weekly_threshold, lang.t("this week"), a.this_week);
                            view! {
                                <li class:alert-active=a.active>
                                    {text}
                                    {a.active.then(|| view! { <strong class="flag">{lang.t(" alert")}</strong> })}
                                    {admin.then(|| view! {
                                        <ActionForm action=remove attr:class="inline">
                                            <input type="hidden" name="id" value=a.id.to_string()/>
                                            <button type="submit" class="button small danger">{lang.t("Remove")}</button>
                                        </ActionForm>
                                    })}
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
            {admin.then(|| view! {
                <ActionForm action=set attr:class="form" attr:id="set-alert">
                    <input type="hidden" name="species" value=key.clone()/>
                    <label>{lang.t("Region")}
                        <select name="region">
                            <option value="">{lang.t("All regions")}</option>
                            {detail.regions.iter().map(|r| view! { <option value=r.key.clone()>{r.name.clone()}</option> }).collect_view()}
                        </select>
                    </label>
                    <label>{lang.t("Alert when a week has at least this many sightings")}
                        <input type="number" name="threshold" min="1" max="100000" required/>
                    </label>
                    <button type="submit" class="button">{lang.t("Set alert")}</button>
                </ActionForm>
            })}
            {move || set_error().or_else(remove_error).map(|m| view! { <p class="error" role="alert">{m}</p> })}
        </section>
    }
}
