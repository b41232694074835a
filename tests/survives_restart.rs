//! With a state file, a restart neither double counts nor loses dispatches;
//! a corrupt file is reported and ignored.

mod support;

use apify_webhook_exporter::demo::FakeApify;
use support::*;

const W1: &str = "W1aaaaaaaaaaaaaaa";
const RUN_OK: &str = "ACTOR.RUN.SUCCEEDED";

fn total(m: &Scrape, status: &str) -> f64 {
    m.value(
        "apify_webhook_dispatches_total",
        &[
            ("webhook_id", W1),
            ("event_type", RUN_OK),
            ("status", status),
        ],
    )
}

fn calls(m: &Scrape, code: &str) -> f64 {
    m.get(
        "apify_webhook_dispatch_calls_total",
        &[
            ("webhook_id", W1),
            ("event_type", RUN_OK),
            ("response_status", code),
        ],
    )
    .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_neither_double_counts_nor_loses() {
    let dir = temp_dir("restart-ok");
    let state_file = dir.join("state.json");
    let fake = FakeApify::new(TOKEN);
    fake.put_webhook(webhook(W1, &[RUN_OK]));
    let now = now_ms();
    fake.put_dispatch(dispatch(
        "d1",
        W1,
        RUN_OK,
        "SUCCEEDED",
        now - 60_000,
        vec![call(now - 60_000, Some(now - 59_000), Some(200))],
    ));
    fake.put_dispatch(dispatch(
        "d2",
        W1,
        RUN_OK,
        "ACTIVE",
        now - 30_000,
        vec![call(now - 30_000, Some(now - 29_000), Some(503))],
    ));
    let path = state_file.clone();
    let h = Harness::start(fake, move |c| c.state_file = Some(path)).await;
    let m = h.scrape().await;
    assert_eq!(total(&m, "SUCCEEDED"), 1.0);
    assert_eq!(calls(&m, "503"), 1.0);

    // While it is down: d2 succeeds on a second call, d3 arrives.
    h.fake.put_dispatch(dispatch(
        "d2",
        W1,
        RUN_OK,
        "SUCCEEDED",
        now - 30_000,
        vec![
            call(now - 30_000, Some(now - 29_000), Some(503)),
            call(now - 20_000, Some(now - 19_000), Some(200)),
        ],
    ));
    h.fake.put_dispatch(dispatch(
        "d3",
        W1,
        RUN_OK,
        "FAILED",
        now - 10_000,
        vec![call(now - 10_000, Some(now - 9_000), Some(410))],
    ));
    let path = state_file.clone();
    let h = h.restart(move |c| c.state_file = Some(path)).await;
    let m = h.scrape().await;
    assert_eq!(total(&m, "SUCCEEDED"), 2.0);
    assert_eq!(total(&m, "FAILED"), 1.0);
    assert_eq!(
        calls(&m, "503"),
        1.0,
        "the call counted before the restart is not counted again"
    );
    assert_eq!(calls(&m, "200"), 2.0);
    assert_eq!(calls(&m, "410"), 1.0);
    h.stop().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_state_file_is_ignored_and_replaced() {
    let dir = temp_dir("restart-corrupt");
    let state_file = dir.join("state.json");
    std::fs::write(&state_file, b"{\"format\": \"apify-webhook-exp").unwrap();
    let fake = FakeApify::new(TOKEN);
    fake.put_webhook(webhook(W1, &[RUN_OK]));
    fake.put_dispatch(dispatch(
        "d1",
        W1,
        RUN_OK,
        "SUCCEEDED",
        now_ms() - 60_000,
        vec![],
    ));
    let path = state_file.clone();
    let h = Harness::start(fake, move |c| c.state_file = Some(path)).await;
    let m = h.scrape().await;
    assert_eq!(m.value("apify_up", &[]), 1.0);
    assert_eq!(total(&m, "SUCCEEDED"), 1.0);
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state_file).unwrap()).unwrap();
    assert_eq!(written["format"], "apify-webhook-exporter/state");
    assert_eq!(written["version"], 1);
    h.stop().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switching_between_account_wide_and_per_webhook_does_not_recount() {
    const W2: &str = "W2bbbbbbbbbbbbbbb";
    let dir = temp_dir("restart-switch");
    let state_file = dir.join("state.json");
    let fake = FakeApify::new(TOKEN);
    fake.put_webhook(webhook(W1, &[RUN_OK]));
    fake.put_webhook(webhook(W2, &[RUN_OK]));
    let now = now_ms();
    fake.put_dispatch(dispatch(
        "a1",
        W1,
        RUN_OK,
        "SUCCEEDED",
        now - 60_000,
        vec![],
    ));
    fake.put_dispatch(dispatch(
        "b1",
        W2,
        RUN_OK,
        "SUCCEEDED",
        now - 50_000,
        vec![],
    ));
    let w2_total = |m: &Scrape| {
        m.value(
            "apify_webhook_dispatches_total",
            &[
                ("webhook_id", W2),
                ("event_type", RUN_OK),
                ("status", "SUCCEEDED"),
            ],
        )
    };

    let path = state_file.clone();
    let h = Harness::start(fake, move |c| {
        c.state_file = Some(path);
        c.selection.webhook_ids = vec![W1.to_string()];
    })
    .await;
    assert_eq!(total(&h.scrape().await, "SUCCEEDED"), 1.0);

    // Per-webhook -> account-wide: W1 is not read back again.
    h.fake
        .put_dispatch(dispatch("a2", W1, RUN_OK, "SUCCEEDED", now_ms(), vec![]));
    let path = state_file.clone();
    let h = h.restart(move |c| c.state_file = Some(path)).await;
    let m = h.scrape().await;
    assert_eq!(total(&m, "SUCCEEDED"), 2.0);
    assert_eq!(w2_total(&m), 1.0);

    // Account-wide -> per-webhook: neither is read back again.
    h.fake.put_dispatch(dispatch(
        "a3",
        W1,
        RUN_OK,
        "SUCCEEDED",
        now_ms() + 1,
        vec![],
    ));
    let path = state_file.clone();
    let h = h
        .restart(move |c| {
            c.state_file = Some(path);
            c.selection.webhook_ids = vec![W1.to_string(), W2.to_string()];
        })
        .await;
    let m = h.scrape().await;
    assert_eq!(total(&m, "SUCCEEDED"), 3.0);
    assert_eq!(w2_total(&m), 1.0);
    h.stop().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_file_of_another_apify_user_is_not_applied() {
    const W9: &str = "W9zzzzzzzzzzzzzzz";
    let dir = temp_dir("restart-owner");
    let state_file = dir.join("state.json");
    let fake = FakeApify::new(TOKEN);
    fake.put_webhook(webhook(W1, &[RUN_OK]));
    fake.put_dispatch(dispatch(
        "d1",
        W1,
        RUN_OK,
        "SUCCEEDED",
        now_ms() - 60_000,
        vec![],
    ));
    let path = state_file.clone();
    let h = Harness::start(fake, move |c| c.state_file = Some(path)).await;
    assert_eq!(total(&h.scrape().await, "SUCCEEDED"), 1.0);

    // The token now opens another account: its webhook dispatched an hour
    // ago, before the first account's watermark.
    h.fake.remove_webhook(W1);
    h.fake.remove_dispatch("d1");
    let mut other = webhook(W9, &[RUN_OK]);
    other["userId"] = "u2".into();
    h.fake.put_webhook(other);
    h.fake.put_dispatch(dispatch(
        "z1",
        W9,
        RUN_OK,
        "SUCCEEDED",
        now_ms() - 3_600_000,
        vec![],
    ));
    let path = state_file.clone();
    let h = h.restart(move |c| c.state_file = Some(path)).await;
    let m = h.scrape().await;
    let labels = [
        ("webhook_id", W9),
        ("event_type", RUN_OK),
        ("status", "SUCCEEDED"),
    ];
    assert_eq!(m.value("apify_webhook_dispatches_total", &labels), 1.0);
    assert!(!m.mentions(W1));
    h.stop().await;
    std::fs::remove_dir_all(&dir).unwrap();
}
