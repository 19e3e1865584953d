//! Uploading photos, one result, and the history of the signed-in user.

use leptos::prelude::*;
use leptos::web_sys;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use leptos::server::ServerActionError;
use leptos::server_fn::error::ServerFnUrlError;
use leptos::server_fn::ServerFn;

use crate::api::{get_history, get_identification, DeleteIdentification, IdentifyPhotos, RerunIdentification, ResultView};
use crate::auth::action_error;
use crate::error::AppError;

/// A plain multipart form: it works the same with and without JavaScript, and the server
/// answers with the result page (or, on a bad file, this page with the reason).
#[component]
pub fn UploadPage() -> impl IntoView {
    // After a refused post the server comes back here with the error in the URL.
    let error = use_context::<ServerActionError>()
        .filter(|e| e.path() == <IdentifyPhotos as ServerFn>::PATH)
        .map(|e| ServerFnUrlError::<AppError>::decode_err(e.err()).to_string());
    let error = move || error.clone();
    // After hydration: a drop zone, previews, and the limits checked before anything is sent.
    let file_input = NodeRef::<leptos::html::Input>::new();
    let dragging = RwSignal::new(false);
    let chosen = RwSignal::new(Vec::<Chosen>::new());
    let problem = move || {
        chosen.with(|c| {
            if c.len() > MAX_FILES {
                Some(format!("{} photos chosen; at most {MAX_FILES} per upload", c.len()))
            } else {
                c.iter().find(|f| f.too_big).map(|f| format!("{} is larger than {MAX_MB} MB", f.name))
            }
        })
    };
    view! {
        <Title text="Identify a photo"/>
        <h1>"Identify a photo"</h1>
        <form class="card form upload" method="post" action="/api/identify_photos" enctype="multipart/form-data" id="upload-form">
            <div
                class="dropzone"
                id="dropzone"
                class:dragging=move || dragging.get()
                on:dragover=move |ev: web_sys::DragEvent| {
                    ev.prevent_default();
                    dragging.set(true);
                }
                on:dragleave=move |_| dragging.set(false)
                on:drop=move |ev: web_sys::DragEvent| {
                    ev.prevent_default();
                    dragging.set(false);
                    let (Some(files), Some(input)) = (ev.data_transfer().and_then(|d| d.files()), file_input.get()) else { return };
                    input.set_files(Some(&files));
                    chosen.set(describe(&files));
                }
            >
                <label>"Photos of insects"
                    <input
                        node_ref=file_input
                        type="file"
                        name="image"
                        accept="image/jpeg,image/png,image/webp,image/gif,image/bmp,image/tiff"
                        multiple
                        required
                        on:change=move |_| {
                            if let Some(files) = file_input.get().and_then(|i| i.files()) {
                                chosen.set(describe(&files));
                            }
                        }
                    />
                </label>
                <p class="hint needs-js">"…or drop photos here."</p>
            </div>
            <p class="hint">{format!("JPEG, PNG, WebP, GIF, BMP or TIFF; up to {MAX_FILES} photos of at most {MAX_MB} MB each. One photo opens its result; several go to your history.")}</p>
            <ul class="previews" id="previews">
                {move || chosen.get().into_iter().map(|f| view! {
                    <li class:too-big=f.too_big>
                        <img src=f.url alt=""/>
                        <span>{f.name}</span>
                        <span class="hint">{f.size}</span>
                    </li>
                }).collect_view()}
            </ul>
            {move || problem().map(|m| view! { <p class="error" role="alert" id="upload-problem">{m}</p> })}
            {move || error().map(|m| view! { <p class="error" role="alert">{m}</p> })}
            <button type="submit" class="button primary" disabled=move || problem().is_some()>"Identify"</button>
        </form>
    }
}

const MAX_FILES: usize = 16;
const MAX_MB: f64 = 20.0;

/// A chosen file as the preview list shows it.
#[derive(Clone)]
struct Chosen {
    name: String,
    size: String,
    url: String,
    too_big: bool,
}

fn describe(files: &web_sys::FileList) -> Vec<Chosen> {
    (0..files.length())
        .filter_map(|i| files.get(i))
        .map(|f| {
            let mb = f.size() / 1024.0 / 1024.0;
            Chosen {
                name: f.name(),
                size: format!("{mb:.1} MB"),
                url: web_sys::Url::create_object_url_with_blob(&f).unwrap_or_default(),
                too_big: mb > MAX_MB,
            }
        })
        .collect()
}

#[component]
fn TopClasses(result: ResultView) -> impl IntoView {
    view! {
        <ol class="top-classes" aria-label="Most likely classes">
            {result.top.into_iter().map(|c| {
                let pct = c.probability * 100.0;
                view! {
                    <li>
                        <span class="label">{c.label}</span>
                        <span class="bar" role="presentation"><span style=format!("width: {pct:.1}%")></span></span>
                        <span class="pct">{format!("{pct:.1} %")}</span>
                    </li>
                }
            }).collect_view()}
        </ol>
    }
}

