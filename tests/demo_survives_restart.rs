//! The binary in `--demo` with a state file, stopped and started again as
//! a newcomer would try it: the second run takes the first one's state (the
//! demo's API is on a new port, its account is the same) and its counters
//! carry on instead of starting over. Exact values across a restart are
//! proved in-process by
//! `matches_the_account_under_churn::a_restarted_demo_exporter_carries_its_counts_on_exactly`.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

/// A counter family's series, by labels.
type Counters = BTreeMap<Vec<(String, String)>, f64>;

use support::{block_until_some, exporter, free_port, http_get, temp_dir, Logged, Scrape};

/// Runs `--demo --state-file <state>` until its first refresh has been
/// saved; returns its dispatch counters and, after SIGTERM, its logs (JSON
/// lines).
fn run_once(state: &Path) -> (Counters, String) {
    let port = free_port();
    let mut logged = Logged::spawn(
        exporter()
            .args(["--demo", "--interval", "1s", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("--state-file")
            .arg(state),
    );
    let scrape = block_until_some("a successful refresh, saved", || {
        let (code, body) = http_get(port, "/metrics")?;
        (code == 200 && body.contains("\napify_up 1") && state.exists()).then_some(Scrape(body))
    });
    let counters = scrape.series("apify_webhook_dispatches_total");
    let status = logged.terminate();
    assert_eq!(status.code(), Some(0));
    (counters, logged.text())
}

#[test]
fn a_restarted_demo_keeps_its_state_and_counts_on() {
    let dir = temp_dir("demo-restart-cli");
    let state = dir.path().join("state.json");

    let (first, _) = run_once(&state);
    let (second, logs) = run_once(&state);

    assert!(logs.contains("loaded state"), "{logs}");
    assert!(!logs.contains("ignoring the state file"), "{logs}");
    // Six hours of history: thousands of dispatches, none counted twice
    // and none forgotten, so every series is where the first run left it
    // or further on (a fresh start would drop the oldest seconds' worth).
    assert!(first.values().sum::<f64>() > 5_000.0, "{first:?}");
    for (series, before) in &first {
        let after = second.get(series).copied().unwrap_or_default();
        assert!(after >= *before, "{series:?}: {before} then {after}");
    }
}
