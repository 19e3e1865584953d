//! A real SMTP server for the mail tests: aiosmtpd (PyPI) keeping what it receives in a
//! maildir, read back through Python's own e-mail parser (not lettre's).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::TempDir;

/// A message as the relay received it, headers decoded.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Received {
    pub from: String,
    pub to: String,
    pub subject: String,
    pub body: String,
    /// Empty when the message has none.
    pub list_unsubscribe: String,
}

impl Received {
    /// The 64-hex-digit secret after `token=` in the body (a mailed link's).
    pub fn token(&self) -> Option<String> {
        let at = self.body.find("token=")? + "token=".len();
        let token: String = self.body[at..].chars().take_while(|c| c.is_ascii_hexdigit()).collect();
        (token.len() == 64).then_some(token)
    }
}

pub struct SmtpRelay {
    child: Child,
    python: PathBuf,
    dir: TempDir,
    pub port: u16,
}

/// A port nothing listens on (for a relay that is down).
pub fn unused_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl SmtpRelay {
    /// Starts one, or None (with a note) when `INSECTID_TEST_TOOLS_PYTHON` does not name the
    /// Python that has aiosmtpd (`scripts/setup.sh test-tools`; `make test` sets it).
    pub fn start() -> Option<SmtpRelay> {
        let Some(python) = super::test_tools_python() else {
            eprintln!("INSECTID_TEST_TOOLS_PYTHON unset: the mail relay test is not run (make test runs it)");
            return None;
        };
        let dir = TempDir::new("insectid-smtp");
        let port = unused_port();
        let child = Command::new(&python)
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(dir.path().join("maildir"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("starting aiosmtpd with {}: {e}", python.display()));
        let relay = SmtpRelay { child, python, dir, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "aiosmtpd did not listen on {port} in 20 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(relay)
    }

    /// The URL the portal is configured with.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far, oldest first.
    pub fn received(&self) -> Vec<Received> {
        const READ: &str = r#"
import email, email.policy, email.utils, json, mailbox, sys
box = mailbox.Maildir(sys.argv[1], create=True)
out = []
for key in box.keys():
    m = email.message_from_bytes(box.get_bytes(key), policy=email.policy.default)
    out.append({"from": str(m["from"]), "to": str(m["to"]), "subject": str(m["subject"]),
                "body": m.get_body(("plain",)).get_content(), "date": str(m["date"]),
                "list_unsubscribe": str(m["List-Unsubscribe"] or "")})
out.sort(key=lambda m: email.utils.parsedate_to_datetime(m["date"]))
print(json.dumps(out))
"#;
        let output = Command::new(&self.python)
            .args(["-c", READ])
            .arg(self.dir.path().join("maildir"))
            .output()
            .expect("reading the maildir");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice(&output.stdout).expect("the maildir as JSON")
    }

    /// Waits until at least `n` messages arrived (the relay writes them after replying).
    pub fn wait_for(&self, n: usize, within: Duration) -> Vec<Received> {
        self.wait_for_matching(n, within, |_| true)
    }

    /// Waits until at least `n` of the messages `keep` picks arrived; returns those.
    pub fn wait_for_matching(&self, n: usize, within: Duration, keep: impl Fn(&Received) -> bool) -> Vec<Received> {
        let deadline = Instant::now() + within;
        loop {
            let got: Vec<Received> = self.received().into_iter().filter(&keep).collect();
            if got.len() >= n || Instant::now() >= deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for SmtpRelay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
