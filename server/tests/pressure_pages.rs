//! Pest pressure through the real router: the overview and species pages with their SVG
//! charts, the CSV, an administrator's alert, and the banner for people who asked for it
//! (SQLite and PostgreSQL).

mod common;

use axum::http::StatusCode;
use common::router::{Answer, Client};
use common::TempDir;
use insectid::testing::{test_databases, test_model_dir};

const PASSWORD: &str = "violet-moth-harvest-42";

/// A photo uploaded with its date (today) and place.
fn upload(seed: u8) -> (String, Vec<u8>) {
    let photo = insectid::testing::png(64, 48, |x, y| [x as u8, y as u8, seed]);
    let today = chrono::Utc::now().date_naive().to_string();
    common::router::multipart_with_fields(
        &[("taken_at", today), ("latitude", "48.1".into()), ("longitude", "7.5".into())],
        &photo,
    )
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
        // The same portal with a mail relay configured (INSECTID_SMTP_URL): e-mail may be asked for.
        // The same portal with a mail relay (a real SMTP server) for alert e-mail.
        let relay = insectid::testing::smtp::SmtpRelay::start();
        let with_mail = relay.as_ref().map(|relay| {
            let mailer = insectid::mail::Mailer::new(&relay.url(), "alerts@portal.test").unwrap();
            let mail = insectid::mail::MailSetup { mailer, public_url: "https://portal.test".into() };
            Client { app: server::build_app(app::state::AppState { mail: Some(mail.into()), ..state.clone() }) }
        });
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

        // A third corn borer nearby: Ann's next photo with a date and place there hears that
        // corn borers were seen near her this season, beside the class, its probability as it was.
        let (ct, body) = upload(3);
        let text = client.send("POST", "/api/v1/identify", Some(&ann), &ct, body).await.text;
        let id = serde_json::from_str::<serde_json::Value>(&text).unwrap()["results"][0]["id"].as_i64().unwrap();
        let today = chrono::Utc::now().date_naive();
        client
            .form(
                "/api/update_observation",
                Some(&ann),
                &format!("id={id}&taken_at={today}&latitude=48.3&longitude=7.7&shared=on"),
            )
            .await;
        let sha = {
            use insectid::entities::identification;
            identification::Entity::find_by_id(id).one(&db).await.unwrap().unwrap().image_sha256
        };
        insectid::services::labels::decide(&db, &sha, "corn borer", insectid::services::labels::LabelSource::Labelers)
            .await
            .unwrap();
        let mine = candidate_answer(&db, ann_id(&db).await, Some((today, 48.15, 7.55))).await;
        let result = |id: i64, cookie: &str| {
            let client = &client;
            let cookie = cookie.to_string();
            async move { client.form("/api/identification", Some(&cookie), &format!("id={id}")).await.json() }
        };
        let with_context = result(mine, &ann).await;
        assert_eq!(with_context["seen_nearby"], serde_json::json!([{ "label": "corn borer", "sightings": 3 }]));
        let page = get(format!("/results/{mine}"), Some(ann.clone())).await.text;
        assert!(page.contains("seen near you this season (3)"), "{page}");
        // Without a date and place nothing is said, and the classes and probabilities are the same.
        let plain = candidate_answer(&db, ann_id(&db).await, None).await;
        let without = result(plain, &ann).await;
        assert_eq!(without["seen_nearby"], serde_json::json!([]));
        assert_eq!(without["top"], with_context["top"], "the prior never changes the answer");

        // An administrator's alert at two a week is reached; Ann asked to see alerts, Bob did not.
        let set = format!("species={key}&region=48N7E&threshold=3");
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
            home.contains("id=\"pest-alert-banner\"") && home.contains("3 sightings this week in 48–49°N, 7–8°E"),
            "{home}"
        );
        assert!(!get("/".into(), Some(bob.clone())).await.text.contains("pest-alert-banner"));
        assert!(get("/pressure".into(), None).await.text.contains("id=\"active-alerts\""), "the overview flags it");
        client.form("/api/set_pest_alert_subscription", Some(&ann), "").await;
        assert!(!get("/".into(), Some(ann.clone())).await.text.contains("pest-alert-banner"));

        // E-mail: offered only with a mail relay (without one, the box is not there and what
        // was asked before stays), only to someone with an address, who confirms it.
        assert!(!get("/pressure".into(), Some(ann.clone())).await.text.contains("name=\"email\""));
        let no_relay = client.form("/api/set_pest_alert_subscription", Some(&ann), "on=on&email=on").await;
        assert!(no_relay.status.is_success() || no_relay.status.is_redirection(), "{}", no_relay.status);
        assert!(!get("/pressure".into(), Some(ann.clone())).await.text.contains("alert-mail-state"));
        if let (Some(relay), Some(with_mail)) = (&relay, &with_mail) {
            alert_mail_is_confirmed_by_a_mailed_link(relay, with_mail, &ann).await;
        }
        t.close().await;
    }
}

