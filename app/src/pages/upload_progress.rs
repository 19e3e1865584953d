//! Sending one photo to `POST /api/v1/identify` with XMLHttpRequest, the one browser API that
//! reports upload progress (fetch does not).

use leptos::prelude::*;
use leptos::wasm_bindgen::closure::Closure;
use leptos::wasm_bindgen::JsCast;
use leptos::web_sys::{self, FormData, ProgressEvent, XmlHttpRequest};
use serde::Deserialize;

use super::upload::Progress;

#[derive(Deserialize)]
struct Answer {
    results: Vec<Identified>,
}

#[derive(Deserialize)]
struct Identified {
    id: Option<i64>,
    image_sha256: String,
    summary: String,
}

#[derive(Deserialize)]
struct Refusal {
    error: String,
}

fn outcome(status: u16, body: &str) -> Progress {
    if (200..300).contains(&status) {
        match serde_json::from_str::<Answer>(body).ok().and_then(|a| a.results.into_iter().next()) {
            Some(Identified { id: Some(id), image_sha256, summary }) => {
                Progress::Done { href: format!("/results/{id}?key={image_sha256}"), summary }
            }
            _ => Progress::Failed("the server's answer was not understood".into()),
        }
    } else if status == 0 {
        Progress::Failed("the connection to the server was lost; try again".into())
    } else {
        match serde_json::from_str::<Refusal>(body) {
            Ok(r) => Progress::Failed(r.error),
            Err(_) => Progress::Failed(format!("the server answered {status}")),
        }
    }
}

/// Sends `file` with the form's text `fields` (date and place), updating `progress` as bytes
/// go out and when the answer arrives; then calls `finished`.
pub fn send(
    file: web_sys::File,
    fields: &[(&str, String)],
    progress: RwSignal<Progress>,
    finished: impl Fn(()) + Clone + 'static,
) {
    let fail = |m: &str| progress.set(Progress::Failed(m.to_string()));
    let Ok(xhr) = XmlHttpRequest::new() else { return fail("this browser cannot send files") };
    let Ok(form) = FormData::new() else { return fail("this browser cannot send files") };
    let texts_appended = fields.iter().filter(|(_, v)| !v.is_empty()).all(|(k, v)| form.append_with_str(k, v).is_ok());
    if !texts_appended
        || form.append_with_blob_and_filename("image", &file, &file.name()).is_err()
        || xhr.open("POST", "/api/v1/identify").is_err()
    {
        return fail("this browser cannot send files");
    }
    let _ = xhr.set_request_header("Accept", "application/json");
    progress.set(Progress::Sending(0.0));
    if let Ok(upload) = xhr.upload() {
        let on_progress = Closure::<dyn FnMut(ProgressEvent)>::new(move |e: ProgressEvent| {
            if e.length_computable() && e.total() > 0.0 {
                let sent = e.loaded() / e.total();
                progress.set(if sent >= 1.0 { Progress::Identifying } else { Progress::Sending(sent) });
            }
        });
        upload.set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
        on_progress.forget();
    }
    let request = xhr.clone();
    let finish = finished.clone();
    let on_end = Closure::<dyn FnMut()>::new(move || {
        let body = request.response_text().ok().flatten().unwrap_or_default();
        progress.set(outcome(request.status().unwrap_or(0), &body));
        finish(());
    });
    xhr.set_onloadend(Some(on_end.as_ref().unchecked_ref()));
    on_end.forget();
    if xhr.send_with_opt_form_data(Some(&form)).is_err() {
        fail("the photo could not be sent");
        finished(());
    }
}
