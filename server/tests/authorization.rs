//! The authorization matrix: every server function and REST route, called as anonymous,
//! user, labeler, admin and a disabled user, through the real router with real sessions.

#[path = "authorization/calls.rs"]
mod calls;
mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use calls::Rule;
use common::router::{Answer, Client};
use common::TempDir;
use http_body_util::BodyExt;
use insectid::testing::{test_databases, test_model_dir, TestDatabase};
use tower::ServiceExt;

const PASSWORD: &str = "violet-moth-harvest-42";

#[derive(Clone, Copy, Debug, PartialEq)]
enum Who {
    Anonymous,
    User,
    Labeler,
    Admin,
    Disabled,
}

async fn user_id(db: &sea_orm::DatabaseConnection, name: &str) -> i64 {
    use insectid::entities::user;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    user::Entity::find().filter(user::Column::UsernameKey.eq(name)).one(db).await.unwrap().expect("signed up").id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_allows_and_denies_exactly_whom_it_should() {
    for t in test_databases().await {
        let backend = t.backend;
        matrix(&t).await;
        tokio::time::timeout(std::time::Duration::from_secs(30), t.close()).await.expect(backend);
    }
}

async fn matrix(t: &TestDatabase) {
    use clap::Parser;
    let dir = TempDir::new("insectid-authz");
    let data = dir.path().to_path_buf();
    let mut config = server::config::Cli::parse_from(["insectid"]).config;
    config.database_url = Some(t.url());
    config.model_dir = Some(test_model_dir());
    config.data_dir = data.clone();
    config.device = insectid::inference::DevicePreference::Cpu;
    config.admin_username = Some("root".into());
    config.admin_password = Some(PASSWORD.into());
    std::fs::create_dir_all(&data).unwrap();
    let presets = data.join("presets.json");
    std::fs::write(
        &presets,
        r#"[{"name": "box", "host": "127.0.0.1", "port": 1, "user": "nobody", "auth": {"kind": "password"}}]"#,
    )
    .unwrap();
    config.ssh_presets = Some(presets);
    let state = server::build_state(&config).await.unwrap();
    let db = state.db.clone();
    let client = Client { app: server::build_app(state) };

    let mut ids = std::collections::HashMap::new();
    for name in ["uma", "lara", "dora", "tom1", "tom2", "tom3", "tom4", "tom5"] {
        let Answer { status, text, .. } = client
            .form(
                "/api/sign_up",
                None,
                &format!("username={name}&display_name=&email=&password={PASSWORD}&password_again={PASSWORD}"),
            )
            .await;
        assert!(status.is_success() || status.is_redirection(), "{name}: {status} {text}");
        let row = user_id(&db, name).await;
        ids.insert(name, row);
    }
    let admin_cookie = client.sign_in("root", PASSWORD).await;
    let Answer { status: s, text, .. } =
        client.form("/api/set_user_role", Some(&admin_cookie), &format!("id={}&role=labeler", ids["lara"])).await;
    assert_eq!(s, StatusCode::OK, "{text}");
    let cookies = [
        (Who::User, Some(client.sign_in("uma", PASSWORD).await)),
        (Who::Labeler, Some(client.sign_in("lara", PASSWORD).await)),
        (Who::Admin, Some(admin_cookie.clone())),
        (Who::Disabled, Some(client.sign_in("dora", PASSWORD).await)),
        (Who::Anonymous, None),
    ];
    let Answer { status: s, .. } =
        client.form("/api/set_user_active", Some(&admin_cookie), &format!("id={}&active=false", ids["dora"])).await;
    assert_eq!(s, StatusCode::OK);

    let (mp_type, mp_body) = calls::multipart();
    let admin_identification = {
        let Answer { text, .. } =
            client.send("POST", "/api/identify_photos", Some(&admin_cookie), &mp_type, mp_body.clone()).await;
        let answers: serde_json::Value = serde_json::from_str(&text).unwrap();
        answers[0]["id"].as_i64().expect("recorded for the admin")
    };
    let calls = calls::all(&ids, admin_identification);
    // The matrix must name every server function the app registers (sign in/up/out are used above).
    let covered: Vec<String> = calls
        .iter()
        .map(|c| c.1.clone())
        .chain(["/api/sign_in", "/api/sign_up", "/api/sign_out", "/api/delete_user"].map(String::from))
        .collect();
    assert_eq!(leptos::server_fn::axum::server_fn_paths().count(), 72, "the registry sees every server function");
    for (path, _) in leptos::server_fn::axum::server_fn_paths() {
        assert!(covered.iter().any(|c| c == path), "server function {path} is missing from the authorization matrix");
    }
    // And every REST operation, as the API's document lists them.
    let document = client.send("GET", "/api/v1/openapi.json", None, "", vec![]).await.json();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in
            item.as_object().unwrap().keys().filter(|m| ["get", "post", "put", "patch", "delete"].contains(&m.as_str()))
        {
            // A `{name}` segment of the document's path stands for any value.
            let fits = |uri: &str| {
                let (uri, template) = (uri.split('?').next().unwrap_or_default(), path.as_str());
                uri.split('/').count() == template.split('/').count()
                    && uri.split('/').zip(template.split('/')).all(|(u, t)| t.starts_with('{') || u == t)
            };
            let named = calls.iter().any(|c| c.0.eq_ignore_ascii_case(method) && fits(&c.1));
            assert!(named, "REST {method} {path} is missing from the authorization matrix");
        }
    }
    let admin_rest = format!("/api/v1/identifications/{admin_identification}");
    let mut checked = 0;
    for (method, uri, ct, body, rule) in &calls {
        for (who, cookie) in &cookies {
            let Answer { status, text, .. } = client.send(method, uri, cookie.as_deref(), ct, body.clone()).await;
            let signed_in = !matches!(who, Who::Anonymous | Who::Disabled);
            let allowed = match rule {
                Rule::Public => true,
                Rule::SignedIn => signed_in,
                Rule::Staff => matches!(who, Who::Labeler | Who::Admin),
                Rule::Admin => *who == Who::Admin,
            };
            let hidden =
                ["/api/identification", "/api/rerun_identification", "/api/send_feedback", "/api/update_observation"]
                    .contains(&uri.as_str())
                    || uri == &admin_rest
                    || uri.starts_with(&format!("{admin_rest}/"));
            if allowed {
                assert!(
                    status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN && !status.is_server_error(),
                    "{who:?} {uri}: {status} {text}"
                );
                if hidden && *who == Who::Admin {
                    assert!(status.is_success(), "{uri}: {status} {text}");
                }
            } else if hidden && (signed_in || uri == "/api/identification") {
                // Another user's identification is not revealed to exist (anonymous callers may
                // open anonymous results, so for them too it is simply not found).
                assert_eq!(status, StatusCode::NOT_FOUND, "{who:?} {uri}: {text}");
            } else if signed_in {
                assert_eq!(status, StatusCode::FORBIDDEN, "{who:?} {uri}: {text}");
            } else {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{who:?} {uri}: {text}");
            }
            checked += 1;
        }
    }
    // The terminal's websocket: only an administrator, only from this origin, only to a preset.
    let upgrade = |cookie: Option<&str>, origin: Option<&str>, preset: &str| {
        let mut r = Request::get(format!("/terminal/ws?preset={preset}"))
            .header(header::HOST, "127.0.0.1:3000")
            .header(header::CONNECTION, "upgrade")
            .header(header::UPGRADE, "websocket")
            .header(header::SEC_WEBSOCKET_VERSION, "13")
            .header(header::SEC_WEBSOCKET_KEY, "dGhlIHNhbXBsZSBub25jZQ==");
        if let Some(c) = cookie {
            r = r.header(header::COOKIE, c);
        }
        if let Some(o) = origin {
            r = r.header(header::ORIGIN, o);
        }
        r.body(Body::empty()).unwrap()
    };
    let status_of = |request: Request<Body>| {
        let app = client.app.clone();
        async move {
            let response = app.oneshot(request).await.unwrap();
            let status = response.status();
            (status, String::from_utf8_lossy(&response.into_body().collect().await.unwrap().to_bytes()).into_owned())
        }
    };
    let here = Some("http://127.0.0.1:3000");
    let cookie_of = |w: Who| cookies.iter().find(|(who, _)| *who == w).and_then(|(_, c)| c.clone());
    assert_eq!(status_of(upgrade(None, here, "box")).await.0, StatusCode::UNAUTHORIZED);
    for who in [Who::User, Who::Labeler] {
        assert_eq!(
            status_of(upgrade(cookie_of(who).as_deref(), here, "box")).await.0,
            StatusCode::FORBIDDEN,
            "{who:?}"
        );
    }
    let admin = cookie_of(Who::Admin);
    let (s, text) = status_of(upgrade(admin.as_deref(), Some("https://evil.example"), "box")).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{text}");
    assert!(text.contains("cross-origin"));
    assert_eq!(
        status_of(upgrade(admin.as_deref(), None, "box")).await.0,
        StatusCode::FORBIDDEN,
        "no Origin, no terminal"
    );
    let (s, text) = status_of(upgrade(admin.as_deref(), here, "evil.example:22")).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{text}");
    assert!(text.contains("no preset host"));
    // Every check passed: what is left is the upgrade itself, which a test request cannot do.
    let (s, text) = status_of(upgrade(admin.as_deref(), here, "box")).await;
    assert!(s != StatusCode::UNAUTHORIZED && s != StatusCode::FORBIDDEN && s != StatusCode::NOT_FOUND, "{s} {text}");

    // Deleting is checked last and once per identity, each on its own target.
    for ((who, cookie), target) in cookies.iter().zip(["tom4", "tom5", "tom4", "tom5", "tom4"]) {
        let Answer { status, text, .. } =
            client.form("/api/delete_user", cookie.as_deref(), &format!("id={}&confirm=yes", ids[target])).await;
        let expected = match who {
            Who::Admin => StatusCode::OK,
            Who::User | Who::Labeler => StatusCode::FORBIDDEN,
            _ => StatusCode::UNAUTHORIZED,
        };
        assert_eq!(status, expected, "{who:?} delete_user: {text}");
        checked += 1;
    }
    assert_eq!(checked, calls.len() * 5 + 5);

    // A session id planted before sign-in is replaced (session fixation); the cookie is
    // HttpOnly and SameSite=Lax.
    let planted = {
        use tower_sessions::session_store::SessionStore;
        let store = insectid::auth::session_store::SeaOrmSessionStore::new(db.clone());
        let mut data = std::collections::HashMap::new();
        data.insert("planted".to_string(), serde_json::json!(true));
        let mut record = tower_sessions::session::Record {
            id: Default::default(),
            data,
            expiry_date: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
        };
        store.create(&mut record).await.unwrap();
        format!("insectid_session={}", record.id)
    };
    let request = Request::post("/api/sign_in")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json")
        .header(header::COOKIE, &planted)
        .body(Body::from(format!("username=uma&password={PASSWORD}")))
        .unwrap();
    let response = client.app.clone().oneshot(request).await.unwrap();
    let set_cookie = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("insectid_session="))
        .expect("a session cookie")
        .to_string();
    assert!(!set_cookie.starts_with(&format!("{planted};")), "a new session id after sign-in: {set_cookie}");
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"), "{set_cookie}");

    // A cross-origin form post is refused before any server function runs.
    let request = Request::post("/api/sign_out")
        .header(header::ORIGIN, "https://evil.example")
        .header(header::HOST, "127.0.0.1:3000")
        .header(header::COOKIE, &admin_cookie)
        .body(Body::empty())
        .unwrap();
    let response = client.app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // Pages carry the security headers, with a script nonce in the CSP.
    let response = client.app.clone().oneshot(Request::get("/").body(Body::empty()).unwrap()).await.unwrap();
    let csp = response.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().to_string();
    assert!(csp.contains("script-src 'self' 'nonce-") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(response.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
}
