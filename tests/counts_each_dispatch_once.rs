//! The exporter against a fake Apify: exact `/metrics` values across
//! refreshes, with dispatches changing state between them.

mod support;

use apify_webhook_exporter::demo::FakeApify;
use support::*;

const W1: &str = "W1aaaaaaaaaaaaaaa";
const W2: &str = "W2bbbbbbbbbbbbbbb";
const RUN_OK: &str = "ACTOR.RUN.SUCCEEDED";
const RUN_FAILED: &str = "ACTOR.RUN.FAILED";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatches_and_calls_are_counted_once_through_active_to_terminal() {
    let fake = FakeApify::new(TOKEN);
    fake.put_webhook(webhook(W1, &[RUN_OK, RUN_FAILED]));
    let now = now_ms();
    // Terminal on first sight.
    fake.put_dispatch(dispatch(
        "d1",
        W1,
        RUN_OK,
        "SUCCEEDED",
        now - 60_000,
        vec![call(now - 60_000, Some(now - 59_500), Some(200))],
    ));
    // ACTIVE: one failed call, one in flight.
    fake.put_dispatch(dispatch(
        "d2",
        W1,
        RUN_FAILED,
        "ACTIVE",
        now - 30_000,
        vec![
            call(now - 30_000, Some(now - 29_000), Some(500)),
            call(now - 10_000, None, None),
        ],
    ));
    // Older than the 24 h lookback: never counted.
    fake.put_dispatch(dispatch(
        "d0",
        W1,
        RUN_FAILED,
        "FAILED",
        now - 25 * 3_600_000,
        vec![call(
            now - 25 * 3_600_000,
            Some(now - 25 * 3_600_000 + 100),
            Some(500),
        )],
    ));
    let h = Harness::start(fake, |_| {}).await;

    let m = h.scrape().await;
    assert_eq!(dispatches(&m, RUN_OK, "SUCCEEDED"), 1.0);
    assert_eq!(dispatches(&m, RUN_OK, "FAILED"), 0.0);
    assert_eq!(dispatches(&m, RUN_FAILED, "SUCCEEDED"), 0.0);
    assert_eq!(dispatches(&m, RUN_FAILED, "FAILED"), 0.0);
    assert_eq!(calls(&m, RUN_OK, "200"), Some(1.0));
    assert_eq!(calls(&m, RUN_FAILED, "500"), Some(1.0));
    assert_eq!(
        calls(&m, RUN_FAILED, "none"),
        None,
        "a call in flight is not counted yet"
    );
    let a = "apify_webhook_dispatches_active";
    assert_eq!(
        m.value(a, &[("webhook_id", W1), ("event_type", RUN_FAILED)]),
        1.0
    );
    assert_eq!(
        m.value(a, &[("webhook_id", W1), ("event_type", RUN_OK)]),
        0.0
    );
    let oldest = "apify_webhook_oldest_active_dispatch_timestamp_seconds";
    assert_eq!(
        m.value(oldest, &[("webhook_id", W1)]),
        (now - 30_000) as f64 / 1000.0
    );
    assert_eq!(
        m.value(
            "apify_webhook_last_dispatch_timestamp_seconds",
            &[("webhook_id", W1), ("status", "SUCCEEDED")]
        ),
        (now - 60_000) as f64 / 1000.0
    );
    assert_eq!(
        m.value(
            "apify_webhook_reported_dispatches_total",
            &[("webhook_id", W1)]
        ),
        7.0
    );
    assert_eq!(m.value("apify_up", &[]), 1.0);
    assert_eq!(m.value("apify_exporter_webhooks", &[]), 1.0);
    assert_eq!(
        m.value(
            "apify_webhook_info",
            &[
                ("webhook_id", W1),
                ("actor_id", "actor1"),
                ("actor_task_id", ""),
                ("event_types", "ACTOR.RUN.SUCCEEDED,ACTOR.RUN.FAILED"),
                ("request_host", "hooks.example.com"),
                ("is_ad_hoc", "false"),
                ("do_not_retry", "false"),
                ("ignore_ssl_errors", "false"),
                ("description", "hook W1aaaaaaaaaaaaaaa"),
            ]
        ),
        1.0
    );
    assert!(
        !m.mentions("receiver-secret"),
        "only the host of requestUrl is exported"
    );

    // d2 ends FAILED after a timeout (no status) and a 502; d3 arrives.
    h.fake.put_dispatch(dispatch(
        "d2",
        W1,
        RUN_FAILED,
        "FAILED",
        now - 30_000,
        vec![
            call(now - 30_000, Some(now - 29_000), Some(500)),
            call(now - 10_000, Some(now - 5_000), None),
            call(now - 4_000, Some(now - 3_000), Some(502)),
        ],
    ));
    fake_put_new(&h, now);
    h.take_requests();
    let m = h.scrape().await;
    assert_eq!(dispatches(&m, RUN_FAILED, "FAILED"), 1.0);
    assert_eq!(dispatches(&m, RUN_OK, "SUCCEEDED"), 2.0);
    assert_eq!(calls(&m, RUN_FAILED, "500"), Some(1.0), "not counted again");
    assert_eq!(calls(&m, RUN_FAILED, "none"), Some(1.0));
    assert_eq!(calls(&m, RUN_FAILED, "502"), Some(1.0));
    assert_eq!(calls(&m, RUN_OK, "204"), Some(1.0));
    assert_eq!(
        m.value(a, &[("webhook_id", W1), ("event_type", RUN_FAILED)]),
        0.0
    );
    assert_eq!(m.get(oldest, &[("webhook_id", W1)]), None);
    let failed = [("webhook_id", W1), ("status", "FAILED")];
    let attempts = "apify_webhook_dispatch_attempts";
    assert_eq!(m.value(&format!("{attempts}_count"), &failed), 1.0);
    assert_eq!(m.value(&format!("{attempts}_sum"), &failed), 3.0);
    let bucket = |le| [("webhook_id", W1), ("status", "FAILED"), ("le", le)];
    assert_eq!(m.value(&format!("{attempts}_bucket"), &bucket("2")), 0.0);
    assert_eq!(m.value(&format!("{attempts}_bucket"), &bucket("3")), 1.0);
    assert_eq!(
        m.value("apify_webhook_dispatch_delivery_seconds_sum", &failed),
        27.0
    );
    let dur = "apify_webhook_dispatch_call_duration_seconds";
    let class = |c| [("webhook_id", W1), ("response_class", c)];
    assert_eq!(m.value(&format!("{dur}_count"), &class("5xx")), 2.0);
    assert_eq!(m.value(&format!("{dur}_sum"), &class("5xx")), 2.0);
    assert_eq!(m.value(&format!("{dur}_sum"), &class("none")), 5.0);
    assert_eq!(m.value(&format!("{dur}_sum"), &class("2xx")), 1.25);
    // One webhook list, one dispatch page, one re-read of d2.
    let routes = by_route(&h.take_requests());
    assert_eq!(routes.get("/v2/webhooks"), Some(&1));
    assert_eq!(routes.get("/v2/webhook-dispatches"), Some(&1));
    assert_eq!(routes.get("/v2/webhook-dispatches/:id"), Some(&1));

    // Nothing changes: the same numbers, and an idle refresh costs one
    // dispatch-list request and no re-read.
    let again = h.scrape().await;
    assert_eq!(dispatches(&again, RUN_OK, "SUCCEEDED"), 2.0);
    assert_eq!(dispatches(&again, RUN_FAILED, "FAILED"), 1.0);
    assert_eq!(calls(&again, RUN_FAILED, "500"), Some(1.0));
    let routes = by_route(&h.take_requests());
    assert_eq!(routes.get("/v2/webhook-dispatches"), Some(&1));
    assert_eq!(routes.get("/v2/webhook-dispatches/:id"), None);
    assert_eq!(
        routes.get("/v2/webhooks/:id"),
        None,
        "description read only when modifiedAt changes"
    );
    h.stop().await;
}

