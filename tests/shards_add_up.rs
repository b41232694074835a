//! Issue 13: several exporters against one account. Two shards with
//! disjoint selections (by Actor, task and webhook id) show disjoint
//! webhook series, and together exactly what one unsharded exporter shows;
//! an Actor and one of its tasks in two shards overlap in exactly the
//! task's folded ad-hoc set (so a task goes in its Actor's shard); an HA
//! pair shows the same series twice, each paying its own requests.
//!
//! Only the `apify_webhook_*` families are compared. `apify_up`,
//! `apify_exporter_*` and `process_*` describe one process (its refreshes,
//! its requests, its memory), not the account: every exporter has its own,
//! and Prometheus tells them apart by `instance` and `job`.
//!
//! Every exporter runs on-scrape with no reuse window (the harness's
//! default): a scrape is one refresh of that exporter, so each round below
//! is "refresh all three, then compare", with no wait to guess.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use apify_webhook_exporter::config::{Config, Selection};
use apify_webhook_exporter::demo::FakeApify;
use serde_json::{json, Value};
use support::model::{text, Counts};
use support::*;
use tokio_util::sync::CancellationToken;

// Shard A: two Actors, and the task of the second (a task goes in its
// Actor's shard: see the overlap test).
const SCRAPER: &str = "actScraper00001";
const LOADER: &str = "actLoader000002";
const NIGHTLY: &str = "taskNightly0002";
// Shard B: an Actor and its task; a task whose Actor is run only through
// it; one webhook by id, of an Actor whose runs ask for no ad-hoc webhook.
const CRAWLER: &str = "actCrawler00003";
const DAILY: &str = "taskDaily000003";
const MAILER: &str = "actMailer000004";
const DIGEST: &str = "taskDigest00004";
const EXPORTER: &str = "actExport000005";

const WH_SCRAPER: &str = "whScraper0000001";
/// Never dispatched: only its zero series.
const WH_SCRAPER_QUIET: &str = "whScraperQuiet01";
const WH_LOADER: &str = "whLoader00000002";
const WH_NIGHTLY: &str = "whNightly0000002";
const WH_CRAWLER: &str = "whCrawler0000003";
const WH_DAILY: &str = "whDaily000000003";
const WH_DIGEST: &str = "whDigest00000004";
const WH_EXPORT: &str = "whExport00000005";

/// ACTIVE until `move_on`, then SUCCEEDED after one more call.
const ACTIVE_SCRAPER: &str = "dActiveScraper";
/// ACTIVE until `move_on`, then FAILED.
const ACTIVE_DIGEST: &str = "dActiveDigest";
/// ACTIVE throughout.
const ACTIVE_NIGHTLY: &str = "dActiveNightly";
/// The ad-hoc run of DAILY whose dispatch is ACTIVE until `move_on`.
const ACTIVE_AD_HOC_RUN: usize = 35;
/// ACTIVE dispatches before `move_on`.
const ACTIVE_AT_FIRST: usize = 4;

/// Whose runs a dispatch is about: an Actor's, or a task's (of an Actor).
#[derive(Clone, Copy)]
struct Run {
    actor: &'static str,
    task: Option<&'static str>,
}

const fn actor(actor: &'static str) -> Run {
    Run { actor, task: None }
}

const fn task(task: &'static str, of: &'static str) -> Run {
    Run {
        actor: of,
        task: Some(task),
    }
}

/// A regular webhook of `owner`: its condition names the task for a task,
/// else the Actor (Apify takes exactly one of them).
fn regular(id: &str, owner: Run, events: &[&str]) -> Value {
    let mut w = webhook(id, events);
    w["condition"] = match owner.task {
        Some(task) => json!({ "actorTaskId": task }),
        None => json!({ "actorId": owner.actor }),
    };
    w["requestUrl"] = json!(format!("https://{}.example.net/in", id.to_lowercase()));
    w
}

