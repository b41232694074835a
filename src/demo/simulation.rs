//! The `--demo` account: a [`FakeApify`] on 127.0.0.1 filled with a day of
//! history and kept busy by a simulation, so that a newcomer sees every
//! metric family move without an Apify token.
//!
//! It owns the cast (three Actors, one task, five webhooks whose receivers
//! behave differently) and the clock-driven life of each dispatch: created
//! ACTIVE with a call in flight, then calls finishing and retries following
//! until it is SUCCEEDED or FAILED. Retries are seconds apart, not the hours
//! Apify takes, so that whole lives fit between two refreshes or three.
//! Everything random comes from one seeded RNG, so runs look alike.

use std::collections::VecDeque;
use std::net::Ipv4Addr;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::fake_api::{route, FakeApify, Fault};

/// The demo API's token: not a secret, the fake only checks that it is sent.
pub const DEMO_TOKEN: &str = "apify_api_DEMO0000000000000000000000000000";

const SEED: u64 = 0x00A9_1F7D;
const USER_ID: &str = "wRsJZtadYvn4mBZmm";

/// The simulation's clock resolution; arrivals and call ends fall between ticks.
const TICK: std::time::Duration = std::time::Duration::from_millis(500);
/// Milliseconds between two new dispatches (uniform): something every ~4 s.
const ARRIVAL_GAP_MS: std::ops::RangeInclusive<i64> = 2_000..=6_000;
/// Milliseconds between two slow answers queued on `GET /v2/webhook-dispatches/:id`.
const SLOW_ANSWER_GAP_MS: std::ops::RangeInclusive<i64> = 20_000..=60_000;
/// Milliseconds between two API hiccups (a 429 with `Retry-After: 1`, or a
/// 503) on the dispatch list: the client retries them, and the exporter's
/// own API panels have something to show.
const API_HICCUP_GAP_MS: std::ops::RangeInclusive<i64> = 45_000..=90_000;
/// How many terminal dispatches the seeded history holds.
const HISTORY_DISPATCHES: std::ops::RangeInclusive<usize> = 160..=220;
/// Dispatches older than this (by `createdAt`) are removed, as Apify's
/// retention would.
const RETENTION: Duration = Duration::hours(48);
/// Cap on terminal dispatches kept, so that a demo left running for days
/// stays small: at one dispatch every ~4 s this keeps the last ~4-5 hours.
const MAX_DISPATCHES: usize = 4_000;
/// A stopped process (laptop asleep) does not replay the arrivals it missed.
const MAX_CATCH_UP: Duration = Duration::minutes(1);
/// How many requests the fake keeps in its log during a demo.
const REQUEST_LOG_LIMIT: usize = 1_000;

const ACTOR_MAPS: &str = "moJRLRc85AitArpNN"; // acme~google-maps-leads
const ACTOR_PRICES: &str = "nFJndFXA5zjCTuudP"; // acme~shop-price-monitor
const ACTOR_CRAWLER: &str = "HDSasDasz78YcAPEB"; // acme~docs-crawler
const TASK_PRICES_DAILY: &str = "tZx9Lq2WmB7vKc4Rd"; // acme~shop-price-monitor-daily

const RUN_SUCCEEDED: &str = "ACTOR.RUN.SUCCEEDED";
const RUN_FAILED: &str = "ACTOR.RUN.FAILED";
const RUN_TIMED_OUT: &str = "ACTOR.RUN.TIMED_OUT";
const RUN_ABORTED: &str = "ACTOR.RUN.ABORTED";
const BUILD_SUCCEEDED: &str = "ACTOR.BUILD.SUCCEEDED";
const BUILD_FAILED: &str = "ACTOR.BUILD.FAILED";

/// The fake API the exporter reads in `--demo`, already serving.
pub struct DemoApi {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub base_url: String,
    pub token: String,
    pub fake: FakeApify,
    /// The simulation task: ends once its token is cancelled.
    pub simulation: tokio::task::JoinHandle<()>,
}

/// Binds 127.0.0.1 on a free port, serves a seeded [`FakeApify`] there and
/// keeps it changing until `shutdown` is cancelled.
pub async fn start(shutdown: CancellationToken) -> std::io::Result<DemoApi> {
    start_with(shutdown.clone(), shutdown).await
}

/// Like [`start`], with the simulation stopped by its own token: a test can
/// freeze the account and keep serving it, to compare the exporter's
/// numbers with the account's.
pub async fn start_with(
    server: CancellationToken,
    simulation: CancellationToken,
) -> std::io::Result<DemoApi> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let base_url = format!("http://{}", listener.local_addr()?);
    let fake = FakeApify::new(DEMO_TOKEN);
    fake.set_request_log_limit(Some(REQUEST_LOG_LIMIT));
    let sim = Simulation::new(SEED, fake.clone(), OffsetDateTime::now_utc());
    fake.spawn(listener, server);
    let simulation = tokio::spawn(sim.run(simulation));
    tracing::info!(%base_url, "demo: serving a simulated Apify account");
    Ok(DemoApi {
        base_url,
        token: DEMO_TOKEN.to_owned(),
        fake,
        simulation,
    })
}

