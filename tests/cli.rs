//! The binary: flags, exit codes, and a graceful stop on SIGTERM.

mod support;

use std::process::{Command, Stdio};

use support::{block_until_some, exporter, free_port, http_get as get, temp_dir, Logged, Running};

#[test]
fn version_prints_the_crate_version_and_the_revision() {
    let out = exporter().arg("--version").output().unwrap();
    assert!(out.status.success());
    // build.rs sets the revision for the test binaries as for the exporter.
    let revision = env!("APIFY_EXPORTER_REVISION");
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!(
            "apify-webhook-exporter {} (revision {revision})\n",
            env!("CARGO_PKG_VERSION")
        )
    );
    // In a git checkout, the commit built (build.rs runs git likewise).
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|h| h.status.success());
    if let Some(head) = head {
        if std::env::var_os("APIFY_EXPORTER_REVISION").is_none() {
            assert_eq!(revision, String::from_utf8(head.stdout).unwrap().trim());
        }
    }
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

#[test]
fn demo_serves_metrics_and_sigterm_stops_it_cleanly() {
    let port = free_port();
    let mut logged =
        Logged::spawn(exporter().args(["--demo", "--listen", &format!("127.0.0.1:{port}")]));
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

    let status = logged.terminate();
    assert_eq!(status.code(), Some(0));
    let logs = logged.text();
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

/// Runs `command` to its end and returns its stderr, failing the test
/// unless it exits with code 2 (a configuration error) within the deadline:
/// a start-up that hangs is killed, not waited for.
fn config_error(command: &mut Command) -> String {
    let mut child = Running::spawn(command.stdout(Stdio::null()).stderr(Stdio::piped()));
    let status = block_until_some("start-up to end", || child.try_wait().unwrap());
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(2), "{err}");
    err
}

#[test]
fn selections_that_are_not_ids_exit_2_naming_the_variable() {
    let ids = "expected a comma list of Apify ids (letters and digits, like Pz6sM1dK9vBf3XgUh)";
    let ids_or_names = "expected a comma list of Apify ids (letters and digits, like nFJndFXA5zjCTuudP) or username~name (like janedoe~my-actor)";
    for (var, value, line) in [
        (
            "APIFY_ACTOR_IDS",
            "..",
            format!("APIFY_ACTOR_IDS: \"..\" is not valid; {ids_or_names}"),
        ),
        (
            "APIFY_WEBHOOK_IDS",
            "a/b",
            format!("APIFY_WEBHOOK_IDS: \"a/b\" is not valid; {ids}"),
        ),
        (
            "APIFY_ACTOR_TASK_IDS",
            "janedoe~my-task,",
            format!("APIFY_ACTOR_TASK_IDS: element 2 of 2 is empty; {ids_or_names}"),
        ),
    ] {
        let err = config_error(
            exporter()
                .env("APIFY_TOKEN", "apify_api_SECRET123")
                .env(var, value),
        );
        assert_eq!(err, format!("apify-webhook-exporter: {line}\n"));
    }
    let err = config_error(
        exporter()
            .env("APIFY_TOKEN", "apify_api_SECRET123")
            .args(["--actor-ids", "nFJndFXA5zjCTuudP,."]),
    );
    assert_eq!(
        err,
        format!("apify-webhook-exporter: --actor-ids (APIFY_ACTOR_IDS): \".\" is not valid; {ids_or_names}\n")
    );
}

#[test]
fn a_token_that_cannot_be_sent_exits_2_without_being_quoted() {
    let unsendable = "contains whitespace, a control character or a non-ASCII character; expected the token alone, on one line, as Apify Console shows it";
    let dir = temp_dir("unsendable-token");
    let path = dir.path().join("token");
    std::fs::write(&path, "apify_api_SECRET123\nsecond-line\n").unwrap();
    let err = config_error(exporter().env("APIFY_TOKEN_FILE", &path));
    assert_eq!(
        err,
        format!(
            "apify-webhook-exporter: APIFY_TOKEN_FILE: the token in {:?} {unsendable}\n",
            path.display().to_string()
        )
    );
    let err = config_error(exporter().env("APIFY_TOKEN", "apify_api_SECRET 123"));
    assert_eq!(
        err,
        format!("apify-webhook-exporter: APIFY_TOKEN: {unsendable}\n")
    );
}

#[test]
fn a_bcrypt_cost_above_14_exits_2_at_once_naming_the_user() {
    let dir = temp_dir("bcrypt-cost");
    let path = dir.path().join("web.yml");
    let hash = "$2y$31$abcdefghijklmnopqrstuuWW0DhBHrHwvoTPEvpc4PFOYBrd/Zp0K";
    std::fs::write(
        &path,
        format!("basic_auth_users:\n  prometheus: '{hash}'\n"),
    )
    .unwrap();
    // Refused from the hash's text alone: checking a password at cost 31
    // would take days, so a hang would end at the deadline, not here.
    let err = config_error(
        exporter()
            .env("APIFY_TOKEN", "apify_api_SECRET123")
            .env("APIFY_EXPORTER_WEB_CONFIG", &path),
    );
    assert_eq!(
        err,
        "apify-webhook-exporter: APIFY_EXPORTER_WEB_CONFIG: basic_auth_users: the password of \"prometheus\" has bcrypt cost 31; 4 to 14 are supported (10 to 12 are usual)\n"
    );
}
