//! The abuse suite: a real `insectid` process on loopback, attacked the way one person with
//! curl could, with the default limits. Each attack must get its clear refusal, the process
//! must stay up and keep answering a normal identification, and its peak memory must stay
//! bounded. Figures are printed (`cargo test --test abuse -- --nocapture`).

mod common;

use std::time::Instant;

use common::{http, http_bytes, http_with, photos_upload, start, Instance};

fn work_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("insectid-abuse-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The process's (peak, current) resident memory in MB, from /proc.
fn memory_mb(instance: &Instance) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{}/status", instance.child.id())).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0)
            / 1024
    };
    (field("VmHWM:"), field("VmRSS:"))
}

fn png(w: u32, h: u32, seed: u8) -> Vec<u8> {
    insectid::testing::png(w, h, |x, y| [(x as u8).wrapping_mul(seed), (y as u8).wrapping_add(seed), seed])
}

/// A solid-colour RGBA PNG: a few hundred kB that decode to w × h × 4 bytes. Written by hand
/// (one zlib stream of identical rows), as an attacker would.
fn solid_png(w: u32, h: u32) -> Vec<u8> {
    use std::io::Write;
    let chunk = |out: &mut Vec<u8>, kind: &[u8], data: &[u8]| {
        out.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
        let mut crc = crc32fast::Hasher::new();
        crc.update(kind);
        crc.update(data);
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        out.extend_from_slice(&crc.finalize().to_be_bytes());
    };
    let mut row = vec![0u8];
    row.extend(std::iter::repeat_n(0x7Fu8, (w * 4) as usize));
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    for _ in 0..h {
        z.write_all(&row).unwrap();
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut header = Vec::new();
    header.extend_from_slice(&w.to_be_bytes());
    header.extend_from_slice(&h.to_be_bytes());
    header.extend_from_slice(&[8, 6, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &header);
    chunk(&mut png, b"IDAT", &z.finish().unwrap());
    chunk(&mut png, b"IEND", b"");
    png
}

fn identify(port: u16, photos: &[Vec<u8>]) -> (u16, serde_json::Value, std::time::Duration) {
    let (content_type, body) = photos_upload(photos);
    let started = Instant::now();
    let (status, _, answer) = http_bytes(port, "POST", "/api/v1/identify", None, &content_type, &body);
    let json = serde_json::from_slice(&answer)
        .unwrap_or_else(|_| serde_json::json!({ "raw": String::from_utf8_lossy(&answer) }));
    (status, json, started.elapsed())
}

/// A normal identification still works: the server is up and serving.
fn still_serves(port: u16) {
    let (status, json, _) = identify(port, &[png(320, 240, 7)]);
    assert_eq!(status, 200, "a normal identification after the attacks: {json}");
}

#[test]
fn one_client_cannot_exhaust_the_portal() {
    let work = work_dir("main");
    let data = work.join("data");
    let url = format!("sqlite://{}", data.join("insectid.db").display());
    // The defaults, but for a disk reserve any test machine has room for.
    let limits = [("INSECTID_SIGN_INS_PER_MINUTE", "10"), ("INSECTID_UPLOADS_PER_MINUTE", "30")];
    let server = start(&url, &data, &work.join("server.log"), &[limits[0], limits[1], ("INSECTID_MIN_FREE_MB", "64")]);
    let port = server.port;
    still_serves(port);
    let (peak_at_start, _) = memory_mb(&server);
    eprintln!("peak RSS after start-up and one identification: {peak_at_start} MB");

    // 1. Multipart server functions without a boundary: 400, not a dropped connection.
    let (status, _, body) = http_bytes(port, "POST", "/api/identify_photos", None, "multipart/form-data", b"--x--");
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    // 2. A small field of 200 kB: refused while it arrives.
    let (ct, mut body) = photos_upload(&[]);
    body.splice(
        0..0,
        format!(
            "--insectidtestboundary\r\nContent-Disposition: form-data; name=\"top_k\"\r\n\r\n{}\r\n",
            "9".repeat(200_000)
        )
        .into_bytes(),
    );
    let (status, _, answer) = http_bytes(port, "POST", "/api/identify_photos", None, &ct, &body);
    assert_eq!(status, 413, "{}", String::from_utf8_lossy(&answer));
    // 3. A body over the route's limit is refused by its declared length, unread.
    let (status, _, _) =
        http_with(port, "POST", "/api/sign_in", &[], "application/x-www-form-urlencoded", &vec![b'a'; 2 * 1024 * 1024]);
    assert_eq!(status, 413);

    // 4. Small files that decode huge: sixteen solid 8000×8000 PNGs (~4 MB sent, 4 GB decoded).
    let bomb = solid_png(8000, 8000);
    eprintln!("a solid 8000×8000 PNG: {} kB", bomb.len() / 1024);
    let started = Instant::now();
    let (status, json, _) = identify(port, &vec![bomb.clone(); 16]);
    assert_eq!(status, 400, "{json}");
    assert!(json["error"].as_str().unwrap_or_default().contains("megapixels"), "{json}");
    let (peak, rss) = memory_mb(&server);
    eprintln!(
        "16 × 8000×8000 PNG ({} kB each): {status} in {:.2?}, peak RSS {peak} MB (+{}), RSS now {rss} MB",
        bomb.len() / 1024,
        started.elapsed(),
        peak - peak_at_start
    );
    assert!(peak - peak_at_start < 512, "peak RSS grew by {} MB", peak - peak_at_start);
    // Under the per-photo limit but over the request's pixel budget: refused before decoding.
    let big = solid_png(7000, 7000);
    let started = Instant::now();
    let (status, json, _) = identify(port, &vec![big.clone(); 16]);
    assert_eq!(status, 413, "{json}");
    let (peak, _) = memory_mb(&server);
    eprintln!(
        "16 × 7000×7000 PNG: {status} in {:.2?}, peak RSS {peak} MB (+{})",
        started.elapsed(),
        peak - peak_at_start
    );
    // Within every budget: four 7000×7000 PNGs are decoded (one at a time) and answered.
    let started = Instant::now();
    let (status, json, _) = identify(port, &vec![big; 4]);
    assert_eq!(status, 200, "{json}");
    let (peak, _) = memory_mb(&server);
    eprintln!(
        "4 × 7000×7000 PNG (196 MP decoded): {status} in {:.2?}, peak RSS {peak} MB (+{})",
        started.elapsed(),
        peak - peak_at_start
    );
    assert!(peak - peak_at_start < 512, "peak RSS grew by {} MB", peak - peak_at_start);

    // 5. Heat maps: drawn one at a time (others answered 503 at once), then served from the store.
    let mut results = Vec::new();
    for seed in 1..=6u8 {
        let (status, json, _) = identify(port, &[png(400, 300, seed * 37)]);
        assert_eq!(status, 200, "{json}");
        let r = &json["results"][0];
        results.push((r["id"].as_i64().unwrap(), r["image_sha256"].as_str().unwrap().to_string()));
    }
    let answers: Vec<(u16, String)> = std::thread::scope(|s| {
        let asks: Vec<_> = results
            .iter()
            .map(|(id, sha)| {
                s.spawn(move || http(port, "GET", &format!("/results/{id}/heatmap.png?key={sha}"), None, ""))
            })
            .collect();
        asks.into_iter().map(|a| a.join().unwrap()).map(|(status, head, _)| (status, head)).collect()
    });
    let busy = answers.iter().filter(|(s, _)| *s == 503).count();
    assert!(answers.iter().all(|(s, _)| *s == 200 || *s == 503), "{answers:?}");
    assert!(answers.iter().filter(|(s, _)| *s == 503).all(|(_, h)| h.to_ascii_lowercase().contains("retry-after")));
    eprintln!("6 heat maps asked at once: {} drawn, {busy} answered 503 busy", answers.len() - busy);
    assert!(busy >= 1, "heat maps are drawn one at a time: {answers:?}");
    let (id, sha) = &results[0];
    let heatmap = format!("/results/{id}/heatmap.png?key={sha}");
    assert_eq!(http_bytes(port, "GET", &heatmap, None, "", b"").0, 200);
    let kept = data.join("photos").join("heatmaps").join(sha);
    assert_eq!(
        std::fs::read_dir(&kept).map(|d| d.count()).unwrap_or(0),
        1,
        "kept in the file store: {}",
        kept.display()
    );
    let started = Instant::now();
    assert_eq!(http_bytes(port, "GET", &heatmap, None, "", b"").0, 200);
    eprintln!("a kept heat map served in {:.2?}", started.elapsed());

    // 6. A photo's place never leaves with it.
    let (status, json, _) = identify(port, &[insectid::testing::jpeg_with_place()]);
    assert_eq!(status, 200, "{json}");
    let sha = json["results"][0]["image_sha256"].as_str().unwrap().to_string();
    let (status, _, served) = http_bytes(port, "GET", &format!("/photos/{sha}"), None, "", b"");
    assert_eq!(status, 200);
    assert!(
        !served.windows(2).any(|w| w == [0x88, 0x25]) && !served.windows(8).any(|w| w == [0, 0, 0, 48, 0, 0, 0, 1]),
        "no GPS in the served photo"
    );

    // 7. /metrics: methods from a fixed set, whatever token a client sends.
    for method in ["A1", "A2", "BREW"] {
        http_bytes(port, method, "/healthz", None, "", b"");
    }
    let (_, _, metrics) = http(port, "GET", "/metrics", None, "");
    assert!(
        !metrics.contains("method=\"A1\"")
            && !metrics.contains("method=\"BREW\"")
            && metrics.contains("method=\"other\"")
    );

    // 8. A repair without a grace period beside the running portal is refused.
    let repair = std::process::Command::new(env!("CARGO_BIN_EXE_insectid"))
        .args(["--data-dir", &data.display().to_string(), "check", "--repair", "--grace-minutes", "0"])
        .env("INSECTID_DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(!repair.status.success());
    assert!(
        String::from_utf8_lossy(&repair.stderr).contains("a portal is running"),
        "{}",
        String::from_utf8_lossy(&repair.stderr)
    );

    still_serves(port);

    // 9. argon2 flood: forty sign-ups at once from one address (forged X-Forwarded-For
    // headers do not help: no proxy is trusted). The address's limit answers 429 with
    // Retry-After; at most 2 × cores hashes run at once.
    let started = Instant::now();
    let statuses: Vec<(u16, String)> = std::thread::scope(|s| {
        let asks: Vec<_> = (0..40)
            .map(|i| {
                s.spawn(move || {
                    let form = format!("username=flood{i}&display_name=&email=&password=violet-moth-harvest-{i}&password_again=violet-moth-harvest-{i}");
                    let forged = format!("198.51.100.{i}");
                    let (status, head, _) = http_with(port, "POST", "/api/sign_up", &[("X-Forwarded-For", &forged)], "application/x-www-form-urlencoded", form.as_bytes());
                    (status, head)
                })
            })
            .collect();
        asks.into_iter().map(|a| a.join().unwrap()).collect()
    });
    let limited = statuses.iter().filter(|(s, _)| *s == 429).count();
    let (peak, _) = memory_mb(&server);
    eprintln!("40 sign-ups at once: {limited} answered 429 in {:.2?}, peak RSS {peak} MB", started.elapsed());
    assert!(statuses.iter().all(|(s, _)| *s != 0 && *s < 500), "{statuses:?}");
    assert!(limited >= 30, "the address may sign up 10 times a minute: {limited} refused");
    assert!(statuses.iter().filter(|(s, _)| *s == 429).all(|(_, h)| h.to_ascii_lowercase().contains("retry-after")));

    // 10. Upload flood from one address: 429 once its 30 a minute are spent.
    let mut refused = 0;
    for _ in 0..40 {
        let (status, _, _) =
            http_bytes(port, "POST", "/api/v1/identify", None, "multipart/form-data; boundary=x", b"--x--\r\n");
        refused += usize::from(status == 429);
    }
    eprintln!("40 more uploads at once: {refused} answered 429");
    assert!(refused >= 10, "{refused}");

    let (peak, rss) = memory_mb(&server);
    eprintln!("after every attack: peak RSS {peak} MB (+{} over start-up), RSS {rss} MB", peak - peak_at_start);
    assert_eq!(http(port, "GET", "/healthz", None, "").0, 200, "still up");
    drop(server);
    let _ = std::fs::remove_dir_all(&work);
}

#[test]
fn a_full_disk_refuses_uploads_and_the_rest_keeps_working() {
    let work = work_dir("disk");
    let data = work.join("data");
    let url = format!("sqlite://{}", data.join("insectid.db").display());
    // A reserve larger than any disk: every upload meets a "full" disk.
    let server = start(&url, &data, &work.join("server.log"), &[("INSECTID_MIN_FREE_MB", "1000000000")]);
    let (status, json, _) = identify(server.port, &[png(64, 48, 3)]);
    assert_eq!(status, 507, "{json}");
    assert!(json["error"].as_str().unwrap_or_default().contains("nearly full"), "{json}");
    let (content_type, body) = photos_upload(&[png(64, 48, 3)]);
    let (status, _, _) = http_bytes(server.port, "POST", "/api/identify_photos", None, &content_type, &body);
    assert_eq!(status, 507);
    assert_eq!(http(server.port, "GET", "/species/ip102-11", None, "").0, 200, "the rest of the portal works");
    assert_eq!(http(server.port, "GET", "/api/v1/model", None, "").0, 200);
    drop(server);
    let _ = std::fs::remove_dir_all(&work);
}
