use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::get_model_status;
use crate::i18n::use_lang;

/// The active model: what it is, where it runs, and its start-up forward pass.
#[component]
pub fn ModelsPage() -> impl IntoView {
    let lang = use_lang();
    let status = Resource::new(|| (), |_| get_model_status());
    // Putting a version in shadow (in the registry) refreshes the shadow section too.
    let shadow_on = ServerAction::<crate::api::ShadowOn>::new();
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
                                <tr><th scope="row">{lang.t("Precision")}</th><td data-testid="model-precision">{m.precision.clone()}</td></tr>
                                <tr><th scope="row">{lang.t("Input")}</th><td>{format!("{0}×{0} pixels", m.input_size)}</td></tr>
                                <tr><th scope="row">{lang.t("Forward passes × threads / max batch")}</th><td>{format!("{} × {} / {}", m.workers, m.threads, m.max_batch)}</td></tr>
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
        <ModelRegistry shadow=shadow_on/>
        <crate::pages::model_quality::ShadowSection on=shadow_on/>
        <crate::pages::model_quality::Evaluations/>
    }
}

/// Installed versions for administrators: install, activate, roll back, delete. Others see
/// only the active model above.
#[component]
pub fn ModelRegistry(shadow: ServerAction<crate::api::ShadowOn>) -> impl IntoView {
    let lang = use_lang();
    let activate = ServerAction::<crate::api::ActivateModel>::new();
    let rollback = ServerAction::<crate::api::RollbackModel>::new();
    let delete = ServerAction::<crate::api::DeleteModel>::new();
    let errors = (
        crate::auth::action_error(activate),
        crate::auth::action_error(rollback),
        crate::auth::action_error(delete),
        crate::auth::action_error(shadow),
    );
    // The install form is a plain multipart post: a refusal comes back in the URL.
    let upload_error = StoredValue::new({
        use leptos::server_fn::ServerFn;
        use_context::<leptos::server::ServerActionError>()
            .filter(|e| e.path() == <crate::api::UploadModel as ServerFn>::PATH)
            .map(|e| {
                leptos::server_fn::error::ServerFnUrlError::<crate::error::AppError>::decode_err(e.err()).to_string()
            })
    });
    let error =
        move || errors.0().or_else(errors.1).or_else(errors.2).or_else(errors.3).or_else(|| upload_error.get_value());
    let versions = Resource::new(
        move || (activate.version().get(), rollback.version().get(), delete.version().get(), shadow.version().get()),
        |_| crate::api::get_model_versions(),
    );
    view! {
        <Suspense fallback=|| ()>
            {move || versions.get().map(|r| match r {
                Err(crate::error::AppError::Unauthorized(_) | crate::error::AppError::Forbidden(_)) => ().into_any(),
                Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                Ok(list) => view! {
                    <section class="card" aria-labelledby="registry-title">
                        <h2 id="registry-title">{lang.t("Installed versions")}</h2>
                        {move || error().map(|m| view! { <p class="error" role="alert" id="registry-error">{m}</p> })}
                        <div class="table-wrap">
                            <table class="data" id="model-versions">
                                <thead><tr><th>{lang.t("Model")}</th><th>{lang.t("Classes")}</th><th>{lang.t("Source")}</th><th>{lang.t("Identifications")}</th><th>{lang.t("Action")}</th></tr></thead>
                                <tbody>
                                    {list.into_iter().map(|v| {
                                        let (id_activate, id_delete) = (v.id.to_string(), v.id.to_string());
                                        view! {
                                            <tr data-version=v.version.clone() class:active=v.active>
                                                <td><strong>{format!("{} {}", v.name, v.version)}</strong>
                                                    {v.active.then(|| view! { " " <span class="badge">{lang.t("active")}</span> })}
                                                    <br/><span class="hint">{v.created_at.clone()}</span></td>
                                                <td>{v.classes}</td>
                                                <td>{v.source.clone()}</td>
                                                <td><a href=format!("/models/{}/identifications", v.id)>{v.identifications}</a>
                                                    {v.evaluation.clone().map(|e| view! { <br/><span class="hint evaluation">{e}</span> })}</td>
                                                <td>{(!v.active).then(move || view! {
                                                    <ActionForm action=activate attr:class="inline">
                                                        <input type="hidden" name="id" value=id_activate/>
                                                        <button type="submit" class="button small">{lang.t("Activate")}</button>
                                                    </ActionForm>
                                                    <crate::pages::model_quality::ShadowButton id=v.id action=shadow/>
                                                    <ActionForm action=delete attr:class="inline">
                                                        <input type="hidden" name="id" value=id_delete/>
                                                        <button type="submit" class="button small danger">{lang.t("Delete")}</button>
                                                    </ActionForm>
                                                })}</td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                        <ActionForm action=rollback attr:class="inline">
                            <button type="submit" class="button">{lang.t("Roll back to the previous version")}</button>
                        </ActionForm>
                        <form method="post" action="/api/upload_model" enctype="multipart/form-data" class="form inline" id="model-upload-form">
                            <label>{lang.t("Bundle (.zip with manifest.json and model.pt)")}<input type="file" name="bundle" accept=".zip,application/zip" required/></label>
                            <button type="submit" class="button primary">{lang.t("Install")}</button>
                        </form>
                    </section>
                }.into_any(),
            })}
        </Suspense>
    }
}