/// A dispatch whose `eventData` names run `run_id` of `run`.
#[allow(clippy::too_many_arguments)]
fn of_run(
    id: &str,
    webhook_id: &str,
    run: Run,
    run_id: &str,
    event: &str,
    status: &str,
    at: i64,
    calls: Vec<Value>,
) -> Value {
    let mut d = dispatch(id, webhook_id, event, status, at, calls);
    d["eventData"] = json!({"actorId": run.actor, "actorTaskId": run.task, "actorRunId": run_id});
    d
}

/// The status and calls of the `i`th finished dispatch of a history: most
/// take the first call, every few after a 503, one in five fails after
/// three calls (the last one unanswered).
fn outcome(i: usize, created: i64) -> (&'static str, Vec<Value>) {
    let c = created + 1_000;
    match i % 5 {
        4 => (
            "FAILED",
            vec![
                answered(c, 200, 500),
                answered(c + 60_000, 300, 500),
                call(c + 120_000, Some(c + 150_000), None),
            ],
        ),
        1 | 3 => (
            "SUCCEEDED",
            vec![answered(c, 100, 503), answered(c + 60_000, 2_500, 200)],
        ),
        _ => ("SUCCEEDED", vec![answered(c, 150 + 40 * i as i64, 200)]),
    }
}

/// `n` finished dispatches of the regular webhook `webhook_id`, a minute
/// apart from `start`, over its event types in turn.
fn history(fake: &FakeApify, webhook_id: &str, run: Run, events: &[&str], n: usize, start: i64) {
    for i in 0..n {
        let at = start + i as i64 * 60_000;
        let (status, calls) = outcome(i, at);
        let event = events[i % events.len()];
        let (id, run_id) = (format!("{webhook_id}d{i}"), format!("{webhook_id}r{i}"));
        fake.put_dispatch(of_run(
            &id, webhook_id, run, &run_id, event, status, at, calls,
        ));
    }
}

/// The ad-hoc webhook Apify creates for run `n`: its condition names the run.
fn ad_hoc_webhook(n: usize, at: i64) -> Value {
    json!({
        "id": format!("adhocW{n}"),
        "createdAt": iso(at - 1_000),
        "modifiedAt": iso(at - 1_000),
        "userId": "u1",
        "isAdHoc": true,
        "eventTypes": [RUN_OK, RUN_FAILED],
        "condition": {"actorRunId": format!("adhocRun{n}")},
        "requestUrl": "https://callback.example.org/done",
        "stats": {"totalDispatches": 1},
    })
}

/// The one dispatch of run `n`'s ad-hoc webhook. Even runs' dispatches
/// carry the webhook's summary; odd ones do not, so a shard, whose Actor
/// and task lists never show ad-hoc webhooks, reads them by id.
fn ad_hoc_dispatch(n: usize, run: Run, status: &str, at: i64, calls: Vec<Value>) -> Value {
    let event = if n % 3 == 2 { RUN_FAILED } else { RUN_OK };
    let (webhook_id, run_id) = (format!("adhocW{n}"), format!("adhocRun{n}"));
    let id = format!("adhocD{n}");
    let mut d = of_run(&id, &webhook_id, run, &run_id, event, status, at, calls);
    if n.is_multiple_of(2) {
        d["webhook"] = json!({"isAdHoc": true});
    }
    d
}

/// Runs `runs` of `run`, each with its ad-hoc webhook and one finished
/// dispatch, a minute apart from `start`.
fn ad_hoc_runs(fake: &FakeApify, run: Run, runs: std::ops::Range<usize>, start: i64) {
    for n in runs {
        let at = start + n as i64 * 60_000;
        let (status, calls) = outcome(n, at);
        fake.put_webhook(ad_hoc_webhook(n, at));
        fake.put_dispatch(ad_hoc_dispatch(n, run, status, at, calls));
    }
}

