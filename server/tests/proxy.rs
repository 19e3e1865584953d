//! The portal behind Debian's nginx, configured by deploy/nginx.conf.example itself (only its
//! ports, certificate paths and upstream changed): pages over HTTP/2 with HSTS and Secure
//! cookies (X-Forwarded-Proto believed from the trusted proxy), photo uploads, the per-address
//! limit keyed by the client nginx names (X-Forwarded-For), the redirect from plain HTTP and
//! the web terminal's websocket upgrade.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::certs::Certificates;
use common::TempDir;

const NGINX: &str = "/usr/sbin/nginx";

struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The example configuration with this test's ports, certificate and portal.
fn site_config(dir: &Path, http: u16, https: u16, portal: u16) -> String {
    let example = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/nginx.conf.example"))
        .expect("deploy/nginx.conf.example");
    let replaced = [
        ("listen 80;", format!("listen 127.0.0.1:{http};")),
        ("listen 443 ssl http2;", format!("listen 127.0.0.1:{https} ssl http2;")),
        ("/etc/letsencrypt/live/insects.example.org/fullchain.pem", dir.join("cert.pem").display().to_string()),
        ("/etc/letsencrypt/live/insects.example.org/privkey.pem", dir.join("key.pem").display().to_string()),
        ("http://127.0.0.1:3000", format!("http://127.0.0.1:{portal}")),
    ];
    let mut config = example;
    for (from, to) in replaced {
        assert!(config.contains(from), "the example no longer has {from:?}");
        config = config.replace(from, &to);
    }
    config
}

