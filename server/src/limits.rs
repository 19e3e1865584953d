//! What one request may make the server hold: a body limit on every `/api/` route (uploads
//! get theirs from the upload limits), multipart bodies refused with 400 before the
//! server-function layer parses them, per-address rate limits on the costly routes, and panics
//! answered with a 500 and a log line instead of a dropped connection.

use std::any::Any;

use axum::body::Body;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use insectid::services::archive::MAX_ARCHIVE_BYTES;
use insectid::services::identify::UploadLimits;
use tower_http::catch_panic::CatchPanicLayer;

use crate::rate_limit::RouteLimit;

/// Any server function that is not an upload takes a small form or JSON body.
pub const SERVER_FN_BODY_BYTES: usize = 1024 * 1024;

/// Room for the multipart framing and the small fields around the files.
const MULTIPART_OVERHEAD_BYTES: usize = 64 * 1024;

/// The body limit of a photo upload: every photo at its largest, plus the framing.
pub fn photo_upload_body_bytes(limits: &UploadLimits) -> usize {
    limits.max_files * limits.max_bytes + MULTIPART_OVERHEAD_BYTES
}

/// The body limit of an archive upload (a dataset or a model bundle), streamed to disk.
pub fn archive_upload_body_bytes() -> usize {
    MAX_ARCHIVE_BYTES + MULTIPART_OVERHEAD_BYTES
}

/// What `/api/…` requests may send: a body limit for each, multipart with a boundary for the
/// uploads, and per-address rate limits for signing in and uploading. One middleware rather
/// than per-route layers, because the page framework registers each server function's route
/// itself.
pub struct ApiGuards {
    pub photo_upload_bytes: usize,
    pub sign_ins: Option<Arc<RouteLimit>>,
    pub uploads: Option<Arc<RouteLimit>>,
}

struct Guard<'a> {
    body_bytes: usize,
    multipart: bool,
    rate: Option<&'a RouteLimit>,
    /// Photo uploads are read into memory whole: they take room in [`UPLOADS_IN_MEMORY`].
    in_memory: bool,
}

const MIB: usize = 1024 * 1024;
/// Photo upload bodies held in memory at once, all clients together (MiB). A request takes
/// its declared length (or its limit, undeclared) before it is read; past this, 503.
pub const UPLOAD_MEMORY_MIB: usize = 768;
static UPLOADS_IN_MEMORY: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(UPLOAD_MEMORY_MIB);

/// How long a request body may send nothing before it is given up (a client that trickles a
/// byte a minute holds its memory and connection no longer).
pub const BODY_IDLE: std::time::Duration = std::time::Duration::from_secs(30);

impl ApiGuards {
    fn for_path(&self, path: &str) -> Option<Guard<'_>> {
        let name = path.strip_prefix("/api/")?;
        let small = Guard { body_bytes: SERVER_FN_BODY_BYTES, multipart: false, rate: None, in_memory: false };
        Some(match name {
            "identify_photos" => Guard {
                body_bytes: self.photo_upload_bytes,
                multipart: true,
                rate: self.uploads.as_deref(),
                in_memory: true,
            },
            "upload_dataset" | "upload_model" => {
                Guard { body_bytes: archive_upload_body_bytes(), multipart: true, rate: None, in_memory: false }
            }
            "sign_in" | "sign_up" => Guard { rate: self.sign_ins.as_deref(), ..small },
            // The REST API reads its multipart body with the same upload limits.
            "v1/identify" => Guard {
                body_bytes: self.photo_upload_bytes,
                multipart: false,
                rate: self.uploads.as_deref(),
                in_memory: true,
            },
            _ => small,
        })
    }
}

