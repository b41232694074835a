//! The names of the Actors and tasks webhooks belong to, for
//! `apify_webhook_info`'s `actor_name` and `actor_task_name`: read when an
//! id is first seen and again at each metadata read, kept in between. A
//! task's record also tells its Actor: a webhook of a task (whose condition
//! names only the task) gets that Actor's id and name too.
//!
//! It also resolves the Actors and tasks selected as `username~name`: a
//! run's `eventData` names them by id only.
//!
//! A name is a courtesy, never a reason to fail: a token that may not read
//! the record (401/403, scoped tokens) or a record gone (404) leaves it
//! empty until the next metadata read; any other failure keeps what was
//! known. None of it is an error of the refresh.

use std::collections::{BTreeMap, BTreeSet};

use crate::api::{ApiError, Client, Owner, OwnerRecord, Reason};
use crate::config::Selection;

use super::by_id;
use super::state::State;

#[derive(Debug, Default)]
pub(crate) struct Names {
    /// Every owner read; the default record for one with nothing to show.
    known: BTreeMap<Owner, OwnerRecord>,
    /// Selected names (`Owner::Actor("jane~scraper")`) and their ids, kept
    /// across a failed read: a selection must not lose its runs for a
    /// period because one request failed.
    selected: BTreeMap<Owner, String>,
    /// Refusals are told once (at INFO) per endpoint: on a scoped token
    /// they come at every metadata read.
    refusal_told: BTreeSet<&'static str>,
    /// Selected names found missing, told once each.
    missing_told: BTreeSet<Owner>,
}

impl Names {
    /// Reads the record of each Actor and task `selection` names as
    /// `username~name` (one request each, at each metadata read), for its
    /// id; its name comes with it. A failed read keeps the id known.
    /// Returns the owners (by id) read this way, which [`Names::refresh`]
    /// need not read again.
    pub(crate) async fn resolve_selected(
        &mut self,
        client: &Client,
        concurrency: usize,
        selection: &Selection,
    ) -> BTreeSet<Owner> {
        let named = |ids: &[String], owner: fn(String) -> Owner| {
            ids.iter()
                .filter(|id| id.contains('~'))
                .map(|id| owner(id.clone()))
                .collect::<Vec<_>>()
        };
        let mut owners = named(&selection.actor_ids, Owner::Actor);
        owners.extend(named(&selection.actor_task_ids, Owner::ActorTask));
        self.selected.retain(|owner, _| owners.contains(owner));
        let records = by_id(owners, concurrency, |owner| async move {
            client.owner(&owner).await
        })
        .await;
        let mut read_by_name = BTreeSet::new();
        for (owner, answer) in records {
            match answer {
                Ok(Some(record)) if !record.id.is_empty() => {
                    let by_id = match &owner {
                        Owner::Actor(_) => Owner::Actor(record.id.clone()),
                        Owner::ActorTask(_) => Owner::ActorTask(record.id.clone()),
                    };
                    self.selected.insert(owner, record.id.clone());
                    read_by_name.insert(by_id.clone());
                    self.known.insert(by_id, record);
                }
                Ok(_) => {
                    if self.missing_told.insert(owner.clone()) {
                        tracing::warn!(
                            ?owner,
                            "a selected Actor or task was not found: its runs' ad-hoc webhooks are not watched"
                        );
                    }
                    self.selected.remove(&owner);
                }
                Err(e) => {
                    self.tell(&owner, &e);
                }
            }
        }
        read_by_name
    }

    /// The ids of the Actors and tasks selected by name, as last read.
    pub(crate) fn selected_ids(&self) -> impl Iterator<Item = (&Owner, &String)> {
        self.selected.iter()
    }

    /// Reads the owners `state`'s webhooks name: every one when `all` (a
    /// metadata read), otherwise those never read, but none in `read_now`
    /// (read by name in this refresh); then the Actors of tasks that this
    /// taught. Forgets owners no webhook names any more, and writes ids and
    /// names into the webhooks' labels.
    pub(crate) async fn refresh(
        &mut self,
        client: &Client,
        concurrency: usize,
        state: &mut State,
        all: bool,
        mut read_now: BTreeSet<Owner>,
    ) {
        self.label(state);
        let mut named = owners_of(state);
        self.known.retain(|owner, _| named.contains(owner));
        // The first round reads tasks and Actors; a task's record may name
        // an Actor that no webhook named: the second round reads it.
        for _ in 0..2 {
            let to_read: Vec<Owner> = named
                .into_iter()
                .filter(|o| !read_now.contains(o) && (all || !self.known.contains_key(o)))
                .collect();
            if to_read.is_empty() {
                break;
            }
            read_now.extend(to_read.iter().cloned());
            let answers = by_id(to_read, concurrency, |owner| async move {
                client.owner(&owner).await
            })
            .await;
            for (owner, answer) in answers {
                match answer {
                    Ok(record) => {
                        self.known.insert(owner, record.unwrap_or_default());
                    }
                    Err(e) => self.failed(owner, &e),
                }
            }
            self.label(state);
            // The labels may now name a task's Actor.
            named = owners_of(state);
        }
    }

    /// A failed read by id: refused (401/403), the owner shows no name
    /// until the next metadata read; otherwise what was known stays.
    fn failed(&mut self, owner: Owner, e: &ApiError) {
        if self.tell(&owner, e) {
            self.known.insert(owner, OwnerRecord::default());
        } else {
            self.known.entry(owner).or_default();
        }
    }

    /// Logs a failed read: a refusal once per endpoint at INFO (a scoped
    /// token refuses at every metadata read), anything else at DEBUG.
    /// True for a refusal.
    fn tell(&mut self, owner: &Owner, e: &ApiError) -> bool {
        let refused = e.reason() == Reason::Auth;
        if !refused {
            tracing::debug!(?owner, error = %e, "could not read an Actor or task; keeping what was known");
        } else if self.refusal_told.insert(owner.endpoint()) {
            tracing::info!(
                endpoint = owner.endpoint(),
                error = %e,
                "the token may not read these records: the names they give stay empty (nothing else is affected)"
            );
        }
        refused
    }

    /// Sets every webhook's Actor from its task where the webhook names
    /// none, and its `actor_name` and `actor_task_name`.
    fn label(&self, state: &mut State) {
        let name = |owner: Option<Owner>| owner.and_then(|o| self.known.get(&o));
        for w in state.webhooks.values_mut() {
            let task = name(w.info.actor_task());
            if w.info.actor_id.is_empty() {
                if let Some(task) = task {
                    w.info.actor_id.clone_from(&task.actor_id);
                }
            }
            let actor = name(w.info.actor());
            set(&mut w.info.actor_task_name, task);
            set(&mut w.info.actor_name, actor);
        }
    }
}

/// Sets a name label to the record's name (empty without one), without
/// reallocating it when it has not changed: this runs every refresh.
fn set(label: &mut String, record: Option<&OwnerRecord>) {
    match record {
        Some(r) => label.clone_from(&r.name),
        None => label.clear(),
    }
}

/// Every Actor and task the watched webhooks (and folded sets) name.
fn owners_of(state: &State) -> BTreeSet<Owner> {
    state
        .webhooks
        .values()
        .flat_map(|w| [w.info.actor(), w.info.actor_task()])
        .flatten()
        .collect()
}
