//! The golden exposition test: a state built by hand, covering every
//! metric family and label values that need escaping, must render to the
//! exact text checked in at `tests/golden/metrics.txt`.
//!
//! A change of the text is a change of the public contract: regenerate on
//! purpose with `UPDATE_GOLDEN=1 cargo test --lib golden` and review the
//! diff like any other.
//!
//! Two things vary between builds and machines and are normalised before
//! the comparison: the `process_*` families (this process's own CPU and
//! memory) and the git revision in `apify_exporter_build_info`.

use std::path::PathBuf;
use std::time::Duration;

use crate::api::dispatches::DispatchStatus;
use crate::api::webhooks::{Condition, Stats, Webhook};
use crate::api::Reason;
use crate::collector::state::{Details, State};
use crate::collector::test_data::{call, dispatch};

use super::Metrics;

const RUN_SUCCEEDED: &str = "ACTOR.RUN.SUCCEEDED";
const RUN_FAILED: &str = "ACTOR.RUN.FAILED";
const BUILD_FAILED: &str = "ACTOR.BUILD.FAILED";

fn golden_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/metrics.txt")
}

fn webhook(id: &str, event_types: &[&str], actor: Option<&str>, task: Option<&str>) -> Webhook {
    Webhook {
        id: id.to_string(),
        user_id: Some("U1".into()),
        modified_at: Some("2026-11-01T00:00:00.000Z".into()),
        is_ad_hoc: Some(false),
        event_types: event_types.iter().map(|s| s.to_string()).collect(),
        condition: Some(Condition {
            actor_id: actor.map(str::to_string),
            actor_task_id: task.map(str::to_string),
        }),
        ignore_ssl_errors: Some(false),
        do_not_retry: Some(false),
        request_url: Some(format!(
            "https://user:pw@{id}.hooks.example.com/p?key=secret"
        )),
        description: None,
        stats: Some(Stats {
            total_dispatches: Some(40),
        }),
    }
}

/// Three webhooks: one healthy, one failing with retries and an ACTIVE
/// dispatch, one with a description and event type that need escaping;
/// an Actor's name, a task's, and an Actor without one.
fn sample_state() -> State {
    const T0: i64 = 1_764_000_000_000;
    let mut state = State::default();
    let healthy = webhook("Wh1", &[RUN_SUCCEEDED, RUN_FAILED], Some("A1"), None);
    let mut failing = webhook("Wh2", &[RUN_FAILED, BUILD_FAILED], None, Some("T1"));
    failing.do_not_retry = Some(true);
    failing.stats = None;
    let mut odd = webhook("Wh3", &["CUSTOM \"quoted\"\\event"], Some("A2"), None);
    odd.ignore_ssl_errors = Some(true);
    odd.is_ad_hoc = None;
    let details = |text: &str| Details {
        modified_at: Some("2026-11-01T00:00:00.000Z".into()),
        description: Some(text.to_string()),
    };
    state.sync_webhooks(&[
        (healthy, Some(details("Orders to CRM"))),
        (failing, None),
        (odd, Some(details("Line one\nsays \"hi\" \\ bye"))),
    ]);

    state.count_new(&dispatch(
        "d1",
        "Wh1",
        RUN_SUCCEEDED,
        DispatchStatus::Succeeded,
        T0,
        vec![call(T0 + 100, Some(T0 + 180), Some(200))],
    ));
    state.count_new(&dispatch(
        "d2",
        "Wh1",
        RUN_FAILED,
        DispatchStatus::Succeeded,
        T0 + 1_000,
        vec![
            call(T0 + 1_100, Some(T0 + 31_100), None),
            call(T0 + 40_000, Some(T0 + 40_600), Some(204)),
        ],
    ));
    let mut d3 = dispatch(
        "d3",
        "Wh2",
        RUN_FAILED,
        DispatchStatus::Failed,
        T0 + 2_000,
        vec![
            call(T0 + 2_100, Some(T0 + 2_300), Some(503)),
            call(T0 + 9_000, Some(T0 + 9_050), Some(404)),
            call(T0 + 20_000, None, None),
        ],
    );
    d3.event_data.actor_run_id = Some("Run3xYz0123456789".into());
    state.count_new(&d3);
    state.count_new(&dispatch(
        "d4",
        "Wh2",
        BUILD_FAILED,
        DispatchStatus::Active,
        T0 + 3_000,
        vec![
            call(T0 + 3_100, Some(T0 + 5_600), Some(500)),
            call(T0 + 8_000, None, None),
        ],
    ));
    state.count_new(&dispatch(
        "d5",
        "Wh2",
        "ACTOR.RUN.ABORTED",
        DispatchStatus::Other("PAUSED".into()),
        T0 + 1_500,
        vec![],
    ));
    state.count_new(&dispatch(
        "d6",
        "Wh3",
        "CUSTOM \"quoted\"\\event",
        DispatchStatus::Failed,
        T0 + 4_000,
        vec![call(T0 + 4_100, Some(T0 + 64_100), Some(401))],
    ));
    if let Some(w) = state.webhooks.get_mut("Wh1") {
        w.unaccounted_dispatches = Some(2);
        w.info.actor_name = "jane/orders-scraper".into();
    }
    // Wh3's Actor could not be read: no name.
    if let Some(w) = state.webhooks.get_mut("Wh2") {
        w.info.actor_task_name = "jane/nightly-build".into();
    }
    state
}

