//! Every response body shape we know of (the official spec's examples, the
//! mock server's random schema-valid bodies, the docs page's sample) decodes,
//! with the values the exporter relies on.

mod support;

use apify_webhook_exporter::api::decode::parse_timestamp;
use apify_webhook_exporter::api::dispatches::{Dispatch, DispatchStatus};
use apify_webhook_exporter::api::webhooks::Webhook;
use apify_webhook_exporter::api::{decode_envelope, decode_page, ApiError, Page};
use support::route;

fn fixture(path: &str) -> Vec<u8> {
    let full = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

fn webhook_list(path: &str) -> Page<Webhook> {
    decode_envelope(route::WEBHOOKS, &fixture(path)).unwrap()
}

fn dispatch_list(path: &str) -> Page<Dispatch> {
    decode_envelope(route::DISPATCHES, &fixture(path)).unwrap()
}

#[test]
fn static_webhook_lists_decode() {
    for path in [
        "static/_v2_webhooks.json",
        "static/_v2_acts_a1_webhooks.json",
        "static/_v2_actors_a1_webhooks.json",
    ] {
        let page = webhook_list(path);
        assert_eq!(page.total, Some(1), "{path}");
        let w = &page.items[0];
        assert_eq!(w.id, "YiKoxjkaS9gjGTqhF");
        assert_eq!(w.event_types, vec!["ACTOR.RUN.SUCCEEDED"]);
        assert_eq!(w.modified_at.as_deref(), Some("2019-12-13T08:36:13.202Z"));
        assert_eq!(w.request_url.as_deref(), Some("http://example.com/"));
        assert_eq!(
            w.condition.as_ref().unwrap().actor_id.as_deref(),
            Some("hksJZtadYvn4mBuin")
        );
        assert_eq!(w.stats.as_ref().unwrap().total_dispatches, Some(1));
        assert_eq!(w.is_ad_hoc, Some(false));
        assert_eq!(w.description, None, "WebhookShort has no description");
    }
    let tasks = webhook_list("static/_v2_actor-tasks_t1_webhooks.json");
    assert_eq!(tasks.items.len(), 2);
    assert_eq!(
        tasks.items[0].description.as_deref(),
        Some("this is webhook description")
    );
}

#[test]
fn static_single_webhook_and_dispatches_decode() {
    let w: Webhook =
        decode_envelope(route::WEBHOOK, &fixture("static/_v2_webhooks_abc.json")).unwrap();
    assert_eq!(
        w.description.as_deref(),
        Some("this is webhook description")
    );

    for path in [
        "static/_v2_webhook-dispatches.json",
        "static/_v2_webhooks_abc_dispatches.json",
    ] {
        let page = dispatch_list(path);
        let d = &page.items[0];
        assert_eq!(d.id, "asdLZtadYvn4mBZmm");
        assert_eq!(d.status, DispatchStatus::Active);
        assert_eq!(d.event_type, "ACTOR.BUILD.ABORTED");
        assert_eq!(
            d.created_at,
            parse_timestamp("2019-12-12T07:34:14.202Z").unwrap()
        );
        assert_eq!(d.calls.len(), 1);
        assert_eq!(d.calls[0].response_status, Some(200));
    }
    let d: Dispatch = decode_envelope(
        route::DISPATCH,
        &fixture("static/_v2_webhook-dispatches_d1.json"),
    )
    .unwrap();
    assert_eq!(d.webhook_id, "asdLZtadYvn4mBZmm");
}

#[test]
fn random_schema_valid_bodies_decode() {
    for path in [
        "dynamic/_v2_webhooks.json",
        "dynamic/_v2_acts_a1_webhooks.json",
        "dynamic/_v2_actors_a1_webhooks.json",
        "dynamic/_v2_actor-tasks_t1_webhooks.json",
    ] {
        let page = webhook_list(path);
        assert_eq!(
            page.total,
            Some(4_302_227),
            "{path}: a nonsense total, read as is"
        );
        assert!(!page.items.is_empty(), "{path}");
        // Negative totalDispatches are dropped, never wrapped.
        assert!(page
            .items
            .iter()
            .all(|w| w.stats.as_ref().and_then(|s| s.total_dispatches) != Some(u64::MAX)));
    }
    let page = webhook_list("dynamic/_v2_webhooks.json");
    assert_eq!(page.items[0].stats.as_ref().unwrap().total_dispatches, None);
    assert_eq!(
        page.items[1].event_types,
        vec!["ACTOR.RUN.SUCCEEDED"],
        "duplicates folded"
    );

    let w: Webhook =
        decode_envelope(route::WEBHOOK, &fixture("dynamic/_v2_webhooks_abc.json")).unwrap();
    assert_eq!(w.request_url, None);
    assert_eq!(w.stats, None);
    assert_eq!(w.do_not_retry, None);

    for path in [
        "dynamic/_v2_webhook-dispatches.json",
        "dynamic/_v2_webhooks_abc_dispatches.json",
    ] {
        let page = dispatch_list(path);
        let first = &page.items[0];
        assert_eq!(first.status, DispatchStatus::Succeeded);
        assert_eq!(first.calls.len(), 4);
        // 7574833 is no HTTP status: treated as no answer.
        assert_eq!(first.calls[0].response_status, None);
        assert_eq!(first.calls[2].started_at, None);
    }
    let d: Dispatch = decode_envelope(
        route::DISPATCH,
        &fixture("dynamic/_v2_webhook-dispatches_d1.json"),
    )
    .unwrap();
    assert_eq!(d.event_type, "ACTOR.BUILD.TIMED_OUT");
    assert!(d.calls.iter().all(|c| c.finished_at.is_none()));
}

#[test]
fn the_docs_sample_with_string_event_data_and_unknown_values_decodes() {
    let page = dispatch_list("seed-dispatch-list.json");
    assert_eq!(page.items.len(), 2);
    assert_eq!(page.items[0].status, DispatchStatus::Active);
    assert_eq!(
        page.items[1].status,
        DispatchStatus::Other("SOMETHING_NEW".into())
    );
    assert_eq!(page.items[1].event_type, "ACTOR.SOMETHING.NEW");
    assert!(page.items[1].calls.is_empty());
}

#[test]
fn a_missing_required_field_names_its_path() {
    let body =
        br#"{"data":{"items":[{"id":"a","webhookId":"w","status":"ACTIVE","eventType":"TEST"}]}}"#;
    let err = decode_envelope::<Page<Dispatch>>(route::DISPATCHES, body).unwrap_err();
    match &err {
        ApiError::Decode { path, .. } => assert_eq!(path, "data.items[0]"),
        other => panic!("expected a decode error, got {other}"),
    }
    assert!(err.to_string().contains("createdAt"), "{err}");
    let err = decode_envelope::<Page<Dispatch>>(route::DISPATCHES, b"<html>").unwrap_err();
    assert_eq!(err.reason().as_str(), "decode");
}

#[test]
fn a_bad_item_is_left_out_of_its_page_not_the_page_out_of_the_list() {
    let body = br#"{"data":{"total":3,"items":[
        {"id":"a","webhookId":"w","createdAt":"2026-11-26T10:00:00.000Z","status":null,"eventType":null,"calls":[null,{"responseStatus":200}]},
        {"id":"b","webhookId":"w","createdAt":"not a time","status":"FAILED","eventType":"TEST"},
        {"id":"c","webhookId":"w","createdAt":"2026-11-26T09:00:00.000Z","status":"FAILED","eventType":"TEST"}
    ]}}"#;
    let page = decode_page::<Dispatch>(route::DISPATCHES, body).unwrap();
    let ids: Vec<&str> = page.items.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, vec!["a", "c"]);
    assert_eq!(page.items[0].status, DispatchStatus::Other(String::new()));
    assert_eq!(page.items[0].event_type, "");
    assert_eq!(page.items[0].calls.len(), 2, "a null call keeps its place");
    assert!(!page.items[0].calls[0].is_finished());
    assert_eq!(page.skipped.len(), 1);
    assert_eq!(page.skipped[0].id.as_deref(), Some("b"));
    match &page.skipped[0].error {
        ApiError::Decode { path, .. } => assert_eq!(path, "data.items[1].createdAt"),
        other => panic!("expected a decode error, got {other}"),
    }
    assert!(decode_page::<Dispatch>(route::DISPATCHES, b"{\"data\":{}}").is_err());
}
