//! The `e2e` scenario: the five webhooks of the end-to-end test
//! (`scripts/e2e.py`) and the runs of one Actor with ad-hoc webhooks, each a
//! case the bundled alerts must tell apart, and a driver that keeps their
//! dispatches moving with the clock.
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
//!   wh-slow           every dispatch SUCCEEDED at its first call, which
//!                     takes 26 s (Apify gives up at 30 s) -> ReceiverSlow.
//!                     Its task's record is refused (403), so the exporter
//!                     shows no task name for it.
//!   ad-hoc runs       every second a run of the Actor e2eAdHocActor01 gets its
//!                     own new ad-hoc webhook (listed, `isAdHoc: true`) and
//!                     one dispatch: 500, then 500 (2 of 3, FAILED) or 200
//!                     (1 of 3); every other dispatch carries the `webhook`
//!                     summary. The exporter folds them all into
//!                     `ad-hoc:e2eAdHocActor01` -> ReceiverUnavailable,
//!                     FailureRatioHigh, however many runs there were.
//!
//! This file holds the scenario as data: the webhooks, the history before
//! the run, and each dispatch's [`Plan`] (its calls and status as a
//! function of its age). `e2e_driver.rs` brings it to life: every second
//! each webhook with live traffic gets a new dispatch, and every 100 ms
//! what the clock has revealed goes into the fake, so the exporter sees
//! ACTIVE dispatches turn terminal and calls appear while it re-reads them.
//! Nothing is random: two runs differ only in when they started. (The
//! `--demo` account is seeded-random history as a function of time, with
//! retention and API faults; this scenario needs exact lives.)

use serde_json::{json, Value};

/// The token the fake accepts, as `APIFY_TOKEN` for the exporter.
pub const TOKEN: &str = "e2e-token";
pub(super) const USER_ID: &str = "e2eUser000000001";
/// One new dispatch per webhook with live traffic, this often.
pub(super) const ARRIVAL_MS: i64 = 1_000;
const HOUR_MS: i64 = 3_600_000;
pub(super) const DAY_MS: i64 = 24 * HOUR_MS;

const RUN_SUCCEEDED: &str = "ACTOR.RUN.SUCCEEDED";
const RUN_FAILED: &str = "ACTOR.RUN.FAILED";
const BUILD_SUCCEEDED: &str = "ACTOR.BUILD.SUCCEEDED";

