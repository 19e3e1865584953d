//! Two `insectid` processes on one PostgreSQL and one data directory, as behind a load
//! balancer: a session made on one is valid on the other, each queued job runs exactly once,
//! and when the instance running a fine-tune is killed (-9) the other finishes it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use insectid::entities::job;
use sea_orm::{EntityTrait, QueryOrder};

const ADMIN_PASSWORD: &str = "two-instances-pass-8812";

struct Instance {
    child: Child,
    port: u16,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start(url: &str, data: &Path, log: &Path) -> Instance {
    let port = free_port();
    let out = std::fs::File::create(log).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_insectid"))
        .args(["--data-dir", &data.display().to_string()])
        .env("INSECTID_BIND", format!("127.0.0.1:{port}"))
        .env("INSECTID_DATABASE_URL", url)
        .env("INSECTID_MODEL_DIR", insectid::testing::test_model_dir())
        .env("INSECTID_ADMIN_USERNAME", "root")
        .env("INSECTID_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("INSECTID_JOB_STALE_SECONDS", "3")
        .env("INSECTID_INFERENCE_THREADS", "1")
        .env("INSECTID_LOG", "info")
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .stdin(Stdio::null())
        .spawn()
        .expect("start insectid");
    let instance = Instance { child, port };
    let deadline = Instant::now() + Duration::from_secs(60);
    while http(port, "GET", "/readyz", None, "").0 != 200 {
        assert!(Instant::now() < deadline, "instance on {port} did not become ready; see {}", log.display());
        std::thread::sleep(Duration::from_millis(200));
    }
    instance
}

/// One HTTP/1.1 request (closing the connection): status, headers, body.
fn http(port: u16, method: &str, path: &str, cookie: Option<&str>, form: &str) -> (u16, String, String) {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return (0, String::new(), String::new());
    };
    let cookie = cookie.map(|c| format!("Cookie: {c}\r\n")).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: http://127.0.0.1:{port}\r\n{cookie}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{form}",
        form.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, head.to_string(), body.to_string())
}

fn session_cookie(head: &str) -> String {
    head.lines()
        .filter_map(|l| l.strip_prefix("set-cookie: ").or_else(|| l.strip_prefix("Set-Cookie: ")))
        .map(|c| c.split(';').next().unwrap_or_default().to_string())
        .find(|c| c.starts_with("insectid_session="))
        .expect("a session cookie")
}

async fn wait_for(db: &sea_orm::DatabaseConnection, what: &str, done: impl Fn(&[job::Model]) -> bool) -> Vec<job::Model> {
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
        assert_eq!(std::env::var("INSECTID_TEST_SKIP_POSTGRES").as_deref(), Ok("1"), "INSECTID_TEST_DATABASE_URL is not set");
        return;
    };
    let t = insectid::testing::postgres_database(&admin_url).await;
    let db = t.db.clone();
    let url = t.url();
    let work = std::env::temp_dir().join(format!("insectid-two-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let data = work.join("data");
    std::fs::create_dir_all(&data).unwrap();
    // A small labelled dataset in the shared database and photo store, to fine-tune on.
    for (class, family) in ["Crambidae", "Delphacidae", "Curculionidae"].iter().enumerate() {
        for (split, range) in [("train", 0..6u32), ("val", 100..103u32)] {
            let dir = work.join("source").join(split).join(family);
            std::fs::create_dir_all(&dir).unwrap();
            for i in range {
                std::fs::write(dir.join(format!("{i}.png")), insectid::testing::coloured_photo(class, i)).unwrap();
            }
        }
    }
    let photos = insectid::storage::PhotoStore::open(data.join("photos")).unwrap();
    let import = insectid::services::dataset_import::start(&db, "pests", &work.join("source"), 1).await.unwrap();
    insectid::services::dataset_import::run(&db, &photos, import.id, |_| {}).await.unwrap();

    let a = start(&url, &data, &work.join("a.log"));
    let b = start(&url, &data, &work.join("b.log"));

    // A session made on A is valid on B (sessions live in PostgreSQL).
    let (status, head, body) = http(a.port, "POST", "/api/sign_in", None, &format!("username=root&password={ADMIN_PASSWORD}"));
    assert_eq!(status, 200, "{body}");
    let cookie = session_cookie(&head);
    let (status, _, me) = http(b.port, "POST", "/api/me", Some(&cookie), "");
    assert_eq!(status, 200);
    assert!(me.contains("\"root\""), "{me}");

    // Eight jobs queued through both instances: each runs exactly once, on one of them.
    for n in 0..8 {
        let port = if n % 2 == 0 { a.port } else { b.port };
        let (status, _, body) = http(port, "POST", "/api/run_command", Some(&cookie), "command=clean-orphaned-files&values%5Bgrace_minutes%5D=60");
        assert!(status == 200 || status == 302, "{status} {body}");
    }
    let jobs = wait_for(&db, "eight clean-ups", |j| j.len() == 8 && j.iter().all(|j| j.state == "succeeded")).await;
    assert!(jobs.iter().all(|j| j.attempts == 1), "each ran once: {jobs:#?}");
    assert!(jobs.iter().all(|j| j.log.matches("started on").count() == 1));

    // A fine-tune long enough to be caught running; its instance is killed; the other finishes it.
    let form = "command=fine-tune&values%5Bdataset%5D=pests%401&values%5Bhidden%5D=0&values%5Bepochs%5D=20&values%5Bpatience%5D=5&values%5Bviews%5D=16";
    let (status, _, body) = http(a.port, "POST", "/api/run_command", Some(&cookie), form);
    assert!(status == 200 || status == 302, "{status} {body}");
    let running = wait_for(&db, "the fine-tune to start", |j| j.last().is_some_and(|j| j.kind == "fine_tune" && j.state == "running" && j.progress.contains("\"done\""))).await;
    let tune = running.last().unwrap().clone();
    let (mut victim, survivor) = if tune.worker.contains(&format!("-{}-", a.child.id())) { (a, b) } else { (b, a) };
    assert!(tune.worker.contains(&format!("-{}-", victim.child.id())), "{} ran on neither instance", tune.worker);
    victim.child.kill().unwrap(); // SIGKILL: no goodbye, no final heartbeat
    victim.child.wait().unwrap();
    let done = wait_for(&db, "the other instance to finish the fine-tune", |j| j.iter().any(|j| j.id == tune.id && j.state == "succeeded")).await;
    let finished = done.iter().find(|j| j.id == tune.id).unwrap();
    assert_eq!(finished.attempts, 2, "{}", finished.log);
    assert!(finished.worker.contains(&format!("-{}-", survivor.child.id())), "{}", finished.worker);
    assert!(finished.log.contains("stopped answering; queued again"), "{}", finished.log);
    // The model it made is in the registry both instances share.
    let result: serde_json::Value = serde_json::from_str(&finished.result).unwrap();
    assert!(result["model_version_id"].as_i64().is_some(), "{result}");
    let (status, _, _) = http(survivor.port, "GET", "/readyz", None, "");
    assert_eq!(status, 200);
    drop(survivor);
    t.close().await;
    let _ = std::fs::remove_dir_all(&work);
}