fn sample_metrics() -> Metrics {
    let metrics = match Metrics::new() {
        Ok(m) => m,
        Err(e) => panic!("registry: {e}"),
    };
    metrics.observe_request("/v2/webhooks", "200", Duration::from_millis(40));
    metrics.observe_request("/v2/acts/:id", "403", Duration::from_millis(30));
    metrics.observe_request("/v2/webhook-dispatches", "200", Duration::from_millis(120));
    metrics.observe_request("/v2/webhook-dispatches", "503", Duration::from_millis(7));
    metrics.observe_request(
        "/v2/webhook-dispatches/:id",
        "timeout",
        Duration::from_secs(10),
    );
    metrics.observe_refresh(Duration::from_millis(300), &[], 1_764_000_100.5, 3);
    metrics.count_skipped(&[
        crate::collector::SkipReason::Undecodable,
        crate::collector::SkipReason::Undecodable,
    ]);
    metrics.count_state_save_failure();
    metrics.observe_refresh(
        Duration::from_millis(1_200),
        &[Reason::RateLimited, Reason::Http, Reason::RateLimited],
        1_764_000_130.0,
        3,
    );
    metrics
}

/// The encoded text without what varies by machine and build.
fn normalised(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let family_line = line
            .strip_prefix("# HELP ")
            .or_else(|| line.strip_prefix("# TYPE "))
            .unwrap_or(line);
        if family_line.starts_with("process_") {
            continue;
        }
        if line.starts_with("apify_exporter_build_info{") {
            out.push_str(&with_revision_masked(line));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

fn with_revision_masked(line: &str) -> String {
    let Some(start) = line.find("revision=\"") else {
        return line.to_string();
    };
    let value = start + "revision=\"".len();
    let end = line[value..].find('"').map_or(line.len(), |n| value + n);
    format!("{}REVISION{}", &line[..value], &line[end..])
}

#[test]
fn the_exposition_matches_the_golden_file() {
    let encoded = match sample_metrics().encode(&sample_state()) {
        Ok(e) => e,
        Err(e) => panic!("encode: {e}"),
    };
    let text = match std::str::from_utf8(&encoded.text) {
        Ok(t) => normalised(t),
        Err(e) => panic!("the exposition is not UTF-8: {e}"),
    };
    let path = golden_path();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        if let Err(e) = std::fs::write(&path, &text) {
            panic!("cannot write {}: {e}", path.display());
        }
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e} (UPDATE_GOLDEN=1 writes it)",
            path.display()
        )
    });
    if text != expected {
        let first = text
            .lines()
            .zip(expected.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| text.lines().count().min(expected.lines().count()));
        panic!(
            "/metrics differs from {} from line {} on:\n  got:      {:?}\n  expected: {:?}\n\
             (UPDATE_GOLDEN=1 cargo test --lib golden rewrites it, on purpose only)",
            path.display(),
            first + 1,
            text.lines().nth(first),
            expected.lines().nth(first),
        );
    }
}

#[test]
fn the_golden_file_shows_every_family() {
    let text = match std::fs::read_to_string(golden_path()) {
        Ok(t) => t,
        Err(e) => panic!("cannot read the golden file: {e}"),
    };
    let families: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    let mut declared: Vec<&str> = super::contract::ALL.iter().map(|f| f.name).collect();
    declared.sort_unstable();
    assert_eq!(families, declared);
}
