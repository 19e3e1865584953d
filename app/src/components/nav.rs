use leptos::prelude::*;
use leptos_router::components::A;

use crate::auth::use_auth;

/// Every page of the product, in the order the navigation shows them.
pub const PAGES: &[(&str, &str)] = &[
    ("/upload", "Identify"),
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
    // Inside the router, so actions see an error a no-JS form post carried back in the URL.
    crate::auth::provide_auth();
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
                <AccountArea/>
            </header>
            <main id="main" class="page">{children()}</main>
            <footer class="site-footer">
                <span>"Insect Identifier · self-hosted insect identification"</span>
            </footer>
        </div>
    }
}

/// Who is signed in, with the way out; or the ways in.
#[component]
fn AccountArea() -> impl IntoView {
    let auth = use_auth();
    view! {
        <div class="account-area">
            <Suspense fallback=|| ()>
                {move || auth.me.get().map(|r| match r {
                    Ok(Some(me)) => view! {
                        <a href="/me" class="who" data-testid="signed-in-as">{me.display_name}" ("{me.role}")"</a>
                        <ActionForm action=auth.sign_out attr:class="inline">
                            <button type="submit" class="button small">"Sign out"</button>
                        </ActionForm>
                    }.into_any(),
                    _ => view! {
                        <a href="/signin">"Sign in"</a>
                        <a href="/signup">"Sign up"</a>
                    }.into_any(),
                })}
            </Suspense>
        </div>
    }
}
