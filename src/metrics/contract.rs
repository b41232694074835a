//! The metric contract: every family the exporter serves, declared once
//! with its name, help, type and label names. Names are a public
//! interface (dashboards, alerts and users' queries depend on them); the
//! golden test (`tests/golden/metrics.txt`) shows every one of them.

use prometheus::proto::MetricType;

use crate::collector::counts::{ATTEMPTS_BUCKETS, CALL_DURATION_BUCKETS, DELIVERY_BUCKETS};

/// One metric family of the contract.
#[derive(Debug)]
pub(crate) struct Family {
    pub(crate) name: &'static str,
    pub(crate) help: &'static str,
    pub(crate) kind: MetricType,
    /// Label names, in the order values are given.
    pub(crate) labels: &'static [&'static str],
    /// Bucket upper bounds, for histograms.
    pub(crate) buckets: &'static [f64],
}

const fn family(
    name: &'static str,
    help: &'static str,
    kind: MetricType,
    labels: &'static [&'static str],
) -> Family {
    Family {
        name,
        help,
        kind,
        labels,
        buckets: &[],
    }
}

const fn histogram(
    name: &'static str,
    help: &'static str,
    labels: &'static [&'static str],
    buckets: &'static [f64],
) -> Family {
    Family {
        name,
        help,
        kind: MetricType::HISTOGRAM,
        labels,
        buckets,
    }
}

use MetricType::{COUNTER, GAUGE};

// The exporter's own health.

pub(crate) const UP: Family = family(
    "apify_up",
    "1 if the last refresh from the Apify API fully succeeded.",
    GAUGE,
    &[],
);
pub(crate) const LAST_SUCCESS: Family = family(
    "apify_exporter_last_refresh_success_timestamp_seconds",
    "When the last fully successful refresh finished.",
    GAUGE,
    &[],
);
pub(crate) const REFRESH_DURATION: Family = histogram(
    "apify_exporter_refresh_duration_seconds",
    "Duration of refreshes from the Apify API.",
    &[],
    &[0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0],
);
pub(crate) const REFRESH_ERRORS: Family = family(
    "apify_exporter_refresh_errors_total",
    "Refreshes that met an error, by reason.",
    COUNTER,
    &["reason"],
);
pub(crate) const API_REQUESTS: Family = family(
    "apify_exporter_api_requests_total",
    "Apify API requests (every attempt), by route template and HTTP status or timeout/network.",
    COUNTER,
    &["endpoint", "code"],
);
pub(crate) const API_REQUEST_DURATION: Family = histogram(
    "apify_exporter_api_request_duration_seconds",
    "Duration of Apify API requests, by route template.",
    &["endpoint"],
    &[0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0],
);
pub(crate) const WEBHOOKS: Family =
    family("apify_exporter_webhooks", "Webhooks watched.", GAUGE, &[]);
pub(crate) const SKIPPED_ITEMS: Family = family(
    "apify_exporter_skipped_items_total",
    "API items left out of counting (each once), by reason: undecodable or future_timestamp.",
    COUNTER,
    &["reason"],
);
pub(crate) const STATE_SAVE_FAILURES: Family = family(
    "apify_exporter_state_save_failures_total",
    "Failed writes of the state file.",
    COUNTER,
    &[],
);
pub(crate) const BUILD_INFO: Family = family(
    "apify_exporter_build_info",
    "Version and revision of the exporter; always 1.",
    GAUGE,
    &["version", "revision"],
);

// The webhooks' dispatches, rendered from the collector's state.

pub(crate) const DISPATCHES: Family = family(
    "apify_webhook_dispatches_total",
    "Webhook dispatches that reached a terminal status.",
    COUNTER,
    &["webhook_id", "event_type", "status"],
);
pub(crate) const ACTIVE: Family = family(
    "apify_webhook_dispatches_active",
    "Webhook dispatches now ACTIVE (being delivered or waiting for a retry).",
    GAUGE,
    &["webhook_id", "event_type"],
);
pub(crate) const OLDEST_ACTIVE: Family = family(
    "apify_webhook_oldest_active_dispatch_timestamp_seconds",
    "createdAt of the oldest ACTIVE dispatch of the webhook.",
    GAUGE,
    &["webhook_id"],
);
pub(crate) const CALLS: Family = family(
    "apify_webhook_dispatch_calls_total",
    "Delivery attempts (calls); response_status is the HTTP code, or none when no response came.",
    COUNTER,
    &["webhook_id", "event_type", "response_status"],
);
pub(crate) const CALL_DURATION: Family = histogram(
    "apify_webhook_dispatch_call_duration_seconds",
    "Duration of delivery attempts, from startedAt to finishedAt.",
    &["webhook_id", "response_class"],
    CALL_DURATION_BUCKETS,
);
pub(crate) const ATTEMPTS: Family = histogram(
    "apify_webhook_dispatch_attempts",
    "Calls per dispatch that reached a terminal status.",
    &["webhook_id", "status"],
    ATTEMPTS_BUCKETS,
);
pub(crate) const DELIVERY: Family = histogram(
    "apify_webhook_dispatch_delivery_seconds",
    "Time from a dispatch's createdAt to the end of its last call, for terminal dispatches.",
    &["webhook_id", "status"],
    DELIVERY_BUCKETS,
);
pub(crate) const LAST_DISPATCH: Family = family(
    "apify_webhook_last_dispatch_timestamp_seconds",
    "createdAt of the newest dispatch that ended with this status.",
    GAUGE,
    &["webhook_id", "status"],
);
pub(crate) const REPORTED: Family = family(
    "apify_webhook_reported_dispatches_total",
    "Apify's own count of the webhook's dispatches (stats.totalDispatches).",
    COUNTER,
    &["webhook_id"],
);
pub(crate) const LAST_FAILED: Family = family(
    "apify_webhook_last_failed_dispatch_info",
    "The newest dispatch of the webhook that ended FAILED; the value is its createdAt. Apify Console shows the run at https://console.apify.com/view/runs/<actor_run_id>.",
    GAUGE,
    &[
        "webhook_id",
        "dispatch_id",
        "event_type",
        "actor_run_id",
        "response_status",
    ],
);
pub(crate) const UNACCOUNTED: Family = family(
    "apify_webhook_unaccounted_dispatches",
    "Dispatches Apify reports for the webhook since the baseline that the exporter has not seen.",
    GAUGE,
    &["webhook_id"],
);
pub(crate) const INFO: Family = family(
    "apify_webhook_info",
    "Webhook metadata; always 1.",
    GAUGE,
    &[
        "webhook_id",
        "actor_id",
        "actor_task_id",
        "actor_name",
        "actor_task_name",
        "event_types",
        "request_host",
        "is_ad_hoc",
        "do_not_retry",
        "ignore_ssl_errors",
        "description",
    ],
);

/// Every family of the contract: the golden test checks that the golden
/// file shows exactly these.
#[cfg(test)]
pub(crate) const ALL: [&Family; 22] = [
    &UP,
    &LAST_SUCCESS,
    &REFRESH_DURATION,
    &REFRESH_ERRORS,
    &API_REQUESTS,
    &API_REQUEST_DURATION,
    &WEBHOOKS,
    &SKIPPED_ITEMS,
    &STATE_SAVE_FAILURES,
    &BUILD_INFO,
    &DISPATCHES,
    &ACTIVE,
    &OLDEST_ACTIVE,
    &CALLS,
    &CALL_DURATION,
    &ATTEMPTS,
    &DELIVERY,
    &LAST_DISPATCH,
    &REPORTED,
    &LAST_FAILED,
    &UNACCOUNTED,
    &INFO,
];