fn start_nginx(dir: &Path, site: &str) -> Nginx {
    std::fs::write(dir.join("site.conf"), site).unwrap();
    let d = dir.display();
    // One process (no workers to leave behind when the test kills it); its errors go to the log.
    let main = format!(
        "daemon off;\nmaster_process off;\nuser root;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{}}\nhttp {{\n  access_log off;\n  \
         client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  \
         uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  include {d}/site.conf;\n}}\n"
    );
    std::fs::write(dir.join("nginx.conf"), main).unwrap();
    let child = Command::new(NGINX)
        .args(["-e", &format!("{d}/error.log"), "-p", &d.to_string(), "-c"])
        .arg(dir.join("nginx.conf"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nginx (Debian's nginx package; scripts/setup.sh installs it)");
    Nginx(child)
}

/// curl through the proxy, trusting the test CA: (stdout, stderr).
fn curl(dir: &Path, https: u16, args: &[&str]) -> String {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "20", "--cacert"])
        .arg(dir.join("ca.pem"))
        .args(["--resolve", &format!("localhost:{https}:127.0.0.1")])
        .args(args)
        .output()
        .expect("curl");
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

#[test]
fn the_portal_works_behind_the_example_nginx() {
    let dir = TempDir::new("insectid-proxy");
    let (proxy_dir, data) = (dir.path().join("nginx"), dir.path().join("data"));
    std::fs::create_dir_all(&proxy_dir).unwrap();
    let certs = Certificates::new(&proxy_dir);
    certs.issue(&proxy_dir, "proxy");
    let presets = dir.path().join("presets.json");
    std::fs::write(
        &presets,
        r#"[{"name": "box", "host": "127.0.0.1", "port": 1, "user": "nobody", "auth": {"kind": "password"}}]"#,
    )
    .unwrap();
    let env = [
        ("INSECTID_TRUSTED_PROXIES", "127.0.0.1"),
        ("INSECTID_SIGN_INS_PER_MINUTE", "2"),
        ("INSECTID_SSH_PRESETS", presets.to_str().unwrap()),
    ];
    let url = format!("sqlite://{}/insectid.db?mode=rwc", data.display());
    let portal = common::start(&url, &data, &dir.path().join("server.log"), &env);
    let (http, https) = (common::free_port(), common::free_port());
    let _nginx = start_nginx(&proxy_dir, &site_config(&proxy_dir, http, https, portal.port));
    let base = format!("https://localhost:{https}");
    let status = |path: &str| {
        curl(&proxy_dir, https, &["-o", "/dev/null", "-w", "%{http_version} %{http_code}", &format!("{base}{path}")])
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while status("/healthz") != "2 200" {
        let log = std::fs::read_to_string(proxy_dir.join("error.log")).unwrap_or_default();
        assert!(Instant::now() < deadline, "nginx did not serve: {}\n{log}", status("/healthz"));
        std::thread::sleep(Duration::from_millis(200));
    }

    // A page, over HTTP/2, told to stay on HTTPS (the proxy said the client used it).
    let head = curl(&proxy_dir, https, &["-D", "-", "-o", "/dev/null", &format!("{base}/species")]);
    assert!(head.starts_with("HTTP/2 200"), "{head}");
    assert!(head.to_lowercase().contains("strict-transport-security: max-age=31536000"), "{head}");

    // Signing in: a Secure cookie. Sign-ins count per client, and the client is the one nginx names.
    let sign_in = |password: &str, client: &str| {
        let form = format!("username=root&password={password}");
        curl(
            &proxy_dir,
            https,
            &[
                "-D",
                "-",
                "-o",
                "/dev/null",
                "-H",
                &format!("X-Forwarded-For: {client}"),
                "-d",
                &form,
                &format!("{base}/api/sign_in"),
            ],
        )
    };
    let signed_in = sign_in(common::ADMIN_PASSWORD, "203.0.113.1");
    let cookie = signed_in
        .lines()
        .find(|l| l.to_lowercase().starts_with("set-cookie: insectid_session="))
        .unwrap_or_else(|| panic!("{signed_in}"));
    assert!(cookie.contains("Secure"), "{cookie}");
    let session = cookie.split_once(": ").unwrap().1.split(';').next().unwrap().to_string();
    for _ in 0..2 {
        assert!(!sign_in("wrong-password-1", "203.0.113.7").contains(" 429"));
    }
    assert!(sign_in("wrong-password-1", "203.0.113.7").contains("HTTP/2 429"), "the third from that client");
    assert!(!sign_in("wrong-password-1", "203.0.113.8").contains(" 429"), "another client is not held up");

    // A photo upload through the proxy.
    let photo = dir.path().join("photo.png");
    std::fs::write(&photo, common::router::png()).unwrap();
    let answer =
        curl(&proxy_dir, https, &["-F", &format!("image=@{}", photo.display()), &format!("{base}/api/v1/identify")]);
    let json: serde_json::Value = serde_json::from_str(&answer).unwrap_or_else(|e| panic!("{e}: {answer}"));
    assert!(json["results"][0]["answer"]["top"].as_array().is_some_and(|t| !t.is_empty()), "{json}");

    // Plain HTTP is redirected to HTTPS.
    let redirect = Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}"])
        .arg(format!("http://localhost:{http}/history"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&redirect.stdout), "308 https://localhost/history");

    // The web terminal's websocket upgrade passes through.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let reply = runtime.block_on(websocket_upgrade(&proxy_dir, https, &session));
    assert!(reply.starts_with("HTTP/1.1 101"), "{reply}");
}

/// Sends a websocket upgrade for the terminal over TLS (HTTP/1.1) and returns the answer's head.
async fn websocket_upgrade(dir: &Path, port: u16, session: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut roots = rustls::RootCertStore::empty();
    let ca = std::fs::read(dir.join("ca.pem")).unwrap();
    for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(&ca) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    let request = format!(
        "GET /terminal/ws?preset=box HTTP/1.1\r\nHost: localhost:{port}\r\nOrigin: https://localhost:{port}\r\n\
         Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nCookie: {session}\r\n\r\n"
    );
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut head = vec![0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(20), tls.read(&mut head)).await.expect("an answer").unwrap();
    String::from_utf8_lossy(&head[..n]).into_owned()
}
