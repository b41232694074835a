//! A property test: random sequences of upstream changes (new dispatches,
//! ACTIVE ones getting calls and ending, deletions by retention, 500s,
//! 429s and malformed answers, dispatches arriving while a list is paged,
//! restarts from the state file, the account-wide list refused and taken
//! back) against the real exporter and the fake
//! API; once the account is left alone and a refresh succeeds, the
//! exporter's counters must equal a simple model's: each dispatch counted
//! once under its terminal status, each finished call once, by webhook,
//! event type and status.
//!
//! The model does not follow the exporter's refreshes; it reads the
//! account at the end, plus a ledger of what deleted dispatches had
//! certainly been counted for. So that the ledger is exact, only
//! dispatches whose fate is known are deleted: ones whose current version
//! a fully successful refresh (`apify_up 1`) has read, and ones no refresh
//! has been attempted on since they were created.
//!
//! Data is well formed, and created with sane, non-decreasing timestamps
//! (several in one millisecond included): skipped items, future
//! timestamps and `total` are tested elsewhere.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use apify_webhook_exporter::demo::{FakeApify, Fault};
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::Value;
use support::model::{text, Counts};
use support::*;

const WEBHOOKS: [&str; 2] = [W1, W2];
const EVENTS: [&str; 2] = [RUN_OK, RUN_FAILED];

/// How a new dispatch starts.
#[derive(Debug, Clone)]
enum Start {
    /// ACTIVE, with these finished calls and maybe one in flight.
    Active(Vec<Option<u16>>, bool),
    /// Already over: SUCCEEDED or FAILED, with these calls.
    Over(&'static str, Vec<Option<u16>>),
}

#[derive(Debug, Clone)]
struct NewDispatch {
    webhook: usize,
    event: usize,
    /// Milliseconds after the newest dispatch so far (0: the same instant).
    gap: i64,
    start: Start,
}

/// A fault the next requests of a route meet. A request that fails for
/// good is a malformed answer: 500s until the retries give up would cost
/// seconds of backoff per case.
#[derive(Debug, Clone, Copy)]
enum FaultKind {
    /// 500: retried, then answered.
    ServerError,
    /// 429 with `Retry-After: 0`: retried, then answered.
    RateLimited,
    /// Not JSON: a decode error, not retried; the refresh fails.
    Malformed,
}

#[derive(Debug, Clone, Copy)]
enum FaultRoute {
    /// The dispatch list (account-wide or per webhook).
    List,
    /// The re-read of one ACTIVE dispatch.
    Dispatch,
}

#[derive(Debug, Clone)]
enum Step {
    /// Dispatches created.
    New(Vec<NewDispatch>),
    /// An ACTIVE dispatch (picked among those of the account) progresses:
    /// its call in flight finishes with `status`, or a call is added
    /// (finished, or in flight when `in_flight`); then maybe it ends.
    Progress {
        which: Index,
        status: Option<u16>,
        in_flight: bool,
        end: Option<&'static str>,
    },
    /// Retention removes a dispatch (picked among those whose fate is known).
    Delete(Index),
    /// A fault for the request after `skip` more requests of `route`.
    Fault(FaultRoute, FaultKind, usize),
    /// More than a page of dispatches at once for one webhook, then
    /// refreshes; `arriving` more are created while the list is paged.
    Burst {
        webhook: usize,
        count: usize,
        arriving: usize,
    },
    /// One refresh (a scrape, in on-scrape mode).
    Refresh,
    /// A graceful stop and a start from the state file.
    Restart,
    /// The token's scope changes: the account-wide list is refused (and
    /// each webhook's own list read instead), or readable again.
    ToggleAccountList,
}

fn call_status() -> impl Strategy<Value = Option<u16>> {
    prop::sample::select(vec![Some(200), Some(204), Some(404), Some(500), None])
}

fn new_dispatch() -> impl Strategy<Value = NewDispatch> {
    let calls = || prop::collection::vec(call_status(), 0..3);
    let start = prop_oneof![
        (calls(), any::<bool>()).prop_map(|(c, f)| Start::Active(c, f)),
        (prop::sample::select(vec!["SUCCEEDED", "FAILED"]), calls())
            .prop_map(|(s, c)| Start::Over(s, c)),
    ];
    (
        0..2usize,
        0..2usize,
        prop::sample::select(vec![0i64, 1, 750]),
        start,
    )
        .prop_map(|(webhook, event, gap, start)| NewDispatch {
            webhook,
            event,
            gap,
            start,
        })
}

fn step() -> impl Strategy<Value = Step> {
    let fault_kind = prop_oneof![
        Just(FaultKind::ServerError),
        Just(FaultKind::RateLimited),
        Just(FaultKind::Malformed),
    ];
    let fault_route = prop_oneof![Just(FaultRoute::List), Just(FaultRoute::Dispatch)];
    prop_oneof![
        4 => prop::collection::vec(new_dispatch(), 1..4).prop_map(Step::New),
        4 => (
            any::<Index>(),
            call_status(),
            any::<bool>(),
            prop::option::of(prop::sample::select(vec!["SUCCEEDED", "FAILED"])),
        )
            .prop_map(|(which, status, in_flight, end)| Step::Progress {
                which,
                status,
                in_flight,
                end,
            }),
        2 => any::<Index>().prop_map(Step::Delete),
        3 => (fault_route, fault_kind, 0..3usize).prop_map(|(r, k, s)| Step::Fault(r, k, s)),
        // A few arrivals push a page's worth of repeats onto the next
        // page; more than a page of them reach it themselves.
        1 => (0..2usize, 101..=125usize, prop_oneof![1..=4usize, 101..=110usize])
            .prop_map(|(webhook, count, arriving)| {
            Step::Burst {
                webhook,
                count,
                arriving,
            }
        }),
        5 => Just(Step::Refresh),
        1 => Just(Step::Restart),
        1 => Just(Step::ToggleAccountList),
    ]
}

/// The test's side: the account's clock and ids, the ledger of deleted
/// dispatches, and what is known of what the exporter has read.
struct Model {
    next_id: usize,
    /// `createdAt` of the newest dispatch.
    newest: i64,
    /// What deleted dispatches had been counted for.
    ledger: Counts,
    /// Dispatches whose current version a successful refresh has read.
    read: BTreeSet<String>,
    /// Dispatches created since the last refresh attempt.
    unseen: BTreeSet<String>,
}

fn call_at(at: i64, status: Option<u16>, in_flight: bool) -> Value {
    if in_flight {
        call(at, None, None)
    } else {
        call(at, Some(at + 250), status)
    }
}

impl Model {
    fn id(&mut self) -> String {
        self.next_id += 1;
        format!("d{:05}", self.next_id)
    }

