//! With a state file, a restart neither double counts nor loses dispatches
//! (a rejected file: tests/state_failures_are_loud.rs).

mod support;

use std::time::Duration;

use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_neither_double_counts_nor_loses() {
    let dir = temp_dir("restart-ok");
    let state_file = dir.path().join("state.json");
    let fake = account_with_one_webhook();
    let now = now_ms();
    let (d1_at, d2_at, d3_at) = (now - 60_000, now - 30_000, now - 10_000);
    let d1_calls = vec![answered(d1_at, 1_000, 200)];
    fake.put_dispatch(dispatch("d1", W1, RUN_OK, "SUCCEEDED", d1_at, d1_calls));
    let d2_calls = vec![answered(d2_at, 1_000, 503)];
    fake.put_dispatch(dispatch("d2", W1, RUN_OK, "ACTIVE", d2_at, d2_calls));
    let h = Harness::start(fake, |c| c.state_file = Some(state_file.clone())).await;
    let m = h.scrape().await;
    assert_eq!(m.succeeded_total(), 1.0);
    assert_eq!(m.calls_total(W1, RUN_OK, "503"), Some(1.0));

    // While it is down: d2 succeeds on a second call, d3 arrives.
    let d2_calls = vec![
        answered(d2_at, 1_000, 503),
        answered(now - 20_000, 1_000, 200),
    ];
    let d2 = dispatch("d2", W1, RUN_OK, "SUCCEEDED", d2_at, d2_calls);
    h.fake.put_dispatch(d2);
    let d3_calls = vec![answered(d3_at, 1_000, 410)];
    h.fake
        .put_dispatch(dispatch("d3", W1, RUN_OK, "FAILED", d3_at, d3_calls));
    let h = h.restart(|c| c.state_file = Some(state_file.clone())).await;
    let m = h.scrape().await;
    assert_eq!(m.succeeded_total(), 2.0);
    assert_eq!(m.dispatches_total(W1, RUN_OK, "FAILED"), 1.0);
    assert_eq!(
        m.calls_total(W1, RUN_OK, "503"),
        Some(1.0),
        "the call counted before the restart is not counted again"
    );
    assert_eq!(m.calls_total(W1, RUN_OK, "200"), Some(2.0));
    assert_eq!(m.calls_total(W1, RUN_OK, "410"), Some(1.0));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn falling_back_to_per_webhook_lists_does_not_recount_and_survives_a_restart() {
    let dir = temp_dir("restart-switch");
    let state_file = dir.path().join("state.json");
    let fake = two_webhooks_with_a_delivery_each();
    let h = Harness::start(fake, |c| c.state_file = Some(state_file.clone())).await;
    let m = h.scrape().await;
    assert_eq!(m.dispatches_total(W1, RUN_OK, "SUCCEEDED"), 1.0);
    assert_eq!(m.dispatches_total(W2, RUN_OK, "SUCCEEDED"), 1.0);

    // The token's scope narrows: the account-wide list is refused, and the
    // same refresh reads each webhook's own list, recounting nothing.
    h.fake.refuse_route(route::DISPATCHES, true);
    h.fake.put_dispatch(succeeded("a2", W1, now_ms()));
    h.take_requests();
    let m = h.scrape().await;
    assert_eq!(m.dispatches_total(W1, RUN_OK, "SUCCEEDED"), 2.0);
    assert_eq!(m.dispatches_total(W2, RUN_OK, "SUCCEEDED"), 1.0);
    assert_eq!(m.up(), 1.0, "the refusal is not a refresh error");
    let routes = h.take_routes();
    assert_eq!(routes.get(route::DISPATCHES), Some(&1));
    assert_eq!(routes.get(route::WEBHOOK_DISPATCHES), Some(&2));

    // A restart keeps to the per-webhook lists, asking the account-wide
    // list once only (the probe of the first metadata read), and reads
    // nothing back again.
    h.fake.put_dispatch(succeeded("a3", W1, now_ms() + 1));
    let h = h
        .restart(|c| {
            c.state_file = Some(state_file.clone());
            c.metadata_interval = Duration::from_secs(300);
        })
        .await;
    let m = h.scrape().await;
    assert_eq!(m.dispatches_total(W1, RUN_OK, "SUCCEEDED"), 3.0);
    assert_eq!(m.dispatches_total(W2, RUN_OK, "SUCCEEDED"), 1.0);
    assert_eq!(h.take_routes().get(route::DISPATCHES), Some(&1));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_file_of_another_apify_user_is_not_applied() {
    const W9: &str = "W9zzzzzzzzzzzzzzz";
    let dir = temp_dir("restart-owner");
    let state_file = dir.path().join("state.json");
    let fake = account_with_one_dispatch("SUCCEEDED", 60_000);
    let h = Harness::start(fake, |c| c.state_file = Some(state_file.clone())).await;
    let m = h.scrape().await;
    assert_eq!(m.succeeded_total(), 1.0);

    // The token now opens another account: its webhook dispatched an hour
    // ago, before the first account's watermark.
    h.fake.remove_webhook(W1);
    h.fake.remove_dispatch("d1");
    let mut other = webhook(W9, &[RUN_OK]);
    other["userId"] = "u2".into();
    h.fake.put_webhook(other);
    h.fake
        .put_dispatch(succeeded("z1", W9, now_ms() - 3_600_000));
    let h = h.restart(|c| c.state_file = Some(state_file.clone())).await;
    let m = h.scrape().await;
    assert_eq!(m.dispatches_total(W9, RUN_OK, "SUCCEEDED"), 1.0);
    assert!(!m.mentions(W1));
    h.stop().await;

    // The first user's counts were set aside, not overwritten.
    let aside: Vec<std::path::PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("state.json.rejected-"))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    let kept: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&aside[0]).unwrap()).unwrap();
    assert_eq!(kept["state"]["user_id"], "u1");
    assert!(kept["state"]["webhooks"].get(W1).is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_selection_widened_across_a_restart_reads_the_new_webhook_back_once() {
    let dir = temp_dir("restart-widen");
    let state_file = dir.path().join("state.json");
    let fake = two_webhooks_with_a_delivery_each();
    let h = Harness::start(fake, |c| {
        c.state_file = Some(state_file.clone());
        c.selection.webhook_ids = vec![W1.to_string()];
    })
    .await;
    let m = h.scrape().await;
    assert_eq!(m.succeeded_total(), 1.0);
    assert!(!m.mentions(W2));

    // While it is down, W2 dispatches again; then W2 is selected too. Its
    // old dispatch, passed over by the account-wide list, is read back from
    // its own list; the new one comes from the account-wide list: each once.
    h.fake.put_dispatch(succeeded("b2", W2, now_ms()));
    let h = h
        .restart(|c| {
            c.state_file = Some(state_file.clone());
            c.selection.webhook_ids = vec![W1.to_string(), W2.to_string()];
        })
        .await;
    let startup = h.take_routes();
    assert_eq!(
        startup.get(route::WEBHOOK_DISPATCHES),
        Some(&1),
        "{startup:?}"
    );
    let m = h.scrape().await;
    assert_eq!(m.dispatches_total(W1, RUN_OK, "SUCCEEDED"), 1.0);
    assert_eq!(m.dispatches_total(W2, RUN_OK, "SUCCEEDED"), 2.0);
    // Read back once only, also across another restart.
    let h = h
        .restart(|c| {
            c.state_file = Some(state_file.clone());
            c.selection.webhook_ids = vec![W1.to_string(), W2.to_string()];
        })
        .await;
    let m = h.scrape().await;
    assert_eq!(m.dispatches_total(W2, RUN_OK, "SUCCEEDED"), 2.0);
    assert_eq!(h.take_routes().get(route::WEBHOOK_DISPATCHES), None);
    h.stop().await;
}

/// W1 and W2, each with one SUCCEEDED dispatch (`a1` a minute ago, `b1`
/// 50 s ago).
fn two_webhooks_with_a_delivery_each() -> apify_webhook_exporter::demo::FakeApify {
    let fake = account_with_one_webhook();
    fake.put_webhook(webhook(W2, &[RUN_OK]));
    let now = now_ms();
    fake.put_dispatch(succeeded("a1", W1, now - 60_000));
    fake.put_dispatch(succeeded("b1", W2, now - 50_000));
    fake
}
