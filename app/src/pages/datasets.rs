//! The datasets built from labels and imports: versions, new versions, imports, and
//! downloads as .zip.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::{get_datasets, get_my_downloads, CreateDatasetVersion, ExportDataset, ImportDataset};
use crate::auth::action_error;
use crate::i18n::use_lang;

#[component]
pub fn DatasetsPage() -> impl IntoView {
    let lang = use_lang();
    let create = ServerAction::<CreateDatasetVersion>::new();
    let import = ServerAction::<ImportDataset>::new();
    let export = ServerAction::<ExportDataset>::new();
    let (create_error, import_error, export_error) = (action_error(create), action_error(import), action_error(export));
    let tick = RwSignal::new(0u32);
    let overview =
        Resource::new(move || (create.version().get(), import.version().get(), tick.get()), |_| get_datasets());
    let downloads = Resource::new(move || (export.version().get(), tick.get()), |_| get_my_downloads());
    // While an import runs, the page follows it (once running its script).
    #[cfg(feature = "hydrate")]
    {
        let importing = move || {
            overview
                .get()
                .and_then(|r| r.ok())
                .is_some_and(|o| o.pending_imports > 0 || o.imports.iter().any(|i| i.running))
        };
        let exporting =
            move || downloads.get().and_then(|r| r.ok()).is_some_and(|d| d.iter().any(|e| e.state.is_active()));
        let running = move || importing() || exporting();
        if let Ok(handle) = set_interval_with_handle(
            move || {
                if running() {
                    tick.update(|t| *t += 1)
                }
            },
            std::time::Duration::from_secs(1),
        ) {
            on_cleanup(move || handle.clear());
        }
    }
    view! {
        <Title text=lang.t("Datasets")/>
        <h1>{lang.t("Datasets")}</h1>
        <Suspense fallback=move || view! { <p>{lang.t("Loading…")}</p> }>
            {move || overview.get().map(|r| match r {
                Ok(o) => view! {
                    <section class="card">
                        <h2>{lang.t("New version from labels")}</h2>
                        <p>{format!("{} {}", o.labelled_photos, lang.t("photos have a decided label. A version never changes once made; its split is stratified per class with the seed."))}</p>
                        <ActionForm action=create attr:class="form inline" attr:id="create-version-form">
                            <label>{lang.t("Dataset name")}<input type="text" name="name" required pattern="[A-Za-z0-9._\\-]{1,64}"/></label>
                            <label>{lang.t("Seed")}<input type="number" name="seed" value="1" min="0"/></label>
                            <button type="submit" class="button primary">{lang.t("Make version")}</button>
                        </ActionForm>
                        {move || create_error().map(|m| view! { <p class="error" role="alert">{m}</p> })}
                    </section>
                    <div class="table-wrap">
                        <table class="data" id="versions-table">
                            <thead><tr><th>{lang.t("Dataset")}</th><th>{lang.t("Photos")}</th><th>{lang.t("Classes")}</th><th>"train / val / test"</th><th>{lang.t("From")}</th><th>{lang.t("Export")}</th></tr></thead>
                            <tbody>
                                {o.versions.into_iter().map(|v| {
                                    let spec = format!("{}@{}", v.dataset, v.version);
                                    view! {
                                        <tr data-spec=spec.clone()>
                                            <td><strong>{spec.clone()}</strong><br/><span class="hint">{v.state.clone()}" · "{v.created_at.clone()}</span></td>
                                            <td>{v.items}</td>
                                            <td>{v.classes}</td>
                                            <td>{format!("{} / {} / {}", v.per_split[0], v.per_split[1], v.per_split[2])}</td>
                                            <td class="wrap">{v.origin.clone()}</td>
                                            <td>{v.ready.then({ let spec = spec.clone(); move || view! {
                                                <ActionForm action=export attr:class="form inline export-form">
                                                    <input type="hidden" name="spec" value=spec.clone()/>
                                                    <select name="layout" aria-label=lang.t("Layout")>
                                                        <option value="ip102">"IP102"</option>
                                                        <option value="folders">{lang.t("folders")}</option>
                                                    </select>
                                                    <button type="submit" class="button">{lang.t("Prepare .zip")}</button>
                                                </ActionForm>
                                            }})}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                    {move || export_error().map(|m| view! { <p class="error" role="alert">{m}</p> })}
                    <Suspense fallback=|| ()>
                        {move || downloads.get().and_then(|r| r.ok()).filter(|d| !d.is_empty()).map(|list| view! {
                            <section class="card">
                                <h2>{lang.t("Your downloads")}</h2>
                                <p class="hint">{lang.t("Archives are prepared in the background and kept for a day.")}</p>
                                <ul id="downloads">
                                    {list.into_iter().map(|d| view! {
                                        <li data-state=d.state.as_str()>
                                            <strong>{format!("{} ({})", d.dataset, d.layout)}</strong>" · "
                                            {if d.ready {
                                                view! { <a href=format!("/jobs/{}/export.zip", d.job_id) rel="external" download>{lang.t("Download")}</a> }.into_any()
                                            } else {
                                                view! { <span class="export-state">{d.state.as_str()}</span> }.into_any()
                                            }}
                                            {(!d.error.is_empty()).then(|| view! { <span class="error">" "{d.error.clone()}</span> })}
                                        </li>
                                    }).collect_view()}
                                </ul>
                            </section>
                        })}
                    </Suspense>
                    {o.import_dir.clone().map(|dir| view! {
                        <section class="card">
                            <h2>{lang.t("Import")}</h2>
                            <p class="hint">{lang.t("IP102 layout (classes.txt, train.txt / val.txt / test.txt with `path label` lines, images/) or class folders (class/photo or split/class/photo). Links, paths leaving the folder, duplicates and unreadable photos are skipped and listed; an interrupted import resumes when started again.")}</p>
                            <ActionForm action=import attr:class="form inline" attr:id="import-form">
                                <label>{lang.t("Dataset name")}<input type="text" name="name" required/></label>
                                <label>{format!("{} {dir}", lang.t("Folder inside"))}<input type="text" name="folder" required/></label>
                                <button type="submit" class="button">{lang.t("Import folder")}</button>
                            </ActionForm>
                            {move || import_error().map(|m| view! { <p class="error" role="alert">{m}</p> })}
                            <form method="post" action="/api/upload_dataset" enctype="multipart/form-data" class="form inline" id="archive-form">
                                <label>{lang.t("Dataset name")}<input type="text" name="name" required/></label>
                                <label>{lang.t("Archive (.zip)")}<input type="file" name="archive" accept=".zip,application/zip" required/></label>
                                <button type="submit" class="button">{lang.t("Upload and import")}</button>
                            </form>
                        </section>
                    })}
                    <ul class="imports" id="imports">
                        {o.imports.into_iter().map(|i| {
                            let pct = if i.total > 0 { i.done as f64 * 100.0 / i.total as f64 } else { 0.0 };
                            view! {
                                <li class="card" data-state=i.state.clone()>
                                    <strong>{format!("{}@{}", i.dataset, i.version)}</strong>" · "<span class="import-state">{i.state.clone()}</span>
                                    <progress max="100" value=format!("{pct:.0}")></progress>
                                    <span class="hint">{format!("{} / {} · {} {} · {:.1} s · {}", i.done, i.total, i.imported, lang.t("imported"), i.seconds, i.source)}</span>
                                    {(!i.error.is_empty()).then(|| view! { <p class="error">{i.error.clone()}</p> })}
                                    {(!i.skipped.is_empty()).then(|| view! {
                                        <details><summary>{format!("{} {}", i.skipped.len(), lang.t("skipped"))}</summary>
                                            <ul>{i.skipped.into_iter().map(|(p, r)| view! { <li><code>{p}</code>": "{r}</li> }).collect_view()}</ul>
                                        </details>
                                    })}
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any(),
                Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
            })}
        </Suspense>
    }
}
