//! The upload page. Without JavaScript it is a plain multipart form whose answer is the result
//! page (one photo) or the history (several). Once hydrated it adds a drop zone, previews, the
//! limits checked before sending, and sends each photo on its own so each shows its progress.

use leptos::prelude::*;
use leptos::server::ServerActionError;
use leptos::server_fn::error::ServerFnUrlError;
use leptos::server_fn::ServerFn;
use leptos::web_sys;
use leptos_meta::Title;

use crate::api::{get_upload_rules, IdentifyPhotos, UploadRules};
use crate::error::AppError;
use crate::i18n::{use_lang, Lang};

/// Where one photo of a JavaScript upload stands.
#[derive(Clone, Debug, PartialEq)]
pub enum Progress {
    Waiting,
    /// Fraction of the bytes sent.
    Sending(f64),
    /// All sent; the server is identifying it.
    Identifying,
    Done {
        href: String,
        summary: String,
    },
    Failed(String),
}

/// A chosen file as the preview list shows it.
#[derive(Clone)]
struct Chosen {
    name: String,
    size: String,
    url: String,
    too_big: bool,
    progress: RwSignal<Progress>,
}

fn describe(files: &web_sys::FileList, max_mb: f64) -> Vec<Chosen> {
    (0..files.length())
        .filter_map(|i| files.get(i))
        .map(|f| {
            let mb = f.size() / 1024.0 / 1024.0;
            Chosen {
                name: f.name(),
                size: format!("{mb:.1} MB"),
                url: web_sys::Url::create_object_url_with_blob(&f).unwrap_or_default(),
                too_big: mb > max_mb,
                progress: RwSignal::new(Progress::Waiting),
            }
        })
        .collect()
}

#[component]
pub fn UploadPage() -> impl IntoView {
    let lang = use_lang();
    let rules = Resource::new(|| (), |_| get_upload_rules());
    view! {
        <Title text=lang.t("Identify a photo")/>
        <h1>{lang.t("Identify a photo")}</h1>
        <Suspense fallback=move || view! { <p>{lang.t("Loading…")}</p> }>
            {move || rules.get().map(|r| match r {
                Ok(rules) => view! { <UploadForm rules/> }.into_any(),
                Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
            })}
        </Suspense>
    }
}

