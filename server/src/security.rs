//! Request hardening: sessions and authentication layers, a same-origin check for every
//! state-changing request (CSRF), and security headers.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_login::{AuthManagerLayer, AuthManagerLayerBuilder};
use futures::StreamExt;
use insectid::auth::session_store::SeaOrmSessionStore;
use insectid::auth::Backend;
use sea_orm::DatabaseConnection;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

pub type AuthLayer = AuthManagerLayer<Backend, SeaOrmSessionStore>;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "insectid_session";

/// Sessions in the database, cookies HttpOnly and SameSite=Lax (Secure behind TLS), ending
/// after a week without use.
pub fn auth_layer(db: DatabaseConnection, secure_cookies: bool) -> AuthLayer {
    let store = SeaOrmSessionStore::new(db.clone());
    let sessions = SessionManagerLayer::new(store)
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(secure_cookies)
        .with_expiry(Expiry::OnInactivity(time::Duration::days(7)));
    AuthManagerLayerBuilder::new(Backend::new(db), sessions).build()
}

/// The host a request was sent to: its Host header, or over HTTP/2 (which has none) the
/// authority of its URI.
pub(crate) fn request_host<B>(request: &axum::http::Request<B>) -> Option<&str> {
    request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| request.uri().authority().map(|a| a.as_str()))
}

pub(crate) fn host_of(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    Some(rest.split(['/', '?', '#']).next().unwrap_or(rest))
}

/// Refuses a state-changing request whose Origin (or, without one, Referer) names another
/// host than the one it was sent to. Requests with neither (scripts, curl) carry no ambient
/// browser credentials to abuse and pass.
pub async fn same_origin(request: Request<Body>, next: Next) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(request).await;
    }
    let headers = request.headers();
    let host = request_host(&request);
    let claimed =
        headers.get(header::ORIGIN).or_else(|| headers.get(header::REFERER)).map(|v| v.to_str().ok().and_then(host_of));
    match (claimed, host) {
        (None, _) => next.run(request).await,
        (Some(Some(from)), Some(host)) if from.eq_ignore_ascii_case(host) => next.run(request).await,
        _ => (StatusCode::FORBIDDEN, "cross-origin request refused").into_response(),
    }
}

const DEFAULT_POLICY: &str = "default-src 'self'; script-src 'none'; object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'";
/// The meta element the page shell writes first in <head>, holding the page's nonce policy.
const META_POLICY: &[u8] = b"<meta http-equiv=\"Content-Security-Policy\" content=\"";
/// Headers every response carries. Pages carry the renderer's nonce policy, in the header and
/// in a meta element of their own; anything else gets a policy that runs no script at all. A
/// page whose header was lost on its way out gets it back from its meta element; one without
/// that element runs no script. Either is logged, with the page.
pub async fn security_headers(request: Request<Body>, next: Next) -> Response {
    let (method, path) = (request.method().clone(), request.uri().path().to_string());
    let mut response = next.run(request).await;
    let status = response.status();
    let h = response.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // A page showing a new API token's secret is kept by no cache, the browser's included.
    if path == "/me" || path == "/api/take_new_api_token" {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if h.contains_key(header::CONTENT_SECURITY_POLICY) {
        return response;
    }
    let is_page = h.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|t| t.starts_with("text/html"));
    if !is_page {
        h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(DEFAULT_POLICY));
        return response;
    }
    // The renderer writes the whole document as its first chunk: look for its own policy there.
    let (mut parts, body) = response.into_parts();
    let mut stream = body.into_data_stream();
    let first = stream.next().await;
    let own = match &first {
        Some(Ok(chunk)) => document_policy(chunk),
        _ => None,
    };
    tracing::warn!(%method, path, status = status.as_u16(), own_policy = own.is_some(), "a page without the renderer's policy header");
    let policy = own.unwrap_or_else(|| HeaderValue::from_static(DEFAULT_POLICY));
    parts.headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    let rest = futures::stream::iter(first).chain(stream);
    Response::from_parts(parts, Body::from_stream(rest.map(|c| c.map_err(std::io::Error::other))))
}

