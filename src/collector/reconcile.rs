//! Reconciliation: the exporter checks itself against Apify's own count.
//!
//! At the first metadata read that shows a webhook's `stats.totalDispatches`,
//! a [`Baseline`] stores that count and the time. From then on every
//! dispatch of that webhook created since and seen for the first time adds
//! one to it (terminal or ACTIVE, once: first sight is one call of
//! `State::count_new`, and a dispatch followed as ACTIVE is not seen again
//! when it ends). [`State::reconcile`] then sets
//! `apify_webhook_unaccounted_dispatches` to
//! `(reported now − reported at the baseline) − seen since`, floored at 0.
//! A value that lasts means Apify holds dispatches the lists never showed
//! the exporter, whatever the cause.
//!
//! Choices, each one-sided so that the gauge never rises by itself (a false
//! alarm would teach people to ignore the alert):
//!
//! - The baseline time is the exporter's clock when the refresh began,
//!   before Apify computed the count it answered.
//! - Clock skew. `createdAt` is Apify's clock, the baseline time ours. A
//!   dispatch counts as "since the baseline" when it was created no earlier
//!   than [`SKEW_MARGIN_MS`] before it, so one that Apify created after it
//!   answered the count is counted as seen even when Apify's clock is up to
//!   that margin behind ours. The price: a dispatch created within the
//!   margin before the baseline, and seen only after it (the backfill of the
//!   first refresh), is in the baseline count and still counted as seen,
//!   which lowers the gauge by one for good. That happens once per webhook,
//!   for at most the dispatches of one minute.
//! - A dispatch created right at the baseline instant counts as since (`>=`),
//!   the safe side of the same rule.
//! - Dispatches seen before the baseline existed (an orphan adopted during a
//!   refresh, before its webhook's first metadata read) are not counted:
//!   they were created before the count was read, so it includes them.
//! - Lookback: the first pass reads back `APIFY_EXPORTER_LOOKBACK`, all of
//!   it created before the baseline, so none of it counts (but the margin)
//!   and the gauge does not depend on the lookback. A restart with a state
//!   file keeps the baseline and its count; a restart without one, or a
//!   rejected state file, takes a new baseline.
//! - The gauge is recomputed only after a refresh in which every dispatch
//!   list was read down to its watermark: a pass cut short has not seen
//!   what it should have, and would raise the gauge for nothing. Otherwise
//!   the last value stays, like every other value after a failed refresh.
//! - Apify's count going down (it never should) cannot be compared with
//!   the baseline: a new baseline is taken, with a warning.

use serde::{Deserialize, Serialize};

use super::state::{State, WebhookState};
use crate::api::decode::Millis;

/// How far Apify's clock may lag ours without the gauge rising: a dispatch
/// created up to this long before the baseline counts as seen since.
pub(crate) const SKEW_MARGIN_MS: Millis = 60_000;

/// Where a webhook's reconciliation starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Baseline {
    /// Apify's `stats.totalDispatches` at the baseline.
    pub(crate) reported: u64,
    /// When (the exporter's clock) the refresh that read it began.
    pub(crate) at: Millis,
    /// Distinct dispatches created since (give or take [`SKEW_MARGIN_MS`])
    /// that the exporter has seen.
    pub(crate) seen: u64,
}

impl Baseline {
    /// A baseline of `reported` dispatches at `at`, none seen yet.
    pub(crate) fn new(reported: u64, at: Millis) -> Self {
        Baseline {
            reported,
            at,
            seen: 0,
        }
    }

    /// Notes a dispatch seen for the first time.
    pub(crate) fn saw(&mut self, created_at: Millis) {
        if created_at >= self.at.saturating_sub(SKEW_MARGIN_MS) {
            self.seen = self.seen.saturating_add(1);
        }
    }

    /// Dispatches Apify reports since the baseline that were not seen.
    pub(crate) fn unaccounted(&self, reported_now: u64) -> u64 {
        reported_now
            .saturating_sub(self.reported)
            .saturating_sub(self.seen)
    }
}

impl WebhookState {
    /// Notes a dispatch of this webhook seen for the first time.
    pub(crate) fn saw_dispatch(&mut self, created_at: Millis) {
        if let Some(baseline) = &mut self.baseline {
            baseline.saw(created_at);
        }
    }
}

