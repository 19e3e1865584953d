//! Active pest alerts, on every page, for people who asked to see them.

use leptos::prelude::*;

use crate::api::get_my_pest_alerts;
use crate::i18n::use_lang;

#[component]
pub fn PestAlertBanner() -> impl IntoView {
    let lang = use_lang();
    let alerts = Resource::new(|| (), |_| get_my_pest_alerts());
    view! {
        <Suspense fallback=|| ()>
            {move || alerts.get().and_then(|r| r.ok()).filter(|a| !a.is_empty()).map(|list| view! {
                <aside class="notice pest-alerts" role="status" id="pest-alert-banner">
                    <strong>{lang.t("Pest alert")}</strong>
                    <ul>
                        {list.into_iter().map(|a| {
                            let name = lang.species_name(&a.species.name_en, &a.species.name_zh).to_string();
                            let place = a.region.as_ref().map(|r| r.name.clone()).unwrap_or_else(|| lang.t("all regions").to_string());
                            view! {
                                <li><a href=format!("/pressure/{}", a.species.key)>{name}</a>
                                    {format!(": {} {} {place} ({} {})", a.this_week, lang.t("sightings this week in"), lang.t("alert at"), a.weekly_threshold)}
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                </aside>
            })}
        </Suspense>
    }
}
