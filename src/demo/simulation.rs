//! The `--demo` account: a [`FakeApify`] on 127.0.0.1 that shows, at every
//! moment, the account `schedule::Schedule` computes for that moment, so that a
//! newcomer sees every metric family move without an Apify token, and an
//! exporter restarted with its state file carries on exactly.
//!
//! The engine here keeps the fake in step with the clock: it shows each
//! dispatch once its first call has started, reveals its calls as they
//! finish until it is SUCCEEDED or FAILED, drops dispatches older than
//! [`WINDOW`] as Apify's retention would, and publishes the webhooks with
//! their lifetime counts. Retries are seconds apart, not the hours Apify
//! takes, so that whole lives fit between two refreshes or three; only the
//! stuck dispatches wait hours. It also queues the occasional slow answer
//! or API hiccup: those are not history, so they come from their own RNG.

use std::collections::VecDeque;
use std::net::Ipv4Addr;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::cast::{OWNERS, USERNAME, USER_ID, WEBHOOKS};
use super::draws::millis;
use super::fake_api::{route, FakeApify, Fault};
use super::live_dispatch::LiveDispatch;
use super::schedule::{slot_of, Schedule, ANCHOR};
use super::times::{day_start, timestamp, whole_millis};

/// The demo API's token: not a secret, the fake only checks that it is sent.
pub const DEMO_TOKEN: &str = "apify_api_DEMO0000000000000000000000000000";

/// What the state file records as the API origin in `--demo`: the demo's
/// port changes at every start, its account does not.
pub const DEMO_ORIGIN: &str = "demo:acme";

const SEED: u64 = 0x00A9_1F7D;

/// The simulation's clock resolution; arrivals and call ends fall between ticks.
const TICK: std::time::Duration = std::time::Duration::from_millis(500);
/// Milliseconds between two slow answers queued on `GET /v2/webhook-dispatches/:id`.
const SLOW_ANSWER_GAP_MS: std::ops::RangeInclusive<i64> = 20_000..=60_000;
/// Milliseconds between two API hiccups (a 429 with `Retry-After: 1`, or a
/// 503) on the dispatch list: the client retries them, and the exporter's
/// own API panels have something to show.
const API_HICCUP_GAP_MS: std::ops::RangeInclusive<i64> = 45_000..=90_000;
/// Dispatches created longer ago than this are gone, as after Apify's
/// retention; longer than any dispatch's life, so only terminal ones go.
/// About 5,400 dispatches.
pub const WINDOW: Duration = Duration::hours(6);
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

/// Binds 127.0.0.1 on a free port, serves the demo account there and
/// keeps it in step with the clock until `shutdown` is cancelled.
pub async fn start(shutdown: CancellationToken) -> std::io::Result<DemoApi> {
    start_with(shutdown.clone(), shutdown, true).await
}

/// Like [`start`], with the simulation stopped by its own token, and
/// retention only if `retention`: a test can freeze the account and keep
/// serving it, to compare the exporter's numbers with all the account held.
pub async fn start_with(
    server: CancellationToken,
    simulation: CancellationToken,
    retention: bool,
) -> std::io::Result<DemoApi> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let base_url = format!("http://{}", listener.local_addr()?);
    let fake = FakeApify::new(DEMO_TOKEN);
    fake.set_request_log_limit(Some(REQUEST_LOG_LIMIT));
    let mut sim = Simulation::new(SEED, fake.clone(), OffsetDateTime::now_utc());
    sim.retention = retention;
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

/// The demo account as it stands at `at`, not moving and not served: what
/// `--demo` would show at that moment (its faults aside).
pub fn account_at(at: OffsetDateTime) -> FakeApify {
    let fake = FakeApify::new(DEMO_TOKEN);
    Simulation::new(SEED, fake.clone(), at);
    fake
}

/// Every dispatch of the demo account created at or after `from` and shown
/// by `at`, as the API shows it at `at`, oldest first; retention aside, so
/// that a test can tell what an exporter watching since `from` has seen.
pub fn history(from: OffsetDateTime, at: OffsetDateTime) -> Vec<Value> {
    history_of(SEED, from, at)
}

fn history_of(seed: u64, from: OffsetDateTime, at: OffsetDateTime) -> Vec<Value> {
    let at = whole_millis(at);
    Schedule::new(seed)
        .shown_between(from, at)
        .iter()
        .map(|d| d.render(at))
        .collect()
}

