//! Running real `insectid` processes in tests: start one (waiting until it is ready) and talk
//! HTTP/1.1 to it without a client library.
#![allow(dead_code)] // each test binary uses its own part

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const ADMIN_PASSWORD: &str = "two-instances-pass-8812";

pub struct Instance {
    pub child: Child,
    pub port: u16,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn start(url: &str, data: &Path, log: &Path, env: &[(&str, &str)]) -> Instance {
    start_until(url, data, log, env, |port| http(port, "GET", "/readyz", None, "").0 == 200)
}

/// Starts an instance and waits (60 s at most) until `ready(port)` says it serves.
pub fn start_until(url: &str, data: &Path, log: &Path, env: &[(&str, &str)], ready: impl Fn(u16) -> bool) -> Instance {
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
        // Every client of a test comes from 127.0.0.1: the per-address limits are off unless a
        // test (the abuse suite) sets them.
        .env("INSECTID_SIGN_INS_PER_MINUTE", "0")
        .env("INSECTID_UPLOADS_PER_MINUTE", "0")
        .envs(env.iter().copied())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .stdin(Stdio::null())
        .spawn()
        .expect("start insectid");
    let instance = Instance { child, port };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready(port) {
        assert!(Instant::now() < deadline, "instance on {port} did not become ready; see {}", log.display());
        std::thread::sleep(Duration::from_millis(200));
    }
    instance
}

/// One HTTP/1.1 request (closing the connection): status, headers, body.
pub fn http(port: u16, method: &str, path: &str, cookie: Option<&str>, form: &str) -> (u16, String, String) {
    let (status, head, body) =
        http_bytes(port, method, path, cookie, "application/x-www-form-urlencoded", form.as_bytes());
    (status, head, String::from_utf8_lossy(&body).into_owned())
}

/// As [`http`], with any body and content type, and the answer's body as bytes.
pub fn http_bytes(
    port: u16,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    content_type: &str,
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    let cookie = cookie.map(|c| [("Cookie", c)]);
    http_with(port, method, path, cookie.as_ref().map_or(&[][..], |c| &c[..]), content_type, body)
}

/// A multipart body with one photo in the field "image", and its content type.
pub fn photo_upload(filename: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "insectidtestboundary";
    let mut body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"{filename}\"\r\nContent-Type: image/png\r\n\r\n").into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

pub fn session_cookie(head: &str) -> String {
    head.lines()
        .filter_map(|l| l.strip_prefix("set-cookie: ").or_else(|| l.strip_prefix("Set-Cookie: ")))
        .map(|c| c.split(';').next().unwrap_or_default().to_string())
        .find(|c| c.starts_with("insectid_session="))
        .expect("a session cookie")
}

/// As [`http_bytes`], with extra request headers (e.g. X-Forwarded-For).
pub fn http_with(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    content_type: &str,
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return (0, String::new(), Vec::new());
    };
    let extra: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: http://127.0.0.1:{port}\r\n{extra}Content-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    // A server may answer (413, 429) before the whole body is sent and close: read its
    // answer even when the rest of the body could not be written.
    let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body));
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(raw.len());
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let body = raw.get(split + 4..).unwrap_or_default().to_vec();
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, head, body)
}

/// A multipart body with every photo in a field "image", and its content type.
pub fn photos_upload(photos: &[Vec<u8>]) -> (String, Vec<u8>) {
    photos_upload_with(&[], photos)
}

/// As [`photos_upload`], with text fields (e.g. `top_k`) before the photos.
pub fn photos_upload_with(fields: &[(&str, &str)], photos: &[Vec<u8>]) -> (String, Vec<u8>) {
    let boundary = "insectidtestboundary";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    for (i, bytes) in photos.iter().enumerate() {
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"photo-{i}.png\"\r\nContent-Type: image/png\r\n\r\n").as_bytes());
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

pub mod certs;
pub mod router;

#[allow(unused_imports)] // each test binary uses its own part
pub use insectid::testing::TempDir;