/// The account: five Actors, three tasks, eight regular webhooks (one
/// never dispatched), 23 runs with ad-hoc webhooks (of two Actors and
/// three tasks), 80 finished dispatches over three hours, and four ACTIVE
/// (one of them an ad-hoc run's).
fn account() -> FakeApify {
    let fake = FakeApify::new(TOKEN);
    for (id, name) in [
        (SCRAPER, "scraper"),
        (LOADER, "loader"),
        (CRAWLER, "crawler"),
        (MAILER, "mailer"),
        (EXPORTER, "exporter"),
    ] {
        fake.put_owner(id, "jane", name, None);
    }
    for (id, name, of) in [
        (NIGHTLY, "nightly-load", LOADER),
        (DAILY, "daily-crawl", CRAWLER),
        (DIGEST, "weekly-digest", MAILER),
    ] {
        fake.put_owner(id, "jane", name, Some(of));
    }
    let both = [RUN_OK, RUN_FAILED];
    let hooks: [(&str, Run, &[&str], usize); 8] = [
        (WH_SCRAPER, actor(SCRAPER), &both, 12),
        (WH_SCRAPER_QUIET, actor(SCRAPER), &[RUN_FAILED], 0),
        (WH_LOADER, actor(LOADER), &[RUN_OK], 7),
        (WH_NIGHTLY, task(NIGHTLY, LOADER), &both, 9),
        (WH_CRAWLER, actor(CRAWLER), &both, 11),
        (WH_DAILY, task(DAILY, CRAWLER), &[RUN_OK], 6),
        (WH_DIGEST, task(DIGEST, MAILER), &both, 5),
        (WH_EXPORT, actor(EXPORTER), &[RUN_OK], 8),
    ];
    let start = now_ms() - 3 * 3_600_000;
    for (id, owner, events, n) in hooks {
        fake.put_webhook(regular(id, owner, events));
        history(&fake, id, owner, events, n, start);
    }
    ad_hoc_runs(&fake, actor(SCRAPER), 0..6, start);
    ad_hoc_runs(&fake, task(NIGHTLY, LOADER), 10..14, start);
    ad_hoc_runs(&fake, actor(CRAWLER), 20..25, start);
    ad_hoc_runs(&fake, task(DAILY, CRAWLER), 30..34, start);
    ad_hoc_runs(&fake, task(DIGEST, MAILER), 40..43, start);

    let now = now_ms();
    for (id, webhook_id, run, ago, calls) in [
        // A 503, then a call still in flight.
        (
            ACTIVE_SCRAPER,
            WH_SCRAPER,
            actor(SCRAPER),
            20,
            vec![
                answered(now - 19 * 60_000, 100, 503),
                call(now - 60_000, None, None),
            ],
        ),
        // Timed out once.
        (
            ACTIVE_DIGEST,
            WH_DIGEST,
            task(DIGEST, MAILER),
            30,
            vec![call(now - 29 * 60_000, Some(now - 28 * 60_000), None)],
        ),
        (
            ACTIVE_NIGHTLY,
            WH_NIGHTLY,
            task(NIGHTLY, LOADER),
            120,
            vec![answered(now - 119 * 60_000, 400, 500)],
        ),
    ] {
        let at = now - ago * 60_000;
        fake.put_dispatch(of_run(
            id,
            webhook_id,
            run,
            &format!("{id}Run"),
            RUN_OK,
            "ACTIVE",
            at,
            calls,
        ));
    }
    let at = now - 10 * 60_000;
    fake.put_webhook(ad_hoc_webhook(ACTIVE_AD_HOC_RUN, at));
    let daily = task(DAILY, CRAWLER);
    fake.put_dispatch(ad_hoc_dispatch(
        ACTIVE_AD_HOC_RUN,
        daily,
        "ACTIVE",
        at,
        vec![],
    ));
    fake
}

