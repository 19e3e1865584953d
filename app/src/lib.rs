//! Insect Identifier's web application: pages, components and the thin server functions that
//! call the `insectid` domain library. Built twice: `ssr` for the server, `hydrate` for WASM.

pub mod api;
pub mod auth;
pub mod components;
pub mod error;
pub mod i18n;
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

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    let policy = content_security_policy();
    #[cfg(not(feature = "ssr"))]
    let policy: Option<String> = None;
    let lang = i18n::provide_lang();
    view! {
        <!DOCTYPE html>
        <html lang=lang.code()>
            <head>
                <meta charset="utf-8"/>
                // The same policy in the document itself, ahead of every script: it holds even
                // when a response loses the header on its way out (seen now and then).
                {policy.map(|p| view! { <meta http-equiv="Content-Security-Policy" content=p/> })}
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                // Installable, and the upload page works offline (public/sw.js, offline-capture.js).
                <link rel="manifest" href="/manifest.webmanifest"/>
                <meta name="theme-color" content="#1f4d2b"/>
                <script src="/offline-capture.js" defer></script>
                <HydrationScripts options/>
                // Controls that only work once hydrated are hidden when JavaScript is off.
                <noscript><style>".needs-js { display: none !important; } .noscript-only { display: block !important; }"</style></noscript>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// Scripts run only from this origin or with this response's nonce (the hydration loader).
/// Sent as the response's header; returned for the document's own meta element.
#[cfg(feature = "ssr")]
fn content_security_policy() -> Option<String> {
    use axum::http::{header, HeaderValue};
    let nonce = leptos::nonce::use_nonce()?;
    let policy = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    );
    if let (Some(response), Ok(value)) = (use_context::<leptos_axum::ResponseOptions>(), HeaderValue::from_str(&policy))
    {
        response.insert_header(header::CONTENT_SECURITY_POLICY, value);
    }
    // frame-ancestors means nothing in a meta element (the header carries it).
    Some(policy.replace(" frame-ancestors 'none';", ""))
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let lang = i18n::provide_lang();
    view! {
        <Stylesheet id="leptos" href="/pkg/insectid.css"/>
        <Link rel="icon" type_="image/svg+xml" href="/favicon.svg"/>
        <Title formatter=move |page: String| format!("{page} · {}", lang.t("Insect Identifier"))/>
        <Router>
            <NavShell>
                <Routes fallback=pages::not_found::NotFound>
                    <Route path=path!("") view=pages::home::HomePage ssr=SsrMode::Async/>
                    <Route path=path!("models") view=pages::models::ModelsPage ssr=SsrMode::Async/>
                    <Route path=path!("models/compare") view=pages::model_quality::ComparePage ssr=SsrMode::Async/>
                    <Route path=path!("models/:id/identifications") view=pages::model_quality::VersionIdentificationsPage ssr=SsrMode::Async/>
                    <Route path=path!("upload") view=pages::upload::UploadPage ssr=SsrMode::Async/>
                    <Route path=path!("results/:id") view=pages::result::ResultPage ssr=SsrMode::Async/>
                    <Route path=path!("history") view=pages::history::HistoryPage ssr=SsrMode::Async/>
                    <Route path=path!("search") view=pages::photo_search::PhotoSearchPage ssr=SsrMode::Async/>
                    <Route path=path!("species") view=pages::species::SpeciesListPage ssr=SsrMode::Async/>
                    <Route path=path!("species/:key") view=pages::species::SpeciesPage ssr=SsrMode::Async/>
                    <Route path=path!("pressure") view=pages::pressure::PressurePage ssr=SsrMode::Async/>
                    <Route path=path!("pressure/:key") view=pages::pressure::SpeciesPressurePage ssr=SsrMode::Async/>
                    <Route path=path!("alerts/confirm") view=pages::alert_mail::ConfirmAlertMailPage ssr=SsrMode::Async/>
                    <Route path=path!("alerts/stop") view=pages::alert_mail::StopAlertMailPage ssr=SsrMode::Async/>
                    <Route path=path!("me") view=pages::account::MePage ssr=SsrMode::Async/>
                    <Route path=path!("signin") view=pages::account::SignInPage ssr=SsrMode::Async/>
                    <Route path=path!("signup") view=pages::account::SignUpPage ssr=SsrMode::Async/>
                    <Route path=path!("users") view=pages::users::UsersPage ssr=SsrMode::Async/>
                    <Route path=path!("feedback") view=pages::feedback::FeedbackQueuePage ssr=SsrMode::Async/>
                    <Route path=path!("label") view=pages::label::LabelPage ssr=SsrMode::Async/>
                    <Route path=path!("datasets") view=pages::datasets::DatasetsPage ssr=SsrMode::Async/>
                    <Route path=path!("commands") view=pages::commands::CommandsPage ssr=SsrMode::Async/>
                    <Route path=path!("jobs/:id") view=pages::jobs::JobPage ssr=SsrMode::Async/>
                    <Route path=path!("terminal") view=pages::terminal::TerminalPage ssr=SsrMode::Async/>
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
