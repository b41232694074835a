//! A dispatch whose life is under way: its calls are planned, and the
//! clock reveals them one by one until the dispatch is terminal.

use serde_json::{json, Value};
use time::OffsetDateTime;

use super::receivers::PlannedCall;
use super::times::timestamp;

/// A dispatch of the demo account, with its whole life planned.
#[derive(Clone)]
pub(super) struct LiveDispatch {
    pub(super) webhook: usize,
    pub(super) created_at: OffsetDateTime,
    /// The dispatch without `status` and `calls`.
    pub(super) skeleton: Value,
    pub(super) calls: Vec<PlannedCall>,
    pub(super) outcome: &'static str,
    /// (calls started, calls finished) as last put into the fake.
    pub(super) shown: Option<(usize, usize)>,
}

impl LiveDispatch {
    /// A dispatch whose life is planned: `skeleton` carries its id.
    pub(super) fn new(
        webhook: usize,
        created_at: OffsetDateTime,
        skeleton: Value,
        calls: Vec<PlannedCall>,
        outcome: &'static str,
    ) -> LiveDispatch {
        LiveDispatch {
            webhook,
            created_at,
            skeleton,
            calls,
            outcome,
            shown: None,
        }
    }

    /// When the API starts showing it: with its first call, so that no
    /// dispatch is ever shown without one.
    pub(super) fn shown_from(&self) -> OffsetDateTime {
        self.calls.first().map_or(self.created_at, |c| c.started_at)
    }

    /// (calls started, calls finished) at `now`: what the fake shows changes
    /// only when this does.
    pub(super) fn stage(&self, now: OffsetDateTime) -> (usize, usize) {
        let started = self.calls.iter().filter(|c| c.started_at <= now).count();
        let finished = self.calls.iter().filter(|c| c.finished_at <= now).count();
        (started, finished)
    }

    pub(super) fn is_terminal(&self, now: OffsetDateTime) -> bool {
        self.stage(now).1 == self.calls.len()
    }

    /// `lastDispatch` of its webhook, while it is the newest: its status
    /// and, once terminal, when its last call finished.
    pub(super) fn last_dispatch(&self, now: OffsetDateTime) -> Value {
        let finished_at = self
            .calls
            .last()
            .filter(|_| self.is_terminal(now))
            .map(|c| timestamp(c.finished_at));
        json!({ "status": self.status(now), "finishedAt": finished_at })
    }

    fn status(&self, now: OffsetDateTime) -> &'static str {
        if self.is_terminal(now) {
            self.outcome
        } else {
            "ACTIVE"
        }
    }

    /// The dispatch as the API returns it at `now`: calls not yet started
    /// are absent, a call in flight has no end, status or answer yet.
    pub(super) fn render(&self, now: OffsetDateTime) -> Value {
        let calls: Vec<Value> = self
            .calls
            .iter()
            .filter(|call| call.started_at <= now)
            .map(|call| {
                if call.finished_at <= now {
                    json!({
                        "startedAt": timestamp(call.started_at),
                        "finishedAt": timestamp(call.finished_at),
                        "errorMessage": call.error_message,
                        "responseStatus": call.response_status,
                        "responseBody": call.response_body,
                    })
                } else {
                    json!({
                        "startedAt": timestamp(call.started_at),
                        "finishedAt": null,
                        "errorMessage": null,
                        "responseStatus": null,
                        "responseBody": null,
                    })
                }
            })
            .collect();
        let mut dispatch = self.skeleton.clone();
        if let Some(fields) = dispatch.as_object_mut() {
            fields.insert("status".to_owned(), json!(self.status(now)));
            fields.insert("calls".to_owned(), Value::Array(calls));
        }
        dispatch
    }
}
