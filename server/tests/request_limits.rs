//! Bounds on request bodies through the real router: multipart server functions without a
//! boundary, oversized small fields, and bodies over a route's limit.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use insectid::testing::test_model_dir;
use server::config::Config;
use tower::ServiceExt;

const BOUNDARY: &str = "limits-test-boundary";

async fn app(data_dir: &std::path::Path, db_url: String) -> axum::Router {
    use clap::Parser;
    let mut config: Config = server::config::Cli::parse_from(["insectid"]).config;
    config.database_url = Some(db_url);
    config.model_dir = Some(test_model_dir());
    config.data_dir = data_dir.to_path_buf();
    config.device = insectid::inference::DevicePreference::Cpu;
    config.max_upload_mb = 1;
    config.max_files = 2;
    server::build_app(server::build_state(&config).await.unwrap())
}

async fn send(app: &axum::Router, request: Request<Body>) -> (StatusCode, String) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn post(path: &str, content_type: Option<&str>, body: Vec<u8>) -> Request<Body> {
    let mut request = Request::post(path);
    if let Some(ct) = content_type {
        request = request.header(header::CONTENT_TYPE, ct);
    }
    request.body(Body::from(body)).unwrap()
}

/// One multipart text part named `name` holding `value`.
fn text_part(name: &str, value: &[u8]) -> Vec<u8> {
    let mut body = format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n").into_bytes();
    body.extend_from_slice(value);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_server_functions_refuse_bodies_they_cannot_parse_with_400() {
    for t in insectid::testing::test_databases().await {
        let data = tempdir("boundary");
        let app = app(&data, t.url()).await;
        for path in ["/api/identify_photos", "/api/upload_dataset", "/api/upload_model"] {
            // Before the check these panicked inside the server-function layer (dropped connection).
            let (status, body) = send(&app, post(path, Some("multipart/form-data"), b"--x\r\n".to_vec())).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path} without a boundary: {body}");
            assert!(body.contains("boundary"), "{body}");
            let (status, _) = send(&app, post(path, None, b"top_k=3".to_vec())).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path} without a content type");
            let (status, _) = send(&app, post(path, Some("application/x-www-form-urlencoded"), b"a=b".to_vec())).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path} as a plain form");
        }
        let _ = std::fs::remove_dir_all(&data);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_field_is_refused_while_it_arrives_not_buffered() {
    for t in insectid::testing::test_databases().await {
        let data = tempdir("field");
        let app = app(&data, t.url()).await;
        let multipart = format!("multipart/form-data; boundary={BOUNDARY}");
        // 200 kB in `top_k`: it used to be read whole into a string, whatever its size.
        let (status, body) =
            send(&app, post("/api/identify_photos", Some(&multipart), text_part("top_k", &[b'7'; 200_000]))).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
        assert!(body.contains("at most 64 bytes"), "{body}");
        let _ = std::fs::remove_dir_all(&data);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_a_routes_limit_are_refused_with_413() {
    for t in insectid::testing::test_databases().await {
        let data = tempdir("body");
        let app = app(&data, t.url()).await;
        let multipart = format!("multipart/form-data; boundary={BOUNDARY}");
        // Two photos of 1 MB are the most this configuration takes: 3 MB is refused before it is read.
        let big = text_part("image", &vec![0u8; 3 * 1024 * 1024]);
        let (status, _) = send(&app, post("/api/identify_photos", Some(&multipart), big)).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        // Any other server function takes at most a megabyte.
        let form = format!("username=ann&password={}", "x".repeat(2 * 1024 * 1024)).into_bytes();
        let (status, _) = send(&app, post("/api/sign_in", Some("application/x-www-form-urlencoded"), form)).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        // The same body without a declared length is cut off at the limit, not buffered whole.
        let chunks = futures::stream::iter((0..64).map(|_| Ok::<_, std::io::Error>(vec![b'x'; 64 * 1024])));
        let request = Request::post("/api/sign_in")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from_stream(chunks))
            .unwrap();
        let (status, _) = send(&app, request).await;
        assert!(status.is_client_error(), "a streamed 4 MB form: {status}");
        let _ = std::fs::remove_dir_all(&data);
    }
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("insectid-limits-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
