//! The refresh cycle: decides what to fetch, and counts each dispatch and
//! each call exactly once into [`State`].
//!
//! A refresh reads, in order: the watched webhooks (and the full webhook
//! when one is new or changed) when the metadata period has come round,
//! the account-wide dispatch list (or, when it is refused, each watched
//! webhook's) newest-first down to its watermark, the webhooks that new
//! dispatches name and no list did, then every dispatch still ACTIVE by id,
//! then the names of the Actors and tasks (all of them with the metadata,
//! new ones at once). A failing step
//! is recorded and the rest goes on where that is safe; nothing counted is
//! ever taken back, and nothing is counted twice.

pub(crate) mod counts;
pub(crate) mod cursor;
mod names;
mod paging;
pub(crate) mod persist;
pub(crate) mod reconcile;
pub(crate) mod route;
pub(crate) mod skipped;
pub(crate) mod state;
#[cfg(test)]
pub(crate) mod test_data;

use std::collections::BTreeSet;
use std::time::Duration;

use futures::stream::{self, StreamExt};

use crate::api::decode::{item_key, Millis};
use crate::api::dispatches::DispatchList;
use crate::api::webhooks::{Webhook, WebhookList, WebhookListing};
use crate::api::{ApiError, Client, Owner, Undecodable};
use crate::clock::Clock;
use crate::config::{AdHoc, Config, Selection};
use cursor::Cursor;
use names::Names;
use route::Routing;
use skipped::Skip;
use state::{Details, State, ACCOUNT_CURSOR, READ_BACK_PREFIX};

/// Why an API item was left out of counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum SkipReason {
    /// It could not be decoded even leniently.
    Undecodable,
    /// Its `createdAt` is too far in the future to be believed.
    FutureTimestamp,
}

impl SkipReason {
    /// Every reason, so that each series exists from the start.
    pub(crate) const ALL: [SkipReason; 2] = [SkipReason::Undecodable, SkipReason::FutureTimestamp];

    /// The `reason` label value.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SkipReason::Undecodable => "undecodable",
            SkipReason::FutureTimestamp => "future_timestamp",
        }
    }
}

/// Handed-over cursors kept per webhook: one per change of source not
/// yet passed by the current one.
const MAX_HANDED_OVER: usize = 4;

/// What one refresh did.
#[derive(Debug, Default)]
pub(crate) struct RefreshReport {
    /// Every error met; empty means the refresh fully succeeded.
    pub(crate) errors: Vec<ApiError>,
    /// Items newly left out of counting, one entry per item.
    pub(crate) skipped: Vec<SkipReason>,
}

impl RefreshReport {
    pub(crate) fn succeeded(&self) -> bool {
        self.errors.is_empty()
    }
}

pub(crate) struct Collector {
    client: std::sync::Arc<Client>,
    selection: Selection,
    ad_hoc: AdHoc,
    lookback: Duration,
    concurrency: usize,
    clock: std::sync::Arc<dyn Clock>,
    state: State,
    /// The selection as dispatches are matched against it; refined at each
    /// metadata read.
    routing: Routing,
    metadata_interval: Duration,
    /// When metadata was last read in full (never, at start: the first
    /// refresh reads it).
    metadata_read_at: Option<Millis>,
    /// Actor and task names, read on the metadata period.
    names: Names,
}

/// What one metadata read found: the webhooks to watch, and those listed
/// by each Actor and task selected (to learn the ids of names).
struct Listing {
    webhooks: Vec<(Webhook, bool)>,
    by_actor: Vec<Webhook>,
    by_task: Vec<Webhook>,
}

impl Collector {
    /// A collector reading what `config` selects, from `state` on.
    pub(crate) fn new(
        client: std::sync::Arc<Client>,
        config: &Config,
        clock: std::sync::Arc<dyn Clock>,
        state: State,
    ) -> Self {
        Collector {
            client,
            selection: config.selection.clone(),
            ad_hoc: config.ad_hoc,
            lookback: config.lookback,
            concurrency: config.concurrency.max(1),
            clock,
            state,
            routing: Routing::new(&config.selection, config.ad_hoc),
            metadata_interval: config.metadata_interval,
            metadata_read_at: None,
            names: Names::default(),
        }
    }

    pub(crate) fn state(&self) -> &State {
        &self.state
    }