/// How a webhook's receiver answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Receiver {
    /// Fast 200s.
    Healthy,
    /// 503 for a while, then 200: succeeds after 1-3 attempts.
    Flaky,
    /// A wrong URL: 404 to every attempt, FAILED after three.
    Misconfigured,
    /// Slow, often no answer within the timeout; sometimes refuses connections.
    TimesOut,
    /// A single attempt (`doNotRetry`), usually fine, sometimes 500 or 401.
    BestEffort,
}

enum Condition {
    Actor(&'static str),
    Task(&'static str),
}

struct WebhookSpec {
    id: &'static str,
    description: &'static str,
    request_url: &'static str,
    event_types: &'static [(&'static str, u32)],
    condition: Condition,
    receiver: Receiver,
    /// Share of the account's dispatches.
    weight: u32,
    ignore_ssl_errors: bool,
    payload_template: Option<&'static str>,
    headers_template: Option<&'static str>,
    created_days_ago: i64,
    /// Lifetime dispatches before the seeded day, for `stats.totalDispatches`.
    earlier_dispatches: u64,
}

impl WebhookSpec {
    fn do_not_retry(&self) -> bool {
        self.receiver == Receiver::BestEffort
    }

    fn condition_json(&self) -> Value {
        match self.condition {
            Condition::Actor(actor) => json!({ "actorId": actor }),
            Condition::Task(task) => json!({ "actorTaskId": task }),
        }
    }
}

/// Request URLs carry paths, queries and userinfo on purpose: the exporter
/// must export only their host.
const WEBHOOKS: [WebhookSpec; 5] = [
    WebhookSpec {
        id: "kQ8mZ3xV1pLr7TnWd",
        description: "Notify Slack when a Google Maps leads run finishes",
        request_url:
            "https://hooks.slack.com/services/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",
        event_types: &[(RUN_SUCCEEDED, 8), (RUN_FAILED, 2)],
        condition: Condition::Actor(ACTOR_MAPS),
        receiver: Receiver::Healthy,
        weight: 35,
        ignore_ssl_errors: false,
        payload_template: Some(
            "{\"text\": \"Run {{resource.id}} of {{eventData.actorId}}: {{eventType}}\"}",
        ),
        headers_template: None,
        created_days_ago: 94,
        earlier_dispatches: 4_120,
    },
    WebhookSpec {
        id: "Rt5YhN2bGc9WqE4sA",
        description: "Push daily prices to the shop's ingest API",
        request_url:
            "https://ingest.shop.example.com/v1/apify/webhook?source=apify&key=sk_live_51Hxq",
        event_types: &[(RUN_SUCCEEDED, 1)],
        condition: Condition::Task(TASK_PRICES_DAILY),
        receiver: Receiver::Flaky,
        weight: 20,
        ignore_ssl_errors: false,
        payload_template: None,
        headers_template: Some("{\"X-Ingest-Key\": \"{{resource.defaultKeyValueStoreId}}\"}"),
        created_days_ago: 61,
        earlier_dispatches: 1_874,
    },
    WebhookSpec {
        id: "bX2fJ7kP0sUe6MvYc",
        description: "Trigger CI deploy after the crawler builds",
        request_url: "https://deploy-bot:hunter2@ci.example.org/hooks/apify-buld",
        event_types: &[(BUILD_SUCCEEDED, 7), (BUILD_FAILED, 3)],
        condition: Condition::Actor(ACTOR_CRAWLER),
        receiver: Receiver::Misconfigured,
        weight: 10,
        ignore_ssl_errors: false,
        payload_template: None,
        headers_template: None,
        created_days_ago: 12,
        earlier_dispatches: 96,
    },
    WebhookSpec {
        id: "Wn4cT8aQ3rHy1ZoLe",
        description: "Page on-call when a price monitor run fails or times out",
        request_url: "https://alerts.internal.example.net:8443/v2/enqueue?routing_key=R0UT1NGK3Y",
        event_types: &[(RUN_FAILED, 5), (RUN_TIMED_OUT, 4), (RUN_ABORTED, 1)],
        condition: Condition::Task(TASK_PRICES_DAILY),
        receiver: Receiver::TimesOut,
        weight: 15,
        ignore_ssl_errors: true,
        payload_template: None,
        headers_template: None,
        created_days_ago: 33,
        earlier_dispatches: 512,
    },
    WebhookSpec {
        id: "Pz6sM1dK9vBf3XgUh",
        description: "Record every price monitor run in analytics (best effort)",
        request_url: "https://analytics.example.io/collect/apify-runs?tid=G-0000000",
        event_types: &[(RUN_SUCCEEDED, 7), (RUN_FAILED, 2), (RUN_TIMED_OUT, 1)],
        condition: Condition::Actor(ACTOR_PRICES),
        receiver: Receiver::BestEffort,
        weight: 20,
        ignore_ssl_errors: false,
        payload_template: None,
        headers_template: None,
        created_days_ago: 150,
        earlier_dispatches: 9_307,
    },
];

/// One attempt as it will happen: times and answer are decided up front and
/// revealed as the clock passes them.
#[derive(Debug, Clone)]
struct PlannedCall {
    started_at: OffsetDateTime,
    finished_at: OffsetDateTime,
    response_status: Option<u16>,
    error_message: Option<String>,
    response_body: Option<String>,
}