/// The policy of the page's own meta element (the first one; the shell writes it ahead of
/// anything else in the document), with the frame-ancestors rule a meta element cannot carry.
fn document_policy(page: &[u8]) -> Option<HeaderValue> {
    let start = page.windows(META_POLICY.len()).position(|w| w == META_POLICY)? + META_POLICY.len();
    let length = page[start..].iter().position(|b| *b == b'"')?;
    let policy = std::str::from_utf8(&page[start..start + length]).ok()?;
    HeaderValue::from_str(&format!("{policy}; frame-ancestors 'none'")).ok()
}

/// Over HTTPS (the server's own TLS, or a trusted proxy's word): browsers are told to come
/// back only over HTTPS (HSTS), and every cookie set is marked Secure.
pub async fn over_https(request: Request<Body>, next: Next) -> Response {
    let https = request.extensions().get::<crate::client_addr::OverHttps>().is_some_and(|h| h.0);
    let mut response = next.run(request).await;
    if !https {
        return response;
    }
    let headers = response.headers_mut();
    headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    let cookies: Vec<HeaderValue> = headers.get_all(header::SET_COOKIE).iter().cloned().collect();
    if cookies.iter().any(|c| !is_secure(c)) {
        headers.remove(header::SET_COOKIE);
        for cookie in cookies {
            let secured = match cookie.to_str() {
                Ok(text) if !is_secure(&cookie) => HeaderValue::from_str(&format!("{text}; Secure")).unwrap_or(cookie),
                _ => cookie,
            };
            headers.append(header::SET_COOKIE, secured);
        }
    }
    response
}

fn is_secure(cookie: &HeaderValue) -> bool {
    cookie.to_str().is_ok_and(|c| c.split(';').skip(1).any(|attribute| attribute.trim().eq_ignore_ascii_case("secure")))
}

#[cfg(test)]
mod tests {
    use super::host_of;
    use axum::http::header;
    use tower::ServiceExt;

    /// A page that lost the renderer's policy runs no inline script (the old fallback allowed
    /// 'unsafe-inline'); one that carries it in its meta element gets it back as its header.
    #[tokio::test]
    async fn a_page_without_the_nonce_policy_gets_a_strict_one() {
        let page = || async { ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], "<script>alert(1)</script>") };
        let app = axum::Router::new()
            .route("/page", axum::routing::get(page))
            .layer(axum::middleware::from_fn(super::security_headers));
        let request = axum::http::Request::get("/page").body(axum::body::Body::empty()).unwrap();
        let response = app.oneshot(request).await.unwrap();
        let csp = response.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("script-src 'none'") && !csp.contains("unsafe-inline"), "{csp}");

        let own = || async {
            let page = "<head><meta http-equiv=\"Content-Security-Policy\" content=\"script-src 'nonce-abc'\"/></head><script nonce=\"abc\">1</script>";
            ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page)
        };
        let app = axum::Router::new()
            .route("/own", axum::routing::get(own))
            .layer(axum::middleware::from_fn(super::security_headers));
        let response =
            app.oneshot(axum::http::Request::get("/own").body(axum::body::Body::empty()).unwrap()).await.unwrap();
        let csp = response.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().to_string();
        assert_eq!(
            csp, "script-src 'nonce-abc'; frame-ancestors 'none'",
            "the document's own policy, back in the header"
        );
        let body = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
        assert!(body.ends_with(b"<script nonce=\"abc\">1</script>"), "the page arrives whole");
    }

    #[test]
    fn hosts_are_read_from_origins_and_referers() {
        assert_eq!(host_of("http://127.0.0.1:3000"), Some("127.0.0.1:3000"));
        assert_eq!(host_of("https://insects.example.org/me?x=1"), Some("insects.example.org"));
        assert_eq!(host_of("null"), None);
    }
}