async fn ann_id(db: &sea_orm::DatabaseConnection) -> i64 {
    use insectid::entities::user;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    user::Entity::find().filter(user::Column::UsernameKey.eq("ann")).one(db).await.unwrap().unwrap().id
}

/// An answer of Ann's whose candidates include the corn borer, with or without a date and place.
async fn candidate_answer(
    db: &sea_orm::DatabaseConnection,
    owner: i64,
    context: Option<(chrono::NaiveDate, f64, f64)>,
) -> i64 {
    use insectid::entities::identification;
    use sea_orm::{ActiveModelTrait, Set};
    let answer = serde_json::json!({
        "id": null, "image_sha256": "e".repeat(64), "model_name": "m", "model_version": "1",
        "answer": {
            "top": [
                { "index": 0, "label": "rice water weevil", "probability": 0.5, "taxon_key": null },
                { "index": 1, "label": "corn borer", "probability": 0.3, "taxon_key": null }
            ],
            "verdict": { "kind": "uncertain", "arthropod_probability": 0.9 }, "arthropod_probability": 0.9
        },
        "summary": "x", "timings": { "preprocess_ms": 1.0, "inference_ms": 1.0, "total_ms": 2.0 }, "batch_size": 1
    });
    let row = identification::ActiveModel {
        created_at: Set(chrono::Utc::now()),
        user_id: Set(Some(owner)),
        image_sha256: Set("e".repeat(64)),
        model_name: Set("m".into()),
        model_version: Set("1".into()),
        top_label: Set("rice water weevil".into()),
        top_probability: Set(0.5),
        answer: Set(answer.to_string()),
        taken_at: Set(context.map(|c| format!("{} 08:00:00", c.0))),
        latitude: Set(context.map(|c| c.1)),
        longitude: Set(context.map(|c| c.2)),
        ..Default::default()
    };
    row.insert(db).await.unwrap().id
}

/// Ann asks for e-mail without an address (refused), adds one, asks again: a confirmation link
/// is mailed; its page shows the address and confirms on its button; a bad link says so.
async fn alert_mail_is_confirmed_by_a_mailed_link(
    relay: &insectid::testing::smtp::SmtpRelay,
    client: &Client,
    ann: &str,
) {
    let page = client.send("GET", "/pressure", Some(ann), "", vec![]).await.text;
    assert!(page.contains("name=\"email\"") && page.contains("E-mail them to me"), "{page}");
    let no_address = client.form("/api/set_pest_alert_subscription", Some(ann), "on=on&email=on").await;
    assert_eq!(no_address.status, StatusCode::BAD_REQUEST);
    assert!(no_address.text.contains("add an e-mail address on My account"), "{}", no_address.text);
    let profile =
        client.form("/api/update_profile", Some(ann), "display_name=Ann&email=ann%40farm.test&language=en").await;
    assert!(profile.status.is_success() || profile.status.is_redirection(), "{}", profile.text);
    let asked = client.form("/api/set_pest_alert_subscription", Some(ann), "on=on&email=on").await;
    assert!(asked.status.is_success() || asked.status.is_redirection(), "{} {}", asked.status, asked.text);
    let page = client.send("GET", "/pressure", Some(ann), "", vec![]).await.text;
    assert!(page.contains("A confirmation link was mailed to ann@farm.test"), "{page}");
    let mail = relay.wait_for_matching(1, std::time::Duration::from_secs(10), |m| m.to == "ann@farm.test");
    let token = mail.first().and_then(|m| m.token()).expect("a confirmation link");
    assert!(mail[0].body.contains(&format!("https://portal.test/alerts/confirm?token={token}")));
    // Opening the link changes nothing; its button confirms.
    let link = client.send("GET", &format!("/alerts/confirm?token={token}"), None, "", vec![]).await.text;
    assert!(link.contains("ann@farm.test") && link.contains("id=\"alert-mail-link\""), "{link}");
    let page = client.send("GET", "/pressure", Some(ann), "", vec![]).await.text;
    assert!(page.contains("A confirmation link was mailed to"), "still waiting: {page}");
    let confirmed = client.form("/api/confirm_alert_mail", None, &format!("token={token}")).await;
    assert!(confirmed.status.is_success() || confirmed.status.is_redirection(), "{}", confirmed.text);
    let page = client.send("GET", "/pressure", Some(ann), "", vec![]).await.text;
    assert!(page.contains("Alerts are mailed to ann@farm.test"), "{page}");
    let done = client.send("GET", "/alerts/confirm?done=1", None, "", vec![]).await.text;
    assert!(done.contains("Confirmed: pest alerts will be mailed to this address."), "{done}");
    let bad = client.send("GET", &format!("/alerts/stop?token={}", "0".repeat(64)), None, "", vec![]).await.text;
    assert!(bad.contains("this link is not valid"), "{bad}");
    let refused = client.form("/api/stop_alert_mail", None, &format!("token={}", "0".repeat(64))).await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
}
