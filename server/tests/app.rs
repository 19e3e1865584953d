//! The real router, driven in-process with `oneshot`, on SQLite and PostgreSQL.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use insectid::testing::{test_databases, test_model_dir};
use server::config::Config;
use tower::ServiceExt;

async fn call(app: &axum::Router, request: Request<Body>) -> (StatusCode, String) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

fn config(database_url: String) -> Config {
    use clap::Parser;
    let mut cli = server::config::Cli::parse_from(["insectid"]);
    cli.config.database_url = Some(database_url);
    cli.config.model_dir = Some(test_model_dir());
    cli.config.device = insectid::inference::DevicePreference::Cpu;
    cli.config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_server_functions_and_api_answer_on_both_databases() {
    for t in test_databases().await {
        let mut config = config(t.url());
        // The figures below must be counted when asked, not reused from the home page's view.
        config.stats_seconds = 0;
        let state = server::build_state(&config).await.expect("state");
        let app = server::build_app(state);

        let (status, html) = call(&app, get("/")).await;
        assert_eq!(status, StatusCode::OK, "{}", t.backend);
        assert!(html.contains("Which insect is this?"));
        assert!(html.contains("/pkg/insectid.js"), "hydration script is linked");
        assert!(html.contains("id=\"portal-stats\""), "figures rendered on the server (async SSR)");
        assert!(html.contains("efficientnet-lite0-imagenet"));

        let (status, html) = call(&app, get("/models")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("data-testid=\"model-classes\">1000<"), "{html}");

        let (status, html) = call(&app, get("/history")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("Your history is kept when you are signed in."));

        let (status, html) = call(&app, get("/species/ip102-11")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("Lissorhoptrus oryzophilus") && html.contains("稻水象甲"), "the species card is rendered on the server");
        // Administrators' pages say so to anyone else, on the server and without JavaScript.
        let (status, html) = call(&app, get("/commands")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("role=\"alert\"") && !html.contains("command-vacuum"), "{html}");

        let (status, _) = call(&app, get("/definitely/not/here")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // Probes and metrics.
        let (status, body) = call(&app, get("/readyz")).await;
        assert_eq!(status, StatusCode::OK);
        let ready: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!((ready["ready"].as_bool(), ready["database"].as_str()), (Some(true), Some("ok")), "{body}");
        assert!(ready["model"].as_str().unwrap().starts_with("efficientnet-lite0-imagenet "));
        let (status, metrics) = call(&app, get("/metrics")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(metrics.contains(r#"insectid_http_requests_total{method="GET",route="/species/:key",status="200"}"#) || metrics.contains(r#"route="/species/{key}""#), "{metrics}");
        assert!(metrics.contains("insectid_http_request_duration_seconds_bucket"), "latency histogram");
        assert!(metrics.contains(r#"insectid_jobs{state="queued"} 0"#), "{metrics}");

        // The server function reads the database through the stats service.
        insert_identification(&t.db).await;
        let request = Request::post("/api/portal_stats")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .body(Body::empty())
            .unwrap();
        let (status, json) = call(&app, request).await;
        assert_eq!(status, StatusCode::OK, "{json}");
        let stats: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(stats["identifications"], 1, "{}: {json}", t.backend);
        assert_eq!(stats["distinct_photos"], 1);

        let (status, json) = call(&app, get("/api/v1/model")).await;
        assert_eq!(status, StatusCode::OK);
        let model: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(model["classes"], 1000);
        assert_eq!(model["arthropod_classes"], 37);
        assert_eq!(model["device"], "cpu");
        assert!(model["warmup_ms"].as_f64().unwrap() > 0.0);

        let (status, body) = call(&app, get("/healthz")).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "ok"));
        t.close().await;
    }
}

#[tokio::test]
async fn a_bad_model_directory_stops_start_up_with_a_clear_message() {
    let t = insectid::testing::sqlite_database().await;
    let mut cfg = config(t.url());
    cfg.model_dir = Some("/nonexistent/model".into());
    let err = match server::build_state(&cfg).await {
        Err(e) => e.to_string(),
        Ok(_) => panic!("started without a model"),
    };
    assert!(err.contains("/nonexistent/model") && err.contains("make model"), "{err}");
    t.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_species_pages_are_served_from_the_page_cache_and_nobody_elses_page_is() {
    let t = insectid::testing::sqlite_database().await;
    let state = server::build_state(&config(t.url())).await.expect("state");
    let app = server::build_app(state);
    let fetch = |uri: &str, headers: &[(&str, &str)]| {
        let mut request = Request::get(uri);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let app = app.clone();
        let request = request.body(Body::empty()).unwrap();
        async move {
            let response = app.oneshot(request).await.unwrap();
            let cache = response.headers().get("x-page-cache").map(|v| v.to_str().unwrap().to_string());
            let gzip = response.headers().get(header::CONTENT_ENCODING).is_some();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            (cache, gzip, body)
        }
    };
    let (first, _, page) = fetch("/species/ip102-11", &[]).await;
    let (second, _, again) = fetch("/species/ip102-11", &[]).await;
    assert_eq!((first.as_deref(), second.as_deref()), (Some("miss"), Some("hit")));
    assert_eq!(page, again, "the same bytes");
    assert!(String::from_utf8_lossy(&page).contains("Lissorhoptrus oryzophilus"));
    // Each variant is its own entry: another language, another query, gzip.
    assert!(String::from_utf8_lossy(&page).contains("<html lang=\"en\""));
    let (cache, _, chinese) = fetch("/species/ip102-11", &[("accept-language", "zh-CN")]).await;
    assert_eq!(cache.as_deref(), Some("miss"));
    assert!(String::from_utf8_lossy(&chinese).contains("<html lang=\"zh\""), "rendered in Chinese, not the English page");
    // The language cookie decides over Accept-Language, as on the page: the Chinese entry serves it.
    let (cache, _, chosen) = fetch("/species/ip102-11", &[("cookie", "insectid_lang=zh"), ("accept-language", "en")]).await;
    assert_eq!((cache.as_deref(), chosen == chinese), (Some("hit"), true));
    let (cache, _, english) = fetch("/species/ip102-11", &[("cookie", "insectid_lang=en"), ("accept-language", "zh-CN")]).await;
    assert_eq!((cache.as_deref(), english == page), (Some("hit"), true));
    assert_eq!(fetch("/species?q=weevil", &[]).await.0.as_deref(), Some("miss"));
    let (cache, gzip, _) = fetch("/species/ip102-11", &[("accept-encoding", "gzip")]).await;
    assert_eq!((cache.as_deref(), gzip), (Some("miss"), true));
    let (cache, gzip, _) = fetch("/species/ip102-11", &[("accept-encoding", "gzip")]).await;
    assert_eq!((cache.as_deref(), gzip), (Some("hit"), true), "the compressed page is kept compressed");
    // A signed-in visitor's page is theirs: never from the cache, never into it.
    let (cache, _, _) = fetch("/species/ip102-11", &[("cookie", "insectid_session=someone")]).await;
    assert_eq!(cache, None);
    // Nothing but the catalogue, and no error page.
    assert_eq!(fetch("/history", &[]).await.0, None);
    assert_eq!(fetch("/species/a/b", &[]).await.0, None);
    let missing = app.clone().oneshot(get("/species/no-such-species")).await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND, "an unknown species is a 404 page");
    assert!(missing.headers().get("x-page-cache").is_none(), "and is not kept");
    t.close().await;
}

#[tokio::test]
async fn the_page_cache_can_be_switched_off() {
    let t = insectid::testing::sqlite_database().await;
    let mut config = config(t.url());
    config.page_cache_seconds = 0;
    let app = server::build_app(server::build_state(&config).await.expect("state"));
    for _ in 0..2 {
        let response = app.clone().oneshot(get("/species/ip102-11")).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.headers().get("x-page-cache").is_none());
    }
    t.close().await;
}

async fn insert_identification(db: &sea_orm::DatabaseConnection) {
    use insectid::entities::identification;
    use sea_orm::{ActiveModelTrait, Set};
    identification::ActiveModel {
        created_at: Set(chrono::Utc::now()),
        user_id: Set(None),
        image_sha256: Set("f".repeat(64)),
        model_name: Set("efficientnet-lite0-imagenet".into()),
        model_version: Set("1.0.0".into()),
        top_label: Set("ladybug".into()),
        top_probability: Set(0.93),
        answer: Set("{}".into()),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
}