    pub(crate) async fn refresh(&mut self) -> RefreshReport {
        let mut report = RefreshReport::default();
        let now = self.clock.now_millis();

        let mut skips: Vec<Skip> = Vec::new();
        let known_before: BTreeSet<String> = self.state.webhooks.keys().cloned().collect();
        let period = i64::try_from(self.metadata_interval.as_millis()).unwrap_or(i64::MAX);
        let metadata_due = self
            .metadata_read_at
            .is_none_or(|at| now.saturating_sub(at) >= period);
        let mut read_metadata = false;
        // The owners read by name in the metadata read: not read again by id.
        let mut read_by_name = BTreeSet::new();
        if metadata_due {
            match self
                .read_metadata(now, &known_before, &mut skips, &mut report.errors)
                .await
            {
                Ok(by_name) => {
                    read_metadata = true;
                    read_by_name = by_name;
                }
                // Without a webhook set read once, nothing can be updated
                // safely; with one, counting goes on and the metadata is
                // read again next refresh.
                Err(e) if self.metadata_read_at.is_none() => {
                    report.errors.push(e);
                    self.report_skipped(skips, &mut report);
                    return report;
                }
                Err(e) => report.errors.push(e),
            }
        }

        let known_active: BTreeSet<String> = self.state.active.keys().cloned().collect();
        let (errors, left_out) = self.read_dispatch_lists(&known_before, now).await;
        report.errors.extend(errors);
        skips.extend(left_out);
        self.adopt_orphans(&mut report.errors).await;
        let forgotten = self.state.forget_stale_active(now);
        if forgotten > 0 {
            tracing::warn!(
                forgotten,
                "stopped following dispatches ACTIVE for more than 72 hours"
            );
        }
        self.reread_active(&known_active, &mut report.errors, &mut skips)
            .await;
        self.names
            .refresh(
                &self.client,
                self.concurrency,
                &mut self.state,
                read_metadata,
                read_by_name,
            )
            .await;
        self.report_skipped(skips, &mut report);
        // Apify's counts are as fresh as the last metadata read: compared
        // only after the lists that followed it, and only after a refresh
        // without any error (a list whose first page failed leaves no
        // unfinished span behind, yet has not seen what Apify already
        // counts, and would raise the gauge for nothing).
        if read_metadata && report.errors.is_empty() && self.state.lists_complete() {
            self.state.reconcile();
        }
        report
    }

    /// Reads what the selection names, the full webhook where needed, and
    /// syncs the watched set (`known_before`: the webhooks watched until
    /// now); the period starts again. Returns the Actors and tasks read by
    /// name on the way.
    async fn read_metadata(
        &mut self,
        now: Millis,
        known_before: &BTreeSet<String>,
        skips: &mut Vec<Skip>,
        errors: &mut Vec<ApiError>,
    ) -> Result<BTreeSet<Owner>, ApiError> {
        let listing = self.resolve_webhooks(skips).await?;
        self.probe_account_list().await;
        self.check_owner(&listing.webhooks);
        let mut routing = Routing::new(&self.selection, self.ad_hoc);
        routing.learn_ids(&listing.by_actor, &listing.by_task);
        let read_by_name = self
            .names
            .resolve_selected(&self.client, self.concurrency, &self.selection)
            .await;
        for (owner, id) in self.names.selected_ids() {
            routing.learn_id(owner, id.clone());
        }
        self.routing = routing;
        // Folded, an ad-hoc webhook is no series set of its own and needs
        // no read: its dispatches go to their task's or Actor's.
        let mut webhooks = listing.webhooks;
        if self.routing.folds() {
            let state = &mut self.state;
            webhooks.retain(|(w, _)| {
                let ad_hoc = w.is_ad_hoc == Some(true);
                if ad_hoc {
                    state.ad_hoc_webhooks.remember(&w.id);
                }
                !ad_hoc
            });
        }
        let webhooks = self.with_details(webhooks, errors).await;
        self.state.sync_selected(&webhooks, &self.routing);
        self.start_read_backs(known_before, now);
        self.state.ignored_webhooks.clear();
        self.state.take_baselines(now);
        // A description that failed is read again at the next period (the
        // refresh reports the error): one webhook's failing read must not
        // make every refresh re-read all the metadata.
        self.metadata_read_at = Some(now);
        Ok(read_by_name)
    }

