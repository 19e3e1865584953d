//! Pest pressure: the overview of all species and one species' year, with its regions and
//! alerts. Charts are SVG drawn on the server; every control is a plain form.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::{
    get_pest_pressure, get_species_pressure, AlertView, MailStateView, RegionView, RemovePestAlert, SetPestAlert,
    SetPestAlertSubscription, SubscriptionView,
};
use crate::auth::action_error;
use crate::components::chart::WeeklyBars;
use crate::i18n::{use_lang, Lang};

fn species_name(lang: Lang, s: &crate::api::SpeciesSummary) -> String {
    lang.species_name(&s.name_en, &s.name_zh).to_string()
}

/// "3 sightings this week in 48–49°N, 7–8°E (alert at 2)".
fn alert_text(lang: Lang, a: &AlertView) -> String {
    let place = a.region.as_ref().map(|r| r.name.clone()).unwrap_or_else(|| lang.t("all regions").to_string());
    format!(
        "{}: {} {} {place} ({} {})",
        species_name(lang, &a.species),
        a.this_week,
        lang.t("sightings this week in"),
        lang.t("alert at"),
        a.weekly_threshold
    )
}

/// A GET form choosing a region (or all), keeping the page.
#[component]
fn RegionPicker(action: String, regions: Vec<RegionView>, current: Option<String>) -> impl IntoView {
    let lang = use_lang();
    view! {
        <form method="get" action=action class="search region-picker">
            <label>{lang.t("Region")}
                <select name="region">
                    <option value="" selected=current.is_none()>{lang.t("All regions")}</option>
                    {regions.into_iter().map(|r| {
                        let selected = current.as_deref() == Some(r.key.as_str());
                        view! { <option value=r.key.clone() selected=selected>{format!("{} ({})", r.name, r.total)}</option> }
                    }).collect_view()}
                </select>
            </label>
            <button type="submit" class="button">{lang.t("Show")}</button>
        </form>
    }
}

#[component]
pub fn PressurePage() -> impl IntoView {
    let lang = use_lang();
    let query = use_query_map();
    let region = move || query.with(|q| q.get("region").unwrap_or_default());
    let subscribe = ServerAction::<SetPestAlertSubscription>::new();
    let overview = Resource::new(move || (region(), subscribe.version().get()), |(r, _)| get_pest_pressure(r));
    view! {
        <Title text=lang.t("Pest pressure")/>
        <h1>{lang.t("Pest pressure")}</h1>
        <p>{lang.t("Confirmed sightings people shared (a label, or a confident answer), per week over the last year. Regions are one-degree cells, about 111 km across.")}</p>
        <Suspense fallback=move || view! { <p>{lang.t("Loading…")}</p> }>
            {move || overview.get().map(|r| match r {
                Ok(o) => {
                    let current = o.region.as_ref().map(|r| r.key.clone());
                    let csv = format!("/api/v1/pressure.csv{}", current.as_ref().map(|k| format!("?region={k}")).unwrap_or_default());
                    view! {
                        <RegionPicker action="/pressure".into() regions=o.regions.clone() current=current.clone()/>
                        {(!o.active_alerts.is_empty()).then(|| view! {
                            <section class="card alerts" id="active-alerts">
                                <h2>{lang.t("Alerts")}</h2>
                                <ul>{o.active_alerts.iter().map(|a| view! { <li class="alert-active">{alert_text(lang, a)}</li> }).collect_view()}</ul>
                            </section>
                        })}
                        {if o.rows.is_empty() {
                            view! { <p class="notice" role="status" id="pressure-none">{lang.t("No confirmed sightings shared here in the last year.")}</p> }.into_any()
                        } else {
                            view! {
                                <div class="table-wrap">
                                    <table class="data pressure" id="pressure-table">
                                        <thead><tr>
                                            <th>{lang.t("Species")}</th><th>{lang.t("Last 52 weeks")}</th>
                                            <th>{lang.t("This week")}</th><th>{lang.t("Year")}</th>
                                        </tr></thead>
                                        <tbody>
                                            {o.rows.iter().map(|row| {
                                                let name = species_name(lang, &row.species);
                                                let href = format!("/pressure/{}{}", row.species.key, current.as_ref().map(|k| format!("?region={k}")).unwrap_or_default());
                                                view! {
                                                    <tr class:alert-active=row.alert_active>
                                                        <td><a href=href>{name.clone()}</a>{row.alert_active.then(|| view! { <strong class="flag">{lang.t(" alert")}</strong> })}</td>
                                                        <td><WeeklyBars counts=row.weekly.clone() weeks=o.weeks.clone() label=format!("{name}: {}", lang.t("sightings per week")) small=true/></td>
                                                        <td>{row.this_week}</td>
                                                        <td>{row.total}</td>
                                                    </tr>
                                                }
                                            }).collect_view()}
                                        </tbody>
                                    </table>
                                </div>
                            }.into_any()
                        }}
                        <p><a href=csv download>{lang.t("Download as CSV")}</a></p>
                        {o.subscription.map(|current| view! { <Subscription current subscribe/> })}
                    }.into_any()
                }
                Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
            })}
        </Suspense>
    }
}

