//! The terminal's SSH side against a real OpenSSH server that `make test` starts on a loopback
//! port (scripts/sshd.sh), with a throw-away user, key and password.

use std::time::Duration;

use insectid::terminal::{connect, HostKeyCheck, Preset, PresetAuth, Pty, PtyEvent, TerminalError};

struct Server {
    port: u16,
    user: String,
    password: String,
    key: String,
    fingerprint: String,
}

fn server() -> Server {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!("{name} is not set: run the suite with `make test`, which starts a throw-away sshd")
        })
    };
    Server {
        port: var("INSECTID_TEST_SSH_PORT").parse().unwrap(),
        user: var("INSECTID_TEST_SSH_USER"),
        password: var("INSECTID_TEST_SSH_PASSWORD"),
        key: var("INSECTID_TEST_SSH_KEY"),
        fingerprint: var("INSECTID_TEST_SSH_FINGERPRINT"),
    }
}

fn preset(s: &Server, auth: PresetAuth) -> Preset {
    Preset {
        name: "test-host".into(),
        host: "127.0.0.1".into(),
        port: s.port,
        user: s.user.clone(),
        auth,
        fingerprint: None,
    }
}

/// Reads output until `marker` shows, returning everything read.
async fn read_until(shell: &mut impl Pty, marker: &str) -> String {
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !seen.contains(marker) {
        match tokio::time::timeout_at(deadline, shell.recv()).await {
            Ok(PtyEvent::Output(bytes)) => seen.push_str(&String::from_utf8_lossy(&bytes)),
            Ok(PtyEvent::Exited(s)) => panic!("the shell ended ({s:?}) before {marker:?}: {seen}"),
            Err(_) => panic!("no {marker:?} within 15 s: {seen}"),
        }
    }
    seen
}

#[tokio::test]
async fn a_key_login_runs_commands_on_a_pty_that_follows_resizes() {
    let s = server();
    let p = preset(&s, PresetAuth::Key { path: s.key.clone().into() });
    // The first connection names the unknown key instead of trusting it.
    let unknown = connect(&p, HostKeyCheck::Unpinned { confirmed: None }, None, 80, 24).await.err().expect("refused");
    assert_eq!(
        unknown,
        TerminalError::UnknownHostKey { preset: "test-host".into(), fingerprint: s.fingerprint.clone() }
    );
    let mut shell =
        connect(&p, HostKeyCheck::Unpinned { confirmed: Some(s.fingerprint.clone()) }, None, 80, 24).await.unwrap();
    assert_eq!(shell.fingerprint, s.fingerprint);
    shell.send(b"stty size; echo marker-$((6*7))\n".to_vec()).await.unwrap();
    let out = read_until(&mut shell, "marker-42").await;
    assert!(out.contains("24 80"), "the PTY has the browser's size: {out}");
    shell.resize(132, 40).await.unwrap();
    shell.send(b"stty size; echo resized-$((7*7))\n".to_vec()).await.unwrap();
    let out = read_until(&mut shell, "resized-49").await;
    assert!(out.contains("40 132"), "{out}");
    shell.send(b"exit\n".to_vec()).await.unwrap();
    let mut ended = false;
    for _ in 0..50 {
        if let Ok(PtyEvent::Exited(_)) = tokio::time::timeout(Duration::from_secs(5), shell.recv()).await {
            ended = true;
            break;
        }
    }
    assert!(ended, "exit ends the session");
}

#[tokio::test]
async fn passwords_pins_and_unreachable_hosts() {
    let s = server();
    let pinned = HostKeyCheck::Pinned(s.fingerprint.clone());
    let p = preset(&s, PresetAuth::Password);
    assert_eq!(connect(&p, pinned.clone(), None, 80, 24).await.err(), Some(TerminalError::PasswordNeeded));
    assert!(matches!(
        connect(&p, pinned.clone(), Some("not-the-password"), 80, 24).await.err(),
        Some(TerminalError::AuthFailed(_))
    ));
    let mut shell = connect(&p, pinned.clone(), Some(&s.password), 80, 24).await.unwrap();
    shell.send(b"echo who-$(whoami)\n".to_vec()).await.unwrap();
    read_until(&mut shell, &format!("who-{}", s.user)).await;
    shell.close().await;

    let wrong = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_string();
    let changed =
        connect(&p, HostKeyCheck::Pinned(wrong.clone()), Some(&s.password), 80, 24).await.err().expect("refused");
    assert_eq!(
        changed,
        TerminalError::HostKeyChanged { preset: "test-host".into(), expected: wrong, presented: s.fingerprint.clone() }
    );
    assert!(changed.to_string().starts_with("HOST KEY CHANGED"));

    let mut closed = p.clone();
    closed.port = 1;
    assert!(matches!(connect(&closed, pinned, Some("x"), 80, 24).await.err(), Some(TerminalError::Unreachable(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pinned_key_is_kept_until_removed_on_purpose() {
    use insectid::terminal::host_keys;
    for t in insectid::testing::test_databases().await {
        let db = &t.db;
        let p = Preset {
            name: "box".into(),
            host: "h".into(),
            port: 22,
            user: "u".into(),
            auth: PresetAuth::Password,
            fingerprint: None,
        };
        let confirmed = Some("SHA256:first".to_string());
        assert_eq!(
            host_keys::check_for(db, &p, confirmed.clone()).await.unwrap(),
            HostKeyCheck::Unpinned { confirmed }
        );
        host_keys::pin(db, "box", "SHA256:first", "admin").await.unwrap();
        host_keys::pin(db, "box", "SHA256:second", "mallory").await.unwrap();
        assert_eq!(
            host_keys::check_for(db, &p, Some("SHA256:second".into())).await.unwrap(),
            HostKeyCheck::Pinned("SHA256:first".into()),
            "a pin is never replaced silently"
        );
        let fixed = Preset { fingerprint: Some("SHA256:configured".into()), ..p.clone() };
        assert_eq!(
            host_keys::check_for(db, &fixed, None).await.unwrap(),
            HostKeyCheck::Pinned("SHA256:configured".into()),
            "the configuration wins"
        );
        assert!(host_keys::unpin(db, "box").await.unwrap());
        assert_eq!(host_keys::pinned(db, "box").await.unwrap(), None);
        t.close().await;
    }
}

#[test]
fn presets_are_validated() {
    use insectid::terminal::Presets;
    let p = |name: &str, fp: Option<&str>| Preset {
        name: name.into(),
        host: "h".into(),
        port: 22,
        user: "u".into(),
        auth: PresetAuth::Password,
        fingerprint: fp.map(String::from),
    };
    assert!(Presets::new(vec![p("a", None), p("b", Some("SHA256:x"))]).is_ok());
    assert!(Presets::new(vec![p("a", None), p("a", None)]).unwrap_err().contains("twice"));
    assert!(Presets::new(vec![p("bad name", None)]).is_err());
    assert!(Presets::new(vec![p("a", Some("md5:00"))]).unwrap_err().contains("SHA256"));
    let presets = Presets::new(vec![p("a", None)]).unwrap();
    assert_eq!(
        presets.get("elsewhere.example:22").unwrap_err(),
        TerminalError::UnknownPreset("elsewhere.example:22".into())
    );
}
