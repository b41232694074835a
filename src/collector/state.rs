//! The collector's state: one serialisable value holding everything that
//! must survive between refreshes (and, later, restarts): per-webhook
//! aggregates, the paging cursors (watermarks) and the ACTIVE dispatches.
//!
//! Everything here is pure: feed it API values, look at the numbers. Memory
//! is bounded by webhooks × label values + ACTIVE ids, never by history.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::api::decode::Millis;
use crate::api::dispatches::{Call, Dispatch, DispatchStatus};
use crate::api::webhooks::Webhook;

/// Buckets of `apify_webhook_dispatch_call_duration_seconds`.
pub const CALL_DURATION_BUCKETS: &[f64] = &[0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];
/// Buckets of `apify_webhook_dispatch_attempts` (the design's).
pub const ATTEMPTS_BUCKETS: &[f64] = &[1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0];
/// Buckets of `apify_webhook_dispatch_delivery_seconds`: from a second to
/// the ~32 hours Apify keeps retrying.
pub const DELIVERY_BUCKETS: &[f64] = &[
    1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 10800.0, 43200.0, 86400.0, 172800.0,
];

pub const SUCCEEDED: &str = "SUCCEEDED";
pub const FAILED: &str = "FAILED";
/// `response_status` / `response_class` of a call that got no answer.
pub const NO_RESPONSE: &str = "none";

/// The key of the account-wide cursor (per-webhook cursors use the id).
pub const ACCOUNT_CURSOR: &str = "*";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// The Apify user whose webhooks these are (from `userId`), so that a
    /// state file is not applied to another account's data.
    #[serde(default)]
    pub user_id: Option<String>,
    pub webhooks: BTreeMap<String, WebhookState>,
    pub cursors: BTreeMap<String, Cursor>,
    pub active: BTreeMap<String, ActiveDispatch>,
    /// New dispatches of webhooks the webhook list did not have (created
    /// during the refresh), waiting for their webhook to be read. Kept
    /// here, not in the refresh, so that a refresh cut short keeps them.
    #[serde(skip)]
    pub orphans: Vec<Dispatch>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WebhookState {
    pub info: WebhookInfo,
    /// The `modifiedAt` for which the full webhook (description) was read.
    pub details_of: Option<String>,
    /// Apify's own `stats.totalDispatches`.
    pub reported_dispatches: Option<u64>,
    pub counts: Counts,
}

/// The labels of `apify_webhook_info`, already reduced to what may be shown.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WebhookInfo {
    pub actor_id: String,
    pub actor_task_id: String,
    pub event_types: Vec<String>,
    pub request_host: String,
    pub is_ad_hoc: String,
    pub do_not_retry: String,
    pub ignore_ssl_errors: String,
    pub description: String,
}

/// Longest description exported, in Unicode scalar values.
const DESCRIPTION_CHARS: usize = 100;

impl WebhookInfo {
    pub fn from_webhook(w: &Webhook, description: Option<&str>) -> Self {
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

/// The aggregates of one webhook, keyed by label values.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    /// event_type -> status -> dispatches that reached that terminal status.
    pub dispatches: BTreeMap<String, BTreeMap<String, u64>>,
    /// event_type -> response_status -> calls.
    pub calls: BTreeMap<String, BTreeMap<String, u64>>,
    /// response_class -> call durations.
    pub call_duration: BTreeMap<String, Histogram>,
    /// status -> calls per terminal dispatch.
    pub attempts: BTreeMap<String, Histogram>,
    /// status -> createdAt to last call's finishedAt.
    pub delivery: BTreeMap<String, Histogram>,
    /// status -> newest createdAt of a dispatch that ended with it.
    pub last_dispatch: BTreeMap<String, Millis>,
}

/// A histogram's raw numbers: per-bucket (not cumulative) counts, the last
/// one for +Inf, and the sum. The bounds are the constants above.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    pub buckets: Vec<u64>,
    pub sum: f64,
}