    /// While the account-wide list is refused, asks for one item of it at
    /// each metadata read: readable again (the token's scope widened), it
    /// serves every selection again, starting where the per-webhook lists
    /// stopped. Any other failure is left to the next period.
    async fn probe_account_list(&mut self) {
        if !self.state.account_list_refused {
            return;
        }
        match self
            .client
            .dispatch_page(&DispatchList::Account, 0, 1)
            .await
        {
            Ok(_) => {
                tracing::info!(
                    "the account-wide dispatch list is readable again: one request per idle refresh from now on"
                );
                self.state.account_list_refused = false;
            }
            Err(e) => {
                tracing::debug!(error = %e, "the account-wide dispatch list is still not readable")
            }
        }
    }

    /// A webhook newly selected (a selection widened across a restart) had
    /// its dispatches passed over by the account-wide list while it was not
    /// watched: its own list is read back once, the lookback from now,
    /// counting what that list had passed (it counts the rest). Not needed
    /// at a first start (the first pass reads the lookback for all), for
    /// the whole account (nothing was passed over) or with per-webhook
    /// lists (a new webhook's list starts at the lookback).
    fn start_read_backs(&mut self, known: &BTreeSet<String>, now: Millis) {
        if self.selection.is_everything() || self.state.account_list_refused {
            return;
        }
        let Some(mut account) = self.state.cursors.get(ACCOUNT_CURSOR).cloned() else {
            return;
        };
        if account.watermark.is_none() && account.partial.is_empty() {
            return;
        }
        // A pass cut short counted its span: it was passed too.
        account.abandon();
        let floor = self.lookback_floor(now);
        let new: Vec<String> = self
            .state
            .webhooks
            .keys()
            .filter(|id| !known.contains(*id) && !id.starts_with(route::AD_HOC_PREFIX))
            .cloned()
            .collect();
        // Its dispatches waiting for its read by id came from the account
        // list, which passed them: the read-back counts them.
        self.state.orphans.retain(|d| !new.contains(&d.webhook_id));
        for id in new {
            tracing::info!(webhook_id = %id, "newly selected: reading its dispatches back once");
            self.state.read_back.insert(id.clone(), account.clone());
            self.state
                .cursors
                .insert(format!("{READ_BACK_PREFIX}{id}"), Cursor::new(floor));
        }
    }

    /// Pages the dispatch source down to its watermarks. The account-wide
    /// list serves every selection; refused (403), it gives way to each
    /// watched webhook's own list, read at once and from then on (the state
    /// file keeps the choice).
    async fn read_dispatch_lists(
        &mut self,
        known_before: &BTreeSet<String>,
        now: Millis,
    ) -> (Vec<ApiError>, Vec<Skip>) {
        let (mut errors, mut skips) = self.read_source(known_before, now).await;
        let refused = |e: &ApiError| {
            matches!(e, ApiError::Status { status: 403, endpoint, .. }
                if *endpoint == DispatchList::Account.endpoint())
        };
        if self.state.account_list_refused || !errors.iter().any(refused) {
            self.prune_handed_over();
            return (errors, skips);
        }
        tracing::warn!(
            "the account-wide dispatch list was refused (403); reading each watched webhook's own list instead, one request per webhook per refresh"
        );
        self.state.account_list_refused = true;
        errors.retain(|e| !refused(e));
        let (more_errors, more_skips) = self.read_source(known_before, now).await;
        errors.extend(more_errors);
        skips.extend(more_skips);
        self.prune_handed_over();
        (errors, skips)
    }

    /// The oldest instant a new list reads back to.
    fn lookback_floor(&self, now: Millis) -> Millis {
        now.saturating_sub(i64::try_from(self.lookback.as_millis()).unwrap_or(i64::MAX))
    }

    /// One pass over each list of the current source.
    async fn read_source(
        &mut self,
        known_before: &BTreeSet<String>,
        now: Millis,
    ) -> (Vec<ApiError>, Vec<Skip>) {
        let lists = self.dispatch_lists(known_before, now);
        paging::read_lists(
            &self.client,
            &mut self.state,
            lists,
            &self.routing,
            self.concurrency,
            &*self.clock,
        )
        .await
    }

