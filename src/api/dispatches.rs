//! Webhook dispatches: `GET /v2/webhook-dispatches`,
//! `/v2/webhooks/:id/dispatches` and `/v2/webhook-dispatches/:id`.

use serde::{Deserialize, Deserializer};

use super::decode::{
    lenient_bool, lenient_object, lenient_timestamp, lenient_vec, path_id, timestamp, Millis,
};
use super::{ApiError, Client, Page};
use crate::config::is_apify_id;

/// A dispatch's status as Apify reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DispatchStatus {
    /// Being delivered, or waiting for a retry.
    Active,
    /// Delivered: a call got a 2xx answer.
    Succeeded,
    /// Given up: every call failed.
    Failed,
    /// A value this version does not know; treated as not yet terminal.
    Other(String),
}

impl DispatchStatus {
    /// The status as Apify spells it (an unknown one as given).
    pub fn as_str(&self) -> &str {
        match self {
            DispatchStatus::Active => "ACTIVE",
            DispatchStatus::Succeeded => "SUCCEEDED",
            DispatchStatus::Failed => "FAILED",
            DispatchStatus::Other(s) => s,
        }
    }

    /// True for SUCCEEDED and FAILED: the dispatch will not change again.
    pub fn is_terminal(&self) -> bool {
        matches!(self, DispatchStatus::Succeeded | DispatchStatus::Failed)
    }
}

/// A dispatch: one delivery of one event to one webhook. Fields the
/// exporter does not use (`userId`, `responseBody`...) are not decoded at
/// all, and `eventData` only leniently, so their shape cannot break a
/// refresh.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Dispatch {
    /// The dispatch id.
    #[serde(deserialize_with = "path_id")]
    pub id: String,
    /// The webhook it delivers for.
    #[serde(deserialize_with = "path_id")]
    pub webhook_id: String,
    /// When Apify created it (the event).
    #[serde(deserialize_with = "timestamp")]
    pub created_at: Millis,
    /// A null or odd status reads as unknown (not terminal).
    #[serde(
        default = "unknown_status",
        deserialize_with = "lenient_dispatch_status"
    )]
    pub status: DispatchStatus,
    /// A null or missing event type reads as `""`.
    #[serde(default, deserialize_with = "lenient_event_type")]
    pub event_type: String,
    /// Delivery attempts, oldest first.
    #[serde(default, deserialize_with = "lenient_vec")]
    pub calls: Vec<Call>,
    /// What the event was about, as far as it can be read.
    #[serde(default, deserialize_with = "lenient_event_data")]
    pub event_data: EventData,
    /// The summary of its webhook some answers carry; only `isAdHoc` is
    /// read, and anything odd reads as not known.
    #[serde(default, deserialize_with = "lenient_object")]
    pub webhook: Option<WebhookSummary>,
}

/// The part of a dispatch's `webhook` summary the exporter uses.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WebhookSummary {
    /// The webhook was created for one run.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub is_ad_hoc: Option<bool>,
}

/// The parts of a dispatch's `eventData` the exporter uses.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventData {
    /// The run the event is about (`actorRunId`), when it is an Apify id:
    /// it is shown as a label and goes into a Console link, so anything
    /// else reads as `None`.
    pub actor_run_id: Option<String>,
    /// The Actor of the run (`actorId`), when it is an Apify id.
    pub actor_id: Option<String>,
    /// The task of the run (`actorTaskId`), when it is an Apify id.
    pub actor_task_id: Option<String>,
}

/// Longest id taken from `eventData`; Apify's are 17 characters.
const MAX_EVENT_ID_CHARS: usize = 64;

/// `eventData` is an object in the API reference and a JSON string in
/// some of Apify's documented samples: both are read; anything else, or
/// an `actorRunId` that is not an Apify id, reads as nothing known.
fn lenient_event_data<'de, D: Deserializer<'de>>(d: D) -> Result<EventData, D::Error> {
    let value = match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(text) => serde_json::from_str(&text).unwrap_or_default(),
        other => other,
    };
    let id = |key: &str| {
        value
            .get(key)
            .and_then(serde_json::Value::as_str)
            .filter(|id| id.len() <= MAX_EVENT_ID_CHARS && is_apify_id(id))
            .map(str::to_string)
    };
    Ok(EventData {
        actor_run_id: id("actorRunId"),
        actor_id: id("actorId"),
        actor_task_id: id("actorTaskId"),
    })
}