impl State {
    /// After a metadata read begun at `read_at`: takes the baseline of every
    /// webhook that shows Apify's count and has none yet. Called before the
    /// dispatch lists are read, so that what they show is counted.
    ///
    /// A folded ad-hoc series set stands for many short-lived webhooks and
    /// carries no count of Apify's, so it gets no baseline and the gauge
    /// stays absent for it.
    pub(crate) fn take_baselines(&mut self, read_at: Millis) {
        for (id, webhook) in &mut self.webhooks {
            let Some(reported) = webhook.reported_dispatches else {
                // Kept, should the count come back.
                continue;
            };
            match &webhook.baseline {
                Some(b) if reported >= b.reported => {}
                Some(b) => {
                    tracing::warn!(
                        webhook_id = %id,
                        baseline = b.reported,
                        reported,
                        "Apify's dispatch count went down; reconciliation starts again"
                    );
                    webhook.baseline = Some(Baseline::new(reported, read_at));
                }
                None => webhook.baseline = Some(Baseline::new(reported, read_at)),
            }
        }
    }

    /// The one place `apify_webhook_unaccounted_dispatches` is computed:
    /// after the dispatch lists that follow a metadata read were read in
    /// full (metadata is read every `APIFY_EXPORTER_METADATA_INTERVAL`).
    /// Absent while Apify reports no count.
    pub(crate) fn reconcile(&mut self) {
        for webhook in self.webhooks.values_mut() {
            webhook.unaccounted_dispatches = match (&webhook.baseline, webhook.reported_dispatches)
            {
                (Some(baseline), Some(reported)) => Some(baseline.unaccounted(reported)),
                _ => None,
            };
        }
    }

