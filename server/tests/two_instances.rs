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