impl Histogram {
    pub fn observe(&mut self, bounds: &[f64], value: f64) {
        if self.buckets.len() != bounds.len() + 1 {
            self.buckets = vec![0; bounds.len() + 1];
        }
        let at = bounds
            .iter()
            .position(|b| value <= *b)
            .unwrap_or(bounds.len());
        self.buckets[at] = self.buckets[at].saturating_add(1);
        self.sum += value;
    }

    pub fn count(&self) -> u64 {
        self.buckets
            .iter()
            .fold(0u64, |sum, n| sum.saturating_add(*n))
    }
}

/// A dispatch seen ACTIVE, re-read until it is terminal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActiveDispatch {
    pub webhook_id: String,
    /// As first seen, so that every count of this dispatch shares it.
    pub event_type: String,
    pub created_at: Millis,
    /// Calls (a prefix of `calls`) already counted.
    pub calls_counted: usize,
}

/// Where a dispatch list was read up to.
///
/// Memory is constant in the number of dispatches read: a pass is described
/// by the span it covered (newest and oldest `createdAt`, with the ids at
/// those two instants), never by the set of ids it saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cursor {
    /// Dispatches created before this are never fetched: the lookback
    /// boundary of the first pass.
    pub floor: Millis,
    /// The newest `createdAt` of the last complete pass, with the ids
    /// created at exactly that instant (several can share a millisecond).
    pub watermark: Option<Watermark>,
    /// Spans counted by passes that did not complete: the next pass reads
    /// the same range again and must not count them twice.
    #[serde(default)]
    pub partial: Vec<Span>,
    /// The pass under way, updated in the same step that counts each page,
    /// so that a pass dropped half-way (a cancelled scrape, a shutdown)
    /// still leaves an exact record of what it counted.
    #[serde(default)]
    pub current: Option<Span>,
}

/// An instant and the ids created at it that were seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Watermark {
    pub at: Millis,
    pub ids: BTreeSet<String>,
}

/// Every dispatch created strictly between `low.at` and `top.at`, plus the
/// ids listed at the two ends: what one pass over a newest-first list saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Span {
    pub top: Watermark,
    pub low: Watermark,
}

impl Span {
    fn at(id: &str, at: Millis) -> Span {
        let point = Watermark {
            at,
            ids: BTreeSet::from([id.to_string()]),
        };
        Span {
            top: point.clone(),
            low: point,
        }
    }

    fn contains(&self, id: &str, at: Millis) -> bool {
        (at < self.top.at && at > self.low.at)
            || (at == self.top.at && self.top.ids.contains(id))
            || (at == self.low.at && self.low.ids.contains(id))
    }

    /// Grows the span by an item of the list.
    fn extend(&mut self, id: &str, at: Millis) {
        for (end, newer) in [(&mut self.top, true), (&mut self.low, false)] {
            if at == end.at {
                end.ids.insert(id.to_string());
            } else if (at > end.at) == newer {
                *end = Watermark {
                    at,
                    ids: BTreeSet::from([id.to_string()]),
                };
            }
        }
    }

    /// Widens this span to cover `other` too, whatever lies between.
    fn extend_to(&mut self, other: &Span) {
        if other.top.at > self.top.at {
            self.top = other.top.clone();
        }
        if other.low.at < self.low.at {
            self.low = other.low.clone();
        }
    }

    /// Joins two spans that overlap (strictly, so that no instant at an end
    /// is assumed fully covered).
    fn merge(&mut self, other: &Span) -> bool {
        if !(self.low.at < other.top.at && other.low.at < self.top.at) {
            return false;
        }
        for (mine, theirs, newer) in [
            (&mut self.top, &other.top, true),
            (&mut self.low, &other.low, false),
        ] {
            if theirs.at == mine.at {
                mine.ids.extend(theirs.ids.iter().cloned());
            } else if (theirs.at > mine.at) == newer {
                *mine = theirs.clone();
            }
        }
        true
    }
}

/// Unfinished passes remembered per cursor before they are folded.
const MAX_PARTIAL_SPANS: usize = 32;

