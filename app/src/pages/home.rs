use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::{get_model_status, get_portal_stats};
use crate::i18n::use_lang;

#[component]
pub fn HomePage() -> impl IntoView {
    let lang = use_lang();
    let stats = Resource::new(|| (), |_| get_portal_stats());
    let model = Resource::new(|| (), |_| get_model_status());
    view! {
        <Title text=lang.t("Home")/>
        <section class="hero">
            <h1>{lang.t("Which insect is this?")}</h1>
            <p class="lead">
                {lang.t("Upload a photo of an insect and a model running on this server names it, says how sure it is, and tells you what it does to crops.")}
            </p>
            <a class="button primary" href="/upload">{lang.t("Identify a photo")}</a>
        </section>
        <section class="cards">
            <article class="card">
                <h2>{lang.t("This portal")}</h2>
                <Suspense fallback=move || view! { <p>{lang.t("Counting…")}</p> }>
                    {move || stats.get().map(|r| match r {
                        Ok(s) => view! {
                            <dl class="figures" id="portal-stats">
                                <div><dt>{lang.t("Identifications")}</dt><dd data-testid="identifications">{s.identifications}</dd></div>
                                <div><dt>{lang.t("In the last 7 days")}</dt><dd>{s.identifications_last_7_days}</dd></div>
                                <div><dt>{lang.t("Distinct photos")}</dt><dd>{s.distinct_photos}</dd></div>
                            </dl>
                        }.into_any(),
                        Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    })}
                </Suspense>
            </article>
            <article class="card">
                <h2>{lang.t("Model")}</h2>
                <Suspense fallback=move || view! { <p>{lang.t("Loading…")}</p> }>
                    {move || model.get().map(|r| match r {
                        Ok(m) => view! {
                            <p id="model-summary">
                                <strong>{m.name}</strong>" "{m.version}" · "<code>{m.device}</code>" · "
                                {format!("{} {} ({} {})", m.classes, lang.t("classes"), m.arthropod_classes, lang.t("insects and other arthropods"))}
                            </p>
                            <p><a href="/models">{lang.t("Model status and warm-up")}</a></p>
                        }.into_any(),
                        Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    })}
                </Suspense>
            </article>
        </section>
        <PhotoTips/>
    }
}

/// Advice for a good photo. The list is in the page for everyone; the button that folds it
/// away works once the page is hydrated, and is hidden when JavaScript is off.
#[component]
fn PhotoTips() -> impl IntoView {
    let lang = use_lang();
    let open = RwSignal::new(true);
    view! {
        <section class="card tips" aria-labelledby="tips-title">
            <div class="tips-head">
                <h2 id="tips-title">{lang.t("Tips for a good photo")}</h2>
                <button
                    type="button"
                    class="button needs-js"
                    aria-expanded=move || open.get().to_string()
                    aria-controls="tips-list"
                    on:click=move |_| open.update(|o| *o = !*o)
                >
                    {move || if open.get() { lang.t("Hide tips") } else { lang.t("Show tips") }}
                </button>
            </div>
            <ul id="tips-list" hidden=move || !open.get()>
                <li>{lang.t("Fill the frame with the insect; crop away the background if you can.")}</li>
                <li>{lang.t("Use daylight and keep the insect in focus; avoid motion blur.")}</li>
                <li>{lang.t("Show the back and the wings: they carry most of the features that tell species apart.")}</li>
                <li>{lang.t("One insect per photo gives the clearest answer.")}</li>
            </ul>
        </section>
    }
}
