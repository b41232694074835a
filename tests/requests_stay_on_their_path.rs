//! Ids go into request paths as one percent-encoded segment each, whatever
//! the API sent: an id with `/`, `?` or a space reaches its own resource,
//! and a `..` is never requested (it would resolve to another resource).

mod support;

use apify_webhook_exporter::demo::{FakeApify, RecordedRequest};
use support::*;

/// Every request the fake saw matched one of its routes: none went to a
/// path that an id bent out of shape.
fn assert_all_routed(requests: &[RecordedRequest]) {
    let stray: Vec<&str> = requests
        .iter()
        .filter(|r| r.route.is_empty())
        .map(|r| r.path.as_str())
        .collect();
    assert!(stray.is_empty(), "requests outside every route: {stray:?}");
}

/// Serves `fake` with an ACTIVE dispatch `id` of `webhook` added, and
/// refreshes twice (at start-up, where the dispatch is first listed, and
/// once more, where it would be re-read): the second scrape, and every
/// request the fake saw, all routed.
async fn refresh_with_active(
    fake: FakeApify,
    id: &str,
    webhook: &str,
) -> (Scrape, Vec<RecordedRequest>) {
    fake.put_dispatch(dispatch(
        id,
        webhook,
        RUN_OK,
        "ACTIVE",
        now_ms() - 1_000,
        vec![],
    ));
    let h = Harness::start(fake, |_| {}).await;
    let m = h.scrape().await;
    let requests = h.take_requests();
    h.stop().await;
    assert_all_routed(&requests);
    (m, requests)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_ids_from_the_api_are_percent_encoded() {
    let hook = "W1 a/b?c#d";
    let fake = FakeApify::new(TOKEN);
    fake.put_webhook(webhook(hook, &[RUN_OK]));
    let (m, requests) = refresh_with_active(fake, "d/1?x", hook).await;
    let paths = |route: &str| -> Vec<&str> {
        requests
            .iter()
            .filter(|r| r.route == route)
            .map(|r| r.path.as_str())
            .collect()
    };
    assert_eq!(
        paths(route::DISPATCH),
        vec!["/v2/webhook-dispatches/d%2F1%3Fx"]
    );
    assert_eq!(
        paths(route::WEBHOOK),
        vec!["/v2/webhooks/W1%20a%2Fb%3Fc%23d"]
    );
    assert_eq!(m.up(), 1.0);
    assert_eq!(
        m.value(
            "apify_webhook_dispatches_active",
            &[("webhook_id", hook), ("event_type", RUN_OK)]
        ),
        1.0
    );
    // The description comes from GET /v2/webhooks/:id, read with the id
    // encoded (at start-up, when the webhook was first seen).
    assert!(m.mentions("description=\"hook W1 a/b?c#d\""), "{}", m.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dot_dot_id_from_the_api_is_skipped_and_never_requested() {
    let (m, requests) = refresh_with_active(account_with_one_webhook(), "..", W1).await;
    assert!(
        requests.iter().all(|r| r.route != route::DISPATCH),
        "{requests:?}"
    );
    // Left out as undecodable, once, and the refresh goes on.
    assert_eq!(m.up(), 1.0);
    assert_eq!(
        m.value(
            "apify_exporter_skipped_items_total",
            &[("reason", "undecodable")]
        ),
        1.0
    );
    assert_eq!(
        m.value(
            "apify_exporter_refresh_errors_total",
            &[("reason", "decode")]
        ),
        0.0
    );
    assert_eq!(m.active(W1, RUN_OK), 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_selected_actor_name_is_one_segment() {
    let fake = account_with_one_webhook();
    let h = Harness::start(fake, |c| {
        c.selection.actor_ids = vec!["janedoe~my-actor".into()];
    })
    .await;
    let requests = h.take_requests();
    h.stop().await;

    assert_all_routed(&requests);
    assert!(
        requests
            .iter()
            .any(|r| r.route == route::ACT_WEBHOOKS
                && r.path == "/v2/acts/janedoe~my-actor/webhooks"),
        "{requests:?}"
    );
}
