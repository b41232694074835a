//! The collector's state: one serialisable value holding everything that
//! must survive between refreshes (and, later, restarts): per-webhook
//! aggregates, the paging cursors (watermarks) and the ACTIVE dispatches.
//!
//! Everything here is pure: feed it API values, look at the numbers. Memory
//! is bounded by webhooks × label values + ACTIVE ids, never by history.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::api::decode::Millis;
use crate::api::dispatches::Dispatch;
use crate::api::webhooks::Webhook;
use crate::api::Owner;

use super::counts::Counts;
use super::cursor::Cursor;
use super::reconcile::Baseline;
use super::route::{Route, Routing, AD_HOC_DESCRIPTION, AD_HOC_PREFIX};
use super::skipped::RecentKeys;

/// More orphans than this are dropped (with a warning): a bound on memory
/// should the API keep listing dispatches of webhooks it cannot return.
pub(crate) const MAX_ORPHANS: usize = 10_000;

/// The key of the account-wide cursor (per-webhook cursors use the id).
pub(crate) const ACCOUNT_CURSOR: &str = "*";

/// Keys of read-back cursors: this, then the webhook id.
pub(crate) const READ_BACK_PREFIX: &str = "read-back:";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct State {
    /// The Apify user whose webhooks these are (from `userId`), so that a
    /// state file is not applied to another account's data.
    #[serde(default)]
    pub(crate) user_id: Option<String>,
    pub(crate) webhooks: BTreeMap<String, WebhookState>,
    pub(crate) cursors: BTreeMap<String, Cursor>,
    pub(crate) active: BTreeMap<String, ActiveDispatch>,
    /// New dispatches of webhooks the webhook list did not have (created
    /// during the refresh), waiting for their webhook to be read. Kept
    /// here, not in the refresh, so that a refresh cut short keeps them.
    #[serde(skip)]
    pub(crate) orphans: Vec<Dispatch>,
    /// Items left out of counting, each reported once and never counted.
    #[serde(default)]
    pub(crate) skipped: RecentKeys,
    /// Webhooks known to be ad-hoc, so that their dispatches are folded
    /// without reading the webhook again.
    #[serde(default)]
    pub(crate) ad_hoc_webhooks: RecentKeys,
    /// The account-wide dispatch list was refused (a scoped token): each
    /// watched webhook's own list is read instead. Kept across restarts, so
    /// that a restart does not switch sources back and forth.
    #[serde(default)]
    pub(crate) account_list_refused: bool,
    /// Webhooks newly selected while the account-wide list had already
    /// passed their dispatches (a selection widened across a restart), by
    /// id: what that list had passed when they joined. Their own list is
    /// read back once (cursor `read-back:<id>`), counting only those.
    #[serde(default)]
    pub(crate) read_back: BTreeMap<String, Cursor>,
    /// Cursors of a dispatch source given up (the account-wide list for
    /// per-webhook lists, or back), by the webhook they counted for: a
    /// dispatch one of them passed is not counted again by the new source,
    /// which starts low enough to miss nothing. Dropped once the new
    /// source's watermark is above them.
    #[serde(default)]
    pub(crate) handed_over: BTreeMap<String, Vec<Cursor>>,
    /// Webhooks read by id and found not watched: their dispatches are
    /// left alone until the next metadata read.
    #[serde(skip)]
    pub(crate) ignored_webhooks: BTreeSet<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct WebhookState {
    pub(crate) info: WebhookInfo,
    /// The `modifiedAt` for which the full webhook (description) was read.
    pub(crate) details_of: Option<String>,
    /// Apify's own `stats.totalDispatches`.
    pub(crate) reported_dispatches: Option<u64>,
    /// Reconciliation: dispatches Apify reports since the baseline that
    /// were not seen (absent while it cannot be told).
    #[serde(default)]
    pub(crate) unaccounted_dispatches: Option<u64>,
    /// Where reconciliation with `reported_dispatches` starts (see
    /// `reconcile.rs`); absent in state files written before it existed.
    #[serde(default)]
    pub(crate) baseline: Option<Baseline>,
    pub(crate) counts: Counts,
}

/// The labels of `apify_webhook_info`, already reduced to what may be shown.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct WebhookInfo {
    pub(crate) actor_id: String,
    pub(crate) actor_task_id: String,
    pub(crate) event_types: Vec<String>,
    pub(crate) request_host: String,
    pub(crate) is_ad_hoc: String,
    pub(crate) do_not_retry: String,
    pub(crate) ignore_ssl_errors: String,
    pub(crate) description: String,
    /// `username/name` of the Actor and of the task (see `names.rs`);
    /// empty until read, or when there is none to show.
    #[serde(default)]
    pub(crate) actor_name: String,
    #[serde(default)]
    pub(crate) actor_task_name: String,
}