/// Between two refreshes: three ACTIVE dispatches end (one in each shard
/// at least, one of them ad-hoc), one stays; a regular and an ad-hoc
/// dispatch arrive, the latter of a run with a new ad-hoc webhook.
fn move_on(fake: &FakeApify) {
    let now = now_ms();
    let ended = |id: &str, status: &str, calls: Vec<Value>| {
        let mut d = fake.dispatch(id).unwrap();
        d["status"] = json!(status);
        d["calls"] = json!(calls);
        fake.put_dispatch(d);
    };
    let scraper = fake.dispatch(ACTIVE_SCRAPER).unwrap();
    let first = scraper["calls"][0].clone();
    ended(
        ACTIVE_SCRAPER,
        "SUCCEEDED",
        vec![first, answered(now - 60_000, 700, 200)],
    );
    let digest = fake.dispatch(ACTIVE_DIGEST).unwrap();
    let first = digest["calls"][0].clone();
    ended(
        ACTIVE_DIGEST,
        "FAILED",
        vec![first, answered(now - 5 * 60_000, 90, 404)],
    );
    ended(
        &format!("adhocD{ACTIVE_AD_HOC_RUN}"),
        "SUCCEEDED",
        vec![answered(now - 9 * 60_000, 1_200, 200)],
    );
    fake.put_dispatch(of_run(
        "dNewCrawler",
        WH_CRAWLER,
        actor(CRAWLER),
        "newCrawlerRun",
        RUN_OK,
        "SUCCEEDED",
        now - 1_000,
        vec![answered(now - 900, 300, 200)],
    ));
    fake.put_webhook(ad_hoc_webhook(7, now - 2_000));
    fake.put_dispatch(ad_hoc_dispatch(
        7,
        actor(SCRAPER),
        "FAILED",
        now - 2_000,
        vec![answered(now - 1_500, 100, 500)],
    ));
}

fn ids(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|id| id.to_string()).collect()
}

fn shard_a(c: &mut Config) {
    c.selection = Selection {
        actor_ids: ids(&[SCRAPER, LOADER]),
        actor_task_ids: ids(&[NIGHTLY]),
        webhook_ids: Vec::new(),
    };
}

fn shard_b(c: &mut Config) {
    c.selection = Selection {
        actor_ids: ids(&[CRAWLER]),
        actor_task_ids: ids(&[DAILY, DIGEST]),
        webhook_ids: ids(&[WH_EXPORT]),
    };
}

/// The `webhook_id`s each shard shows, folded ad-hoc sets included.
fn shard_a_webhooks() -> BTreeSet<String> {
    webhook_ids(
        &[WH_SCRAPER, WH_SCRAPER_QUIET, WH_LOADER, WH_NIGHTLY],
        &[SCRAPER, NIGHTLY],
    )
}

fn shard_b_webhooks() -> BTreeSet<String> {
    webhook_ids(
        &[WH_CRAWLER, WH_DAILY, WH_DIGEST, WH_EXPORT],
        &[CRAWLER, DAILY, DIGEST],
    )
}

/// `regular` webhooks, and the folded ad-hoc set of each of `folded_into`.
fn webhook_ids(regular: &[&str], folded_into: &[&str]) -> BTreeSet<String> {
    let folded = folded_into.iter().map(|id| format!("ad-hoc:{id}"));
    regular
        .iter()
        .map(|id| id.to_string())
        .chain(folded)
        .collect()
}

/// Whether a dispatch of the account is shard A's: its run is of one of
/// A's Actors (every webhook of an Actor is in that Actor's shard).
fn in_shard_a(d: &Value) -> bool {
    matches!(text(&d["eventData"], "actorId"), SCRAPER | LOADER)
}

/// The webhook families, as sample names (a histogram by its buckets).
const WEBHOOK_FAMILIES: [&str; 12] = [
    "apify_webhook_info",
    "apify_webhook_dispatches_total",
    "apify_webhook_dispatches_active",
    "apify_webhook_oldest_active_dispatch_timestamp_seconds",
    "apify_webhook_dispatch_calls_total",
    "apify_webhook_dispatch_call_duration_seconds_bucket",
    "apify_webhook_dispatch_attempts_bucket",
    "apify_webhook_dispatch_delivery_seconds_bucket",
    "apify_webhook_last_dispatch_timestamp_seconds",
    "apify_webhook_last_failed_dispatch_info",
    "apify_webhook_reported_dispatches_total",
    "apify_webhook_unaccounted_dispatches",
];

