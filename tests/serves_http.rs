//! The HTTP surface and the two refresh modes.

mod support;

use std::io::Read;
use std::time::{Duration, Instant};

use apify_webhook_exporter::config::Mode;
use apify_webhook_exporter::demo::{FakeApify, Fault};
use support::*;

const W1: &str = "W1aaaaaaaaaaaaaaa";

async fn harness(configure: impl FnOnce(&mut apify_webhook_exporter::config::Config)) -> Harness {
    let fake = FakeApify::new(TOKEN);
    fake.put_webhook(webhook(W1, &["ACTOR.RUN.SUCCEEDED"]));
    Harness::start(fake, configure).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_answer_as_documented() {
    let h = harness(|_| {}).await;
    let get = |path: &str| h.http.get(format!("{}{path}", h.url)).send();

    let r = get("/").await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
    assert!(r.text().await.unwrap().contains("href=\"metrics\""));

    let r = get("/healthz").await.unwrap();
    assert_eq!(
        (r.status().as_u16(), r.text().await.unwrap()),
        (200, "ok\n".to_string())
    );
    let r = get("/readyz").await.unwrap();
    assert_eq!(
        (r.status().as_u16(), r.text().await.unwrap()),
        (200, "ready\n".to_string())
    );
    assert_eq!(get("/nope").await.unwrap().status(), 404);
    assert_eq!(get("/metrics/x").await.unwrap().status(), 404);

    let r = h
        .http
        .post(format!("{}/metrics", h.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "GET, HEAD");

    let r = get("/metrics").await.unwrap();
    assert_eq!(
        r.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    assert!(r.headers().get("content-encoding").is_none());
    let plain = r.text().await.unwrap();
    assert!(plain.contains("apify_up 1\n"));

    let r = h
        .http
        .head(format!("{}/metrics", h.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().len(), 0, "HEAD has no body");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_gzipped_when_accepted() {
    // Interval mode with a long period: both scrapes read the same cache.
    let h = harness(|c| {
        c.mode = Mode::Interval;
        c.interval = Duration::from_secs(3600);
    })
    .await;
    let url = format!("{}/metrics", h.url);
    let plain = h
        .http
        .get(&url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let r = h
        .http
        .get(&url)
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
    let h = harness(|_| {}).await;
    h.take_requests();
    // The next refresh is slow, so every scrape below arrives while it runs.
    h.fake
        .inject("/v2/webhooks", Fault::Delay(Duration::from_millis(800)));
    let scrapes = (0..10).map(|_| h.scrape());
    let bodies = futures::future::join_all(scrapes).await;
    assert_eq!(by_route(&h.take_requests()).get("/v2/webhooks"), Some(&1));
    for m in &bodies {
        assert_eq!(
            m.value("apify_exporter_refresh_duration_seconds_count", &[]),
            2.0
        );
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_scrape_reuses_results_younger_than_min_interval() {
    let h = harness(|c| c.min_interval = Duration::from_secs(3600)).await;
    h.take_requests();
    for _ in 0..3 {
        let m = h.scrape().await;
        assert_eq!(
            m.value("apify_exporter_refresh_duration_seconds_count", &[]),
            1.0
        );
    }
    assert!(h.take_requests().is_empty());
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interval_mode_refreshes_in_the_background() {
    let h = harness(|c| {
        c.mode = Mode::Interval;
        c.interval = Duration::from_millis(100);
    })
    .await;
    let started = Instant::now();
    loop {
        let m = h.scrape().await;
        if m.value("apify_exporter_refresh_duration_seconds_count", &[]) >= 3.0 {
            break;
        }
        assert!(started.elapsed() < DEADLINE, "no background refreshes");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_waits_for_the_first_refresh() {
    let fake = FakeApify::new(TOKEN);
    fake.put_webhook(webhook(W1, &["ACTOR.RUN.SUCCEEDED"]));
    // Served by hand: Harness::start would wait for readiness.
    let shutdown = tokio_util::sync::CancellationToken::new();
    let api = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api_url = format!("http://{}", api.local_addr().unwrap());
    fake.inject("/v2/webhooks", Fault::Delay(Duration::from_millis(1500)));
    fake.spawn(api, shutdown.child_token());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let run = tokio::spawn(apify_webhook_exporter::run(
        test_config(&api_url),
        listener,
        shutdown.clone(),
    ));
    let http = reqwest::Client::new();
    let r = http.get(format!("{url}/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(
        http.get(format!("{url}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let started = Instant::now();
    while http
        .get(format!("{url}/readyz"))
        .send()
        .await
        .unwrap()
        .status()
        != 200
    {
        assert!(started.elapsed() < DEADLINE);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    shutdown.cancel();
    tokio::time::timeout(DEADLINE, run)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
