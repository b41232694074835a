//! The demo account changes under the exporter (dispatches arrive, calls
//! finish, retries pile up, ACTIVE dispatches end) while it refreshes many
//! times; then the account is frozen and every count must equal what the
//! account itself holds: nothing counted twice, nothing lost, and nothing
//! Apify counts left unaccounted. And an exporter restarted against a new
//! demo (a new port) carries on from its state file exactly.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use apify_webhook_exporter::demo::{self, DEMO_ORIGIN, WINDOW};
use apify_webhook_exporter::secret::Secret;
use serde_json::Value;
use support::*;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

/// Label sets of one family, each with the value it should have.
type Series = BTreeMap<Vec<(&'static str, String)>, f64>;

/// What `/metrics` should say of an account that holds `dispatches`.
#[derive(Default)]
struct Expected {
    dispatches_total: Series,
    calls_total: Series,
    active: Series,
}

fn expected_of(dispatches: &[Value]) -> Expected {
    let mut e = Expected::default();
    for d in dispatches {
        let (w, et, status) = (
            text(d, "webhookId"),
            text(d, "eventType"),
            text(d, "status"),
        );
        let series = |last: (&'static str, String)| {
            vec![("webhook_id", w.clone()), ("event_type", et.clone()), last]
        };
        let terminal = status == "SUCCEEDED" || status == "FAILED";
        if terminal {
            *e.dispatches_total
                .entry(series(("status", status)))
                .or_default() += 1.0;
        } else {
            let labels = vec![("webhook_id", w.clone()), ("event_type", et.clone())];
            *e.active.entry(labels).or_default() += 1.0;
        }
        // An ACTIVE dispatch's calls count up to the first one in flight.
        for c in d["calls"].as_array().into_iter().flatten() {
            let code = c["responseStatus"].as_u64().map(|s| s.to_string());
            let finished = !c["finishedAt"].is_null() || code.is_some();
            if !terminal && !finished {
                break;
            }
            let code = code.unwrap_or_else(|| "none".to_string());
            *e.calls_total
                .entry(series(("response_status", code)))
                .or_default() += 1.0;
        }
    }
    e
}

fn text(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn assert_each(m: &Scrape, family: &str, expected: &Series) {
    for (labels, n) in expected {
        let labels: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(m.value(family, &labels), *n, "{family}{labels:?}");
    }
}

/// Asserts that `m` counts exactly what `e` expects: each series, and no
/// series beyond those (the sums agree too). Returns the dispatches counted.
fn assert_counts(m: &Scrape, e: &Expected) -> f64 {
    assert_each(m, "apify_webhook_dispatches_total", &e.dispatches_total);
    assert_each(m, "apify_webhook_dispatch_calls_total", &e.calls_total);
    assert_each(m, "apify_webhook_dispatches_active", &e.active);
    let dispatches: f64 = e.dispatches_total.values().sum();
    assert_eq!(m.sum("apify_webhook_dispatches_total"), dispatches);
    assert_eq!(
        m.sum("apify_webhook_dispatch_calls_total"),
        e.calls_total.values().sum::<f64>()
    );
    dispatches
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

    let dispatches = assert_counts(&m, &expected_of(&h.fake.dispatches()));
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
        c.state_origin = Some(DEMO_ORIGIN.to_owned());
    };
    // In the past, so that nothing the demo shows is in the future.
    let first = OffsetDateTime::now_utc() - time::Duration::minutes(30);
    let second = first + time::Duration::minutes(10);

    let h = Harness::start(demo::account_at(first), configure).await;
    let m = h.scrape().await;
    let before = assert_counts(&m, &expected_of(&h.fake.dispatches()));
    h.stop().await;

    let h = Harness::start(demo::account_at(second), configure).await;
    let m = h.scrape().await;
    assert_eq!(m.up(), 1.0);
    let dispatches = assert_counts(&m, &expected_of(&demo::history(first - WINDOW, second)));
    // Ten minutes of slots (one every 4 s) and their stuck ones since.
    let ended_since = dispatches - before;
    assert!((140.0..=160.0).contains(&ended_since), "{ended_since}");
    // A fresh start would count only what the second demo still holds:
    // about 150 fewer, the oldest ten minutes gone to retention.
    let fresh: f64 = expected_of(&h.fake.dispatches())
        .dispatches_total
        .values()
        .sum();
    assert!(dispatches - fresh >= 140.0, "{dispatches} vs {fresh}");
    // (Reconciliation is not asserted here: its baseline is the wall clock,
    // and these demos stand half an hour in the past; the test above checks
    // it in real time.)
    h.stop().await;
}