/// A dispatch not yet terminal in the fake.
struct LiveDispatch {
    webhook: usize,
    id: String,
    created_at: OffsetDateTime,
    /// The dispatch without `status` and `calls`.
    skeleton: Value,
    calls: Vec<PlannedCall>,
    outcome: &'static str,
    /// (calls started, calls finished) as last put into the fake.
    shown: Option<(usize, usize)>,
}

impl LiveDispatch {
    fn stage(&self, now: OffsetDateTime) -> (usize, usize) {
        let started = self.calls.iter().filter(|c| c.started_at <= now).count();
        let finished = self.calls.iter().filter(|c| c.finished_at <= now).count();
        (started, finished)
    }

    fn is_terminal(&self, now: OffsetDateTime) -> bool {
        self.stage(now).1 == self.calls.len()
    }

    fn status(&self, now: OffsetDateTime) -> &'static str {
        if self.is_terminal(now) {
            self.outcome
        } else {
            "ACTIVE"
        }
    }

    fn render(&self, now: OffsetDateTime) -> Value {
        let calls: Vec<Value> = self
            .calls
            .iter()
            .filter(|call| call.started_at <= now)
            .map(|call| {
                if call.finished_at <= now {
                    json!({
                        "startedAt": timestamp(call.started_at),
                        "finishedAt": timestamp(call.finished_at),
                        "errorMessage": call.error_message,
                        "responseStatus": call.response_status,
                        "responseBody": call.response_body,
                    })
                } else {
                    json!({
                        "startedAt": timestamp(call.started_at),
                        "finishedAt": null,
                        "errorMessage": null,
                        "responseStatus": null,
                        "responseBody": null,
                    })
                }
            })
            .collect();
        let mut dispatch = self.skeleton.clone();
        if let Some(fields) = dispatch.as_object_mut() {
            fields.insert("status".to_owned(), json!(self.status(now)));
            fields.insert("calls".to_owned(), Value::Array(calls));
        }
        dispatch
    }
}

/// The account's life. Pure over the clock it is given, so tests step it
/// through hours in microseconds.
struct Simulation {
    rng: StdRng,
    fake: FakeApify,
    totals: [u64; WEBHOOKS.len()],
    last_dispatch: [Value; WEBHOOKS.len()],
    live: Vec<LiveDispatch>,
    /// Terminal dispatches, oldest first, for retention.
    terminal: VecDeque<(OffsetDateTime, String)>,
    max_dispatches: usize,
    next_arrival: OffsetDateTime,
    next_slow_answer: OffsetDateTime,
    next_api_hiccup: OffsetDateTime,
    started_at: OffsetDateTime,
}

impl Simulation {
    /// A simulation whose fake already holds the webhooks and a day of history
    /// ending at `now`.
    fn new(seed: u64, fake: FakeApify, now: OffsetDateTime) -> Simulation {
        let now = whole_millis(now);
        let mut simulation = Simulation {
            rng: StdRng::seed_from_u64(seed),
            fake,
            totals: WEBHOOKS.map(|w| w.earlier_dispatches),
            last_dispatch: [(); WEBHOOKS.len()].map(|()| Value::Null),
            live: Vec::new(),
            terminal: VecDeque::new(),
            max_dispatches: MAX_DISPATCHES,
            next_arrival: now + Duration::seconds(1),
            next_slow_answer: now + Duration::seconds(10),
            next_api_hiccup: now + Duration::seconds(20),
            started_at: now,
        };
        simulation.seed_history(now);
        simulation.step(now);
        simulation
    }

