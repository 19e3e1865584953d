use leptos::prelude::*;
use leptos_router::components::A;

use leptos_router::hooks::use_location;

use crate::auth::use_auth;
use crate::i18n::{use_lang, Lang};

/// Every page of the product, in the order the navigation shows them.
pub const PAGES: &[(&str, &str)] = &[
    ("/upload", "Identify"),
    ("/history", "History"),
    ("/species", "Species"),
    ("/feedback", "Feedback"),
    ("/label", "Label data"),
    ("/datasets", "Datasets"),
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
    let lang = use_lang();
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    view! {
        <div class="app" data-hydrated=move || hydrated.get().to_string()>
            <a class="skip-link" href="#main">{lang.t("Skip to content")}</a>
            <header class="site-header">
                <A href="/" attr:class="brand">
                    <img src="/favicon.svg" alt="" width="28" height="28"/>
                    <span>{lang.t("Insect Identifier")}</span>
                </A>
                <nav aria-label=lang.t("Main")>
                    <ul class="nav-list">
                        {PAGES
                            .iter()
                            .map(|(href, label)| view! { <li><A href=*href>{lang.t(label)}</A></li> })
                            .collect_view()}
                    </ul>
                </nav>
                <AccountArea/>
            </header>
            <main id="main" class="page">{children()}</main>
            <footer class="site-footer">
                <span>{lang.t("Insect Identifier · self-hosted insect identification")}</span>
                <LanguageSwitcher/>
            </footer>
        </div>
    }
}

/// Who is signed in, with the way out; or the ways in.
#[component]
fn AccountArea() -> impl IntoView {
    let lang = use_lang();
    let auth = use_auth();
    view! {
        <div class="account-area">
            <Suspense fallback=|| ()>
                {move || auth.me.get().map(|r| match r {
                    Ok(Some(me)) => view! {
                        <a href="/me" class="who" data-testid="signed-in-as">{me.display_name}" ("{me.role}")"</a>
                        <ActionForm action=auth.sign_out attr:class="inline">
                            <button type="submit" class="button small">{lang.t("Sign out")}</button>
                        </ActionForm>
                    }.into_any(),
                    _ => view! {
                        <a href="/signin">{lang.t("Sign in")}</a>
                        <a href="/signup">{lang.t("Sign up")}</a>
                    }.into_any(),
                })}
            </Suspense>
        </div>
    }
}

/// English / 中文. A plain form, so it works without JavaScript; the answer reloads the page
/// it came from in the chosen language (and remembers it for a signed-in account).
#[component]
fn LanguageSwitcher() -> impl IntoView {
    let lang = use_lang();
    let location = use_location();
    let back = move || match location.search.get() {
        q if q.is_empty() => location.pathname.get(),
        q => format!("{}?{q}", location.pathname.get()),
    };
    view! {
        <form method="post" action="/api/set_language" class="language" id="language-switcher">
            <input type="hidden" name="back" value=back/>
            <span class="hint">{lang.t("Language")}</span>
            <button type="submit" name="lang" value="en" class="button small" aria-pressed=(lang == Lang::En).to_string()>"English"</button>
            <button type="submit" name="lang" value="zh" class="button small" aria-pressed=(lang == Lang::Zh).to_string() lang="zh">"中文"</button>
        </form>
    }
}
