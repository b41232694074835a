//! The aggregates of one webhook, the numbers behind the `apify_webhook_*`
//! families: dispatches and calls by label values, three histograms, and
//! the newest terminal dispatch per status. Pure: fed dispatches and calls,
//! never touched by I/O.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::api::decode::Millis;
use crate::api::dispatches::{Call, Dispatch, DispatchStatus};

/// Buckets of `apify_webhook_dispatch_call_duration_seconds`.
pub(crate) const CALL_DURATION_BUCKETS: &[f64] = &[
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 25.0, 30.0, 60.0,
];
/// Buckets of `apify_webhook_dispatch_attempts` (the design's).
pub(crate) const ATTEMPTS_BUCKETS: &[f64] = &[1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0];
/// Buckets of `apify_webhook_dispatch_delivery_seconds`: from a second to
/// the ~32 hours Apify keeps retrying.
pub(crate) const DELIVERY_BUCKETS: &[f64] = &[
    1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 10800.0, 43200.0, 86400.0, 172800.0,
];

pub(crate) const SUCCEEDED: &str = "SUCCEEDED";
pub(crate) const FAILED: &str = "FAILED";
/// `response_status` / `response_class` of a call that got no answer.
pub(crate) const NO_RESPONSE: &str = "none";

/// The aggregates of one webhook, keyed by label values.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Counts {
    /// event_type -> status -> dispatches that reached that terminal status.
    pub(crate) dispatches: BTreeMap<String, BTreeMap<String, u64>>,
    /// event_type -> response_status -> calls.
    pub(crate) calls: BTreeMap<String, BTreeMap<String, u64>>,
    /// response_class -> call durations.
    pub(crate) call_duration: BTreeMap<String, Histogram>,
    /// status -> calls per terminal dispatch.
    pub(crate) attempts: BTreeMap<String, Histogram>,
    /// status -> createdAt to last call's finishedAt.
    pub(crate) delivery: BTreeMap<String, Histogram>,
    /// status -> newest createdAt of a dispatch that ended with it.
    pub(crate) last_dispatch: BTreeMap<String, Millis>,
    /// The newest dispatch that ended FAILED, so that an alert can name it.
    #[serde(default)]
    pub(crate) last_failed: Option<LastFailed>,
}

/// The labels and value of `apify_webhook_last_failed_dispatch_info`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct LastFailed {
    pub(crate) dispatch_id: String,
    pub(crate) event_type: String,
    /// `""` when the dispatch's `eventData` names no run.
    pub(crate) actor_run_id: String,
    /// Of its last call, as in `apify_webhook_dispatch_calls_total`.
    pub(crate) response_status: String,
    pub(crate) created_at: Millis,
}

/// A histogram's raw numbers: per-bucket (not cumulative) counts, the last
/// one for +Inf, and the sum. The bounds are the `*_BUCKETS` constants.
///
/// The sum is kept in whole thousandths (every value observed is a count
/// or milliseconds in seconds), so that the same observations give the same
/// sum in any order: two exporters (shards against an unsharded one, an HA
/// pair) that count the same dispatches in another order show the same
/// `_sum`, not 0.6000000000000001 against 0.6. Exact up to 2^51 thousandths
/// (70,000 years of calls).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Histogram {
    pub(crate) buckets: Vec<u64>,
    pub(crate) sum: f64,
}

impl Histogram {
    pub(crate) fn observe(&mut self, bounds: &[f64], value: f64) {
        if self.buckets.len() != bounds.len() + 1 {
            self.buckets = vec![0; bounds.len() + 1];
        }
        let at = bounds
            .iter()
            .position(|b| value <= *b)
            .unwrap_or(bounds.len());
        self.buckets[at] = self.buckets[at].saturating_add(1);
        let thousandths = (self.sum * 1000.0).round() + (value * 1000.0).round();
        // Never down: a sum from an older state file, a hair above its
        // thousandth, would otherwise drop by that hair, which rate() takes
        // for a counter reset.
        self.sum = self.sum.max(thousandths / 1000.0);
    }

    pub(crate) fn count(&self) -> u64 {
        self.buckets
            .iter()
            .fold(0u64, |sum, n| sum.saturating_add(*n))
    }
}

impl Counts {
    /// Creates the zero series of `event_type`: SUCCEEDED and FAILED, so
    /// that `rate()` and `increase()` work before its first dispatch.
    pub(crate) fn open_event_type(&mut self, event_type: &str) {
        let by_status = self.dispatches.entry(event_type.to_string()).or_default();
        for status in [SUCCEEDED, FAILED] {
            by_status.entry(status.to_string()).or_insert(0);
        }
    }