    /// Reports each item left out the first time only (a list shows it
    /// again on every refresh while it sits on a first page), with a
    /// warning naming it.
    fn report_skipped(&mut self, skips: Vec<Skip>, report: &mut RefreshReport) {
        for skip in skips {
            if self.state.skipped.remember(&skip.key) {
                tracing::warn!(
                    id = %skip.key,
                    reason = skip.reason.as_str(),
                    detail = %skip.detail,
                    "item left out of counting"
                );
                report.skipped.push(skip.reason);
            }
        }
    }

    /// A state file written for another Apify user (a new token) would
    /// apply that account's watermarks here: start afresh instead (the
    /// state file, seeing another user's state saved, sets its file aside).
    fn check_owner(&mut self, webhooks: &[(Webhook, bool)]) {
        let Some(owner) = webhooks.iter().find_map(|(w, _)| w.user_id.clone()) else {
            return;
        };
        let foreign = self
            .state
            .user_id
            .as_ref()
            .is_some_and(|known| *known != owner);
        if foreign {
            tracing::warn!("the saved state belongs to another Apify user; counting starts afresh");
            self.state = State::default();
        }
        self.state.user_id = Some(owner);
    }

    /// The union of what the selection names, each webhook once. List
    /// items that cannot be decoded go to `skips`.
    async fn resolve_webhooks(&self, skips: &mut Vec<Skip>) -> Result<Listing, ApiError> {
        let client = &self.client;
        let mut left_out = |skipped: Vec<Undecodable>| {
            skips.extend(
                skipped
                    .into_iter()
                    .map(|u| Skip::undecodable(format!("webhook:{}", u.key), &u.error)),
            );
        };
        if self.selection.is_everything() {
            let all = client.list_webhooks(&WebhookList::All).await?;
            left_out(all.skipped);
            return Ok(Listing {
                webhooks: all.webhooks.into_iter().map(|w| (w, false)).collect(),
                by_actor: Vec::new(),
                by_task: Vec::new(),
            });
        }
        let list_all = |lists: Vec<WebhookList>| {
            stream::iter(lists)
                .map(|list: WebhookList| async move { client.list_webhooks(&list).await })
                .buffered(self.concurrency)
                .collect::<Vec<_>>()
        };
        let by_actor: Vec<WebhookListing> = list_all(
            self.selection
                .actor_ids
                .iter()
                .cloned()
                .map(WebhookList::Actor)
                .collect(),
        )
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
        let by_task: Vec<WebhookListing> = list_all(
            self.selection
                .actor_task_ids
                .iter()
                .cloned()
                .map(WebhookList::ActorTask)
                .collect(),
        )
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
        let named: Vec<(String, Option<Webhook>)> =
            stream::iter(self.selection.webhook_ids.clone())
                .map(|id: String| async move { client.get_webhook(&id).await.map(|w| (id, w)) })
                .buffered(self.concurrency)
                .collect::<Vec<_>>()
                .await
                .into_iter()
                .collect::<Result<_, _>>()?;

        let mut out: Vec<(Webhook, bool)> = Vec::new();
        for (id, found) in named {
            match found {
                Some(w) => out.push((w, true)),
                None => tracing::warn!(webhook_id = %id, "configured webhook not found"),
            }
        }
        let mut flatten = |listings: Vec<WebhookListing>| -> Vec<Webhook> {
            let mut hooks = Vec::new();
            for listing in listings {
                left_out(listing.skipped);
                hooks.extend(listing.webhooks);
            }
            hooks
        };
        let by_actor = flatten(by_actor);
        let by_task = flatten(by_task);
        for w in by_actor.iter().chain(&by_task) {
            if !out.iter().any(|(known, _)| known.id == w.id) {
                out.push((w.clone(), false));
            }
        }
        Ok(Listing {
            webhooks: out,
            by_actor,
            by_task,
        })
    }

