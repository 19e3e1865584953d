use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::{get_model_status, get_portal_stats};

#[component]
pub fn HomePage() -> impl IntoView {
    let stats = Resource::new(|| (), |_| get_portal_stats());
    let model = Resource::new(|| (), |_| get_model_status());
    view! {
        <Title text="Home"/>
        <section class="hero">
            <h1>"Which insect is this?"</h1>
            <p class="lead">
                "Upload a photo of an insect and a model running on this server names it, "
                "says how sure it is, and tells you what it does to crops."
            </p>
            <a class="button primary" href="/upload">"Identify a photo"</a>
        </section>
        <section class="cards">
            <article class="card">
                <h2>"This portal"</h2>
                <Suspense fallback=|| view! { <p>"Counting…"</p> }>
                    {move || stats.get().map(|r| match r {
                        Ok(s) => view! {
                            <dl class="figures" id="portal-stats">
                                <div><dt>"Identifications"</dt><dd data-testid="identifications">{s.identifications}</dd></div>
                                <div><dt>"In the last 7 days"</dt><dd>{s.identifications_last_7_days}</dd></div>
                                <div><dt>"Distinct photos"</dt><dd>{s.distinct_photos}</dd></div>
                            </dl>
                        }.into_any(),
                        Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    })}
                </Suspense>
            </article>
            <article class="card">
                <h2>"Model"</h2>
                <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                    {move || model.get().map(|r| match r {
                        Ok(m) => view! {
                            <p id="model-summary">
                                <strong>{m.name}</strong>" "{m.version}" on "<code>{m.device}</code>
                                ", "{m.classes}" classes ("{m.arthropod_classes}" insects and other arthropods)."
                            </p>
                            <p><a href="/models">"Model status and warm-up"</a></p>
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
    let open = RwSignal::new(true);
    view! {
        <section class="card tips" aria-labelledby="tips-title">
            <div class="tips-head">
                <h2 id="tips-title">"Tips for a good photo"</h2>
                <button
                    type="button"
                    class="button needs-js"
                    aria-expanded=move || open.get().to_string()
                    aria-controls="tips-list"
                    on:click=move |_| open.update(|o| *o = !*o)
                >
                    {move || if open.get() { "Hide tips" } else { "Show tips" }}
                </button>
            </div>
            <ul id="tips-list" hidden=move || !open.get()>
                <li>"Fill the frame with the insect; crop away the background if you can."</li>
                <li>"Use daylight and keep the insect in focus; avoid motion blur."</li>
                <li>"Show the back and the wings: they carry most of the features that tell species apart."</li>
                <li>"One insect per photo gives the clearest answer."</li>
            </ul>
        </section>
    }
}
