use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::get_model_status;
use crate::i18n::use_lang;

/// The active model: what it is, where it runs, and its start-up forward pass.
#[component]
pub fn ModelsPage() -> impl IntoView {
    let lang = use_lang();
    let status = Resource::new(|| (), |_| get_model_status());
    view! {
        <Title text=lang.t("Models")/>
        <h1>{lang.t("Models")}</h1>
        <Suspense fallback=move || view! { <p>{lang.t("Loading model status…")}</p> }>
            {move || status.get().map(|r| match r {
                Ok(m) => view! {
                    <section class="card" aria-labelledby="active-model">
                        <h2 id="active-model">{lang.t("Active model")}</h2>
                        <p>{m.description.clone()}</p>
                        <table class="facts" id="model-status">
                            <tbody>
                                <tr><th scope="row">{lang.t("Name")}</th><td data-testid="model-name">{m.name.clone()}</td></tr>
                                <tr><th scope="row">{lang.t("Version")}</th><td>{m.version.clone()}</td></tr>
                                <tr><th scope="row">{lang.t("Architecture")}</th><td>{m.architecture.clone()}</td></tr>
                                <tr><th scope="row">{lang.t("Classes")}</th><td data-testid="model-classes">{m.classes}</td></tr>
                                <tr><th scope="row">{lang.t("Insect and arthropod classes")}</th><td>{m.arthropod_classes}</td></tr>
                                <tr><th scope="row">{lang.t("Device")}</th><td data-testid="model-device">{m.device.clone()}</td></tr>
                                <tr><th scope="row">{lang.t("Input")}</th><td>{format!("{0}×{0} pixels", m.input_size)}</td></tr>
                                <tr><th scope="row">{lang.t("Threads / max batch")}</th><td>{format!("{} / {}", m.threads, m.max_batch)}</td></tr>
                                <tr><th scope="row">{lang.t("Loaded")}</th><td>{format!("{} in {:.0} ms", m.loaded_at, m.load_ms)}</td></tr>
                                <tr><th scope="row">{lang.t("Warm-up forward pass")}</th><td data-testid="warmup-ms">{format!("{:.1} ms", m.warmup_ms)}</td></tr>
                            </tbody>
                        </table>
                        <h3>{lang.t("Warm-up answer (a synthetic gradient image)")}</h3>
                        <ol class="warmup-top">
                            {m.warmup_top.iter().map(|c| view! {
                                <li>{c.label.clone()}" — "{format!("{:.1} %", c.probability * 100.0)}</li>
                            }).collect_view()}
                        </ol>
                    </section>
                }.into_any(),
                Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
            })}
        </Suspense>
    }
}
