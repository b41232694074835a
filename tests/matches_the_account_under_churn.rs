//! The demo account changes under the exporter (dispatches arrive, calls
//! finish, retries pile up, ACTIVE dispatches end) while it refreshes many
//! times; then the account is frozen and every count must equal what the
//! account itself holds: nothing counted twice, nothing lost.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use apify_webhook_exporter::secret::Secret;
use serde_json::Value;
use support::*;
use tokio_util::sync::CancellationToken;

type Key = (String, String, String);

fn sum_of(m: &Scrape, prefix: &str) -> f64 {
    m.0.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse::<f64>().ok()))
        .sum()
}

fn text(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_equal_the_account_after_seconds_of_churn() {
    let server = CancellationToken::new();
    let simulation = CancellationToken::new();
    let demo = apify_webhook_exporter::demo::start_with(server.clone(), simulation.clone())
        .await
        .unwrap();
    let mut config = test_config(&demo.base_url);
    config.token = Secret::new(demo.token.clone());
    config.lookback = Duration::from_secs(48 * 3600);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/metrics", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    let run = tokio::spawn(apify_webhook_exporter::run(config, listener, stop.clone()));
    let http = reqwest::Client::builder()
        .timeout(DEADLINE)
        .build()
        .unwrap();

    // Refresh every 200 ms for 8 s while the simulation moves.
    let started = Instant::now();
    let mut refreshes = 0;
    while started.elapsed() < Duration::from_secs(8) {
        if let Ok(r) = http.get(&url).send().await {
            refreshes += usize::from(r.status() == 200);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(refreshes >= 20, "only {refreshes} refreshes");
    simulation.cancel();
    demo.simulation.await.unwrap();
    let m = Scrape(http.get(&url).send().await.unwrap().text().await.unwrap());
    assert_eq!(m.value("apify_up", &[]), 1.0);

    let mut dispatches: BTreeMap<Key, f64> = BTreeMap::new();
    let mut calls: BTreeMap<Key, f64> = BTreeMap::new();
    let mut active: BTreeMap<(String, String), f64> = BTreeMap::new();
    for d in demo.fake.dispatches() {
        let (w, et, status) = (
            text(&d, "webhookId"),
            text(&d, "eventType"),
            text(&d, "status"),
        );
        let terminal = status == "SUCCEEDED" || status == "FAILED";
        if terminal {
            *dispatches
                .entry((w.clone(), et.clone(), status))
                .or_default() += 1.0;
        } else {
            *active.entry((w.clone(), et.clone())).or_default() += 1.0;
        }
        for c in d["calls"].as_array().into_iter().flatten() {
            let code = c["responseStatus"].as_u64().map(|s| s.to_string());
            let finished = !c["finishedAt"].is_null() || code.is_some();
            if !terminal && !finished {
                break;
            }
            let code = code.unwrap_or_else(|| "none".to_string());
            *calls.entry((w.clone(), et.clone(), code)).or_default() += 1.0;
        }
    }
    assert!(
        dispatches.values().sum::<f64>() > 100.0,
        "the demo seeds a day of history"
    );
    for ((w, et, status), n) in &dispatches {
        let labels = [
            ("webhook_id", w.as_str()),
            ("event_type", et.as_str()),
            ("status", status.as_str()),
        ];
        assert_eq!(
            m.value("apify_webhook_dispatches_total", &labels),
            *n,
            "{labels:?}"
        );
    }
    for ((w, et, code), n) in &calls {
        let labels = [
            ("webhook_id", w.as_str()),
            ("event_type", et.as_str()),
            ("response_status", code.as_str()),
        ];
        assert_eq!(
            m.value("apify_webhook_dispatch_calls_total", &labels),
            *n,
            "{labels:?}"
        );
    }
    for ((w, et), n) in &active {
        let labels = [("webhook_id", w.as_str()), ("event_type", et.as_str())];
        assert_eq!(
            m.value("apify_webhook_dispatches_active", &labels),
            *n,
            "{labels:?}"
        );
    }
    // And no series beyond those: the sums agree too.
    assert_eq!(
        sum_of(&m, "apify_webhook_dispatches_total{"),
        dispatches.values().sum::<f64>()
    );
    assert_eq!(
        sum_of(&m, "apify_webhook_dispatch_calls_total{"),
        calls.values().sum::<f64>()
    );

    stop.cancel();
    server.cancel();
    tokio::time::timeout(DEADLINE, run)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
