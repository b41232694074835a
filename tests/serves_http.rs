//! The HTTP surface and the two refresh modes.

mod support;

use std::io::Read;
use std::time::Duration;

use apify_webhook_exporter::config::{Config, Mode};
use apify_webhook_exporter::demo::Fault;
use support::*;

async fn exporter(configure: impl FnOnce(&mut Config)) -> Harness {
    Harness::start(account_with_one_webhook(), configure).await
}

/// Interval mode: refreshes in the background every `period`, and scrapes
/// read what the last one left.
fn interval_mode(period: Duration) -> impl FnOnce(&mut Config) {
    move |c| {
        c.mode = Mode::Interval;
        c.interval = period;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_answer_as_documented() {
    let h = exporter(|_| {}).await;

    let r = h.get("/").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
    assert!(r.text().await.unwrap().contains("href=\"metrics\""));

    let r = h.get("/healthz").await;
    assert_eq!(
        (r.status().as_u16(), r.text().await.unwrap()),
        (200, "ok\n".to_string())
    );
    let r = h.get("/readyz").await;
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    assert!(
        body.starts_with("ok: the last refresh succeeded at "),
        "{body}"
    );
    assert_eq!(h.status("/nope").await, 404);
    assert_eq!(h.status("/metrics/x").await, 404);

    let r = h.http.post(h.at("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "GET, HEAD");

    let r = h.get("/metrics").await;
    assert_eq!(
        r.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    assert!(r.headers().get("content-encoding").is_none());
    let plain = r.text().await.unwrap();
    assert!(plain.contains("apify_up 1\n"));

    let r = h.http.head(h.at("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().len(), 0, "HEAD has no body");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_gzipped_when_accepted() {
    // Interval mode with a long period: both scrapes read the same cache.
    let h = exporter(interval_mode(Duration::from_secs(3600))).await;
    let plain = h.get("/metrics").await.bytes().await.unwrap();
    let r = h
        .http
        .get(h.at("/metrics"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-encoding"], "gzip");
    assert_eq!(r.headers()["vary"], "Accept-Encoding");
    let compressed = r.bytes().await.unwrap();
    assert!(compressed.len() < plain.len());
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(&compressed[..])
        .read_to_end(&mut text)
        .unwrap();
    assert_eq!(text, plain.to_vec());
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_scrapes_share_one_refresh() {
    let h = exporter(|_| {}).await;
    h.take_requests();
    // The next refresh is slow, so every scrape below arrives while it runs.
    h.fake
        .inject(route::WEBHOOKS, Fault::Delay(Duration::from_millis(800)));
    let scrapes = (0..10).map(|_| h.scrape());
    let bodies = futures::future::join_all(scrapes).await;
    assert_eq!(h.take_routes().get(route::WEBHOOKS), Some(&1));
    for m in &bodies {
        assert_eq!(m.refreshes(), 2.0);
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_scrape_reuses_results_younger_than_min_interval() {
    let h = exporter(|c| c.min_interval = Duration::from_secs(3600)).await;
    h.take_requests();
    for _ in 0..3 {
        assert_eq!(h.scrape().await.refreshes(), 1.0);
    }
    assert!(h.take_requests().is_empty());
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interval_mode_refreshes_in_the_background() {
    let h = exporter(interval_mode(Duration::from_millis(100))).await;
    wait_until("three background refreshes", async || {
        h.scrape().await.refreshes() >= 3.0
    })
    .await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_waits_for_the_first_refresh() {
    let fake = account_with_one_webhook();
    fake.inject(route::WEBHOOKS, Fault::Delay(Duration::from_millis(1500)));
    let h = Harness::start_without_waiting(fake, |_| {}).await;
    assert_eq!(h.status("/readyz").await, 503);
    assert_eq!(h.status("/healthz").await, 200);
    h.wait_ready().await;
    h.stop().await;
}
