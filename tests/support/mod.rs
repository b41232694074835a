//! Shared by the integration tests. This file runs the exporter's `run` on
//! port 0 against a fake Apify on 127.0.0.1 and holds the waits, each a
//! poll with a deadline; `account` builds what the fake serves; `metrics`
//! reads `/metrics`; `model` works out what it should say of an account
//! (`use support::model::..`); `process` spawns the binary; `tls` makes
//! HTTPS files.

// Each test binary compiles all of this and uses a part of it.
#![allow(dead_code)]

mod account;
mod metrics;
pub mod model;
mod process;
mod tls;

pub use account::*;
pub use metrics::*;
#[allow(unused_imports)] // only the tests that spawn the binary use it
pub use process::*;
#[allow(unused_imports)] // only the tests of HTTPS use it
pub use tls::*;
// The route templates the fake records requests under, which are also the
// `endpoint` label of the exporter's own request counter. (Named here, so
// that a move in the crate is one change; not every binary uses them.)
#[allow(unused_imports)]
pub use apify_webhook_exporter::demo::fake_api::route;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use apify_webhook_exporter::config::{Config, Mode};
use apify_webhook_exporter::demo::{FakeApify, RecordedRequest};
use apify_webhook_exporter::secret::Secret;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Upper bound of every wait in the tests.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// How often a wait looks again: short next to every delay a test injects.
const POLL: Duration = Duration::from_millis(10);

/// Config for tests: on-scrape with no reuse window, so every scrape is
/// one refresh and a test controls exactly when refreshes happen; metadata
/// is read at every refresh (the tests of its own period set it back).
pub fn test_config(api: &str) -> Config {
    let mut c = Config::new(Secret::new(TOKEN), api);
    c.mode = Mode::OnScrape;
    c.min_interval = Duration::ZERO;
    c.metadata_interval = Duration::ZERO;
    c.timeout = Duration::from_secs(5);
    c.max_rps = 1000;
    c
}

/// The exporter running against a fake Apify, and a client for it.
pub struct Harness {
    pub fake: FakeApify,
    /// `http://127.0.0.1:PORT` of the exporter.
    pub url: String,
    pub api: String,
    pub http: reqwest::Client,
    fake_shutdown: CancellationToken,
    shutdown: CancellationToken,
    exporter: tokio::task::JoinHandle<()>,
}

impl Harness {
    /// Serves `fake`, starts the exporter against it and waits until it is
    /// ready, so the start-up refresh is over when a test begins.
    pub async fn start(fake: FakeApify, configure: impl FnOnce(&mut Config)) -> Harness {
        let h = Harness::start_without_waiting(fake, configure).await;
        h.wait_ready().await;
        h
    }

    /// Like `start`, without waiting for `/readyz` (which may need TLS or
    /// a password the default client lacks, or be the thing under test).
    pub async fn start_without_waiting(
        fake: FakeApify,
        configure: impl FnOnce(&mut Config),
    ) -> Harness {
        let (api, fake_shutdown) = serve_fake(&fake).await;
        Harness::spawn_exporter(fake, api, fake_shutdown, configure, false)
    }

    /// Like `start`, with the demo account in `fake` (`demo::account_at`):
    /// the exporter keeps its state file for the demo's account, as
    /// `--demo` does, not for the port `fake` is served on.
    pub async fn start_demo_account(
        fake: FakeApify,
        configure: impl FnOnce(&mut Config),
    ) -> Harness {
        let (api, fake_shutdown) = serve_fake(&fake).await;
        let h = Harness::spawn_exporter(fake, api, fake_shutdown, configure, true);
        h.wait_ready().await;
        h
    }

    /// Like `start`, against a fake already served at `api` (the demo's),
    /// which `api_shutdown` stops.
    pub async fn against(
        fake: FakeApify,
        api: String,
        api_shutdown: CancellationToken,
        configure: impl FnOnce(&mut Config),
    ) -> Harness {
        let h = Harness::spawn_exporter(fake, api, api_shutdown, configure, false);
        h.wait_ready().await;
        h
    }

