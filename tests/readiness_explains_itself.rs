//! `/readyz` turns 200 once the first refresh has been tried, failed or
//! not (an exporter that is not ready is not scraped, and its `apify_up 0`
//! would reach no one), and its body, like a line of `/`, tells how the
//! last refresh went: waiting, ok and when, or failed with the reason, the
//! cause, the origin and since when.

mod support;

use apify_webhook_exporter::clock::{parse_timestamp, Millis};
use apify_webhook_exporter::demo::{Fault, Gate};
use support::*;

/// The status and body of `path`.
async fn answer(h: &Harness, path: &str) -> (u16, String) {
    let r = h.get(path).await;
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The time in `body` after `prefix` and before `suffix`, checked to be
/// within `range`.
fn time_between(body: &str, prefix: &str, suffix: &str, range: (Millis, Millis)) -> Millis {
    let at = body
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_suffix(suffix))
        .and_then(parse_timestamp)
        .unwrap_or_else(|| panic!("{body:?} is not {prefix:?} <time> {suffix:?}"));
    assert!(
        range.0 <= at && at <= range.1,
        "{body}: not within {range:?}"
    );
    at
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_and_the_landing_page_tell_the_last_refresh() {
    let fake = account_with_one_webhook();
    // The first refresh is held until it has been asked about.
    let gate = Gate::new();
    fake.inject(route::WEBHOOKS, Fault::Hold(gate.clone()));
    let h = Harness::start_without_waiting(fake, |_| {}).await;
    assert_eq!(
        answer(&h, "/readyz").await,
        (503, "waiting for the first refresh to finish\n".to_owned())
    );
    let (code, page) = answer(&h, "/").await;
    assert_eq!(code, 200);
    assert!(
        page.contains("<p>Last refresh: waiting for the first refresh to finish</p>"),
        "{page}"
    );

    let started = now_ms();
    gate.open();
    h.wait_ready().await;
    let (code, body) = answer(&h, "/readyz").await;
    assert_eq!(code, 200);
    let ok = "ok: the last refresh succeeded at ";
    time_between(&body, ok, "\n", (started - 2_000, now_ms()));

    // Apify's message is the API's text: escaped in HTML, as is in text.
    let refused = Fault::status(401, "token-not-valid", "<b>bad</b> & \"token\"");
    h.fake.inject(route::WEBHOOKS, refused.clone());
    let before = now_ms();
    assert_eq!(h.scrape().await.up(), 0.0);
    let after = now_ms();
    let (code, body) = answer(&h, "/readyz").await;
    assert_eq!(code, 200, "ready: a failed refresh is still an attempt");
    let failed = format!(
        "failed: auth: /v2/webhooks: HTTP 401 (token-not-valid: <b>bad</b> & \"token\") (origin {}, failing since ",
        h.api
    );
    let since = time_between(&body, &failed, ")\n", (before, after));
    let (_, page) = answer(&h, "/").await;
    assert!(
        page.contains(&format!(
            "<p>Last refresh: failed: auth: /v2/webhooks: HTTP 401 (token-not-valid: &lt;b&gt;bad&lt;/b&gt; &amp; \"token\") (origin {}, failing since ",
            h.api
        )),
        "{page}"
    );
    assert!(!page.contains("<b>bad"), "{page}");

    // Failing again: since the first failure, not the last.
    h.fake.inject(route::WEBHOOKS, refused);
    assert_eq!(h.scrape().await.up(), 0.0);
    let (_, body) = answer(&h, "/readyz").await;
    assert_eq!(time_between(&body, &failed, ")\n", (before, after)), since);

    let before = now_ms();
    assert_eq!(h.scrape().await.up(), 1.0);
    let (code, body) = answer(&h, "/readyz").await;
    assert_eq!(code, 200);
    time_between(&body, ok, "\n", (before, now_ms()));
    h.stop().await;
}
