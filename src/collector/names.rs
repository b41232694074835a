//! The names of the Actors and tasks webhooks belong to, for
//! `apify_webhook_info`'s `actor_name` and `actor_task_name`: read when an
//! id is first seen and again at each metadata read, kept in between. A
//! task's record also tells its Actor: a webhook of a task (whose condition
//! names only the task) gets that Actor's id and name too.
//!
//! A name is a courtesy, never a reason to fail: a token that may not read
//! the record (401/403, scoped tokens) or a record gone (404) leaves it
//! empty until the next metadata read; any other failure keeps what was
//! known. None of it is an error of the refresh.

use std::collections::{BTreeMap, BTreeSet};

use crate::api::{ApiError, Client, Owner, OwnerRecord};

use super::by_id;
use super::state::State;

#[derive(Debug, Default)]
pub(crate) struct Names {
    /// Every owner read; the default record for one with nothing to show.
    known: BTreeMap<Owner, OwnerRecord>,
    /// Refusals are told once (at INFO) per endpoint: on a scoped token
    /// they come at every metadata read.
    refusal_told: BTreeSet<&'static str>,
}

impl Names {
    /// Reads the owners `state`'s webhooks name: every one when `all` (a
    /// metadata read), otherwise those never read; then the Actors of tasks
    /// that this taught. Forgets owners no webhook names any more, and
    /// writes ids and names into the webhooks' labels.
    pub(crate) async fn refresh(
        &mut self,
        client: &Client,
        concurrency: usize,
        state: &mut State,
        all: bool,
    ) {
        self.label(state);
        let named = owners_of(state);
        self.known.retain(|owner, _| named.contains(owner));
        let mut read_now: BTreeSet<Owner> = BTreeSet::new();
        // The first round reads tasks and Actors; a task's record may name
        // an Actor that no webhook named: the second round reads it.
        for _ in 0..2 {
            let to_read: Vec<Owner> = owners_of(state)
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
        }
    }

    fn failed(&mut self, owner: Owner, e: &ApiError) {
        if matches!(
            e,
            ApiError::Status {
                status: 401 | 403,
                ..
            }
        ) {
            let endpoint = owner.endpoint();
            if self.refusal_told.insert(endpoint) {
                tracing::info!(
                    endpoint,
                    error = %e,
                    "the token may not read these records: the names they give stay empty (nothing else is affected)"
                );
            }
            self.known.insert(owner, OwnerRecord::default());
        } else {
            tracing::debug!(?owner, error = %e, "could not read a name; keeping what was known");
            self.known.entry(owner).or_default();
        }
    }

    /// Sets every webhook's Actor from its task where the webhook names
    /// none, and its `actor_name` and `actor_task_name`.
    fn label(&self, state: &mut State) {
        let record = |owner: Option<Owner>| owner.and_then(|o| self.known.get(&o));
        for w in state.webhooks.values_mut() {
            let task: OwnerRecord = record(w.info.actor_task()).cloned().unwrap_or_default();
            if w.info.actor_id.is_empty() {
                w.info.actor_id = task.actor_id;
            }
            w.info.actor_task_name = task.name;
            w.info.actor_name = record(w.info.actor())
                .map(|r| r.name.clone())
                .unwrap_or_default();
        }
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
