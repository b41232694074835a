//! The `bench` scenario: a fake Apify account of a chosen size, for the
//! benchmarks in `scripts/bench.sh` (the exporter runs as its own process,
//! so its memory is measured alone).
//!
//!     cargo run --release --example fake_api -- bench <webhooks> <dispatches> <event-types-per-webhook>
//!
//! Every dispatch is terminal, created within the last 23 hours, with one or
//! two calls of assorted statuses; nothing moves once it is filled.

use apify_webhook_exporter::api::decode::format_timestamp;
use apify_webhook_exporter::clock::now_millis;
use apify_webhook_exporter::demo::FakeApify;
use serde_json::json;

const EVENT_TYPES: [&str; 6] = [
    "ACTOR.RUN.SUCCEEDED",
    "ACTOR.RUN.FAILED",
    "ACTOR.RUN.TIMED_OUT",
    "ACTOR.RUN.ABORTED",
    "ACTOR.BUILD.SUCCEEDED",
    "ACTOR.BUILD.FAILED",
];
const STATUSES: [Option<u16>; 6] = [Some(200), Some(204), Some(500), Some(503), Some(404), None];

/// The `n`th argument as a count; `default` when it is missing or not one.
fn arg(args: &[String], n: usize, default: u64) -> u64 {
    args.get(n).and_then(|a| a.parse().ok()).unwrap_or(default)
}

/// The account `args` (`<webhooks> <dispatches> <event-types-per-webhook>`)
/// asks for, filled, and what stdin commands add to it.
pub fn account(args: &[String]) -> (FakeApify, Runs) {
    let webhooks = arg(args, 0, 50).max(1);
    let dispatches = arg(args, 1, 100_000);
    let per_webhook = arg(args, 2, 2).clamp(1, EVENT_TYPES.len() as u64) as usize;
    let fake = FakeApify::new("bench-token");
    fake.set_request_log_limit(Some(0));
    for w in 0..webhooks {
        fake.put_webhook(json!({
            "id": format!("bench{w:012}"),
            "createdAt": "2026-01-01T00:00:00.000Z",
            "modifiedAt": "2026-01-01T00:00:00.000Z",
            "eventTypes": &EVENT_TYPES[..per_webhook],
            "condition": {"actorId": format!("actor{w:012}")},
            "ignoreSslErrors": false,
            "doNotRetry": false,
            "requestUrl": format!("https://receiver-{w}.example.com/hook"),
            "description": format!("bench webhook {w}"),
            // The fake adds each dispatch put below.
            "stats": {"totalDispatches": 0},
        }));
    }
    let now = now_millis();
    let span = 23 * 3_600_000i64;
    for i in 0..dispatches {
        let i = i as i64;
        let created = now - span + (i * span) / dispatches.max(1) as i64;
        let w = i as u64 % webhooks;
        let status = STATUSES[(i % 6) as usize];
        let mut calls = vec![json!({
            "startedAt": format_timestamp(created + 100),
            "finishedAt": format_timestamp(created + 100 + (i % 5000)),
            "responseStatus": status,
        })];
        if i % 3 == 0 {
            calls.push(json!({
                "startedAt": format_timestamp(created + 6_000),
                "finishedAt": format_timestamp(created + 6_250),
                "responseStatus": 200,
            }));
        }
        fake.put_dispatch(json!({
            "id": format!("d{i:016}"),
            "webhookId": format!("bench{w:012}"),
            "createdAt": format_timestamp(created),
            "status": if i % 7 == 0 { "FAILED" } else { "SUCCEEDED" },
            "eventType": EVENT_TYPES[(i as usize) % per_webhook],
            "calls": calls,
        }));
    }
    (fake, Runs::new(webhooks))
}

/// What the benchmarks add to a running `bench` account, from stdin.
#[derive(Default)]
pub struct Runs {
    /// The account's `bench…` webhooks, which `new` spreads dispatches over
    /// (ad-hoc runs add webhooks that are not among them).
    webhooks: u64,
    added: u64,
    ad_hoc: u64,
    /// The newest `createdAt` given: each new one is later, as Apify's are.
    last: i64,
}

impl Runs {
    /// For an account of `webhooks` bench webhooks.
    pub fn new(webhooks: u64) -> Runs {
        Runs {
            webhooks,
            ..Runs::default()
        }
    }

    /// Now, or a millisecond after the last one given: a batch is spread
    /// one millisecond apart (a little ahead of the clock for a big batch,
    /// well within what the exporter believes), never back in time.
    fn next_created_at(&mut self) -> i64 {
        self.last = now_millis().max(self.last + 1);
        self.last
    }

    /// `new <n>`: `n` SUCCEEDED dispatches created now, spread over the
    /// account's webhooks.
    pub fn new_dispatches(&mut self, fake: &FakeApify, n: u64) {
        let webhooks = self.webhooks.max(1);
        for _ in 0..n {
            let now = self.next_created_at();
            let i = self.added;
            self.added += 1;
            fake.put_dispatch(json!({
                "id": format!("new{i:016}"),
                "webhookId": format!("bench{:012}", i % webhooks),
                "createdAt": format_timestamp(now),
                "status": "SUCCEEDED",
                "eventType": EVENT_TYPES[0],
                "calls": [{
                    "startedAt": format_timestamp(now),
                    "finishedAt": format_timestamp(now + 120),
                    "responseStatus": 200,
                }],
            }));
        }
    }

    /// `adhoc <n> [summary]`: `n` runs over 3 Actors, each with its own
    /// ad-hoc webhook (listed, as regular ones are) and one dispatch, which
    /// carries its webhook's summary when asked.
    pub fn ad_hoc_runs(&mut self, fake: &FakeApify, n: u64, summary: bool) {
        for _ in 0..n {
            let now = self.next_created_at();
            let i = self.ad_hoc;
            self.ad_hoc += 1;
            let webhook_id = format!("adhoc{i:012}");
            let actor = format!("adhocActor{}", i % 3);
            fake.put_webhook(json!({
                "id": &webhook_id,
                "createdAt": format_timestamp(now),
                "modifiedAt": format_timestamp(now),
                "isAdHoc": true,
                "eventTypes": [EVENT_TYPES[0], EVENT_TYPES[1]],
                "condition": {"actorRunId": format!("run{i:012}")},
                "requestUrl": "https://pipeline.example.com/run-done",
            }));
            let mut dispatch = json!({
                "id": format!("adhocD{i:012}"),
                "webhookId": &webhook_id,
                "createdAt": format_timestamp(now),
                "status": if i.is_multiple_of(5) { "FAILED" } else { "SUCCEEDED" },
                "eventType": EVENT_TYPES[(i % 2) as usize],
                "eventData": {"actorId": &actor, "actorRunId": format!("run{i:012}")},
                "calls": [{
                    "startedAt": format_timestamp(now),
                    "finishedAt": format_timestamp(now + 300),
                    "responseStatus": if i.is_multiple_of(5) { 500 } else { 200 },
                }],
            });
            if summary {
                dispatch["webhook"] = json!({"isAdHoc": true});
            }
            fake.put_dispatch(dispatch);
        }
    }
}
