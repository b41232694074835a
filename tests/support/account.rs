//! The account the fake serves: the token, the ids the tests share, and
//! webhooks, dispatches and calls as JSON in the shape the Apify API sends.

use apify_webhook_exporter::demo::FakeApify;
use serde_json::{json, Value};

pub const TOKEN: &str = "apify_api_TestTokenValue0123456789";

pub const W1: &str = "W1aaaaaaaaaaaaaaa";
pub const W2: &str = "W2bbbbbbbbbbbbbbb";
pub const RUN_OK: &str = "ACTOR.RUN.SUCCEEDED";
pub const RUN_FAILED: &str = "ACTOR.RUN.FAILED";

/// W1 on RUN_OK, never dispatched: enough to be ready and serve `/metrics`.
pub fn account_with_one_webhook() -> FakeApify {
    let fake = FakeApify::new(TOKEN);
    fake.put_webhook(webhook(W1, &[RUN_OK]));
    fake
}

/// W1 on RUN_OK with one dispatch, `d1`, in `status` since `ago_ms` ago
/// and with no call recorded.
pub fn account_with_one_dispatch(status: &str, ago_ms: i64) -> FakeApify {
    let fake = account_with_one_webhook();
    fake.put_dispatch(dispatch(
        "d1",
        W1,
        RUN_OK,
        status,
        now_ms() - ago_ms,
        vec![],
    ));
    fake
}

pub fn now_ms() -> i64 {
    apify_webhook_exporter::clock::now_millis()
}

pub fn iso(ms: i64) -> String {
    apify_webhook_exporter::api::decode::format_timestamp(ms)
}

/// A webhook of actor1 with 7 dispatches reported by Apify and a receiver
/// URL whose query holds a secret.
pub fn webhook(id: &str, event_types: &[&str]) -> Value {
    json!({
        "id": id,
        "createdAt": "2026-01-01T00:00:00.000Z",
        "modifiedAt": "2026-01-02T00:00:00.000Z",
        "userId": "u1",
        "isAdHoc": false,
        "eventTypes": event_types,
        "condition": {"actorId": "actor1", "actorTaskId": null, "actorRunId": null},
        "ignoreSslErrors": false,
        "doNotRetry": false,
        "requestUrl": "https://hooks.example.com/path?key=receiver-secret",
        "description": format!("hook {id}"),
        "stats": {"totalDispatches": 7},
    })
}

/// One call to the receiver: no `finished` while it runs, no `status` when
/// it got no answer.
pub fn call(started: i64, finished: Option<i64>, status: Option<u16>) -> Value {
    json!({
        "startedAt": iso(started),
        "finishedAt": finished.map(iso),
        "responseStatus": status,
        "errorMessage": null,
        "responseBody": "ok",
    })
}

/// A call that got `status` back `took_ms` after it started.
pub fn answered(started: i64, took_ms: i64, status: u16) -> Value {
    call(started, Some(started + took_ms), Some(status))
}

pub fn dispatch(
    id: &str,
    webhook_id: &str,
    event_type: &str,
    status: &str,
    created_at: i64,
    calls: Vec<Value>,
) -> Value {
    json!({
        "id": id,
        "userId": "u1",
        "webhookId": webhook_id,
        "createdAt": iso(created_at),
        "status": status,
        "eventType": event_type,
        "eventData": {"actorId": "actor1", "actorRunId": "run1"},
        "calls": calls,
    })
}

/// A RUN_OK dispatch that SUCCEEDED, for tests that count dispatches and
/// not their calls.
pub fn succeeded(id: &str, webhook_id: &str, created_at: i64) -> Value {
    dispatch(id, webhook_id, RUN_OK, "SUCCEEDED", created_at, vec![])
}
