//! Fault tests: the server is killed with SIGKILL during uploads, during a dataset import and
//! during a fine-tune, then started again on the same data. Nothing committed is lost, no row
//! lacks its photo (`insectid check`), interrupted jobs resume and finish, and clients that
//! got a broken connection succeed when they try again.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{http, http_bytes, photo_upload, session_cookie, start, Instance, ADMIN_PASSWORD};

/// POSTs one photo to the REST API; the status (0 when the connection broke).
fn identify(port: u16, photo: &[u8]) -> u16 {
    let (content_type, body) = photo_upload("p.png", photo);
    http_bytes(port, "POST", "/api/v1/identify", None, &content_type, &body).0
}

/// A class-coloured photo whose bytes differ for every `i` (the import skips duplicates).
fn distinct_photo(class: usize, i: u32) -> Vec<u8> {
    let png = insectid::testing::coloured_photo(class, i);
    let mut img = image::load_from_memory(&png).unwrap().to_rgb8();
    img.put_pixel(0, 0, image::Rgb([(i % 256) as u8, (i / 256) as u8, 7]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn check(url: &str, data: &Path, repair: bool) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_insectid"));
    cmd.args(["--data-dir", &data.display().to_string(), "check", "--json"])
        .env("INSECTID_DATABASE_URL", url)
        .env("INSECTID_LOG", "warn");
    if repair {
        cmd.args(["--repair", "--grace-minutes", "0"]);
    }
    let out = cmd.output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
}

fn job_state(url: &str, id: i64) -> serde_json::Value {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        use sea_orm::EntityTrait;
        let db = sea_orm::Database::connect(url).await.unwrap();
        let j = insectid::entities::job::Entity::find_by_id(id).one(&db).await.unwrap().unwrap();
        db.close().await.ok();
        serde_json::json!({ "state": j.state, "attempts": j.attempts, "progress": serde_json::from_str::<serde_json::Value>(&j.progress).unwrap_or_default(), "log": j.log, "result": j.result })
    })
}