/// What to do with one listed dispatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Older than the watermark (or the lookback): this and every later item
    /// of the newest-first list were handled before.
    Stop,
    /// Already counted.
    Skip,
    /// New: count it.
    New,
}

impl Cursor {
    pub fn new(floor: Millis) -> Self {
        Cursor {
            floor,
            watermark: None,
            partial: Vec::new(),
            current: None,
        }
    }

    /// Starts a pass; one left unfinished is kept as a partial span.
    pub fn begin(&mut self) {
        self.abandon();
    }

    /// `desc=true` first page size: small once there is a watermark,
    /// because an idle refresh reads only a handful of items.
    pub fn first_page_limit(&self) -> usize {
        if self.watermark.is_some() {
            100
        } else {
            crate::api::MAX_PAGE_LIMIT
        }
    }

    pub fn admit(&mut self, id: &str, created_at: Millis) -> Admit {
        let stop_below = self.watermark.as_ref().map_or(self.floor, |w| w.at);
        if created_at < stop_below {
            return Admit::Stop;
        }
        // A dispatch created after this pass began shows up on a later page
        // (new ones push the list down): above the pass's newest. It is
        // left for the next pass, which starts above it; it must not raise
        // this pass's top, or the watermark would pass it uncounted.
        let arrived_since = self.current.as_ref().is_some_and(|s| {
            created_at > s.top.at
                || (created_at == s.top.at && s.top.at > s.low.at && !s.top.ids.contains(id))
        });
        if arrived_since {
            return Admit::Skip;
        }
        // New dispatches arriving while paging push the list down, so a
        // later page repeats items already read: newer than the oldest
        // seen, or at its instant with a known id.
        let repeated = self.current.as_ref().is_some_and(|s| {
            created_at > s.low.at || (created_at == s.low.at && s.low.ids.contains(id))
        });
        match &mut self.current {
            Some(span) => span.extend(id, created_at),
            None => self.current = Some(Span::at(id, created_at)),
        }
        let at_watermark = self
            .watermark
            .as_ref()
            .is_some_and(|w| w.at == created_at && w.ids.contains(id));
        let counted_before = self.partial.iter().any(|s| s.contains(id, created_at));
        if repeated || at_watermark || counted_before {
            return Admit::Skip;
        }
        Admit::New
    }

    /// The pass read down to the watermark: move the watermark up to the
    /// newest item seen; every partial span is now below it.
    pub fn complete(&mut self) {
        if let Some(span) = self.current.take() {
            let top = span.top;
            match &mut self.watermark {
                Some(w) if w.at == top.at => w.ids.extend(top.ids),
                Some(w) if w.at > top.at => {}
                _ => self.watermark = Some(top),
            }
        }
        self.partial.clear();
    }

    /// The pass stopped on an error: remember what it counted.
    pub fn abandon(&mut self) {
        let Some(mut span) = self.current.take() else {
            return;
        };
        // Growing, the span may come to overlap spans it did not at first.
        loop {
            let before = self.partial.len();
            self.partial.retain(|old| !span.merge(old));
            if self.partial.len() == before {
                break;
            }
        }
        self.partial.push(span);
        if self.partial.len() > MAX_PARTIAL_SPANS {
            // Failing passes that never overlap (a busy list failing at the
            // same page every time): fold them into one span. Dispatches in
            // the gaps are then not counted: a bounded undercount rather
            // than unbounded memory.
            tracing::warn!(
                spans = self.partial.len(),
                "folding unfinished passes into one"
            );
            let mut all = std::mem::take(&mut self.partial).into_iter();
            if let Some(mut folded) = all.next() {
                for s in all {
                    folded.extend_to(&s);
                }
                self.partial.push(folded);
            }
        }
    }

    /// The newest instant this cursor has counted up to, finished or not.
    pub fn counted_up_to(&self) -> Option<Millis> {
        let tops = self
            .partial
            .iter()
            .chain(self.current.iter())
            .map(|s| s.top.at);
        tops.chain(self.watermark.iter().map(|w| w.at)).max()
    }
}

