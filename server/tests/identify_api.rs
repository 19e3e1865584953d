//! POST /api/v1/identify through the real router: answers, storage, and every refusal.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use insectid::testing::test_model_dir;
use server::config::Config;
use tower::ServiceExt;

const BOUNDARY: &str = "insectid-test-boundary";

struct Part<'a> {
    name: &'a str,
    filename: Option<&'a str>,
    content_type: Option<&'a str>,
    bytes: Vec<u8>,
}

fn file(filename: &str, content_type: &str, bytes: Vec<u8>) -> Part<'static> {
    Part {
        name: "image",
        filename: Some(Box::leak(filename.to_string().into_boxed_str())),
        content_type: Some(Box::leak(content_type.to_string().into_boxed_str())),
        bytes,
    }
}

fn multipart(parts: &[Part]) -> Request<Body> {
    let mut body = Vec::new();
    for p in parts {
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{}\"", p.name).as_bytes(),
        );
        if let Some(f) = p.filename {
            body.extend_from_slice(format!("; filename=\"{f}\"").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        if let Some(ct) = p.content_type {
            body.extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(&p.bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    Request::post("/api/v1/identify")
        .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(Body::from(body))
        .unwrap()
}

fn png(w: u32, h: u32, seed: u8) -> Vec<u8> {
    insectid::testing::png(w, h, |x, y| [(x as u8).wrapping_add(seed), y as u8, seed])
}

async fn send(app: &axum::Router, request: Request<Body>) -> (StatusCode, Option<String>, serde_json::Value) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let retry = response.headers().get(header::RETRY_AFTER).map(|v| v.to_str().unwrap().to_string());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let json =
        serde_json::from_slice(&body).unwrap_or_else(|_| serde_json::json!({ "raw": String::from_utf8_lossy(&body) }));
    (status, retry, json)
}

async fn app_with(
    data_dir: &std::path::Path,
    db_url: String,
    max_upload_mb: usize,
    max_files: usize,
) -> (axum::Router, app::state::AppState) {
    use clap::Parser;
    let mut config: Config = server::config::Cli::parse_from(["insectid"]).config;
    config.database_url = Some(db_url);
    config.model_dir = Some(test_model_dir());
    config.data_dir = data_dir.to_path_buf();
    config.device = insectid::inference::DevicePreference::Cpu;
    config.max_upload_mb = max_upload_mb;
    config.max_files = max_files;
    let state = server::build_state(&config).await.unwrap();
    (server::build_app(state.clone()), state)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn photos_are_identified_stored_and_recorded() {
    for t in insectid::testing::test_databases().await {
        let data = std::env::temp_dir().join(format!("insectid-api-{}", std::process::id()));
        let (app, state) = app_with(&data, t.url(), 20, 16).await;

        let fixture = std::fs::read(test_model_dir().join("fixtures/rgb.png")).unwrap();
        let request = multipart(&[
            file("field.png", "image/png", fixture.clone()),
            file("second.png", "image/png", png(320, 240, 9)),
            Part { name: "top_k", filename: None, content_type: None, bytes: b"3".to_vec() },
        ]);
        let (status, _, json) = send(&app, request).await;
        assert_eq!(status, StatusCode::OK, "{json}");
        let results = json["results"].as_array().unwrap();
        assert_eq!(results.len(), 2);
        let first = &results[0];
        assert_eq!(first["filename"], "field.png");
        assert_eq!(first["model_name"], "efficientnet-lite0-imagenet");
        assert_eq!(first["model_version"], "1.1.0");
        assert_eq!(first["answer"]["top"].as_array().unwrap().len(), 3);
        assert!(first["answer"]["verdict"]["kind"].is_string());
        assert!(first["summary"].as_str().is_some_and(|s| !s.is_empty()));
        assert!(first["timings"]["total_ms"].as_f64().unwrap() > 0.0);
        let id = first["id"].as_i64().expect("recorded");
        assert!(id > 0);

        // The top class is the one the Python reference computed for this fixture.
        let reference: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(test_model_dir().join("reference.json")).unwrap()).unwrap();
        assert_eq!(first["answer"]["top"][0]["index"], reference["fixtures"]["rgb"]["top5"][0]);

        let sha = first["image_sha256"].as_str().unwrap();
        assert_eq!(state.photos.read(sha).await.unwrap(), fixture, "the photo is stored by content");
        let stats = insectid::services::stats::portal_stats(&state.db).await.unwrap();
        assert_eq!((stats.identifications, stats.distinct_photos), (2, 2));

        // A photo whose label is decided, identified again: the new identification is marked
        // decided too, so the labelling queue's index leaves it out.
        use insectid::services::labels;
        labels::decide(&state.db, sha, "ladybug", labels::LabelSource::Labelers).await.unwrap();
        let (status, _, json) = send(&app, multipart(&[file("again.png", "image/png", fixture.clone())])).await;
        assert_eq!(status, StatusCode::OK, "{json}");
        let again = json["results"][0]["id"].as_i64().unwrap();
        let row = <insectid::entities::identification::Entity as sea_orm::EntityTrait>::find_by_id(again)
            .one(&state.db)
            .await
            .unwrap()
            .unwrap();
        assert!(row.label_decided, "{row:?}");
        std::fs::remove_dir_all(&data).ok();
        t.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_uploads_get_clear_errors_and_the_server_keeps_serving() {
    for t in insectid::testing::test_databases().await {
        let data = std::env::temp_dir().join(format!("insectid-api-bad-{}", std::process::id()));
        let (app, state) = app_with(&data, t.url(), 1, 2).await;
        let good = png(64, 64, 1);

        let cases: Vec<(Request<Body>, StatusCode, &str)> = vec![
            (multipart(&[]), StatusCode::BAD_REQUEST, "no photo in the request"),
            (
                multipart(&[file("notes.txt", "text/plain", b"hello".to_vec())]),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "notes.txt: content type text/plain",
            ),
            (
                multipart(&[file("fake.jpg", "image/jpeg", b"definitely not a jpeg".to_vec())]),
                StatusCode::BAD_REQUEST,
                "fake.jpg: the image could not be read",
            ),
            (
                multipart(&[file("empty.png", "image/png", Vec::new())]),
                StatusCode::BAD_REQUEST,
                "empty.png: the image could not be read: the file is empty",
            ),
            (
                multipart(&[file("cut.png", "image/png", good[..good.len() / 2].to_vec())]),
                StatusCode::BAD_REQUEST,
                "cut.png",
            ),
            (
                multipart(&[file("huge.png", "image/png", vec![0u8; 1024 * 1024 + 10])]),
                StatusCode::PAYLOAD_TOO_LARGE,
                "huge.png: larger than 1 MB",
            ),
            (
                multipart(&[
                    file("a.png", "image/png", good.clone()),
                    file("b.png", "image/png", good.clone()),
                    file("c.png", "image/png", good.clone()),
                ]),
                StatusCode::BAD_REQUEST,
                "too many files: at most 2",
            ),
            (
                multipart(&[
                    Part { name: "top_k", filename: None, content_type: None, bytes: b"many".to_vec() },
                    file("a.png", "image/png", good.clone()),
                ]),
                StatusCode::BAD_REQUEST,
                "top_k must be a number",
            ),
            (
                multipart(&[Part {
                    name: "photo",
                    filename: Some("a.png"),
                    content_type: Some("image/png"),
                    bytes: good.clone(),
                }]),
                StatusCode::BAD_REQUEST,
                "unexpected form field",
            ),
            (
                Request::post("/api/v1/identify")
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from("{}"))
                    .unwrap(),
                StatusCode::BAD_REQUEST,
                "",
            ),
        ];
        for (request, expected, message) in cases {
            let (status, _, json) = send(&app, request).await;
            assert_eq!(status, expected, "{json}");
            let text = json["error"].as_str().or(json["raw"].as_str()).unwrap_or_default();
            assert!(text.contains(message), "{text:?} should contain {message:?}");
        }
        let stats = insectid::services::stats::portal_stats(&state.db).await.unwrap();
        assert_eq!(stats.identifications, 0, "refused uploads leave no rows");

        let (status, _, json) = send(&app, multipart(&[file("ok.png", "image/png", good)])).await;
        assert_eq!(status, StatusCode::OK, "{json}");
        std::fs::remove_dir_all(&data).ok();
        t.close().await;
    }
}

#[test]
fn an_overloaded_engine_answers_503_with_retry_after() {
    use axum::response::IntoResponse;
    let e = insectid::ServiceError::Inference(insectid::inference::InferenceError::Busy);
    let response = server::rest::ApiError::for_file("a.png", e).into_response();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()[header::RETRY_AFTER], "1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_identify_command_fails_when_any_file_fails() {
    use clap::Parser;
    let mut config: Config = server::config::Cli::parse_from(["insectid"]).config;
    config.model_dir = Some(test_model_dir());
    config.device = insectid::inference::DevicePreference::Cpu;
    let good = test_model_dir().join("fixtures/rgb.png");
    assert!(server::cli::identify(&config, std::slice::from_ref(&good), true, 3).await.unwrap());
    let missing = std::path::PathBuf::from("/no/such/photo.jpg");
    assert!(!server::cli::identify(&config, &[good, missing], false, 3).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_server_function_identifies_and_refuses_like_the_api() {
    for t in insectid::testing::test_databases().await {
        let data = std::env::temp_dir().join(format!("insectid-sfn-{}", std::process::id()));
        let (app, _) = app_with(&data, t.url(), 1, 4).await;
        let with_uri = |mut r: Request<Body>| {
            *r.uri_mut() = "/api/identify_photos".parse().unwrap();
            r.headers_mut().insert(header::ACCEPT, "application/json".parse().unwrap());
            r
        };
        let leaf = png(200, 150, 3);
        let (status, _, json) = send(&app, with_uri(multipart(&[file("leaf.png", "image/png", leaf.clone())]))).await;
        assert_eq!(status, StatusCode::OK, "{json}");
        let answers = json.as_array().unwrap();
        assert_eq!(answers.len(), 1);
        assert_eq!(answers[0]["image_sha256"], insectid::storage::sha256_hex(&leaf), "the answer is the photo's");
        assert!(answers[0]["id"].as_i64().unwrap() > 0);
        assert_eq!(answers[0]["top"].as_array().unwrap().len(), 5);
        assert!(["confident", "rolled_up", "uncertain", "no_insect"].contains(&answers[0]["verdict"].as_str().unwrap()));

        let (status, _, json) =
            send(&app, with_uri(multipart(&[file("notes.txt", "text/plain", b"hi".to_vec())]))).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{json}");
        assert!(json.to_string().contains("notes.txt: content type text/plain"), "{json}");
        let (status, _, json) =
            send(&app, with_uri(multipart(&[file("big.png", "image/png", vec![1u8; 1024 * 1024 + 1])]))).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{json}");
        std::fs::remove_dir_all(&data).ok();
        t.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_command_creates_an_administrator_once() {
    use clap::Parser;
    for t in insectid::testing::test_databases().await {
        let mut config: Config = server::config::Cli::parse_from(["insectid"]).config;
        config.database_url = Some(t.url());
        config.admin_password = Some("violet-moth-harvest-42".into());
        server::cli::create_admin(&config, "chief").await.unwrap();
        let err = server::cli::create_admin(&config, "Chief").await.unwrap_err().to_string();
        assert!(err.contains("taken"), "{err}");
        config.admin_password = Some("short".into());
        assert!(server::cli::create_admin(&config, "other").await.unwrap_err().to_string().contains("at least 10"));
        let account =
            insectid::services::accounts::check_credentials(&t.db, "chief", "violet-moth-harvest-42", "127.0.0.1")
                .await
                .unwrap();
        assert_eq!(account.role, insectid::auth::Role::Admin);
        t.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_running_an_identification_records_a_new_one_for_its_owner_only() {
    use insectid::services::{accounts, history, identify};
    for t in insectid::testing::test_databases().await {
        let data = std::env::temp_dir().join(format!("insectid-rerun-{}", std::process::id()));
        let (_, state) = app_with(&data, t.url(), 20, 16).await;
        let form = |name: &str| accounts::SignUp {
            username: name.into(),
            display_name: String::new(),
            email: String::new(),
            password: "violet-moth-harvest-42".into(),
        };
        accounts::sign_up(&state.db, form("owner"), true, None).await.unwrap();
        accounts::sign_up(&state.db, form("stranger"), true, None).await.unwrap();
        let owner = accounts::check_credentials(&state.db, "owner", "violet-moth-harvest-42", "::1").await.unwrap();
        let stranger =
            accounts::check_credentials(&state.db, "stranger", "violet-moth-harvest-42", "::1").await.unwrap();
        let first = identify::identify_and_record(
            &state.db,
            &state.engine,
            &state.photos,
            png(200, 160, 4).into(),
            &identify::Uploader::user(owner.id),
            5,
        )
        .await
        .unwrap();
        let id = first.id.unwrap();
        // The owner's own date and place go with a re-run, as they stood.
        let mine = insectid::storage::metadata::PhotoContext {
            taken_at: Some("2026-06-01 08:00:00".into()),
            latitude: Some(48.12534),
            longitude: Some(7.52531),
        };
        insectid::services::observation::update(&state.db, Some(&owner), id, mine.clone(), false).await.unwrap();
        let again = history::rerun(&state.db, &state.engine, &state.photos, Some(&owner), id).await.unwrap();
        let kept = history::get(&state.db, Some(&owner), again.id.unwrap(), None).await.unwrap();
        assert_eq!(kept.context, Some(mine));
        assert_eq!(kept.context_source, Some(insectid::entities::identification::ContextSource::Owner));
        assert_ne!(again.id, first.id, "a new identification");
        assert_eq!(again.image_sha256, first.image_sha256);
        assert_eq!(again.answer.top[0].index, first.answer.top[0].index, "same model, same answer");
        assert_eq!(history::list(&state.db, Some(&owner), &Default::default(), 0, 10).await.unwrap().total, 2);
        let refused = history::rerun(&state.db, &state.engine, &state.photos, Some(&stranger), id).await.unwrap_err();
        assert_eq!(refused.kind(), insectid::error::ErrorKind::NotFound);
        std::fs::remove_dir_all(&data).ok();
        t.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_results_heat_map_is_served_to_whoever_may_see_the_result() {
    for t in insectid::testing::test_databases().await {
        let data = std::env::temp_dir().join(format!("insectid-heat-{}", std::process::id()));
        let (app, _) = app_with(&data, t.url(), 20, 16).await;
        let (status, _, json) = send(&app, multipart(&[file("a.png", "image/png", png(320, 240, 11))])).await;
        assert_eq!(status, StatusCode::OK, "{json}");
        let id = json["results"][0]["id"].as_i64().unwrap();
        let sha = json["results"][0]["image_sha256"].as_str().unwrap().to_string();

        let get = |uri: String| Request::get(uri).body(Body::empty()).unwrap();
        let response = app.clone().oneshot(get(format!("/results/{id}/heatmap.png?key={sha}"))).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "image/png");
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let heat = image::load_from_memory(&bytes).unwrap();
        assert_eq!(heat.width(), heat.height());
        let refused = app.clone().oneshot(get(format!("/results/{id}/heatmap.png"))).await.unwrap();
        assert_eq!(refused.status(), StatusCode::NOT_FOUND, "an anonymous result needs its key");
        std::fs::remove_dir_all(&data).ok();
        t.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_identification_can_be_switched_off() {
    use clap::Parser;
    for t in insectid::testing::test_databases().await {
        let data = std::env::temp_dir().join(format!("insectid-anon-{}", std::process::id()));
        let mut config: Config =
            server::config::Cli::parse_from(["insectid", "--anonymous-identification", "false"]).config;
        config.database_url = Some(t.url());
        config.model_dir = Some(test_model_dir());
        config.data_dir = data.clone();
        config.device = insectid::inference::DevicePreference::Cpu;
        let app = server::build_app(server::build_state(&config).await.unwrap());
        let (status, _, json) = send(&app, multipart(&[file("a.png", "image/png", png(64, 64, 1))])).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{json}");
        assert!(json["error"].as_str().unwrap().contains("sign in to identify photos"));
        let mut request = multipart(&[file("a.png", "image/png", png(64, 64, 1))]);
        *request.uri_mut() = "/api/identify_photos".parse().unwrap();
        request.headers_mut().insert(header::ACCEPT, "application/json".parse().unwrap());
        let (status, _, _) = send(&app, request).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        std::fs::remove_dir_all(&data).ok();
        t.close().await;
    }
}