#[component]
fn Subscription(current: SubscriptionView, subscribe: ServerAction<SetPestAlertSubscription>) -> impl IntoView {
    let lang = use_lang();
    let error = action_error(subscribe);
    let query = use_query_map();
    let saved = move || {
        error().is_none()
            && (query.with(|q| q.get("alerts").is_some()) || matches!(subscribe.value().get(), Some(Ok(()))))
    };
    let by_email = !matches!(current.mail, MailStateView::Off);
    let mail_note = match &current.mail {
        MailStateView::Off => None,
        MailStateView::Waiting(a) => Some(format!(
            "{} {a}. {}",
            lang.t("A confirmation link was mailed to"),
            lang.t("Alerts are mailed once you follow it.")
        )),
        MailStateView::Confirmed(a) => Some(format!("{} {a}.", lang.t("Alerts are mailed to"))),
    };
    view! {
        <section class="card" id="alert-subscription">
            <ActionForm action=subscribe attr:class="form">
                <label class="check">
                    <input type="checkbox" name="on" value="on" checked=current.on_visit/>
                    {lang.t("Show me pest alerts when I visit")}
                </label>
                {current.mail_available.then(|| view! {
                    <label class="check">
                        <input type="checkbox" name="email" value="on" checked=by_email/>
                        {lang.t("E-mail them to me (once a week per alert, to the address on My account)")}
                    </label>
                })}
                {mail_note.map(|n| view! { <p class="hint" data-testid="alert-mail-state">{n}</p> })}
                <button type="submit" class="button">{lang.t("Save")}</button>
            </ActionForm>
            {move || error().map(|m| view! { <p class="error" role="alert">{m}</p> })}
            {move || saved().then(|| view! { <p class="notice" role="status">{lang.t("Saved.")}</p> })}
        </section>
    }
}

#[component]
pub fn SpeciesPressurePage() -> impl IntoView {
    let lang = use_lang();
    let params = use_params_map();
    let query = use_query_map();
    let key = move || params.with(|p| p.get("key").unwrap_or_default());
    let region = move || query.with(|q| q.get("region").unwrap_or_default());
    let set = ServerAction::<SetPestAlert>::new();
    let remove = ServerAction::<RemovePestAlert>::new();
    let detail = Resource::new(
        move || (key(), region(), set.version().get(), remove.version().get()),
        |(k, r, _, _)| get_species_pressure(k, r),
    );
    view! {
        <Suspense fallback=move || view! { <p>{lang.t("Loading…")}</p> }>
            {move || detail.get().map(|r| match r {
                Ok(d) => {
                    let name = species_name(lang, &d.species);
                    let title = format!("{name}: {}", lang.t("pest pressure"));
                    let current = d.region.as_ref().map(|r| r.key.clone());
                    let place = d.region.as_ref().map(|r| r.name.clone()).unwrap_or_else(|| lang.t("all regions").to_string());
                    view! {
                        <Title text=title.clone()/>
                        <h1>{title.clone()}</h1>
                        <p>{format!("{} {} {place}.", d.total, lang.t("confirmed sightings in the last 52 weeks in"))}" "
                            <a href=format!("/species/{}", d.species.key)>{lang.t("Species card")}</a></p>
                        <RegionPicker action=format!("/pressure/{}", d.species.key) regions=d.regions.clone() current=current.clone()/>
                        <figure class="card chart" id="pressure-chart">
                            <WeeklyBars counts=d.weekly.clone() weeks=d.weeks.clone() label=format!("{title}, {place}: {}", lang.t("sightings per week"))/>
                            <figcaption class="hint">{format!("{} {} – {}", lang.t("Sightings per week,"), d.weeks.first().cloned().unwrap_or_default(), d.weeks.last().cloned().unwrap_or_default())}</figcaption>
                        </figure>
                        <p><a href=format!("/api/v1/pressure.csv?species={}", d.species.key) download>{lang.t("Download as CSV")}</a></p>
                        <RegionTable species=d.species.key.clone() regions=d.regions.clone()/>
                        <super::pressure_alerts::AlertsSection detail=d set remove/>
                    }.into_any()
                }
                Err(e) => {
                    e.answer_page_with_status();
                    view! { <Title text=lang.t("Pest pressure")/><p class="error" role="alert">{e.to_string()}</p> }.into_any()
                }
            })}
        </Suspense>
        <p><a href="/pressure">{lang.t("All species")}</a></p>
    }
}

#[component]
fn RegionTable(species: String, regions: Vec<RegionView>) -> impl IntoView {
    let lang = use_lang();
    (!regions.is_empty()).then(|| view! {
        <section>
            <h2>{lang.t("Regions")}</h2>
            <table class="data" id="pressure-regions">
                <thead><tr><th>{lang.t("Region")}</th><th>{lang.t("Last 4 weeks")}</th><th>{lang.t("Year")}</th></tr></thead>
                <tbody>
                    {regions.into_iter().map(|r| view! {
                        <tr>
                            <td><a href=format!("/pressure/{species}?region={}", r.key)>{r.name}</a></td>
                            <td>{r.recent}</td>
                            <td>{r.total}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    })
}
