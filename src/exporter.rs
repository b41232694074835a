//! The wired exporter: one [`Collector`] behind a lock, the [`Metrics`],
//! and the encoded `/metrics` body cached once per refresh. It decides when
//! a refresh runs (the interval loop, or a scrape in on-scrape mode, with
//! concurrent scrapes sharing one refresh) and saves the state after each,
//! and tells how refreshes go: the first one, retries, and `apify_up`
//! changing (`health`), in the logs and on `/readyz`.

mod health;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rand::Rng;
use tokio::sync::Mutex;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::api::{Client, ClientOptions, Reason, RequestObserver};
use crate::clock::Clock;
use crate::collector::persist::{PersistError, StateFile};
use crate::collector::state::State;
use crate::collector::Collector;
use crate::config::{Config, Mode};
use crate::metrics::{Encoded, Metrics};
use crate::server;
use crate::server::Readiness;
use crate::RunError;
use health::Health;

/// How long shutdown waits for a refresh under way (twice at most: the
/// loop's, then an on-scrape one). With the server's 4 s drain, a stop
/// stays within the 10 s a container runtime gives before SIGKILL.
pub(crate) const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// The wired exporter: a collector, the metrics, and the cached body.
pub(crate) struct Exporter {
    collector: Mutex<Collector>,
    metrics: Arc<Metrics>,
    cache: RwLock<Arc<Encoded>>,
    /// The outcome of the refreshes so far: readiness, and what `/readyz`
    /// says.
    health: std::sync::Mutex<Health>,
    /// The API requests of the refresh under way.
    requests: Arc<RequestMetrics>,
    /// Refreshes finished so far: a scrape that waited for a running
    /// refresh sees it move and reuses that result.
    generation: AtomicU64,
    /// When the last refresh finished (on-scrape reuse window).
    last_refresh: std::sync::Mutex<Option<Instant>>,
    mode: Mode,
    interval: Duration,
    min_interval: Duration,
    state_file: Option<StateFile>,
    clock: Arc<dyn Clock>,
    /// Shared with the collector, to swap the token on SIGHUP.
    client: Arc<Client>,
}

/// Connects the client's per-request reports to the exporter's metrics,
/// so that neither module knows the other, and tallies the attempts and
/// retries of the refresh under way (one at a time: they hold the
/// collector lock) for its log lines.
struct RequestMetrics {
    metrics: Arc<Metrics>,
    attempts: AtomicU64,
    /// Retries by route template and code.
    retries: std::sync::Mutex<BTreeMap<(&'static str, String), u64>>,
}

impl RequestObserver for RequestMetrics {
    fn observe(&self, endpoint: &'static str, code: &str, elapsed: Duration) {
        self.metrics.observe_request(endpoint, code, elapsed);
        self.attempts.fetch_add(1, Ordering::Relaxed);
    }

    fn retried(&self, endpoint: &'static str, code: &str) {
        let mut retries = self.retries.lock().unwrap_or_else(|e| e.into_inner());
        *retries.entry((endpoint, code.to_owned())).or_default() += 1;
    }
}

impl RequestMetrics {
    /// The attempts and the retries since the last call.
    fn take(&self) -> (u64, BTreeMap<(&'static str, String), u64>) {
        let retries = std::mem::take(&mut *self.retries.lock().unwrap_or_else(|e| e.into_inner()));
        (self.attempts.swap(0, Ordering::Relaxed), retries)
    }
}

impl Exporter {
    /// Builds the client and the collector, starting from the saved state
    /// when there is a usable one.
    pub(crate) fn new(
        config: &Config,
        state_file: Option<StateFile>,
        clock: Arc<dyn Clock>,
    ) -> Result<Exporter, RunError> {
        let state = initial_state(state_file.as_ref(), clock.as_ref())?;
        let metrics = Arc::new(Metrics::new()?);
        let options = ClientOptions {
            timeout: config.timeout,
            max_rps: config.max_rps,
            concurrency: config.concurrency,
            ..ClientOptions::new(config.api_base_url.clone(), config.token.clone())
        };
        let requests = Arc::new(RequestMetrics {
            metrics: Arc::clone(&metrics),
            attempts: AtomicU64::new(0),
            retries: std::sync::Mutex::new(BTreeMap::new()),
        });
        let observer: Arc<dyn RequestObserver> = requests.clone();
        let client = Arc::new(Client::new(options, observer)?);
        let collector = Collector::new(Arc::clone(&client), config, Arc::clone(&clock), state);
        let initial = metrics.encode(collector.state())?;
        Ok(Exporter {
            collector: Mutex::new(collector),
            metrics,
            cache: RwLock::new(Arc::new(initial)),
            health: std::sync::Mutex::new(Health::new(client.origin().to_owned())),
            requests,
            generation: AtomicU64::new(0),
            last_refresh: std::sync::Mutex::new(None),
            mode: config.mode,
            interval: config.interval,
            min_interval: config.min_interval,
            state_file,
            clock,
            client,
        })
    }

