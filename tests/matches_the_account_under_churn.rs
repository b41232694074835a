//! The demo account changes under the exporter (dispatches arrive, calls
//! finish, retries pile up, ACTIVE dispatches end) while it refreshes many
//! times; then the account is frozen and every count must equal what the
//! account itself holds: nothing counted twice, nothing lost, and nothing
//! Apify counts left unaccounted. And an exporter restarted against a new
//! demo (a new port) carries on from its state file exactly.

mod support;

use std::time::{Duration, Instant};

use apify_webhook_exporter::demo::{self, WINDOW};
use apify_webhook_exporter::secret::Secret;
use serde_json::Value;
use support::model::Counts;
use support::*;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

/// Asserts that `m` counts what an account holding `dispatches` should
/// show: exactly its dispatches and calls (series at zero aside), and each
/// of its ACTIVE series. Returns the dispatches counted.
fn assert_counts(m: &Scrape, dispatches: &[Value]) -> f64 {
    let expected = Counts::of_account(dispatches).without_zeros();
    let shown = Counts::of(m).without_zeros();
    assert_eq!(
        shown.dispatches, expected.dispatches,
        "apify_webhook_dispatches_total"
    );
    assert_eq!(
        shown.calls, expected.calls,
        "apify_webhook_dispatch_calls_total"
    );
    for (labels, n) in &expected.active {
        assert_eq!(
            shown.active.get(labels),
            Some(n),
            "apify_webhook_dispatches_active{labels:?}"
        );
    }
    expected.dispatches.values().sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_equal_the_account_after_seconds_of_churn() {
    let server = CancellationToken::new();
    let simulation = CancellationToken::new();
    // Without retention, so that what the account holds at the end is all
    // the exporter could have seen.
    let demo = demo::start_with(server.clone(), simulation.clone(), false)
        .await
        .unwrap();
    let h = Harness::against(demo.fake.clone(), demo.base_url.clone(), server, |c| {
        c.token = Secret::new(demo.token.clone());
        c.lookback = Duration::from_secs(48 * 3600);
    })
    .await;

    // Refresh every 200 ms for 8 s while the simulation moves: the pace of
    // the churn, not a wait for anything.
    let started = Instant::now();
    let mut refreshes = 0;
    while started.elapsed() < Duration::from_secs(8) {
        if let Ok(r) = h.http.get(h.at("/metrics")).send().await {
            refreshes += usize::from(r.status() == 200);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(refreshes >= 20, "only {refreshes} refreshes");
    simulation.cancel();
    demo.simulation.await.unwrap();
    let m = h.scrape().await;
    assert_eq!(m.up(), 1.0);

    let dispatches = assert_counts(&m, &h.fake.dispatches());
    assert!(dispatches > 5_000.0, "the demo shows six hours of history");
    // Apify's own count agrees: every webhook reconciled, none unaccounted.
    let unaccounted = "apify_webhook_unaccounted_dispatches";
    assert_eq!(m.count(unaccounted), 5, "one per demo webhook");
    assert_eq!(m.sum(unaccounted), 0.0);
    h.stop().await;
}

/// Two demos ten minutes apart, each on its own port: the second exporter
/// reads the first one's state file (kept for the demo's fixed origin, not
/// its port), re-reads the dispatches it left ACTIVE and counts what was
/// shown since, so its counts equal the account's whole history since the
/// first start, including dispatches retention has removed since.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_demo_exporter_carries_its_counts_on_exactly() {
    let dir = temp_dir("demo-restart");
    let state_file = dir.path().join("state.json");
    let configure = |c: &mut apify_webhook_exporter::config::Config| {
        c.token = Secret::new(demo::simulation::DEMO_TOKEN);
        c.state_file = Some(state_file.clone());
    };
    // In the past, so that nothing the demo shows is in the future.
    let first = OffsetDateTime::now_utc() - time::Duration::minutes(30);
    let second = first + time::Duration::minutes(10);

    let h = Harness::start_demo_account(demo::account_at(first), configure).await;
    let m = h.scrape().await;
    let before = assert_counts(&m, &h.fake.dispatches());
    h.stop().await;

    let h = Harness::start_demo_account(demo::account_at(second), configure).await;
    let m = h.scrape().await;
    assert_eq!(m.up(), 1.0);
    let dispatches = assert_counts(&m, &demo::history(first - WINDOW, second));
    // Ten minutes of slots (one every 4 s) and their stuck ones since.
    let ended_since = dispatches - before;
    assert!((140.0..=160.0).contains(&ended_since), "{ended_since}");
    // A fresh start would count only what the second demo still holds:
    // about 150 fewer, the oldest ten minutes gone to retention.
    let fresh: f64 = Counts::of_account(&h.fake.dispatches())
        .dispatches
        .values()
        .sum();
    assert!(dispatches - fresh >= 140.0, "{dispatches} vs {fresh}");
    // (Reconciliation is not asserted here: its baseline is the wall clock,
    // and these demos stand half an hour in the past; the test above checks
    // it in real time.)
    h.stop().await;
}
