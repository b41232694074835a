//! The exporter's metrics: an owned registry (never the global default)
//! with the exporter's own families and the process collector, the
//! `apify_webhook_*` families rendered from the collector's state, and the
//! text encoding, done once per refresh and served from that cache.

pub(crate) mod contract;
mod families;
#[cfg(test)]
mod golden;

use std::io::Write;
use std::time::Duration;

use bytes::Bytes;
use flate2::write::GzEncoder;
use flate2::Compression;
use prometheus::{
    CounterVec, Encoder, Gauge, GaugeVec, Histogram, HistogramOpts, HistogramVec, Opts, Registry,
    TextEncoder,
};

use crate::api::Reason;
use crate::collector::state::State;
use crate::collector::SkipReason;

/// One encoded `/metrics` body, plain and gzip-compressed.
#[derive(Debug, Clone)]
pub(crate) struct Encoded {
    pub(crate) text: Bytes,
    pub(crate) gzip: Bytes,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot encode metrics: {0}")]
/// The text or gzip encoding of `/metrics` failed.
pub struct EncodeError(String);

pub(crate) struct Metrics {
    registry: Registry,
    up: Gauge,
    last_success: Gauge,
    refresh_duration: Histogram,
    refresh_errors: CounterVec,
    api_requests: CounterVec,
    api_request_duration: HistogramVec,
    webhooks: Gauge,
    skipped_items: CounterVec,
    state_save_failures: prometheus::Counter,
}

impl Metrics {
    /// A registry with the exporter's own families, the build info and
    /// (on Linux) the process collector.
    pub(crate) fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let up = Gauge::with_opts(opts(&contract::UP))?;
        let last_success = Gauge::with_opts(opts(&contract::LAST_SUCCESS))?;
        let refresh_duration = Histogram::with_opts(histogram_opts(&contract::REFRESH_DURATION))?;
        let refresh_errors = CounterVec::new(
            opts(&contract::REFRESH_ERRORS),
            contract::REFRESH_ERRORS.labels,
        )?;
        let api_requests =
            CounterVec::new(opts(&contract::API_REQUESTS), contract::API_REQUESTS.labels)?;
        let api_request_duration = HistogramVec::new(
            histogram_opts(&contract::API_REQUEST_DURATION),
            contract::API_REQUEST_DURATION.labels,
        )?;
        let webhooks = Gauge::with_opts(opts(&contract::WEBHOOKS))?;
        let skipped_items = CounterVec::new(
            opts(&contract::SKIPPED_ITEMS),
            contract::SKIPPED_ITEMS.labels,
        )?;
        for reason in SkipReason::ALL {
            skipped_items.with_label_values(&[reason.as_str()]);
        }
        let state_save_failures =
            prometheus::Counter::with_opts(opts(&contract::STATE_SAVE_FAILURES))?;
        let build_info = GaugeVec::new(opts(&contract::BUILD_INFO), contract::BUILD_INFO.labels)?;
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION"), revision()])
            .set(1.0);
        for reason in Reason::ALL {
            refresh_errors.with_label_values(&[reason.as_str()]);
        }

        registry.register(Box::new(up.clone()))?;
        registry.register(Box::new(last_success.clone()))?;
        registry.register(Box::new(refresh_duration.clone()))?;
        registry.register(Box::new(refresh_errors.clone()))?;
        registry.register(Box::new(api_requests.clone()))?;
        registry.register(Box::new(api_request_duration.clone()))?;
        registry.register(Box::new(webhooks.clone()))?;
        registry.register(Box::new(skipped_items.clone()))?;
        registry.register(Box::new(state_save_failures.clone()))?;
        registry.register(Box::new(build_info))?;
        #[cfg(target_os = "linux")]
        registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;

        Ok(Metrics {
            registry,
            up,
            last_success,
            refresh_duration,
            refresh_errors,
            api_requests,
            api_request_duration,
            webhooks,
            skipped_items,
            state_save_failures,
        })
    }

    pub(crate) fn observe_request(&self, endpoint: &str, code: &str, elapsed: Duration) {
        self.api_requests.with_label_values(&[endpoint, code]).inc();
        self.api_request_duration
            .with_label_values(&[endpoint])
            .observe(elapsed.as_secs_f64());
    }

    /// Records how a refresh went. `reasons` holds each error's reason; a
    /// refresh counts once per distinct reason.
    pub(crate) fn observe_refresh(
        &self,
        elapsed: Duration,
        reasons: &[Reason],
        finished_at_unix: f64,
        webhooks: usize,
    ) {
        self.refresh_duration.observe(elapsed.as_secs_f64());
        let distinct: std::collections::BTreeSet<Reason> = reasons.iter().copied().collect();
        for reason in distinct {
            self.refresh_errors
                .with_label_values(&[reason.as_str()])
                .inc();
        }
        if reasons.is_empty() {
            self.up.set(1.0);
            self.last_success.set(finished_at_unix);
        } else {
            self.up.set(0.0);
        }
        self.webhooks.set(webhooks as f64);
    }

    /// Counts items the collector left out; each item is reported once.
    pub(crate) fn count_skipped(&self, skipped: &[SkipReason]) {
        for reason in skipped {
            self.skipped_items
                .with_label_values(&[reason.as_str()])
                .inc();
        }
    }

    /// Counts one failed write of the state file.
    pub(crate) fn count_state_save_failure(&self) {
        self.state_save_failures.inc();
    }

    /// Encodes every family: the registry's and the webhook ones.
    pub(crate) fn encode(&self, state: &State) -> Result<Encoded, EncodeError> {
        let mut all = self.registry.gather();
        all.extend(families::webhook_families(state));
        all.sort_by(|a, b| a.name().cmp(b.name()));
        let mut text = Vec::with_capacity(64 * 1024);
        TextEncoder::new()
            .encode(&all, &mut text)
            .map_err(|e| EncodeError(e.to_string()))?;
        let mut gz = GzEncoder::new(Vec::with_capacity(text.len() / 8), Compression::default());
        gz.write_all(&text)
            .map_err(|e| EncodeError(e.to_string()))?;
        let gzip = gz.finish().map_err(|e| EncodeError(e.to_string()))?;
        Ok(Encoded {
            text: Bytes::from(text),
            gzip: Bytes::from(gzip),
        })
    }
}

fn opts(family: &contract::Family) -> Opts {
    Opts::new(family.name, family.help)
}

fn histogram_opts(family: &contract::Family) -> HistogramOpts {
    HistogramOpts::new(family.name, family.help).buckets(family.buckets.to_vec())
}

/// The git revision baked in by build.rs, or `unknown`.
fn revision() -> &'static str {
    option_env!("APIFY_EXPORTER_REVISION").unwrap_or("unknown")
}
