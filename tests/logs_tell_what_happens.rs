//! The binary's log, as an operator reads it: what is read at start, what
//! the first refresh found, `apify_up` changing (once each way, not once
//! per failed refresh or per request), retries summed up, errors that name
//! the origin they tried, and `RUST_LOG=debug` about the exporter, not its
//! HTTP library.

mod support;

use apify_webhook_exporter::demo::{FakeApify, Fault};
use serde_json::{json, Value};
use support::*;

/// `--listen` on a port free a moment ago.
fn listen() -> (u16, String) {
    let port = free_port();
    (port, format!("127.0.0.1:{port}"))
}

/// The exporter binary reading `api` with the test token.
fn exporter_of(api: &str) -> std::process::Command {
    let mut c = exporter();
    c.env("APIFY_TOKEN", TOKEN).args(["--api-base-url", api]);
    c
}

/// The exporter on `--listen addr`, on scrape with reuse for 1 ms only:
/// each scrape is a whole refresh.
fn refreshed_by_scrape(api: &str, addr: &str) -> std::process::Command {
    let mut c = exporter_of(api);
    c.args([
        "--listen",
        addr,
        "--mode",
        "on-scrape",
        "--min-interval",
        "1ms",
    ]);
    c
}

fn level(event: &Value) -> &str {
    event["level"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_start_and_the_first_refresh_say_what_is_read_and_found() {
    let fake = FakeApify::new(TOKEN);
    fake.put_webhook(webhook(W1, &[RUN_OK]));
    fake.put_dispatch(succeeded("d1", W1, now_ms() - 60_000));
    fake.put_dispatch(succeeded("d2", W1, now_ms() - 30_000));
    fake.put_dispatch(dispatch(
        "d3",
        W1,
        RUN_OK,
        "ACTIVE",
        now_ms() - 10_000,
        vec![],
    ));
    let (api, stop_fake) = serve_fake(&fake).await;

    let (_, addr) = listen();
    let run = Logged::spawn(exporter_of(&api).args(["--listen", &addr, "--interval", "1h"]));
    let start = run.wait_for("reading Apify webhook dispatches").await;
    assert_eq!(level(&start), "INFO");
    assert_eq!(
        start["fields"],
        json!({
            "message": "reading Apify webhook dispatches",
            "api": api,
            "watching": "every webhook of the account",
            "ad_hoc": "fold",
            "mode": "interval",
            "interval": "1h",
            "metadata_interval": "5m",
            "state_file": "none",
        })
    );
    let first = run.wait_for("first refresh finished").await;
    // The only refresh in the hour: every request the fake saw is its.
    let seen = fake.requests().len();
    assert_eq!(
        seen, 4,
        "the webhook list, W1 in full, the dispatch list, W1's Actor (its name)"
    );
    assert_eq!(level(&first), "INFO");
    let fields = &first["fields"];
    assert_eq!(fields["ok"], true);
    assert_eq!(fields["webhooks"], 1);
    assert_eq!(fields["dispatches"], 2, "d1 and d2; d3 is still ACTIVE");
    assert_eq!(fields["active"], 1);
    assert_eq!(fields["requests"], 4);
    assert!(fields["duration"]
        .as_str()
        .is_some_and(|d| d.ends_with('s')));
    assert!(
        !run.text().contains(TOKEN),
        "token in the log:\n{}",
        run.text()
    );
    drop(run);

    // A selection, on-scrape, a state file: said the way users write them.
    let dir = temp_dir("start-line");
    let state = dir.path().join("state.json");
    let (_, addr) = listen();
    let run = Logged::spawn(exporter_of(&format!("{api}/")).args([
        "--listen",
        &addr,
        "--actor-ids",
        "nFJndFXA5zjCTuudP,janedoe~my-actor",
        "--webhook-ids",
        W1,
        "--mode",
        "on-scrape",
        "--min-interval",
        "90s",
        "--ad-hoc",
        "each",
        "--metadata-interval",
        "1m",
        "--state-file",
        state.to_str().unwrap(),
    ]));
    let start = run.wait_for("reading Apify webhook dispatches").await;
    assert_eq!(
        start["fields"],
        json!({
            "message": "reading Apify webhook dispatches",
            "api": api,
            "watching": format!("Actors nFJndFXA5zjCTuudP,janedoe~my-actor; webhooks {W1}"),
            "ad_hoc": "each",
            "mode": "on-scrape",
            "min_interval": "1m 30s",
            "metadata_interval": "1m",
            "state_file": state.display().to_string(),
        })
    );
    drop(run);
    stop_fake.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apify_up_changing_is_told_once_each_way() {
    let fake = account_with_one_webhook();
    // Two ACTIVE dispatches: every refresh re-reads them, so a refused
    // token fails three requests per refresh.
    for id in ["a1", "a2"] {
        fake.put_dispatch(dispatch(id, W1, RUN_OK, "ACTIVE", now_ms() - 5_000, vec![]));
    }
    let (api, stop_fake) = serve_fake(&fake).await;
    let (port, addr) = listen();
    // Each scrape a whole refresh, so the token changes between refreshes,
    // never in the middle of one.
    let run = Logged::spawn(&mut refreshed_by_scrape(&api, &addr));
    let first = run.wait_for("first refresh finished").await;
    assert_eq!(first["fields"]["ok"], true);
    let scrape = || {
        let (code, _) = http_get(port, "/metrics").expect("the exporter answers");
        assert_eq!(code, 200);
    };

    fake.revoke_token(true);
    // Four refused refreshes: the first tells it, the others must not.
    for _ in 0..4 {
        scrape();
    }
    let down = run.wait_for("apify_up 0: the refresh failed").await;
    fake.revoke_token(false);
    // (A scrape within 1 ms of the last refresh would reuse it.)
    let up = block_until_some("apify_up 1 told", || {
        scrape();
        run.with_message("apify_up 1: the API answers again").pop()
    });

    assert_eq!(level(&down), "WARN");
    assert_eq!(
        down["fields"],
        json!({
            "message": "apify_up 0: the refresh failed",
            "reason": "auth",
            "origin": api,
            "errors": 3,
            "error": "/v2/webhook-dispatches: HTTP 401 (token-not-valid: Authentication token is not valid.)",
        })
    );
    assert_eq!(level(&up), "INFO");
    assert_eq!(up["fields"]["last_reason"], "auth");
    assert_eq!(up["fields"]["origin"], api);
    assert!(up["fields"]["failed_for"]
        .as_str()
        .is_some_and(|d| d.ends_with('s')));
    // Nothing else above INFO: not a line per refused refresh, nor per
    // refused request.
    let loud: Vec<Value> = run
        .events()
        .into_iter()
        .filter(|e| matches!(level(e), "WARN" | "ERROR"))
        .collect();
    assert_eq!(loud, [down], "{}", run.text());
    assert_eq!(
        run.with_message("apify_up 1: the API answers again").len(),
        1
    );
    drop(run);
    stop_fake.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_are_debug_lines_and_one_summary_and_debug_is_about_the_exporter() {
    let fake = account_with_one_dispatch("SUCCEEDED", 10_000);
    let unavailable = Fault::status(503, "service-unavailable", "Try again");
    fake.inject(route::DISPATCHES, unavailable.clone());
    fake.inject(route::DISPATCHES, unavailable);
    fake.inject(route::WEBHOOKS, Fault::rate_limited(0));
    let (api, stop_fake) = serve_fake(&fake).await;
    let (_, addr) = listen();
    let run = Logged::spawn(exporter_of(&api).env("RUST_LOG", "debug").args([
        "--listen",
        &addr,
        "--interval",
        "1h",
    ]));
    let first = run.wait_for("first refresh finished").await;
    assert_eq!(first["fields"]["ok"], true);
    assert_eq!(first["fields"]["requests"], 7, "4, and 3 retries");

    let summary = run.with_message("API requests were retried during the refresh");
    assert_eq!(summary.len(), 1, "{}", run.text());
    assert_eq!(level(&summary[0]), "INFO");
    assert_eq!(summary[0]["fields"]["retries"], 3);
    assert_eq!(
        summary[0]["fields"]["by"],
        "/v2/webhook-dispatches 503 x2, /v2/webhooks 429 x1"
    );
    let mut retries: Vec<(String, String)> = run
        .with_message("retrying an Apify request")
        .iter()
        .map(|e| {
            assert_eq!(level(e), "DEBUG");
            assert!(e["fields"]["wait"].is_string(), "{e}");
            let fields = &e["fields"];
            (
                fields["endpoint"].as_str().unwrap().to_owned(),
                fields["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    retries.sort();
    let expected = [
        (route::DISPATCHES, "503"),
        (route::DISPATCHES, "503"),
        (route::WEBHOOKS, "429"),
    ]
    .map(|(e, c)| (e.to_owned(), c.to_owned()));
    assert_eq!(retries, expected);
    // At debug, the exporter's own lines only: the HTTP stack stays at warn.
    let targets: std::collections::BTreeSet<String> = run
        .events()
        .iter()
        .map(|e| e["target"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(
        targets
            .iter()
            .all(|t| t.starts_with("apify_webhook_exporter")),
        "{targets:?}"
    );
    drop(run);

    // Named, a dependency speaks: the filter above was what kept it quiet.
    let (_, addr) = listen();
    let run = Logged::spawn(
        exporter_of(&api)
            .env("RUST_LOG", "debug,hyper_util=debug")
            .args(["--listen", &addr, "--interval", "1h"]),
    );
    run.wait_for("first refresh finished").await;
    assert!(
        run.events().iter().any(|e| e["target"]
            .as_str()
            .is_some_and(|t| t.starts_with("hyper_util"))),
        "{}",
        run.text()
    );
    drop(run);
    stop_fake.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_names_the_origin_in_the_log_and_on_readyz() {
    // Nothing listens there.
    let (api_port, _) = listen();
    let api = format!("http://127.0.0.1:{api_port}");
    let (port, addr) = listen();
    let before = now_ms();
    let run = Logged::spawn(exporter_of(&format!("{api}/some/prefix")).args([
        "--listen",
        &addr,
        "--interval",
        "1h",
    ]));
    let down = run.wait_for("apify_up 0: the refresh failed").await;
    let after = now_ms();
    // Ours up to the cause; the cause chain's last words are the OS's.
    let error = down["fields"]["error"].as_str().unwrap().to_owned();
    assert!(
        error.starts_with(&format!(
            "/v2/webhooks: network error reaching {api}: error sending request"
        )) && error.contains("tcp connect error: Connection refused"),
        "{error}"
    );
    assert_eq!(level(&down), "WARN");
    assert_eq!(
        down["fields"],
        json!({
            "message": "apify_up 0: the refresh failed",
            "reason": "network",
            "origin": api,
            "errors": 1,
            "error": error,
        })
    );
    assert!(!run.text().contains("some/prefix"), "{}", run.text());
    // Its retries failed too: the line above tells it, not a summary a
    // refresh (that is for retries that saved the refresh).
    let summaries = run.with_message("API requests were retried during the refresh");
    assert!(summaries.is_empty(), "{summaries:?}");
    let (code, body) = tokio::task::spawn_blocking(move || http_get(port, "/readyz"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(code, 200, "ready after a failed attempt: {body}");
    let prefix = format!("failed: network: {error} (origin {api}, failing since ");
    let since = body
        .strip_prefix(&prefix)
        .and_then(|rest| rest.strip_suffix(")\n"))
        .unwrap_or_else(|| panic!("{body}"));
    let since = apify_webhook_exporter::clock::parse_timestamp(since).unwrap();
    assert!((before..=after).contains(&since), "{body}");
    drop(run);
}

#[test]
fn healthcheck_prints_the_cause_when_unhealthy() {
    let port = free_port();
    let out = exporter()
        .args(["--healthcheck", "--listen", &format!("0.0.0.0:{port}")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    let prefix = format!("unhealthy: http://127.0.0.1:{port}/healthz: error sending request");
    // Ours up to the cause; the cause chain's last words are the OS's.
    assert!(
        err.starts_with(&prefix)
            && err.contains("tcp connect error: Connection refused")
            && err.ends_with(")\n")
            && err.lines().count() == 1,
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_that_may_not_read_actors_is_told_once_at_info() {
    let fake = account_with_one_webhook(); // of actor1
    fake.refuse_route(route::ACT, true);
    let (api, stop_fake) = serve_fake(&fake).await;
    let (port, addr) = listen();
    // Every scrape a refresh, every refresh a metadata read: the Actor is
    // asked, and refused, each time.
    let mut exporter = refreshed_by_scrape(&api, &addr);
    let run = Logged::spawn(exporter.args(["--metadata-interval", "1ms"]));
    run.wait_for("first refresh finished").await;
    for _ in 0..3 {
        let (code, _) = http_get(port, "/metrics").expect("the exporter answers");
        assert_eq!(code, 200);
    }
    let asked = fake
        .requests()
        .iter()
        .filter(|r| r.route == route::ACT)
        .count();
    assert!(asked >= 2, "refused {asked} times: more than once");

    let told = run.with_message(
        "the token may not read these records: the names they give stay empty (nothing else is affected)",
    );
    assert_eq!(told.len(), 1, "{}", run.text());
    assert_eq!(level(&told[0]), "INFO");
    assert_eq!(told[0]["fields"]["endpoint"], route::ACT);
    let loud = run
        .events()
        .into_iter()
        .filter(|e| matches!(level(e), "WARN" | "ERROR"))
        .count();
    assert_eq!(loud, 0, "{}", run.text());
    drop(run);
    stop_fake.cancel();
}