/// `apify_webhook_dispatches_total` of W1.
fn dispatches(m: &Scrape, event_type: &str, status: &str) -> f64 {
    let labels = [
        ("webhook_id", W1),
        ("event_type", event_type),
        ("status", status),
    ];
    m.value("apify_webhook_dispatches_total", &labels)
}

/// `apify_webhook_dispatch_calls_total` of W1, if the series exists.
fn calls(m: &Scrape, event_type: &str, code: &str) -> Option<f64> {
    let labels = [
        ("webhook_id", W1),
        ("event_type", event_type),
        ("response_status", code),
    ];
    m.get("apify_webhook_dispatch_calls_total", &labels)
}

fn fake_put_new(h: &Harness, now: i64) {
    h.fake.put_dispatch(dispatch(
        "d3",
        W1,
        RUN_OK,
        "SUCCEEDED",
        now - 2_000,
        vec![call(now - 2_000, Some(now - 1_250), Some(204))],
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_past_1000_are_read_once_and_only_new_ones_after() {
    let fake = FakeApify::new(TOKEN);
    fake.put_webhook(webhook(W1, &[RUN_OK]));
    let now = now_ms();
    for i in 0..2500i64 {
        fake.put_dispatch(dispatch(
            &format!("p{i:05}"),
            W1,
            RUN_OK,
            "SUCCEEDED",
            now - 3_600_000 + i * 100,
            vec![call(
                now - 3_600_000 + i * 100,
                Some(now - 3_600_000 + i * 100 + 10),
                Some(200),
            )],
        ));
    }
    let h = Harness::start(fake, |_| {}).await;
    // The start-up refresh read the three pages.
    let startup = by_route(&h.take_requests());
    assert_eq!(startup.get("/v2/webhook-dispatches"), Some(&3));

    let labels = [
        ("webhook_id", W1),
        ("event_type", RUN_OK),
        ("status", "SUCCEEDED"),
    ];
    let m = h.scrape().await;
    assert_eq!(m.value("apify_webhook_dispatches_total", &labels), 2500.0);
    assert_eq!(
        by_route(&h.take_requests()).get("/v2/webhook-dispatches"),
        Some(&1)
    );

    // 150 new ones: a first page of 100, then one more page down to the watermark.
    for i in 0..150i64 {
        h.fake.put_dispatch(dispatch(
            &format!("q{i:05}"),
            W1,
            RUN_OK,
            "SUCCEEDED",
            now + i,
            vec![],
        ));
    }
    let m = h.scrape().await;
    assert_eq!(m.value("apify_webhook_dispatches_total", &labels), 2650.0);
    let requests = h.take_requests();
    let pages: Vec<&str> = requests
        .iter()
        .filter(|r| r.route == "/v2/webhook-dispatches")
        .map(|r| r.query.as_str())
        .collect();
    assert_eq!(
        pages,
        vec![
            "offset=0&limit=100&desc=true",
            "offset=100&limit=1000&desc=true"
        ]
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_webhooks_lose_their_series_and_new_ones_start_at_zero() {
    let fake = FakeApify::new(TOKEN);
    fake.put_webhook(webhook(W1, &[RUN_OK]));
    fake.put_webhook(webhook(W2, &[RUN_FAILED]));
    let now = now_ms();
    fake.put_dispatch(dispatch(
        "x1",
        W2,
        RUN_FAILED,
        "ACTIVE",
        now - 1_000,
        vec![],
    ));
    let h = Harness::start(fake, |_| {}).await;
    let m = h.scrape().await;
    assert_eq!(
        m.value(
            "apify_webhook_dispatches_active",
            &[("webhook_id", W2), ("event_type", RUN_FAILED)]
        ),
        1.0
    );
    assert_eq!(m.value("apify_exporter_webhooks", &[]), 2.0);

    h.fake.remove_webhook(W2);
    h.fake.remove_dispatch("x1");
    let m = h.scrape().await;
    assert!(
        !m.mentions(W2),
        "series of a deleted webhook remain:\n{}",
        m.0
    );
    assert_eq!(m.value("apify_exporter_webhooks", &[]), 1.0);
    assert_eq!(m.value("apify_up", &[]), 1.0);
    assert_eq!(m.count("apify_webhook_info"), 1);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_narrowed_selection_reads_each_webhook_and_skips_the_others() {
    let fake = FakeApify::new(TOKEN);
    fake.put_webhook(webhook(W1, &[RUN_OK]));
    fake.put_webhook(webhook(W2, &[RUN_OK]));
    let now = now_ms();
    fake.put_dispatch(dispatch("a1", W1, RUN_OK, "SUCCEEDED", now - 5_000, vec![]));
    fake.put_dispatch(dispatch("b1", W2, RUN_OK, "SUCCEEDED", now - 4_000, vec![]));
    let h = Harness::start(fake, |c| c.selection.webhook_ids = vec![W1.to_string()]).await;
    h.take_requests();
    let m = h.scrape().await;
    let labels = [
        ("webhook_id", W1),
        ("event_type", RUN_OK),
        ("status", "SUCCEEDED"),
    ];
    assert_eq!(m.value("apify_webhook_dispatches_total", &labels), 1.0);
    assert!(!m.mentions(W2));
    let routes = by_route(&h.take_requests());
    assert_eq!(routes.get("/v2/webhooks/:id"), Some(&1));
    assert_eq!(routes.get("/v2/webhooks/:id/dispatches"), Some(&1));
    assert_eq!(routes.get("/v2/webhook-dispatches"), None);
    assert_eq!(routes.get("/v2/webhooks"), None);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_created_during_a_refresh_has_its_dispatches_counted() {
    let fake = FakeApify::new(TOKEN);
    fake.put_webhook(webhook(W1, &[RUN_OK]));
    let h = Harness::start(fake, |_| {}).await;
    h.take_requests();
    // Hold the dispatch list while W2 and its first dispatch appear: the
    // webhook list this refresh read does not have W2.
    h.fake.inject(
        "/v2/webhook-dispatches",
        apify_webhook_exporter::demo::Fault::Delay(std::time::Duration::from_millis(500)),
    );
    let (http, url) = (h.http.clone(), format!("{}/metrics", h.url));
    let scrape =
        tokio::spawn(async move { http.get(url).send().await.unwrap().text().await.unwrap() });
    let started = std::time::Instant::now();
    while !h
        .fake
        .requests()
        .iter()
        .any(|r| r.route == "/v2/webhook-dispatches")
    {
        assert!(started.elapsed() < DEADLINE);
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    h.fake.put_webhook(webhook(W2, &[RUN_OK]));
    h.fake
        .put_dispatch(dispatch("x1", W2, RUN_OK, "SUCCEEDED", now_ms(), vec![]));
    let m = Scrape(scrape.await.unwrap());
    let labels = [
        ("webhook_id", W2),
        ("event_type", RUN_OK),
        ("status", "SUCCEEDED"),
    ];
    assert_eq!(m.value("apify_webhook_dispatches_total", &labels), 1.0);
    assert_eq!(m.value("apify_exporter_webhooks", &[]), 2.0);
    assert_eq!(
        by_route(&h.take_requests()).get("/v2/webhooks/:id"),
        Some(&1)
    );
    // And once only.
    let m = h.scrape().await;
    assert_eq!(m.value("apify_webhook_dispatches_total", &labels), 1.0);
    h.stop().await;
}
