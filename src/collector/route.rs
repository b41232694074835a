//! Where a listed dispatch is counted: under its own webhook, under the
//! folded series set of its task or Actor (an ad-hoc webhook), nowhere (not
//! watched), or not known until its webhook has been read.
//!
//! The account-wide list serves every selection, so this is where a
//! selection is applied: by the watched set for webhooks the metadata read
//! named, and by the run's Actor or task (`eventData`) for webhooks no list
//! names, the ad-hoc ones above all.

use std::collections::BTreeSet;

use crate::api::dispatches::Dispatch;
use crate::api::webhooks::Webhook;
use crate::api::Owner;
use crate::config::{AdHoc, Selection};

use super::state::State;

/// The `webhook_id` of every folded series set starts with this.
pub(crate) const AD_HOC_PREFIX: &str = "ad-hoc";

/// The `description` of a folded series set.
pub(crate) const AD_HOC_DESCRIPTION: &str = "ad-hoc webhooks";

/// The selection, as far as a dispatch can be matched against it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Routing {
    fold: bool,
    everything: bool,
    /// Selected Actors by id: the ids configured, and those the listed
    /// webhooks of an Actor selected as `username~name` name.
    actors: BTreeSet<String>,
    /// Selected tasks by id, the same way.
    tasks: BTreeSet<String>,
    webhooks: BTreeSet<String>,
}

/// What to do with a dispatch new to a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    /// Count it under this series set, which exists.
    Count(String),
    /// Count it under this folded series set, created if need be.
    Fold(String),
    /// Its webhook must be read first.
    Unknown,
    /// Not watched.
    Ignore,
}

impl Routing {
    /// What `selection` selects before any webhook was listed.
    pub(crate) fn new(selection: &Selection, ad_hoc: AdHoc) -> Self {
        let plain = |ids: &[String]| -> BTreeSet<String> {
            ids.iter().filter(|id| !id.contains('~')).cloned().collect()
        };
        Routing {
            fold: ad_hoc == AdHoc::Fold,
            everything: selection.is_everything(),
            actors: plain(&selection.actor_ids),
            tasks: plain(&selection.actor_task_ids),
            webhooks: selection.webhook_ids.iter().cloned().collect(),
        }
    }

    /// Learns the ids of Actors and tasks selected by name from the
    /// webhooks their lists gave.
    pub(crate) fn learn_ids(&mut self, by_actor: &[Webhook], by_task: &[Webhook]) {
        let ids = |hooks: &[Webhook], pick: fn(&Webhook) -> Option<&String>| {
            hooks.iter().filter_map(pick).cloned().collect::<Vec<_>>()
        };
        self.actors
            .extend(ids(by_actor, |w| w.condition.as_ref()?.actor_id.as_ref()));
        self.tasks.extend(ids(by_task, |w| {
            w.condition.as_ref()?.actor_task_id.as_ref()
        }));
    }

    /// Learns the id of an Actor or task selected as `username~name` from
    /// its record.
    pub(crate) fn learn_id(&mut self, owner: &Owner, id: String) {
        match owner {
            Owner::Actor(_) => self.actors.insert(id),
            Owner::ActorTask(_) => self.tasks.insert(id),
        };
    }

    /// Whether ad-hoc webhooks are folded.
    pub(crate) fn folds(&self) -> bool {
        self.fold
    }

    /// Whether a run of this Actor or task is selected.
    pub(crate) fn selects_run(&self, actor_id: Option<&str>, task_id: Option<&str>) -> bool {
        self.everything
            || actor_id.is_some_and(|id| self.actors.contains(id))
            || task_id.is_some_and(|id| self.tasks.contains(id))
    }

    /// Whether a webhook read by id (one no list named) is watched.
    pub(crate) fn selects_webhook(&self, w: &Webhook) -> bool {
        let condition = w.condition.clone().unwrap_or_default();
        self.everything
            || self.webhooks.contains(&w.id)
            || self.selects_run(
                condition.actor_id.as_deref(),
                condition.actor_task_id.as_deref(),
            )
    }

    /// Where `d` goes, given what `state` knows of its webhook.
    pub(crate) fn route(&self, state: &State, d: &Dispatch) -> Route {
        if state.webhooks.contains_key(&d.webhook_id) {
            return Route::Count(d.webhook_id.clone());
        }
        let run = &d.event_data;
        let selected = self.selects_run(run.actor_id.as_deref(), run.actor_task_id.as_deref());
        let ad_hoc = state.ad_hoc_webhooks.contains(&d.webhook_id)
            || d.webhook.as_ref().and_then(|w| w.is_ad_hoc) == Some(true);
        if self.fold && ad_hoc {
            return if selected {
                Route::Fold(folded_key(d))
            } else {
                Route::Ignore
            };
        }
        if state.ignored_webhooks.contains(&d.webhook_id) || !selected {
            return Route::Ignore;
        }
        Route::Unknown
    }
}

