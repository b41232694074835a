//! Hostile or broken answers against the exporter: a lone surrogate, an
//! item that does not decode, a date far ahead, a `total` that lies, a
//! redirect to another origin, a body over 64 MiB. None stops counting or
//! skews it: the bad item is left out, reported once in
//! `apify_exporter_skipped_items_total`, and the refresh goes on with
//! `apify_up 1`; what is not the API's answer fails the refresh and keeps
//! the last values.

mod support;

use apify_webhook_exporter::demo::{FakeApify, Fault};
use serde_json::Value;
use support::*;

fn skipped(m: &Scrape, reason: &str) -> f64 {
    m.value("apify_exporter_skipped_items_total", &[("reason", reason)])
}

/// `item` as JSON text with `MARK` replaced by `replacement`, which may be
/// what no `Value` can hold (a lone surrogate escape).
fn raw_with(item: &Value, replacement: &str) -> String {
    item.to_string().replace("MARK", replacement)
}

/// W1 with one SUCCEEDED dispatch `d1` made ten seconds ago.
fn account_with_d1() -> FakeApify {
    let fake = account_with_one_webhook();
    fake.put_dispatch(succeeded("d1", W1, now_ms() - 10_000));
    fake
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_surrogate_in_a_dispatch_reads_as_a_replacement_character() {
    let fake = account_with_d1();
    let mut cut = dispatch("d2MARK", W1, RUN_OK, "SUCCEEDED", now_ms() - 5_000, vec![]);
    cut["calls"] = serde_json::json!([answered(now_ms() - 5_000, 100, 200)]);
    cut["calls"][0]["responseBody"] = "thanks MARK".into();
    // The fake places it by this value; it answers the raw text.
    let placed = succeeded("d2MARK", W1, now_ms() - 5_000);
    fake.put_raw_dispatch(placed, &raw_with(&cut, "\\ud83d"));
    let h = Harness::start(fake, |_| {}).await;

    let m = h.scrape().await;
    assert_eq!(m.up(), 1.0);
    assert_eq!(m.succeeded_total(), 2.0);
    assert_eq!(m.calls_total(W1, RUN_OK, "200"), Some(1.0));
    assert_eq!(skipped(&m, "undecodable"), 0.0);
    assert_eq!(m.refresh_errors("decode"), 0.0);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_surrogate_in_a_webhook_request_url_keeps_every_webhook() {
    let fake = FakeApify::new(TOKEN);
    let mut w1 = webhook(W1, &[RUN_OK]);
    w1["requestUrl"] = "https://hooks.example.com/MARK?key=receiver-secret".into();
    w1["description"] = "hook with a cut emoji MARK".into();
    fake.put_raw_webhook(webhook(W1, &[RUN_OK]), &raw_with(&w1, "\\ud83d"));
    fake.put_webhook(webhook(W2, &[RUN_OK]));
    fake.put_dispatch(succeeded("d1", W1, now_ms() - 10_000));
    let h = Harness::start(fake, |_| {}).await;

    let m = h.scrape().await;
    assert_eq!(m.up(), 1.0);
    assert_eq!(m.webhooks(), 2.0);
    assert_eq!(m.count("apify_webhook_info"), 2);
    let info = [
        ("webhook_id", W1),
        ("actor_id", "actor1"),
        ("actor_task_id", ""),
        ("actor_name", ""),
        ("actor_task_name", ""),
        ("event_types", RUN_OK),
        ("request_host", "hooks.example.com"),
        ("is_ad_hoc", "false"),
        ("do_not_retry", "false"),
        ("ignore_ssl_errors", "false"),
        ("description", "hook with a cut emoji \u{FFFD}"),
    ];
    assert_eq!(m.value("apify_webhook_info", &info), 1.0);
    assert_eq!(m.succeeded_total(), 1.0);
    assert_eq!(m.dispatches_total(W2, RUN_OK, "SUCCEEDED"), 0.0);
    assert_eq!(skipped(&m, "undecodable"), 0.0);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispatch_with_a_bad_created_at_is_skipped_once_and_counting_goes_on() {
    let fake = account_with_d1();
    let bad = succeeded("bad", W1, now_ms() - 5_000);
    let mut broken = bad.clone();
    broken["createdAt"] = "the day before yesterday".into();
    // Newest in the list: on the first page of every refresh.
    fake.put_raw_dispatch(bad, &broken.to_string());
    let h = Harness::start(fake, |_| {}).await;

    let m = h.scrape().await;
    assert_eq!(m.up(), 1.0, "no longer a refresh error");
    assert_eq!(m.refresh_errors("decode"), 0.0);
    assert_eq!(m.succeeded_total(), 1.0);
    assert_eq!(skipped(&m, "undecodable"), 1.0);

    h.fake.put_dispatch(succeeded("d2", W1, now_ms() - 1_000));
    let m = h.scrape().await;
    assert_eq!(m.up(), 1.0);
    assert_eq!(m.succeeded_total(), 2.0, "later dispatches still count");
    assert_eq!(
        skipped(&m, "undecodable"),
        1.0,
        "once per item, not per read"
    );
    assert_eq!(skipped(&m, "future_timestamp"), 0.0);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispatch_whose_calls_are_not_a_list_is_skipped_once() {
    let fake = account_with_d1();
    let placed = succeeded("odd", W1, now_ms() - 5_000);
    let mut odd = placed.clone();
    odd["calls"] = serde_json::json!({"0": answered(now_ms() - 5_000, 100, 200)});
    fake.put_raw_dispatch(placed, &odd.to_string());
    let h = Harness::start(fake, |_| {}).await;

    h.fake.put_dispatch(succeeded("d2", W1, now_ms() - 1_000));
    for _ in 0..2 {
        let m = h.scrape().await;
        assert_eq!(m.up(), 1.0);
        assert_eq!(m.succeeded_total(), 2.0);
        assert_eq!(m.calls_total(W1, RUN_OK, "200"), None, "none of its calls");
        assert_eq!(skipped(&m, "undecodable"), 1.0);
        assert_eq!(m.refresh_errors("decode"), 0.0);
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_active_dispatch_whose_reread_does_not_decode_is_reported_once_and_still_followed() {
    let at = now_ms() - 10_000;
    let fake = account_with_one_webhook();
    fake.put_dispatch(dispatch("d1", W1, RUN_OK, "ACTIVE", at, vec![]));
    let h = Harness::start(fake, |_| {}).await;
    assert_eq!(h.scrape().await.active(W1, RUN_OK), 1.0);

    let done = dispatch("d1", W1, RUN_OK, "SUCCEEDED", at, vec![]);
    let mut odd = done.clone();
    odd["calls"] = "not a list".into();
    h.fake.put_raw_dispatch(done.clone(), &odd.to_string());
    for _ in 0..2 {
        let m = h.scrape().await;
        assert_eq!(m.up(), 1.0);
        assert_eq!(skipped(&m, "undecodable"), 1.0);
        assert_eq!(m.active(W1, RUN_OK), 1.0, "still followed");
        assert_eq!(m.succeeded_total(), 0.0);
    }

    h.fake.put_dispatch(done);
    let m = h.scrape().await;
    assert_eq!(m.active(W1, RUN_OK), 0.0);
    assert_eq!(m.succeeded_total(), 1.0);
    assert_eq!(skipped(&m, "undecodable"), 1.0);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undecodable_webhook_item_is_skipped_once_and_the_others_kept() {
    let fake = account_with_d1();
    let mut odd = webhook(W2, &[RUN_OK]);
    odd["id"] = 42.into();
    fake.put_raw_webhook(webhook(W2, &[RUN_OK]), &odd.to_string());
    let h = Harness::start(fake, |_| {}).await;

    for _ in 0..2 {
        let m = h.scrape().await;
        assert_eq!(m.up(), 1.0);
        assert_eq!(m.webhooks(), 1.0);
        assert_eq!(m.succeeded_total(), 1.0);
        assert_eq!(skipped(&m, "undecodable"), 1.0);
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispatch_dated_far_ahead_is_skipped_and_later_dispatches_still_count() {
    let fake = account_with_d1();
    let year_9999 = apify_webhook_exporter::api::decode::parse_timestamp("9999-12-31T00:00:00Z")
        .expect("a timestamp");
    fake.put_dispatch(succeeded("future", W1, year_9999));
    // Six minutes ahead: past the five minutes clocks may differ by.
    fake.put_dispatch(succeeded("soon", W1, now_ms() + 6 * 60_000));
    let h = Harness::start(fake, |_| {}).await;

    let m = h.scrape().await;
    assert_eq!(m.up(), 1.0);
    assert_eq!(m.succeeded_total(), 1.0);
    assert_eq!(skipped(&m, "future_timestamp"), 2.0);

    h.fake.put_dispatch(succeeded("d2", W1, now_ms() - 1_000));
    let m = h.scrape().await;
    assert_eq!(m.succeeded_total(), 2.0, "the watermark did not move ahead");
    assert_eq!(skipped(&m, "future_timestamp"), 2.0, "once per item");

    // Its time comes (here: Apify dates it now): left out once, it stays
    // out, so that it is never both skipped and counted.
    h.fake.put_dispatch(succeeded("soon", W1, now_ms() - 500));
    // Within the five minutes: believed, and counted.
    h.fake.put_dispatch(succeeded("d3", W1, now_ms() + 60_000));
    let m = h.scrape().await;
    assert_eq!(m.up(), 1.0);
    assert_eq!(m.succeeded_total(), 3.0);
    assert_eq!(skipped(&m, "future_timestamp"), 2.0);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_total_that_understates_the_list_does_not_cut_it() {
    let fake = account_with_one_webhook();
    let now = now_ms();
    for i in 0..2_500i64 {
        fake.put_dispatch(succeeded(&format!("d{i:05}"), W1, now - 60_000 + i));
    }
    fake.set_list_total(Some(1));
    let h = Harness::start(fake, |_| {}).await;
    let first_pass = h.take_routes();
    assert_eq!(
        first_pass.get(route::DISPATCHES),
        Some(&3),
        "1000 + 1000 + 500: the short page ends the list"
    );

    let m = h.scrape().await;
    assert_eq!(m.up(), 1.0);
    assert_eq!(m.succeeded_total(), 2_500.0);
    assert_eq!(h.take_routes().get(route::DISPATCHES), Some(&1));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_to_another_origin_is_not_followed() {
    let h = Harness::start(account_with_d1(), |_| {}).await;
    // Another origin: the same fake API on another port, with nothing in it.
    let elsewhere = FakeApify::new(TOKEN);
    let (other, stop_elsewhere) = serve_fake(&elsewhere).await;
    let location = format!("{other}/v2/webhook-dispatches?offset=0&limit=100&desc=true");
    h.fake.inject(route::DISPATCHES, Fault::redirect(&location));

    let m = h.scrape().await;
    assert_eq!(m.up(), 0.0);
    assert_eq!(m.refresh_errors("http"), 1.0);
    assert_eq!(m.succeeded_total(), 1.0, "last values kept");
    assert_eq!(m.webhooks(), 1.0);
    let redirected = [("endpoint", route::DISPATCHES), ("code", "302")];
    assert_eq!(
        m.value("apify_exporter_api_requests_total", &redirected),
        1.0
    );
    assert_eq!(elsewhere.requests(), [], "not one request went there");

    // Within the API's own origin a redirect is followed.
    let same = format!(
        "{}/v2/webhook-dispatches?offset=0&limit=100&desc=true",
        h.api
    );
    h.fake.inject(route::DISPATCHES, Fault::redirect(&same));
    h.fake.put_dispatch(succeeded("d2", W1, now_ms() - 1_000));
    let m = h.scrape().await;
    assert_eq!(m.up(), 1.0);
    assert_eq!(m.succeeded_total(), 2.0);
    assert_eq!(m.refresh_errors("http"), 1.0);
    stop_elsewhere.cancel();
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_64_mib_is_a_decode_error_and_not_retried() {
    let h = Harness::start(account_with_d1(), |_| {}).await;
    h.take_requests();
    let bytes = 64 * 1024 * 1024 + 1;
    h.fake.inject(route::DISPATCHES, Fault::Oversized { bytes });

    let m = h.scrape().await;
    assert_eq!(m.up(), 0.0);
    assert_eq!(m.refresh_errors("decode"), 1.0);
    assert_eq!(m.refresh_errors("network"), 0.0);
    assert_eq!(m.succeeded_total(), 1.0, "last values kept");
    assert_eq!(
        h.take_routes().get(route::DISPATCHES),
        Some(&1),
        "asked once: no retry"
    );

    let m = h.scrape().await;
    assert_eq!(m.up(), 1.0);
    assert_eq!(m.succeeded_total(), 1.0);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_left_out_are_not_reported_again_after_a_restart() {
    let dir = temp_dir("skipped-restart");
    let state_file = dir.path().join("state.json");
    let fake = account_with_d1();
    let bad = succeeded("bad", W1, now_ms() - 5_000);
    let mut broken = bad.clone();
    broken["createdAt"] = "soon".into();
    fake.put_raw_dispatch(bad, &broken.to_string());
    fake.put_dispatch(succeeded("ahead", W1, now_ms() + 3_600_000));
    let h = Harness::start(fake, |c| c.state_file = Some(state_file.clone())).await;
    let m = h.scrape().await;
    assert_eq!(skipped(&m, "undecodable"), 1.0);
    assert_eq!(skipped(&m, "future_timestamp"), 1.0);

    // Both are still listed; the counter starts again at 0 and stays there.
    let h = h.restart(|c| c.state_file = Some(state_file.clone())).await;
    h.fake.put_dispatch(succeeded("d2", W1, now_ms() - 1_000));
    let m = h.scrape().await;
    assert_eq!(m.up(), 1.0);
    assert_eq!(skipped(&m, "undecodable"), 0.0);
    assert_eq!(skipped(&m, "future_timestamp"), 0.0);
    assert_eq!(m.succeeded_total(), 2.0);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_that_does_not_page_is_given_up_even_when_every_item_is_left_out() {
    // A full first page (1000, the first pass's limit), every item dated
    // an hour ahead, answered again at every offset.
    let fake = account_with_one_webhook();
    let ahead = now_ms() + 3_600_000;
    for i in 0..1000 {
        fake.put_dispatch(succeeded(&format!("f{i:04}"), W1, ahead + i));
    }
    fake.ignore_offset(true);
    let h = Harness::start(fake, |_| {}).await;
    let routes = h.take_routes();
    assert_eq!(routes.get(route::DISPATCHES), Some(&2), "{routes:?}");
    // This scrape refreshes again: the same two requests, then given up.
    let m = h.scrape().await;
    let routes = h.take_routes();
    assert_eq!(routes.get(route::DISPATCHES), Some(&2), "{routes:?}");
    assert_eq!(m.up(), 0.0);
    assert_eq!(m.refresh_errors("http"), 2.0);
    assert_eq!(skipped(&m, "future_timestamp"), 1000.0);
    h.stop().await;
}
