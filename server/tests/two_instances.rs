//! Two `insectid` processes on one PostgreSQL and one data directory, as behind a load
//! balancer: a session made on one is valid on the other, each queued job runs exactly once,
//! and when the instance running a fine-tune is killed (-9) the other finishes it.

use std::time::{Duration, Instant};

use insectid::entities::job;
use insectid::jobs::{JobKind, JobResult, JobState, Progress};
use sea_orm::{EntityTrait, QueryOrder};

mod common;

use common::{http, session_cookie, start, ADMIN_PASSWORD};

async fn wait_for(
    db: &sea_orm::DatabaseConnection,
    what: &str,
    done: impl Fn(&[job::Model]) -> bool,
) -> Vec<job::Model> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let jobs = job::Entity::find().order_by_asc(job::Column::Id).all(db).await.unwrap();
        if done(&jobs) {
            return jobs;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}: {jobs:#?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_sessions_run_each_job_once_and_take_over_a_dead_instances_job() {
    let Ok(admin_url) = std::env::var("INSECTID_TEST_DATABASE_URL") else {
        assert_eq!(
            std::env::var("INSECTID_TEST_SKIP_POSTGRES").as_deref(),
            Ok("1"),
            "INSECTID_TEST_DATABASE_URL is not set"
        );
        return;
    };
    let t = insectid::testing::postgres_database(&admin_url).await;
    let db = t.db.clone();
    let url = t.url();
    let work = std::env::temp_dir().join(format!("insectid-two-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let data = work.join("data");
    std::fs::create_dir_all(&data).unwrap();
    insectid::testing::write_pest_folders(&work.join("source"));
    let photos = insectid::storage::PhotoStore::open(data.join("photos")).unwrap();
    let import = insectid::services::dataset_import::start(&db, "pests", &work.join("source"), 1).await.unwrap();
    insectid::services::dataset_import::run(&db, &photos, import.id, |_| {}).await.unwrap();

    let env = [("INSECTID_REGISTRY_POLL_SECONDS", "1")];
    let a = start(&url, &data, &work.join("a.log"), &env);
    let b = start(&url, &data, &work.join("b.log"), &env);

    // A session made on A is valid on B (sessions live in PostgreSQL).
    let (status, head, body) =
        http(a.port, "POST", "/api/sign_in", None, &format!("username=root&password={ADMIN_PASSWORD}"));
    assert_eq!(status, 200, "{body}");
    let cookie = session_cookie(&head);
    let (status, _, me) = http(b.port, "POST", "/api/me", Some(&cookie), "");
    assert_eq!(status, 200);
    assert!(me.contains("\"root\""), "{me}");

    // Eight jobs queued through both instances: each runs exactly once, on one of them.
    for n in 0..8 {
        let port = if n % 2 == 0 { a.port } else { b.port };
        let (status, _, body) = http(
            port,
            "POST",
            "/api/run_command",
            Some(&cookie),
            "command=clean-orphaned-files&values%5Bgrace_minutes%5D=60",
        );
        assert!(status == 200 || status == 302, "{status} {body}");
    }
    let jobs =
        wait_for(&db, "eight clean-ups", |j| j.len() == 8 && j.iter().all(|j| j.state == JobState::Succeeded)).await;
    assert!(jobs.iter().all(|j| j.attempts == 1), "each ran once: {jobs:#?}");
    assert!(jobs.iter().all(|j| j.log.matches("started on").count() == 1));

    // A fine-tune long enough to be caught running; its instance is killed; the other finishes it.
    let form = "command=fine-tune&values%5Bdataset%5D=pests%401&values%5Bhidden%5D=0&values%5Bepochs%5D=20&values%5Bpatience%5D=5&values%5Bviews%5D=16";
    let (status, _, body) = http(a.port, "POST", "/api/run_command", Some(&cookie), form);
    assert!(status == 200 || status == 302, "{status} {body}");
    let running = wait_for(&db, "the fine-tune to start", |j| {
        j.last().is_some_and(|j| {
            j.kind == JobKind::FineTune && j.state == JobState::Running && Progress::of(j).done.is_some()
        })
    })
    .await;
    let tune = running.last().unwrap().clone();
    let (mut victim, survivor) = if tune.worker.contains(&format!("-{}-", a.child.id())) { (a, b) } else { (b, a) };
    assert!(tune.worker.contains(&format!("-{}-", victim.child.id())), "{} ran on neither instance", tune.worker);
    victim.child.kill().unwrap(); // SIGKILL: no goodbye, no final heartbeat
    victim.child.wait().unwrap();
    let done = wait_for(&db, "the other instance to finish the fine-tune", |j| {
        j.iter().any(|j| j.id == tune.id && j.state == JobState::Succeeded)
    })
    .await;
    let finished = done.iter().find(|j| j.id == tune.id).unwrap();
    assert_eq!(finished.attempts, 2, "{}", finished.log);
    assert!(finished.worker.contains(&format!("-{}-", survivor.child.id())), "{}", finished.worker);
    assert!(finished.log.contains("stopped answering; queued again"), "{}", finished.log);
    // The model it made is in the registry both instances share.
    let Some(JobResult::FineTune(result)) = JobResult::of(finished) else {
        panic!("a fine-tune's result: {}", finished.result);
    };
    assert!(result.model_version_id > 0, "{result:?}");
    let (status, _, _) = http(survivor.port, "GET", "/readyz", None, "");
    assert_eq!(status, 200);

    // A replacement instance joins; the new version activated on the survivor reaches it too.
    let replacement = start(&url, &data, &work.join("c.log"), &env);
    let id = result.model_version_id;
    let (status, _, body) = http(survivor.port, "POST", "/api/activate_model", Some(&cookie), &format!("id={id}"));
    assert!(status == 200 || status == 302, "{status} {body}");
    let version = result.model.split(' ').nth(1).unwrap().to_string();
    for instance in [&survivor, &replacement] {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (_, _, model) = http(instance.port, "GET", "/api/v1/model", None, "");
            if model.contains(&format!("\"version\":\"{version}\"")) {
                break;
            }
            assert!(Instant::now() < deadline, "instance on {} still answers with {model}", instance.port);
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    drop(replacement);
    drop(survivor);
    t.close().await;
    let _ = std::fs::remove_dir_all(&work);
}

/// Two instances with one mail relay, each running alert-mail rounds: the subscriber (with a
/// confirmed address) gets the alert once. (The claim race itself is in tests/alert_mail.rs.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_mail_a_pest_alert_once() {
    use insectid::auth::Role;
    use insectid::entities::{identification, user};
    use insectid::services::accounts;
    use insectid::services::pressure::alerts::{self, Subscription};
    use sea_orm::{ActiveModelTrait, Set};
    let Ok(admin_url) = std::env::var("INSECTID_TEST_DATABASE_URL") else {
        assert_eq!(std::env::var("INSECTID_TEST_SKIP_POSTGRES").as_deref(), Ok("1"));
        return;
    };
    let Some(relay) = insectid::testing::smtp::SmtpRelay::start() else { return };
    let t = insectid::testing::postgres_database(&admin_url).await;
    let db = t.db.clone();
    let work = std::env::temp_dir().join(format!("insectid-two-mail-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(work.join("data")).unwrap();

    // Ann asked for alerts by e-mail; an administrator watches corn borers everywhere.
    let mut people = Vec::new();
    for (name, role) in [("ann", Role::User), ("boss", Role::Admin)] {
        let form = accounts::SignUp {
            username: name.into(),
            display_name: String::new(),
            email: format!("{name}@farm.test"),
            password: ADMIN_PASSWORD.into(),
        };
        let mut row: user::ActiveModel = accounts::sign_up(&db, form, true, None).await.unwrap().into();
        row.role = Set(role);
        row.update(&db).await.unwrap();
        people.push(accounts::check_credentials(&db, name, ADMIN_PASSWORD, "10.9.9.9").await.unwrap());
    }
    let (ann, boss) = (&people[0], &people[1]);
    alerts::subscribe(&db, Some(ann), Subscription { on_visit: false, by_email: true }).await.unwrap();
    {
        use insectid::services::pressure::mail_address;
        let mailer = insectid::mail::Mailer::new(&relay.url(), "alerts@portal.test").unwrap();
        mail_address::request_confirmation(&db, &mailer, "https://insects.example.org", Some(ann)).await.unwrap();
        let token = relay.wait_for(1, Duration::from_secs(10)).first().and_then(|m| m.token()).expect("a link");
        mail_address::confirm(&db, &token).await.unwrap();
    }
    let borer = insectid::catalogue::for_label("corn borer").unwrap();
    alerts::set(&db, Some(boss), &borer.key, None, 1).await.unwrap();
    // One of Ann's confident answers, shared with its date.
    identification::ActiveModel {
        created_at: Set(chrono::Utc::now()),
        user_id: Set(Some(ann.id)),
        image_sha256: Set("b".repeat(64)),
        model_name: Set("m".into()),
        model_version: Set("1".into()),
        top_label: Set("corn borer".into()),
        top_probability: Set(0.95),
        answer: Set("{}".into()),
        taken_at: Set(Some(format!("{} 08:00:00", chrono::Utc::now().date_naive()))),
        verdict: Set(identification::VerdictKind::Confident),
        shared: Set(true),
        ..Default::default()
    }
    .insert(&db)
    .await
    .unwrap();

    let env = [
        ("INSECTID_SMTP_URL", relay.url()),
        ("INSECTID_MAIL_FROM", "alerts@portal.test".to_string()),
        ("INSECTID_PUBLIC_URL", "https://insects.example.org/".to_string()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let a = start(&t.url(), &work.join("data"), &work.join("a.log"), &env);
    let b = start(&t.url(), &work.join("data"), &work.join("b.log"), &env);
    let alerts = |m: &insectid::testing::smtp::Received| m.subject.starts_with("Pest alert");
    let got = relay.wait_for_matching(1, Duration::from_secs(60), alerts);
    assert_eq!(got.len(), 1, "see {}", work.display());
    // Both instances' first rounds are over well before this: each starts 5 s after its start.
    std::thread::sleep(Duration::from_secs(8));
    let got: Vec<_> = relay.received().into_iter().filter(alerts).collect();
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!((got[0].to.as_str(), got[0].from.as_str()), ("ann@farm.test", "alerts@portal.test"));
    assert!(got[0].body.contains(&format!("https://insects.example.org/pressure/{}\n", borer.key)), "{}", got[0].body);
    drop((a, b));
    t.close().await;
    let _ = std::fs::remove_dir_all(&work);
}