    fn create(&mut self, n: &NewDispatch) -> Value {
        self.newest += n.gap;
        let at = self.newest;
        let id = self.id();
        let (status, calls) = match &n.start {
            Start::Active(finished, in_flight) => {
                let mut calls: Vec<Value> = (0..finished.len())
                    .map(|i| call_at(at + 1000 * i as i64, finished[i], false))
                    .collect();
                if *in_flight {
                    calls.push(call_at(at + 1000 * finished.len() as i64, None, true));
                }
                ("ACTIVE", calls)
            }
            Start::Over(status, finished) => {
                let calls = (0..finished.len())
                    .map(|i| call_at(at + 1000 * i as i64, finished[i], false))
                    .collect();
                (*status, calls)
            }
        };
        dispatch(&id, WEBHOOKS[n.webhook], EVENTS[n.event], status, at, calls)
    }
}

/// One case: the exporter against a fake account, the steps, then refreshes
/// until one succeeds with no fault left for the list; returns what the
/// exporter shows and what the model expects.
async fn run_case(per_webhook: bool, steps: Vec<Step>) -> (Counts, Counts) {
    let dir = temp_dir("model");
    let state_file = dir.path().join("state.json");
    let mut model = Model {
        next_id: 0,
        // Sane: within the lookback, and however the steps go (at most a
        // few hundred dispatches, each at most 750 ms after the last),
        // never in the future.
        newest: now_ms() - 3_600_000,
        ledger: Counts::default(),
        read: BTreeSet::new(),
        unseen: BTreeSet::new(),
    };
    let fake = FakeApify::new(TOKEN);
    for w in WEBHOOKS {
        fake.put_webhook(webhook(w, &EVENTS));
    }
    // A dispatch of each webhook before the start, so that every list
    // has a watermark from the first refresh on (and later refreshes ask
    // for a short first page, which a burst overflows).
    for webhook in 0..WEBHOOKS.len() {
        fake.put_dispatch(model.create(&NewDispatch {
            webhook,
            event: 0,
            gap: 0,
            start: Start::Over("SUCCEEDED", vec![Some(200)]),
        }));
    }
    let configure = |c: &mut apify_webhook_exporter::config::Config| {
        c.state_file = Some(state_file.clone());
        if per_webhook {
            c.selection.webhook_ids = WEBHOOKS.iter().map(|w| w.to_string()).collect();
        }
    };
    // Per-webhook lists are the fallback when the account-wide one is
    // refused, as with a scoped token; the exporter takes the account-wide
    // one back at the next metadata read (every refresh here) that finds it
    // readable.
    let mut refused = per_webhook;
    fake.refuse_route(route::DISPATCHES, refused);
    let list_route = |refused: bool| {
        if refused {
            route::WEBHOOK_DISPATCHES
        } else {
            route::DISPATCHES
        }
    };
    let mut h = Harness::start(fake, configure).await;

    for step in steps {
        match step {
            Step::New(news) => {
                for n in news {
                    let d = model.create(&n);
                    model.unseen.insert(text(&d, "id").to_string());
                    h.fake.put_dispatch(d);
                }
            }
            Step::Progress {
                which,
                status,
                in_flight,
                end,
            } => {
                let active: Vec<Value> = h
                    .fake
                    .dispatches()
                    .into_iter()
                    .filter(|d| text(d, "status") == "ACTIVE")
                    .collect();
                if active.is_empty() {
                    continue;
                }
                let mut d = which.get(&active).clone();
                let at = model.newest;
                let calls = d["calls"].as_array_mut().expect("calls");
                match calls.last_mut() {
                    Some(last) if last["finishedAt"].is_null() => {
                        *last = call_at(at, status, false);
                    }
                    _ => calls.push(call_at(at, status, in_flight)),
                }
                if let Some(end) = end {
                    d["status"] = end.into();
                }
                model.read.remove(text(&d, "id"));
                h.fake.put_dispatch(d);
            }
            Step::Delete(which) => {
                let known: Vec<String> = model.read.union(&model.unseen).cloned().collect();
                if known.is_empty() {
                    continue;
                }
                let id = which.get(&known).clone();
                if model.read.remove(&id) {
                    let d = h.fake.dispatch(&id).expect("a dispatch the model knows");
                    model.ledger.add(&d, false);
                }
                model.unseen.remove(&id);
                h.fake.remove_dispatch(&id);
            }
            Step::Fault(at, kind, skip) => {
                let route = match at {
                    FaultRoute::List => list_route(refused),
                    FaultRoute::Dispatch => route::DISPATCH,
                };
                for _ in 0..skip {
                    h.fake.inject(route, Fault::Delay(Duration::ZERO));
                }
                let fault = match kind {
                    FaultKind::ServerError => Fault::status(500, "internal-error", "oops"),
                    FaultKind::RateLimited => Fault::rate_limited(0),
                    FaultKind::Malformed => Fault::Malformed,
                };
                h.fake.inject(route, fault);
            }
            Step::Burst {
                webhook,
                count,
                arriving,
            } => {
                for i in 0..count {
                    let n = NewDispatch {
                        webhook,
                        event: i % 2,
                        gap: (i % 3) as i64,
                        start: Start::Over(["SUCCEEDED", "FAILED"][i % 2], vec![Some(200)]),
                    };
                    let d = model.create(&n);
                    h.fake.put_dispatch(d);
                }
                let late: Vec<Value> = (0..arriving)
                    .map(|i| {
                        model.create(&NewDispatch {
                            webhook,
                            event: i % 2,
                            gap: 1,
                            start: Start::Active(vec![Some(500)], false),
                        })
                    })
                    .collect();
                // The second list request, a later page when the burst is
                // more than the first one holds, meets the arrival.
                h.fake
                    .inject(list_route(refused), Fault::Delay(Duration::ZERO));
                h.fake.inject(list_route(refused), Fault::Arrive(late));
                // Until the arrival has happened: nothing may be created
                // meanwhile, or it would be newer than what arrives.
                for _ in 0..20 {
                    if h.fake.pending_faults(list_route(refused)) == 0 {
                        break;
                    }
                    refresh(&h, &mut model).await;
                }
                assert_eq!(
                    h.fake.pending_faults(list_route(refused)),
                    0,
                    "arrival not taken"
                );
            }
            Step::Refresh => {
                refresh(&h, &mut model).await;
            }
            Step::ToggleAccountList => {
                refused = !refused;
                h.fake.refuse_route(route::DISPATCHES, refused);
            }
            Step::Restart => {
                h = h.restart(configure).await;
                model.unseen.clear();
            }
        }
    }

    // Left alone: refresh until a refresh with no fault left on the list
    // succeeds. Faults left for re-reads are dropped first: a malformed
    // re-read leaves its dispatch out of that refresh (reported as skipped,
    // with apify_up 1) and counts it at the next, so a refresh that met one
    // is not the end state the model describes.
    h.fake.clear_faults(route::DISPATCH);
    h.fake.clear_faults(list_route(!refused));
    let mut last = None;
    for _ in 0..30 {
        let clean = h.fake.pending_faults(list_route(refused)) == 0;
        let m = refresh(&h, &mut model).await;
        if clean && m.up() == 1.0 {
            last = Some(m);
            break;
        }
    }
    let m = last.expect("a successful refresh within 30");
    let mut expected = model.ledger.clone();
    for d in h.fake.dispatches() {
        expected.add(&d, true);
    }
    let actual = Counts::of(&m).without_zeros();
    let expected = expected.without_zeros();
    h.stop().await;
    (actual, expected)
}

/// One refresh; after a successful one, every dispatch that was in the
/// account before it has been read as it is.
async fn refresh(h: &Harness, model: &mut Model) -> Scrape {
    let before: Vec<String> = h
        .fake
        .dispatches()
        .iter()
        .map(|d| text(d, "id").to_string())
        .collect();
    let m = h.scrape().await;
    model.unseen.clear();
    if m.up() == 1.0 {
        model.read.extend(before);
    }
    m
}

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16);
    ProptestConfig {
        cases,
        // Each case runs the exporter: bound the shrinking too.
        max_shrink_iters: 200,
        max_shrink_time: 300_000,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn counters_equal_the_models_after_any_changes(
        per_webhook in any::<bool>(),
        steps in prop::collection::vec(step(), 1..14),
    ) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (actual, expected) = runtime.block_on(run_case(per_webhook, steps));
        prop_assert_eq!(actual, expected);
    }
}
