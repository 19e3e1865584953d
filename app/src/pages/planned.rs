use leptos::prelude::*;
use leptos_meta::Title;

/// A page of the product that is not built yet says so plainly, and what it will do.
#[component]
pub fn PlannedPage(title: &'static str, what: &'static str) -> impl IntoView {
    view! {
        <Title text=title/>
        <h1>{title}</h1>
        <div class="notice" role="status">
            <p><strong>"This page is not built yet."</strong></p>
            <p>{what}</p>
        </div>
    }
}
