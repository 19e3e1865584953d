use crate::i18n::use_lang;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn NotFound() -> impl IntoView {
    let lang = use_lang();
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(axum::http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text=lang.t("Not found")/>
        <h1>{lang.t("Page not found")}</h1>
        <p>{lang.t("There is no page at this address. ")} <a href="/">{lang.t("Go to the home page")}</a>"."</p>
    }
}