    /// True when the last pass over every dispatch list reached its
    /// watermark (a pass cut short leaves a partial span behind).
    pub(crate) fn lists_complete(&self) -> bool {
        self.cursors
            .values()
            .all(|c| c.partial.is_empty() && c.current.is_none())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::dispatches::DispatchStatus;
    use crate::api::webhooks::{Stats, Webhook};
    use crate::collector::cursor::Cursor;
    use crate::collector::test_data;

    const W: &str = "W1";
    const EVENT: &str = "ACTOR.RUN.SUCCEEDED";
    /// The baseline instant of these tests.
    const T: Millis = 10_000_000;

    fn webhook(total: Option<u64>) -> Webhook {
        Webhook {
            id: W.to_string(),
            event_types: vec![EVENT.to_string()],
            stats: Some(Stats {
                total_dispatches: total,
            }),
            ..Webhook::default()
        }
    }

    /// A metadata read showing `total`, begun at `at`.
    fn metadata_read(s: &mut State, total: Option<u64>, at: Millis) {
        s.sync_webhooks(&[(webhook(total), None)]);
        s.take_baselines(at);
    }

    fn seen(s: &mut State, id: &str, status: DispatchStatus, created_at: Millis) {
        s.count_new(&test_data::dispatch(
            id,
            W,
            EVENT,
            status,
            created_at,
            vec![],
        ));
    }

    fn unaccounted(s: &State) -> Option<u64> {
        s.webhooks[W].unaccounted_dispatches
    }

    #[test]
    fn unaccounted_is_the_reported_growth_less_what_was_seen_floored_at_zero() {
        let mut b = Baseline::new(100, T);
        assert_eq!(b.unaccounted(100), 0);
        assert_eq!(b.unaccounted(107), 7);
        for _ in 0..3 {
            b.saw(T + 1);
        }
        assert_eq!(b.unaccounted(107), 4);
        assert_eq!(b.unaccounted(103), 0);
        assert_eq!(b.unaccounted(101), 0, "seen more than reported: 0");
        assert_eq!(b.unaccounted(99), 0, "reported below the baseline: 0");
        let full = Baseline {
            reported: 0,
            at: T,
            seen: u64::MAX,
        };
        assert_eq!(full.unaccounted(u64::MAX), 0);
    }

    #[test]
    fn the_skew_margin_counts_dispatches_from_a_minute_before_the_baseline() {
        let mut b = Baseline::new(0, T);
        b.saw(T - SKEW_MARGIN_MS - 1);
        assert_eq!(b.seen, 0, "older than the margin: in the baseline count");
        b.saw(T - SKEW_MARGIN_MS);
        b.saw(T);
        b.saw(T + 1);
        assert_eq!(b.seen, 3);
    }

    #[test]
    fn an_active_dispatch_is_seen_once_through_to_its_end() {
        let mut s = State::default();
        metadata_read(&mut s, Some(10), T);
        seen(&mut s, "d1", DispatchStatus::Active, T + 5);
        // Shown again by a list (a shifted page, another cursor): not new.
        seen(&mut s, "d1", DispatchStatus::Active, T + 5);
        let done = test_data::dispatch("d1", W, EVENT, DispatchStatus::Succeeded, T + 5, vec![]);
        s.update_active("d1", Some(&done));
        seen(&mut s, "d2", DispatchStatus::Failed, T + 6);
        assert_eq!(s.webhooks[W].baseline.as_ref().map(|b| b.seen), Some(2));
        metadata_read(&mut s, Some(13), T + 30_000);
        s.reconcile();
        assert_eq!(unaccounted(&s), Some(1));
    }

    #[test]
    fn the_baseline_is_taken_once_at_the_first_count_and_absent_without_one() {
        let mut s = State::default();
        metadata_read(&mut s, None, T);
        seen(&mut s, "before", DispatchStatus::Succeeded, T + 1);
        s.reconcile();
        assert_eq!(s.webhooks[W].baseline, None);
        assert_eq!(unaccounted(&s), None, "no count from Apify: absent");

        metadata_read(&mut s, Some(40), T + 30_000);
        metadata_read(&mut s, Some(45), T + 60_000);
        assert_eq!(
            s.webhooks[W].baseline,
            Some(Baseline::new(40, T + 30_000)),
            "the first count is the baseline; later reads do not move it"
        );
        s.reconcile();
        assert_eq!(unaccounted(&s), Some(5));

        // The count disappears: absent, the baseline kept for its return.
        metadata_read(&mut s, None, T + 90_000);
        s.reconcile();
        assert_eq!(unaccounted(&s), None);
        metadata_read(&mut s, Some(46), T + 120_000);
        s.reconcile();
        assert_eq!(unaccounted(&s), Some(6));
    }

    #[test]
    fn a_count_that_goes_down_starts_again() {
        let mut s = State::default();
        metadata_read(&mut s, Some(40), T);
        metadata_read(&mut s, Some(12), T + 30_000);
        assert_eq!(s.webhooks[W].baseline, Some(Baseline::new(12, T + 30_000)));
        s.reconcile();
        assert_eq!(unaccounted(&s), Some(0));
    }

    #[test]
    fn dispatches_seen_before_the_baseline_are_not_counted() {
        let mut s = State::default();
        metadata_read(&mut s, None, T);
        seen(&mut s, "d1", DispatchStatus::Succeeded, T + 1);
        metadata_read(&mut s, Some(1), T + 30_000);
        s.reconcile();
        assert_eq!(unaccounted(&s), Some(0));
        assert_eq!(s.webhooks[W].baseline.as_ref().map(|b| b.seen), Some(0));
    }

    #[test]
    fn a_deleted_webhook_takes_its_baseline_with_it() {
        let mut s = State::default();
        metadata_read(&mut s, Some(40), T);
        s.sync_webhooks(&[]);
        metadata_read(&mut s, Some(50), T + 30_000);
        assert_eq!(s.webhooks[W].baseline, Some(Baseline::new(50, T + 30_000)));
    }

    #[test]
    fn lists_are_complete_only_when_no_pass_was_cut_short() {
        let mut s = State::default();
        assert!(s.lists_complete());
        let mut cursor = Cursor::new(0);
        cursor.begin();
        cursor.admit("d1", 5);
        s.cursors.insert("*".into(), cursor.clone());
        assert!(!s.lists_complete(), "a pass under way");
        cursor.abandon();
        s.cursors.insert("*".into(), cursor.clone());
        assert!(!s.lists_complete(), "a pass given up");
        cursor.begin();
        cursor.admit("d1", 5);
        cursor.complete();
        s.cursors.insert("*".into(), cursor);
        assert!(s.lists_complete());
    }

    #[test]
    fn a_state_saved_before_reconciliation_loads_without_a_baseline() {
        let mut s = State::default();
        metadata_read(&mut s, Some(40), T);
        let mut json = serde_json::to_value(&s).unwrap();
        let saved = json["webhooks"][W].as_object_mut().unwrap();
        saved.remove("baseline");
        saved.remove("unaccounted_dispatches");
        let old: State = serde_json::from_value(json).unwrap();
        assert_eq!(old.webhooks[W].baseline, None);
        assert_eq!(old.webhooks[W].reported_dispatches, Some(40));
    }
}
