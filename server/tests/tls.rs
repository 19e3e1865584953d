//! HTTPS served by the server itself, with certificates this test makes (rcgen) and Debian's
//! curl as the client: HTTP/2 and HTTP/1.1, HSTS and Secure cookies, a renewed certificate
//! picked up without a restart (and a broken one refused while the old keeps serving), the
//! plain-HTTP listener that only redirects, and handshakes that stall or speak plain HTTP.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::certs::Certificates;
use common::TempDir;
use rcgen::KeyPair;

/// curl over HTTPS trusting the test CA: (stdout, stderr).
fn curl(dir: &Path, port: u16, args: &[&str]) -> (String, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--cacert"])
        .arg(dir.join("ca.pem"))
        .args(["--resolve", &format!("localhost:{port}:127.0.0.1")])
        .args(args)
        .output()
        .expect("curl (Debian's curl package)");
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// `HTTP-version status` of a GET.
fn version_and_status(dir: &Path, port: u16, path: &str, extra: &[&str]) -> String {
    let url = format!("https://localhost:{port}{path}");
    let mut args = vec!["-o", "/dev/null", "-w", "%{http_version} %{http_code}"];
    args.extend_from_slice(extra);
    args.push(&url);
    curl(dir, port, &args).0
}

/// The subject the server's certificate names, as curl reports it.
fn served_subject(dir: &Path, port: u16) -> String {
    let url = format!("https://localhost:{port}/healthz");
    let (_, said) = curl(dir, port, &["-v", "-o", "/dev/null", &url]);
    said.lines().find_map(|l| l.split_once("subject: ").map(|(_, s)| s.trim().to_string())).unwrap_or(said)
}

#[test]
fn the_server_speaks_https_itself_and_takes_renewed_certificates() {
    let dir = TempDir::new("insectid-tls");
    let (certs_dir, data) = (dir.path().join("certs"), dir.path().join("data"));
    std::fs::create_dir_all(&certs_dir).unwrap();
    let certs = Certificates::new(&certs_dir);
    certs.issue(&certs_dir, "first");
    let redirect_port = common::free_port();
    let (cert, key) = (certs_dir.join("cert.pem"), certs_dir.join("key.pem"));
    let redirect_bind = format!("127.0.0.1:{redirect_port}");
    let env = [
        ("INSECTID_TLS_CERT", cert.to_str().unwrap()),
        ("INSECTID_TLS_KEY", key.to_str().unwrap()),
        ("INSECTID_TLS_CHECK_SECONDS", "1"),
        ("INSECTID_HTTP_REDIRECT_BIND", redirect_bind.as_str()),
    ];
    let url = format!("sqlite://{}/insectid.db?mode=rwc", data.display());
    let log = dir.path().join("server.log");
    let instance = common::start_until(&url, &data, &log, &env, |port| {
        version_and_status(&certs_dir, port, "/readyz", &[]) == "2 200"
    });
    let port = instance.port;

    // HTTP/2 by ALPN, HTTP/1.1 when a client asks for it; HSTS on both.
    assert_eq!(version_and_status(&certs_dir, port, "/healthz", &["--http1.1"]), "1.1 200");
    let (head, _) = curl(&certs_dir, port, &["-D", "-", "-o", "/dev/null", &format!("https://localhost:{port}/")]);
    assert!(head.to_lowercase().contains("strict-transport-security: max-age=31536000"), "{head}");
    // Cookies are Secure without INSECTID_SECURE_COOKIES.
    let sign_in = format!("username=root&password={}", common::ADMIN_PASSWORD);
    let (head, _) = curl(
        &certs_dir,
        port,
        &["-D", "-", "-o", "/dev/null", "-d", &sign_in, &format!("https://localhost:{port}/api/sign_in")],
    );
    let cookies: Vec<&str> = head.lines().filter(|l| l.to_lowercase().starts_with("set-cookie:")).collect();
    assert!(!cookies.is_empty() && cookies.iter().all(|c| c.contains("Secure")), "{head}");
    // A browser's form over HTTP/2 carries Origin, and no Host header (the host is the URI's
    // authority there): the same origin passes, another is refused.
    let post_from = |origin: &str| {
        let url = format!("https://localhost:{port}/api/sign_in");
        let origin = format!("Origin: {origin}");
        let write = "%{http_version} %{http_code}";
        curl(&certs_dir, port, &["--http2", "-o", "/dev/null", "-w", write, "-H", &origin, "-d", &sign_in, &url]).0
    };
    let same = post_from(&format!("https://localhost:{port}"));
    assert!(same.starts_with("2 ") && !same.ends_with("403"), "{same}");
    assert_eq!(post_from("https://elsewhere.example"), "2 403");

    // A client that opens a connection and never finishes its handshake, and one that speaks
    // plain HTTP to the TLS port, hold up nobody.
    let stalled = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let plain = common::http(port, "GET", "/healthz", None, "");
    assert_ne!(plain.0, 200, "plain HTTP is not served on the TLS port");
    assert_eq!(version_and_status(&certs_dir, port, "/healthz", &[]), "2 200");
    drop(stalled);

    // A renewal is served within seconds, without a restart.
    assert!(served_subject(&certs_dir, port).contains("CN=first"));
    certs.issue(&certs_dir, "second");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !served_subject(&certs_dir, port).contains("CN=second") {
        assert!(Instant::now() < deadline, "the renewed certificate was not picked up; see {}", log.display());
        std::thread::sleep(Duration::from_millis(300));
    }
    // A broken renewal (a key that is not the certificate's) is refused; the last good pair serves on.
    std::fs::write(&key, KeyPair::generate().unwrap().serialize_pem()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(&log).unwrap().contains("were not loaded") {
        assert!(Instant::now() < deadline, "the broken renewal was not noticed; see {}", log.display());
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(served_subject(&certs_dir, port).contains("CN=second"));
    assert_eq!(version_and_status(&certs_dir, port, "/healthz", &[]), "2 200");

    // The plain-HTTP listener only redirects, to the same path over HTTPS.
    let answer = Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}"])
        .arg(format!("http://localhost:{redirect_port}/history?page=2"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&answer.stdout), format!("308 https://localhost:{port}/history?page=2"));
    drop(instance);
}
