//! Shared by the integration tests: a fake Apify on 127.0.0.1, the
//! exporter's `run` on port 0 against it, and a `/metrics` reader.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use apify_webhook_exporter::config::{Config, Mode};
use apify_webhook_exporter::demo::{FakeApify, RecordedRequest};
use apify_webhook_exporter::secret::Secret;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub const TOKEN: &str = "apify_api_TestTokenValue0123456789";

/// Upper bound of every wait in the tests.
pub const DEADLINE: Duration = Duration::from_secs(20);

pub struct Harness {
    pub fake: FakeApify,
    pub url: String,
    pub api: String,
    pub http: reqwest::Client,
    fake_shutdown: CancellationToken,
    shutdown: CancellationToken,
    exporter: tokio::task::JoinHandle<()>,
}

/// Config for tests: on-scrape with no reuse window, so every scrape is
/// one refresh and a test controls exactly when refreshes happen.
pub fn test_config(api: &str) -> Config {
    let mut c = Config::new(Secret::new(TOKEN), api);
    c.mode = Mode::OnScrape;
    c.min_interval = Duration::ZERO;
    c.timeout = Duration::from_secs(5);
    c.max_rps = 1000;
    c
}

impl Harness {
    pub async fn start(fake: FakeApify, configure: impl FnOnce(&mut Config)) -> Harness {
        let h = Harness::start_without_waiting(fake, configure).await;
        h.wait_ready().await;
        h
    }

    /// Like `start`, without waiting for `/readyz` (which may need TLS or
    /// a password the default client lacks).
    pub async fn start_without_waiting(
        fake: FakeApify,
        configure: impl FnOnce(&mut Config),
    ) -> Harness {
        let fake_shutdown = CancellationToken::new();
        let api_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let api = format!("http://{}", api_listener.local_addr().unwrap());
        fake.spawn(api_listener, fake_shutdown.clone());
        Harness::spawn_exporter(fake, api, fake_shutdown, configure)
    }

    fn spawn_exporter(
        fake: FakeApify,
        api: String,
        fake_shutdown: CancellationToken,
        configure: impl FnOnce(&mut Config),
    ) -> Harness {
        let mut config = test_config(&api);
        configure(&mut config);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let listener = TcpListener::from_std(listener).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let shutdown = CancellationToken::new();
        let token = shutdown.clone();
        let exporter = tokio::spawn(async move {
            apify_webhook_exporter::run(config, listener, token)
                .await
                .unwrap();
        });
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
        tokio::time::timeout(DEADLINE, self.exporter)
            .await
            .expect("run() did not return after shutdown")
            .unwrap();
        let h = Harness::spawn_exporter(self.fake, self.api, self.fake_shutdown, configure);
        h.wait_ready().await;
        h
    }

    pub async fn wait_ready(&self) {
        let started = Instant::now();
        loop {
            if let Ok(r) = self.http.get(format!("{}/readyz", self.url)).send().await {
                if r.status() == 200 {
                    return;
                }
            }
            assert!(started.elapsed() < DEADLINE, "exporter not ready in time");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// GET /metrics (in on-scrape mode: runs one refresh first).
    pub async fn scrape(&self) -> Scrape {
        let r = self
            .http
            .get(format!("{}/metrics", self.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        Scrape(r.text().await.unwrap())
    }

    /// Requests the fake saw since the last call.
    pub fn take_requests(&self) -> Vec<RecordedRequest> {
        let r = self.fake.requests();
        self.fake.clear_requests();
        r
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        self.fake_shutdown.cancel();
        tokio::time::timeout(DEADLINE, self.exporter)
            .await
            .expect("run() did not return after shutdown")
            .unwrap();
    }
}

/// Counts requests per route template.
pub fn by_route(requests: &[RecordedRequest]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for r in requests {
        *m.entry(r.route.clone()).or_insert(0) += 1;
    }
    m
}

/// One `/metrics` body.
pub struct Scrape(pub String);

impl Scrape {
    /// The value of the sample `name` with exactly these labels.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let mut want: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        want.sort();
        self.0.lines().find_map(|line| {
            let (sample, value) = parse_line(line)?;
            (sample.0 == name && sample.1 == want).then_some(value)
        })
    }

    /// Like `get`, failing the test when the sample is absent.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels)
            .unwrap_or_else(|| panic!("no sample {name}{labels:?} in:\n{}", self.0))
    }

    /// Every sample of a metric name.
    pub fn count(&self, name: &str) -> usize {
        self.0
            .lines()
            .filter_map(parse_line)
            .filter(|(s, _)| s.0 == name)
            .count()
    }

    pub fn mentions(&self, text: &str) -> bool {
        self.0.contains(text)
    }
}

type Sample = (String, Vec<(String, String)>);

fn parse_line(line: &str) -> Option<(Sample, f64)> {
    if line.starts_with('#') || line.is_empty() {
        return None;
    }
    let (series, value) = line.rsplit_once(' ')?;
    let value: f64 = value.parse().ok()?;
    let (name, labels) = match series.split_once('{') {
        None => (series.to_string(), Vec::new()),
        Some((name, rest)) => {
            let rest = rest.strip_suffix('}')?;
            let mut labels = Vec::new();
            // Test label values hold no `",` sequence; good enough here.
            for pair in rest.split("\",").filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once("=\"")?;
                labels.push((k.to_string(), v.trim_end_matches('"').to_string()));
            }
            labels.sort();
            (name.to_string(), labels)
        }
    };
    Some(((name, labels), value))
}

/// A fresh, empty directory for one test.
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("awe-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn now_ms() -> i64 {
    apify_webhook_exporter::clock::now_millis()
}

pub fn iso(ms: i64) -> String {
    apify_webhook_exporter::api::decode::format_timestamp(ms)
}

pub fn webhook(id: &str, event_types: &[&str]) -> Value {
    json!({
        "id": id,
        "createdAt": "2026-01-01T00:00:00.000Z",
        "modifiedAt": "2026-01-02T00:00:00.000Z",
        "userId": "u1",
        "isAdHoc": false,
        "eventTypes": event_types,
        "condition": {"actorId": "actor1", "actorTaskId": null, "actorRunId": null},
        "ignoreSslErrors": false,
        "doNotRetry": false,
        "requestUrl": "https://hooks.example.com/path?key=receiver-secret",
        "description": format!("hook {id}"),
        "stats": {"totalDispatches": 7},
    })
}

pub fn call(started: i64, finished: Option<i64>, status: Option<u16>) -> Value {
    json!({
        "startedAt": iso(started),
        "finishedAt": finished.map(iso),
        "responseStatus": status,
        "errorMessage": null,
        "responseBody": "ok",
    })
}

pub fn dispatch(
    id: &str,
    webhook_id: &str,
    event_type: &str,
    status: &str,
    created_at: i64,
    calls: Vec<Value>,
) -> Value {
    json!({
        "id": id,
        "userId": "u1",
        "webhookId": webhook_id,
        "createdAt": iso(created_at),
        "status": status,
        "eventType": event_type,
        "eventData": {"actorId": "actor1", "actorRunId": "run1"},
        "calls": calls,
    })
}