/// The middleware: rate limit first (nothing is read from a refused client), then the body's
/// form, then its size (refused at once by Content-Length, else cut off at the limit).
pub async fn guard_api(State(guards): State<Arc<ApiGuards>>, request: Request<Body>, next: Next) -> Response {
    let Some(guard) = guards.for_path(request.uri().path()) else {
        return next.run(request).await;
    };
    if let Some(limit) = guard.rate {
        if let Err(refused) = crate::rate_limit::admit(limit, &request) {
            return *refused;
        }
    }
    if guard.multipart && request.method() == Method::POST && !has_boundary(&request) {
        let message =
            "expected a multipart/form-data body with a boundary (a form with enctype=\"multipart/form-data\")";
        return (StatusCode::BAD_REQUEST, message).into_response();
    }
    let declared = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let too_large = || {
        (StatusCode::PAYLOAD_TOO_LARGE, format!("the request body may be at most {} bytes", guard.body_bytes))
            .into_response()
    };
    let at_least = axum::body::HttpBody::size_hint(request.body()).lower();
    if declared.unwrap_or(at_least).max(at_least) > guard.body_bytes as u64 {
        return too_large();
    }
    let mib = usize::try_from(declared.unwrap_or(guard.body_bytes as u64)).unwrap_or(usize::MAX).div_ceil(MIB).max(1);
    let _in_memory = match guard.in_memory {
        true => match UPLOADS_IN_MEMORY.try_acquire_many(u32::try_from(mib.min(UPLOAD_MEMORY_MIB)).unwrap_or(u32::MAX))
        {
            Ok(permit) => Some(permit),
            Err(_) => {
                let mut busy =
                    (StatusCode::SERVICE_UNAVAILABLE, "the server is receiving many uploads; retry in a moment")
                        .into_response();
                busy.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
                return busy;
            }
        },
        false => None,
    };
    // A body without a declared length is cut off at the limit; whatever the handler then
    // answers (a server function reads a cut-off form as malformed: 400), the client is told
    // why.
    let limit = guard.body_bytes;
    let cut_off = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let seen = cut_off.clone();
    let request = request.map(|body| {
        let limited = http_body_util::BodyExt::map_err(http_body_util::Limited::new(body, limit), move |e| {
            if e.is::<http_body_util::LengthLimitError>() {
                seen.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            e
        });
        Body::new(limited)
    });
    let response = next.run(request).await;
    if cut_off.load(std::sync::atomic::Ordering::Relaxed) && response.status() != StatusCode::PAYLOAD_TOO_LARGE {
        return too_large();
    }
    response
}

/// The multipart server functions need a `multipart/form-data` body with a boundary; the
/// server-function layer would panic on any other (it `expect`s the boundary).
fn has_boundary(request: &Request<Body>) -> bool {
    let content_type = request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    content_type.is_some_and(|ct| multer::parse_boundary(ct).is_ok())
}

/// A panic in a handler or a layer below this one becomes a 500 with a short plain body,
/// and the panic's message goes to the log.
pub fn catch_panics() -> CatchPanicLayer<fn(Box<dyn Any + Send + 'static>) -> Response> {
    CatchPanicLayer::custom(answer_panic as fn(Box<dyn Any + Send + 'static>) -> Response)
}

fn answer_panic(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    tracing::error!(panic = message, "a request handler panicked");
    let mut response =
        (StatusCode::INTERNAL_SERVER_ERROR, "something went wrong on the server; it was logged").into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use axum::routing::get;
    use axum::Router;
    use tower::ServiceExt;

    fn panic_now() -> &'static str {
        panic!("deliberate")
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_500_and_the_router_keeps_serving() {
        let app = Router::new()
            .route("/boom", get(|| async { panic_now() }))
            .route("/fine", get(|| async { "ok" }))
            .layer(super::catch_panics());
        let boom = app
            .clone()
            .oneshot(axum::http::Request::get("/boom").body(axum::body::Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(boom.status(), 500);
        let fine =
            app.oneshot(axum::http::Request::get("/fine").body(axum::body::Body::empty()).unwrap()).await.unwrap();
        assert_eq!(fine.status(), 200);
    }
}
