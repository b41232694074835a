//! The driver of the `e2e` scenario (`e2e.rs`): puts its history into the
//! fake, then makes one dispatch a second per webhook with live traffic, and
//! one ad-hoc run (a new ad-hoc webhook and its dispatch) a second, and,
//! every 100 ms, puts into the fake each dispatch and webhook whose answer
//! the clock has changed.

use std::time::Duration;

use apify_webhook_exporter::api::decode::format_timestamp;
use apify_webhook_exporter::clock::now_millis;
use apify_webhook_exporter::demo::fake_api::route;
use apify_webhook_exporter::demo::FakeApify;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::e2e::{
    ad_hoc, history, Plan, AD_HOC_ACTOR_ID, AD_HOC_EVENT_TYPES, AD_HOC_REQUEST_URL, ARRIVAL_MS,
    DAY_MS, OWNERS, REFUSED_TASK_ID, USER_ID, WEBHOOKS,
};

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

/// Whose dispatch it is.
#[derive(Clone, Copy)]
enum Owner {
    /// One of `WEBHOOKS`, by index.
    Webhook(usize),
    /// The `n`th ad-hoc run, whose webhook exists for it alone.
    AdHocRun(i64),
}

/// The id of the run the dispatch `seq` reports on.
fn run_id(seq: u64) -> String {
    format!("run{seq:011}")
}

/// The id of the `n`th ad-hoc run's own webhook.
fn ad_hoc_webhook_id(n: i64) -> String {
    format!("e2eAdHocWh{n:07}")
}

struct Dispatch {
    seq: u64,
    owner: Owner,
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

    fn run_id(&self) -> String {
        run_id(self.seq)
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
        let (webhook_id, actor_id, task_id, summary) = match self.owner {
            Owner::Webhook(webhook) => {
                let spec = &WEBHOOKS[webhook];
                let summary = json!({
                    "actionType": "HTTP_REQUEST",
                    "condition": spec.condition(),
                    "requestUrl": spec.request_url,
                    "isAdHoc": false,
                });
                let task_id = spec.actor_task_id;
                (spec.id.to_owned(), spec.actor_id, task_id, Some(summary))
            }
            // Every other run's dispatch carries no summary: the exporter
            // must learn it is ad-hoc from the webhook list.
            Owner::AdHocRun(n) => {
                let summary = (n % 2 == 0).then(|| {
                    json!({
                        "actionType": "HTTP_REQUEST",
                        "condition": { "actorRunId": self.run_id() },
                        "requestUrl": AD_HOC_REQUEST_URL,
                        "isAdHoc": true,
                    })
                });
                (ad_hoc_webhook_id(n), AD_HOC_ACTOR_ID, None, summary)
            }
        };
        let mut view = json!({
            "id": self.id(),
            "userId": USER_ID,
            "webhookId": webhook_id,
            "createdAt": format_timestamp(self.created),
            "status": status,
            "eventType": self.event_type,
            "eventData": { "actorId": actor_id, "actorTaskId": task_id, "actorRunId": self.run_id() },
            "calls": calls,
        });
        if let Some(summary) = summary {
            view["webhook"] = summary;
        }
        view
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
        for (id, name, actor) in OWNERS {
            let (user, name) = name.split_once('/').unwrap_or(("", name));
            let owner = json!({ "id": id, "userId": USER_ID, "username": user, "name": name });
            match actor {
                Some(actor) => {
                    let mut task = owner;
                    task["actId"] = json!(actor);
                    scenario.fake.put_actor_task(task);
                }
                None => scenario.fake.put_actor(owner),
            }
        }
        scenario
            .fake
            .refuse_record(route::ACTOR_TASK, REFUSED_TASK_ID, true);
        for (webhook, created, event_type, plan) in history(now) {
            scenario.add(Owner::Webhook(webhook), created, event_type, plan);
        }
        scenario.step(now);
        scenario
    }

    fn add(&mut self, owner: Owner, created: i64, event_type: &'static str, plan: Plan) {
        let index = self.dispatches.len();
        self.dispatches.push(Dispatch {
            seq: index as u64 + 1,
            owner,
            created,
            event_type,
            plan,
            shown: None,
            settled: false,
        });
        let Owner::Webhook(webhook) = owner else {
            return;
        };
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
                    self.add(
                        Owner::Webhook(webhook),
                        created,
                        event_type,
                        plan(self.ticks),
                    );
                }
            }
            self.add_ad_hoc_run(self.ticks, created);
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

    /// The `n`th ad-hoc run: its own webhook, listed as Apify lists them,
    /// and its one dispatch.
    fn add_ad_hoc_run(&mut self, n: i64, created: i64) {
        // Its dispatch is the next one `add` numbers.
        let run_id = run_id(self.dispatches.len() as u64 + 1);
        // Put before its dispatch is (at the end of this step): the fake
        // counts the dispatch into the webhook's stats.
        self.fake.put_webhook(json!({
            "id": ad_hoc_webhook_id(n),
            "createdAt": format_timestamp(created),
            "modifiedAt": format_timestamp(created),
            "userId": USER_ID,
            "isAdHoc": true,
            "shouldInterpolateStrings": false,
            "eventTypes": AD_HOC_EVENT_TYPES,
            "condition": { "actorRunId": run_id },
            "ignoreSslErrors": false,
            "doNotRetry": false,
            "requestUrl": AD_HOC_REQUEST_URL,
            "payloadTemplate": "{\"resource\": {{resource}}}",
            "stats": { "totalDispatches": 0 },
        }));
        let event_type = AD_HOC_EVENT_TYPES[(n / 2) as usize % AD_HOC_EVENT_TYPES.len()];
        self.add(Owner::AdHocRun(n), created, event_type, ad_hoc(n));
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