#[component]
fn UploadForm(rules: UploadRules) -> impl IntoView {
    let lang = use_lang();
    // After a refused plain post the server comes back here with the error in the URL.
    let error = use_context::<ServerActionError>()
        .filter(|e| e.path() == <IdentifyPhotos as ServerFn>::PATH)
        .map(|e| ServerFnUrlError::<AppError>::decode_err(e.err()).to_string());
    let error = move || error.clone();
    let file_input = NodeRef::<leptos::html::Input>::new();
    let dragging = RwSignal::new(false);
    let chosen = RwSignal::new(Vec::<Chosen>::new());
    let sending = RwSignal::new(false);
    // When and where (signed-in only: an anonymous result keeps neither).
    let taken_at = RwSignal::new(String::new());
    let latitude = RwSignal::new(String::new());
    let longitude = RwSignal::new(String::new());
    // With JavaScript the date defaults to the device's clock now.
    Effect::new(move |_| taken_at.set(crate::components::place::now_local()));
    let max_mb = rules.max_file_mb as f64;
    let problem = move || {
        chosen.with(|c| {
            if c.len() > rules.max_files {
                Some(format!(
                    "{} {} {}",
                    c.len(),
                    lang.t("photos chosen; at most this many per upload:"),
                    rules.max_files
                ))
            } else {
                c.iter()
                    .find(|f| f.too_big)
                    .map(|f| format!("{}: {} {} MB", f.name, lang.t("larger than"), rules.max_file_mb))
            }
        })
    };
    let limits_text = format!(
        "{} {} {} {} MB. {}",
        lang.t("JPEG, PNG, WebP, GIF, BMP or TIFF; up to"),
        rules.max_files,
        lang.t("photos of at most"),
        rules.max_file_mb,
        lang.t("One photo opens its result; several go to your history.")
    );
    let anonymous_note = (!rules.signed_in).then(|| {
        if rules.anonymous_allowed {
            lang.t("You are not signed in: results are kept, but only you get their links, and they do not go into a history.")
        } else {
            lang.t("Sign in to identify photos: this portal does not identify photos for anonymous visitors.")
        }
    });
    let on_submit = move |ev: web_sys::SubmitEvent| {
        // With JavaScript, photos go one by one so each shows its own progress; the plain
        // form post (no JavaScript) is the fallback.
        #[cfg(feature = "hydrate")]
        {
            let files = file_input.get().and_then(|i| i.files());
            let Some(files) = files else { return };
            if files.length() == 0 || problem().is_some() {
                return;
            }
            ev.prevent_default();
            sending.set(true);
            let entries = chosen.get_untracked();
            let signed_in = rules.signed_in;
            let fields = if signed_in {
                vec![
                    ("taken_at", taken_at.get_untracked()),
                    ("latitude", latitude.get_untracked()),
                    ("longitude", longitude.get_untracked()),
                ]
            } else {
                Vec::new()
            };
            for (i, entry) in entries.iter().enumerate() {
                if let Some(file) = files.get(i as u32) {
                    let all = entries.clone();
                    super::upload_progress::send(file, &fields, entry.progress, move |_| {
                        let finished: Vec<Progress> = all.iter().map(|c| c.progress.get_untracked()).collect();
                        if finished.iter().all(|p| matches!(p, Progress::Done { .. } | Progress::Failed(_))) {
                            sending.set(false);
                            // One photo that worked opens its result, as the plain form does.
                            if let [Progress::Done { href, .. }] = finished.as_slice() {
                                let _ = window().location().set_href(href);
                            } else if signed_in && finished.iter().all(|p| matches!(p, Progress::Done { .. })) {
                                let _ = window().location().set_href("/history");
                            }
                        }
                    });
                }
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (ev, sending);
    };
    view! {
        {anonymous_note.map(|n| view! { <p class="notice" role="status">{n}</p> })}
        <form class="card form upload" method="post" action="/api/identify_photos" enctype="multipart/form-data" id="upload-form"
            data-max-bytes=(rules.max_file_mb * 1024 * 1024).to_string() on:submit=on_submit>
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
                    chosen.set(describe(&files, max_mb));
                }
            >
                <label>{lang.t("Photos of insects")}
                    <input
                        node_ref=file_input
                        type="file"
                        name="image"
                        accept="image/jpeg,image/png,image/webp,image/gif,image/bmp,image/tiff"
                        multiple
                        required
                        on:change=move |_| {
                            if let Some(files) = file_input.get().and_then(|i| i.files()) {
                                chosen.set(describe(&files, max_mb));
                            }
                        }
                    />
                </label>
                <p class="hint needs-js">{lang.t("…or drop photos here.")}</p>
            </div>
            <p class="hint" id="upload-limits">{limits_text}</p>
            {rules.signed_in.then(|| view! {
                <details class="observation-fields" id="upload-context">
                    <summary>{lang.t("When and where (optional)")}</summary>
                    <p class="hint">{lang.t("A photo's own date and GPS position come first; these fill in what it does not say. Only you see them unless you share the result.")}</p>
                    <label>{lang.t("Taken")}
                        <input type="datetime-local" name="taken_at" step="1" prop:value=taken_at
                            on:input=move |ev| taken_at.set(event_target_value(&ev))/>
                    </label>
                    <crate::components::place::PlaceInputs latitude longitude/>
                </details>
            })}
            <ul class="previews" id="previews">
                {move || chosen.get().into_iter().map(|f| view! {
                    <li class:too-big=f.too_big>
                        <img src=f.url alt=""/>
                        <span>{f.name}</span>
                        <span class="hint">{f.size}</span>
                        <ProgressView progress=f.progress lang/>
                    </li>
                }).collect_view()}
            </ul>
            {move || problem().map(|m| view! { <p class="error" role="alert" id="upload-problem">{m}</p> })}
            {move || error().map(|m| view! { <p class="error" role="alert">{m}</p> })}
            <button type="submit" class="button primary" disabled=move || problem().is_some() || sending.get()>{lang.t("Identify")}</button>
        </form>
        <OfflineQueue max_mb=rules.max_file_mb/>
    }
}

#[component]
fn ProgressView(progress: RwSignal<Progress>, lang: Lang) -> impl IntoView {
    move || {
        match progress.get() {
        Progress::Waiting => ().into_any(),
        Progress::Sending(f) => view! {
            <progress class="upload-progress" max="100" value=format!("{:.0}", f * 100.0) aria-label=lang.t("Sending")></progress>
        }.into_any(),
        Progress::Identifying => view! { <span class="hint upload-state" role="status">{lang.t("Identifying…")}</span> }.into_any(),
        Progress::Done { href, summary } => view! {
            <a class="upload-state done" href=href>{summary}</a>
        }.into_any(),
        Progress::Failed(message) => view! { <span class="error upload-state" role="alert">{message}</span> }.into_any(),
    }
    }
}

/// Where public/offline-capture.js lists photos taken without a connection (its texts, in the
/// page's language, ride on the data attributes). Empty and hidden until it has some.
#[component]
fn OfflineQueue(max_mb: usize) -> impl IntoView {
    let lang = use_lang();
    view! {
        <p class="error" role="alert" id="offline-problem" hidden></p>
        <section
            class="card offline-queue"
            id="offline-queue"
            hidden
            data-waiting=lang.t("waiting for a connection")
            data-sent=lang.t("sent: see the result")
            data-refused=lang.t("refused")
            data-bad-place=lang.t("give both latitude and longitude as degrees (-90 to 90, -180 to 180), or neither")
            data-wrong-type=lang.t("not a photo this portal takes (JPEG, PNG, WebP, GIF, BMP or TIFF)")
            data-too-large=format!("{} {max_mb} MB", lang.t("larger than"))
        >
            <h2>{lang.t("Photos taken without a connection")}</h2>
            <p class="hint">{lang.t("Kept in this browser with their date and place, and sent when the connection returns.")}</p>
            <ul class="offline-list" id="offline-list"></ul>
        </section>
    }
}