    async fn run(mut self, shutdown: CancellationToken) {
        let mut ticker = tokio::time::interval(TICK);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = ticker.tick() => self.step(OffsetDateTime::now_utc()),
            }
        }
    }

    fn seed_history(&mut self, now: OffsetDateTime) {
        let count = self.rng.random_range(HISTORY_DISPATCHES);
        let mut ages_ms: Vec<i64> = (0..count)
            // Old enough that even the slowest life (~1 min) has ended.
            .map(|_| self.rng.random_range(3 * 60_000..24 * 3_600_000))
            .collect();
        ages_ms.sort_unstable_by(|a, b| b.cmp(a));
        for age_ms in ages_ms {
            let webhook = self.pick_webhook();
            let created_at = now - Duration::milliseconds(age_ms);
            let first_call = created_at + self.millis(50..=500);
            let dispatch = self.new_dispatch(webhook, created_at, first_call);
            self.totals[webhook] += 1;
            self.live.push(dispatch);
        }
        let stuck = self.stuck_dispatch(now);
        self.totals[stuck.webhook] += 1;
        self.live.push(stuck);
        self.publish_webhooks();
    }

    /// A dispatch of the misconfigured webhook that has been ACTIVE for two
    /// hours, waiting for its last retry, as a failing delivery does for up
    /// to 32 hours on Apify: it shows the oldest-active gauge and the stuck
    /// alert, then fails a few minutes into the demo.
    fn stuck_dispatch(&mut self, now: OffsetDateTime) -> LiveDispatch {
        let webhook = WEBHOOKS
            .iter()
            .position(|w| w.receiver == Receiver::Misconfigured)
            .unwrap_or_default();
        let created_at = now - Duration::minutes(133) - self.millis(0..=59_000);
        let first_call = created_at + self.millis(100..=400);
        let mut dispatch = self.new_dispatch(webhook, created_at, first_call);
        let retries = [
            created_at + Duration::minutes(37) + self.millis(0..=30_000),
            now + Duration::minutes(4) + self.millis(0..=120_000),
        ];
        dispatch.calls.truncate(1);
        for started_at in retries {
            let call = self.misconfigured_call(started_at);
            dispatch.calls.push(call);
        }
        dispatch.outcome = "FAILED";
        dispatch
    }

    /// Advances the account to `now`: new arrivals, calls that finished,
    /// retention, an occasional slow answer.
    fn step(&mut self, now: OffsetDateTime) {
        let now = whole_millis(now);
        if now - self.next_arrival > MAX_CATCH_UP {
            self.next_arrival = now;
        }
        while self.next_arrival <= now {
            let webhook = self.pick_webhook();
            // Created a moment ago, first call starting now: it is in flight
            // when first shown.
            let created_at = now - self.millis(40..=300);
            let dispatch = self.new_dispatch(webhook, created_at, now);
            self.totals[webhook] += 1;
            self.last_dispatch[webhook] = json!({ "status": "ACTIVE", "finishedAt": null });
            self.live.push(dispatch);
            let gap = self.millis(ARRIVAL_GAP_MS);
            self.next_arrival += gap;
        }

        let mut changed_webhooks = false;
        let mut still_live = Vec::with_capacity(self.live.len());
        for mut dispatch in std::mem::take(&mut self.live) {
            let stage = dispatch.stage(now);
            if dispatch.shown != Some(stage) {
                self.fake.put_dispatch(dispatch.render(now));
                dispatch.shown = Some(stage);
                changed_webhooks = true;
            }
            if dispatch.is_terminal(now) {
                let finished_at = dispatch.calls.last().map(|c| timestamp(c.finished_at));
                self.last_dispatch[dispatch.webhook] =
                    json!({ "status": dispatch.outcome, "finishedAt": finished_at });
                self.terminal.push_back((dispatch.created_at, dispatch.id));
            } else {
                still_live.push(dispatch);
            }
        }
        self.live = still_live;
        if changed_webhooks {
            self.publish_webhooks();
        }
        self.apply_retention(now);

        if self.next_slow_answer <= now {
            // One at a time: a queue the exporter never drains (no ACTIVE
            // dispatch to re-read) must not grow.
            if self.fake.pending_faults(route::DISPATCH) == 0 {
                let delay = self.rng.random_range(200..=800);
                self.fake.inject(
                    route::DISPATCH,
                    Fault::Delay(std::time::Duration::from_millis(delay)),
                );
            }
            self.next_slow_answer = now + self.millis(SLOW_ANSWER_GAP_MS);
        }

        if self.next_api_hiccup <= now {
            // One at a time, as above; a single fault is retried away, so
            // the demo's refreshes still succeed.
            if self.fake.pending_faults(route::DISPATCHES) == 0 {
                let fault = if self.rng.random_bool(0.5) {
                    Fault::rate_limited(1)
                } else {
                    Fault::status(
                        503,
                        "service-unavailable",
                        "Service temporarily unavailable",
                    )
                };
                self.fake.inject(route::DISPATCHES, fault);
            }
            self.next_api_hiccup = now + self.millis(API_HICCUP_GAP_MS);
        }
    }

    fn apply_retention(&mut self, now: OffsetDateTime) {
        let oldest_kept = now - RETENTION;
        while let Some((created_at, id)) = self.terminal.front() {
            if *created_at >= oldest_kept && self.terminal.len() <= self.max_dispatches {
                break;
            }
            self.fake.remove_dispatch(id);
            self.terminal.pop_front();
        }
    }

    fn publish_webhooks(&self) {
        for (index, spec) in WEBHOOKS.iter().enumerate() {
            // From the start of the demo, not from `now`: a `modifiedAt` that
            // moved would make the exporter re-read the webhook every refresh.
            let created_at = self.started_at - Duration::days(spec.created_days_ago);
            self.fake.put_webhook(json!({
                "id": spec.id,
                "createdAt": timestamp(day_start(created_at) + Duration::hours(9) + Duration::minutes(index as i64 * 7)),
                "modifiedAt": timestamp(day_start(created_at) + Duration::days(2) + Duration::hours(14)),
                "userId": USER_ID,
                "isAdHoc": false,
                "isApifyIntegration": false,
                "isEnabled": true,
                "actionType": "HTTP_REQUEST",
                "shouldInterpolateStrings": false,
                "eventTypes": spec.event_types.iter().map(|(event, _)| *event).collect::<Vec<_>>(),
                "condition": spec.condition_json(),
                "ignoreSslErrors": spec.ignore_ssl_errors,
                "doNotRetry": spec.do_not_retry(),
                "requestUrl": spec.request_url,
                "payloadTemplate": spec.payload_template,
                "headersTemplate": spec.headers_template,
                "description": spec.description,
                "lastDispatch": self.last_dispatch[index],
                "stats": { "totalDispatches": self.totals[index] },
            }));
        }
    }

    fn new_dispatch(
        &mut self,
        webhook: usize,
        created_at: OffsetDateTime,
        first_call: OffsetDateTime,
    ) -> LiveDispatch {
        let spec = &WEBHOOKS[webhook];
        let event_type = pick_weighted(&mut self.rng, spec.event_types);
        let id = self.apify_id();
        let event_data = match (&spec.condition, event_type.starts_with("ACTOR.BUILD.")) {
            (Condition::Actor(actor), true) => {
                json!({ "actorId": actor, "actorBuildId": self.apify_id() })
            }
            (Condition::Actor(actor), false) => {
                json!({ "actorId": actor, "actorRunId": self.apify_id() })
            }
            (Condition::Task(task), _) => {
                json!({ "actorId": ACTOR_PRICES, "actorTaskId": task, "actorRunId": self.apify_id() })
            }
        };
        let skeleton = json!({
            "id": id,
            "userId": USER_ID,
            "webhookId": spec.id,
            "createdAt": timestamp(created_at),
            "eventType": event_type,
            "eventData": event_data,
            "webhook": {
                "actionType": "HTTP_REQUEST",
                "condition": spec.condition_json(),
                "requestUrl": spec.request_url,
                "isAdHoc": false,
            },
        });
        let (calls, outcome) = self.plan_calls(spec.receiver, first_call);
        LiveDispatch {
            webhook,
            id,
            created_at,
            skeleton,
            calls,
            outcome,
            shown: None,
        }
    }

    /// Every attempt of a dispatch and its final status. Retries back off
    /// exponentially like Apify's, on a scale of seconds.
    fn plan_calls(
        &mut self,
        receiver: Receiver,
        first_call: OffsetDateTime,
    ) -> (Vec<PlannedCall>, &'static str) {
        let mut calls = Vec::new();
        let mut started_at = first_call;
        let max_attempts = match receiver {
            Receiver::BestEffort => 1,
            _ => 3,
        };
        let failures_before_success = match receiver {
            Receiver::Flaky => pick_weighted(&mut self.rng, &[(0, 4), (1, 4), (2, 2)]),
            _ => 0,
        };
        for attempt in 0..max_attempts {
            let call = match receiver {
                Receiver::Healthy => self.answered(started_at, 50..=400, 200, "ok"),
                Receiver::Flaky if attempt < failures_before_success => {
                    self.answered(started_at, 100..=1_500, 503, "Service Unavailable")
                }
                Receiver::Flaky => {
                    self.answered(started_at, 300..=2_500, 200, "{\"received\":true}")
                }
                Receiver::Misconfigured => self.misconfigured_call(started_at),
                Receiver::TimesOut => self.slow_call(started_at),
                Receiver::BestEffort => self.best_effort_call(started_at),
            };
            let succeeded = call
                .response_status
                .is_some_and(|s| (200..300).contains(&s));
            let finished_at = call.finished_at;
            calls.push(call);
            if succeeded {
                return (calls, "SUCCEEDED");
            }
            started_at = finished_at + Duration::seconds(6 << attempt) + self.millis(0..=2_000);
        }
        (calls, "FAILED")
    }

    fn misconfigured_call(&mut self, started_at: OffsetDateTime) -> PlannedCall {
        self.answered(
            started_at,
            50..=300,
            404,
            "<!DOCTYPE html><title>Error</title><pre>Cannot POST /hooks/apify-buld</pre>",
        )
    }

    fn slow_call(&mut self, started_at: OffsetDateTime) -> PlannedCall {
        match pick_weighted(&mut self.rng, &[(0, 55), (1, 15), (2, 30)]) {
            0 => PlannedCall {
                started_at,
                finished_at: started_at + self.millis(10_000..=10_000),
                response_status: None,
                error_message: Some("Request timed out after 10000 ms".to_owned()),
                response_body: None,
            },
            1 => PlannedCall {
                started_at,
                finished_at: started_at + self.millis(50..=120),
                response_status: None,
                error_message: Some("connect ECONNREFUSED 10.8.3.17:8443".to_owned()),
                response_body: None,
            },
            _ => self.answered(started_at, 1_500..=8_000, 202, "{\"status\":\"queued\"}"),
        }
    }

    fn best_effort_call(&mut self, started_at: OffsetDateTime) -> PlannedCall {
        match pick_weighted(&mut self.rng, &[(0, 85), (1, 10), (2, 5)]) {
            0 => self.answered(started_at, 80..=800, 204, ""),
            1 => self.answered(started_at, 100..=900, 500, "Internal Server Error"),
            _ => self.answered(
                started_at,
                50..=150,
                401,
                "{\"error\":\"invalid measurement id\"}",
            ),
        }
    }

    fn answered(
        &mut self,
        started_at: OffsetDateTime,
        duration_ms: std::ops::RangeInclusive<i64>,
        status: u16,
        body: &str,
    ) -> PlannedCall {
        PlannedCall {
            started_at,
            finished_at: started_at + self.millis(duration_ms),
            response_status: Some(status),
            error_message: None,
            response_body: Some(body.to_owned()),
        }
    }

    fn pick_webhook(&mut self) -> usize {
        let weights: Vec<(usize, u32)> = WEBHOOKS
            .iter()
            .enumerate()
            .map(|(i, w)| (i, w.weight))
            .collect();
        pick_weighted(&mut self.rng, &weights)
    }

    fn millis(&mut self, range: std::ops::RangeInclusive<i64>) -> Duration {
        Duration::milliseconds(self.rng.random_range(range))
    }

    /// 17 alphanumeric characters, like Apify's ids.
    fn apify_id(&mut self) -> String {
        (&mut self.rng)
            .sample_iter(rand::distr::Alphanumeric)
            .take(17)
            .map(char::from)
            .collect()
    }
}

