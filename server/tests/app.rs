//! The real router, driven in-process with `oneshot`, on SQLite and PostgreSQL.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use insectid::testing::{test_databases, test_model_dir};
use server::config::Config;
use tower::ServiceExt;

/// The tests of this file render pages one test at a time. Each test has its own tokio
/// runtime; renders overlapping in two runtimes of one process hung now and then (a page that
/// never finished, on a loaded machine), which one runtime per process, as in the server,
/// does not do.
static RENDERING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// One request through the router; a request that takes 30 s fails the test with its path
/// instead of hanging the suite.
async fn call(app: &axum::Router, request: Request<Body>) -> (StatusCode, String) {
    let what = format!("{} {}", request.method(), request.uri());
    let answer = async {
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    };
    match tokio::time::timeout(std::time::Duration::from_secs(30), answer).await {
        Ok(answer) => answer,
        Err(_) => panic!("{what} got no answer within 30 s"),
    }
}

/// The request as the listener would hand it over from this address.
fn from(ip: &str, mut request: Request<Body>) -> Request<Body> {
    let addr = std::net::SocketAddr::new(ip.parse().unwrap(), 40000);
    request.extensions_mut().insert(axum::extract::ConnectInfo(addr));
    request
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
    let _one_at_a_time = RENDERING.lock().await;
    for t in test_databases().await {
        let mut config = config(t.url());
        // The figures below must be counted when asked, not reused from the home page's view.
        config.stats_seconds = 0;
        let started = tokio::time::timeout(std::time::Duration::from_secs(60), server::build_state(&config));
        let state = started.await.expect("state within 60 s").expect("state");
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
        assert!(
            html.contains("Lissorhoptrus oryzophilus") && html.contains("稻水象甲"),
            "the species card is rendered on the server"
        );
        // Administrators' pages say so to anyone else, on the server and without JavaScript.
        let (status, html) = call(&app, get("/commands")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("role=\"alert\"") && !html.contains("command-vacuum"), "{html}");

        let (status, _) = call(&app, get("/definitely/not/here")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // Probes and metrics: the details for loopback (the default INSECTID_METRICS_FROM) only.
        let (status, body) = call(&app, from("127.0.0.1", get("/readyz"))).await;
        assert_eq!(status, StatusCode::OK);
        let ready: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!((ready["ready"].as_bool(), ready["database"].as_str()), (Some(true), Some("ok")), "{body}");
        assert!(ready["model"].as_str().unwrap().starts_with("efficientnet-lite0-imagenet "));
        let (status, body) = call(&app, from("203.0.113.5", get("/readyz"))).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, r#"{"ready":true}"#), "no details for others");
        assert_eq!(call(&app, from("203.0.113.5", get("/metrics"))).await.0, StatusCode::NOT_FOUND);
        assert_eq!(call(&app, get("/metrics")).await.0, StatusCode::NOT_FOUND, "an unknown address is not trusted");
        // Any token is a method to hyper: each must not become a series of its own.
        let odd = Request::builder().method("A1").uri("/healthz").body(Body::empty()).unwrap();
        call(&app, from("203.0.113.5", odd)).await;
        let (status, metrics) = call(&app, from("127.0.0.1", get("/metrics"))).await;
        assert_eq!(status, StatusCode::OK);
        assert!(!metrics.contains(r#"method="A1""#) && metrics.contains(r#"method="other""#), "{metrics}");
        assert!(
            metrics.contains(r#"insectid_http_requests_total{method="GET",route="/species/:key",status="200"}"#)
                || metrics.contains(r#"route="/species/{key}""#),
            "{metrics}"
        );
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
        drop(app);
        tokio::time::timeout(std::time::Duration::from_secs(30), t.close()).await.expect("the database closes");
    }
}

#[tokio::test]
async fn a_bad_model_directory_stops_start_up_with_a_clear_message() {
    let _one_at_a_time = RENDERING.lock().await;
    for t in insectid::testing::test_databases().await {
        let mut cfg = config(t.url());
        cfg.model_dir = Some("/nonexistent/model".into());
        let err = match server::build_state(&cfg).await {
            Err(e) => e.to_string(),
            Ok(_) => panic!("started without a model"),
        };
        assert!(err.contains("/nonexistent/model") && err.contains("make model"), "{err}");
        t.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_species_pages_are_served_from_the_page_cache_and_nobody_elses_page_is() {
    let _one_at_a_time = RENDERING.lock().await;
    for t in insectid::testing::test_databases().await {
        let state = server::build_state(&config(t.url())).await.expect("state");
        let db = state.db.clone();
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
        assert!(
            String::from_utf8_lossy(&chinese).contains("<html lang=\"zh\""),
            "rendered in Chinese, not the English page"
        );
        // The damage text in the page's language.
        let weevil = insectid::catalogue::get("ip102-11").unwrap();
        let start = |t: &str| t.chars().take(8).collect::<String>();
        assert!(String::from_utf8_lossy(&chinese).contains(&start(&weevil.damage_zh)), "damage told in Chinese");
        assert!(String::from_utf8_lossy(&page).contains(&start(&weevil.damage)), "and in English");
        // The language cookie decides over Accept-Language, as on the page: the Chinese entry serves it.
        let (cache, _, chosen) =
            fetch("/species/ip102-11", &[("cookie", "insectid_lang=zh"), ("accept-language", "en")]).await;
        assert_eq!((cache.as_deref(), chosen == chinese), (Some("hit"), true));
        let (cache, _, english) =
            fetch("/species/ip102-11", &[("cookie", "insectid_lang=en"), ("accept-language", "zh-CN")]).await;
        assert_eq!((cache.as_deref(), english == page), (Some("hit"), true));
        assert_eq!(fetch("/species?q=weevil", &[]).await.0.as_deref(), Some("miss"));
        let (cache, gzip, _) = fetch("/species/ip102-11", &[("accept-encoding", "gzip")]).await;
        assert_eq!((cache.as_deref(), gzip), (Some("miss"), true));
        let (cache, gzip, _) = fetch("/species/ip102-11", &[("accept-encoding", "gzip")]).await;
        assert_eq!((cache.as_deref(), gzip), (Some("hit"), true), "the compressed page is kept compressed");
        // A signed-in visitor's page is theirs: never from the cache, never into it.
        let (cache, _, _) = fetch("/species/ip102-11", &[("cookie", "insectid_session=someone")]).await;
        assert_eq!(cache, None);
        // The session cookie's name with a space before '=' still signs the visitor in (the cookie
        // parser trims it): such a page must neither come from the cache nor go into it.
        let form = insectid::services::accounts::SignUp {
            username: "cached-carl".into(),
            display_name: "Carl Cacheable".into(),
            email: String::new(),
            password: "violet-moth-harvest-42".into(),
        };
        insectid::services::accounts::sign_up(&db, form, true, None).await.unwrap();
        let sign_in = Request::post("/api/sign_in")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from("username=cached-carl&password=violet-moth-harvest-42"))
            .unwrap();
        let response = app.clone().oneshot(sign_in).await.unwrap();
        let cookies = response.headers().get_all(header::SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_string());
        let session = cookies.into_iter().find(|c| c.starts_with("insectid_session=")).expect("signed in");
        let id = session.split(';').next().unwrap().trim_start_matches("insectid_session=").to_string();
        let spaced = format!("insectid_session ={id}");
        let (cache, _, theirs) = fetch("/species/ip102-12", &[("cookie", &spaced)]).await;
        assert_eq!(cache, None, "not served from or kept in the cache");
        assert!(String::from_utf8_lossy(&theirs).contains("Carl Cacheable"), "the page was rendered for Carl");
        let (cache, _, anonymous) = fetch("/species/ip102-12", &[]).await;
        assert_eq!(cache.as_deref(), Some("miss"), "nobody's page was kept for this URL");
        assert!(
            !String::from_utf8_lossy(&anonymous).contains("Carl Cacheable"),
            "an anonymous visitor never sees Carl's page"
        );
        // Nothing but the catalogue, and no error page.
        assert_eq!(fetch("/history", &[]).await.0, None);
        assert_eq!(fetch("/species/a/b", &[]).await.0, None);
        let missing = app.clone().oneshot(get("/species/no-such-species")).await.unwrap();
        assert_eq!(missing.status(), StatusCode::NOT_FOUND, "an unknown species is a 404 page");
        assert!(missing.headers().get("x-page-cache").is_none(), "and is not kept");
        t.close().await;
    }
}

#[tokio::test]
async fn the_page_cache_can_be_switched_off() {
    let _one_at_a_time = RENDERING.lock().await;
    for t in insectid::testing::test_databases().await {
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

/// A recorded answer with no sure rank, whose top class is an arthropod in the catalogue.
fn uncertain_answer(sha: &str) -> String {
    serde_json::json!({
        "id": null, "image_sha256": sha, "model_name": "efficientnet-lite0-imagenet", "model_version": "1.0.0",
        "answer": {
            "top": [
                { "index": 0, "label": "rice water weevil", "probability": 0.62, "taxon_key": "family:Curculionidae" },
                { "index": 1, "label": "beet weevil", "probability": 0.2, "taxon_key": "family:Curculionidae" }
            ],
            "verdict": { "kind": "uncertain", "arthropod_probability": 0.82, "best":
                { "index": 0, "label": "rice water weevil", "probability": 0.62, "taxon_key": "family:Curculionidae" } },
            "arthropod_probability": 0.82
        },
        "summary": "x", "timings": { "preprocess_ms": 1.0, "inference_ms": 1.0, "total_ms": 2.0 }, "batch_size": 1
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uncertain_answer_names_its_best_guess_and_marks_that_species_card() {
    use sea_orm::{ActiveModelTrait, Set};
    let _one_at_a_time = RENDERING.lock().await;
    for t in test_databases().await {
        let state = server::build_state(&config(t.url())).await.expect("state");
        let sha = state.photos.put(&insectid::testing::png(40, 30, |x, y| [x as u8, y as u8, 7])).await.unwrap();
        let row = insectid::entities::identification::ActiveModel {
            created_at: Set(chrono::Utc::now()),
            user_id: Set(None),
            image_sha256: Set(sha.clone()),
            model_name: Set("efficientnet-lite0-imagenet".into()),
            model_version: Set("1.0.0".into()),
            top_label: Set("rice water weevil".into()),
            top_probability: Set(0.62),
            answer: Set(uncertain_answer(&sha)),
            ..Default::default()
        }
        .insert(&state.db)
        .await
        .unwrap();
        let db = state.db.clone();
        let app = server::build_app(state);
        let (status, html) = call(&app, get(&format!("/results/{}?key={sha}", row.id))).await;
        assert_eq!(status, StatusCode::OK, "{}", t.backend);
        assert!(html.contains("most likely a rice water weevil (62 %), not certain"), "{}: {html}", t.backend);
        assert!(html.contains("id=\"species-card\"") && html.contains("data-testid=\"uncertain-note\""));
        // How often such best guesses were right, as the project measured the shipped model.
        use insectid::services::{answer_rates, evaluation::headlines::HeadlineKind};
        let measured = answer_rates::for_answer(&db, "efficientnet-lite0-imagenet", "1.0.0", HeadlineKind::BestGuess);
        let rate = measured.await.unwrap().expect("measured").rate;
        let pct = f64::from(rate.right) * 100.0 / f64::from(rate.answers);
        assert!(html.contains(&format!("Answers like this were right {pct:.0} % of the time")), "{html}");
        assert!(html.contains(&format!("({} of {}, ", rate.right, rate.answers)) && html.contains("RP11 val photos"));
        let (_, html) = call(
            &app,
            Request::get(format!("/results/{}?key={sha}", row.id))
                .header("cookie", "insectid_lang=zh")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert!(html.contains("最可能是稻水象甲（62%），但不确定"), "{}", t.backend);
        t.close().await;
    }
}