/// Every `apify_webhook_*` sample: the account as one exporter sees it.
fn webhook_series(m: &Scrape) -> BTreeMap<Sample, f64> {
    m.samples_starting_with("apify_webhook_")
}

/// The `webhook_id` of `apify_webhook_info` series.
fn info_ids(m: &Scrape) -> BTreeSet<String> {
    m.series("apify_webhook_info")
        .keys()
        .filter_map(|labels| labels.iter().find(|(k, _)| k == "webhook_id"))
        .map(|(_, v)| v.clone())
        .collect()
}

/// The floor that keeps the comparisons from passing on empty output:
/// `m` watches exactly `webhooks` and counts exactly `dispatches` (the
/// terminal ones, each once; the ACTIVE ones as active; every finished
/// call).
fn assert_watches(m: &Scrape, webhooks: &BTreeSet<String>, dispatches: &[&Value]) {
    assert_eq!(m.up(), 1.0);
    assert_eq!(&info_ids(m), webhooks);
    assert_eq!(m.webhooks(), webhooks.len() as f64);
    let mut expected = Counts::default();
    for d in dispatches {
        expected.add(d, true);
    }
    let sum = |s: &support::model::Series| s.values().sum::<f64>();
    assert_eq!(
        m.sum("apify_webhook_dispatches_total"),
        sum(&expected.dispatches)
    );
    assert_eq!(
        m.sum("apify_webhook_dispatches_active"),
        sum(&expected.active)
    );
    assert_eq!(
        m.sum("apify_webhook_dispatch_calls_total"),
        sum(&expected.calls)
    );
}

/// Samples of `left` that `right` lacks or holds with another value.
fn differences<'a>(
    left: &'a BTreeMap<Sample, f64>,
    right: &BTreeMap<Sample, f64>,
) -> Vec<(&'a Sample, &'a f64)> {
    left.iter()
        .filter(|(k, v)| right.get(*k) != Some(*v))
        .collect()
}

/// `parts` hold exactly `whole`: same samples, same values.
fn assert_same(parts: &BTreeMap<Sample, f64>, whole: &BTreeMap<Sample, f64>) {
    let missing = differences(whole, parts);
    let extra = differences(parts, whole);
    assert!(
        missing.is_empty() && extra.is_empty(),
        "unsharded, not so in the shards: {missing:#?}\nin the shards, not so unsharded: {extra:#?}"
    );
}

