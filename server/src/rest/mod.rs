//! The versioned JSON API under /api/v1, for scripts and other programs. Its routes are
//! registered only through [`OpenApiRouter`], so the OpenAPI document (`/api/v1/openapi.json`,
//! read by people at `/api`) names exactly the routes the router serves.

mod admin;
pub mod caller;
mod docs;
mod identifications;
mod identify;
mod paging;
mod pressure;
mod search;
mod species;

use app::state::AppState;
use axum::extract::State;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::openapi::OpenApi as Document;
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The REST API's one error: [`HttpError`](crate::http_error::HttpError), `{"error", "status"}`.
pub use crate::http_error::HttpError as ApiError;
pub use docs::api_page;

/// Every error answer's body.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong, for people; an internal error names only the request's id.
    pub error: String,
    /// The HTTP status again.
    pub status: u16,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Insect Identifier API",
        description = "Identify insects in photos and read what the portal knows. Errors answer \
                       `{\"error\": \"…\", \"status\": N}` with the status of their kind; 429 and 503 \
                       come with Retry-After.",
        license(name = "Apache-2.0", identifier = "Apache-2.0")
    ),
    components(schemas(ErrorBody)),
    modifiers(&Authentication),
    tags(
        (name = "identify", description = "Photos in, answers out"),
        (name = "identifications", description = "The caller's identifications and feedback"),
        (name = "admin", description = "Models and jobs, for administrators"),
        (name = "model", description = "The model answering"),
        (name = "pressure", description = "Confirmed sightings per week"),
        (name = "species", description = "The species catalogue"),
        (name = "api", description = "This document")
    )
)]
struct ApiDoc;

/// How callers prove who they are: a personal API token (made on My account) or, from the
/// portal's own pages, the session cookie.
struct Authentication;

impl utoipa::Modify for Authentication {
    fn modify(&self, openapi: &mut Document) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(
                "A personal API token (`iid_…`) from My account. Its scopes (identify, read, write, admin) \
                 decide the routes it may call; each token has a rate limit per scope (429 with Retry-After).",
            ))
            .build();
        components.add_security_scheme("token", SecurityScheme::Http(bearer));
        let cookie = ApiKeyValue::with_description(crate::security::SESSION_COOKIE, "The portal's session (browsers)");
        components.add_security_scheme("session", SecurityScheme::ApiKey(ApiKey::Cookie(cookie)));
    }
}

/// The document as served: the same for every router this process builds.
static DOCUMENT: std::sync::OnceLock<(Document, String)> = std::sync::OnceLock::new();

/// The API's routes, with their full paths (merged into the application's router).
pub fn routes() -> Router<AppState> {
    let v1 = OpenApiRouter::new()
        .routes(routes!(model_status))
        .routes(routes!(identify::identify))
        .routes(routes!(pressure::csv))
        .routes(routes!(species::list))
        .routes(routes!(species::one))
        .routes(routes!(identifications::list))
        .routes(routes!(identifications::one, identifications::delete))
        .routes(routes!(identifications::feedback))
        .routes(routes!(search::search))
        .routes(routes!(admin::models))
        .routes(routes!(admin::activate))
        .routes(routes!(admin::job))
        .routes(routes!(openapi_json));
    let (router, document) = OpenApiRouter::with_openapi(ApiDoc::openapi()).nest("/api/v1", v1).split_for_parts();
    DOCUMENT.get_or_init(|| {
        let json = document.to_pretty_json().unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
        (document, json)
    });
    router
}

/// The document, as the routes built it.
fn document() -> &'static (Document, String) {
    if DOCUMENT.get().is_none() {
        let _ = routes();
    }
    DOCUMENT.get().expect("building the routes records their document")
}

/// Anything else under /api/v1: a 404 in the API's error shape (not a server function's).
pub async fn no_such_route() -> ApiError {
    ApiError::new(insectid::error::ErrorKind::NotFound, "no such API route: see /api for those there are")
}

/// The active model: its name, version, classes and where it runs.
#[utoipa::path(get, path = "/model", tag = "model", responses(
    (status = 200, description = "The model answering now", body = app::api::ModelStatus)
))]
async fn model_status(State(state): State<AppState>) -> Json<app::api::ModelStatus> {
    Json(app::api::model_status_of(&state.engine.active().status))
}

/// This document (OpenAPI 3.1).
#[utoipa::path(get, path = "/openapi.json", tag = "api", responses(
    (status = 200, description = "The OpenAPI document of this API", content_type = "application/json", body = Object)
))]
async fn openapi_json() -> ([(axum::http::header::HeaderName, &'static str); 1], &'static str) {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], document().1.as_str())
}