/// Keeps a [`FakeApify`] showing the account of a [`Schedule`] at the time
/// it is stepped to. Pure over the clock it is given, so tests step it
/// through hours in microseconds.
struct Simulation {
    schedule: Schedule,
    /// For the faults only: history does not draw from it.
    rng: StdRng,
    fake: FakeApify,
    /// The next slot whose dispatches are not in `upcoming` yet.
    next_slot: i64,
    /// Created, not shown yet, oldest first.
    upcoming: VecDeque<LiveDispatch>,
    /// Shown and not yet terminal.
    live: Vec<LiveDispatch>,
    /// Off, nothing shown is removed (for tests).
    retention: bool,
    /// The newest dispatch shown per webhook, for its `lastDispatch`.
    newest: [Option<LiveDispatch>; WEBHOOKS.len()],
    next_slow_answer: OffsetDateTime,
    next_api_hiccup: OffsetDateTime,
}

impl Simulation {
    /// A simulation whose fake already holds the webhooks and the account's
    /// last [`WINDOW`] as of `now`.
    fn new(seed: u64, fake: FakeApify, now: OffsetDateTime) -> Simulation {
        let now = whole_millis(now);
        let mut simulation = Simulation {
            schedule: Schedule::new(seed),
            rng: StdRng::seed_from_u64(seed),
            fake,
            next_slot: slot_of(now - WINDOW),
            upcoming: VecDeque::new(),
            live: Vec::new(),
            retention: true,
            newest: [(); WEBHOOKS.len()].map(|()| None),
            next_slow_answer: now + Duration::seconds(10),
            next_api_hiccup: now + Duration::seconds(20),
        };
        simulation.publish_owners();
        simulation.step(now);
        simulation
    }

