//! Builders of API values for unit tests: a call and a dispatch, each in one
//! line.

use crate::api::dispatches::{Call, Dispatch, DispatchStatus};
use crate::clock::Millis;

/// A call started at `start`, ended at `end` (if it did) with `status`.
pub(crate) fn call(start: Millis, end: Option<Millis>, status: Option<u16>) -> Call {
    Call {
        started_at: Some(start),
        finished_at: end,
        response_status: status,
    }
}

/// A dispatch of `webhook` for `event_type`.
pub(crate) fn dispatch(
    id: &str,
    webhook: &str,
    event_type: &str,
    status: DispatchStatus,
    created_at: Millis,
    calls: Vec<Call>,
) -> Dispatch {
    Dispatch {
        id: id.to_string(),
        webhook_id: webhook.to_string(),
        created_at,
        status,
        event_type: event_type.to_string(),
        calls,
        event_data: Default::default(),
        webhook: None,
    }
}
