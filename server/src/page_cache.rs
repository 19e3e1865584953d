//! Anonymous visitors' catalogue pages (the species list and each species page) kept as rendered
//! bytes for a few seconds, so the pages everybody reads cost one render per interval, not one
//! per visitor.
//!
//! Only GET requests without a session cookie are served from or stored in the cache, and only
//! 200 responses that set no cookie. The key holds everything such a page depends on: the path
//! with its query, the language it is rendered in and whether the body is gzip'd (the cache
//! sits outside the compression layer, so a hit costs no compression either). A cached page is
//! the same bytes for every anonymous visitor of that URL, its CSP nonce included: it holds
//! nothing personal and nothing can be injected into it after it was rendered, so repeating the
//! nonce for the entry's lifetime gives an attacker nothing a fresh render would not.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Pages larger than this are not kept (none of the catalogue's is near it).
const MAX_PAGE_BYTES: usize = 1024 * 1024;

#[derive(Clone)]
pub struct PageCache {
    /// None when switched off.
    pages: Option<moka::sync::Cache<String, Arc<CachedPage>>>,
}

struct CachedPage {
    headers: HeaderMap,
    body: Bytes,
}

impl PageCache {
    /// Pages live `ttl` (zero: no cache); the cache holds at most `max_bytes` of them.
    pub fn new(ttl: Duration, max_bytes: u64) -> Self {
        if ttl.is_zero() {
            return PageCache { pages: None };
        }
        let pages = moka::sync::Cache::builder()
            .time_to_live(ttl)
            .max_capacity(max_bytes)
            .weigher(|key: &String, page: &Arc<CachedPage>| {
                (key.len() + page.body.len()).try_into().unwrap_or(u32::MAX)
            })
            .build();
        PageCache { pages: Some(pages) }
    }
}

fn cacheable_path(path: &str) -> bool {
    path == "/species" || path.strip_prefix("/species/").is_some_and(|key| !key.is_empty() && !key.contains('/'))
}

/// Whether the request may carry a session, read with the session layer's own cookie parser
/// (which trims names: `insectid_session =ID` is a session). A header that cannot be read or
/// parsed counts as one: such a request is simply not cached.
fn may_have_session(headers: &HeaderMap) -> bool {
    headers.get_all(header::COOKIE).iter().any(|value| match value.to_str() {
        Ok(cookies) => tower_sessions::cookie::Cookie::split_parse(cookies)
            .any(|c| c.map_or(true, |c| c.name().trim().eq_ignore_ascii_case(crate::security::SESSION_COOKIE))),
        Err(_) => true,
    })
}

/// Put on a response by [`mark_anonymous`] when no one was signed in while it was rendered.
#[derive(Clone, Copy)]
pub struct RenderedAnonymously;

/// Runs inside the authentication layer: marks responses rendered for nobody, the only ones
/// the cache may keep.
pub async fn mark_anonymous(
    auth: axum_login::AuthSession<insectid::auth::Backend>,
    request: Request,
    next: Next,
) -> Response {
    let anonymous = auth.user.is_none();
    let mut response = next.run(request).await;
    if anonymous {
        response.extensions_mut().insert(RenderedAnonymously);
    }
    response
}

fn key(request: &Request) -> Option<String> {
    let headers = request.headers();
    if request.method() != Method::GET || !cacheable_path(request.uri().path()) || may_have_session(headers) {
        return None;
    }
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    // As the compression layer reads it: gzip or x-gzip, any case, unless its q is 0.
    let gzip = text(header::ACCEPT_ENCODING).unwrap_or("").split(',').any(|e| {
        let mut parts = e.split(';');
        let name = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let refused = parts
            .any(|p| p.trim().to_ascii_lowercase().replace(' ', "").trim_start_matches("q=").parse::<f32>() == Ok(0.0));
        (name == "gzip" || name == "x-gzip") && !refused
    });
    // The language the page will be rendered in, decided exactly as the page decides it.
    let lang = app::i18n::Lang::negotiate(text(header::COOKIE), text(header::ACCEPT_LANGUAGE));
    let path = request.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
    Some(format!("{path}\n{}\n{gzip}", lang.code()))
}

fn respond(page: &CachedPage, hit: bool) -> Response {
    let mut response = Response::new(Body::from(page.body.clone()));
    *response.headers_mut() = page.headers.clone();
    response.headers_mut().insert("x-page-cache", HeaderValue::from_static(if hit { "hit" } else { "miss" }));
    response
}

pub async fn serve_cached(State(cache): State<PageCache>, request: Request, next: Next) -> Response {
    let (Some(pages), Some(key)) = (&cache.pages, key(&request)) else {
        return next.run(request).await;
    };
    if let Some(page) = pages.get(&key) {
        metrics::counter!("insectid_page_cache_total", "outcome" => "hit").increment(1);
        return respond(&page, true);
    }
    metrics::counter!("insectid_page_cache_total", "outcome" => "miss").increment(1);
    let response = next.run(request).await;
    let anonymous = response.extensions().get::<RenderedAnonymously>().is_some();
    if !anonymous || response.status() != StatusCode::OK || response.headers().contains_key(header::SET_COOKIE) {
        return response;
    }
    let (parts, body) = response.into_parts();
    // Our own rendered page, not a client's upload: read whole, kept only when small enough.
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(e) => {
            tracing::warn!(error = %e, "a page could not be read whole for the cache");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let page = Arc::new(CachedPage { headers: parts.headers, body });
    if page.body.len() <= MAX_PAGE_BYTES {
        pages.insert(key, page.clone());
    }
    respond(&page, false)
}
