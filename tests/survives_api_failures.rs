//! API failures: rate limiting, auth, 5xx, malformed JSON, slow answers.
//! A failed refresh keeps the last values, sets `apify_up 0`, counts the
//! error by reason, and never loses or doubles a dispatch.

mod support;

use std::time::{Duration, Instant};

use apify_webhook_exporter::demo::{FakeApify, Fault};
use support::*;

const W1: &str = "W1aaaaaaaaaaaaaaa";
const RUN_OK: &str = "ACTOR.RUN.SUCCEEDED";
const DISPATCHES: &str = "/v2/webhook-dispatches";
const WEBHOOKS: &str = "/v2/webhooks";

fn succeeded(s: &Scrape) -> f64 {
    s.value(
        "apify_webhook_dispatches_total",
        &[
            ("webhook_id", W1),
            ("event_type", RUN_OK),
            ("status", "SUCCEEDED"),
        ],
    )
}

fn errors(s: &Scrape, reason: &str) -> f64 {
    s.value("apify_exporter_refresh_errors_total", &[("reason", reason)])
}

fn requests(s: &Scrape, endpoint: &str, code: &str) -> f64 {
    s.get(
        "apify_exporter_api_requests_total",
        &[("endpoint", endpoint), ("code", code)],
    )
    .unwrap_or(0.0)
}

