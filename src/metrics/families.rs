//! The `apify_webhook_*` families, rendered from the collector's state.
//!
//! These are built as metric families directly, not kept in prometheus
//! counter objects: the numbers live in [`State`] (one serialisable value,
//! so they can be persisted), and a counter object cannot be set to a
//! loaded value. Names, help and label names come from the contract.

use std::collections::BTreeMap;

use prometheus::proto::{
    Bucket, Counter, Gauge, Histogram as ProtoHistogram, LabelPair, Metric, MetricFamily,
};

use super::contract::{self, Family};
use crate::collector::counts::Histogram;
use crate::collector::state::{ActiveDispatch, State};

/// Every `apify_webhook_*` family that has series; the text format has no
/// empty family.
pub(crate) fn webhook_families(state: &State) -> Vec<MetricFamily> {
    let mut out = Rendered::default();
    let mut active_by_webhook: BTreeMap<&str, Vec<&ActiveDispatch>> = BTreeMap::new();
    for a in state.active.values() {
        active_by_webhook
            .entry(a.webhook_id.as_str())
            .or_default()
            .push(a);
    }

    for (id, webhook) in &state.webhooks {
        let id = id.as_str();
        let counts = &webhook.counts;
        for (event_type, by_status) in &counts.dispatches {
            for (status, n) in by_status {
                out.counter(&contract::DISPATCHES, &[id, event_type, status], *n);
            }
        }
        for (event_type, by_code) in &counts.calls {
            for (code, n) in by_code {
                out.counter(&contract::CALLS, &[id, event_type, code], *n);
            }
        }
        for (class, h) in &counts.call_duration {
            out.histogram(&contract::CALL_DURATION, &[id, class], h);
        }
        for (status, h) in &counts.attempts {
            out.histogram(&contract::ATTEMPTS, &[id, status], h);
        }
        for (status, h) in &counts.delivery {
            out.histogram(&contract::DELIVERY, &[id, status], h);
        }
        for (status, at) in &counts.last_dispatch {
            out.gauge(&contract::LAST_DISPATCH, &[id, status], seconds(*at));
        }
        if let Some(f) = &counts.last_failed {
            let labels = [
                id,
                &f.dispatch_id,
                &f.event_type,
                &f.actor_run_id,
                &f.response_status,
            ];
            out.gauge(&contract::LAST_FAILED, &labels, seconds(f.created_at));
        }
        if let Some(n) = webhook.reported_dispatches {
            out.counter(&contract::REPORTED, &[id], n);
        }
        if let Some(n) = webhook.unaccounted_dispatches {
            out.gauge(&contract::UNACCOUNTED, &[id], n as f64);
        }
        let i = &webhook.info;
        let event_types = i.event_types.join(",");
        let info = [
            id,
            &i.actor_id,
            &i.actor_task_id,
            &i.actor_name,
            &i.actor_task_name,
            &event_types,
            &i.request_host,
            &i.is_ad_hoc,
            &i.do_not_retry,
            &i.ignore_ssl_errors,
            &i.description,
        ];
        out.gauge(&contract::INFO, &info, 1.0);

        // ACTIVE gauges: every subscribed event type (at 0 when idle), plus
        // any other event type an ACTIVE dispatch carries.
        let mut by_type: BTreeMap<&str, u64> =
            i.event_types.iter().map(|t| (t.as_str(), 0)).collect();
        let mut oldest: Option<i64> = None;
        for a in active_by_webhook.get(id).into_iter().flatten() {
            *by_type.entry(a.event_type.as_str()).or_insert(0) += 1;
            oldest = Some(oldest.map_or(a.created_at, |o| o.min(a.created_at)));
        }
        for (event_type, n) in by_type {
            out.gauge(&contract::ACTIVE, &[id, event_type], n as f64);
        }
        if let Some(at) = oldest {
            out.gauge(&contract::OLDEST_ACTIVE, &[id], seconds(at));
        }
    }
    out.into_families()
}

/// Series gathered per family, in the order they were added.
#[derive(Default)]
struct Rendered {
    families: BTreeMap<&'static str, (&'static Family, Vec<Metric>)>,
}

impl Rendered {
    fn push(&mut self, family: &'static Family, values: &[&str], mut metric: Metric) {
        metric.set_label(labels(family, values));
        let (_, metrics) = self
            .families
            .entry(family.name)
            .or_insert_with(|| (family, Vec::new()));
        metrics.push(metric);
    }

    fn counter(&mut self, family: &'static Family, values: &[&str], n: u64) {
        let mut c = Counter::default();
        c.set_value(n as f64);
        let mut m = Metric::default();
        m.set_counter(c);
        self.push(family, values, m);
    }

    fn gauge(&mut self, family: &'static Family, values: &[&str], value: f64) {
        let mut g = Gauge::default();
        g.set_value(value);
        let mut m = Metric::default();
        m.set_gauge(g);
        self.push(family, values, m);
    }

    fn histogram(&mut self, family: &'static Family, values: &[&str], h: &Histogram) {
        let mut cumulative = 0u64;
        let buckets = family
            .buckets
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
        let mut m = Metric::default();
        m.set_histogram(p);
        self.push(family, values, m);
    }

    fn into_families(self) -> Vec<MetricFamily> {
        self.families
            .into_values()
            .map(|(family, metrics)| {
                let mut f = MetricFamily::default();
                f.set_name(family.name.to_string());
                f.set_help(family.help.to_string());
                f.set_field_type(family.kind);
                f.set_metric(metrics);
                f
            })
            .collect()
    }
}

fn seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// The family's label names paired with `values`, in the contract's order.
fn labels(family: &Family, values: &[&str]) -> Vec<LabelPair> {
    family
        .labels
        .iter()
        .zip(values)
        .map(|(name, value)| {
            let mut l = LabelPair::default();
            l.set_name(name.to_string());
            l.set_value(value.to_string());
            l
        })
        .collect()
}
