//! Moving bytes between a browser's websocket and a PTY. Keystrokes arrive as binary frames,
//! control messages (resize, ping) as JSON text frames; terminal output leaves as binary
//! frames. Generic over the websocket's sink and stream and over the PTY, so it is tested with
//! in-memory channels.

use std::future::Future;
use std::time::Duration;

use futures::{Sink, SinkExt, Stream, StreamExt};
use serde::{Deserialize, Serialize};

/// A websocket frame as the bridge sees it (the server maps its framework's type onto this).
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    Text(String),
    Binary(Vec<u8>),
    Close,
}

/// Control messages from the browser.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    Resize {
        cols: u32,
        rows: u32,
    },
    /// The browser's clock, echoed back so it can show the latency.
    Ping {
        t: f64,
    },
    /// Typed text, for clients that do not send binary frames.
    Input {
        data: String,
    },
}

/// Messages to the browser (terminal output goes as binary frames).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    Connected { preset: String, host: String, since: String },
    HostKey { preset: String, fingerprint: String },
    Pong { t: f64 },
    Error { message: String },
    Closed { reason: String },
}

impl ServerMessage {
    pub fn frame(&self) -> Frame {
        Frame::Text(serde_json::to_string(self).unwrap_or_else(|_| "{}".into()))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum PtyEvent {
    Output(Vec<u8>),
    /// The shell ended (with its exit status when the server said).
    Exited(Option<u32>),
}

/// The remote end: a shell on a PTY.
pub trait Pty: Send {
    fn send(&mut self, data: Vec<u8>) -> impl Future<Output = Result<(), String>> + Send;
    fn resize(&mut self, cols: u32, rows: u32) -> impl Future<Output = Result<(), String>> + Send;
    /// The next output, or the end. Must be cancel-safe (it races the browser's input).
    fn recv(&mut self) -> impl Future<Output = PtyEvent> + Send;
    fn close(&mut self) -> impl Future<Output = ()> + Send;
}

/// How a session ended, for the audit log and the browser.
#[derive(Debug, Clone, PartialEq)]
pub enum EndReason {
    /// The browser closed or went away.
    ClientClosed,
    /// No keystroke for the idle timeout.
    Idle,
    /// The remote shell exited.
    Exited(Option<u32>),
    /// A frame over the size limit.
    TooLarge,
    /// The administrator's access ended (signed out, disabled, demoted, password changed).
    Revoked(String),
    Error(String),
}

impl EndReason {
    pub fn describe(&self) -> String {
        match self {
            EndReason::ClientClosed => "closed by the browser".into(),
            EndReason::Idle => "idle timeout".into(),
            EndReason::Exited(Some(s)) => format!("the shell exited ({s})"),
            EndReason::Exited(None) => "the shell ended".into(),
            EndReason::TooLarge => "a message over the size limit".into(),
            EndReason::Revoked(why) => format!("access revoked: {why}"),
            EndReason::Error(e) => format!("error: {e}"),
        }
    }
}

/// Runs a session until either side ends it or it idles out; tells the browser why, closes
/// the PTY, and returns the reason.
pub async fn bridge<Si, St, E, P>(sink: Si, stream: St, pty: P, idle: Duration, max_frame: usize) -> EndReason
where
    Si: Sink<Frame> + Unpin,
    St: Stream<Item = Result<Frame, E>> + Unpin,
    E: std::fmt::Display,
    P: Pty,
{
    bridge_until(sink, stream, pty, idle, max_frame, std::future::pending()).await
}

/// [`bridge`], also ended as soon as `revoked` resolves (with why access ended).
pub async fn bridge_until<Si, St, E, P, R>(
    mut sink: Si,
    mut stream: St,
    mut pty: P,
    idle: Duration,
    max_frame: usize,
    revoked: R,
) -> EndReason
where
    Si: Sink<Frame> + Unpin,
    St: Stream<Item = Result<Frame, E>> + Unpin,
    E: std::fmt::Display,
    P: Pty,
    R: Future<Output = String>,
{
    let mut deadline = tokio::time::Instant::now() + idle;
    let mut revoked = std::pin::pin!(revoked);
    let reason = loop {
        let incoming = tokio::select! {
            why = &mut revoked => break EndReason::Revoked(why),
            frame = stream.next() => Some(frame),
            event = pty.recv() => {
                match event {
                    PtyEvent::Output(bytes) => {
                        if sink.send(Frame::Binary(bytes)).await.is_err() {
                            break EndReason::ClientClosed;
                        }
                        None
                    }
                    PtyEvent::Exited(status) => break EndReason::Exited(status),
                }
            }
            _ = tokio::time::sleep_until(deadline) => break EndReason::Idle,
        };
        let Some(frame) = incoming else { continue };
        let frame = match frame {
            None | Some(Ok(Frame::Close)) => break EndReason::ClientClosed,
            Some(Err(e)) => break EndReason::Error(e.to_string()),
            Some(Ok(f)) => f,
        };
        let size = match &frame {
            Frame::Text(t) => t.len(),
            Frame::Binary(b) => b.len(),
            Frame::Close => 0,
        };
        if size > max_frame {
            break EndReason::TooLarge;
        }
        let outcome = match frame {
            Frame::Binary(bytes) => {
                deadline = tokio::time::Instant::now() + idle;
                pty.send(bytes).await
            }
            Frame::Text(text) => match serde_json::from_str::<ClientMessage>(&text) {
                Ok(ClientMessage::Input { data }) => {
                    deadline = tokio::time::Instant::now() + idle;
                    pty.send(data.into_bytes()).await
                }
                Ok(ClientMessage::Resize { cols, rows }) => pty.resize(cols, rows).await,
                Ok(ClientMessage::Ping { t }) => {
                    if sink.send(ServerMessage::Pong { t }.frame()).await.is_err() {
                        break EndReason::ClientClosed;
                    }
                    Ok(())
                }
                Err(e) => {
                    let message = ServerMessage::Error { message: format!("message not understood: {e}") };
                    let _ = sink.send(message.frame()).await;
                    Ok(())
                }
            },
            Frame::Close => Ok(()),
        };
        if let Err(e) = outcome {
            break EndReason::Error(e);
        }
    };
    pty.close().await;
    let _ = sink.send(ServerMessage::Closed { reason: reason.describe() }.frame()).await;
    let _ = sink.send(Frame::Close).await;
    reason
}

#[cfg(test)]
mod tests;
