//! The binary: flags, exit codes, and a graceful stop on SIGTERM.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use support::block_until_some;

const BIN: &str = env!("CARGO_BIN_EXE_apify-webhook-exporter");

fn exporter() -> Command {
    let mut c = Command::new(BIN);
    // A clean environment: only what each test sets.
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    c
}

#[test]
fn version_prints_the_crate_version() {
    let out = exporter().arg("--version").output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("apify-webhook-exporter {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn help_lists_every_variable_with_its_default() {
    let out = exporter().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for var in [
        "APIFY_TOKEN",
        "APIFY_TOKEN_FILE",
        "APIFY_API_BASE_URL",
        "APIFY_ACTOR_IDS",
        "APIFY_ACTOR_TASK_IDS",
        "APIFY_WEBHOOK_IDS",
        "APIFY_EXPORTER_LISTEN",
        "APIFY_EXPORTER_MODE",
        "APIFY_EXPORTER_INTERVAL",
        "APIFY_EXPORTER_MIN_INTERVAL",
        "APIFY_EXPORTER_LOOKBACK",
        "APIFY_EXPORTER_STATE_FILE",
        "APIFY_EXPORTER_TIMEOUT",
        "APIFY_EXPORTER_MAX_RPS",
        "APIFY_EXPORTER_CONCURRENCY",
        "APIFY_EXPORTER_WEB_CONFIG",
        "APIFY_EXPORTER_LOG_FORMAT",
        "RUST_LOG",
    ] {
        assert!(help.contains(var), "--help does not mention {var}:\n{help}");
    }
    for default in [
        "[default: 30s]",
        "[default: 0.0.0.0:9723]",
        "[default: 24h]",
        "[default: 20]",
    ] {
        assert!(help.contains(default), "--help lacks {default}");
    }
}

#[test]
fn a_bad_value_exits_2_with_one_line_naming_the_variable() {
    let out = exporter()
        .env("APIFY_TOKEN", "apify_api_SECRET123")
        .env("APIFY_EXPORTER_INTERVAL", "often")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        err,
        "apify-webhook-exporter: APIFY_EXPORTER_INTERVAL: expected a positive duration of at most a year, like 500ms, 30s, 5m or 24h, got \"often\"\n"
    );

    let out = exporter().output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1);
    assert!(err.contains("APIFY_TOKEN: not set"), "{err}");

    let out = exporter()
        .env("APIFY_TOKEN", "apify_api_SECRET123")
        .args(["--mode", "sometimes"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.starts_with("apify-webhook-exporter: --mode (APIFY_EXPORTER_MODE): expected `interval` or `on-scrape`"), "{err}");
    assert!(!err.contains("SECRET123"));
}

#[test]
fn environment_that_is_not_utf8_is_refused_or_ignored_without_a_panic() {
    use std::os::unix::ffi::OsStrExt;
    let bad = std::ffi::OsStr::from_bytes(b"30\xffs");
    let out = exporter()
        .env("APIFY_TOKEN", "t")
        .env("APIFY_EXPORTER_INTERVAL", bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "apify-webhook-exporter: APIFY_EXPORTER_INTERVAL: is not valid UTF-8\n"
    );
    // Someone else's variable is none of our business.
    let out = exporter()
        .env("APIFY_TOKEN", "t")
        .env("LANG_OF_ANOTHER_TOOL", bad)
        .env("APIFY_EXPORTER_INTERVAL", "500000000000y")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "an absurd duration is a config error, not a panic"
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn get(port: u16, path: &str) -> Option<(u16, String)> {
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

#[test]
fn demo_serves_metrics_and_sigterm_stops_it_cleanly() {
    let port = free_port();
    let mut child = exporter()
        .args([
            "--demo",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--log-format",
            "json",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    block_until_some("demo ready", || {
        get(port, "/readyz").filter(|(code, _)| *code == 200)
    });
    let (code, body) = get(port, "/metrics").unwrap();
    assert_eq!(code, 200);
    assert!(body.contains("apify_up 1"));
    assert!(body.contains("apify_webhook_dispatches_total{"));
    let healthy = exporter()
        .args(["--healthcheck", "--listen", &format!("0.0.0.0:{port}")])
        .status()
        .unwrap();
    assert!(healthy.success());

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = block_until_some("exit after SIGTERM", || child.try_wait().unwrap());
    assert_eq!(status.code(), Some(0));
    let mut logs = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut logs).unwrap();
    assert!(
        logs.lines()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()),
        "{logs}"
    );
    assert!(logs.contains("shutdown requested"));

    let unhealthy = exporter()
        .args(["--healthcheck", "--listen", &format!("127.0.0.1:{port}")])
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(unhealthy.code(), Some(1));
}