/// An exporter with its own configuration against the account served at `api`.
async fn exporter(
    fake: &FakeApify,
    api: &str,
    stop: &CancellationToken,
    configure: impl FnOnce(&mut Config),
) -> Harness {
    Harness::against(fake.clone(), api.to_owned(), stop.clone(), configure).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_disjoint_shards_add_up_to_the_unsharded_exporter() {
    let fake = account();
    let (api, stop) = serve_fake(&fake).await;
    let a = exporter(&fake, &api, &stop, shard_a).await;
    let b = exporter(&fake, &api, &stop, shard_b).await;
    let whole = exporter(&fake, &api, &stop, |_| {}).await;
    let all_webhooks: BTreeSet<String> = shard_a_webhooks()
        .union(&shard_b_webhooks())
        .cloned()
        .collect();
    assert_eq!(all_webhooks.len(), 13);

    for round in ["with ACTIVE dispatches", "after some ended"] {
        let (ma, mb, mw) = (a.scrape().await, b.scrape().await, whole.scrape().await);
        let account = fake.dispatches();
        let (of_a, of_b): (Vec<&Value>, Vec<&Value>) = account.iter().partition(|d| in_shard_a(d));
        assert_watches(&ma, &shard_a_webhooks(), &of_a);
        assert_watches(&mb, &shard_b_webhooks(), &of_b);
        assert_watches(&mw, &all_webhooks, &account.iter().collect::<Vec<_>>());

        let (sa, sb, sw) = (
            webhook_series(&ma),
            webhook_series(&mb),
            webhook_series(&mw),
        );
        let in_both: Vec<&Sample> = sa.keys().filter(|k| sb.contains_key(*k)).collect();
        assert!(in_both.is_empty(), "{round}: in both shards: {in_both:#?}");
        let mut union = sa.clone();
        union.extend(sb.clone());
        assert_same(&union, &sw);
        if round == "with ACTIVE dispatches" {
            assert_eq!(
                mw.sum("apify_webhook_dispatches_active"),
                ACTIVE_AT_FIRST as f64
            );
            // Every webhook family is in the comparison, in each shard,
            // histograms by bucket.
            for family in WEBHOOK_FAMILIES {
                assert!(ma.count(family) > 0, "shard A has no {family}");
                assert!(mb.count(family) > 0, "shard B has no {family}");
            }
            move_on(&fake);
            continue;
        }
        // The ended ones left the gauge; the one still ACTIVE did not.
        assert_eq!(mw.sum("apify_webhook_dispatches_active"), 1.0);
        assert_eq!(ma.active(WH_NIGHTLY, RUN_OK), 1.0);
        assert_eq!(ma.dispatches_total(WH_SCRAPER, RUN_OK, "SUCCEEDED"), 6.0);
        assert_eq!(mb.dispatches_total(WH_DIGEST, RUN_OK, "FAILED"), 2.0);
    }
    for h in [a, b, whole] {
        h.stop().await;
    }
}

/// The `webhook_id` label of a sample.
fn webhook_id(sample: &Sample) -> &str {
    sample
        .1
        .iter()
        .find(|(k, _)| k == "webhook_id")
        .map_or("", |(_, v)| v.as_str())
}

/// An Actor in one shard and its task in another: a task's run is a run
/// of its Actor, so both take its ad-hoc webhooks, and both show the
/// task's folded set, with the same values. Nothing else overlaps: the
/// task's regular webhook (its condition names the task) is the task
/// shard's only. Hence the rule: a task goes in its Actor's shard.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_actor_and_its_task_in_two_shards_both_count_the_tasks_ad_hoc_runs() {
    let fake = account();
    let (api, stop) = serve_fake(&fake).await;
    let by_actor = exporter(&fake, &api, &stop, |c| {
        c.selection.actor_ids = ids(&[CRAWLER]);
    })
    .await;
    let by_task = exporter(&fake, &api, &stop, |c| {
        c.selection.actor_task_ids = ids(&[DAILY]);
    })
    .await;
    let whole = exporter(&fake, &api, &stop, |_| {}).await;
    let folded_task = format!("ad-hoc:{DAILY}");
    let set = |ids: &[&str]| -> BTreeSet<String> { ids.iter().map(|s| s.to_string()).collect() };

    for round in ["with ACTIVE dispatches", "after some ended"] {
        let (ma, mt, mw) = (
            by_actor.scrape().await,
            by_task.scrape().await,
            whole.scrape().await,
        );
        let of_crawler: Vec<Value> = fake
            .dispatches()
            .into_iter()
            .filter(|d| text(&d["eventData"], "actorId") == CRAWLER)
            .collect();
        let (of_task, of_actor_only): (Vec<&Value>, Vec<&Value>) = of_crawler
            .iter()
            .partition(|d| text(&d["eventData"], "actorTaskId") == DAILY);
        let ad_hoc_of_task: Vec<&Value> = of_task
            .iter()
            .copied()
            .filter(|d| text(d, "webhookId") != WH_DAILY)
            .collect();
        // The Actor's shard: its own webhook, its runs' ad-hoc webhooks and
        // its task's runs' ad-hoc webhooks, but not the task's own webhook.
        let actor_side: Vec<&Value> = of_actor_only
            .iter()
            .chain(&ad_hoc_of_task)
            .copied()
            .collect();
        let actor_ids = set(&[WH_CRAWLER, &format!("ad-hoc:{CRAWLER}"), &folded_task]);
        assert_watches(&ma, &actor_ids, &actor_side);
        assert_watches(&mt, &set(&[WH_DAILY, &folded_task]), &of_task);

        let (sa, st, sw) = (
            webhook_series(&ma),
            webhook_series(&mt),
            webhook_series(&mw),
        );
        let in_both: BTreeMap<Sample, f64> = sa
            .iter()
            .filter(|(k, _)| st.contains_key(*k))
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        // The overlap is exactly the task's folded set, whole, and the
        // same in both shards and unsharded.
        let folded: BTreeMap<Sample, f64> = sw
            .iter()
            .filter(|(k, _)| webhook_id(k) == folded_task)
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        assert!(folded.len() > 20, "{round}: {} samples", folded.len());
        assert_same(&in_both, &folded);
        let task_side: BTreeMap<Sample, f64> = st
            .iter()
            .filter(|(k, _)| webhook_id(k) == folded_task)
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        assert_same(&task_side, &folded);
        // Counted once, their union is the unsharded exporter's view of the
        // Actor and its task.
        let mut union = sa.clone();
        union.extend(st.clone());
        let crawler_ids = set(&[
            WH_CRAWLER,
            WH_DAILY,
            &format!("ad-hoc:{CRAWLER}"),
            &folded_task,
        ]);
        let of_crawler_whole: BTreeMap<Sample, f64> = sw
            .into_iter()
            .filter(|(k, _)| crawler_ids.contains(webhook_id(k)))
            .collect();
        assert_same(&union, &of_crawler_whole);
        if round == "with ACTIVE dispatches" {
            // The task run's ACTIVE ad-hoc dispatch (run 35, a failed
            // run) is active in both.
            assert_eq!(ma.active(&folded_task, RUN_FAILED), 1.0);
            assert_eq!(mt.active(&folded_task, RUN_FAILED), 1.0);
            move_on(&fake);
        }
    }
    for h in [by_actor, by_task, whole] {
        h.stop().await;
    }
}

