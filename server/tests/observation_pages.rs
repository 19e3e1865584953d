//! Observations through the real router: the date and place sent with `POST /api/v1/identify`,
//! the result page's form (its owner only), the history's filters, and a shared photo on its
//! species' page (SQLite and PostgreSQL).

mod common;

use axum::http::StatusCode;
use common::router::{png, Answer, Client};
use common::TempDir;
use insectid::testing::{test_databases, test_model_dir};

const PASSWORD: &str = "violet-moth-harvest-42";

fn upload(fields: &[(&str, &str)], photo: &[u8]) -> (String, Vec<u8>) {
    let fields: Vec<(&str, String)> = fields.iter().map(|(k, v)| (*k, v.to_string())).collect();
    common::router::multipart_with_fields(&fields, photo)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_observation_travels_from_the_api_to_the_pages() {
    use clap::Parser;
    for t in test_databases().await {
        let dir = TempDir::new("insectid-observation-pages");
        let mut config = server::config::Cli::parse_from(["insectid"]).config;
        config.database_url = Some(t.url());
        config.model_dir = Some(test_model_dir());
        config.data_dir = dir.path().to_path_buf();
        config.device = insectid::inference::DevicePreference::Cpu;
        let state = server::build_state(&config).await.unwrap();
        let db = state.db.clone();
        let client = Client { app: server::build_app(state) };
        client.sign_up("ann", PASSWORD).await;
        client.sign_up("bob", PASSWORD).await;
        let ann = client.sign_in("ann", PASSWORD).await;
        let bob = client.sign_in("bob", PASSWORD).await;

        let fields = [("taken_at", "2026-06-01T08:00"), ("latitude", "48.12534"), ("longitude", "7.52531")];
        let (ct, body) = upload(&fields, &png());
        let Answer { status, text, .. } = client.send("POST", "/api/v1/identify", Some(&ann), &ct, body).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        let id = serde_json::from_str::<serde_json::Value>(&text).unwrap()["results"][0]["id"].as_i64().unwrap();
        let row = <insectid::entities::identification::Entity as sea_orm::EntityTrait>::find_by_id(id)
            .one(&db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.taken_at.as_deref(), Some("2026-06-01 08:00:00"));
        assert_eq!((row.latitude, row.longitude), (Some(48.12534), Some(7.52531)));

        // A half place is refused with the reason; nothing is recorded.
        let (ct, body) = upload(&[("latitude", "48.1")], &png());
        let Answer { status, text, .. } = client.send("POST", "/api/v1/identify", Some(&ann), &ct, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
        assert!(text.contains("give both latitude and longitude"), "{text}");
        let (ct, body) = upload(&[("taken_at", "1850-01-01")], &png());
        let Answer { status, .. } = client.send("POST", "/api/v1/identify", Some(&ann), &ct, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);

        // The result page: its owner sees the form with the values, nobody else sees a thing.
        let page = |cookie: Option<String>| {
            let client = &client;
            async move { client.send("GET", &format!("/results/{id}"), cookie.as_deref(), "", vec![]).await.text }
        };
        let mine = page(Some(ann.clone())).await;
        assert!(mine.contains("id=\"observation\"") && mine.contains("value=\"2026-06-01T08:00:00\""), "{mine}");
        assert!(mine.contains("value=\"48.12534\""));
        let theirs = page(Some(bob.clone())).await;
        assert!(!theirs.contains("id=\"observation\"") && !theirs.contains("48.12534"));

        // Bob cannot change it; Ann shares it; the history filters find it by day and area.
        let edit = format!("id={id}&taken_at=2026-06-01T08:00&latitude=48.12534&longitude=7.52531&shared=on");
        let Answer { status, .. } = client.form("/api/update_observation", Some(&bob), &edit).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let Answer { status, text, .. } = client.form("/api/update_observation", Some(&ann), &edit).await;
        assert!(status.is_success() || status.is_redirection(), "{status} {text}");
        let history = |query: &'static str| {
            let (client, ann) = (&client, ann.clone());
            async move { client.send("GET", &format!("/history?{query}"), Some(&ann), "", vec![]).await.text }
        };
        let found = history("from=2026-06-01&to=2026-06-01&latitude=48.1&longitude=7.5&km=5").await;
        assert!(found.contains(&format!("data-id=\"{id}\"")), "{found}");
        let none = history("from=2026-06-02").await;
        assert!(!none.contains(&format!("data-id=\"{id}\"")) && none.contains("history-none"));
        let bad = history("from=yesterday").await;
        assert!(bad.contains("is not a date"), "{bad}");

        // Labelled as a species and shared: its page shows the photo, the day and the place
        // rounded to about 1 km, never the exact one.
        let row = <insectid::entities::identification::Entity as sea_orm::EntityTrait>::find_by_id(id)
            .one(&db)
            .await
            .unwrap()
            .unwrap();
        use insectid::services::labels;
        labels::decide(&db, &row.image_sha256, "corn borer", labels::LabelSource::Labelers).await.unwrap();
        let key = &insectid::catalogue::for_label("corn borer").unwrap().key;
        let species = client.send("GET", &format!("/species/{key}"), Some(&bob), "", vec![]).await.text;
        assert!(species.contains(&format!("/photos/{}/thumb", row.image_sha256)), "{species}");
        assert!(species.contains("2026-06-01 · 48.13, 7.53") && !species.contains("48.125"), "{species}");
        let list = client.send("GET", "/species?q=corn%20borer", Some(&bob), "", vec![]).await.text;
        assert!(list.contains(&format!("/photos/{}/thumb", row.image_sha256)), "the list's thumbnail: {list}");
        t.close().await;
    }
}
