//! Issue 10: what a busy real account does. Ad-hoc webhooks (one per run)
//! fold into one series set per task or Actor; an idle refresh costs one
//! request plus one per ACTIVE dispatch whatever is selected; metadata has
//! its own period.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use apify_webhook_exporter::demo::{FakeApify, Fault};
use serde_json::{json, Value};
use support::*;

const ACTORS: [&str; 3] = ["actorA", "actorB", "actorC"];
const TASK: &str = "taskOfB";

/// An ad-hoc webhook as Apify creates it for one run: its condition names
/// the run, not the Actor.
fn ad_hoc_webhook(id: &str, run: &str) -> Value {
    json!({
        "id": id,
        "createdAt": "2026-11-01T00:00:00.000Z",
        "modifiedAt": "2026-11-01T00:00:00.000Z",
        "userId": "u1",
        "isAdHoc": true,
        "eventTypes": [RUN_OK, RUN_FAILED],
        "condition": {"actorRunId": run},
        "requestUrl": "https://ad-hoc.example.com/done",
        "stats": {"totalDispatches": 1},
    })
}

/// The dispatch of run `n`'s ad-hoc webhook: the run is of `actor`, and of
/// `task` when given; `summary` adds the dispatch's own `webhook` summary.
fn ad_hoc_dispatch(n: usize, actor: &str, task: Option<&str>, summary: bool, at: i64) -> Value {
    let status = if n.is_multiple_of(4) {
        "FAILED"
    } else {
        "SUCCEEDED"
    };
    let event = if n.is_multiple_of(4) {
        RUN_FAILED
    } else {
        RUN_OK
    };
    let mut d = dispatch(
        &format!("adhocD{n}"),
        &format!("adhocW{n}"),
        event,
        status,
        at,
        vec![answered(
            at,
            100,
            if n.is_multiple_of(4) { 500 } else { 200 },
        )],
    );
    d["eventData"] =
        json!({"actorId": actor, "actorTaskId": task, "actorRunId": format!("run{n}")});
    if summary {
        d["webhook"] = json!({"isAdHoc": true, "requestUrl": "https://ad-hoc.example.com/done"});
    }
    d
}

/// Where run `n` belongs: Actors A and C directly, B's runs through its task.
fn run_owner(n: usize) -> (&'static str, Option<&'static str>) {
    match n % 3 {
        0 => (ACTORS[0], None),
        1 => (ACTORS[1], Some(TASK)),
        _ => (ACTORS[2], None),
    }
}

/// An account with W1 (regular, one dispatch) and `runs` runs with ad-hoc
/// webhooks.
fn busy_account(runs: usize, listed: bool, summary: bool) -> FakeApify {
    let fake = account_with_one_webhook();
    let now = now_ms();
    fake.put_dispatch(succeeded("reg1", W1, now - 100_000));
    for n in 0..runs {
        fake.put_webhook(ad_hoc_webhook(&format!("adhocW{n}"), &format!("run{n}")));
        let (actor, task) = run_owner(n);
        let at = now - 90_000 + n as i64;
        fake.put_dispatch(ad_hoc_dispatch(n, actor, task, summary, at));
    }
    fake.list_ad_hoc_webhooks(listed);
    fake
}

fn webhook_ids(m: &Scrape) -> BTreeSet<String> {
    m.series("apify_webhook_dispatches_total")
        .keys()
        .filter_map(|labels| {
            labels
                .iter()
                .find(|(k, _)| k == "webhook_id")
                .map(|(_, v)| v.clone())
        })
        .collect()
}

/// `runs` (each counted as often as it is given) as `run_owner` spreads
/// them: (ok, failed) per folded id.
fn expected_per_key(runs: impl Iterator<Item = usize> + Clone) -> Vec<(&'static str, f64, f64)> {
    let mut out = Vec::new();
    for (key, residue) in [
        ("ad-hoc:actorA", 0),
        ("ad-hoc:taskOfB", 1),
        ("ad-hoc:actorC", 2),
    ] {
        let mine: Vec<usize> = runs.clone().filter(|n| n % 3 == residue).collect();
        let failed = mine.iter().filter(|n| *n % 4 == 0).count() as f64;
        out.push((key, mine.len() as f64 - failed, failed));
    }
    out
}

