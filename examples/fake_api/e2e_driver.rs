//! The driver of the `e2e` scenario (`e2e.rs`): puts its history into the
//! fake, then makes one dispatch a second per webhook with live traffic and,
//! every 100 ms, puts into the fake each dispatch and webhook whose answer
//! the clock has changed.

use std::time::Duration;

use apify_webhook_exporter::api::decode::format_timestamp;
use apify_webhook_exporter::clock::now_millis;
use apify_webhook_exporter::demo::FakeApify;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::e2e::{history, Plan, ARRIVAL_MS, DAY_MS, USER_ID, WEBHOOKS};

/// How often the driver reveals what the clock has passed.
const STEP: Duration = Duration::from_millis(100);

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
        for (webhook, created, event_type, plan) in history(now) {
            scenario.add(webhook, created, event_type, plan);
        }
        scenario.step(now);
        scenario
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