    /// The API token from the next request on (SIGHUP).
    pub(crate) fn set_token(&self, token: crate::secret::Secret) {
        self.client.set_token(token);
    }

    /// The first refresh, then (in interval mode) one every interval,
    /// until `shutdown`.
    pub(crate) async fn keep_fresh(self: Arc<Self>, shutdown: CancellationToken) {
        self.refresh().await;
        if self.mode == Mode::Interval {
            every(self.interval, &shutdown, || self.refresh()).await;
        }
    }

    /// After the server stopped: lets a refresh under way finish (bounded),
    /// then saves the state. Cutting a refresh short is safe too: passes are
    /// recorded as they go, so the state stays exact either way.
    /// Fails when that last save fails: the counts since the last good save
    /// would be lost at the next start, and the exit code must say so.
    pub(crate) async fn stop(
        &self,
        mut refresher: tokio::task::JoinHandle<()>,
    ) -> Result<(), PersistError> {
        if tokio::time::timeout(SHUTDOWN_GRACE, &mut refresher)
            .await
            .is_err()
        {
            refresher.abort();
            let _ = refresher.await;
        }
        self.save_state().await
    }

    /// Runs one refresh (waiting for one already running), then re-encodes.
    pub(crate) async fn refresh(&self) {
        let mut collector = self.collector.lock().await;
        self.refresh_locked(&mut collector).await;
    }

    async fn refresh_locked(&self, collector: &mut Collector) {
        let started = Instant::now();
        let first = self.generation.load(Ordering::Acquire) == 0;
        let counted_before = if first {
            dispatches_counted(collector.state())
        } else {
            0
        };
        // A refresh cut short (a scrape that hung up mid-refresh) leaves its
        // tally behind: this one starts from zero.
        let _ = self.requests.take();
        let report = collector.refresh().await;
        let elapsed = started.elapsed();
        // Told once per refresh, by `Health` below: a refused token fails
        // the list and every ACTIVE dispatch's re-read alike.
        for error in &report.errors {
            tracing::debug!(%error, reason = error.reason().as_str(), "refresh error");
        }
        let (attempts, retries) = self.requests.take();
        log_retries(&retries, report.errors.is_empty());
        let reasons: Vec<Reason> = report.errors.iter().map(|e| e.reason()).collect();
        self.metrics.count_skipped(&report.skipped);
        // Saved before encoding, so that a failed save shows in this
        // refresh's /metrics. Counted and logged; the next refresh tries
        // again.
        let state = collector.state();
        let _ = self.write_state(state).await;
        self.metrics.observe_refresh(
            elapsed,
            &reasons,
            self.clock.now_millis() as f64 / 1000.0,
            state.webhooks.len(),
        );
        match self.metrics.encode(state) {
            Ok(encoded) => {
                *self.cache.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(encoded)
            }
            Err(error) => tracing::error!(%error, "keeping the previous /metrics body"),
        }
        let duration = humantime::format_duration(Duration::from_millis(
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        ));
        if first {
            tracing::info!(
                ok = report.succeeded(),
                webhooks = state.webhooks.len(),
                dispatches = dispatches_counted(state).saturating_sub(counted_before),
                active = state.active.len(),
                requests = attempts,
                %duration,
                "first refresh finished"
            );
        } else {
            tracing::debug!(ok = report.succeeded(), requests = attempts, %duration, "refresh finished");
        }
        *self.last_refresh.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.health
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .record(&report.errors, self.clock.now_millis());
    }

    /// Writes the state file now (at shutdown). When a refresh is still
    /// running after the grace period, the file stays the one the last
    /// finished refresh wrote: consistent, only less recent.
    async fn save_state(&self) -> Result<(), PersistError> {
        match tokio::time::timeout(SHUTDOWN_GRACE, self.collector.lock()).await {
            Ok(collector) => self.write_state(collector.state()).await,
            Err(_) => {
                tracing::warn!(
                    "a refresh is still running; the state file is the last one written"
                );
                Ok(())
            }
        }
    }

