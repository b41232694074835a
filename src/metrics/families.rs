//! The `apify_webhook_*` families, rendered from the collector's state.
//!
//! These are built as metric families directly, not kept in prometheus
//! counter objects: the numbers live in [`State`] (one serialisable value,
//! so they can be persisted), and a counter object cannot be set to a
//! loaded value.

use prometheus::proto::{
    Bucket, Counter, Gauge, Histogram as ProtoHistogram, LabelPair, Metric, MetricFamily,
    MetricType,
};

use std::collections::BTreeMap;

use crate::collector::counts::{
    Histogram, ATTEMPTS_BUCKETS, CALL_DURATION_BUCKETS, DELIVERY_BUCKETS,
};
use crate::collector::state::{ActiveDispatch, State};

/// Every `apify_webhook_*` family, in name order; families without series
/// are left out (the text format has no empty family).
pub fn webhook_families(state: &State) -> Vec<MetricFamily> {
    let mut dispatches = family(
        "apify_webhook_dispatches_total",
        "Webhook dispatches that reached a terminal status.",
        MetricType::COUNTER,
    );
    let mut active = family(
        "apify_webhook_dispatches_active",
        "Webhook dispatches now ACTIVE (being delivered or waiting for a retry).",
        MetricType::GAUGE,
    );
    let mut oldest_active = family(
        "apify_webhook_oldest_active_dispatch_timestamp_seconds",
        "createdAt of the oldest ACTIVE dispatch of the webhook.",
        MetricType::GAUGE,
    );
    let mut calls = family(
        "apify_webhook_dispatch_calls_total",
        "Delivery attempts (calls); response_status is the HTTP code, or none when no response came.",
        MetricType::COUNTER,
    );
    let mut call_duration = family(
        "apify_webhook_dispatch_call_duration_seconds",
        "Duration of delivery attempts, from startedAt to finishedAt.",
        MetricType::HISTOGRAM,
    );
    let mut attempts = family(
        "apify_webhook_dispatch_attempts",
        "Calls per dispatch that reached a terminal status.",
        MetricType::HISTOGRAM,
    );
    let mut delivery = family(
        "apify_webhook_dispatch_delivery_seconds",
        "Time from a dispatch's createdAt to the end of its last call, for terminal dispatches.",
        MetricType::HISTOGRAM,
    );
    let mut last_dispatch = family(
        "apify_webhook_last_dispatch_timestamp_seconds",
        "createdAt of the newest dispatch that ended with this status.",
        MetricType::GAUGE,
    );
    let mut reported = family(
        "apify_webhook_reported_dispatches_total",
        "Apify's own count of the webhook's dispatches (stats.totalDispatches).",
        MetricType::COUNTER,
    );
    let mut info = family(
        "apify_webhook_info",
        "Webhook metadata; always 1.",
        MetricType::GAUGE,
    );

    let mut active_by_webhook: BTreeMap<&str, Vec<&ActiveDispatch>> = BTreeMap::new();
    for a in state.active.values() {
        active_by_webhook
            .entry(a.webhook_id.as_str())
            .or_default()
            .push(a);
    }

    for (id, webhook) in &state.webhooks {
        let counts = &webhook.counts;
        for (event_type, by_status) in &counts.dispatches {
            for (status, n) in by_status {
                dispatches.mut_metric().push(counter(
                    &[
                        ("webhook_id", id),
                        ("event_type", event_type),
                        ("status", status),
                    ],
                    *n as f64,
                ));
            }
        }
        for (event_type, by_code) in &counts.calls {
            for (code, n) in by_code {
                calls.mut_metric().push(counter(
                    &[
                        ("webhook_id", id),
                        ("event_type", event_type),
                        ("response_status", code),
                    ],
                    *n as f64,
                ));
            }
        }
        for (class, h) in &counts.call_duration {
            call_duration.mut_metric().push(histogram(
                &[("webhook_id", id), ("response_class", class)],
                CALL_DURATION_BUCKETS,
                h,
            ));
        }
        for (status, h) in &counts.attempts {
            attempts.mut_metric().push(histogram(
                &[("webhook_id", id), ("status", status)],
                ATTEMPTS_BUCKETS,
                h,
            ));
        }
        for (status, h) in &counts.delivery {
            delivery.mut_metric().push(histogram(
                &[("webhook_id", id), ("status", status)],
                DELIVERY_BUCKETS,
                h,
            ));
        }
        for (status, at) in &counts.last_dispatch {
            last_dispatch.mut_metric().push(gauge(
                &[("webhook_id", id), ("status", status)],
                seconds(*at),
            ));
        }
        if let Some(n) = webhook.reported_dispatches {
            reported
                .mut_metric()
                .push(counter(&[("webhook_id", id)], n as f64));
        }
        let i = &webhook.info;
        info.mut_metric().push(gauge(
            &[
                ("webhook_id", id),
                ("actor_id", &i.actor_id),
                ("actor_task_id", &i.actor_task_id),
                ("event_types", &i.event_types.join(",")),
                ("request_host", &i.request_host),
                ("is_ad_hoc", &i.is_ad_hoc),
                ("do_not_retry", &i.do_not_retry),
                ("ignore_ssl_errors", &i.ignore_ssl_errors),
                ("description", &i.description),
            ],
            1.0,
        ));

        // ACTIVE gauges: every subscribed event type (at 0 when idle), plus
        // any other event type an ACTIVE dispatch carries.
        let mut by_type: BTreeMap<&str, u64> =
            i.event_types.iter().map(|t| (t.as_str(), 0)).collect();
        let mut oldest: Option<i64> = None;
        for a in active_by_webhook.get(id.as_str()).into_iter().flatten() {
            *by_type.entry(a.event_type.as_str()).or_insert(0) += 1;
            oldest = Some(oldest.map_or(a.created_at, |o| o.min(a.created_at)));
        }
        for (event_type, n) in by_type {
            active.mut_metric().push(gauge(
                &[("webhook_id", id), ("event_type", event_type)],
                n as f64,
            ));
        }
        if let Some(at) = oldest {
            oldest_active
                .mut_metric()
                .push(gauge(&[("webhook_id", id)], seconds(at)));
        }
    }

    let mut all = vec![
        dispatches,
        active,
        oldest_active,
        calls,
        call_duration,
        attempts,
        delivery,
        last_dispatch,
        reported,
        info,
    ];
    all.retain(|f| !f.get_metric().is_empty());
    all
}

