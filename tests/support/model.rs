//! A model of what `/metrics` counts of an account: each terminal dispatch
//! once under its status, each ACTIVE one as active, and each finished call
//! once, by webhook, event type and status; worked out from the dispatches
//! as the API shows them, to compare with what the exporter shows.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{sorted_labels, Scrape};

/// Label sets of one family (sorted, as `Scrape::series` keys them), each
/// with its value.
pub type Series = BTreeMap<Vec<(String, String)>, f64>;

/// The families the model predicts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    /// `apify_webhook_dispatches_total`.
    pub dispatches: Series,
    /// `apify_webhook_dispatch_calls_total`.
    pub calls: Series,
    /// `apify_webhook_dispatches_active`.
    pub active: Series,
    /// Terminal dispatches per webhook and status...
    pub attempts: Series,
    /// ...and their calls.
    pub attempts_sum: Series,
}

/// The string at `key` of a JSON object; empty when absent or not a string.
pub fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_default()
}

pub fn is_terminal(d: &Value) -> bool {
    matches!(text(d, "status"), "SUCCEEDED" | "FAILED")
}

impl Counts {
    /// What the exporter counts of an account that holds `dispatches`
    /// (its ACTIVE ones included).
    pub fn of_account(dispatches: &[Value]) -> Counts {
        let mut counts = Counts::default();
        for d in dispatches {
            counts.add(d, true);
        }
        counts
    }

    /// Adds what the exporter counts of `d` as it is: a terminal dispatch
    /// and all its calls, or an ACTIVE one (when `with_active`) and its
    /// calls up to the first still in flight.
    pub fn add(&mut self, d: &Value, with_active: bool) {
        let (w, et, status) = (
            text(d, "webhookId"),
            text(d, "eventType"),
            text(d, "status"),
        );
        let terminal = is_terminal(d);
        if terminal {
            let key = sorted_labels(&[("webhook_id", w), ("event_type", et), ("status", status)]);
            *self.dispatches.entry(key).or_default() += 1.0;
            let key = sorted_labels(&[("webhook_id", w), ("status", status)]);
            *self.attempts.entry(key.clone()).or_default() += 1.0;
            let calls = d["calls"].as_array().map_or(0, Vec::len);
            *self.attempts_sum.entry(key).or_default() += calls as f64;
        } else if with_active {
            let key = sorted_labels(&[("webhook_id", w), ("event_type", et)]);
            *self.active.entry(key).or_default() += 1.0;
        }
        for c in d["calls"].as_array().into_iter().flatten() {
            let code = c["responseStatus"].as_u64().map(|s| s.to_string());
            if !terminal && code.is_none() && c["finishedAt"].is_null() {
                break;
            }
            let code = code.unwrap_or_else(|| "none".to_string());
            let key = sorted_labels(&[
                ("webhook_id", w),
                ("event_type", et),
                ("response_status", &code),
            ]);
            *self.calls.entry(key).or_default() += 1.0;
        }
    }

    /// The same, series at zero left out (the exporter creates some).
    pub fn without_zeros(self) -> Counts {
        let f = |s: Series| s.into_iter().filter(|(_, v)| *v != 0.0).collect();
        Counts {
            dispatches: f(self.dispatches),
            calls: f(self.calls),
            active: f(self.active),
            attempts: f(self.attempts),
            attempts_sum: f(self.attempts_sum),
        }
    }

    /// The same families as the exporter shows them.
    pub fn of(m: &Scrape) -> Counts {
        let family = |name: &str| m.series(name);
        Counts {
            dispatches: family("apify_webhook_dispatches_total"),
            calls: family("apify_webhook_dispatch_calls_total"),
            active: family("apify_webhook_dispatches_active"),
            attempts: family("apify_webhook_dispatch_attempts_count"),
            attempts_sum: family("apify_webhook_dispatch_attempts_sum"),
        }
    }
}