    /// The Actors and the task the webhooks belong to, for their names.
    fn publish_owners(&self) {
        for (id, name, actor) in OWNERS {
            let owner = json!({ "id": id, "userId": USER_ID, "username": USERNAME, "name": name });
            match actor {
                Some(actor) => {
                    let mut task = owner;
                    task["actId"] = json!(actor);
                    self.fake.put_actor_task(task);
                }
                None => self.fake.put_actor(owner),
            }
        }
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

    /// Advances the account to `now`: dispatches whose first call started,
    /// calls that started or finished, retention, an occasional fault.
    fn step(&mut self, now: OffsetDateTime) {
        let now = whole_millis(now);
        let oldest_kept = now - WINDOW;
        // After a long sleep, the slots already past retention are skipped.
        self.next_slot = self.next_slot.max(slot_of(oldest_kept));
        while self.next_slot <= slot_of(now) {
            let created = self.schedule.slot_dispatches(self.next_slot);
            self.upcoming.extend(created);
            self.next_slot += 1;
        }
        while let Some(dispatch) = self.upcoming.pop_front() {
            if dispatch.shown_from() > now {
                self.upcoming.push_front(dispatch);
                break;
            }
            if dispatch.created_at < oldest_kept {
                continue;
            }
            self.newest[dispatch.webhook] = Some(dispatch.clone());
            self.live.push(dispatch);
        }

        let mut changed = false;
        self.live.retain_mut(|dispatch| {
            let stage = dispatch.stage(now);
            if dispatch.shown != Some(stage) {
                self.fake.put_dispatch(dispatch.render(now));
                dispatch.shown = Some(stage);
                changed = true;
            }
            !dispatch.is_terminal(now)
        });
        if changed {
            self.publish_webhooks(now);
        }
        if self.retention {
            self.fake.remove_dispatches_created_before(oldest_kept);
        }
        self.queue_faults(now);
    }

    /// The occasional slow answer on the dispatch route and hiccup on the
    /// dispatch list, one at a time: a queue the exporter never drains (no
    /// ACTIVE dispatch to re-read) must not grow.
    fn queue_faults(&mut self, now: OffsetDateTime) {
        if self.next_slow_answer <= now {
            if self.fake.pending_faults(route::DISPATCH) == 0 {
                let delay = self.rng.random_range(200..=800);
                self.fake.inject(
                    route::DISPATCH,
                    Fault::Delay(std::time::Duration::from_millis(delay)),
                );
            }
            self.next_slow_answer = now + millis(&mut self.rng, SLOW_ANSWER_GAP_MS);
        }
        if self.next_api_hiccup <= now {
            // A single fault is retried away, so the demo's refreshes
            // still succeed.
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
            self.next_api_hiccup = now + millis(&mut self.rng, API_HICCUP_GAP_MS);
        }
    }

    fn publish_webhooks(&self, now: OffsetDateTime) {
        for (index, spec) in WEBHOOKS.iter().enumerate() {
            // Fixed dates: a `modifiedAt` that moved would make the exporter
            // re-read the webhook every refresh.
            let created_at = day_start(ANCHOR - Duration::days(spec.created_days_ago));
            let last_dispatch = self.newest[index]
                .as_ref()
                .map_or(Value::Null, |d| d.last_dispatch(now));
            self.fake.put_webhook(json!({
                "id": spec.id,
                "createdAt": timestamp(created_at + Duration::hours(9) + Duration::minutes(index as i64 * 7)),
                "modifiedAt": timestamp(created_at + Duration::days(2) + Duration::hours(14)),
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
                "lastDispatch": last_dispatch,
                "stats": { "totalDispatches": self.schedule.total(index, now) },
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::receivers::Receiver;
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

    fn total_of(simulation: &Simulation, at: OffsetDateTime) -> Vec<u64> {
        (0..WEBHOOKS.len())
            .map(|i| simulation.schedule.total(i, at))
            .collect()
    }

    #[test]
    fn shows_the_last_six_hours_and_always_a_stuck_dispatch() {
        let (_, fake) = simulation();
        let dispatches = fake.dispatches();
        // 12:00 is a slot's start: 5,400 slots from 06:00 (the one starting
        // at 12:00 not shown yet) and a stuck dispatch each hour, 06:00 to 11:00.
        assert_eq!(dispatches.len(), 5_406);
        for dispatch in &dispatches {
            let created = created_at(dispatch);
            assert!(created >= now() - WINDOW && created <= now(), "{dispatch}");
            let id = dispatch["id"].as_str().expect("id");
            assert!(
                id.len() == 17 && id.chars().all(|c| c.is_ascii_alphanumeric()),
                "{id}"
            );
        }
        let (active, terminal): (Vec<&Value>, Vec<&Value>) =
            dispatches.iter().partition(|d| d["status"] == "ACTIVE");
        terminal.iter().for_each(|d| assert_terminal_shape(d));

        // Those of 09:00, 10:00 and 11:00 wait for retries; 06:00's to
        // 08:00's have failed after four 404s.
        let stuck: Vec<&&Value> = active
            .iter()
            .filter(|d| now() - created_at(d) > Duration::minutes(10))
            .collect();
        let ages: Vec<i64> = stuck
            .iter()
            .map(|d| (now() - created_at(d)).whole_minutes())
            .collect();
        assert_eq!(ages, [179, 119, 59]);
        for dispatch in &stuck {
            let receiver = WEBHOOKS[webhook_index(dispatch)].receiver;
            assert_eq!(receiver, Receiver::Misconfigured);
        }
        assert_eq!(statuses(stuck[0]), [Some(404); 3]);
        let failed_stuck = terminal.iter().filter(|d| statuses(d).len() == 4).count();
        assert_eq!(failed_stuck, 3);

        let webhooks = fake.webhooks();
        assert_eq!(webhooks.len(), 5);
        for webhook in &webhooks {
            let spec = WEBHOOKS
                .iter()
                .find(|w| webhook["id"] == w.id)
                .expect("a demo webhook");
            assert_eq!(webhook["doNotRetry"], spec.receiver == Receiver::BestEffort);
        }
    }

    #[test]
    fn the_account_is_a_function_of_time_not_of_the_start() {
        let later = now() + Duration::minutes(10);
        let (mut started_early, fake_early) = simulation();
        let mut clock = now();
        while clock < later {
            clock += Duration::milliseconds(500);
            started_early.step(clock);
        }
        let fake_late = FakeApify::new("t");
        Simulation::new(7, fake_late.clone(), later);
        assert_eq!(fake_early.dispatches(), fake_late.dispatches());
        assert_eq!(fake_early.webhooks(), fake_late.webhooks());
        assert_eq!(
            fake_late.dispatches(),
            history_of(7, later - WINDOW, later),
            "history() is what --demo shows"
        );
    }

    #[test]
    fn lifetime_counts_add_exactly_the_dispatches_shown() {
        let (simulation, _) = simulation();
        // Deck 0 is slots 0-99: each webhook had its weight of them by the
        // time slot 100 starts, and the misconfigured one its first stuck one.
        let after_first_deck = ANCHOR + Duration::milliseconds(400_000);
        for (index, spec) in WEBHOOKS.iter().enumerate() {
            let stuck = u64::from(spec.receiver == Receiver::Misconfigured);
            assert_eq!(
                simulation.schedule.total(index, after_first_deck),
                spec.earlier_dispatches + u64::from(spec.weight) + stuck,
                "{}",
                spec.id
            );
            assert_eq!(
                simulation.schedule.total(index, ANCHOR),
                spec.earlier_dispatches
            );
        }

        let (from, to) = (now(), now() + Duration::hours(2));
        let before = total_of(&simulation, from);
        let after = total_of(&simulation, to);
        let mut shown = vec![0u64; WEBHOOKS.len()];
        for dispatch in Schedule::new(7).shown_between(from - Duration::minutes(1), to) {
            if dispatch.shown_from() > from {
                shown[dispatch.webhook] += 1;
            }
        }
        let added: Vec<u64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
        assert_eq!(added, shown);
        assert_eq!(added.iter().sum::<u64>(), 1_800 + 2);
    }

    #[test]
    fn a_new_dispatch_starts_active_with_a_call_in_flight() {
        let (mut simulation, fake) = simulation();
        let before: HashSet<String> = fake
            .dispatches()
            .iter()
            .map(|d| d["id"].to_string())
            .collect();
        let totals_before = total_of(&simulation, now());
        let next = simulation
            .upcoming
            .front()
            .expect("the next dispatch")
            .clone();
        let shown_at = next.shown_from();
        simulation.step(shown_at - Duration::milliseconds(1));
        assert_eq!(fake.dispatches().len(), before.len());

        simulation.step(shown_at);

        let new: Vec<Value> = fake
            .dispatches()
            .into_iter()
            .filter(|d| !before.contains(&d["id"].to_string()))
            .collect();
        assert_eq!(new.len(), 1);
        let dispatch = &new[0];
        assert_eq!(dispatch["id"], next.skeleton["id"]);
        assert_eq!(dispatch["status"], "ACTIVE");
        assert_eq!(
            dispatch["calls"],
            json!([{
                "startedAt": timestamp(shown_at),
                "finishedAt": null,
                "errorMessage": null,
                "responseStatus": null,
                "responseBody": null,
            }])
        );
        let index = webhook_index(dispatch);
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
            for dispatch in simulation.live.iter().map(|d| d.render(clock)) {
                match calls(&dispatch).last() {
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
        // One a slot (4 s) and the stuck one of 12:00.
        assert_eq!(live.len(), 225 + 1);
        for pair in live.windows(2) {
            assert!(created_at(pair[1]) - created_at(pair[0]) <= Duration::milliseconds(7_000));
        }

        let mut per_receiver: HashMap<String, usize> = HashMap::new();
        let (waiting, ended): (Vec<&Value>, Vec<&Value>) = dispatches
            .iter()
            .filter(|d| created_at(d) < end - Duration::minutes(2))
            .partition(|d| d["status"] == "ACTIVE");
        // Only the stuck ones, created on the hour, wait longer than a minute.
        let waiting_minutes: Vec<i64> = waiting
            .iter()
            .map(|d| (end - created_at(d)).whole_minutes())
            .collect();
        assert_eq!(waiting_minutes, [194, 134, 74, 14]);
        for dispatch in ended {
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
                Receiver::Misconfigured => {
                    assert!(statuses == [Some(404); 3] || statuses == [Some(404); 4])
                }
                Receiver::TimesOut => {
                    assert!((1..=3).contains(&statuses.len()), "{dispatch}");
                    assert!(statuses[..statuses.len() - 1].iter().all(|s| s.is_none()));
                }
                Receiver::BestEffort => assert_eq!(statuses.len(), 1),
            }
        }
        assert_eq!(per_receiver.len(), 5, "{per_receiver:?}");
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
    fn retention_keeps_the_last_six_hours_even_after_a_long_sleep() {
        let (mut simulation, fake) = simulation();
        // Two days later (a laptop asleep): the account is what a demo
        // started then would show, nothing older.
        let later = now() + Duration::hours(49) + Duration::milliseconds(1_500);
        simulation.step(later);
        let dispatches = fake.dispatches();
        assert!(
            dispatches.iter().all(|d| created_at(d) >= later - WINDOW),
            "{dispatches:?}"
        );
        let fresh = FakeApify::new("t");
        Simulation::new(7, fresh.clone(), later);
        assert_eq!(dispatches, fresh.dispatches());
        assert_eq!(fake.webhooks(), fresh.webhooks());
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
        let total_before: u64 = total_of(&simulation, now()).iter().sum();
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
        assert!((5_400..=5_407).contains(&total), "{total}");
        assert_eq!(dispatches["data"]["count"], 10);
        assert_eq!(demo.fake.requests().len(), 2);
        shutdown.cancel();
    }
}
