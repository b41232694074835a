//! Reads one `/metrics` body: a sample by name and exact labels, the sum of
//! a family, and the families most tests look at by their labels.

use std::collections::BTreeMap;

use super::{RUN_OK, W1};

/// One `/metrics` body.
pub struct Scrape(pub String);

impl Scrape {
    /// The value of the sample `name` with exactly these labels.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let want = sorted_labels(labels);
        self.samples()
            .find_map(|((n, l), value)| (n == name && l == want).then_some(value))
    }

    /// Like `get`, failing the test when the sample is absent.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels)
            .unwrap_or_else(|| panic!("no sample {name}{labels:?} in:\n{}", self.0))
    }

    /// How many samples the metric `name` has.
    pub fn count(&self, name: &str) -> usize {
        self.samples().filter(|((n, _), _)| n == name).count()
    }

    /// Every sample of the metric `name`: its labels, sorted, and value.
    pub fn series(&self, name: &str) -> BTreeMap<Vec<(String, String)>, f64> {
        self.samples()
            .filter(|((n, _), _)| n == name)
            .map(|((_, labels), value)| (labels, value))
            .collect()
    }

    /// Every sample whose metric name starts with `prefix`, keyed by its
    /// name and sorted labels (a histogram's `_bucket`, `_sum` and
    /// `_count` samples each under their own name).
    pub fn samples_starting_with(&self, prefix: &str) -> BTreeMap<Sample, f64> {
        self.samples()
            .filter(|((n, _), _)| n.starts_with(prefix))
            .collect()
    }

    /// The sum over every sample of the metric `name`.
    pub fn sum(&self, name: &str) -> f64 {
        self.samples()
            .filter(|((n, _), _)| n == name)
            .map(|(_, value)| value)
            .sum()
    }

    pub fn mentions(&self, text: &str) -> bool {
        self.0.contains(text)
    }

    pub fn up(&self) -> f64 {
        self.value("apify_up", &[])
    }

    /// `apify_exporter_webhooks`: how many webhooks the exporter follows.
    pub fn webhooks(&self) -> f64 {
        self.value("apify_exporter_webhooks", &[])
    }

    /// How many refreshes have ended.
    pub fn refreshes(&self) -> f64 {
        self.value("apify_exporter_refresh_duration_seconds_count", &[])
    }

    /// `apify_webhook_dispatches_total`: terminal dispatches.
    pub fn dispatches_total(&self, webhook_id: &str, event_type: &str, status: &str) -> f64 {
        let labels = [
            ("webhook_id", webhook_id),
            ("event_type", event_type),
            ("status", status),
        ];
        self.value("apify_webhook_dispatches_total", &labels)
    }

    /// `apify_webhook_dispatches_total` of W1's `RUN_OK` dispatches that
    /// succeeded (what `account_with_one_dispatch("SUCCEEDED", ..)` counts).
    pub fn succeeded_total(&self) -> f64 {
        self.dispatches_total(W1, RUN_OK, "SUCCEEDED")
    }

    /// `apify_exporter_refresh_errors_total` of `reason`.
    pub fn refresh_errors(&self, reason: &str) -> f64 {
        self.value("apify_exporter_refresh_errors_total", &[("reason", reason)])
    }

    /// `apify_webhook_dispatch_calls_total`, if the series exists.
    pub fn calls_total(&self, webhook_id: &str, event_type: &str, code: &str) -> Option<f64> {
        let labels = [
            ("webhook_id", webhook_id),
            ("event_type", event_type),
            ("response_status", code),
        ];
        self.get("apify_webhook_dispatch_calls_total", &labels)
    }

    /// `apify_webhook_dispatches_active`.
    pub fn active(&self, webhook_id: &str, event_type: &str) -> f64 {
        let labels = [("webhook_id", webhook_id), ("event_type", event_type)];
        self.value("apify_webhook_dispatches_active", &labels)
    }

    fn samples(&self) -> impl Iterator<Item = (Sample, f64)> + '_ {
        self.0.lines().filter_map(parse_line)
    }
}

/// Labels as `Scrape::series` keys them: owned, sorted by name.
pub fn sorted_labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut labels: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    labels.sort();
    labels
}

/// A metric name and its labels, sorted.
pub type Sample = (String, Vec<(String, String)>);

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
