//! The `e2e` scenario: the four webhooks of the end-to-end test
//! (`scripts/e2e.py`), each a case the bundled alerts must tell apart, and a
//! driver that keeps their dispatches moving with the clock.
//!
//!   wh-healthy        every dispatch SUCCEEDED at the first call (200): quiet.
//!   wh-misconfigured  the receiver answers 404, doNotRetry: every dispatch
//!                     FAILED after one call -> ReceiverMisconfigured,
//!                     FailureRatioHigh.
//!   wh-flaky          503, then no answer (timeout), then 200 (2 of 3) or
//!                     503 (1 of 3); each dispatch stays ACTIVE ~5 s, so a few
//!                     are always ACTIVE -> ReceiverUnavailable,
//!                     FailureRatioHigh.
//!   wh-stalled        last SUCCEEDED 8h ago, FAILED since, one dispatch
//!                     ACTIVE for 3h -> DispatchStuck, NoRecentSuccess. No
//!                     live traffic.
//!
//! Every second each webhook with live traffic gets a new dispatch. A
//! dispatch's calls and status are a function of its age, set out in its
//! [`Plan`]; every 100 ms the driver puts into the fake what the clock has
//! revealed, so the exporter sees ACTIVE dispatches turn terminal and calls
//! appear while it re-reads them. Nothing is random: two runs differ only
//! in when they started. (The `--demo` engine is seeded-random with weighted
//! arrivals, retention and API faults; this scenario needs exact lives.)

use std::time::Duration;

use apify_webhook_exporter::api::decode::format_timestamp;
use apify_webhook_exporter::collector::now_millis;
use apify_webhook_exporter::demo::FakeApify;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

/// The token the fake accepts, as `APIFY_TOKEN` for the exporter.
pub const TOKEN: &str = "e2e-token";
const USER_ID: &str = "e2eUser000000001";
/// One new dispatch per webhook with live traffic, this often.
const ARRIVAL_MS: i64 = 1_000;
/// How often the driver reveals what the clock has passed.
const STEP: Duration = Duration::from_millis(100);
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

const RUN_SUCCEEDED: &str = "ACTOR.RUN.SUCCEEDED";
const RUN_FAILED: &str = "ACTOR.RUN.FAILED";
const BUILD_SUCCEEDED: &str = "ACTOR.BUILD.SUCCEEDED";

/// One attempt: when it starts after the dispatch was created, how long it
/// takes, and the receiver's HTTP status (`None`: no answer, a timeout).
#[derive(Clone, Copy)]
struct Call {
    start_ms: i64,
    duration_ms: i64,
    status: Option<u16>,
}

const fn call(start_ms: i64, duration_ms: i64, status: Option<u16>) -> Call {
    Call {
        start_ms,
        duration_ms,
        status,
    }
}

/// A dispatch's life: its calls, and when (after creation) it ends with
/// which status; `end: None` keeps it ACTIVE for good.
struct Plan {
    calls: Vec<Call>,
    end: Option<(i64, &'static str)>,
}

fn healthy(_: i64) -> Plan {
    Plan {
        calls: vec![call(100, 200, Some(200))],
        end: Some((400, "SUCCEEDED")),
    }
}

fn misconfigured(_: i64) -> Plan {
    Plan {
        calls: vec![call(100, 50, Some(404))],
        end: Some((300, "FAILED")),
    }
}

/// The `n`th live dispatch: every third one fails at its last attempt.
fn flaky(n: i64) -> Plan {
    let (last, outcome) = if n % 3 == 0 {
        (503, "FAILED")
    } else {
        (200, "SUCCEEDED")
    };
    Plan {
        calls: vec![
            call(300, 100, Some(503)),
            call(1_500, 1_000, None),
            call(4_000, 500, Some(last)),
        ],
        end: Some((4_800, outcome)),
    }
}

/// A receiver that answers 500 to `attempts` retries backing off from a
/// minute, as Apify's do.
fn failing_retries(attempts: u32) -> Vec<Call> {
    (0..attempts)
        .map(|i| call(60_000 << i, 30_000, Some(500)))
        .collect()
}

/// Request URLs carry userinfo and queries on purpose: only their host may
/// reach the metrics.
struct WebhookSpec {
    id: &'static str,
    description: &'static str,
    request_url: &'static str,
    event_types: &'static [&'static str],
    actor_id: &'static str,
    actor_task_id: Option<&'static str>,
    do_not_retry: bool,
    /// The plan of its `n`th live dispatch; `None`: no live traffic.
    live: Option<fn(i64) -> Plan>,
}

const HEALTHY: usize = 0;
const FLAKY: usize = 2;
const STALLED: usize = 3;