/// Longest description exported, in Unicode scalar values.
const DESCRIPTION_CHARS: usize = 100;

impl WebhookInfo {
    pub(crate) fn from_webhook(w: &Webhook, description: Option<&str>) -> Self {
        let flag = |b: Option<bool>| b.map(|b| b.to_string()).unwrap_or_default();
        let condition = w.condition.clone().unwrap_or_default();
        WebhookInfo {
            actor_id: condition.actor_id.unwrap_or_default(),
            actor_task_id: condition.actor_task_id.unwrap_or_default(),
            event_types: w.event_types.clone(),
            request_host: w.request_url.as_deref().map(host_of).unwrap_or_default(),
            is_ad_hoc: flag(w.is_ad_hoc),
            do_not_retry: flag(w.do_not_retry),
            ignore_ssl_errors: flag(w.ignore_ssl_errors),
            description: description
                .map(|d| d.chars().take(DESCRIPTION_CHARS).collect())
                .unwrap_or_default(),
            ..WebhookInfo::default()
        }
    }

    /// The Actor it belongs to, when it names one.
    pub(crate) fn actor(&self) -> Option<Owner> {
        non_empty(&self.actor_id).map(|id| Owner::Actor(id.to_owned()))
    }

    /// The task it belongs to, when it names one.
    pub(crate) fn actor_task(&self) -> Option<Owner> {
        non_empty(&self.actor_task_id).map(|id| Owner::ActorTask(id.to_owned()))
    }
}

fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

impl WebhookInfo {
    /// Sets the Actor and task ids where they are still empty (an ad-hoc
    /// webhook's condition names only its run).
    pub(crate) fn fill_owner(&mut self, actor_id: &str, actor_task_id: &str) {
        for (label, value) in [
            (&mut self.actor_id, actor_id),
            (&mut self.actor_task_id, actor_task_id),
        ] {
            if label.is_empty() {
                *label = value.to_string();
            }
        }
    }
}

/// Only the host of a URL: never its path, query or userinfo, which may
/// carry secrets of the receiver.
fn host_of(url: &str) -> String {
    url::Url::parse(url.trim())
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default()
}

/// A dispatch seen ACTIVE, re-read until it is terminal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ActiveDispatch {
    pub(crate) webhook_id: String,
    /// As first seen, so that every count of this dispatch shares it.
    pub(crate) event_type: String,
    pub(crate) created_at: Millis,
    /// Calls (a prefix of `calls`) already counted.
    pub(crate) calls_counted: usize,
}

impl State {
    /// [`State::sync_selected`] under the default configuration: every
    /// webhook selected, ad-hoc ones folded.
    #[cfg(test)]
    pub(crate) fn sync_webhooks(&mut self, webhooks: &[(Webhook, Option<Details>)]) {
        use crate::config::{AdHoc, Selection};
        self.sync_selected(webhooks, &Routing::new(&Selection::default(), AdHoc::Fold));
    }