impl State {
    /// Makes the watched set exactly `webhooks`: adds the new ones, updates
    /// labels, creates their zero series, and drops every trace of webhooks
    /// no longer there (deleted upstream, or no longer selected).
    pub fn sync_webhooks(&mut self, webhooks: &[(Webhook, Option<Details>)]) {
        let keep: BTreeSet<&str> = webhooks.iter().map(|(w, _)| w.id.as_str()).collect();
        self.webhooks.retain(|id, _| keep.contains(id.as_str()));
        self.active
            .retain(|_, a| keep.contains(a.webhook_id.as_str()));
        self.cursors
            .retain(|key, _| key == ACCOUNT_CURSOR || keep.contains(key.as_str()));
        for (w, details) in webhooks {
            self.upsert_webhook(w, details.as_ref());
        }
    }

    /// Adds a webhook, or updates its labels, and creates its zero series.
    pub fn upsert_webhook(&mut self, w: &Webhook, details: Option<&Details>) {
        let entry = self.webhooks.entry(w.id.clone()).or_default();
        let description = match details {
            Some(d) => {
                entry.details_of = d.modified_at.clone();
                d.description.clone()
            }
            None => Some(entry.info.description.clone()),
        };
        entry.info = WebhookInfo::from_webhook(w, description.as_deref());
        entry.reported_dispatches = w.stats.as_ref().and_then(|s| s.total_dispatches);
        for event_type in &w.event_types {
            let by_status = entry
                .counts
                .dispatches
                .entry(event_type.clone())
                .or_default();
            by_status.entry(SUCCEEDED.to_string()).or_insert(0);
            by_status.entry(FAILED.to_string()).or_insert(0);
        }
    }

    /// True when the dispatch belongs to a watched webhook.
    pub fn watches(&self, d: &Dispatch) -> bool {
        self.webhooks.contains_key(&d.webhook_id)
    }

    /// True when the webhook's description must be (re)read: first seen, or
    /// changed since it was read.
    pub fn needs_details(&self, w: &Webhook) -> bool {
        match self.webhooks.get(&w.id) {
            None => true,
            Some(known) => known.details_of.is_none() || known.details_of != w.modified_at,
        }
    }

    /// Counts a dispatch seen for the first time in a list. Dispatches of
    /// webhooks that are not watched are ignored.
    pub fn count_new(&mut self, d: &Dispatch) {
        let Some(webhook) = self.webhooks.get_mut(&d.webhook_id) else {
            return;
        };
        if d.status.is_terminal() {
            webhook
                .counts
                .finish(&d.event_type, d.created_at, &d.status, &d.calls, 0);
        } else {
            let counted = webhook
                .counts
                .count_finished_calls(&d.event_type, &d.calls, 0);
            self.active.insert(
                d.id.clone(),
                ActiveDispatch {
                    webhook_id: d.webhook_id.clone(),
                    event_type: d.event_type.clone(),
                    created_at: d.created_at,
                    calls_counted: counted,
                },
            );
        }
    }