const WEBHOOKS: [WebhookSpec; 4] = [
    WebhookSpec {
        id: "wh-healthy",
        description: "Orders to CRM",
        request_url: "https://crm.example.com/hooks/apify?key=s3cret",
        event_types: &[RUN_SUCCEEDED, RUN_FAILED],
        actor_id: "actHealthy00001",
        actor_task_id: None,
        do_not_retry: false,
        live: Some(healthy),
    },
    WebhookSpec {
        id: "wh-misconfigured",
        description: "Slack alerts (old URL)",
        request_url: "https://hooks.slack.example/services/T000/B000",
        event_types: &[RUN_FAILED],
        actor_id: "actSlack0000001",
        actor_task_id: None,
        do_not_retry: true,
        live: Some(misconfigured),
    },
    WebhookSpec {
        id: "wh-flaky",
        description: "Warehouse loader",
        request_url: "https://loader:pa55@etl.example.com/load",
        event_types: &[RUN_SUCCEEDED, BUILD_SUCCEEDED],
        actor_id: "actEtl000000001",
        actor_task_id: Some("taskEtl00000001"),
        do_not_retry: false,
        live: Some(flaky),
    },
    WebhookSpec {
        id: "wh-stalled",
        description: "Invoice sync",
        request_url: "https://billing.example.com/apify",
        event_types: &[RUN_SUCCEEDED],
        actor_id: "actBilling00001",
        actor_task_id: None,
        do_not_retry: false,
        live: None,
    },
];

impl WebhookSpec {
    fn condition(&self) -> Value {
        json!({ "actorId": self.actor_id, "actorTaskId": self.actor_task_id })
    }
}

/// Seeds the account as of now and keeps it moving until `shutdown`.
pub fn start(fake: FakeApify, shutdown: CancellationToken) {
    let mut scenario = Scenario::new(fake, now_millis());
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(STEP);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = ticker.tick() => scenario.step(now_millis()),
            }
        }
    });
}

struct Dispatch {
    seq: u64,
    webhook: usize,
    created: i64,
    event_type: &'static str,
    plan: Plan,
    /// What the fake holds now; `None` once nothing can change any more.
    shown: Option<Value>,
    settled: bool,
}

impl Dispatch {
    fn id(&self) -> String {
        format!("disp{:012}", self.seq)
    }

    /// The dispatch as the API returns it at `now`.
    fn render(&self, now: i64) -> Value {
        let age = now - self.created;
        let calls: Vec<Value> = self
            .plan
            .calls
            .iter()
            .take_while(|c| c.start_ms <= age)
            .map(|c| {
                let started = self.created + c.start_ms;
                let done = c.start_ms + c.duration_ms <= age;
                let status = c.status.filter(|_| done);
                json!({
                    "startedAt": format_timestamp(started),
                    "finishedAt": done.then(|| format_timestamp(started + c.duration_ms)),
                    "errorMessage": (done && c.status.is_none()).then_some("Request timed out"),
                    "responseStatus": status,
                    "responseBody": status.map(|s| if s < 300 { "ok" } else { "error" }),
                })
            })
            .collect();
        let status = match self.plan.end {
            Some((at, outcome)) if age >= at => outcome,
            _ => "ACTIVE",
        };
        let spec = &WEBHOOKS[self.webhook];
        json!({
            "id": self.id(),
            "userId": USER_ID,
            "webhookId": spec.id,
            "createdAt": format_timestamp(self.created),
            "status": status,
            "eventType": self.event_type,
            "eventData": { "actorId": spec.actor_id, "actorRunId": format!("run{:011}", self.seq) },
            "webhook": {
                "actionType": "HTTP_REQUEST",
                "condition": spec.condition(),
                "requestUrl": spec.request_url,
                "isAdHoc": false,
            },
            "calls": calls,
        })
    }

    /// Past its last call and its end, nothing about it changes.
    fn is_settled(&self, now: i64) -> bool {
        let age = now - self.created;
        let last_call = self.plan.calls.iter().map(|c| c.start_ms + c.duration_ms);
        let end = self.plan.end.map(|(at, _)| at);
        last_call.chain(end).all(|at| at <= age)
    }
}

struct Scenario {
    fake: FakeApify,
    started: i64,
    /// Arrivals made so far.
    ticks: i64,
    dispatches: Vec<Dispatch>,
    /// The newest dispatch of each webhook, for `lastDispatch`.
    newest: [Option<usize>; WEBHOOKS.len()],
    totals: [u64; WEBHOOKS.len()],
    webhooks_shown: [Value; WEBHOOKS.len()],
}