fn unknown_status() -> DispatchStatus {
    DispatchStatus::Other(String::new())
}

fn lenient_dispatch_status<'de, D: Deserializer<'de>>(d: D) -> Result<DispatchStatus, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => match s.as_str() {
            "ACTIVE" => DispatchStatus::Active,
            "SUCCEEDED" => DispatchStatus::Succeeded,
            "FAILED" => DispatchStatus::Failed,
            _ => DispatchStatus::Other(s),
        },
        _ => unknown_status(),
    })
}

fn lenient_event_type<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => s,
        _ => String::new(),
    })
}

/// One attempt to deliver a dispatch. No key is required.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Call {
    /// When the call started.
    #[serde(default, deserialize_with = "lenient_timestamp")]
    pub started_at: Option<Millis>,
    /// When the call ended; `None` while in flight.
    #[serde(default, deserialize_with = "lenient_timestamp")]
    pub finished_at: Option<Millis>,
    /// The receiver's HTTP status; `None` when no answer came.
    #[serde(default, deserialize_with = "lenient_status")]
    pub response_status: Option<u16>,
}

impl Call {
    /// A call still in flight has neither an end nor an answer.
    pub fn is_finished(&self) -> bool {
        self.finished_at.is_some() || self.response_status.is_some()
    }
}

/// An HTTP status (100..=599); anything else means "no usable answer".
fn lenient_status<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    Ok(v.as_u64()
        .filter(|s| (100..=599).contains(s))
        .map(|s| s as u16))
}

/// Which dispatch list to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DispatchList {
    /// Every dispatch of the account, one list for all webhooks.
    Account,
    /// The dispatches of one webhook.
    Webhook(String),
}

impl DispatchList {
    pub(crate) fn endpoint(&self) -> &'static str {
        match self {
            DispatchList::Account => "/v2/webhook-dispatches",
            DispatchList::Webhook(_) => "/v2/webhooks/:id/dispatches",
        }
    }

    fn path(&self) -> Vec<&str> {
        match self {
            DispatchList::Account => vec!["v2", "webhook-dispatches"],
            DispatchList::Webhook(id) => vec!["v2", "webhooks", id, "dispatches"],
        }
    }
}

impl Client {
    /// One page of dispatches, newest first.
    pub(crate) async fn dispatch_page(
        &self,
        list: &DispatchList,
        offset: usize,
        limit: usize,
    ) -> Result<Page<Dispatch>, ApiError> {
        let query = [
            ("offset", offset.to_string()),
            ("limit", limit.to_string()),
            ("desc", "true".to_string()),
        ];
        let bytes = self
            .get_bytes(list.endpoint(), &list.path(), &query)
            .await?;
        self.decode_page(list.endpoint(), &bytes)
    }

    /// One dispatch; `None` when Apify says 404 (removed by retention, or
    /// its webhook was deleted).
    pub(crate) async fn get_dispatch(&self, id: &str) -> Result<Option<Dispatch>, ApiError> {
        let path = ["v2", "webhook-dispatches", id];
        match self.get("/v2/webhook-dispatches/:id", &path, &[]).await {
            Ok(d) => Ok(Some(d)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_id(event_data: &str) -> Option<String> {
        let text = format!(
            r#"{{"id":"d","webhookId":"w","createdAt":"2026-11-30T00:00:00.000Z","eventData":{event_data}}}"#
        );
        match serde_json::from_str::<Dispatch>(&text) {
            Ok(d) => d.event_data.actor_run_id,
            Err(e) => panic!("{event_data}: {e}"),
        }
    }

    #[test]
    fn the_run_id_is_read_from_an_object_or_a_json_string_and_only_if_it_is_an_id() {
        assert_eq!(
            run_id(r#"{"actorRunId":"R1abc"}"#).as_deref(),
            Some("R1abc")
        );
        assert_eq!(
            run_id(r#""{\"actorRunId\":\"R2abc\"}""#).as_deref(),
            Some("R2abc")
        );
        for odd in [
            r#"{"actorRunId":"../../x"}"#,
            r#"{"actorRunId":""}"#,
            r#"{"actorRunId":7}"#,
            r#""not json""#,
            "null",
            "[1]",
        ] {
            assert_eq!(run_id(odd), None, "{odd}");
        }
        let long = format!(r#"{{"actorRunId":"{}"}}"#, "a".repeat(65));
        assert_eq!(run_id(&long), None);
    }
}