/// One attempt: when it starts after the dispatch was created, how long it
/// takes, and the receiver's HTTP status (`None`: no answer, a timeout).
#[derive(Clone, Copy)]
pub(super) struct Call {
    pub(super) start_ms: i64,
    pub(super) duration_ms: i64,
    pub(super) status: Option<u16>,
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
pub(super) struct Plan {
    pub(super) calls: Vec<Call>,
    pub(super) end: Option<(i64, &'static str)>,
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

/// Answers 200, but only after 26 s.
fn slow(_: i64) -> Plan {
    Plan {
        calls: vec![call(100, 26_000, Some(200))],
        end: Some((26_200, "SUCCEEDED")),
    }
}

/// The `n`th ad-hoc run's dispatch: its receiver answers 500, then, a
/// second later, 200 (every third run) or 500 again. ACTIVE ~2 s.
pub(super) fn ad_hoc(n: i64) -> Plan {
    let (last, outcome) = if n % 3 == 0 {
        (200, "SUCCEEDED")
    } else {
        (500, "FAILED")
    };
    Plan {
        calls: vec![call(200, 100, Some(500)), call(1_500, 200, Some(last))],
        end: Some((2_000, outcome)),
    }
}

/// The Actor whose runs each get an ad-hoc webhook.
pub(super) const AD_HOC_ACTOR_ID: &str = "e2eAdHocActor01";
/// Where the ad-hoc webhooks deliver (userinfo and query stay out of the
/// metrics, as for the others).
pub(super) const AD_HOC_REQUEST_URL: &str =
    "https://runner:t0ken@pipeline.example.com/run-done?key=s3cret";
/// The events an ad-hoc webhook is made for, in turn.
pub(super) const AD_HOC_EVENT_TYPES: [&str; 2] = [RUN_SUCCEEDED, RUN_FAILED];

/// A receiver that answers 500 to `attempts` retries backing off from a
/// minute, as Apify's do.
fn failing_retries(attempts: u32) -> Vec<Call> {
    (0..attempts)
        .map(|i| call(60_000 << i, 30_000, Some(500)))
        .collect()
}

/// Request URLs carry userinfo and queries on purpose: only their host may
/// reach the metrics.
pub(super) struct WebhookSpec {
    pub(super) id: &'static str,
    pub(super) description: &'static str,
    pub(super) request_url: &'static str,
    pub(super) event_types: &'static [&'static str],
    pub(super) actor_id: &'static str,
    pub(super) actor_task_id: Option<&'static str>,
    pub(super) do_not_retry: bool,
    /// The plan of its `n`th live dispatch; `None`: no live traffic.
    pub(super) live: Option<fn(i64) -> Plan>,
}

const HEALTHY: usize = 0;
const FLAKY: usize = 2;
const STALLED: usize = 3;

/// The Actors and tasks, as (id, `username/name`, the Actor of a task),
/// but for the task [`REFUSED_TASK_ID`], whose record the token may not
/// read.
pub(super) const OWNERS: [(&str, &str, Option<&str>); 7] = [
    ("actHealthy00001", "e2e/crm-sync", None),
    ("actSlack0000001", "e2e/slack-notifier", None),
    ("actEtl000000001", "e2e/etl-loader", None),
    (
        "taskEtl00000001",
        "e2e/nightly-load",
        Some("actEtl000000001"),
    ),
    ("actBilling00001", "e2e/invoice-sync", None),
    ("actSearch000001", "e2e/search-indexer", None),
    (AD_HOC_ACTOR_ID, "e2e/pipeline-runner", None),
];
/// wh-slow's task: reading it is refused (403).
pub(super) const REFUSED_TASK_ID: &str = "taskSearch00001";

pub(super) const WEBHOOKS: [WebhookSpec; 5] = [
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
    WebhookSpec {
        id: "wh-slow",
        description: "Search index refresh",
        request_url: "https://search.example.com/reindex?token=s3cret",
        event_types: &[RUN_SUCCEEDED],
        actor_id: "actSearch000001",
        actor_task_id: Some(REFUSED_TASK_ID),
        do_not_retry: false,
        live: Some(slow),
    },
];

impl WebhookSpec {
    pub(super) fn condition(&self) -> Value {
        json!({ "actorId": self.actor_id, "actorTaskId": self.actor_task_id })
    }
}

/// The hours before the run, as (webhook, createdAt, event type, plan):
/// wh-healthy and wh-flaky delivered every ten minutes; wh-stalled
/// delivered 8h ago, has failed since and has one dispatch retried for 3h.
pub(super) fn history(now: i64) -> Vec<(usize, i64, &'static str, Plan)> {
    let mut out = Vec::new();
    for k in (1..=12).rev() {
        let at = now - k * 600_000;
        out.push((HEALTHY, at, RUN_SUCCEEDED, healthy(0)));
        let plan = Plan {
            calls: vec![call(500, 300, Some(200))],
            end: Some((1_000, "SUCCEEDED")),
        };
        out.push((FLAKY, at + 30_000, RUN_SUCCEEDED, plan));
    }
    let plan = Plan {
        calls: vec![call(200, 300, Some(200))],
        end: Some((600, "SUCCEEDED")),
    };
    out.push((STALLED, now - 8 * HOUR_MS, RUN_SUCCEEDED, plan));
    for hours_ago in [7, 5] {
        let plan = Plan {
            calls: failing_retries(4),
            end: Some((HOUR_MS, "FAILED")),
        };
        out.push((STALLED, now - hours_ago * HOUR_MS, RUN_SUCCEEDED, plan));
    }
    let plan = Plan {
        calls: failing_retries(6),
        end: None,
    };
    out.push((STALLED, now - 3 * HOUR_MS, RUN_SUCCEEDED, plan));
    out
}