impl Scenario {
    fn new(fake: FakeApify, now: i64) -> Scenario {
        let mut scenario = Scenario {
            fake,
            started: now,
            ticks: 0,
            dispatches: Vec::new(),
            newest: [None; WEBHOOKS.len()],
            totals: [0; WEBHOOKS.len()],
            webhooks_shown: [(); WEBHOOKS.len()].map(|()| Value::Null),
        };
        scenario.seed_history(now);
        scenario.step(now);
        scenario
    }

    /// The hours before the run: wh-healthy and wh-flaky delivered every ten
    /// minutes; wh-stalled delivered 8h ago, has failed since and has one
    /// dispatch retried for 3h.
    fn seed_history(&mut self, now: i64) {
        for k in (1..=12).rev() {
            let at = now - k * 600_000;
            let plan = healthy(0);
            self.add(HEALTHY, at, RUN_SUCCEEDED, plan);
            let plan = Plan {
                calls: vec![call(500, 300, Some(200))],
                end: Some((1_000, "SUCCEEDED")),
            };
            self.add(FLAKY, at + 30_000, RUN_SUCCEEDED, plan);
        }
        let plan = Plan {
            calls: vec![call(200, 300, Some(200))],
            end: Some((600, "SUCCEEDED")),
        };
        self.add(STALLED, now - 8 * HOUR_MS, RUN_SUCCEEDED, plan);
        for hours_ago in [7, 5] {
            let plan = Plan {
                calls: failing_retries(4),
                end: Some((HOUR_MS, "FAILED")),
            };
            self.add(STALLED, now - hours_ago * HOUR_MS, RUN_SUCCEEDED, plan);
        }
        let plan = Plan {
            calls: failing_retries(6),
            end: None,
        };
        self.add(STALLED, now - 3 * HOUR_MS, RUN_SUCCEEDED, plan);
    }

    fn add(&mut self, webhook: usize, created: i64, event_type: &'static str, plan: Plan) {
        let index = self.dispatches.len();
        self.dispatches.push(Dispatch {
            seq: index as u64 + 1,
            webhook,
            created,
            event_type,
            plan,
            shown: None,
            settled: false,
        });
        self.totals[webhook] += 1;
        let newer = match self.newest[webhook] {
            Some(newest) => created >= self.dispatches[newest].created,
            None => true,
        };
        if newer {
            self.newest[webhook] = Some(index);
        }
    }

    /// Makes the arrivals due by `now` and puts into the fake every dispatch
    /// and webhook whose answer changed.
    fn step(&mut self, now: i64) {
        let due = (now - self.started) / ARRIVAL_MS;
        while self.ticks < due {
            self.ticks += 1;
            let created = self.started + self.ticks * ARRIVAL_MS;
            for (webhook, spec) in WEBHOOKS.iter().enumerate() {
                if let Some(plan) = spec.live {
                    let events = spec.event_types;
                    let event_type = events[self.ticks as usize % events.len()];
                    self.add(webhook, created, event_type, plan(self.ticks));
                }
            }
        }
        for dispatch in self.dispatches.iter_mut().filter(|d| !d.settled) {
            let view = dispatch.render(now);
            if dispatch.shown.as_ref() != Some(&view) {
                self.fake.put_dispatch(view.clone());
            }
            dispatch.settled = dispatch.is_settled(now);
            dispatch.shown = (!dispatch.settled).then_some(view);
        }
        for webhook in 0..WEBHOOKS.len() {
            let view = self.render_webhook(webhook, now);
            if self.webhooks_shown[webhook] != view {
                self.fake.put_webhook(view.clone());
                self.webhooks_shown[webhook] = view;
            }
        }
    }

    /// The full webhook, with the stats and last dispatch the API adds.
    fn render_webhook(&self, webhook: usize, now: i64) -> Value {
        let spec = &WEBHOOKS[webhook];
        let last_dispatch = self.newest[webhook].map(|newest| {
            let view = self.dispatches[newest].render(now);
            let finished_at = view["calls"]
                .as_array()
                .and_then(|calls| calls.last())
                .map_or(Value::Null, |call| call["finishedAt"].clone());
            json!({ "status": view["status"], "finishedAt": finished_at })
        });
        json!({
            "id": spec.id,
            "createdAt": format_timestamp(self.started - 30 * DAY_MS),
            "modifiedAt": format_timestamp(self.started - DAY_MS),
            "userId": USER_ID,
            "isAdHoc": false,
            "shouldInterpolateStrings": false,
            "eventTypes": spec.event_types,
            "condition": spec.condition(),
            "ignoreSslErrors": false,
            "doNotRetry": spec.do_not_retry,
            "requestUrl": spec.request_url,
            "payloadTemplate": "{\"resource\": {{resource}}}",
            "description": spec.description,
            "lastDispatch": last_dispatch,
            "stats": { "totalDispatches": self.totals[webhook] },
        })
    }
}
