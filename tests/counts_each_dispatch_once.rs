//! The exporter against a fake Apify: exact `/metrics` values across
//! refreshes, with dispatches changing state between them.

mod support;

use std::time::Duration;

use apify_webhook_exporter::demo::FakeApify;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatches_and_calls_are_counted_once_through_active_to_terminal() {
    let fake = FakeApify::new(TOKEN);
    fake.put_webhook(webhook(W1, &[RUN_OK, RUN_FAILED]));
    let now = now_ms();
    let (d1_at, d2_at, d3_at) = (now - 60_000, now - 30_000, now - 2_000);
    // Terminal on first sight.
    let d1_calls = vec![answered(d1_at, 500, 200)];
    fake.put_dispatch(dispatch("d1", W1, RUN_OK, "SUCCEEDED", d1_at, d1_calls));
    // ACTIVE: one failed call, one in flight.
    let d2_calls = vec![answered(d2_at, 1_000, 500), call(now - 10_000, None, None)];
    fake.put_dispatch(dispatch("d2", W1, RUN_FAILED, "ACTIVE", d2_at, d2_calls));
    // Older than the 24 h lookback: never counted.
    let d0_at = now - 25 * 3_600_000;
    let d0_calls = vec![answered(d0_at, 100, 500)];
    fake.put_dispatch(dispatch("d0", W1, RUN_FAILED, "FAILED", d0_at, d0_calls));
    let h = Harness::start(fake, |_| {}).await;

    let m = h.scrape().await;
    assert_eq!(m.dispatches_total(W1, RUN_OK, "SUCCEEDED"), 1.0);
    assert_eq!(m.dispatches_total(W1, RUN_OK, "FAILED"), 0.0);
    assert_eq!(m.dispatches_total(W1, RUN_FAILED, "SUCCEEDED"), 0.0);
    assert_eq!(m.dispatches_total(W1, RUN_FAILED, "FAILED"), 0.0);
    assert_eq!(m.calls_total(W1, RUN_OK, "200"), Some(1.0));
    assert_eq!(m.calls_total(W1, RUN_FAILED, "500"), Some(1.0));
    assert_eq!(
        m.calls_total(W1, RUN_FAILED, "none"),
        None,
        "a call in flight is not counted yet"
    );
    assert_eq!(m.active(W1, RUN_FAILED), 1.0);
    assert_eq!(m.active(W1, RUN_OK), 0.0);
    let oldest = "apify_webhook_oldest_active_dispatch_timestamp_seconds";
    assert_eq!(
        m.value(oldest, &[("webhook_id", W1)]),
        d2_at as f64 / 1000.0
    );
    let last = "apify_webhook_last_dispatch_timestamp_seconds";
    let succeeded = [("webhook_id", W1), ("status", "SUCCEEDED")];
    assert_eq!(m.value(last, &succeeded), d1_at as f64 / 1000.0);
    let reported = "apify_webhook_reported_dispatches_total";
    // 7 as the webhook was put, plus the three dispatches put since.
    assert_eq!(m.value(reported, &[("webhook_id", W1)]), 10.0);
    assert_eq!(m.up(), 1.0);
    assert_eq!(m.webhooks(), 1.0);
    let info = [
        ("webhook_id", W1),
        ("actor_id", "actor1"),
        ("actor_task_id", ""),
        ("actor_name", ""),
        ("actor_task_name", ""),
        ("event_types", "ACTOR.RUN.SUCCEEDED,ACTOR.RUN.FAILED"),
        ("request_host", "hooks.example.com"),
        ("is_ad_hoc", "false"),
        ("do_not_retry", "false"),
        ("ignore_ssl_errors", "false"),
        ("description", "hook W1aaaaaaaaaaaaaaa"),
    ];
    assert_eq!(m.value("apify_webhook_info", &info), 1.0);
    assert!(
        !m.mentions("receiver-secret"),
        "only the host of requestUrl is exported"
    );

    // d2 ends FAILED after a timeout (no status) and a 502; d3 arrives.
    let d2_calls = vec![
        answered(d2_at, 1_000, 500),
        call(now - 10_000, Some(now - 5_000), None),
        answered(now - 4_000, 1_000, 502),
    ];
    let d2 = dispatch("d2", W1, RUN_FAILED, "FAILED", d2_at, d2_calls);
    h.fake.put_dispatch(d2);
    let d3_calls = vec![answered(d3_at, 750, 204)];
    h.fake
        .put_dispatch(dispatch("d3", W1, RUN_OK, "SUCCEEDED", d3_at, d3_calls));
    h.take_requests();
    let m = h.scrape().await;
    assert_eq!(m.dispatches_total(W1, RUN_FAILED, "FAILED"), 1.0);
    assert_eq!(m.succeeded_total(), 2.0);
    assert_eq!(
        m.calls_total(W1, RUN_FAILED, "500"),
        Some(1.0),
        "not counted again"
    );
    assert_eq!(m.calls_total(W1, RUN_FAILED, "none"), Some(1.0));
    assert_eq!(m.calls_total(W1, RUN_FAILED, "502"), Some(1.0));
    assert_eq!(m.calls_total(W1, RUN_OK, "204"), Some(1.0));
    assert_eq!(m.active(W1, RUN_FAILED), 0.0);
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
    let routes = h.take_routes();
    assert_eq!(routes.get(route::WEBHOOKS), Some(&1));
    assert_eq!(routes.get(route::DISPATCHES), Some(&1));
    assert_eq!(routes.get(route::DISPATCH), Some(&1));

    // Nothing changes: the same numbers, and an idle refresh costs one
    // dispatch-list request and no re-read.
    let again = h.scrape().await;
    assert_eq!(again.succeeded_total(), 2.0);
    assert_eq!(again.dispatches_total(W1, RUN_FAILED, "FAILED"), 1.0);
    assert_eq!(again.calls_total(W1, RUN_FAILED, "500"), Some(1.0));
    let routes = h.take_routes();
    assert_eq!(routes.get(route::DISPATCHES), Some(&1));
    assert_eq!(routes.get(route::DISPATCH), None);
    assert_eq!(
        routes.get(route::WEBHOOK),
        None,
        "description read only when modifiedAt changes"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_past_1000_are_read_once_and_only_new_ones_after() {
    let fake = account_with_one_webhook();
    let now = now_ms();
    for i in 0..2500i64 {
        let at = now - 3_600_000 + i * 100;
        let calls = vec![answered(at, 10, 200)];
        fake.put_dispatch(dispatch(
            &format!("p{i:05}"),
            W1,
            RUN_OK,
            "SUCCEEDED",
            at,
            calls,
        ));
    }
    let h = Harness::start(fake, |_| {}).await;
    // The start-up refresh read the three pages.
    assert_eq!(h.take_routes().get(route::DISPATCHES), Some(&3));

    let m = h.scrape().await;
    assert_eq!(m.succeeded_total(), 2500.0);
    assert_eq!(h.take_routes().get(route::DISPATCHES), Some(&1));

    // 150 new ones: a first page of 100, then one more page down to the watermark.
    for i in 0..150i64 {
        h.fake
            .put_dispatch(succeeded(&format!("q{i:05}"), W1, now + i));
    }
    let m = h.scrape().await;
    assert_eq!(m.succeeded_total(), 2650.0);
    let requests = h.take_requests();
    let pages: Vec<&str> = requests
        .iter()
        .filter(|r| r.route == route::DISPATCHES)
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
    let fake = account_with_one_webhook();
    fake.put_webhook(webhook(W2, &[RUN_FAILED]));
    fake.put_dispatch(dispatch(
        "x1",
        W2,
        RUN_FAILED,
        "ACTIVE",
        now_ms() - 1_000,
        vec![],
    ));
    let h = Harness::start(fake, |_| {}).await;
    let m = h.scrape().await;
    assert_eq!(m.active(W2, RUN_FAILED), 1.0);
    assert_eq!(m.webhooks(), 2.0);

    h.fake.remove_webhook(W2);
    h.fake.remove_dispatch("x1");
    let m = h.scrape().await;
    assert!(
        !m.mentions(W2),
        "series of a deleted webhook remain:\n{}",
        m.0
    );
    assert_eq!(m.webhooks(), 1.0);
    assert_eq!(m.up(), 1.0);
    assert_eq!(m.count("apify_webhook_info"), 1);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_narrowed_selection_reads_the_account_list_and_skips_the_others() {
    let fake = account_with_one_webhook();
    fake.put_webhook(webhook(W2, &[RUN_OK]));
    let now = now_ms();
    fake.put_dispatch(succeeded("a1", W1, now - 5_000));
    fake.put_dispatch(succeeded("b1", W2, now - 4_000));
    let h = Harness::start(fake, |c| c.selection.webhook_ids = vec![W1.to_string()]).await;
    h.take_requests();
    let m = h.scrape().await;
    assert_eq!(m.succeeded_total(), 1.0);
    assert!(!m.mentions(W2));
    // The account-wide list, filtered here: W2's dispatch costs nothing.
    let routes = h.take_routes();
    assert_eq!(routes.get(route::WEBHOOK), Some(&1));
    assert_eq!(routes.get(route::DISPATCHES), Some(&1));
    assert_eq!(routes.get(route::WEBHOOK_DISPATCHES), None);
    assert_eq!(routes.get(route::WEBHOOKS), None);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_created_during_a_refresh_has_its_dispatches_counted() {
    let h = Harness::start(account_with_one_webhook(), |_| {}).await;
    h.take_requests();
    // W2 and its first dispatch appear while the dispatch list is held: the
    // webhook list this refresh read does not have W2.
    let m = scrape_while_w2_appears(&h, Duration::from_millis(500)).await;
    assert_eq!(m.dispatches_total(W2, RUN_OK, "SUCCEEDED"), 1.0);
    assert_eq!(m.webhooks(), 2.0);
    assert_eq!(h.take_routes().get(route::WEBHOOK), Some(&1));
    // And once only.
    let m = h.scrape().await;
    assert_eq!(m.dispatches_total(W2, RUN_OK, "SUCCEEDED"), 1.0);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_newest_failed_dispatch_names_its_run() {
    const INFO: &str = "apify_webhook_last_failed_dispatch_info";
    let fake = account_with_one_webhook();
    let now = now_ms();
    let (f1_at, f2_at, f3_at) = (now - 60_000, now - 40_000, now - 20_000);
    fake.put_dispatch(dispatch(
        "f1",
        W1,
        RUN_OK,
        "FAILED",
        f1_at,
        vec![answered(f1_at, 1_000, 500)],
    ));
    let mut f2 = dispatch(
        "f2",
        W1,
        RUN_OK,
        "FAILED",
        f2_at,
        vec![
            answered(f2_at, 1_000, 503),
            call(f2_at + 5_000, Some(f2_at + 6_000), None),
        ],
    );
    // Some of Apify's samples give eventData as a JSON string.
    f2["eventData"] = r#"{"actorRunId":"Run2abcDEF012345"}"#.into();
    fake.put_dispatch(f2);
    fake.put_dispatch(dispatch("f3", W1, RUN_OK, "ACTIVE", f3_at, vec![]));
    let h = Harness::start(fake, |_| {}).await;

    let m = h.scrape().await;
    let newest = |m: &Scrape| m.series(INFO).into_iter().collect::<Vec<_>>();
    let labels = |d: &str, run: &str, status: &str| {
        sorted_labels(&[
            ("webhook_id", W1),
            ("event_type", RUN_OK),
            ("dispatch_id", d),
            ("actor_run_id", run),
            ("response_status", status),
        ])
    };
    // The newer of the two failed ones; its last call got no answer.
    assert_eq!(
        newest(&m),
        vec![(
            labels("f2", "Run2abcDEF012345", "none"),
            f2_at as f64 / 1000.0
        )]
    );

    // The ACTIVE one, newer, fails: it replaces the older one.
    let f3 = dispatch(
        "f3",
        W1,
        RUN_OK,
        "FAILED",
        f3_at,
        vec![answered(f3_at, 1_000, 404)],
    );
    h.fake.put_dispatch(f3);
    let m = h.scrape().await;
    assert_eq!(
        newest(&m),
        vec![(labels("f3", "run1", "404"), f3_at as f64 / 1000.0)]
    );
    h.stop().await;
}
