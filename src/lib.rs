//! # apify-webhook-exporter
//!
//! A Prometheus exporter for Apify webhook dispatches.
//!
//! # Layout
//!
//! Data flows one way:
//!
//! ```text
//! config ──> api (Apify client) ──> collector (state, exactly-once) ──> metrics (registry, encode) ──> server (hyper)
//! ```
//!
//! - [`config`]: environment + flags -> one validated [`config::Config`].
//! - [`api`]: the typed Apify client (pagination, retries, rate limit,
//!   errors). Knows nothing of Prometheus.
//! - [`collector`]: the refresh cycle and its [`collector::state::State`]:
//!   watermarks, ACTIVE dispatches, aggregates. Counts each dispatch and
//!   each call once.
//! - [`metrics`]: the owned registry, the metric families, the encoded
//!   `/metrics` body cached once per refresh.
//! - [`server`]: routes, gzip, graceful shutdown.
//! - [`demo`]: a simulated Apify account served on loopback, for `--demo`
//!   and for the tests.
//!
//! `api` and `metrics` never import each other; this file wires them
//! ([`run`]) and `main.rs` only parses, logs and calls [`run`].

#![forbid(unsafe_code)]

pub mod api;
pub mod collector;
pub mod config;
pub mod demo;
pub mod metrics;
pub mod secret;
pub mod server;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use rand::Rng;
use tokio::net::TcpListener;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::api::{Client, ClientOptions, Reason, RequestObserver};
use crate::collector::state::State;
use crate::collector::Collector;
use crate::config::{Config, Mode};
use crate::metrics::{Encoded, Metrics};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot set up the metrics registry: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error("cannot encode metrics: {0}")]
    Encode(#[from] metrics::EncodeError),
    #[error("cannot create the Apify client: {0}")]
    Client(#[from] api::ApiError),
    #[error("cannot start the demo API: {0}")]
    Demo(std::io::Error),
}

/// Starts the exporter on an already-bound listener and runs until
/// `shutdown` is cancelled. Tests bind port 0 and cancel the token.
pub async fn run(
    mut config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), RunError> {
    if config.demo {
        let demo = demo::start(shutdown.child_token())
            .await
            .map_err(RunError::Demo)?;
        tracing::info!(api = %demo.base_url, "demo mode: reading a simulated Apify account");
        config.api_base_url = demo.base_url;
        config.token = secret::Secret::new(demo.token);
    }

    let state = load_state(&config);
    let exporter = Arc::new(Exporter::new(&config, state)?);
    let refresher = {
        let exporter = Arc::clone(&exporter);
        let shutdown = shutdown.clone();
        let interval = config.interval;
        let mode = config.mode;
        tokio::spawn(async move {
            exporter.refresh().await;
            if mode == Mode::Interval {
                refresh_loop(&exporter, interval, &shutdown).await;
            }
        })
    };

    if let Ok(addr) = listener.local_addr() {
        let tls = config.web.as_ref().is_some_and(|w| w.tls.is_some());
        let basic_auth = config.web.as_ref().is_some_and(|w| w.auth.is_some());
        tracing::info!(%addr, mode = ?config.mode, tls, basic_auth, "serving /metrics");
    }
    server::serve(
        listener,
        exporter.clone(),
        config.web.clone(),
        shutdown.clone(),
    )
    .await;
    shutdown.cancel();
    // The loop stops between refreshes; a refresh under way gets a moment
    // to finish. Cutting it short is safe too: passes are recorded as they
    // go, so the state stays exact either way.
    let mut refresher = refresher;
    if tokio::time::timeout(SHUTDOWN_GRACE, &mut refresher)
        .await
        .is_err()
    {
        refresher.abort();
        let _ = refresher.await;
    }
    exporter.save_state().await;
    tracing::info!("stopped");
    Ok(())
}

/// How long shutdown waits for a refresh under way (twice at most: the
/// loop's, then an on-scrape one). With the server's 4 s drain, a stop
/// stays within the 10 s a container runtime gives before SIGKILL.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// The persisted state, or a fresh one when there is none or it is unusable.
fn load_state(config: &Config) -> State {
    let Some(path) = &config.state_file else {
        return State::default();
    };
    match collector::persist::load(path, &config.api_base_url) {
        Ok(Some(state)) => {
            tracing::info!(path = %path.display(), webhooks = state.webhooks.len(), "loaded state");
            state
        }
        Ok(None) => State::default(),
        Err(error) => {
            tracing::warn!(%error, "ignoring the state file; counting starts afresh");
            State::default()
        }
    }
}

/// Refreshes every `interval`, ±10% jitter so that many exporters started
/// together do not hit the API in step.
async fn refresh_loop(exporter: &Exporter, interval: Duration, shutdown: &CancellationToken) {
    loop {
        let jitter = rand::rng().random_range(0.9..=1.1);
        let wait = interval.mul_f64(jitter);
        tokio::select! {
            () = tokio::time::sleep(wait) => exporter.refresh().await,
            () = shutdown.cancelled() => return,
        }
    }
}

/// The wired exporter: a collector, the metrics, and the cached body.
pub struct Exporter {
    collector: Mutex<Collector>,
    metrics: Arc<Metrics>,
    cache: RwLock<Arc<Encoded>>,
    ready: AtomicBool,
    /// Refreshes finished so far: a scrape that waited for a running
    /// refresh sees it move and reuses that result.
    generation: AtomicU64,
    /// When the last refresh finished (on-scrape reuse window).
    last_refresh: std::sync::Mutex<Option<Instant>>,
    mode: Mode,
    min_interval: Duration,
    state_file: Option<std::path::PathBuf>,
    api_base_url: String,
}

/// Connects the client's per-request reports to the exporter's metrics,
/// so that neither module knows the other.
struct RequestMetrics(Arc<Metrics>);

impl RequestObserver for RequestMetrics {
    fn observe(&self, endpoint: &'static str, code: &str, elapsed: Duration) {
        self.0.observe_request(endpoint, code, elapsed);
    }
}

impl Exporter {
    pub fn new(config: &Config, state: State) -> Result<Exporter, RunError> {
        let metrics = Arc::new(Metrics::new()?);
        let options = ClientOptions {
            timeout: config.timeout,
            max_rps: config.max_rps,
            concurrency: config.concurrency,
            ..ClientOptions::new(config.api_base_url.clone(), config.token.clone())
        };
        let client = Client::new(options, Arc::new(RequestMetrics(Arc::clone(&metrics))))?;
        let collector = Collector::new(
            Arc::new(client),
            config.selection.clone(),
            config.lookback,
            config.concurrency,
            state,
        );
        let initial = metrics.encode(collector.state())?;
        Ok(Exporter {
            collector: Mutex::new(collector),
            metrics,
            cache: RwLock::new(Arc::new(initial)),
            ready: AtomicBool::new(false),
            generation: AtomicU64::new(0),
            last_refresh: std::sync::Mutex::new(None),
            mode: config.mode,
            min_interval: config.min_interval,
            state_file: config.state_file.clone(),
            api_base_url: config.api_base_url.clone(),
        })
    }

    /// Runs one refresh (waiting for one already running), then re-encodes.
    pub async fn refresh(&self) {
        let mut collector = self.collector.lock().await;
        self.refresh_locked(&mut collector).await;
    }

    async fn refresh_locked(&self, collector: &mut Collector) {
        let started = Instant::now();
        let report = collector.refresh().await;
        let elapsed = started.elapsed();
        for error in &report.errors {
            tracing::warn!(%error, reason = error.reason().as_str(), "refresh error");
        }
        let reasons: Vec<Reason> = report.errors.iter().map(|e| e.reason()).collect();
        let state = collector.state();
        self.metrics.observe_refresh(
            elapsed,
            &reasons,
            collector::now_millis() as f64 / 1000.0,
            state.webhooks.len(),
        );
        match self.metrics.encode(state) {
            Ok(encoded) => {
                *self.cache.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(encoded)
            }
            Err(error) => tracing::error!(%error, "keeping the previous /metrics body"),
        }
        self.write_state(state).await;
        tracing::debug!(?elapsed, ok = report.succeeded(), "refresh finished");
        *self.last_refresh.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.ready.store(true, Ordering::Release);
    }

    /// Writes the state file now (at shutdown). When a refresh is still
    /// running after the grace period, the file stays the one the last
    /// finished refresh wrote: consistent, only less recent.
    pub async fn save_state(&self) {
        match tokio::time::timeout(SHUTDOWN_GRACE, self.collector.lock()).await {
            Ok(collector) => self.write_state(collector.state()).await,
            Err(_) => {
                tracing::warn!("a refresh is still running; the state file is the last one written")
            }
        }
    }

    /// Serialises under the collector lock (so writes happen in refresh
    /// order), writes on a blocking thread.
    async fn write_state(&self, state: &State) {
        let Some(path) = self.state_file.clone() else {
            return;
        };
        let bytes = match collector::persist::encode(state, &self.api_base_url) {
            Ok(b) => b,
            Err(error) => {
                tracing::error!(%error, "cannot serialise the state");
                return;
            }
        };
        let written =
            tokio::task::spawn_blocking(move || collector::persist::write(&path, &bytes)).await;
        match written {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "state not saved"),
            Err(error) => tracing::warn!(%error, "state writer failed"),
        }
    }

    fn cached(&self) -> Arc<Encoded> {
        Arc::clone(&self.cache.read().unwrap_or_else(|e| e.into_inner()))
    }

    fn fresh_enough(&self) -> bool {
        self.last_refresh
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some_and(|at| at.elapsed() < self.min_interval)
    }

    /// On-scrape mode: one refresh at a time; scrapes that arrive while one
    /// runs wait for it and share its result. The refresh runs in its own
    /// task: a scraper that hangs up (a scrape timeout) must not cancel it
    /// half-way.
    async fn scrape(self: Arc<Self>) -> Arc<Encoded> {
        if self.mode == Mode::OnScrape && !self.fresh_enough() {
            let arrived_at = self.generation.load(Ordering::Acquire);
            let this = Arc::clone(&self);
            let refresh = tokio::spawn(async move {
                let mut collector = this.collector.lock().await;
                let shared = this.generation.load(Ordering::Acquire) != arrived_at;
                if !shared && !this.fresh_enough() {
                    this.refresh_locked(&mut collector).await;
                }
            });
            if let Err(error) = refresh.await {
                tracing::error!(%error, "on-scrape refresh failed");
            }
        }
        self.cached()
    }
}

impl server::Source for Exporter {
    fn metrics(self: Arc<Self>) -> Pin<Box<dyn Future<Output = Arc<Encoded>> + Send>> {
        Box::pin(self.scrape())
    }

    fn ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }
}
