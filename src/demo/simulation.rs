//! The `--demo` account: a [`FakeApify`] on 127.0.0.1 filled with a day of
//! history and kept busy by a simulation, so that a newcomer sees every
//! metric family move without an Apify token.
//!
//! It owns the engine: the clock-driven life of each dispatch of the cast
//! (`cast`), created ACTIVE with a call in flight, then calls
//! finishing and retries following, as its receiver planned them
//! (`receivers`), until it is SUCCEEDED or FAILED. Retries are
//! seconds apart, not the hours Apify takes, so that whole lives fit between
//! two refreshes or three. It also seeds a day of history, keeps the account
//! within retention and queues the occasional slow answer or API hiccup.
//! Everything random comes from one seeded RNG, so runs look alike.

use std::collections::VecDeque;
use std::net::Ipv4Addr;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::cast::{Condition, ACTOR_PRICES, USER_ID, WEBHOOKS};
use super::draws::{apify_id, millis, pick_weighted};
use super::fake_api::{route, FakeApify, Fault};
use super::live_dispatch::LiveDispatch;
use super::receivers::{misconfigured_call, Receiver};
use super::times::{day_start, timestamp, whole_millis};

/// The demo API's token: not a secret, the fake only checks that it is sent.
pub const DEMO_TOKEN: &str = "apify_api_DEMO0000000000000000000000000000";

const SEED: u64 = 0x00A9_1F7D;

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

/// The fake API the exporter reads in `--demo`, already serving.
pub struct DemoApi {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub base_url: String,
    /// The token the fake accepts.
    pub token: String,
    /// The fake itself, to look at or to change the account.
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
        // Published by the first step, once these dispatches are in the
        // fake: its count adds the dispatches put after a webhook.
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
            let call = misconfigured_call(&mut self.rng, started_at);
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
        let (calls, outcome) = spec.receiver.plan_calls(&mut self.rng, first_call);
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
    fn pick_webhook(&mut self) -> usize {
        let weights: Vec<(usize, u32)> = WEBHOOKS
            .iter()
            .enumerate()
            .map(|(i, w)| (i, w.weight))
            .collect();
        pick_weighted(&mut self.rng, &weights)
    }

    fn millis(&mut self, range: std::ops::RangeInclusive<i64>) -> Duration {
        millis(&mut self.rng, range)
    }

    fn apify_id(&mut self) -> String {
        apify_id(&mut self.rng)
    }
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

        let get = |path: &str| {
            client
                .get(format!("{}{path}", demo.base_url))
                .bearer_auth(&demo.token)
                .send()
        };
        let webhooks: Value = get("/v2/webhooks")
            .await
            .expect("request")
            .json()
            .await
            .expect("JSON");
        assert_eq!(webhooks["data"]["total"], 5);
        assert!(webhooks["data"]["items"][0].get("description").is_none());

        let dispatches: Value = get("/v2/webhook-dispatches?desc=true&limit=10")
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