/// The folded `webhook_id` of an ad-hoc webhook's dispatch: by task when
/// the run had one, else by Actor, else one set for all.
pub(crate) fn folded_key(d: &Dispatch) -> String {
    let run = &d.event_data;
    match run.actor_task_id.as_ref().or(run.actor_id.as_ref()) {
        Some(id) => format!("{AD_HOC_PREFIX}:{id}"),
        None => AD_HOC_PREFIX.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::dispatches::{DispatchStatus, EventData, WebhookSummary};
    use crate::api::webhooks::Condition;
    use crate::collector::test_data;

    fn run_of(
        webhook: &str,
        actor: Option<&str>,
        task: Option<&str>,
        ad_hoc: Option<bool>,
    ) -> Dispatch {
        let mut d = test_data::dispatch(
            "d1",
            webhook,
            "ACTOR.RUN.SUCCEEDED",
            DispatchStatus::Succeeded,
            1_000,
            Vec::new(),
        );
        d.event_data = EventData {
            actor_run_id: Some("R1".into()),
            actor_id: actor.map(str::to_string),
            actor_task_id: task.map(str::to_string),
        };
        d.webhook = ad_hoc.map(|is_ad_hoc| WebhookSummary {
            is_ad_hoc: Some(is_ad_hoc),
        });
        d
    }

    fn selection(actors: &[&str], tasks: &[&str]) -> Selection {
        Selection {
            actor_ids: actors.iter().map(|s| s.to_string()).collect(),
            actor_task_ids: tasks.iter().map(|s| s.to_string()).collect(),
            webhook_ids: Vec::new(),
        }
    }

    #[test]
    fn ad_hoc_dispatches_fold_by_task_then_actor() {
        let all = Routing::new(&Selection::default(), AdHoc::Fold);
        let state = State::default();
        for (actor, task, key) in [
            (Some("A1"), Some("T1"), "ad-hoc:T1"),
            (Some("A1"), None, "ad-hoc:A1"),
            (None, None, "ad-hoc"),
        ] {
            let d = run_of("X1", actor, task, Some(true));
            assert_eq!(all.route(&state, &d), Route::Fold(key.to_string()));
        }
        // Without the summary's word, the webhook must be read first.
        let unsure = run_of("X1", Some("A1"), None, None);
        assert_eq!(all.route(&state, &unsure), Route::Unknown);
        // Once known ad-hoc, never read again.
        let mut known = State::default();
        known.ad_hoc_webhooks.remember("X1");
        assert_eq!(all.route(&known, &unsure), Route::Fold("ad-hoc:A1".into()));
        // `each` reads it to count it as its own webhook.
        let each = Routing::new(&Selection::default(), AdHoc::Each);
        let d = run_of("X1", Some("A1"), None, Some(true));
        assert_eq!(each.route(&state, &d), Route::Unknown);
    }

    #[test]
    fn a_narrowed_selection_takes_the_runs_of_its_actors_and_tasks() {
        let mut routing = Routing::new(&selection(&["A1", "jane~scraper"], &["T9"]), AdHoc::Fold);
        let state = State::default();
        let ad_hoc = |actor: &str, task: Option<&str>| run_of("X1", Some(actor), task, Some(true));
        assert_eq!(
            routing.route(&state, &ad_hoc("A1", None)),
            Route::Fold("ad-hoc:A1".into())
        );
        assert_eq!(
            routing.route(&state, &ad_hoc("A7", Some("T9"))),
            Route::Fold("ad-hoc:T9".into())
        );
        assert_eq!(routing.route(&state, &ad_hoc("A2", None)), Route::Ignore);
        // An Actor selected by name is matched once a listed webhook names its id.
        let named = Webhook {
            id: "W5".into(),
            condition: Some(Condition {
                actor_id: Some("A2".into()),
                actor_task_id: None,
            }),
            ..Webhook::default()
        };
        routing.learn_ids(std::slice::from_ref(&named), &[]);
        assert_eq!(
            routing.route(&state, &ad_hoc("A2", None)),
            Route::Fold("ad-hoc:A2".into())
        );
        // A regular webhook no list named: read it when the run is selected.
        let regular = run_of("W6", Some("A1"), None, Some(false));
        assert_eq!(routing.route(&state, &regular), Route::Unknown);
        let elsewhere = run_of("W7", Some("A3"), None, None);
        assert_eq!(routing.route(&state, &elsewhere), Route::Ignore);
        assert!(routing.selects_webhook(&named));
    }

    #[test]
    fn a_webhook_id_selection_reads_no_other_webhook() {
        let sel = Selection {
            webhook_ids: vec!["W1".into()],
            ..Selection::default()
        };
        let routing = Routing::new(&sel, AdHoc::Fold);
        let d = run_of("W2", Some("A1"), None, None);
        assert_eq!(routing.route(&State::default(), &d), Route::Ignore);
        let ad_hoc = run_of("X1", Some("A1"), None, Some(true));
        assert_eq!(routing.route(&State::default(), &ad_hoc), Route::Ignore);
    }
}
