use super::*;
use futures::channel::mpsc;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc as tmpsc;

/// An in-memory shell: echoes what it is sent, reports resizes, exits on "exit\n".
struct EchoPty {
    out: tmpsc::UnboundedSender<PtyEvent>,
    events: tmpsc::UnboundedReceiver<PtyEvent>,
    closed: Arc<Mutex<bool>>,
}

impl Pty for EchoPty {
    async fn send(&mut self, data: Vec<u8>) -> Result<(), String> {
        let event = if data == b"exit\n" { PtyEvent::Exited(Some(0)) } else { PtyEvent::Output(data) };
        self.out.send(event).map_err(|e| e.to_string())
    }
    async fn resize(&mut self, cols: u32, rows: u32) -> Result<(), String> {
        self.out.send(PtyEvent::Output(format!("{rows} {cols}").into_bytes())).map_err(|e| e.to_string())
    }
    async fn recv(&mut self) -> PtyEvent {
        self.events.recv().await.unwrap_or(PtyEvent::Exited(None))
    }
    async fn close(&mut self) {
        *self.closed.lock().unwrap() = true;
    }
}

fn echo() -> (EchoPty, Arc<Mutex<bool>>) {
    let (out, events) = tmpsc::unbounded_channel();
    let closed = Arc::new(Mutex::new(false));
    (EchoPty { out, events, closed: closed.clone() }, closed)
}

type Browser = (mpsc::UnboundedSender<Result<Frame, String>>, mpsc::UnboundedReceiver<Frame>);

fn run(pty: EchoPty, idle: Duration, max: usize) -> (Browser, tokio::task::JoinHandle<EndReason>) {
    let (to_bridge, from_browser) = mpsc::unbounded::<Result<Frame, String>>();
    let (to_browser, from_bridge) = mpsc::unbounded::<Frame>();
    let task = tokio::spawn(bridge(to_browser, from_browser, pty, idle, max));
    ((to_bridge, from_bridge), task)
}

fn text(frame: &Frame) -> String {
    match frame {
        Frame::Text(t) => t.clone(),
        Frame::Binary(b) => String::from_utf8_lossy(b).into_owned(),
        Frame::Close => "<close>".into(),
    }
}

#[tokio::test]
async fn keystrokes_resizes_and_pings_reach_their_side() {
    let (pty, closed) = echo();
    let ((input, mut output), task) = run(pty, Duration::from_secs(30), 1024);
    input.unbounded_send(Ok(Frame::Binary(b"ls\r".to_vec()))).unwrap();
    assert_eq!(output.next().await, Some(Frame::Binary(b"ls\r".to_vec())));
    input.unbounded_send(Ok(Frame::Text(r#"{"type":"resize","cols":120,"rows":40}"#.into()))).unwrap();
    assert_eq!(text(&output.next().await.unwrap()), "40 120");
    input.unbounded_send(Ok(Frame::Text(r#"{"type":"ping","t":12.5}"#.into()))).unwrap();
    assert_eq!(text(&output.next().await.unwrap()), r#"{"type":"pong","t":12.5}"#);
    input.unbounded_send(Ok(Frame::Text(r#"{"type":"input","data":"pwd\r"}"#.into()))).unwrap();
    assert_eq!(text(&output.next().await.unwrap()), "pwd\r");
    input.unbounded_send(Ok(Frame::Text("{not json".into()))).unwrap();
    assert!(
        text(&output.next().await.unwrap()).contains("message not understood"),
        "a bad message is answered, not fatal"
    );
    input.unbounded_send(Ok(Frame::Close)).unwrap();
    assert_eq!(task.await.unwrap(), EndReason::ClientClosed);
    assert!(text(&output.next().await.unwrap()).contains("closed by the browser"));
    assert!(*closed.lock().unwrap(), "the PTY is closed with the session");
}

#[tokio::test]
async fn sessions_end_on_idle_oversize_exit_and_a_vanished_browser() {
    let (pty, _) = echo();
    let ((_input, mut output), task) = run(pty, Duration::from_millis(150), 1024);
    assert_eq!(task.await.unwrap(), EndReason::Idle);
    assert!(text(&output.next().await.unwrap()).contains("idle timeout"));

    let (pty, _) = echo();
    let ((input, _output), task) = run(pty, Duration::from_secs(30), 8);
    input.unbounded_send(Ok(Frame::Binary(vec![b'x'; 9]))).unwrap();
    assert_eq!(task.await.unwrap(), EndReason::TooLarge);

    let (pty, _) = echo();
    let ((input, mut output), task) = run(pty, Duration::from_secs(30), 1024);
    input.unbounded_send(Ok(Frame::Binary(b"exit\n".to_vec()))).unwrap();
    assert_eq!(task.await.unwrap(), EndReason::Exited(Some(0)));
    assert!(text(&output.next().await.unwrap()).contains("the shell exited (0)"));

    let (pty, _) = echo();
    let ((input, output), task) = run(pty, Duration::from_secs(30), 1024);
    drop(input);
    drop(output);
    assert_eq!(task.await.unwrap(), EndReason::ClientClosed);
}

#[tokio::test]
async fn revoked_access_ends_the_session_and_says_why() {
    let (pty, closed) = echo();
    let (_to_bridge, from_browser) = mpsc::unbounded::<Result<Frame, String>>();
    let (to_browser, mut from_bridge) = mpsc::unbounded::<Frame>();
    let revoked = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        "signed out".to_string()
    };
    let reason = bridge_until(to_browser, from_browser, pty, Duration::from_secs(60), 1024, revoked).await;
    assert_eq!(reason, EndReason::Revoked("signed out".into()));
    assert!(*closed.lock().unwrap(), "the shell is closed");
    let told = from_bridge.next().await.unwrap();
    assert!(matches!(told, Frame::Text(t) if t.contains("access revoked: signed out")));
}
