use leptos::prelude::*;
use leptos_router::components::A;

use leptos_router::hooks::use_location;

use crate::api::RoleView;
use crate::auth::use_auth;
use crate::i18n::{use_lang, Lang};

/// Who may open a page. The navigation offers a page only to them; a direct link still
/// reaches the page, which says why it refuses (the services decide, not this list).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Everyone,
    SignedIn,
    /// Labelers and administrators.
    Staff,
    Admin,
}

impl Audience {
    pub fn admits(self, role: Option<RoleView>) -> bool {
        match (self, role) {
            (Audience::Everyone, _) => true,
            (_, None) => false,
            (Audience::SignedIn, Some(_)) => true,
            (Audience::Staff, Some(r)) => r != RoleView::User,
            (Audience::Admin, Some(r)) => r == RoleView::Admin,
        }
    }
}

/// Every page of the product, in the order the navigation shows them, with who it is for.
pub const PAGES: &[(&str, &str, Audience)] = &[
    ("/upload", "Identify", Audience::Everyone),
    ("/history", "History", Audience::SignedIn),
    ("/species", "Species", Audience::Everyone),
    ("/pressure", "Pest pressure", Audience::Everyone),
    ("/feedback", "Feedback", Audience::Staff),
    ("/label", "Label data", Audience::Staff),
    ("/datasets", "Datasets", Audience::Staff),
    ("/models", "Models", Audience::Admin),
    ("/users", "Users", Audience::Admin),
    ("/commands", "Commands", Audience::Admin),
    ("/terminal", "Terminal", Audience::Admin),
    ("/me", "My account", Audience::SignedIn),
];

/// The navigation's links for someone with `role` (None: not signed in).
fn links_for(lang: Lang, role: Option<RoleView>) -> impl IntoView {
    PAGES
        .iter()
        .filter(|(_, _, audience)| audience.admits(role))
        .map(|(href, label, _)| view! { <li><A href=*href>{lang.t(label)}</A></li> })
        .collect_view()
}

/// Header, navigation and footer around every page. It also records, for people and tests,
/// whether the page has been hydrated (JavaScript running) or is plain server HTML.
#[component]
pub fn NavShell(children: Children) -> impl IntoView {
    // Inside the router, so actions see an error a no-JS form post carried back in the URL.
    crate::auth::provide_auth();
    let lang = use_lang();
    let auth = use_auth();
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
                <nav aria-label=lang.t("Main") class="site-nav">
                    // On a phone the list folds behind a Menu button; a checkbox and its label
                    // make it open and close without JavaScript.
                    <input type="checkbox" id="nav-toggle" class="nav-toggle"/>
                    <label for="nav-toggle" class="nav-toggle-label button small">{lang.t("Menu")}</label>
                    <ul class="nav-list">
                        <Suspense fallback=move || links_for(lang, None)>
                            {move || auth.me.get().map(|me| links_for(lang, me.ok().flatten().map(|m| m.role)))}
                        </Suspense>
                    </ul>
                </nav>
                <AccountArea/>
            </header>
            <main id="main" class="page">
                <super::pest_alerts::PestAlertBanner/>
                {children()}
            </main>
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
                        <a href="/me" class="who" data-testid="signed-in-as">{me.display_name}" ("{me.role.as_str()}")"</a>
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

#[cfg(test)]
mod tests {
    use super::*;

    fn seen_by(role: Option<RoleView>) -> Vec<&'static str> {
        PAGES.iter().filter(|(_, _, a)| a.admits(role)).map(|(href, _, _)| *href).collect()
    }

    #[test]
    fn each_person_is_offered_only_the_pages_they_may_open() {
        assert_eq!(seen_by(None), ["/upload", "/species", "/pressure"]);
        assert_eq!(seen_by(Some(RoleView::User)), ["/upload", "/history", "/species", "/pressure", "/me"]);
        assert_eq!(
            seen_by(Some(RoleView::Labeler)),
            ["/upload", "/history", "/species", "/pressure", "/feedback", "/label", "/datasets", "/me"]
        );
        assert_eq!(seen_by(Some(RoleView::Admin)).len(), PAGES.len(), "an administrator sees every page");
    }
}