    /// Saves under the collector lock (the caller holds it, `state` being
    /// the collector's), so that writes happen in refresh order. A failure
    /// is counted and logged here; the caller decides whether it is fatal.
    async fn write_state(&self, state: &State) -> Result<(), PersistError> {
        let Some(file) = &self.state_file else {
            return Ok(());
        };
        let Err(error) = file.save(state, self.clock.now_millis()).await else {
            return Ok(());
        };
        self.metrics.count_state_save_failure();
        tracing::error!(%error, "state not saved");
        Err(error)
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

    fn readiness(&self) -> Readiness {
        let health = self.health.lock().unwrap_or_else(|e| e.into_inner());
        Readiness {
            ready: health.attempted(),
            text: health.describe(),
        }
    }
}

/// Dispatches counted under a terminal status so far.
fn dispatches_counted(state: &State) -> u64 {
    state
        .webhooks
        .values()
        .flat_map(|w| w.counts.dispatches.values())
        .flat_map(|by_status| by_status.values())
        .sum()
}

/// One line for a refresh whose API requests needed retries (each retry
/// was logged at DEBUG as it happened): how many, by route and code. At
/// INFO when the retries saved the refresh; at DEBUG when it failed anyway,
/// since the failure is told once by the `apify_up` line, and an outage
/// must not add a line per refresh.
fn log_retries(retries: &BTreeMap<(&'static str, String), u64>, refresh_succeeded: bool) {
    if retries.is_empty() {
        return;
    }
    let total: u64 = retries.values().sum();
    let by = retries
        .iter()
        .map(|((endpoint, code), n)| format!("{endpoint} {code} x{n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let message = "API requests were retried during the refresh";
    if refresh_succeeded {
        tracing::info!(retries = total, %by, "{message}");
    } else {
        tracing::debug!(retries = total, %by, "{message}");
    }
}

/// Runs `refresh` every `interval`, ±10% jitter so that many exporters
/// started together do not hit the API in step, until `shutdown`. The wait
/// starts after a refresh ends: a slow refresh never overlaps the next.
async fn every<F, Fut>(interval: Duration, shutdown: &CancellationToken, mut refresh: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    loop {
        let jitter = rand::rng().random_range(0.9..=1.1);
        let wait = interval.mul_f64(jitter);
        tokio::select! {
            () = tokio::time::sleep(wait) => refresh().await,
            () = shutdown.cancelled() => return,
        }
    }
}

/// The saved state, or a fresh one when there is none or it is unusable.
/// An unusable file is set aside first, so the next save cannot overwrite
/// counts someone may still want; when even that fails, the exporter does
/// not start.
fn initial_state(file: Option<&StateFile>, clock: &dyn Clock) -> Result<State, RunError> {
    let Some(file) = file else {
        return Ok(State::default());
    };
    let fatal = |error: PersistError| RunError::StateFile(error.to_string());
    match file.load() {
        Ok(Some(state)) => {
            tracing::info!(path = %file.path().display(), webhooks = state.webhooks.len(), "loaded state");
            Ok(state)
        }
        Ok(None) => Ok(State::default()),
        Err(error) => {
            let aside = file.set_aside(clock.now_millis()).map_err(fatal)?;
            tracing::warn!(
                %error,
                set_aside = %aside.display(),
                "ignoring the state file; counting starts afresh"
            );
            Ok(State::default())
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn refreshes_follow_the_interval_within_its_jitter_and_stop_on_shutdown() {
        let count = Arc::new(AtomicUsize::new(0));
        let shutdown = CancellationToken::new();
        let looping = {
            let (count, shutdown) = (Arc::clone(&count), shutdown.clone());
            tokio::spawn(async move {
                every(Duration::from_secs(30), &shutdown, || {
                    count.fetch_add(1, Ordering::SeqCst);
                    async {}
                })
                .await;
            })
        };
        let start = Instant::now();
        let refreshes_at = |secs| {
            let count = Arc::clone(&count);
            async move {
                tokio::time::sleep_until(start + Duration::from_secs(secs)).await;
                count.load(Ordering::SeqCst)
            }
        };
        // Waits are 27 s to 33 s: none before 27 s, exactly one at 33 s,
        // and three by 100 s whatever the jitter (3 × 33 = 99 < 100 < 108 = 4 × 27).
        assert_eq!(refreshes_at(26).await, 0);
        assert_eq!(refreshes_at(34).await, 1);
        assert_eq!(refreshes_at(100).await, 3);
        shutdown.cancel();
        assert!(looping.await.is_ok());
        tokio::time::sleep(Duration::from_secs(300)).await;
        assert_eq!(count.load(Ordering::SeqCst), 3, "no refresh after shutdown");
    }
}