    /// Applies a re-read of an ACTIVE dispatch: `None` is a 404, which
    /// forgets the dispatch without counting it.
    pub fn update_active(&mut self, id: &str, fresh: Option<&Dispatch>) {
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
                &d.status,
                &d.calls,
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
pub const MAX_ACTIVE_AGE_MS: Millis = 72 * 3_600_000;

impl State {
    /// Forgets, uncounted, the dispatches ACTIVE for longer than
    /// [`MAX_ACTIVE_AGE_MS`]; returns how many.
    pub fn forget_stale_active(&mut self, now: Millis) -> usize {
        let before = self.active.len();
        self.active
            .retain(|_, a| now.saturating_sub(a.created_at) <= MAX_ACTIVE_AGE_MS);
        before - self.active.len()
    }
}

/// The part of a full webhook read only from `GET /v2/webhooks/:id`.
#[derive(Debug, Clone, PartialEq)]
pub struct Details {
    pub modified_at: Option<String>,
    pub description: Option<String>,
}

impl Counts {
    /// Counts the calls from index `from` that have finished, stopping at
    /// the first still in flight. Returns the new number counted.
    fn count_finished_calls(&mut self, event_type: &str, calls: &[Call], from: usize) -> usize {
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

    /// Counts a dispatch that reached a terminal status, and every call of
    /// it not yet counted, finished or not.
    fn finish(
        &mut self,
        event_type: &str,
        created_at: Millis,
        status: &DispatchStatus,
        calls: &[Call],
        calls_counted: usize,
    ) {
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
        let (status, class) = match call.response_status {
            Some(code) => (code.to_string(), format!("{}xx", code / 100)),
            None => (NO_RESPONSE.to_string(), NO_RESPONSE.to_string()),
        };
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
    use crate::api::webhooks::Condition;

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

    fn call(start: Millis, end: Option<Millis>, status: Option<u16>) -> Call {
        Call {
            started_at: Some(start),
            finished_at: end,
            response_status: status,
        }
    }

    fn dispatch(
        id: &str,
        status: DispatchStatus,
        created_at: Millis,
        calls: Vec<Call>,
    ) -> Dispatch {
        Dispatch {
            id: id.to_string(),
            webhook_id: W.to_string(),
            created_at,
            status,
            event_type: RUN_FAILED.to_string(),
            calls,
        }
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

    /// Reads a newest-first list the way the collector does.
    fn pass_over(cursor: &mut Cursor, items: &[(&str, Millis)]) -> Vec<String> {
        cursor.begin();
        let mut new = Vec::new();
        for (id, at) in items {
            match cursor.admit(id, *at) {
                Admit::Stop => break,
                Admit::Skip => {}
                Admit::New => new.push(id.to_string()),
            }
        }
        cursor.complete();
        new
    }

    #[test]
    fn the_watermark_stops_paging_and_handles_shared_milliseconds() {
        let mut c = Cursor::new(100);
        // The floor (lookback) excludes `old`.
        let new = pass_over(&mut c, &[("c", 300), ("b", 300), ("a", 200), ("old", 50)]);
        assert_eq!(new, vec!["c", "b", "a"]);
        assert_eq!(c.watermark.as_ref().map(|w| w.at), Some(300));
        // Idle: nothing new, the first item already stops... after the ids at 300.
        assert!(pass_over(&mut c, &[("c", 300), ("b", 300), ("a", 200)]).is_empty());
        assert_eq!(c.watermark.as_ref().map(|w| w.ids.len()), Some(2));
        // A late arrival in the same millisecond as the watermark is new.
        let new = pass_over(
            &mut c,
            &[("e", 400), ("d", 300), ("c", 300), ("b", 300), ("a", 200)],
        );
        assert_eq!(new, vec!["e", "d"]);
        assert_eq!(c.first_page_limit(), 100);
    }

    #[test]
    fn shifted_pages_repeat_items_but_count_them_once() {
        let mut c = Cursor::new(0);
        c.begin();
        // Page 1, then two new dispatches arrive and page 2 repeats "b", "a".
        let page1 = [("d", 40), ("c", 30), ("b", 20)];
        let page2 = [("b", 20), ("a", 10)];
        let mut new = Vec::new();
        for (id, at) in page1.iter().chain(page2.iter()) {
            if c.admit(id, *at) == Admit::New {
                new.push(*id);
            }
        }
        assert_eq!(new, vec!["d", "c", "b", "a"]);
    }

    #[test]
    fn an_interrupted_pass_keeps_its_span_and_the_old_watermark() {
        let mut c = Cursor::new(0);
        pass_over(&mut c, &[("a", 10)]);
        // The pass reads "c" then is dropped before reaching the watermark;
        // the next pass's begin() keeps what it counted.
        c.begin();
        assert_eq!(c.admit("c", 30), Admit::New);
        assert_eq!(c.watermark.as_ref().map(|w| w.at), Some(10));
        // The next pass sees "c" again: skipped; "b" is new.
        let new = pass_over(&mut c, &[("d", 40), ("c", 30), ("b", 20), ("a", 10)]);
        assert_eq!(new, vec!["d", "b"]);
        assert!(c.partial.is_empty());
        assert_eq!(c.watermark.as_ref().map(|w| w.at), Some(40));
    }

    #[test]
    fn disjoint_interrupted_passes_are_both_remembered() {
        let mut c = Cursor::new(0);
        pass_over(&mut c, &[("a", 10)]);
        c.begin();
        for (id, at) in [("f", 60), ("e", 50)] {
            assert_eq!(c.admit(id, at), Admit::New);
        }
        c.abandon();
        c.begin();
        for (id, at) in [("h", 80), ("g", 70)] {
            assert_eq!(c.admit(id, at), Admit::New);
        }
        c.abandon();
        assert_eq!(c.partial.len(), 2);
        // A third failed pass covering both merges them into one.
        c.begin();
        for (id, at) in [
            ("i", 90),
            ("h", 80),
            ("g", 70),
            ("f", 60),
            ("e", 50),
            ("d", 40),
        ] {
            c.admit(id, at);
        }
        c.abandon();
        assert_eq!(c.partial.len(), 1);
        let new = pass_over(
            &mut c,
            &[
                ("i", 90),
                ("h", 80),
                ("e", 50),
                ("d", 40),
                ("c", 30),
                ("a", 10),
            ],
        );
        assert_eq!(new, vec!["c"]);
    }

    #[test]
    fn dispatches_arriving_during_a_pass_are_left_to_the_next() {
        let mut c = Cursor::new(0);
        pass_over(&mut c, &[("a", 10)]);
        // Page 1 reads "c", "b"; then "e" and "d" arrive, and a later page
        // (of a list shifted by them) shows them again below "b".
        c.begin();
        assert_eq!(c.admit("c", 30), Admit::New);
        assert_eq!(c.admit("b", 20), Admit::New);
        assert_eq!(c.admit("e", 50), Admit::Skip, "arrived during the pass");
        assert_eq!(c.admit("d", 40), Admit::Skip, "arrived during the pass");
        assert_eq!(c.admit("c", 30), Admit::Skip, "repeated");
        assert_eq!(c.admit("a", 10), Admit::Skip, "at the watermark");
        assert_eq!(c.admit("z", 5), Admit::Stop);
        c.complete();
        assert_eq!(c.watermark.as_ref().map(|w| w.at), Some(30));
        // The next pass counts them.
        let new = pass_over(&mut c, &[("e", 50), ("d", 40), ("c", 30), ("b", 20)]);
        assert_eq!(new, vec!["e", "d"]);
    }

    #[test]
    fn a_run_of_one_millisecond_across_pages_is_counted_in_one_pass() {
        let mut c = Cursor::new(0);
        let new = pass_over(
            &mut c,
            &[("x1", 70), ("x2", 70), ("x3", 70), ("x4", 70), ("w", 60)],
        );
        assert_eq!(new, vec!["x1", "x2", "x3", "x4", "w"]);
        // Arriving at the top's instant once the pass went below it: next pass.
        c.begin();
        assert_eq!(c.admit("y1", 80), Admit::New);
        assert_eq!(c.admit("y0", 75), Admit::New);
        assert_eq!(c.admit("y2", 80), Admit::Skip);
        c.complete();
        assert_eq!(
            pass_over(&mut c, &[("y2", 80), ("y1", 80), ("y0", 75)]),
            vec!["y2"]
        );
    }

    #[test]
    fn too_many_unfinished_passes_are_folded() {
        let mut c = Cursor::new(0);
        for i in 0..40 {
            c.begin();
            c.admit(&format!("n{i}"), 1000 + i * 10);
            c.abandon();
        }
        assert!(c.partial.len() <= MAX_PARTIAL_SPANS);
        assert_eq!(c.counted_up_to(), Some(1390));
    }

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
    fn state_round_trips_through_json() {
        let mut s = state_with(&[W]);
        s.count_new(&dispatch("d1", DispatchStatus::Active, 1_000, vec![]));
        s.cursors.insert(ACCOUNT_CURSOR.into(), Cursor::new(5));
        let json = serde_json::to_string(&s).unwrap();
        let back: State = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
    }
}