fn seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

fn family(name: &str, help: &str, kind: MetricType) -> MetricFamily {
    let mut f = MetricFamily::default();
    f.set_name(name.to_string());
    f.set_help(help.to_string());
    f.set_field_type(kind);
    f
}

fn labels(pairs: &[(&str, &str)]) -> Vec<LabelPair> {
    pairs
        .iter()
        .map(|(name, value)| {
            let mut l = LabelPair::default();
            l.set_name(name.to_string());
            l.set_value(value.to_string());
            l
        })
        .collect()
}

fn counter(pairs: &[(&str, &str)], value: f64) -> Metric {
    let mut c = Counter::default();
    c.set_value(value);
    let mut m = Metric::from_label(labels(pairs));
    m.set_counter(c);
    m
}

fn gauge(pairs: &[(&str, &str)], value: f64) -> Metric {
    let mut g = Gauge::default();
    g.set_value(value);
    let mut m = Metric::from_label(labels(pairs));
    m.set_gauge(g);
    m
}

fn histogram(pairs: &[(&str, &str)], bounds: &[f64], h: &Histogram) -> Metric {
    let mut cumulative = 0u64;
    let buckets = bounds
        .iter()
        .enumerate()
        .map(|(i, bound)| {
            cumulative += h.buckets.get(i).copied().unwrap_or(0);
            let mut b = Bucket::default();
            b.set_upper_bound(*bound);
            b.set_cumulative_count(cumulative);
            b
        })
        .collect();
    let mut p = ProtoHistogram::default();
    p.set_bucket(buckets);
    p.set_sample_count(h.count());
    p.set_sample_sum(h.sum);
    let mut m = Metric::from_label(labels(pairs));
    m.set_histogram(p);
    m
}