    /// Counts the calls from index `from` that have finished, stopping at
    /// the first still in flight. Returns the new number counted.
    pub(crate) fn count_finished_calls(
        &mut self,
        event_type: &str,
        calls: &[Call],
        from: usize,
    ) -> usize {
        let mut counted = from;
        for call in calls.iter().skip(from) {
            if !call.is_finished() {
                break;
            }
            self.count_call(event_type, call);
            counted += 1;
        }
        counted
    }

    /// Counts a dispatch `d` that reached a terminal status, and every call
    /// of it not yet counted, finished or not. `event_type` and
    /// `created_at` are as first seen, which every count of it shares.
    pub(crate) fn finish(
        &mut self,
        event_type: &str,
        created_at: Millis,
        d: &Dispatch,
        calls_counted: usize,
    ) {
        let (status, calls) = (&d.status, &d.calls);
        if *status == DispatchStatus::Failed
            && self
                .last_failed
                .as_ref()
                // The newest; of two in one millisecond, the greater id, so
                // that exporters counting them in another order agree.
                .is_none_or(|last| (last.created_at, &last.dispatch_id) <= (created_at, &d.id))
        {
            self.last_failed = Some(LastFailed {
                dispatch_id: d.id.clone(),
                event_type: event_type.to_string(),
                actor_run_id: d.event_data.actor_run_id.clone().unwrap_or_default(),
                response_status: calls
                    .last()
                    .map_or(NO_RESPONSE.to_string(), |c| response_labels(c).0),
                created_at,
            });
        }
        for call in calls.iter().skip(calls_counted) {
            self.count_call(event_type, call);
        }
        let status = status.as_str();
        bump(
            self.dispatches
                .entry(event_type.to_string())
                .or_default()
                .entry(status.to_string())
                .or_insert(0),
        );
        self.attempts
            .entry(status.to_string())
            .or_default()
            .observe(ATTEMPTS_BUCKETS, calls.len() as f64);
        if let Some(finished) = calls.last().and_then(|c| c.finished_at) {
            self.delivery
                .entry(status.to_string())
                .or_default()
                .observe(DELIVERY_BUCKETS, seconds_between(created_at, finished));
        }
        let last = self
            .last_dispatch
            .entry(status.to_string())
            .or_insert(created_at);
        *last = (*last).max(created_at);
    }

    fn count_call(&mut self, event_type: &str, call: &Call) {
        let (status, class) = response_labels(call);
        bump(
            self.calls
                .entry(event_type.to_string())
                .or_default()
                .entry(status)
                .or_insert(0),
        );
        if let (Some(start), Some(end)) = (call.started_at, call.finished_at) {
            self.call_duration
                .entry(class)
                .or_default()
                .observe(CALL_DURATION_BUCKETS, seconds_between(start, end));
        }
    }
}

/// A call's `response_status` and `response_class` label values.
fn response_labels(call: &Call) -> (String, String) {
    match call.response_status {
        Some(code) => (code.to_string(), format!("{}xx", code / 100)),
        None => (NO_RESPONSE.to_string(), NO_RESPONSE.to_string()),
    }
}

/// Counters loaded from a state file may be anything: never overflow.
fn bump(n: &mut u64) {
    *n = n.saturating_add(1);
}

/// Seconds from `start` to `end`, never negative (clocks of different
/// machines stamp these).
fn seconds_between(start: Millis, end: Millis) -> f64 {
    (end.saturating_sub(start)).max(0) as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_bucket_by_upper_bound() {
        let mut h = Histogram::default();
        for v in [1.0, 2.0, 5.0, 13.0] {
            h.observe(ATTEMPTS_BUCKETS, v);
        }
        assert_eq!(h.buckets, vec![1, 1, 0, 0, 1, 0, 0, 1]);
        assert_eq!(h.count(), 4);
        assert_eq!(h.sum, 21.0);
    }

    #[test]
    fn a_sum_is_the_same_whatever_the_order_of_its_observations() {
        // Float seconds added in these two orders give 0.6000000000000001
        // and 0.6.
        let calls = [0.1, 0.2, 0.3];
        let (mut forth, mut back) = (Histogram::default(), Histogram::default());
        for v in calls {
            forth.observe(CALL_DURATION_BUCKETS, v);
        }
        for v in calls.iter().rev() {
            back.observe(CALL_DURATION_BUCKETS, *v);
        }
        assert_eq!((forth.sum, back.sum), (0.6, 0.6));
    }
}