    /// Attaches the description, reading the full webhook where the list
    /// gave the short form and the webhook is new or changed. A failed read
    /// keeps the description known so far and is tried again next refresh.
    async fn with_details(
        &self,
        webhooks: Vec<(Webhook, bool)>,
        errors: &mut Vec<ApiError>,
    ) -> Vec<(Webhook, Option<Details>)> {
        let client = &self.client;
        let state = &self.state;
        let results = stream::iter(webhooks)
            .map(|(w, full)| async move {
                if full {
                    let details = details_of(&w);
                    return (w, Ok(Some(Some(details))));
                }
                if !state.needs_details(&w) {
                    return (w, Ok(Some(None)));
                }
                let fetched = client.get_webhook(&w.id).await;
                let details = fetched.map(|found| found.map(|full| Some(details_of(&full))));
                (w, details)
            })
            .buffered(self.concurrency)
            .collect::<Vec<_>>()
            .await;
        let mut out = Vec::with_capacity(results.len());
        for (w, details) in results {
            match details {
                Ok(Some(details)) => out.push((w, details)),
                // Deleted between the list and this read.
                Ok(None) => {}
                Err(e) => {
                    errors.push(e);
                    out.push((w, None));
                }
            }
        }
        out
    }

    /// The lists to page, each with its cursor created on first sight
    /// (reading back `lookback` from now): the account-wide one, or, once
    /// it was refused, each watched webhook's own (folded series sets and,
    /// with `each`, ad-hoc webhooks have none: a list per run would grow
    /// without bound).
    ///
    /// When the source changes (the fallback and back, or a state file
    /// written by a version that read per-webhook lists), the dropped
    /// cursors are handed over ([`State::handed_over`]): the new ones start
    /// at the lowest point below which the dropped ones had handled
    /// everything, and skip what those passed, so that nothing is counted
    /// twice or lost, whichever list lagged behind.
    fn dispatch_lists(
        &mut self,
        known_before: &BTreeSet<String>,
        now: Millis,
    ) -> Vec<(String, DispatchList)> {
        let lookback_floor = self.lookback_floor(now);
        let mut lists: Vec<(String, DispatchList)> = if self.state.account_list_refused {
            self.state
                .webhooks
                .iter()
                .filter(|(id, w)| {
                    !id.starts_with(route::AD_HOC_PREFIX) && w.info.is_ad_hoc != "true"
                })
                .map(|(id, _)| (id.clone(), DispatchList::Webhook(id.clone())))
                .collect()
        } else {
            vec![(ACCOUNT_CURSOR.to_string(), DispatchList::Account)]
        };
        let mut dropped: Vec<(String, Cursor)> = Vec::new();
        self.state.cursors.retain(|key, cursor| {
            let keep = key.starts_with(READ_BACK_PREFIX) || lists.iter().any(|(k, _)| k == key);
            if !keep {
                dropped.push((key.clone(), cursor.clone()));
            }
            keep
        });
        for (key, mut cursor) in dropped {
            // A pass cut short counted its span: keep it as passed.
            cursor.abandon();
            let ids: Vec<String> = if key == ACCOUNT_CURSOR {
                known_before
                    .iter()
                    .filter(|id| !id.starts_with(route::AD_HOC_PREFIX))
                    .cloned()
                    .collect()
            } else {
                vec![key]
            };
            for id in ids {
                let kept = self.state.handed_over.entry(id).or_default();
                kept.push(cursor.clone());
                if kept.len() > MAX_HANDED_OVER {
                    kept.remove(0);
                }
            }
        }
        for (key, _) in &lists {
            if self.state.cursors.contains_key(key) {
                continue;
            }
            let handed = &self.state.handed_over;
            let lowest = if key == ACCOUNT_CURSOR {
                handed.values().flatten().map(Cursor::passed_below).min()
            } else {
                handed
                    .get(key)
                    .and_then(|c| c.iter().map(Cursor::passed_below).min())
            };
            let floor = match lowest {
                Some(at) => lookback_floor.max(at),
                None => {
                    // Read from the lookback: it counts this webhook's
                    // dispatches waiting for its read by id too.
                    self.state.orphans.retain(|d| d.webhook_id != *key);
                    lookback_floor
                }
            };
            self.state.cursors.insert(key.clone(), Cursor::new(floor));
        }
        let read_backs = self.state.read_back.keys().map(|id| {
            (
                format!("{READ_BACK_PREFIX}{id}"),
                DispatchList::Webhook(id.clone()),
            )
        });
        lists.extend(read_backs);
        lists
    }

