//! The binary says so at start when a setting it was given does nothing: a
//! token beside `--demo`, a misspelt variable. And `--demo-if-no-token`
//! (what the compose stack runs) reads the account of a token when one is
//! given, the demo only when none is.

mod support;

use std::process::Command;

use support::{
    account_with_one_webhook, block_until_some, exporter, free_port, http_get, serve_fake, Logged,
    Scrape, TOKEN,
};

/// Runs `command` (which must serve on `port`) until it is ready, then
/// stops it with SIGTERM: the body of `/metrics` and the log lines (JSON).
fn serve_then_stop(command: &mut Command, port: u16) -> (Scrape, Vec<serde_json::Value>) {
    let mut logged = Logged::spawn(command.args(["--listen", &format!("127.0.0.1:{port}")]));
    block_until_some("ready", || {
        if let Some(status) = logged.child.try_wait().unwrap() {
            panic!("exited with {status} before it was ready");
        }
        http_get(port, "/readyz").filter(|(code, _)| *code == 200)
    });
    let (code, body) = http_get(port, "/metrics").unwrap();
    assert_eq!(code, 200);
    let status = logged.terminate();
    assert_eq!(status.code(), Some(0));
    let logs = logged.text();
    assert!(!logs.contains("SECRET"), "{logs}");
    (Scrape(body), logged.events())
}

/// The messages of the WARN lines, in order.
fn warnings(lines: &[serde_json::Value]) -> Vec<&str> {
    lines
        .iter()
        .filter(|l| l["level"] == "WARN")
        .filter_map(|l| l["fields"]["message"].as_str())
        .collect()
}

#[test]
fn a_token_beside_demo_and_unknown_variables_get_one_warning_each_naming_no_value() {
    let port = free_port();
    let (metrics, lines) = serve_then_stop(
        exporter()
            .arg("--demo")
            .env("APIFY_TOKEN", "apify_api_SECRET123")
            .env("APIFY_EXPORTER_INTERVALL", "5s-SECRET")
            .env("APIFY_EXPORTER_FROBNICATE", "SECRET")
            // Set by Apify's platform inside an Actor: not a mistake.
            .env("APIFY_ACTOR_ID", "SECRETactor")
            .env("APIFY_IS_AT_HOME", "1"),
        port,
    );
    assert_eq!(metrics.up(), 1.0);
    assert_eq!(
        warnings(&lines),
        [
            "APIFY_TOKEN is ignored: --demo reads the built-in simulated account, not yours",
            "APIFY_EXPORTER_FROBNICATE is not a setting of this exporter and is ignored (--help lists the settings)",
            "APIFY_EXPORTER_INTERVALL is not a setting of this exporter and is ignored; did you mean APIFY_EXPORTER_INTERVAL?",
        ]
    );
}

#[test]
fn nothing_is_said_when_every_variable_is_read() {
    let port = free_port();
    let (_, lines) = serve_then_stop(
        exporter()
            .arg("--demo")
            .env("APIFY_EXPORTER_INTERVAL", "1m")
            .env("APIFY_PROXY_PASSWORD", "SECRET")
            // What `cargo run` passes on from build.rs.
            .env("APIFY_EXPORTER_REVISION", "0123456789ab"),
        port,
    );
    assert_eq!(warnings(&lines), Vec::<&str>::new());
}

#[test]
fn demo_if_no_token_reads_the_account_of_a_token_and_the_demo_without_one() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let fake = account_with_one_webhook();
    let (api, _stop) = runtime.block_on(serve_fake(&fake));

    // A token: the account behind APIFY_API_BASE_URL, its one webhook.
    let (metrics, lines) = serve_then_stop(
        exporter()
            .arg("--demo-if-no-token")
            .env("APIFY_TOKEN", TOKEN)
            .env("APIFY_API_BASE_URL", &api),
        free_port(),
    );
    assert_eq!((metrics.up(), metrics.webhooks()), (1.0, 1.0));
    assert!(!fake.requests().is_empty());
    assert_eq!(warnings(&lines), Vec::<&str>::new());
    fake.clear_requests();

    // None (or a blank one, as compose passes an unset variable): the demo,
    // which never asks the configured origin.
    for blank in [None, Some(" ")] {
        let mut command = exporter();
        command
            .arg("--demo-if-no-token")
            .env("APIFY_API_BASE_URL", &api);
        if let Some(blank) = blank {
            command.env("APIFY_TOKEN", blank);
        }
        let (metrics, _) = serve_then_stop(&mut command, free_port());
        assert_eq!(metrics.up(), 1.0);
        assert!(metrics.webhooks() > 1.0, "{}", metrics.0);
        assert_eq!(fake.requests().len(), 0);
    }

    // Without the flag, no token stops the start.
    let out = exporter().output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_misspelt_token_variable_is_named_when_it_is_why_the_start_fails() {
    let out = exporter()
        .env("APIFY_TOKNE", "apify_api_SECRET123")
        .args(["--listen", &format!("127.0.0.1:{}", free_port())])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(!err.contains("SECRET"), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(
        lines[0].starts_with("apify-webhook-exporter: APIFY_TOKEN: not set"),
        "{err}"
    );
    assert_eq!(
        lines[1],
        "apify-webhook-exporter: also: APIFY_TOKNE is not a setting of this exporter and is ignored; did you mean APIFY_TOKEN?"
    );
}