async fn account_with_one_dispatch() -> Harness {
    let fake = FakeApify::new(TOKEN);
    fake.put_webhook(webhook(W1, &[RUN_OK]));
    fake.put_dispatch(dispatch(
        "d1",
        W1,
        RUN_OK,
        "SUCCEEDED",
        now_ms() - 10_000,
        vec![],
    ));
    Harness::start(fake, |c| c.timeout = Duration::from_millis(500)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_is_retried_after_retry_after() {
    let h = account_with_one_dispatch().await;
    h.fake.inject(WEBHOOKS, Fault::rate_limited(1));
    let started = Instant::now();
    let m = h.scrape().await;
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After not honoured"
    );
    assert_eq!(m.value("apify_up", &[]), 1.0);
    assert_eq!(requests(&m, WEBHOOKS, "429"), 1.0);
    assert_eq!(requests(&m, WEBHOOKS, "200"), 2.0, "start-up and the retry");
    assert_eq!(errors(&m, "rate_limited"), 0.0);
    assert_eq!(succeeded(&m), 1.0);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_fails_the_refresh_without_retry_and_keeps_the_values() {
    let h = account_with_one_dispatch().await;
    h.fake.inject(
        WEBHOOKS,
        Fault::status(401, "token-not-valid", "Authentication token is not valid."),
    );
    let m = h.scrape().await;
    assert_eq!(m.value("apify_up", &[]), 0.0);
    assert_eq!(errors(&m, "auth"), 1.0);
    assert_eq!(requests(&m, WEBHOOKS, "401"), 1.0);
    assert_eq!(succeeded(&m), 1.0, "last values kept");
    assert_eq!(m.value("apify_exporter_webhooks", &[]), 1.0);

    let m = h.scrape().await;
    assert_eq!(
        m.value("apify_up", &[]),
        1.0,
        "recovers on the next refresh"
    );
    assert_eq!(errors(&m, "auth"), 1.0);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_500s_fail_the_refresh_and_nothing_is_lost_after() {
    let h = account_with_one_dispatch().await;
    for _ in 0..5 {
        h.fake.inject(
            DISPATCHES,
            Fault::status(500, "internal-server-error", "Internal error"),
        );
    }
    // Created while the API fails: must be counted once it recovers.
    h.fake.put_dispatch(dispatch(
        "d2",
        W1,
        RUN_OK,
        "SUCCEEDED",
        now_ms() - 1_000,
        vec![],
    ));
    let m = h.scrape().await;
    assert_eq!(m.value("apify_up", &[]), 0.0);
    assert_eq!(errors(&m, "http"), 1.0);
    assert_eq!(
        requests(&m, DISPATCHES, "500"),
        5.0,
        "first attempt + 4 retries"
    );
    assert_eq!(succeeded(&m), 1.0);

    let m = h.scrape().await;
    assert_eq!(m.value("apify_up", &[]), 1.0);
    assert_eq!(succeeded(&m), 2.0);
    let m = h.scrape().await;
    assert_eq!(succeeded(&m), 2.0, "counted once");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_500_is_retried_transparently() {
    let h = account_with_one_dispatch().await;
    h.fake
        .inject(DISPATCHES, Fault::status(503, "unavailable", "try later"));
    let m = h.scrape().await;
    assert_eq!(m.value("apify_up", &[]), 1.0);
    assert_eq!(requests(&m, DISPATCHES, "503"), 1.0);
    assert_eq!(errors(&m, "http"), 0.0);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_is_a_decode_error_not_retried() {
    let h = account_with_one_dispatch().await;
    h.fake.inject(DISPATCHES, Fault::Malformed);
    let m = h.scrape().await;
    assert_eq!(m.value("apify_up", &[]), 0.0);
    assert_eq!(errors(&m, "decode"), 1.0);
    assert_eq!(
        requests(&m, DISPATCHES, "200"),
        2.0,
        "start-up + the malformed one, no retry"
    );
    assert_eq!(succeeded(&m), 1.0);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_answer_times_out_and_is_retried() {
    let h = account_with_one_dispatch().await;
    h.fake
        .inject(DISPATCHES, Fault::Delay(Duration::from_secs(3)));
    let m = h.scrape().await;
    assert_eq!(requests(&m, DISPATCHES, "timeout"), 1.0);
    assert_eq!(m.value("apify_up", &[]), 1.0);
    assert_eq!(errors(&m, "timeout"), 0.0);
    assert_eq!(succeeded(&m), 1.0);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_active_dispatch_gone_404_is_forgotten_uncounted() {
    let fake = FakeApify::new(TOKEN);
    fake.put_webhook(webhook(W1, &[RUN_OK]));
    fake.put_dispatch(dispatch(
        "d1",
        W1,
        RUN_OK,
        "ACTIVE",
        now_ms() - 10_000,
        vec![],
    ));
    let h = Harness::start(fake, |_| {}).await;
    let active = [("webhook_id", W1), ("event_type", RUN_OK)];
    assert_eq!(
        h.scrape()
            .await
            .value("apify_webhook_dispatches_active", &active),
        1.0
    );
    h.fake.remove_dispatch("d1");
    let m = h.scrape().await;
    assert_eq!(m.value("apify_webhook_dispatches_active", &active), 0.0);
    assert_eq!(
        m.value("apify_up", &[]),
        1.0,
        "a 404 on re-read is no refresh error"
    );
    assert_eq!(requests(&m, "/v2/webhook-dispatches/:id", "404"), 1.0);
    assert_eq!(succeeded(&m), 0.0);
    h.stop().await;
}

/// 1500 new SUCCEEDED dispatches: two pages after the first page of 100.
fn add_1500_new(h: &Harness) {
    let now = now_ms();
    for i in 0..1500i64 {
        let id = format!("n{i:05}");
        h.fake.put_dispatch(dispatch(
            &id,
            W1,
            RUN_OK,
            "SUCCEEDED",
            now - 5_000 + i,
            vec![],
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pass_broken_between_pages_resumes_without_double_counting() {
    let h = account_with_one_dispatch().await;
    add_1500_new(&h);
    // The first page (100 newest) answers; the second fails every retry.
    h.fake.inject(DISPATCHES, Fault::Delay(Duration::ZERO));
    for _ in 0..5 {
        h.fake
            .inject(DISPATCHES, Fault::status(502, "bad-gateway", "upstream"));
    }
    let m = h.scrape().await;
    assert_eq!(m.value("apify_up", &[]), 0.0);
    assert_eq!(
        succeeded(&m),
        101.0,
        "what the broken pass counted stays counted"
    );

    let m = h.scrape().await;
    assert_eq!(m.value("apify_up", &[]), 1.0);
    assert_eq!(succeeded(&m), 1501.0);
    let m = h.scrape().await;
    assert_eq!(succeeded(&m), 1501.0);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scraper_hanging_up_mid_refresh_loses_and_doubles_nothing() {
    let h = account_with_one_dispatch().await;
    add_1500_new(&h);
    // The second page is slow; the scraper gives up before it comes.
    h.fake.inject(DISPATCHES, Fault::Delay(Duration::ZERO));
    h.fake
        .inject(DISPATCHES, Fault::Delay(Duration::from_millis(400)));
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(150))
        .build()
        .unwrap();
    assert!(impatient
        .get(format!("{}/metrics", h.url))
        .send()
        .await
        .is_err());
    let m = h.scrape().await;
    assert_eq!(succeeded(&m), 1501.0);
    assert_eq!(m.value("apify_up", &[]), 1.0);
    h.stop().await;
}