    /// Forgets the handed-over cursors the current source has passed: the
    /// dispatches they passed are all below its watermark now.
    fn prune_handed_over(&mut self) {
        let state = &mut self.state;
        let refused = state.account_list_refused;
        let cursors = &state.cursors;
        let account = cursors.get(ACCOUNT_CURSOR).map(Cursor::passed_below);
        state.handed_over.retain(|id, kept| {
            let current = if refused {
                cursors.get(id).map(Cursor::passed_below)
            } else {
                account
            };
            kept.retain(|h| match (current, h.counted_up_to()) {
                (Some(at), Some(top)) => top >= at,
                (None, _) => true,
                (Some(_), None) => false,
            });
            !kept.is_empty()
        });
    }

    /// A dispatch can name a webhook that no list named: created since the
    /// last metadata read, or ad-hoc. Each such webhook is read once, at
    /// once: watched, it joins (ad-hoc and folded, its dispatches go to
    /// their task's or Actor's series set); not watched or deleted, its
    /// dispatches are left alone until the next metadata read. One that
    /// fails is tried next refresh.
    async fn adopt_orphans(&mut self, errors: &mut Vec<ApiError>) {
        if self.state.orphans.is_empty() {
            return;
        }
        let ids: BTreeSet<String> = self
            .state
            .orphans
            .iter()
            .map(|d| d.webhook_id.clone())
            .collect();
        let client = &self.client;
        let fetched = by_id(ids, self.concurrency, |id| async move {
            client.get_webhook(&id).await
        })
        .await;
        let orphans = std::mem::take(&mut self.state.orphans);
        let mut retry: BTreeSet<String> = BTreeSet::new();
        for (id, found) in fetched {
            match found {
                Ok(Some(w)) if w.is_ad_hoc == Some(true) && self.routing.folds() => {
                    self.state.ad_hoc_webhooks.remember(&id);
                }
                Ok(Some(w)) if self.routing.selects_webhook(&w) || w.is_ad_hoc == Some(true) => {
                    tracing::info!(webhook_id = %id, "watching a webhook no list named");
                    self.state.upsert_webhook(&w, Some(&details_of(&w)));
                    // `each`: an ad-hoc webhook's condition names its run;
                    // its dispatch tells the Actor and task.
                    if let (Some(entry), Some(d)) = (
                        self.state.webhooks.get_mut(&id),
                        orphans.iter().find(|d| d.webhook_id == id),
                    ) {
                        let run = &d.event_data;
                        entry.info.fill_owner(
                            run.actor_id.as_deref().unwrap_or_default(),
                            run.actor_task_id.as_deref().unwrap_or_default(),
                        );
                    }
                }
                Ok(_) => {
                    self.state.ignored_webhooks.insert(id);
                }
                Err(e) => {
                    errors.push(e);
                    retry.insert(id);
                }
            }
        }
        for d in orphans {
            if retry.contains(&d.webhook_id) {
                self.state.orphans.push(d);
            } else {
                self.state.take_new(&d, &self.routing);
            }
        }
    }

    /// Re-reads each dispatch that was ACTIVE before this refresh. An
    /// answer that cannot be decoded is left out (reported once) and the
    /// dispatch still followed: a later answer may decode, and its end must
    /// still be counted.
    async fn reread_active(
        &mut self,
        ids: &BTreeSet<String>,
        errors: &mut Vec<ApiError>,
        skips: &mut Vec<Skip>,
    ) {
        let client = &self.client;
        let still_active: Vec<String> = ids
            .iter()
            .filter(|id| self.state.active.contains_key(*id))
            .cloned()
            .collect();
        let results = by_id(still_active, self.concurrency, |id| async move {
            client.get_dispatch(&id).await
        })
        .await;
        for (id, result) in results {
            match result {
                Ok(fresh) => self.state.update_active(&id, fresh.as_ref()),
                Err(e @ ApiError::Decode { .. }) => {
                    skips.push(Skip::undecodable(item_key(&id).into_owned(), &e))
                }
                Err(e) => errors.push(e),
            }
        }
    }
}

/// Runs `read` for each id, `concurrency` at a time; the answers come in
/// the order they arrive, each with its id.
async fn by_id<K: Clone, T, F, Fut>(
    ids: impl IntoIterator<Item = K>,
    concurrency: usize,
    read: F,
) -> Vec<(K, T)>
where
    F: Fn(K) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    stream::iter(ids)
        .map(|id| {
            let answer = read(id.clone());
            async move { (id, answer.await) }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await
}

fn details_of(w: &Webhook) -> Details {
    Details {
        modified_at: w.modified_at.clone(),
        description: w.description.clone(),
    }
}
