//! Insect Identifier's web application: pages, components and the thin server functions that
//! call the `insectid` domain library. Built twice: `ssr` for the server, `hydrate` for WASM.

pub mod api;
pub mod components;
pub mod error;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod state;
#[cfg(feature = "ssr")]
pub mod upload;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Link, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, SsrMode};

use components::nav::NavShell;
use pages::planned::PlannedPage;

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <HydrationScripts options/>
                // Controls that only work once hydrated are hidden when JavaScript is off.
                <noscript><style>".needs-js { display: none !important; }"</style></noscript>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/insectid.css"/>
        <Link rel="icon" type_="image/svg+xml" href="/favicon.svg"/>
        <Title formatter=|page: String| format!("{page} · Insect Identifier")/>
        <Router>
            <NavShell>
                <Routes fallback=pages::not_found::NotFound>
                    <Route path=path!("") view=pages::home::HomePage ssr=SsrMode::Async/>
                    <Route path=path!("models") view=pages::models::ModelsPage ssr=SsrMode::Async/>
                    <Route path=path!("upload") view=|| view! {
                        <PlannedPage title="Identify a photo" what="Upload one or several photos and get the model's answer with its confidence."/>
                    }/>
                    <Route path=path!("results") view=|| view! {
                        <PlannedPage title="Results" what="The answer for a photo: top-5 classes, the roll-up, a species card and where the model looked."/>
                    }/>
                    <Route path=path!("history") view=|| view! {
                        <PlannedPage title="History" what="Your identifications with thumbnails, species, confidence and model version."/>
                    }/>
                    <Route path=path!("species") view=|| view! {
                        <PlannedPage title="Species" what="The catalogue of pest species with taxonomy, host crops, damage and control measures."/>
                    }/>
                    <Route path=path!("me") view=|| view! {
                        <PlannedPage title="My account" what="Your name, email, language and password."/>
                    }/>
                    <Route path=path!("users") view=|| view! {
                        <PlannedPage title="Users" what="Administrators manage accounts and roles here."/>
                    }/>
                    <Route path=path!("feedback") view=|| view! {
                        <PlannedPage title="Feedback" what="Corrections people sent, to accept as labels or reject."/>
                    }/>
                    <Route path=path!("label") view=|| view! {
                        <PlannedPage title="Label data" what="A queue of photos to label, least confident first."/>
                    }/>
                    <Route path=path!("commands") view=|| view! {
                        <PlannedPage title="Commands" what="Predefined maintenance and training jobs with live logs."/>
                    }/>
                    <Route path=path!("terminal") view=|| view! {
                        <PlannedPage title="Terminal" what="An SSH terminal to the configured inference hosts, for administrators."/>
                    }/>
                </Routes>
            </NavShell>
        </Router>
    }
}

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}