    fn spawn_exporter(
        fake: FakeApify,
        api: String,
        fake_shutdown: CancellationToken,
        configure: impl FnOnce(&mut Config),
        demo_account: bool,
    ) -> Harness {
        let mut config = test_config(&api);
        configure(&mut config);
        // Bound here, before `run` starts, so no request can be refused.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let listener = TcpListener::from_std(listener).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let shutdown = CancellationToken::new();
        let token = shutdown.clone();
        let exporter = tokio::spawn(async move {
            let ran = if demo_account {
                apify_webhook_exporter::run_for_demo_account(config, listener, token).await
            } else {
                apify_webhook_exporter::run(config, listener, token).await
            };
            ran.unwrap();
        });
        // Without gzip, so a test sees the bytes the exporter sent.
        let http = reqwest::Client::builder()
            .no_gzip()
            .timeout(DEADLINE)
            .build()
            .unwrap();
        Harness {
            fake,
            url,
            api,
            http,
            fake_shutdown,
            shutdown,
            exporter,
        }
    }

    /// Stops the exporter gracefully and starts a new one against the same
    /// fake API (same origin, so a state file stays valid).
    pub async fn restart(self, configure: impl FnOnce(&mut Config)) -> Harness {
        self.shutdown.cancel();
        join_within_deadline(self.exporter).await;
        Harness::against(self.fake, self.api, self.fake_shutdown, configure).await
    }

    /// Stops the exporter and the fake; fails the test unless `run`
    /// returns `Ok` within the deadline.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.fake_shutdown.cancel();
        join_within_deadline(self.exporter).await;
    }

    pub async fn wait_ready(&self) {
        wait_until("exporter ready", async || {
            self.status("/readyz").await == 200
        })
        .await;
    }

    /// The exporter's URL of `path`.
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.at(path)).send().await.unwrap()
    }

    pub async fn status(&self, path: &str) -> u16 {
        self.get(path).await.status().as_u16()
    }

    /// GET /metrics (in on-scrape mode: runs one refresh first).
    pub async fn scrape(&self) -> Scrape {
        let r = self.get("/metrics").await;
        assert_eq!(r.status(), 200);
        Scrape(r.text().await.unwrap())
    }

    /// Requests the fake saw since the last call.
    pub fn take_requests(&self) -> Vec<RecordedRequest> {
        let r = self.fake.requests();
        self.fake.clear_requests();
        r
    }

    /// Like `take_requests`, counted per route template.
    pub fn take_routes(&self) -> BTreeMap<String, usize> {
        by_route(&self.take_requests())
    }
}

async fn join_within_deadline(exporter: tokio::task::JoinHandle<()>) {
    tokio::time::timeout(DEADLINE, exporter)
        .await
        .expect("run() did not return after shutdown")
        .unwrap();
}

/// Serves `fake` on a new port of 127.0.0.1: its base URL
/// (`http://127.0.0.1:PORT`), and the token that stops it.
pub async fn serve_fake(fake: &FakeApify) -> (String, CancellationToken) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    fake.spawn(listener, shutdown.clone());
    (api, shutdown)
}

/// Counts requests per route template.
pub fn by_route(requests: &[RecordedRequest]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for r in requests {
        *m.entry(r.route.clone()).or_insert(0) += 1;
    }
    m
}

/// Polls `done` until it holds; fails the test, naming `what`, once the
/// deadline has passed.
pub async fn wait_until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !done().await {
        assert!(
            started.elapsed() < DEADLINE,
            "{what}: not within {DEADLINE:?}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// For tests without a runtime: polls `poll` until it gives a value;
/// fails the test, naming `what`, once the deadline has passed.
pub fn block_until_some<T>(what: &str, mut poll: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(value) = poll() {
            return value;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "{what}: not within {DEADLINE:?}"
        );
        std::thread::sleep(POLL);
    }
}

/// A fresh, empty directory for one test, removed when dropped (also when
/// the test fails, so no run leaves state for the next).
pub fn temp_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("awe-{name}-"))
        .tempdir()
        .unwrap()
}

/// One refresh during which webhook W2 of actor1 and its first dispatch,
/// `x1`, appear: after the webhook lists were read, while the account-wide
/// dispatch list is held for `hold`.
pub async fn scrape_while_w2_appears(h: &Harness, hold: Duration) -> Scrape {
    h.fake.inject(
        route::DISPATCHES,
        apify_webhook_exporter::demo::Fault::Delay(hold),
    );
    let appears = async {
        wait_until("the refresh asks for dispatches", async || {
            h.fake
                .requests()
                .iter()
                .any(|r| r.route == route::DISPATCHES)
        })
        .await;
        h.fake.put_webhook(webhook(W2, &[RUN_OK]));
        h.fake.put_dispatch(succeeded("x1", W2, now_ms()));
    };
    let (m, ()) = tokio::join!(h.scrape(), appears);
    m
}
