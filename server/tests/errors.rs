//! One error of each kind the portal answers, through a server function and through the REST
//! API, on SQLite and PostgreSQL: the status comes from the error's kind (one mapping,
//! `ErrorKind::http_status`), each API has one body shape, and an internal error sends the
//! request's id, never what went wrong.

mod common;

use axum::http::{header, StatusCode};
use common::router::{multipart_file, png, Client};
use common::TempDir;
use insectid::jobs::{queue, JobSpec};
use insectid::testing::{test_databases, test_model_dir};

const PASSWORD: &str = "amber-weevil-lantern-77";

fn config(database_url: String, data: &std::path::Path) -> server::config::Config {
    use clap::Parser;
    let mut config = server::config::Cli::parse_from(["insectid"]).config;
    config.database_url = Some(database_url);
    config.model_dir = Some(test_model_dir());
    config.data_dir = data.to_path_buf();
    config.device = insectid::inference::DevicePreference::Cpu;
    config.admin_username = Some("root".into());
    config.admin_password = Some(PASSWORD.into());
    config.stats_seconds = 0;
    config
}

/// A server function's error: its status, and the error as the browser decodes it.
fn server_fn_error(answer: &common::router::Answer) -> (StatusCode, String, String) {
    let json = answer.json();
    let (variant, message) = json.as_object().and_then(|o| o.iter().next()).expect("{\"Kind\": \"message\"}");
    (answer.status, variant.clone(), message.as_str().unwrap_or_default().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_error_is_answered_with_its_status() {
    for t in test_databases().await {
        let data = TempDir::new("insectid-errors");
        let state = server::build_state(&config(t.url(), data.path())).await.unwrap();
        let db = state.db.clone();
        let client = Client { app: server::build_app(state) };
        client.sign_up("uma", PASSWORD).await;
        let (uma, root) = (client.sign_in("uma", PASSWORD).await, client.sign_in("root", PASSWORD).await);

        // Server functions: the error's kind sets the status, whatever way the function
        // returned it (a `?` on a service call included).
        let bad = client.form("/api/send_feedback", Some(&uma), "identification=1&kind=bogus").await;
        let (status, variant, message) = server_fn_error(&bad);
        assert_eq!((status, variant.as_str()), (StatusCode::BAD_REQUEST, "InvalidInput"), "{}", t.backend);
        assert!(message.contains("unknown feedback \"bogus\""), "{message}");
        let anonymous = client.form("/api/commands", None, "").await;
        assert_eq!(server_fn_error(&anonymous).0, StatusCode::UNAUTHORIZED, "{}", anonymous.text);
        let user = client.form("/api/commands", Some(&uma), "").await;
        assert_eq!(server_fn_error(&user).0, StatusCode::FORBIDDEN, "{}", user.text);
        let missing = client.form("/api/job", Some(&root), "id=987654").await;
        assert_eq!(server_fn_error(&missing).0, StatusCode::NOT_FOUND, "{}", missing.text);
        let queued = queue::enqueue(&db, &JobSpec::Vacuum {}, "", None).await.unwrap();
        let conflict = client.form("/api/resume_job", Some(&root), &format!("id={}", queued.id)).await;
        let (status, variant, message) = server_fn_error(&conflict);
        assert_eq!((status, variant.as_str()), (StatusCode::CONFLICT, "Conflict"), "{message}");
        assert!(!conflict.headers.contains_key(header::RETRY_AFTER));

        // REST: the same kinds, the body {"error", "status"}.
        let (ct, body) = multipart_file("notes.txt", "text/plain", b"not a photo");
        let unsupported = client.send("POST", "/api/v1/identify", Some(&uma), &ct, body).await;
        assert_eq!(unsupported.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", unsupported.text);
        assert_eq!(unsupported.json()["status"], 415);
        let not_multipart = client.send("POST", "/api/v1/identify", Some(&uma), "text/plain", b"x".to_vec()).await;
        assert_eq!(not_multipart.status, StatusCode::BAD_REQUEST);
        assert!(not_multipart.json()["error"].as_str().unwrap().contains("multipart/form-data"));

        // Every answer carries the id the server gave its request.
        let ids: Vec<String> = [&bad, &unsupported, &not_multipart]
            .iter()
            .map(|a| a.headers["x-request-id"].to_str().unwrap().to_string())
            .collect();
        assert!(ids.iter().all(|id| id.len() == 36) && ids[0] != ids[1] && ids[1] != ids[2], "{ids:?}");

        // Internal errors: the database goes away. The detail stays in the log; the caller
        // gets the id of the request to quote.
        db.clone().close().await.unwrap();
        let broken = client.form("/api/portal_stats", None, "").await;
        let (status, variant, id) = server_fn_error(&broken);
        assert_eq!((status, variant.as_str()), (StatusCode::INTERNAL_SERVER_ERROR, "Internal"), "{}", broken.text);
        assert_eq!(id, broken.headers["x-request-id"].to_str().unwrap(), "the body names the request");
        assert!(!broken.text.to_lowercase().contains("pool") && !broken.text.contains("database"), "{}", broken.text);
        let (ct, body) = multipart_file("a.png", "image/png", &png());
        let rest = client.send("POST", "/api/v1/identify", None, &ct, body).await;
        assert_eq!(rest.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", rest.text);
        let error = rest.json()["error"].as_str().unwrap().to_string();
        assert!(error.contains(rest.headers["x-request-id"].to_str().unwrap()), "{error}");
        assert!(!error.to_lowercase().contains("pool") && !error.contains("database"), "{error}");
        t.close().await;
    }
}