/// Each folded id's (succeeded, failed) dispatches, exactly.
fn assert_counted(m: &Scrape, expected: impl IntoIterator<Item = (&'static str, f64, f64)>) {
    for (key, ok, failed) in expected {
        assert_eq!(m.dispatches_total(key, RUN_OK, "SUCCEEDED"), ok, "{key}");
        assert_eq!(
            m.dispatches_total(key, RUN_FAILED, "FAILED"),
            failed,
            "{key}"
        );
    }
}

fn assert_folded(m: &Scrape, runs: std::ops::Range<usize>) {
    let expected: BTreeSet<String> = ["ad-hoc:actorA", "ad-hoc:taskOfB", "ad-hoc:actorC", W1]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(webhook_ids(m), expected);
    assert_counted(m, expected_per_key(runs.clone()));
    for (key, _, failed) in expected_per_key(runs) {
        // Zero series exist for each event type seen, both statuses.
        assert_eq!(m.dispatches_total(key, RUN_OK, "FAILED"), 0.0, "{key}");
        assert_eq!(
            m.dispatches_total(key, RUN_FAILED, "SUCCEEDED"),
            0.0,
            "{key}"
        );
        assert_eq!(m.calls_total(key, RUN_FAILED, "500"), Some(failed), "{key}");
    }
    assert_eq!(m.succeeded_total(), 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_ad_hoc_webhooks_fold_into_one_series_set_per_task_or_actor() {
    // Whether or not the webhook list shows them, and whether or not a
    // dispatch carries its webhook's summary.
    for (listed, summary, reads) in [
        (true, true, 0),
        (true, false, 0),
        (false, true, 0),
        // Nothing tells: each ad-hoc webhook is read once, never again.
        (false, false, 1500),
    ] {
        let h = Harness::start(busy_account(1500, listed, summary), |c| {
            c.metadata_interval = Duration::from_secs(300);
        })
        .await;
        let startup = h.take_routes();
        assert_eq!(
            startup.get(route::WEBHOOK).copied().unwrap_or(0),
            reads + 1,
            "listed={listed} summary={summary}: W1's description, and {reads} ad-hoc reads"
        );
        let m = h.scrape().await;
        assert_folded(&m, 0..1500);
        assert_eq!(m.webhooks(), 4.0);
        assert_eq!(m.count("apify_webhook_info"), 4);
        let info = m.value(
            "apify_webhook_info",
            &[
                ("webhook_id", "ad-hoc:taskOfB"),
                ("actor_id", "actorB"),
                ("actor_task_id", "taskOfB"),
                ("actor_name", ""),
                ("actor_task_name", ""),
                ("event_types", "ACTOR.RUN.FAILED,ACTOR.RUN.SUCCEEDED"),
                ("request_host", ""),
                ("is_ad_hoc", "true"),
                ("do_not_retry", ""),
                ("ignore_ssl_errors", ""),
                ("description", "ad-hoc webhooks"),
            ],
        );
        assert_eq!(info, 1.0);
        assert_eq!(
            m.get(
                "apify_webhook_unaccounted_dispatches",
                &[("webhook_id", "ad-hoc:actorA")]
            ),
            None,
            "no reconciliation for a folded set"
        );

        // More runs: known ad-hoc webhooks are not read again, and the
        // refresh costs the one list request.
        let now = now_ms();
        for n in 0..30 {
            let (actor, task) = run_owner(n);
            let mut d = ad_hoc_dispatch(n, actor, task, summary, now + n as i64);
            d["id"] = json!(format!("again{n}"));
            h.fake.put_dispatch(d);
        }
        h.take_requests();
        let m = h.scrape().await;
        assert_counted(&m, expected_per_key((0..1500).chain(0..30)));
        assert_eq!(
            h.take_routes(),
            [(route::DISPATCHES.to_string(), 1)].into_iter().collect(),
        );
        h.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ad_hoc_each_keeps_one_series_set_per_ad_hoc_webhook() {
    let h = Harness::start(busy_account(300, true, true), |c| {
        c.ad_hoc = apify_webhook_exporter::config::AdHoc::Each;
    })
    .await;
    let m = h.scrape().await;
    assert_eq!(webhook_ids(&m).len(), 301);
    assert_eq!(m.dispatches_total("adhocW4", RUN_FAILED, "FAILED"), 1.0);
    assert_eq!(m.dispatches_total("adhocW5", RUN_OK, "SUCCEEDED"), 1.0);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_selection_by_actor_or_task_takes_its_runs_ad_hoc_webhooks() {
    let fake = busy_account(300, false, false);
    // A regular webhook of actorA, so that the Actor has one to list.
    let mut w2 = webhook(W2, &[RUN_OK]);
    w2["condition"] = json!({"actorId": "actorA"});
    fake.put_webhook(w2);
    let h = Harness::start(fake, |c| {
        c.selection.actor_ids = vec!["actorA".into()];
        c.selection.actor_task_ids = vec![TASK.into()];
        c.metadata_interval = Duration::from_secs(300);
    })
    .await;
    let startup = h.take_routes();
    // Only the runs of the selection are read (100 of A, 100 of B's
    // task): C's runs are left by their eventData, unread.
    assert_eq!(startup.get(route::WEBHOOK), Some(&(200 + 1)));
    let m = h.scrape().await;
    let ids = webhook_ids(&m);
    let expected: BTreeSet<String> = ["ad-hoc:actorA", "ad-hoc:taskOfB", W2]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(ids, expected, "W1 is actor1's, C is not selected");
    assert_counted(&m, expected_per_key(0..300).into_iter().take(2));
    assert_eq!(
        h.take_routes(),
        [(route::DISPATCHES.to_string(), 1)].into_iter().collect(),
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_actor_selected_by_username_and_name_takes_its_runs_without_a_regular_webhook() {
    let fake = busy_account(300, false, false);
    // actorA has no regular webhook that could tell its id: only its record.
    fake.put_owner("actorA", "jane", "scraper-a", None);
    // Metadata (and the record) read at every refresh.
    let h = Harness::start(fake, |c| {
        c.selection.actor_ids = vec!["jane~scraper-a".into()]
    })
    .await;
    h.take_requests();
    let m = h.scrape().await;
    assert_eq!(
        webhook_ids(&m),
        BTreeSet::from(["ad-hoc:actorA".to_string()])
    );
    assert_counted(&m, expected_per_key(0..300).into_iter().take(1));
    assert!(m.mentions(r#"webhook_id="ad-hoc:actorA",actor_id="actorA",actor_task_id="",actor_name="jane/scraper-a""#));
    // One read of the record, by its name, gives the id and the name.
    let actors: Vec<String> = h
        .take_requests()
        .into_iter()
        .filter(|r| r.route == route::ACT)
        .map(|r| r.path)
        .collect();
    assert_eq!(actors, ["/v2/acts/jane~scraper-a"]);

    // That read fails once: the id learned is kept, so the Actor's runs
    // are still counted (its series set neither goes nor restarts).
    h.fake.inject(route::ACT, Fault::Malformed);
    let now = now_ms();
    h.fake.put_webhook(ad_hoc_webhook("adhocW300", "run300"));
    h.fake
        .put_dispatch(ad_hoc_dispatch(300, "actorA", None, false, now));
    let m = h.scrape().await;
    assert_eq!(h.fake.pending_faults(route::ACT), 0, "the read was made");
    assert_eq!(
        webhook_ids(&m),
        BTreeSet::from(["ad-hoc:actorA".to_string()])
    );
    assert_counted(&m, expected_per_key(0..301).into_iter().take(1));
    assert!(m.mentions(r#"actor_name="jane/scraper-a""#));
    h.stop().await;
}

/// The requests of one idle refresh, after two refreshes to settle.
async fn idle_refresh(h: &Harness) -> std::collections::BTreeMap<String, usize> {
    h.scrape().await;
    h.take_requests();
    let m = h.scrape().await;
    assert_eq!(m.up(), 1.0);
    h.take_routes()
}

/// Narrows a configuration to some of the webhooks `ids` names.
type Select = fn(&mut apify_webhook_exporter::config::Config, &[String]);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_refresh_costs_one_request_plus_one_per_active_dispatch_whatever_is_selected() {
    const WATCHED: usize = 60;
    let ids: Vec<String> = (0..WATCHED).map(|i| format!("Wsel{i:013}")).collect();
    let selections: [(&str, Select); 4] = [
        ("everything", |_, _| {}),
        ("webhook ids", |c, ids| {
            c.selection.webhook_ids = ids.to_vec()
        }),
        ("actor", |c, _| {
            c.selection.actor_ids = vec!["actor1".into()]
        }),
        ("task", |c, _| {
            c.selection.actor_task_ids = vec!["task1".into()]
        }),
    ];
    for (name, select) in selections {
        let fake = FakeApify::new(TOKEN);
        let now = now_ms();
        for (i, id) in ids.iter().enumerate() {
            let mut w = webhook(id, &[RUN_OK]);
            w["condition"] = json!({"actorId": "actor1", "actorTaskId": "task1"});
            fake.put_webhook(w);
            fake.put_dispatch(succeeded(&format!("s{i}"), id, now - 10_000 + i as i64));
        }
        // Two dispatches still being delivered.
        for (n, id) in ids.iter().take(2).enumerate() {
            fake.put_dispatch(dispatch(
                &format!("act{n}"),
                id,
                RUN_OK,
                "ACTIVE",
                now - 5_000,
                vec![],
            ));
        }
        let h = Harness::start(fake, |c| {
            c.metadata_interval = Duration::from_secs(300);
            select(c, &ids);
        })
        .await;
        let expected = [
            (route::DISPATCHES.to_string(), 1),
            (route::DISPATCH.to_string(), 2),
        ];
        assert_eq!(
            idle_refresh(&h).await,
            expected.into_iter().collect(),
            "{name}"
        );
        let m = h.scrape().await;
        assert_eq!(m.webhooks(), WATCHED as f64, "{name}");
        assert_eq!(
            m.sum("apify_webhook_dispatches_total"),
            WATCHED as f64,
            "{name}"
        );
        h.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_account_list_costs_one_request_per_watched_webhook() {
    let fake = account_with_one_webhook();
    fake.put_webhook(webhook(W2, &[RUN_OK]));
    fake.refuse_route(route::DISPATCHES, true);
    let h = Harness::start(fake, |c| c.metadata_interval = Duration::from_secs(300)).await;
    let startup = h.take_routes();
    assert_eq!(startup.get(route::DISPATCHES), Some(&1), "asked once");
    assert_eq!(
        idle_refresh(&h).await,
        [(route::WEBHOOK_DISPATCHES.to_string(), 2)]
            .into_iter()
            .collect(),
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_is_read_on_its_period_and_at_once_for_an_unknown_webhook() {
    let h = Harness::start(account_with_one_webhook(), |c| {
        c.metadata_interval = Duration::from_millis(1500);
    })
    .await;
    h.take_requests();
    // A webhook created since, with a dispatch: read at once, by id.
    h.fake.put_webhook(webhook(W2, &[RUN_OK]));
    h.fake.put_dispatch(succeeded("x1", W2, now_ms()));
    // And a change the period will bring: W1's description.
    let mut w1 = webhook(W1, &[RUN_OK]);
    w1["modifiedAt"] = json!("2026-11-29T00:00:00.000Z");
    w1["description"] = json!("renamed");
    h.fake.put_webhook(w1);
    let m = h.scrape().await;
    assert_eq!(m.dispatches_total(W2, RUN_OK, "SUCCEEDED"), 1.0);
    let routes = h.take_routes();
    assert_eq!(routes.get(route::WEBHOOK), Some(&1), "{routes:?}");
    assert_eq!(routes.get(route::WEBHOOKS), None, "{routes:?}");
    assert!(!m.mentions("renamed"));
    // The period passes: the list and the changed webhook are read.
    wait_until(
        "the metadata period brings the new description",
        async || h.scrape().await.mentions("description=\"renamed\""),
    )
    .await;
    let routes = h.take_routes();
    assert_eq!(routes.get(route::WEBHOOKS), Some(&1), "{routes:?}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_account_list_is_tried_again_on_the_metadata_period_and_taken_back() {
    let fake = account_with_one_webhook();
    fake.put_webhook(webhook(W2, &[RUN_OK]));
    let now = now_ms();
    fake.put_dispatch(succeeded("a1", W1, now - 3_000));
    fake.put_dispatch(succeeded("b1", W2, now - 2_000));
    fake.refuse_route(route::DISPATCHES, true);
    // Metadata at every refresh, so that each refresh probes.
    let h = Harness::start(fake, |_| {}).await;
    h.scrape().await;
    h.take_requests();
    let m = h.scrape().await;
    let routes = h.take_routes();
    assert_eq!(
        routes.get(route::DISPATCHES),
        Some(&1),
        "the probe: {routes:?}"
    );
    assert_eq!(
        routes.get(route::WEBHOOK_DISPATCHES),
        Some(&2),
        "{routes:?}"
    );
    assert_eq!(m.up(), 1.0);

    // The scope widens: the next refresh's probe succeeds and the
    // account-wide list serves again, counting nothing twice.
    h.fake.refuse_route(route::DISPATCHES, false);
    h.fake.put_dispatch(succeeded("a2", W1, now_ms()));
    h.scrape().await;
    h.take_requests();
    h.fake.put_dispatch(succeeded("b2", W2, now_ms() + 1));
    let m = h.scrape().await;
    let routes = h.take_routes();
    assert_eq!(routes.get(route::DISPATCHES), Some(&1), "{routes:?}");
    assert_eq!(routes.get(route::WEBHOOK_DISPATCHES), None, "{routes:?}");
    assert_eq!(m.dispatches_total(W1, RUN_OK, "SUCCEEDED"), 2.0);
    assert_eq!(m.dispatches_total(W2, RUN_OK, "SUCCEEDED"), 2.0);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folded_active_dispatch_is_followed_to_its_end_once() {
    let fake = account_with_one_webhook();
    let at = now_ms() - 5_000;
    let mut d = ad_hoc_dispatch(1, "actorA", None, true, at);
    d["status"] = json!("ACTIVE");
    d["calls"] = json!([answered(at, 100, 503)]);
    fake.put_dispatch(d.clone());
    let h = Harness::start(fake, |_| {}).await;
    let m = h.scrape().await;
    assert_eq!(m.active("ad-hoc:actorA", RUN_OK), 1.0);
    assert_eq!(m.calls_total("ad-hoc:actorA", RUN_OK, "503"), Some(1.0));
    d["status"] = json!("SUCCEEDED");
    d["calls"] = json!([answered(at, 100, 503), answered(at + 1_000, 100, 200)]);
    h.fake.put_dispatch(d);
    let m = h.scrape().await;
    let m2 = h.scrape().await;
    for m in [m, m2] {
        assert_eq!(m.active("ad-hoc:actorA", RUN_OK), 0.0);
        assert_eq!(
            m.dispatches_total("ad-hoc:actorA", RUN_OK, "SUCCEEDED"),
            1.0
        );
        assert_eq!(m.calls_total("ad-hoc:actorA", RUN_OK, "503"), Some(1.0));
        assert_eq!(m.calls_total("ad-hoc:actorA", RUN_OK, "200"), Some(1.0));
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taking_the_account_list_back_misses_nothing_a_lagging_webhook_list_had_not_read() {
    let fake = account_with_one_webhook();
    fake.put_webhook(webhook(W2, &[RUN_OK]));
    let now = now_ms();
    fake.put_dispatch(succeeded("a1", W1, now - 60_000));
    fake.put_dispatch(succeeded("b1", W2, now - 50_000));
    fake.refuse_route(route::DISPATCHES, true);
    // One list at a time, W1's first: the fault below is W1's.
    let h = Harness::start(fake, |c| c.concurrency = 1).await;
    h.scrape().await;
    // W1's list fails this refresh, W2's reads b2: W1's a2, older than
    // b2, is not read yet when the account-wide list is taken back.
    h.fake.put_dispatch(succeeded("a2", W1, now_ms() - 5_000));
    h.fake.put_dispatch(succeeded("b2", W2, now_ms()));
    h.fake.inject(
        route::WEBHOOK_DISPATCHES,
        Fault::status(400, "invalid-input", "no"),
    );
    let m = h.scrape().await;
    assert_eq!(m.dispatches_total(W1, RUN_OK, "SUCCEEDED"), 1.0);
    assert_eq!(m.dispatches_total(W2, RUN_OK, "SUCCEEDED"), 2.0);
    h.fake.refuse_route(route::DISPATCHES, false);
    h.take_requests();
    for _ in 0..2 {
        let m = h.scrape().await;
        assert_eq!(m.dispatches_total(W1, RUN_OK, "SUCCEEDED"), 2.0);
        assert_eq!(m.dispatches_total(W2, RUN_OK, "SUCCEEDED"), 2.0);
        assert_eq!(m.up(), 1.0);
    }
    assert_eq!(h.take_routes().get(route::WEBHOOK_DISPATCHES), None);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispatch_read_back_is_not_counted_again_when_its_webhook_is_adopted() {
    let fake = account_with_one_webhook();
    fake.put_dispatch(succeeded("a1", W1, now_ms() - 60_000));
    let h = Harness::start(fake, |c| c.selection.actor_ids = vec!["actor1".into()]).await;
    h.take_requests();
    // W2 of actor1 appears with a dispatch while the account-wide list is
    // read, after the webhook lists were: the dispatch waits for W2's read
    // by id, which fails.
    h.fake
        .inject(route::WEBHOOK, Fault::status(400, "invalid-input", "no"));
    let m = scrape_while_w2_appears(&h, Duration::from_millis(300)).await;
    assert_eq!(m.refresh_errors("http"), 1.0);
    // The next metadata read lists W2: its list is read back (x1 was
    // passed over), and the read by id that then succeeds counts nothing more.
    for _ in 0..2 {
        let m = h.scrape().await;
        assert_eq!(m.dispatches_total(W2, RUN_OK, "SUCCEEDED"), 1.0);
        assert_eq!(m.up(), 1.0);
    }
    h.stop().await;
}
