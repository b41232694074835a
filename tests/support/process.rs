//! The real binary, and plain HTTP around it: what the tests that spawn
//! the exporter (or speak raw HTTP to it) share.

use std::ops::{Deref, DerefMut};
use std::process::{Child, Command};
use std::time::Duration;

use base64::Engine;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use super::DEADLINE;

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

/// `GET path` over a fresh connection: the status and the whole answer
/// (headers and body), or `None` while nothing answers.
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
    Some((code, text))
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
    let mut buf = [0; 64 * 1024];
    loop {
        match tokio::time::timeout(DEADLINE, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return out,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => panic!("the server did not close the connection within {DEADLINE:?}"),
        }
    }
}
