//! Inputs for when and where a photo was taken. Plain form fields, so they work without
//! JavaScript; once hydrated, "Use my location" asks the browser (with the person's
//! permission) and the date can default to now.

use leptos::prelude::*;

use crate::i18n::use_lang;

/// Latitude and longitude fields (named `latitude`, `longitude`) and, with JavaScript, a
/// button that fills them from the device's position.
#[component]
pub fn PlaceInputs(latitude: RwSignal<String>, longitude: RwSignal<String>) -> impl IntoView {
    let lang = use_lang();
    let problem = RwSignal::new(None::<String>);
    // (`prop:value` keeps the field and the signal together once hydrated; `value` is what
    // the server renders, the field's value without JavaScript.)
    let on_locate = move |_| {
        problem.set(None);
        locate(move |found| match found {
            Ok((lat, lon)) => {
                latitude.set(format!("{lat:.5}"));
                longitude.set(format!("{lon:.5}"));
            }
            Err(reason) => problem.set(Some(reason)),
        });
    };
    view! {
        <label>{lang.t("Latitude")}
            <input name="latitude" inputmode="decimal" placeholder="48.1253" value=latitude.get_untracked() prop:value=latitude
                on:input=move |ev| latitude.set(event_target_value(&ev))/>
        </label>
        <label>{lang.t("Longitude")}
            <input name="longitude" inputmode="decimal" placeholder="7.5253" value=longitude.get_untracked() prop:value=longitude
                on:input=move |ev| longitude.set(event_target_value(&ev))/>
        </label>
        <button type="button" class="button small needs-js locate" on:click=on_locate>{lang.t("Use my location")}</button>
        {move || problem.get().map(|m| view! { <p class="error" role="alert">{m}</p> })}
    }
}

/// The device's position in degrees, or why there is none (refused, unavailable).
#[cfg(feature = "hydrate")]
pub fn locate(done: impl FnOnce(Result<(f64, f64), String>) + 'static) {
    use leptos::wasm_bindgen::closure::Closure;
    use leptos::wasm_bindgen::{JsCast, JsValue};
    use leptos::web_sys::js_sys::Reflect;
    // (web-sys's GeolocationPosition types are still "unstable" APIs: read the fields by name.)
    let field =
        |object: &JsValue, name: &str| Reflect::get(object, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED);
    let Ok(geolocation) = window().navigator().geolocation() else {
        return done(Err("this browser cannot tell its position".into()));
    };
    // Either callback runs, once: both share the one `done`.
    let done = std::rc::Rc::new(std::cell::RefCell::new(Some(done)));
    let on_error = done.clone();
    let success = Closure::once_into_js(move |position: JsValue| {
        let coords = field(&position, "coords");
        let degrees = (field(&coords, "latitude").as_f64(), field(&coords, "longitude").as_f64());
        if let Some(done) = done.borrow_mut().take() {
            done(match degrees {
                (Some(lat), Some(lon)) => Ok((lat, lon)),
                _ => Err("the browser gave no position".into()),
            });
        }
    });
    let failure = Closure::once_into_js(move |error: JsValue| {
        let reason = field(&error, "message").as_string().unwrap_or_default();
        if let Some(done) = on_error.borrow_mut().take() {
            done(Err(format!("no position: {reason}")));
        }
    });
    let asked =
        geolocation.get_current_position_with_error_callback(success.unchecked_ref(), Some(failure.unchecked_ref()));
    if asked.is_err() {
        leptos::logging::warn!("getCurrentPosition refused to start");
    }
}

#[cfg(not(feature = "hydrate"))]
pub fn locate(_done: impl FnOnce(Result<(f64, f64), String>) + 'static) {}

/// The device's clock now, as a `datetime-local` field holds it ("2026-11-30T10:15").
#[cfg(feature = "hydrate")]
pub fn now_local() -> String {
    let now = leptos::web_sys::js_sys::Date::new_0();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}",
        now.get_full_year(),
        now.get_month() + 1,
        now.get_date(),
        now.get_hours(),
        now.get_minutes()
    )
}

#[cfg(not(feature = "hydrate"))]
pub fn now_local() -> String {
    String::new()
}

/// A kept date ("2024-06-01 09:12:00") as a `datetime-local` field holds it.
pub fn as_field(taken_at: &str) -> String {
    taken_at.replacen(' ', "T", 1)
}
