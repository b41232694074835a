//! Reconciliation: `apify_webhook_unaccounted_dispatches` is the number of
//! dispatches Apify counts (`stats.totalDispatches`) since the baseline that
//! the exporter never saw: exactly the number the fake hides from its lists,
//! 0 when it hides none, absent without a count, and the baseline survives
//! a restart from the state file.

mod support;

use serde_json::Value;
use support::*;

const UNACCOUNTED: &str = "apify_webhook_unaccounted_dispatches";
/// A webhook for which Apify reports no count.
const W3: &str = "W3ccccccccccccccc";

fn unaccounted(m: &Scrape, webhook_id: &str) -> Option<f64> {
    m.get(UNACCOUNTED, &[("webhook_id", webhook_id)])
}

/// Puts a dispatch of `webhook_id` created a second ago, hidden from the
/// lists or not.
fn arrives(h: &Harness, id: &str, webhook_id: &str, status: &str, hidden: bool) {
    let created_at = now_ms() - 1_000;
    h.fake
        .put_dispatch(dispatch(id, webhook_id, RUN_OK, status, created_at, vec![]));
    h.fake.hide_from_lists(id, hidden);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gauge_equals_the_dispatches_hidden_from_the_lists() {
    let fake = account_with_one_webhook();
    fake.put_webhook(webhook(W2, &[RUN_OK]));
    let mut silent = webhook(W3, &[RUN_OK]);
    if let Some(fields) = silent.as_object_mut() {
        fields.remove("stats");
    }
    fake.put_webhook(silent);
    // History from before the first refresh: in Apify's count at the
    // baseline, and older than its skew margin.
    let old = now_ms() - 10 * 60_000;
    fake.put_dispatch(succeeded("a0", W1, old));
    fake.put_dispatch(succeeded("b0", W2, old));
    let h = Harness::start(fake, |_| {}).await;

    let m = h.scrape().await;
    assert_eq!(m.dispatches_total(W1, RUN_OK, "SUCCEEDED"), 1.0);
    assert_eq!(unaccounted(&m, W1), Some(0.0));
    assert_eq!(unaccounted(&m, W2), Some(0.0));
    assert_eq!(unaccounted(&m, W3), None, "no count from Apify: absent");

    // W1: three hidden, two shown (one still ACTIVE); W2: two shown.
    for id in ["h1", "h2", "h3"] {
        arrives(&h, id, W1, "SUCCEEDED", true);
    }
    arrives(&h, "a1", W1, "SUCCEEDED", false);
    arrives(&h, "a2", W1, "ACTIVE", false);
    arrives(&h, "b1", W2, "FAILED", false);
    arrives(&h, "b2", W2, "SUCCEEDED", false);
    let m = h.scrape().await;
    assert_eq!(m.up(), 1.0);
    let reported = "apify_webhook_reported_dispatches_total";
    assert_eq!(m.value(reported, &[("webhook_id", W1)]), 7.0 + 1.0 + 5.0);
    assert_eq!(m.dispatches_total(W1, RUN_OK, "SUCCEEDED"), 2.0);
    assert_eq!(m.active(W1, RUN_OK), 1.0);
    assert_eq!(unaccounted(&m, W1), Some(3.0));
    assert_eq!(unaccounted(&m, W2), Some(0.0));

    // The ACTIVE one ends: the same dispatch, not one more seen.
    let mut a2 = h.fake.dispatch("a2").unwrap();
    a2["status"] = Value::from("SUCCEEDED");
    h.fake.put_dispatch(a2);
    let m = h.scrape().await;
    assert_eq!(m.dispatches_total(W1, RUN_OK, "SUCCEEDED"), 3.0);
    assert_eq!(unaccounted(&m, W1), Some(3.0));
    assert_eq!(unaccounted(&m, W2), Some(0.0));
    assert_eq!(unaccounted(&m, W3), None);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_from_the_state_file_keeps_the_baseline() {
    let dir = temp_dir("reconcile-restart");
    let state_file = dir.path().join("state.json");
    let fake = account_with_one_webhook();
    fake.put_dispatch(succeeded("a0", W1, now_ms() - 10 * 60_000));
    let with_state =
        |c: &mut apify_webhook_exporter::config::Config| c.state_file = Some(state_file.clone());
    let h = Harness::start(fake, with_state).await;
    arrives(&h, "h1", W1, "SUCCEEDED", true);
    arrives(&h, "h2", W1, "FAILED", true);
    arrives(&h, "a1", W1, "SUCCEEDED", false);
    let m = h.scrape().await;
    assert_eq!(unaccounted(&m, W1), Some(2.0));

    // While it is down: one more hidden, one more shown.
    arrives(&h, "h3", W1, "SUCCEEDED", true);
    arrives(&h, "a2", W1, "SUCCEEDED", false);
    let h = h.restart(with_state).await;
    let m = h.scrape().await;
    assert_eq!(m.dispatches_total(W1, RUN_OK, "SUCCEEDED"), 3.0);
    assert_eq!(
        unaccounted(&m, W1),
        Some(3.0),
        "the baseline of the first start, not a new one"
    );
    let saved: Value = serde_json::from_slice(&std::fs::read(&state_file).unwrap()).unwrap();
    let baseline = &saved["state"]["webhooks"][W1]["baseline"];
    assert_eq!(baseline["reported"], 7 + 1, "the count at the first start");
    assert_eq!(baseline["seen"], 2, "a1 and a2");

    // Without the state file, a new baseline: what was missed is forgotten.
    let h = h.restart(|_| {}).await;
    let m = h.scrape().await;
    assert_eq!(unaccounted(&m, W1), Some(0.0));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispatch_list_that_fails_does_not_raise_the_gauge() {
    let fake = account_with_one_webhook();
    let h = Harness::start(fake, |_| {}).await;
    let m = h.scrape().await;
    assert_eq!(unaccounted(&m, W1), Some(0.0));

    // Three new dispatches, which Apify counts at once; the list that would
    // show them fails on its first page.
    for id in ["n1", "n2", "n3"] {
        arrives(&h, id, W1, "SUCCEEDED", false);
    }
    h.fake.inject(
        route::DISPATCHES,
        apify_webhook_exporter::demo::Fault::Malformed,
    );
    let m = h.scrape().await;
    assert_eq!(m.up(), 0.0);
    assert_eq!(m.dispatches_total(W1, RUN_OK, "SUCCEEDED"), 0.0);
    assert_eq!(unaccounted(&m, W1), Some(0.0), "kept, not raised");

    let m = h.scrape().await;
    assert_eq!(m.up(), 1.0);
    assert_eq!(m.dispatches_total(W1, RUN_OK, "SUCCEEDED"), 3.0);
    assert_eq!(unaccounted(&m, W1), Some(0.0));
    h.stop().await;
}
