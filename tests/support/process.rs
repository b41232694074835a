//! The real binary, and plain HTTP around it: what the tests that spawn
//! the exporter (or speak raw HTTP to it) share.

use std::ops::{Deref, DerefMut};
use std::process::{Child, Command, ExitStatus};
use std::time::Duration;

use base64::Engine;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use super::{block_until_some, DEADLINE};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_apify-webhook-exporter");

/// The exporter binary with a clean environment: only what each test sets.
pub fn exporter() -> Command {
    let mut c = Command::new(BIN);
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    c
}

/// A spawned exporter, killed and reaped when dropped unless it has
/// exited: a test that fails half-way leaves no process behind.
pub struct Running(pub Child);

impl Running {
    /// Spawns `command`; panics if it cannot start.
    pub fn spawn(command: &mut Command) -> Running {
        Running(command.spawn().unwrap())
    }
}

impl Deref for Running {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl DerefMut for Running {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// A port free on 127.0.0.1 a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET path` over a fresh connection: the status and the body, or `None`
/// while nothing answers.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let code = text.split(' ').nth(1)?.parse().ok()?;
    let (_, body) = text.split_once("\r\n\r\n")?;
    Some((code, body.to_owned()))
}

/// Sends a signal (`-TERM`, `-HUP`) to a spawned process.
pub fn signal(child: &Child, name: &str) {
    let sent = Command::new("kill")
        .args([name, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

/// An `Authorization` header value for basic auth.
pub fn basic(user: &str, password: &str) -> String {
    let raw = format!("{user}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// Reads until the server closes the connection (or resets it); the bytes
/// read. Fails the test if that takes longer than the deadline.
pub async fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    // A reset ends the read as a close does; what came before it stays in `out`.
    let read = tokio::time::timeout(DEADLINE, stream.read_to_end(&mut out)).await;
    assert!(
        read.is_ok(),
        "the server did not close the connection within {DEADLINE:?}"
    );
    out
}

/// A spawned exporter writing JSON log lines (`--log-format json`) to a
/// pipe, read as they come, so that a test can wait for a line while the
/// process runs (and a process that logs more than a pipe holds never
/// blocks on it). Killed when dropped, like [`Running`].
pub struct Logged {
    pub child: Running,
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    /// Reads the pipe until it closes; `None` once joined.
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Logged {
    /// Spawns `command` with `--log-format json` and its stderr piped.
    pub fn spawn(command: &mut Command) -> Logged {
        let mut child = Running::spawn(
            command
                .args(["--log-format", "json"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped()),
        );
        let stderr = child.stderr.take().unwrap();
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = std::sync::Arc::clone(&lines);
        // Ends with the pipe, when the process exits or is killed.
        let reader = std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { return };
                sink.lock().unwrap().push(line);
            }
        });
        Logged {
            child,
            lines,
            reader: Some(reader),
        }
    }

    /// Sends SIGTERM, waits (within the deadline) for the process to exit
    /// and for its last log line to be read: its exit status, with the
    /// log complete.
    pub fn terminate(&mut self) -> ExitStatus {
        signal(&self.child, "-TERM");
        let status = block_until_some("exit after SIGTERM", || self.child.try_wait().unwrap());
        if let Some(reader) = self.reader.take() {
            block_until_some("the log read to its end", || {
                reader.is_finished().then_some(())
            });
            reader.join().unwrap();
        }
        status
    }

    /// The lines written so far, each parsed (a line that is not JSON
    /// fails the test: every line must be, in this format).
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
            .collect()
    }

    /// The events whose message is `message`.
    pub fn with_message(&self, message: &str) -> Vec<serde_json::Value> {
        self.events()
            .into_iter()
            .filter(|e| e["fields"]["message"] == message)
            .collect()
    }

    /// Waits for the `n`th event whose message is `message` and returns it;
    /// fails the test, showing the log, past the deadline.
    pub async fn wait_for_nth(&self, message: &str, n: usize) -> serde_json::Value {
        let started = std::time::Instant::now();
        loop {
            if let Some(event) = self.with_message(message).into_iter().nth(n - 1) {
                return event;
            }
            assert!(
                started.elapsed() < DEADLINE,
                "no line {message:?} (#{n}) within {DEADLINE:?}; the log:\n{}",
                self.lines.lock().unwrap().join("\n")
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits for the first event whose message is `message`.
    pub async fn wait_for(&self, message: &str) -> serde_json::Value {
        self.wait_for_nth(message, 1).await
    }

    /// Every line so far, for a failure message.
    pub fn text(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }
}
