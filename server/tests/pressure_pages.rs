//! Pest pressure through the real router: the overview and species pages with their SVG
//! charts, the CSV, an administrator's alert, and the banner for people who asked for it
//! (SQLite and PostgreSQL).

mod common;

use axum::http::StatusCode;
use common::router::{Answer, Client};
use common::TempDir;
use insectid::testing::{test_databases, test_model_dir};

const PASSWORD: &str = "violet-moth-harvest-42";

/// A photo uploaded with its date and place, as a field app would send it.
fn upload(seed: u8) -> (String, Vec<u8>) {
    let photo = insectid::testing::png(64, 48, |x, y| [x as u8, y as u8, seed]);
    let today = chrono::Utc::now().date_naive();
    let mut body = Vec::new();
    for (name, value) in [("taken_at", today.to_string()), ("latitude", "48.1".into()), ("longitude", "7.5".into())] {
        body.extend(format!("--b\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes());
    }
    body.extend(
        b"--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n",
    );
    body.extend(photo);
    body.extend(b"\r\n--b--\r\n");
    ("multipart/form-data; boundary=b".into(), body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pressure_pages_charts_csv_and_alerts() {
    use clap::Parser;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    for t in test_databases().await {
        let dir = TempDir::new("insectid-pressure-pages");
        let mut config = server::config::Cli::parse_from(["insectid"]).config;
        config.database_url = Some(t.url());
        config.model_dir = Some(test_model_dir());
        config.data_dir = dir.path().to_path_buf();
        config.device = insectid::inference::DevicePreference::Cpu;
        config.admin_username = Some("root".into());
        config.admin_password = Some(PASSWORD.into());
        config.page_cache_seconds = 0;
        let state = server::build_state(&config).await.unwrap();
        let db = state.db.clone();
        let client = Client { app: server::build_app(state) };
        client.sign_up("ann", PASSWORD).await;
        client.sign_up("bob", PASSWORD).await;
        let (ann, bob, admin) = (
            client.sign_in("ann", PASSWORD).await,
            client.sign_in("bob", PASSWORD).await,
            client.sign_in("root", PASSWORD).await,
        );
        // Two of Ann's photos, shared and labelled as corn borers by labelers.
        for seed in [1, 2] {
            let (ct, body) = upload(seed);
            let Answer { status, text, .. } = client.send("POST", "/api/v1/identify", Some(&ann), &ct, body).await;
            assert_eq!(status, StatusCode::OK, "{text}");
            let id = serde_json::from_str::<serde_json::Value>(&text).unwrap()["results"][0]["id"].as_i64().unwrap();
            let today = chrono::Utc::now().date_naive();
            let share = format!("id={id}&taken_at={today}&latitude=48.1&longitude=7.5&shared=on");
            let Answer { status, .. } = client.form("/api/update_observation", Some(&ann), &share).await;
            assert!(status.is_success() || status.is_redirection());
            use insectid::entities::identification;
            let row = identification::Entity::find().filter(identification::Column::Id.eq(id)).one(&db).await.unwrap();
            let sha = row.unwrap().image_sha256;
            insectid::services::labels::decide(
                &db,
                &sha,
                "corn borer",
                insectid::services::labels::LabelSource::Labelers,
            )
            .await
            .unwrap();
        }
        let key = insectid::catalogue::for_label("corn borer").unwrap().key.clone();
        let get = |uri: String, cookie: Option<String>| {
            let client = &client;
            async move { client.send("GET", &uri, cookie.as_deref(), "", vec![]).await }
        };

        let overview = get("/pressure".into(), None).await;
        assert_eq!(overview.status, StatusCode::OK);
        assert!(
            overview.text.contains("id=\"pressure-table\"") && overview.text.contains("corn borer"),
            "{}",
            overview.text
        );
        assert!(overview.text.contains("<svg viewBox=\"0 0 156 28\""), "a chart drawn without JavaScript");
        assert!(overview.text.contains("class=\"weekly-bars small\""));
        assert!(overview.text.contains("48–49°N, 7–8°E (2)"), "the region picker");
        assert!(get("/pressure?region=34S18E".into(), None).await.text.contains("id=\"pressure-none\""));
        assert!(get("/pressure?region=nowhere".into(), None).await.text.contains("is not a region"));
        let page = get(format!("/pressure/{key}?region=48N7E"), None).await.text;
        assert!(page.contains("id=\"pressure-chart\"") && page.contains("id=\"pressure-regions\""), "{page}");
        assert!(page.contains(&format!(
            "{}: 2</title>",
            insectid::services::pressure::week_of(chrono::Utc::now().date_naive())
        )));
        assert!(!page.contains("id=\"set-alert\""), "only administrators set alerts");

        let csv = get(format!("/api/v1/pressure.csv?species={key}"), None).await;
        assert_eq!(csv.status, StatusCode::OK);
        assert_eq!(csv.headers["content-type"], "text/csv; charset=utf-8");
        assert!(csv.text.starts_with("week,species_key,species,region,sightings\n"), "{}", csv.text);
        assert!(csv.text.contains(&format!(",{key},\"corn borer\",48N7E,2")), "{}", csv.text);
        assert_eq!(get("/api/v1/pressure.csv?species=nope".into(), None).await.status, StatusCode::NOT_FOUND);
        assert_eq!(get("/api/v1/pressure.csv?region=x".into(), None).await.status, StatusCode::BAD_REQUEST);

        // An administrator's alert at two a week is reached; Ann asked to see alerts, Bob did not.
        let set = format!("species={key}&region=48N7E&threshold=2");
        let Answer { status, .. } = client.form("/api/set_pest_alert", Some(&bob), &set).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let Answer { status, text, .. } = client.form("/api/set_pest_alert", Some(&admin), &set).await;
        assert!(status.is_success() || status.is_redirection(), "{status} {text}");
        let bad =
            client.form("/api/set_pest_alert", Some(&admin), &format!("species={key}&region=&threshold=many")).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert!(get(format!("/pressure/{key}"), Some(admin.clone())).await.text.contains("id=\"set-alert\""));
        client.form("/api/set_pest_alert_subscription", Some(&ann), "on=on").await;
        let home = get("/".into(), Some(ann.clone())).await.text;
        assert!(
            home.contains("id=\"pest-alert-banner\"") && home.contains("2 sightings this week in 48–49°N, 7–8°E"),
            "{home}"
        );
        assert!(!get("/".into(), Some(bob.clone())).await.text.contains("pest-alert-banner"));
        assert!(get("/pressure".into(), None).await.text.contains("id=\"active-alerts\""), "the overview flags it");
        client.form("/api/set_pest_alert_subscription", Some(&ann), "").await;
        assert!(!get("/".into(), Some(ann.clone())).await.text.contains("pest-alert-banner"));
        t.close().await;
    }
}