fn wait(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(180);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn kill(mut instance: Instance) {
    instance.child.kill().unwrap(); // SIGKILL
    instance.child.wait().unwrap();
}

fn sign_in(port: u16) -> String {
    let (status, head, body) =
        http(port, "POST", "/api/sign_in", None, &format!("username=root&password={ADMIN_PASSWORD}"));
    assert_eq!(status, 200, "{body}");
    session_cookie(&head)
}

/// Queues a command; the new job's id (from the redirect to its page).
fn run_command(port: u16, cookie: &str, form: &str) -> i64 {
    let (status, head, body) = http(port, "POST", "/api/run_command", Some(cookie), form);
    assert!(status == 200 || status == 302, "{status} {body}");
    body.trim()
        .parse()
        .ok()
        .or_else(|| {
            head.lines().find_map(|l| {
                l.to_ascii_lowercase().strip_prefix("location: /jobs/").and_then(|id| id.trim().parse().ok())
            })
        })
        .expect("a job id")
}

#[test]
fn kill_9_during_uploads_an_import_and_a_fine_tune_loses_nothing() {
    let work = std::env::temp_dir().join(format!("insectid-faults-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let data = work.join("data");
    std::fs::create_dir_all(data.join("imports")).unwrap();
    let url = format!("sqlite://{}?mode=rwc", data.join("insectid.db").display());
    // 3 classes × 200 generated photos to import (no split: the import makes a stratified one);
    // enough that the import is caught half-way.
    for (class, family) in ["Crambidae", "Delphacidae", "Curculionidae"].iter().enumerate() {
        let dir = data.join("imports").join("pests").join(family);
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..200u32 {
            std::fs::write(dir.join(format!("{i}.png")), distinct_photo(class, i)).unwrap();
        }
    }
    let env = [("INSECTID_JOB_STALE_SECONDS", "3")];

    // 1. Uploads in flight when the server dies: afterwards every recorded row has its photo.
    let server = start(&url, &data, &work.join("1.log"), &env);
    let port = server.port;
    let senders: Vec<_> = (0..12u32)
        .map(|i| {
            std::thread::spawn(move || identify(port, &insectid::testing::coloured_photo(i as usize % 3, 1000 + i)))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    kill(server);
    let statuses: Vec<u16> = senders.into_iter().map(|s| s.join().unwrap()).collect();
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 0 || *s == 503),
        "answered or cut off, never half-answered: {statuses:?}"
    );
    let (_, report) = check(&url, &data, false);
    let report_json: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert!(
        report_json["rows_without_photo"].as_array().unwrap().is_empty(),
        "no identification lost its photo: {report}"
    );

    // 2. Restarted, it has cleaned up what the crash left, and the same client succeeds; then
    // the import is killed part-way.
    let server = start(&url, &data, &work.join("2.log"), &env);
    let (clean, report) = check(&url, &data, false);
    assert!(clean, "the restart removed the crash's leftovers: {report}");
    assert_eq!(
        identify(server.port, &insectid::testing::coloured_photo(0, 2000)),
        200,
        "clients recover after the restart"
    );
    let cookie = sign_in(server.port);
    let import =
        run_command(server.port, &cookie, "command=import-dataset&values%5Bname%5D=pests&values%5Bfolder%5D=pests");
    wait("the import to start", || job_state(&url, import)["progress"]["done"].as_u64().unwrap_or(0) > 0);
    kill(server);

    // 3. At the next start the import is interrupted, queued again, and finishes without duplicates.
    let server = start(&url, &data, &work.join("3.log"), &env);
    wait("the import to finish", || job_state(&url, import)["state"] == "succeeded");
    let done = job_state(&url, import);
    assert_eq!(done["attempts"], 2, "{done}");
    assert!(done["log"].as_str().unwrap().contains("queued again"), "{done}");
    let cookie = sign_in(server.port);
    let (_, _, datasets) = http(server.port, "POST", "/api/datasets", Some(&cookie), "");
    let overview: serde_json::Value = serde_json::from_str(&datasets).unwrap();
    let version = overview["versions"].as_array().unwrap().iter().find(|v| v["dataset"] == "pests").unwrap().clone();
    assert_eq!(
        (version["state"].as_str(), version["items"].as_i64()),
        (Some("ready"), Some(600)),
        "every photo once: {version}"
    );

    // 4. A fine-tune killed part-way through its features resumes after the restart and finishes.
    let tune = run_command(server.port, &cookie, "command=fine-tune&values%5Bdataset%5D=pests%401&values%5Bhidden%5D=0&values%5Bepochs%5D=20&values%5Bpatience%5D=5&values%5Bviews%5D=2");
    // Past the first view (420 train photos): its features are in the job's cache.
    wait("the fine-tune to start", || job_state(&url, tune)["progress"]["done"].as_u64().unwrap_or(0) > 450);
    kill(server);
    let server = start(&url, &data, &work.join("4.log"), &env);
    let (clean, report) = check(&url, &data, false);
    assert!(clean, "no half-written photo or orphan after the killed import and fine-tune: {report}");
    wait("the fine-tune to finish", || job_state(&url, tune)["state"] == "succeeded");
    let finished = job_state(&url, tune);
    assert_eq!(finished["attempts"], 2, "{finished}");
    let log = finished["log"].as_str().unwrap();
    assert!(log.contains("from the cache"), "finished views were not computed again: {log}");
    drop(server);

    let (clean, report) = check(&url, &data, false);
    assert!(clean, "nothing orphaned, nothing missing: {report}");
    let _ = std::fs::remove_dir_all(&work);
}

/// A throw-away PostgreSQL cluster this test may stop and start (the shared one must not be).
struct Cluster {
    dir: std::path::PathBuf,
    bin: std::path::PathBuf,
    port: u16,
}

impl Cluster {
    fn pg(&self, tool: &str, args: &[&str]) -> std::process::Output {
        let tool = self.bin.join(tool);
        let mut cmd = if unsafe_is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(tool);
            c
        } else {
            Command::new(tool)
        };
        cmd.args(args).output().unwrap()
    }

    fn start() -> Option<Cluster> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .flatten()
            .map(|e| e.path().join("bin"))
            .filter(|b| b.join("initdb").is_file())
            .max()?;
        let dir = std::env::temp_dir().join(format!("insectid-faults-pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        if unsafe_is_root() {
            Command::new("chown").args(["postgres", &dir.display().to_string()]).status().unwrap();
        }
        let cluster = Cluster { port: common::free_port(), bin, dir };
        let data = cluster.dir.join("data").display().to_string();
        let out = cluster.pg("initdb", &["-D", &data, "-U", "postgres", "--auth=trust", "-E", "UTF8"]);
        assert!(out.status.success(), "initdb: {}", String::from_utf8_lossy(&out.stderr));
        cluster.ctl("start");
        Some(cluster)
    }

    fn ctl(&self, action: &str) {
        let data = self.dir.join("data").display().to_string();
        let log = self.dir.join("server.log").display().to_string();
        let opts = format!("-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off", self.port, self.dir.display());
        let out = self.pg("pg_ctl", &["-D", &data, "-l", &log, "-w", "-m", "fast", "-o", &opts, action]);
        assert!(out.status.success(), "pg_ctl {action}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.dir.join("data").display().to_string();
        let _ = self.pg("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn unsafe_is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

#[test]
fn a_postgres_restart_under_load_gives_clear_errors_then_recovers() {
    let Some(cluster) = Cluster::start() else {
        assert_eq!(
            std::env::var("INSECTID_TEST_SKIP_POSTGRES").as_deref(),
            Ok("1"),
            "PostgreSQL is not installed (scripts/setup.sh)"
        );
        return;
    };
    let url = format!("postgres://postgres@127.0.0.1:{}/postgres", cluster.port);
    let work = std::env::temp_dir().join(format!("insectid-faults-load-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let data = work.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let server = start(&url, &data, &work.join("server.log"), &[]);
    let port = server.port;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..4u32)
        .map(|n| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                let mut i = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let started = Instant::now();
                    let status = if n % 2 == 0 {
                        identify(port, &insectid::testing::coloured_photo(i % 3, 3000 + n * 1000 + i as u32))
                    } else {
                        http(port, "POST", "/api/portal_stats", None, "").0
                    };
                    seen.push((Instant::now(), status, started.elapsed()));
                    i += 1;
                }
                seen
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    let restart_began = Instant::now();
    cluster.ctl("stop");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(http(port, "GET", "/readyz", None, "").0, 503, "not ready without its database");
    cluster.ctl("start");
    let restarted = Instant::now();
    std::thread::sleep(Duration::from_secs(4));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let seen: Vec<_> = clients.into_iter().flat_map(|c| c.join().unwrap()).collect();
    let during: Vec<u16> =
        seen.iter().filter(|(at, ..)| *at > restart_began && *at < restarted).map(|(_, s, _)| *s).collect();
    assert!(during.iter().any(|s| *s >= 500), "the outage was noticed: {during:?}");
    assert!(during.iter().all(|s| *s == 200 || *s >= 500), "errors are clear server errors: {during:?}");
    let slowest = seen.iter().map(|(_, _, took)| *took).max().unwrap_or_default();
    assert!(slowest < Duration::from_secs(10), "no request hangs: the slowest took {slowest:?}");
    let after: Vec<u16> =
        seen.iter().filter(|(at, ..)| *at > restarted + Duration::from_secs(2)).map(|(_, s, _)| *s).collect();
    assert!(!after.is_empty() && after.iter().all(|s| *s == 200), "recovered once PostgreSQL was back: {after:?}");
    assert_eq!(http(port, "GET", "/readyz", None, "").0, 200);
    drop(server);
    let (_, report) = check(&url, &data, false);
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert!(report["rows_without_photo"].as_array().unwrap().is_empty(), "{report}");
    let _ = std::fs::remove_dir_all(&work);
}
