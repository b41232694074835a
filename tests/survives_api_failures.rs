//! API failures: rate limiting, auth, 5xx, malformed JSON, slow answers.
//! A failed refresh keeps the last values, sets `apify_up 0`, counts the
//! error by reason, and never loses or doubles a dispatch.

mod support;

use std::time::{Duration, Instant};

use apify_webhook_exporter::demo::Fault;
use support::*;

/// `apify_exporter_api_requests_total`, if the series exists.
fn requests(m: &Scrape, endpoint: &str, code: &str) -> Option<f64> {
    let labels = [("endpoint", endpoint), ("code", code)];
    m.get("apify_exporter_api_requests_total", &labels)
}

/// W1 with one SUCCEEDED dispatch, and a request timeout short enough for
/// the tests to trip it.
async fn exporter_of_one_dispatch() -> Harness {
    let fake = account_with_one_dispatch("SUCCEEDED", 10_000);
    Harness::start(fake, |c| c.timeout = Duration::from_millis(500)).await
}

/// Makes the next `n` answers on `route` this `fault`: with 5, the first
/// attempt of one request and all its retries fail.
fn inject_times(h: &Harness, route: &str, n: usize, fault: Fault) {
    for _ in 0..n {
        h.fake.inject(route, fault.clone());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_is_retried_after_retry_after() {
    let h = exporter_of_one_dispatch().await;
    h.fake.inject(route::WEBHOOKS, Fault::rate_limited(1));
    let started = Instant::now();
    let m = h.scrape().await;
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After not honoured"
    );
    assert_eq!(m.up(), 1.0);
    assert_eq!(requests(&m, route::WEBHOOKS, "429"), Some(1.0));
    assert_eq!(
        requests(&m, route::WEBHOOKS, "200"),
        Some(2.0),
        "start-up and the retry"
    );
    assert_eq!(m.refresh_errors("rate_limited"), 0.0);
    assert_eq!(m.succeeded_total(), 1.0);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_fails_the_refresh_without_retry_and_keeps_the_values() {
    let h = exporter_of_one_dispatch().await;
    let not_valid = Fault::status(401, "token-not-valid", "Authentication token is not valid.");
    h.fake.inject(route::WEBHOOKS, not_valid);
    let m = h.scrape().await;
    assert_eq!(m.up(), 0.0);
    assert_eq!(m.refresh_errors("auth"), 1.0);
    assert_eq!(requests(&m, route::WEBHOOKS, "401"), Some(1.0));
    assert_eq!(m.succeeded_total(), 1.0, "last values kept");
    assert_eq!(m.webhooks(), 1.0);

    let m = h.scrape().await;
    assert_eq!(m.up(), 1.0, "recovers on the next refresh");
    assert_eq!(m.refresh_errors("auth"), 1.0);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_500s_fail_the_refresh_and_nothing_is_lost_after() {
    let h = exporter_of_one_dispatch().await;
    let error = Fault::status(500, "internal-server-error", "Internal error");
    inject_times(&h, route::DISPATCHES, 5, error);
    // Created while the API fails: must be counted once it recovers.
    h.fake.put_dispatch(succeeded("d2", W1, now_ms() - 1_000));
    let m = h.scrape().await;
    assert_eq!(m.up(), 0.0);
    assert_eq!(m.refresh_errors("http"), 1.0);
    let failed = requests(&m, route::DISPATCHES, "500");
    assert_eq!(failed, Some(5.0), "first attempt + 4 retries");
    assert_eq!(m.succeeded_total(), 1.0);

    let m = h.scrape().await;
    assert_eq!(m.up(), 1.0);
    assert_eq!(m.succeeded_total(), 2.0);
    let m = h.scrape().await;
    assert_eq!(m.succeeded_total(), 2.0, "counted once");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_500_is_retried_transparently() {
    let h = exporter_of_one_dispatch().await;
    let unavailable = Fault::status(503, "unavailable", "try later");
    h.fake.inject(route::DISPATCHES, unavailable);
    let m = h.scrape().await;
    assert_eq!(m.up(), 1.0);
    assert_eq!(requests(&m, route::DISPATCHES, "503"), Some(1.0));
    assert_eq!(m.refresh_errors("http"), 0.0);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_is_a_decode_error_not_retried() {
    let h = exporter_of_one_dispatch().await;
    h.fake.inject(route::DISPATCHES, Fault::Malformed);
    let m = h.scrape().await;
    assert_eq!(m.up(), 0.0);
    assert_eq!(m.refresh_errors("decode"), 1.0);
    let answered = requests(&m, route::DISPATCHES, "200");
    assert_eq!(
        answered,
        Some(2.0),
        "start-up + the malformed one, no retry"
    );
    assert_eq!(m.succeeded_total(), 1.0);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_answer_times_out_and_is_retried() {
    let h = exporter_of_one_dispatch().await;
    h.fake
        .inject(route::DISPATCHES, Fault::Delay(Duration::from_secs(3)));
    let m = h.scrape().await;
    assert_eq!(requests(&m, route::DISPATCHES, "timeout"), Some(1.0));
    assert_eq!(m.up(), 1.0);
    assert_eq!(m.refresh_errors("timeout"), 0.0);
    assert_eq!(m.succeeded_total(), 1.0);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_active_dispatch_gone_404_is_forgotten_uncounted() {
    let h = Harness::start(account_with_one_dispatch("ACTIVE", 10_000), |_| {}).await;
    assert_eq!(h.scrape().await.active(W1, RUN_OK), 1.0);
    h.fake.remove_dispatch("d1");
    let m = h.scrape().await;
    assert_eq!(m.active(W1, RUN_OK), 0.0);
    assert_eq!(m.up(), 1.0, "a 404 on re-read is no refresh error");
    assert_eq!(requests(&m, route::DISPATCH, "404"), Some(1.0));
    assert_eq!(m.succeeded_total(), 0.0);
    h.stop().await;
}

/// 1500 new SUCCEEDED dispatches: two pages after the first page of 100.
fn add_1500_new(h: &Harness) {
    let now = now_ms();
    for i in 0..1500i64 {
        h.fake
            .put_dispatch(succeeded(&format!("n{i:05}"), W1, now - 5_000 + i));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pass_broken_between_pages_resumes_without_double_counting() {
    let h = exporter_of_one_dispatch().await;
    add_1500_new(&h);
    // The first page (100 newest) answers; the second fails every retry.
    h.fake
        .inject(route::DISPATCHES, Fault::Delay(Duration::ZERO));
    let error = Fault::status(502, "bad-gateway", "upstream");
    inject_times(&h, route::DISPATCHES, 5, error);
    let m = h.scrape().await;
    assert_eq!(m.up(), 0.0);
    assert_eq!(
        m.succeeded_total(),
        101.0,
        "what the broken pass counted stays counted"
    );

    let m = h.scrape().await;
    assert_eq!(m.up(), 1.0);
    assert_eq!(m.succeeded_total(), 1501.0);
    let m = h.scrape().await;
    assert_eq!(m.succeeded_total(), 1501.0);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scraper_hanging_up_mid_refresh_loses_and_doubles_nothing() {
    let h = exporter_of_one_dispatch().await;
    add_1500_new(&h);
    // The second page is slow; the scraper gives up before it comes.
    h.fake
        .inject(route::DISPATCHES, Fault::Delay(Duration::ZERO));
    h.fake
        .inject(route::DISPATCHES, Fault::Delay(Duration::from_millis(400)));
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(150))
        .build()
        .unwrap();
    assert!(impatient.get(h.at("/metrics")).send().await.is_err());
    let m = h.scrape().await;
    assert_eq!(m.succeeded_total(), 1501.0);
    assert_eq!(m.up(), 1.0);
    h.stop().await;
}