#[component]
pub fn ResultPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let id = move || params.with(|p| p.get("id").and_then(|v| v.parse::<i64>().ok()).unwrap_or(0));
    let key = move || query.with(|q| q.get("key"));
    let result = Resource::new(move || (id(), key()), |(id, key)| get_identification(id, key));
    let previous_id = move || query.with(|q| q.get("previous").and_then(|v| v.parse::<i64>().ok()));
    let previous = Resource::new(previous_id, |p| async move {
        match p {
            Some(p) => get_identification(p, None).await.ok(),
            None => None,
        }
    });
    view! {
        <Title text="Result"/>
        <h1>"Result"</h1>
        <Suspense fallback=|| ()>
            {move || match (previous.get().flatten(), result.get().and_then(|r| r.ok())) {
                (Some(old), Some(new)) => {
                    let top = |r: &ResultView| r.top.first().map(|t| t.label.clone()).unwrap_or_default();
                    let text = if top(&old) == top(&new) && old.verdict == new.verdict {
                        format!("Identified again with {} {}: the same answer as before ({}).", new.model_name, new.model_version, old.summary)
                    } else {
                        format!("Identified again with {} {}: the answer changed from “{}” ({} {}).", new.model_name, new.model_version, old.summary, old.model_name, old.model_version)
                    };
                    Some(view! { <p class="notice" role="status" data-testid="rerun-comparison">{text}</p> })
                }
                _ => None,
            }}
        </Suspense>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || result.get().map(|r| match r {
                Ok(r) => view! {
                    <div class="result">
                        <div>
                            <img class="photo" src=format!("/photos/{}", r.image_sha256) alt="The photo you sent"/>
                            // A native disclosure: opens without JavaScript too.
                            <details class="heatmap" id="heatmap">
                                <summary>"Where the model looked"</summary>
                                <img
                                    src=format!("/results/{}/heatmap.png{}", r.id, key().map(|k| format!("?key={k}")).unwrap_or_default())
                                    alt="Heat map over the part of the photo the model judged: red counted most"
                                    loading="lazy"
                                />
                            </details>
                        </div>
                        <section class="card">
                            <p class=format!("verdict {}", r.verdict) data-testid="verdict">{r.summary.clone()}</p>
                            <TopClasses result=r.clone()/>
                            <p class="hint">{format!("Model {} {} · {:.0} ms · {}", r.model_name, r.model_version, r.total_ms, r.created_at)}</p>
                        </section>
                    </div>
                }.into_any(),
                Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
            })}
        </Suspense>
        <p><a href="/upload">"Identify another photo"</a></p>
    }
}

#[component]
pub fn HistoryPage() -> impl IntoView {
    let query = use_query_map();
    let label = move || query.with(|q| q.get("label").unwrap_or_default());
    let page = move || query.with(|q| q.get("page").and_then(|p| p.parse::<u64>().ok()).unwrap_or(0));
    let delete = ServerAction::<DeleteIdentification>::new();
    let rerun = ServerAction::<RerunIdentification>::new();
    let delete_error = action_error(delete);
    let rerun_error = action_error(rerun);
    let history = Resource::new(move || (label(), page(), delete.version().get()), |(l, p, _)| get_history(l, p));
    view! {
        <Title text="History"/>
        <h1>"History"</h1>
        <form method="get" action="/history" class="search" role="search">
            <label>"Class contains"<input type="search" name="label" value=label/></label>
            <button type="submit" class="button">"Filter"</button>
        </form>
        {move || delete_error().or_else(rerun_error).map(|m| view! { <p class="error" role="alert">{m}</p> })}
        <Suspense fallback=|| view! { <p>"Loading your identifications…"</p> }>
            {move || history.get().map(|r| match r {
                Ok(h) if h.items.is_empty() => view! {
                    <p class="notice" role="status">"No identifications yet. " <a href="/upload">"Identify a photo"</a></p>
                }.into_any(),
                Ok(h) => {
                    let pages = h.total.div_ceil(h.per_page).max(1);
                    let l = label();
                    view! {
                        <p>{format!("{} identifications · page {} of {pages}", h.total, h.page + 1)}</p>
                        <ul class="history" id="history-list">
                            {h.items.into_iter().map(|r| {
                                let alt = r.top.first().map(|t| t.label.clone()).unwrap_or_default();
                                view! {
                                    <li class="card history-item" data-id=r.id>
                                        <a href=format!("/results/{}", r.id)>
                                            <img src=format!("/photos/{}/thumb", r.image_sha256) alt=alt loading="lazy" width="96" height="96"/>
                                        </a>
                                        <div>
                                            <a href=format!("/results/{}", r.id)><strong>{r.summary.clone()}</strong></a>
                                            <p class="hint">{format!("{} · {} {}", r.created_at, r.model_name, r.model_version)}</p>
                                            <ActionForm action=rerun attr:class="inline">
                                                <input type="hidden" name="id" value=r.id.to_string()/>
                                                <button type="submit" class="button small">"Re-run"</button>
                                            </ActionForm>
                                            <ActionForm action=delete attr:class="inline">
                                                <input type="hidden" name="id" value=r.id.to_string()/>
                                                <button type="submit" class="button small danger">"Delete"</button>
                                            </ActionForm>
                                        </div>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                        <nav class="pager" aria-label="History pages">
                            {(h.page > 0).then(|| view! { <a href=format!("/history?label={}&page={}", l, h.page - 1)>"← Newer"</a> })}
                            {(h.page + 1 < pages).then(|| view! { <a href=format!("/history?label={}&page={}", l, h.page + 1)>"Older →"</a> })}
                        </nav>
                    }.into_any()
                }
                Err(crate::error::AppError::Unauthorized(_)) => view! {
                    <p class="notice" role="status">"Your history is kept when you are signed in. " <a href="/signin">"Sign in"</a></p>
                }.into_any(),
                Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
            })}
        </Suspense>
    }
}