/// Two unsharded exporters, each with its own state file: the same
/// webhook series, each paying its own requests, so the pair costs twice
/// one exporter's: an idle refresh is one list request plus one per ACTIVE
/// dispatch, per exporter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ha_pair_shows_the_same_series_each_at_its_own_request_cost() {
    let fake = account();
    let (api, stop) = serve_fake(&fake).await;
    let dir = temp_dir("ha-pair");
    let state = |name: &str| dir.path().join(name);
    let replica = |file: std::path::PathBuf| {
        move |c: &mut Config| {
            c.state_file = Some(file);
            c.metadata_interval = std::time::Duration::from_secs(300);
        }
    };
    let one = exporter(&fake, &api, &stop, replica(state("one.json"))).await;
    let two = exporter(&fake, &api, &stop, replica(state("two.json"))).await;
    let requests = |m: &Scrape| m.sum("apify_exporter_api_requests_total");

    let (one_before, two_before) = (one.scrape().await, two.scrape().await);
    fake.clear_requests();
    let (m1, m2) = (one.scrape().await, two.scrape().await);
    let idle = 1.0 + ACTIVE_AT_FIRST as f64;
    assert_eq!(requests(&m1) - requests(&one_before), idle);
    assert_eq!(requests(&m2) - requests(&two_before), idle);
    let both = [
        (route::DISPATCHES.to_string(), 2),
        (route::DISPATCH.to_string(), 2 * ACTIVE_AT_FIRST),
    ];
    assert_eq!(by_route(&fake.requests()), both.into_iter().collect());
    assert_watches(
        &m1,
        &shard_a_webhooks()
            .union(&shard_b_webhooks())
            .cloned()
            .collect(),
        &fake.dispatches().iter().collect::<Vec<_>>(),
    );
    assert_same(&webhook_series(&m1), &webhook_series(&m2));

    move_on(&fake);
    let (m1, m2) = (one.scrape().await, two.scrape().await);
    assert_eq!(m1.sum("apify_webhook_dispatches_active"), 1.0);
    assert_same(&webhook_series(&m1), &webhook_series(&m2));
    for h in [one, two] {
        h.stop().await;
    }
    // Each wrote its own file.
    for name in ["one.json", "two.json"] {
        assert!(state(name).is_file(), "{name}");
    }
}
