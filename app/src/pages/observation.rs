//! On one's own result: when and where the photo was taken, editable, and whether to share it.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::{ContextSourceView, ObservationView, UpdateObservation};
use crate::auth::action_error;
use crate::components::place::{as_field, PlaceInputs};
use crate::i18n::use_lang;

#[component]
pub fn ObservationSection(
    id: i64,
    observation: ObservationView,
    save: ServerAction<UpdateObservation>,
) -> impl IntoView {
    let lang = use_lang();
    let query = use_query_map();
    let error = action_error(save);
    let saved = move || query.with(|q| q.get("observation").is_some()) || matches!(save.value().get(), Some(Ok(())));
    let taken_at = RwSignal::new(as_field(&observation.taken_at));
    let number = |d: Option<f64>| d.map(|d| format!("{d:.5}")).unwrap_or_default();
    let latitude = RwSignal::new(number(observation.latitude));
    let longitude = RwSignal::new(number(observation.longitude));
    let source = match observation.source {
        Some(ContextSourceView::Photo) => lang.t("From the photo's own data."),
        Some(ContextSourceView::Device) => lang.t("From the device that sent it."),
        Some(ContextSourceView::Owner) => lang.t("As you set it."),
        None => lang.t("Not known: add them if you know."),
    };
    let sharing = if observation.shared {
        lang.t("Shared: others see the photo, the day and the place to about 1 km.")
    } else {
        lang.t("Only you see this.")
    };
    view! {
        <section class="card observation" id="observation">
            <h2>{lang.t("When and where")}</h2>
            <p class="hint" data-testid="observation-state">{format!("{source} {sharing}")}</p>
            <ActionForm action=save attr:class="form observation-form">
                <input type="hidden" name="id" value=id.to_string()/>
                <label>{lang.t("Taken")}
                    <input type="datetime-local" name="taken_at" step="1" value=taken_at.get_untracked() prop:value=taken_at
                        on:input=move |ev| taken_at.set(event_target_value(&ev))/>
                </label>
                <PlaceInputs latitude longitude/>
                <label class="check">
                    <input type="checkbox" name="shared" value="on" checked=observation.shared/>
                    {lang.t("Share with this portal: the photo may illustrate the species' page, with its day and its place rounded to about 1 km.")}
                </label>
                <button type="submit" class="button">{lang.t("Save")}</button>
            </ActionForm>
            {move || error().map(|m| view! { <p class="error" role="alert">{m}</p> })}
            {move || (saved() && error().is_none()).then(|| view! { <p class="notice" role="status">{lang.t("Saved.")}</p> })}
        </section>
    }
}