    /// Makes the watched set `webhooks`, as a metadata read found it: adds
    /// the new ones, updates labels, creates their zero series, and drops
    /// every trace of webhooks no longer there; the ad-hoc series sets that
    /// no list names (folded ones, or, with `each`, webhooks read by id)
    /// stay while `routing` still selects their Actor or task.
    pub(crate) fn sync_selected(
        &mut self,
        webhooks: &[(Webhook, Option<Details>)],
        routing: &Routing,
    ) {
        let listed: BTreeSet<&str> = webhooks.iter().map(|(w, _)| w.id.as_str()).collect();
        let keep: BTreeSet<String> = self
            .webhooks
            .iter()
            .filter(|(id, w)| {
                listed.contains(id.as_str())
                    || (w.info.is_ad_hoc == "true"
                        // Folded sets under `fold`, ad-hoc webhooks of
                        // their own under `each`: a change of mode drops
                        // the other's.
                        && routing.folds() == id.starts_with(AD_HOC_PREFIX)
                        && routing.selects_run(
                            non_empty(&w.info.actor_id),
                            non_empty(&w.info.actor_task_id),
                        ))
            })
            .map(|(id, _)| id.clone())
            .chain(listed.iter().map(|id| id.to_string()))
            .collect();
        self.webhooks.retain(|id, _| keep.contains(id));
        self.active.retain(|_, a| keep.contains(&a.webhook_id));
        self.cursors.retain(|key, _| {
            let id = key.strip_prefix(READ_BACK_PREFIX).unwrap_or(key);
            key == ACCOUNT_CURSOR || keep.contains(id)
        });
        self.read_back.retain(|id, _| keep.contains(id));
        self.handed_over.retain(|id, _| keep.contains(id));
        for (w, details) in webhooks {
            self.upsert_webhook(w, details.as_ref());
        }
    }

    /// Adds a webhook, or updates its labels, and creates its zero series.
    pub(crate) fn upsert_webhook(&mut self, w: &Webhook, details: Option<&Details>) {
        let entry = self.webhooks.entry(w.id.clone()).or_default();
        let description = match details {
            Some(d) => {
                entry.details_of = d.modified_at.clone();
                d.description.clone()
            }
            None => Some(entry.info.description.clone()),
        };
        let mut info = WebhookInfo::from_webhook(w, description.as_deref());
        // An ad-hoc webhook's condition names the run, not its Actor: keep
        // the Actor and task its dispatches told.
        if w.is_ad_hoc == Some(true) {
            info.fill_owner(&entry.info.actor_id, &entry.info.actor_task_id);
        }
        entry.info = info;
        entry.reported_dispatches = w.stats.as_ref().and_then(|s| s.total_dispatches);
        for event_type in &w.event_types {
            entry.counts.open_event_type(event_type);
        }
    }

    /// Creates, or widens to `d`'s event type, the folded series set
    /// `key` that `d` counts in.
    fn fold_into(&mut self, key: &str, d: &Dispatch) {
        let entry = self.webhooks.entry(key.to_string()).or_insert_with(|| {
            let run = &d.event_data;
            WebhookState {
                info: WebhookInfo {
                    actor_id: run.actor_id.clone().unwrap_or_default(),
                    actor_task_id: run.actor_task_id.clone().unwrap_or_default(),
                    is_ad_hoc: "true".to_string(),
                    description: AD_HOC_DESCRIPTION.to_string(),
                    ..WebhookInfo::default()
                },
                ..WebhookState::default()
            }
        });
        // Sorted, not in the order first seen: exporters that see the same
        // dispatches in another order (shards, an HA pair) show one label.
        if let Err(at) = entry.info.event_types.binary_search(&d.event_type) {
            entry.info.event_types.insert(at, d.event_type.clone());
            entry.counts.open_event_type(&d.event_type);
        }
    }

    /// True when the webhook's description must be (re)read: first seen, or
    /// changed since it was read.
    pub(crate) fn needs_details(&self, w: &Webhook) -> bool {
        match self.webhooks.get(&w.id) {
            None => true,
            Some(known) => known.details_of.is_none() || known.details_of != w.modified_at,
        }
    }

    /// Whether another cursor counts (or counted) `d`: one of a source given
    /// up, or the snapshot a read-back counts from.
    fn counted_elsewhere(&self, d: &Dispatch) -> bool {
        let by = |c: &Cursor| c.has_passed(&d.id, d.created_at);
        self.handed_over
            .get(&d.webhook_id)
            .is_some_and(|cursors| cursors.iter().any(by))
            || self.read_back.get(&d.webhook_id).is_some_and(by)
    }

