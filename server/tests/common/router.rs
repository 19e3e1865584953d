//! The real router driven in-process with `oneshot` (axum's `examples/testing`), with real
//! sessions: what the tests that need no server process share.

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// An answer: status, headers and body text.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Answer {
    /// The session cookie it set (signing in also sets the interface-language cookie).
    pub fn session_cookie(&self) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or_default().to_string())
            .find(|c| !c.starts_with(app::i18n::LANG_COOKIE))
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
}

pub struct Client {
    pub app: axum::Router,
}

impl Client {
    /// One request, as a script or the hydrated page sends it (`Accept: application/json`).
    pub async fn send(
        &self,
        method: &str,
        uri: &str,
        cookie: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> Answer {
        let mut request = Request::builder().method(method).uri(uri).header(header::ACCEPT, "application/json");
        if !content_type.is_empty() {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        if let Some(c) = cookie {
            request = request.header(header::COOKIE, c);
        }
        self.run(request.body(Body::from(body)).unwrap()).await
    }

    /// One request with a personal API token (`Authorization: Bearer ...`) and no cookie.
    pub async fn bearer(&self, method: &str, uri: &str, token: &str, content_type: &str, body: Vec<u8>) -> Answer {
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::ACCEPT, "application/json")
            .header(header::AUTHORIZATION, format!("Bearer {token}"));
        if !content_type.is_empty() {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        self.run(request.body(Body::from(body)).unwrap()).await
    }

    /// A request without an answer in 30 s fails the test with its path instead of hanging.
    async fn run(&self, request: Request<Body>) -> Answer {
        let what = format!("{} {}", request.method(), request.uri());
        let response = self.app.clone().oneshot(request);
        let answer = async {
            let response = response.await.unwrap();
            let (status, headers) = (response.status(), response.headers().clone());
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            Answer { status, headers, text: String::from_utf8_lossy(&bytes).into_owned() }
        };
        match tokio::time::timeout(std::time::Duration::from_secs(30), answer).await {
            Ok(answer) => answer,
            Err(_) => panic!("{what} got no answer within 30 s"),
        }
    }

    /// A form post (a server function's arguments).
    pub async fn form(&self, uri: &str, cookie: Option<&str>, body: &str) -> Answer {
        self.send("POST", uri, cookie, "application/x-www-form-urlencoded", body.as_bytes().to_vec()).await
    }

    /// Signs in and returns the session cookie.
    pub async fn sign_in(&self, name: &str, password: &str) -> String {
        let answer = self.form("/api/sign_in", None, &format!("username={name}&password={password}")).await;
        assert!(
            answer.status.is_success() || answer.status.is_redirection(),
            "sign in {name}: {} {}",
            answer.status,
            answer.text
        );
        answer.session_cookie().expect("a session cookie")
    }

    /// Signs up (open registration) and returns nothing: sign in afterwards.
    pub async fn sign_up(&self, name: &str, password: &str) {
        let body = format!("username={name}&display_name=&email=&password={password}&password_again={password}");
        let answer = self.form("/api/sign_up", None, &body).await;
        assert!(
            answer.status.is_success() || answer.status.is_redirection(),
            "{name}: {} {}",
            answer.status,
            answer.text
        );
    }
}

/// A small generated photo.
pub fn png() -> Vec<u8> {
    insectid::testing::png(64, 48, |x, y| [x as u8, y as u8, 90])
}

/// A multipart body with one file in the field `image`: (content type, body).
pub fn multipart_file(filename: &str, content_type: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let mut body = format!(
        "--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n"
    )
    .into_bytes();
    body.extend(bytes);
    body.extend(b"\r\n--b--\r\n");
    ("multipart/form-data; boundary=b".into(), body)
}

/// A photo with text fields beside it (date, place), as a field app sends one.
pub fn multipart_with_fields(fields: &[(&str, String)], photo: &[u8]) -> (String, Vec<u8>) {
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend(format!("--b\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes());
    }
    body.extend(
        b"--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n",
    );
    body.extend(photo);
    body.extend(b"\r\n--b--\r\n");
    ("multipart/form-data; boundary=b".into(), body)
}