fn pick_weighted<T: Copy>(rng: &mut StdRng, choices: &[(T, u32)]) -> T {
    let total: u32 = choices.iter().map(|(_, weight)| weight).sum();
    let mut ticket = rng.random_range(0..total.max(1));
    for (choice, weight) in choices {
        if ticket < *weight {
            return *choice;
        }
        ticket -= weight;
    }
    // Only reached with all weights zero; the tables above have none.
    choices[0].0
}

fn whole_millis(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(t.millisecond() as u32 * 1_000_000)
        .unwrap_or(t)
}

fn day_start(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_time(time::Time::MIDNIGHT)
}

/// `2026-11-26T12:34:56.789Z`: how Apify writes times.
fn timestamp(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};
    use time::format_description::well_known::Rfc3339;

    fn at(text: &str) -> OffsetDateTime {
        OffsetDateTime::parse(text, &Rfc3339).expect("RFC 3339 time")
    }

    fn now() -> OffsetDateTime {
        at("2026-11-26T12:00:00.000Z")
    }

    fn simulation() -> (Simulation, FakeApify) {
        let fake = FakeApify::new("t");
        (Simulation::new(7, fake.clone(), now()), fake)
    }

    fn created_at(dispatch: &Value) -> OffsetDateTime {
        at(dispatch["createdAt"].as_str().expect("createdAt"))
    }

    fn statuses(dispatch: &Value) -> Vec<Option<u64>> {
        calls(dispatch)
            .iter()
            .map(|c| c["responseStatus"].as_u64())
            .collect()
    }

    fn calls(dispatch: &Value) -> Vec<Value> {
        dispatch["calls"].as_array().expect("calls").clone()
    }

    fn webhook_index(dispatch: &Value) -> usize {
        WEBHOOKS
            .iter()
            .position(|w| dispatch["webhookId"] == w.id)
            .expect("a demo webhook")
    }

    fn is_2xx(status: Option<u64>) -> bool {
        status.is_some_and(|s| (200..300).contains(&s))
    }

    /// Checks what holds for every terminal dispatch of any receiver.
    fn assert_terminal_shape(dispatch: &Value) {
        let calls = calls(dispatch);
        assert!(!calls.is_empty(), "{dispatch}");
        for call in &calls {
            let started = at(call["startedAt"].as_str().expect("startedAt"));
            let finished = at(call["finishedAt"].as_str().expect("finishedAt"));
            let took = finished - started;
            assert!(
                took >= Duration::milliseconds(50) && took <= Duration::seconds(10),
                "{call}"
            );
            assert!(started >= created_at(dispatch), "{dispatch}");
            if call["responseStatus"].is_null() {
                assert!(call["errorMessage"].is_string(), "{call}");
            }
        }
        let last_ok = is_2xx(calls[calls.len() - 1]["responseStatus"].as_u64());
        let expected = if last_ok { "SUCCEEDED" } else { "FAILED" };
        assert_eq!(dispatch["status"], expected, "{dispatch}");
    }

    #[test]
    fn seeds_a_day_of_history_and_one_stuck_dispatch() {
        let (_, fake) = simulation();
        let dispatches = fake.dispatches();
        let (active, terminal): (Vec<&Value>, Vec<&Value>) =
            dispatches.iter().partition(|d| d["status"] == "ACTIVE");
        assert!(
            (160..=220).contains(&terminal.len()),
            "{} terminal",
            terminal.len()
        );
        for dispatch in &dispatches {
            let created = created_at(dispatch);
            assert!(
                created >= now() - Duration::hours(24) && created <= now(),
                "{dispatch}"
            );
            let id = dispatch["id"].as_str().expect("id");
            assert!(
                id.len() == 17 && id.chars().all(|c| c.is_ascii_alphanumeric()),
                "{id}"
            );
        }
        terminal.iter().for_each(|d| assert_terminal_shape(d));

        assert_eq!(active.len(), 1);
        let stuck = active[0];
        assert_eq!(
            WEBHOOKS[webhook_index(stuck)].receiver,
            Receiver::Misconfigured
        );
        let age = now() - created_at(stuck);
        assert!(
            age >= Duration::minutes(133) && age <= Duration::minutes(134),
            "{age}"
        );
        assert_eq!(statuses(stuck), [Some(404), Some(404)]);

        let webhooks = fake.webhooks();
        assert_eq!(webhooks.len(), 5);
        for webhook in &webhooks {
            let spec = WEBHOOKS
                .iter()
                .find(|w| webhook["id"] == w.id)
                .expect("a demo webhook");
            let seeded = dispatches
                .iter()
                .filter(|d| d["webhookId"] == spec.id)
                .count() as u64;
            assert_eq!(
                webhook["stats"]["totalDispatches"],
                spec.earlier_dispatches + seeded
            );
            assert_eq!(webhook["doNotRetry"], spec.receiver == Receiver::BestEffort);
        }
    }

    #[test]
    fn the_same_seed_builds_the_same_account() {
        let (_, first) = simulation();
        let (_, second) = simulation();
        assert_eq!(first.dispatches(), second.dispatches());
        assert_eq!(first.webhooks(), second.webhooks());
    }

    #[test]
    fn a_new_dispatch_starts_active_with_a_call_in_flight() {
        let (mut simulation, fake) = simulation();
        let before: HashSet<String> = fake
            .dispatches()
            .iter()
            .map(|d| d["id"].to_string())
            .collect();
        let totals_before = simulation.totals;

        simulation.step(now() + Duration::seconds(1));

        let new: Vec<Value> = fake
            .dispatches()
            .into_iter()
            .filter(|d| !before.contains(&d["id"].to_string()))
            .collect();
        assert_eq!(new.len(), 1);
        let dispatch = &new[0];
        assert_eq!(dispatch["status"], "ACTIVE");
        assert_eq!(
            dispatch["calls"],
            json!([{
                "startedAt": "2026-11-26T12:00:01.000Z",
                "finishedAt": null,
                "errorMessage": null,
                "responseStatus": null,
                "responseBody": null,
            }])
        );
        let index = webhook_index(dispatch);
        assert_eq!(simulation.totals[index], totals_before[index] + 1);
        let webhook = fake.webhook(WEBHOOKS[index].id).expect("webhook");
        assert_eq!(
            webhook["stats"]["totalDispatches"],
            totals_before[index] + 1
        );
        assert_eq!(
            webhook["lastDispatch"],
            json!({ "status": "ACTIVE", "finishedAt": null })
        );
    }

    #[test]
    fn each_receiver_behaves_as_described_and_every_dispatch_resolves() {
        let (mut simulation, fake) = simulation();
        let end = now() + Duration::minutes(15);
        let mut clock = now();
        let (mut saw_in_flight, mut saw_waiting_for_retry) = (false, false);
        while clock < end {
            clock += Duration::milliseconds(500);
            simulation.step(clock);
            for dispatch in fake.dispatches().iter().filter(|d| d["status"] == "ACTIVE") {
                match calls(dispatch).last() {
                    Some(call) if call["finishedAt"].is_null() => saw_in_flight = true,
                    Some(_) => saw_waiting_for_retry = true,
                    None => panic!("an ACTIVE dispatch without a call: {dispatch}"),
                }
            }
        }
        assert!(saw_in_flight && saw_waiting_for_retry);

        let dispatches = fake.dispatches();
        let live: Vec<&Value> = dispatches
            .iter()
            .filter(|d| created_at(d) > now())
            .collect();
        // Arrivals 2-6 s apart: about 225 in 15 minutes.
        assert!((150..=450).contains(&live.len()), "{} arrivals", live.len());
        for pair in live.windows(2) {
            assert!(created_at(pair[1]) - created_at(pair[0]) <= Duration::milliseconds(6_500));
        }

        let mut per_receiver: HashMap<String, usize> = HashMap::new();
        for dispatch in dispatches
            .iter()
            .filter(|d| created_at(d) < end - Duration::minutes(2))
        {
            assert_terminal_shape(dispatch);
            let receiver = WEBHOOKS[webhook_index(dispatch)].receiver;
            *per_receiver.entry(format!("{receiver:?}")).or_default() += 1;
            let statuses = statuses(dispatch);
            match receiver {
                Receiver::Healthy => assert_eq!(statuses, [Some(200)]),
                Receiver::Flaky => {
                    assert!((1..=3).contains(&statuses.len()), "{dispatch}");
                    assert!(statuses[..statuses.len() - 1]
                        .iter()
                        .all(|s| *s == Some(503)));
                    assert_eq!(statuses[statuses.len() - 1], Some(200));
                }
                Receiver::Misconfigured => assert_eq!(statuses, [Some(404); 3]),
                Receiver::TimesOut => {
                    assert!((1..=3).contains(&statuses.len()), "{dispatch}");
                    assert!(statuses[..statuses.len() - 1].iter().all(|s| s.is_none()));
                }
                Receiver::BestEffort => assert_eq!(statuses.len(), 1),
            }
        }
        assert_eq!(per_receiver.len(), 5, "{per_receiver:?}");

        for (index, spec) in WEBHOOKS.iter().enumerate() {
            let count = dispatches
                .iter()
                .filter(|d| d["webhookId"] == spec.id)
                .count() as u64;
            assert_eq!(simulation.totals[index], spec.earlier_dispatches + count);
        }
    }

    #[test]
    fn timeouts_leave_calls_without_a_status_but_with_an_error() {
        let (mut simulation, fake) = simulation();
        for second in 1..=600 {
            simulation.step(now() + Duration::seconds(second));
        }
        let timed_out = fake
            .dispatches()
            .iter()
            .flat_map(calls)
            .filter(|c| c["responseStatus"].is_null() && !c["finishedAt"].is_null())
            .map(|c| c["errorMessage"].as_str().unwrap_or_default().to_owned())
            .collect::<HashSet<_>>();
        assert_eq!(
            timed_out,
            HashSet::from([
                "Request timed out after 10000 ms".to_owned(),
                "connect ECONNREFUSED 10.8.3.17:8443".to_owned()
            ])
        );
    }

    #[test]
    fn retention_keeps_the_account_bounded() {
        let (mut simulation, fake) = simulation();
        simulation.max_dispatches = 50;
        simulation.step(now() + Duration::seconds(1));
        let terminal = fake
            .dispatches()
            .iter()
            .filter(|d| d["status"] != "ACTIVE")
            .count();
        assert_eq!(terminal, 50);

        // Two days later (a long sleep): everything seeded is past retention,
        // and the missed arrivals are not replayed.
        let later = now() + Duration::hours(49);
        simulation.step(later);
        let dispatches = fake.dispatches();
        assert!(
            dispatches
                .iter()
                .all(|d| created_at(d) >= later - RETENTION),
            "{dispatches:?}"
        );
        assert!(dispatches.len() <= 3, "{} dispatches", dispatches.len());
    }

    #[test]
    fn queues_one_api_hiccup_at_a_time_on_the_dispatch_list() {
        let (mut simulation, fake) = simulation();
        for second in 1..=19 {
            simulation.step(now() + Duration::seconds(second));
        }
        assert_eq!(
            fake.pending_faults(route::DISPATCHES),
            0,
            "none in the first 20 s"
        );
        for second in 20..=600 {
            simulation.step(now() + Duration::seconds(second));
            assert!(fake.pending_faults(route::DISPATCHES) <= 1);
        }
        assert_eq!(fake.pending_faults(route::DISPATCHES), 1);
    }

    #[tokio::test]
    async fn queues_one_slow_answer_at_a_time_on_the_dispatch_route() {
        let (mut simulation, fake) = simulation();
        for second in 1..=300 {
            simulation.step(now() + Duration::seconds(second));
            assert!(fake.pending_faults(route::DISPATCH) <= 1);
        }
        assert_eq!(fake.pending_faults(route::DISPATCH), 1);

        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!(
            "http://{}/v2/webhook-dispatches/none",
            listener.local_addr().expect("addr")
        );
        let shutdown = CancellationToken::new();
        let server = fake.spawn(listener, shutdown.clone());
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .expect("client");
        let started = std::time::Instant::now();
        let response = client
            .get(&url)
            .bearer_auth("t")
            .send()
            .await
            .expect("request");
        let took = started.elapsed();
        assert_eq!(response.status().as_u16(), 404);
        assert!(took >= std::time::Duration::from_millis(200), "{took:?}");
        assert_eq!(fake.pending_faults(route::DISPATCH), 0);
        shutdown.cancel();
        server.await.expect("server task");
    }

    #[test]
    fn webhook_metadata_stays_put_while_stats_move() {
        let (mut simulation, fake) = simulation();
        let metadata = |webhooks: Vec<Value>| -> Vec<(Value, Value)> {
            webhooks
                .into_iter()
                .map(|w| (w["createdAt"].clone(), w["modifiedAt"].clone()))
                .collect()
        };
        let before = metadata(fake.webhooks());
        let total_before: u64 = simulation.totals.iter().sum();
        for minute in 1..=30 {
            simulation.step(now() + Duration::hours(12) + Duration::minutes(minute));
        }
        assert_eq!(metadata(fake.webhooks()), before);
        let total_after: u64 = fake
            .webhooks()
            .iter()
            .map(|w| {
                w["stats"]["totalDispatches"]
                    .as_u64()
                    .expect("totalDispatches")
            })
            .sum();
        assert!(total_after > total_before, "{total_after} > {total_before}");
    }

    #[test]
    fn request_urls_carry_paths_queries_and_userinfo() {
        let urls: Vec<url::Url> = WEBHOOKS
            .iter()
            .map(|w| url::Url::parse(w.request_url).expect("URL"))
            .collect();
        assert!(urls
            .iter()
            .all(|u| u.path().len() > 1 && u.host_str().is_some()));
        assert!(urls.iter().any(|u| u.query().is_some()));
        assert!(urls.iter().any(|u| u.password().is_some()));
    }

    #[test]
    fn writes_times_as_apify_does() {
        assert_eq!(
            timestamp(at("2026-11-26T12:34:56.789Z")),
            "2026-11-26T12:34:56.789Z"
        );
        assert_eq!(
            timestamp(at("2026-11-26T13:04:05.007+01:00")),
            "2026-11-26T12:04:05.007Z"
        );
        assert_eq!(
            timestamp(whole_millis(at("2026-01-02T03:04:05.999999Z"))),
            "2026-01-02T03:04:05.999Z"
        );
    }

    #[tokio::test]
    async fn start_serves_the_demo_account_until_shutdown() {
        let shutdown = CancellationToken::new();
        let demo = start(shutdown.clone()).await.expect("demo starts");
        assert!(
            demo.base_url.starts_with("http://127.0.0.1:"),
            "{}",
            demo.base_url
        );
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .expect("client");

        let webhooks: Value = client
            .get(format!("{}/v2/webhooks", demo.base_url))
            .bearer_auth(&demo.token)
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("JSON");
        assert_eq!(webhooks["data"]["total"], 5);
        assert!(webhooks["data"]["items"][0].get("description").is_none());

        let dispatches: Value = client
            .get(format!(
                "{}/v2/webhook-dispatches?desc=true&limit=10",
                demo.base_url
            ))
            .bearer_auth(&demo.token)
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("JSON");
        let total = dispatches["data"]["total"].as_u64().expect("total");
        assert!(total >= 161, "{total}");
        assert_eq!(dispatches["data"]["count"], 10);
        assert_eq!(demo.fake.requests().len(), 2);
        shutdown.cancel();
    }
}