    /// Takes a dispatch new to a list: counts it where `routing` says, or
    /// keeps it as an orphan until its webhook has been read.
    pub(crate) fn take_new(&mut self, d: &Dispatch, routing: &Routing) {
        if self.counted_elsewhere(d) {
            return;
        }
        match routing.route(self, d) {
            Route::Count(key) => self.count_under(d, &key),
            Route::Fold(key) => {
                if !self.active.contains_key(&d.id) {
                    self.fold_into(&key, d);
                }
                self.count_under(d, &key);
            }
            // Paging stops at MAX_ORPHANS before a page; a page can add
            // its items on top.
            Route::Unknown if self.orphans.len() < 2 * MAX_ORPHANS => self.orphans.push(d.clone()),
            Route::Unknown => {
                tracing::warn!(dispatch_id = %d.id, "too many dispatches of unknown webhooks; dropping one")
            }
            Route::Ignore => {}
        }
    }

    /// Takes a dispatch new to the read-back of webhook `id`: counts it
    /// when the account-wide list had passed it before the webhook joined
    /// (that list counts the others).
    pub(crate) fn take_read_back(&mut self, id: &str, d: &Dispatch) {
        let passed = self
            .read_back
            .get(id)
            .is_some_and(|account| account.has_passed(&d.id, d.created_at));
        if passed && d.webhook_id == id {
            self.count_under(d, id);
        }
    }

    /// Counts a dispatch seen for the first time in a list under its own
    /// webhook.
    #[cfg(test)]
    pub(crate) fn count_new(&mut self, d: &Dispatch) {
        self.count_under(d, &d.webhook_id);
    }

    /// Counts a dispatch seen for the first time in a list under the series
    /// set `key`. One of a series set not watched is ignored, and so is one
    /// already followed as ACTIVE (a list can show it again, on a shifted
    /// page or to another cursor).
    fn count_under(&mut self, d: &Dispatch, key: &str) {
        if self.active.contains_key(&d.id) {
            return;
        }
        let Some(webhook) = self.webhooks.get_mut(key) else {
            return;
        };
        webhook.saw_dispatch(d.created_at);
        if d.status.is_terminal() {
            webhook.counts.finish(&d.event_type, d.created_at, d, 0);
        } else {
            let counted = webhook
                .counts
                .count_finished_calls(&d.event_type, &d.calls, 0);
            self.active.insert(
                d.id.clone(),
                ActiveDispatch {
                    webhook_id: key.to_string(),
                    event_type: d.event_type.clone(),
                    created_at: d.created_at,
                    calls_counted: counted,
                },
            );
        }
    }

    /// Applies a re-read of an ACTIVE dispatch: `None` is a 404, which
    /// forgets the dispatch without counting it.
    pub(crate) fn update_active(&mut self, id: &str, fresh: Option<&Dispatch>) {
        let Some(active) = self.active.get_mut(id) else {
            return;
        };
        let (Some(d), Some(webhook)) = (fresh, self.webhooks.get_mut(&active.webhook_id)) else {
            self.active.remove(id);
            return;
        };
        if d.status.is_terminal() {
            webhook.counts.finish(
                &active.event_type,
                active.created_at,
                d,
                active.calls_counted,
            );
            self.active.remove(id);
        } else {
            active.calls_counted = webhook.counts.count_finished_calls(
                &active.event_type,
                &d.calls,
                active.calls_counted,
            );
        }
    }
}

/// Apify retries a delivery for about 32 hours; a dispatch still not
/// terminal three days after it was created (an unknown status that never
/// resolves, say) stops being re-read, so re-reads stay bounded.
pub(crate) const MAX_ACTIVE_AGE_MS: Millis = 72 * 3_600_000;

