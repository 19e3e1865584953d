use leptos::prelude::*;
use leptos_router::components::A;

/// Every page of the product, in the order the navigation shows them.
pub const PAGES: &[(&str, &str)] = &[
    ("/upload", "Identify"),
    ("/results", "Results"),
    ("/history", "History"),
    ("/species", "Species"),
    ("/feedback", "Feedback"),
    ("/label", "Label data"),
    ("/models", "Models"),
    ("/users", "Users"),
    ("/commands", "Commands"),
    ("/terminal", "Terminal"),
    ("/me", "My account"),
];

/// Header, navigation and footer around every page. It also records, for people and tests,
/// whether the page has been hydrated (JavaScript running) or is plain server HTML.
#[component]
pub fn NavShell(children: Children) -> impl IntoView {
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    view! {
        <div class="app" data-hydrated=move || hydrated.get().to_string()>
            <a class="skip-link" href="#main">"Skip to content"</a>
            <header class="site-header">
                <A href="/" attr:class="brand">
                    <img src="/favicon.svg" alt="" width="28" height="28"/>
                    <span>"Insect Identifier"</span>
                </A>
                <nav aria-label="Main">
                    <ul class="nav-list">
                        {PAGES
                            .iter()
                            .map(|(href, label)| view! { <li><A href=*href>{*label}</A></li> })
                            .collect_view()}
                    </ul>
                </nav>
            </header>
            <main id="main" class="page">{children()}</main>
            <footer class="site-footer">
                <span>"Insect Identifier · self-hosted insect identification"</span>
            </footer>
        </div>
    }
}
