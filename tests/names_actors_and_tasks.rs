//! Issue 12: `apify_webhook_info` names each webhook's Actor and task
//! (`username/name`), read with the metadata and kept in between (a task's
//! webhook gets the task's Actor too); a name
//! the token may not read, or that is gone, stays empty, and no name read
//! ever fails a refresh.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use apify_webhook_exporter::demo::fake_api::route;
use apify_webhook_exporter::demo::Fault;
use serde_json::{json, Value};
use support::*;

/// A webhook of `actor` or of `task` (one of them).
fn webhook_of(id: &str, actor: Option<&str>, task: Option<&str>) -> Value {
    let mut w = webhook(id, &[RUN_OK]);
    w["condition"] = json!({ "actorId": actor, "actorTaskId": task });
    w
}

fn owner(id: &str, username: &str, name: &str) -> Value {
    json!({ "id": id, "userId": "u1", "username": username, "name": name })
}

/// webhook id -> (actor_name, actor_task_name) as exported.
fn names(m: &Scrape) -> BTreeMap<String, (String, String)> {
    m.series("apify_webhook_info")
        .keys()
        .map(|labels| {
            let label = |name: &str| {
                labels
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_else(|| panic!("no {name} in {labels:?}"))
            };
            (
                label("webhook_id"),
                (label("actor_name"), label("actor_task_name")),
            )
        })
        .collect()
}

fn pair(actor: &str, task: &str) -> (String, String) {
    (actor.to_owned(), task.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_come_with_the_metadata_and_stay_empty_where_they_cannot_be_read() {
    let fake = account_with_one_webhook(); // W1, of actor1
    fake.put_actor(owner("actor1", "jane", "orders-scraper"));
    // A task's webhook names only the task; the task names its Actor.
    fake.put_webhook(webhook_of("W2bbbbbbbbbbbbbbb", None, Some("task2")));
    let mut task2 = owner("task2", "jane", "nightly");
    task2["actId"] = json!("actor1");
    fake.put_actor_task(task2);
    // ... which may be an Actor no webhook names.
    fake.put_webhook(webhook_of("W5eeeeeeeeeeeeeee", None, Some("task5")));
    let mut task5 = owner("task5", "jane", "weekly");
    task5["actId"] = json!("actor5");
    fake.put_actor_task(task5);
    fake.put_actor(owner("actor5", "jane", "archiver"));
    // A scoped token may not read actor3; task4 is gone.
    fake.put_webhook(webhook_of("W3ccccccccccccccc", Some("actor3"), None));
    fake.put_actor(owner("actor3", "bob", "secret"));
    fake.refuse_record(route::ACT, "actor3", true);
    fake.put_webhook(webhook_of("W4ddddddddddddddd", None, Some("task4")));
    let h = Harness::start(fake, |c| c.metadata_interval = Duration::from_secs(300)).await;
    let startup = h.take_requests();
    let m = h.scrape().await;

    assert_eq!(
        names(&m),
        BTreeMap::from([
            (W1.to_owned(), pair("jane/orders-scraper", "")),
            (
                "W2bbbbbbbbbbbbbbb".to_owned(),
                pair("jane/orders-scraper", "jane/nightly")
            ),
            ("W3ccccccccccccccc".to_owned(), pair("", "")),
            ("W4ddddddddddddddd".to_owned(), pair("", "")),
            (
                "W5eeeeeeeeeeeeeee".to_owned(),
                pair("jane/archiver", "jane/weekly")
            ),
        ])
    );
    assert!(m.mentions(r#"webhook_id="W5eeeeeeeeeeeeeee",actor_id="actor5",actor_task_id="task5""#));
    assert_eq!(m.up(), 1.0, "a refused or missing name fails nothing");
    assert_eq!(m.sum("apify_exporter_refresh_errors_total"), 0.0);
    assert_eq!(
        m.value(
            "apify_exporter_api_requests_total",
            &[("endpoint", route::ACT), ("code", "403")]
        ),
        1.0
    );
    // Each Actor and task read once at start, by its id.
    let mut read: Vec<&str> = startup
        .iter()
        .filter(|r| r.route == route::ACT || r.route == route::ACTOR_TASK)
        .map(|r| r.path.as_str())
        .collect();
    read.sort_unstable();
    assert_eq!(
        read,
        [
            "/v2/actor-tasks/task2",
            "/v2/actor-tasks/task4",
            "/v2/actor-tasks/task5",
            "/v2/acts/actor1",
            "/v2/acts/actor3",
            "/v2/acts/actor5",
        ]
    );
    // Until the metadata period comes round, no name is read again.
    let routes = h.take_routes();
    assert_eq!(routes.get(route::ACT), None, "{routes:?}");
    assert_eq!(routes.get(route::ACTOR_TASK), None, "{routes:?}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_are_read_again_with_the_metadata_and_kept_when_a_read_fails() {
    let fake = account_with_one_webhook();
    fake.put_actor(owner("actor1", "jane", "orders-scraper"));
    // The test configuration reads metadata at every refresh.
    let h = Harness::start(fake, |_| {}).await;
    assert_eq!(
        names(&h.scrape().await)[W1],
        pair("jane/orders-scraper", "")
    );

    h.fake
        .put_actor(owner("actor1", "jane", "orders-scraper-v2"));
    assert_eq!(
        names(&h.scrape().await)[W1],
        pair("jane/orders-scraper-v2", "")
    );

    // An answer that cannot be decoded keeps the name known.
    h.fake.inject(route::ACT, Fault::Malformed);
    h.take_requests();
    let m = h.scrape().await;
    assert_eq!(h.fake.pending_faults(route::ACT), 0, "the read was made");
    assert_eq!(names(&m)[W1], pair("jane/orders-scraper-v2", ""));
    assert_eq!(m.up(), 1.0);

    // Refused from now on (the token's scope narrowed): empty.
    h.fake.refuse_record(route::ACT, "actor1", true);
    assert_eq!(names(&h.scrape().await)[W1], pair("", ""));

    // A webhook that moves to another Actor takes that Actor's name.
    h.fake.put_actor(owner("actor9", "jane", "new-home"));
    let mut moved = webhook_of(W1, Some("actor9"), None);
    moved["modifiedAt"] = json!("2026-11-29T00:00:00.000Z");
    h.fake.put_webhook(moved);
    assert_eq!(names(&h.scrape().await)[W1], pair("jane/new-home", ""));
    h.stop().await;
}