impl State {
    /// Forgets, uncounted, the dispatches ACTIVE for longer than
    /// [`MAX_ACTIVE_AGE_MS`]; returns how many.
    pub(crate) fn forget_stale_active(&mut self, now: Millis) -> usize {
        let before = self.active.len();
        self.active
            .retain(|_, a| now.saturating_sub(a.created_at) <= MAX_ACTIVE_AGE_MS);
        before - self.active.len()
    }
}

/// The part of a full webhook read only from `GET /v2/webhooks/:id`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Details {
    pub(crate) modified_at: Option<String>,
    pub(crate) description: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::dispatches::{Call, DispatchStatus};
    use crate::api::webhooks::Condition;
    use crate::collector::counts::{FAILED, NO_RESPONSE, SUCCEEDED};
    use crate::collector::cursor::Cursor;
    use crate::collector::test_data::{self, call};

    const W: &str = "W1";
    const RUN_OK: &str = "ACTOR.RUN.SUCCEEDED";
    const RUN_FAILED: &str = "ACTOR.RUN.FAILED";

    fn webhook(id: &str, event_types: &[&str]) -> Webhook {
        Webhook {
            id: id.to_string(),
            modified_at: Some("2026-11-01T00:00:00.000Z".into()),
            event_types: event_types.iter().map(|s| s.to_string()).collect(),
            condition: Some(Condition {
                actor_id: Some("A1".into()),
                actor_task_id: None,
            }),
            request_url: Some("https://user:pw@hooks.example.com/path?key=secret".into()),
            do_not_retry: Some(false),
            ..Webhook::default()
        }
    }

    fn state_with(ids: &[&str]) -> State {
        let mut s = State::default();
        let hooks: Vec<_> = ids
            .iter()
            .map(|id| (webhook(id, &[RUN_OK, RUN_FAILED]), None))
            .collect();
        s.sync_webhooks(&hooks);
        s
    }

    fn dispatch(
        id: &str,
        status: DispatchStatus,
        created_at: Millis,
        calls: Vec<Call>,
    ) -> Dispatch {
        test_data::dispatch(id, W, RUN_FAILED, status, created_at, calls)
    }

    fn calls(s: &State, code: &str) -> u64 {
        s.webhooks[W]
            .counts
            .calls
            .get(RUN_FAILED)
            .and_then(|m| m.get(code))
            .copied()
            .unwrap_or(0)
    }

    fn dispatches(s: &State, status: &str) -> u64 {
        s.webhooks[W].counts.dispatches[RUN_FAILED][status]
    }

    #[test]
    fn known_series_start_at_zero_and_info_hides_the_url() {
        let s = state_with(&[W]);
        let w = &s.webhooks[W];
        assert_eq!(w.counts.dispatches[RUN_OK][SUCCEEDED], 0);
        assert_eq!(w.counts.dispatches[RUN_OK][FAILED], 0);
        assert_eq!(w.counts.dispatches[RUN_FAILED][FAILED], 0);
        assert_eq!(w.info.request_host, "hooks.example.com");
        assert_eq!(w.info.actor_id, "A1");
        assert_eq!(w.info.do_not_retry, "false");
        assert_eq!(w.info.is_ad_hoc, "");
    }

    #[test]
    fn an_active_dispatch_is_counted_once_across_its_transitions() {
        let mut s = state_with(&[W]);
        let first = vec![call(1_000, Some(1_500), Some(500)), call(5_000, None, None)];
        s.count_new(&dispatch("d1", DispatchStatus::Active, 1_000, first));
        assert_eq!(calls(&s, "500"), 1);
        assert_eq!(
            calls(&s, NO_RESPONSE),
            0,
            "a call in flight is not counted yet"
        );
        assert_eq!(s.active["d1"].calls_counted, 1);

        // Re-read: the second call timed out without a status; a third is in flight.
        let second = vec![
            call(1_000, Some(1_500), Some(500)),
            call(5_000, Some(35_000), None),
            call(60_000, None, None),
        ];
        s.update_active(
            "d1",
            Some(&dispatch("d1", DispatchStatus::Active, 1_000, second)),
        );
        assert_eq!(calls(&s, "500"), 1);
        assert_eq!(calls(&s, NO_RESPONSE), 1);
        assert_eq!(s.active["d1"].calls_counted, 2);

        // Terminal: the third call ended with 200.
        let last = vec![
            call(1_000, Some(1_500), Some(500)),
            call(5_000, Some(35_000), None),
            call(60_000, Some(61_000), Some(200)),
        ];
        s.update_active(
            "d1",
            Some(&dispatch(
                "d1",
                DispatchStatus::Succeeded,
                1_000,
                last.clone(),
            )),
        );
        assert_eq!(calls(&s, "500"), 1);
        assert_eq!(calls(&s, NO_RESPONSE), 1);
        assert_eq!(calls(&s, "200"), 1);
        assert_eq!(dispatches(&s, SUCCEEDED), 1);
        assert!(s.active.is_empty());
        let w = &s.webhooks[W].counts;
        assert_eq!(w.attempts[SUCCEEDED].count(), 1);
        assert_eq!(w.attempts[SUCCEEDED].sum, 3.0);
        assert_eq!(w.delivery[SUCCEEDED].sum, 60.0);
        assert_eq!(w.call_duration["5xx"].sum, 0.5);
        assert_eq!(w.call_duration[NO_RESPONSE].sum, 30.0);
        assert_eq!(w.call_duration["2xx"].sum, 1.0);
        assert_eq!(w.last_dispatch[SUCCEEDED], 1_000);

        // A late re-read of the same id changes nothing.
        s.update_active(
            "d1",
            Some(&dispatch("d1", DispatchStatus::Succeeded, 1_000, last)),
        );
        assert_eq!(dispatches(&s, SUCCEEDED), 1);
        assert_eq!(calls(&s, "200"), 1);
    }

    #[test]
    fn of_two_failures_in_one_millisecond_the_greater_id_is_the_last_whatever_the_order() {
        for order in [["dA", "dB"], ["dB", "dA"]] {
            let mut s = state_with(&[W]);
            for id in order {
                s.count_new(&dispatch(id, DispatchStatus::Failed, 1_000, vec![]));
            }
            let last = s.webhooks[W].counts.last_failed.as_ref().unwrap();
            assert_eq!(last.dispatch_id, "dB", "counted in the order {order:?}");
        }
    }

    #[test]
    fn a_terminal_dispatch_counts_unfinished_calls_as_none_without_duration() {
        let mut s = state_with(&[W]);
        let calls_ = vec![call(1_000, Some(2_000), Some(503)), call(3_000, None, None)];
        s.count_new(&dispatch("d1", DispatchStatus::Failed, 1_000, calls_));
        assert_eq!(calls(&s, "503"), 1);
        assert_eq!(calls(&s, NO_RESPONSE), 1);
        let w = &s.webhooks[W].counts;
        assert_eq!(w.call_duration.get(NO_RESPONSE), None);
        assert_eq!(w.delivery.get(FAILED), None, "last call has no finishedAt");
        assert_eq!(w.attempts[FAILED].sum, 2.0);
    }

    #[test]
    fn a_404_on_reread_forgets_without_counting() {
        let mut s = state_with(&[W]);
        s.count_new(&dispatch("d1", DispatchStatus::Active, 1_000, vec![]));
        s.update_active("d1", None);
        assert!(s.active.is_empty());
        assert_eq!(dispatches(&s, SUCCEEDED) + dispatches(&s, FAILED), 0);
    }

    #[test]
    fn dispatches_active_for_three_days_are_forgotten() {
        let mut s = state_with(&[W]);
        s.count_new(&dispatch("old", DispatchStatus::Active, 0, vec![]));
        s.count_new(&dispatch("young", DispatchStatus::Active, 1_000, vec![]));
        assert_eq!(s.forget_stale_active(MAX_ACTIVE_AGE_MS + 500), 1);
        assert_eq!(s.active.keys().collect::<Vec<_>>(), vec!["young"]);
    }

    #[test]
    fn unknown_statuses_wait_like_active_ones() {
        let mut s = state_with(&[W]);
        s.count_new(&dispatch(
            "d1",
            DispatchStatus::Other("PAUSED".into()),
            1_000,
            vec![],
        ));
        assert!(s.active.contains_key("d1"));
    }

    #[test]
    fn deleted_webhooks_lose_every_trace() {
        let mut s = state_with(&[W, "W2"]);
        s.count_new(&dispatch("d1", DispatchStatus::Active, 1_000, vec![]));
        s.cursors.insert(W.into(), Cursor::new(0));
        s.cursors.insert("W2".into(), Cursor::new(0));
        s.sync_webhooks(&[(webhook("W2", &[RUN_OK]), None)]);
        assert_eq!(s.webhooks.keys().collect::<Vec<_>>(), vec!["W2"]);
        assert!(s.active.is_empty());
        assert_eq!(s.cursors.keys().collect::<Vec<_>>(), vec!["W2"]);
    }

    #[test]
    fn the_description_is_kept_until_changed_and_cut_to_100_chars() {
        let mut s = State::default();
        let w = webhook(W, &[RUN_OK]);
        assert!(s.needs_details(&w));
        let long = "é".repeat(150);
        let details = Details {
            modified_at: w.modified_at.clone(),
            description: Some(long),
        };
        s.sync_webhooks(&[(w.clone(), Some(details))]);
        assert_eq!(s.webhooks[W].info.description.chars().count(), 100);
        assert!(!s.needs_details(&w));
        s.sync_webhooks(&[(w.clone(), None)]);
        assert_eq!(s.webhooks[W].info.description, "é".repeat(100));
        let changed = Webhook {
            modified_at: Some("2026-11-02T00:00:00.000Z".into()),
            ..w
        };
        assert!(s.needs_details(&changed));
    }

    #[test]
    fn unlisted_ad_hoc_sets_stay_while_selected_and_go_with_a_change_of_mode() {
        use crate::config::{AdHoc, Selection};
        let mut s = state_with(&[W]);
        let mut run = dispatch("d1", DispatchStatus::Succeeded, 1_000, vec![]);
        run.webhook_id = "X1".into();
        run.event_data.actor_id = Some("A1".into());
        run.webhook = Some(crate::api::dispatches::WebhookSummary {
            is_ad_hoc: Some(true),
        });
        let fold = Routing::new(&Selection::default(), AdHoc::Fold);
        s.take_new(&run, &fold);
        assert_eq!(
            s.webhooks["ad-hoc:A1"].counts.dispatches[RUN_FAILED][SUCCEEDED],
            1
        );
        assert_eq!(
            s.webhooks["ad-hoc:A1"].counts.dispatches[RUN_FAILED][FAILED],
            0
        );
        // `each`: a webhook of its own, read by id, listed nowhere.
        let mut own = webhook("X2", &[RUN_OK]);
        own.is_ad_hoc = Some(true);
        s.upsert_webhook(&own, None);
        let listed = [(webhook(W, &[RUN_OK]), None)];
        s.sync_selected(&listed, &fold);
        assert_eq!(
            s.webhooks.keys().collect::<Vec<_>>(),
            vec!["W1", "ad-hoc:A1"]
        );
        // Another selection drops the folded set of an Actor it leaves out.
        let other = Selection {
            actor_ids: vec!["A2".into()],
            ..Selection::default()
        };
        s.sync_selected(&listed, &Routing::new(&other, AdHoc::Fold));
        assert_eq!(s.webhooks.keys().collect::<Vec<_>>(), vec!["W1"]);
        s.upsert_webhook(&own, None);
        let each = Routing::new(&Selection::default(), AdHoc::Each);
        s.sync_selected(&listed, &each);
        assert_eq!(s.webhooks.keys().collect::<Vec<_>>(), vec!["W1", "X2"]);
    }

    #[test]
    fn state_round_trips_through_json() {
        let mut s = state_with(&[W]);
        s.count_new(&dispatch("d1", DispatchStatus::Active, 1_000, vec![]));
        s.cursors.insert(ACCOUNT_CURSOR.into(), Cursor::new(5));
        let json = serde_json::to_string(&s).unwrap();
        let back: State = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
    }
}
