//! Every request gets an id: in the `x-request-id` header of its response, in the log lines
//! written while it is served, and in the body of an internal error, so a person can quote it
//! and an administrator can find what happened. The id is always the server's own: one sent
//! by the client is replaced.

use axum::extract::Request;
use axum::http::HeaderName;
use axum::middleware::Next;
use axum::response::Response;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

tokio::task_local! {
    static CURRENT: String;
}

/// Drops a client's own `x-request-id` before the server assigns one.
pub async fn forget_client_id(mut request: Request, next: Next) -> Response {
    request.headers_mut().remove(&HEADER);
    next.run(request).await
}

/// Assigns the id (a UUID) to the request.
pub fn assign() -> SetRequestIdLayer<MakeRequestUuid> {
    SetRequestIdLayer::new(HEADER, MakeRequestUuid)
}

/// Copies the id onto the response.
pub fn propagate() -> PropagateRequestIdLayer {
    PropagateRequestIdLayer::new(HEADER)
}

/// Makes the id readable by [`current`] while the handler runs.
pub async fn scope(request: Request, next: Next) -> Response {
    let id = of(&request);
    CURRENT.scope(id, next.run(request)).await
}

/// The request's id, "-" outside a request.
pub fn current() -> String {
    CURRENT.try_with(String::clone).unwrap_or_else(|_| "-".into())
}

/// A request's id as assigned.
pub fn of<B>(request: &axum::http::Request<B>) -> String {
    request.headers().get(&HEADER).and_then(|v| v.to_str().ok()).unwrap_or("-").to_string()
}
