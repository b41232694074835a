//! Webhooks: `GET /v2/webhooks`, `/v2/webhooks/:id`,
//! `/v2/acts/:id/webhooks` and `/v2/actor-tasks/:id/webhooks`.

use serde::Deserialize;

use super::decode::{lenient_bool, lenient_string, lenient_u64};
use super::{segment, ApiError, Client, Page, MAX_PAGE_LIMIT};

/// A webhook. The list endpoints return Apify's `WebhookShort`, which lacks
/// `description`; `GET /v2/webhooks/:id` returns all of it.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Webhook {
    /// The webhook id.
    pub id: String,
    /// The owner: tells whose account a state file was written for.
    #[serde(default, deserialize_with = "lenient_string")]
    pub user_id: Option<String>,
    /// Kept as text: it only serves to notice that the webhook changed.
    #[serde(default, deserialize_with = "lenient_string")]
    pub modified_at: Option<String>,
    /// Created for one run (`webhooks` parameter or `Actor.addWebhook()`).
    #[serde(default, deserialize_with = "lenient_bool")]
    pub is_ad_hoc: Option<bool>,
    /// Events that trigger it (`ACTOR.RUN.FAILED`...).
    #[serde(default, deserialize_with = "event_types")]
    pub event_types: Vec<String>,
    /// Whose runs it watches.
    #[serde(default, deserialize_with = "lenient_object")]
    pub condition: Option<Condition>,
    /// Apify skips TLS verification of the receiver.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub ignore_ssl_errors: Option<bool>,
    /// One call only: no retries.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub do_not_retry: Option<bool>,
    /// The receiver's URL (only its host is ever exported).
    #[serde(default, deserialize_with = "lenient_string")]
    pub request_url: Option<String>,
    /// Free text; only in `GET /v2/webhooks/:id`.
    #[serde(default, deserialize_with = "lenient_string")]
    pub description: Option<String>,
    /// Apify's own counters.
    #[serde(default, deserialize_with = "lenient_object")]
    pub stats: Option<Stats>,
}

/// The Actor or task whose runs a webhook watches.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// The Actor id, for an Actor webhook.
    #[serde(default, deserialize_with = "lenient_string")]
    pub actor_id: Option<String>,
    /// The task id, for a task webhook.
    #[serde(default, deserialize_with = "lenient_string")]
    pub actor_task_id: Option<String>,
}

/// A webhook's counters kept by Apify.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Negative or non-integer values (seen from the mock server) are `None`.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub total_dispatches: Option<u64>,
}

/// An optional object: one that does not decode (a string, a number, a
/// list) becomes `None`, like a missing one, rather than failing the whole
/// webhook list, which would make every webhook look deleted.
fn lenient_object<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    Ok(serde_json::from_value(serde_json::Value::deserialize(d)?).ok())
}

/// Event types as the API gives them (unknown ones pass through), each once,
/// in their first order; non-string entries are dropped, and anything but
/// a list reads as none.
fn event_types<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let values = match serde_json::Value::deserialize(d)? {
        serde_json::Value::Array(values) => values,
        _ => Vec::new(),
    };
    let mut out: Vec<String> = Vec::new();
    for v in values {
        if let serde_json::Value::String(s) = v {
            if !out.contains(&s) {
                out.push(s);
            }
        }
    }
    Ok(out)
}

/// Which webhook list to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WebhookList {
    /// All of the user's webhooks.
    All,
    Actor(String),
    ActorTask(String),
}

impl WebhookList {
    fn endpoint(&self) -> &'static str {
        match self {
            WebhookList::All => "/v2/webhooks",
            WebhookList::Actor(_) => "/v2/acts/:id/webhooks",
            WebhookList::ActorTask(_) => "/v2/actor-tasks/:id/webhooks",
        }
    }

    fn path(&self) -> String {
        match self {
            WebhookList::All => "/v2/webhooks".to_string(),
            WebhookList::Actor(id) => format!("/v2/acts/{}/webhooks", segment(id)),
            WebhookList::ActorTask(id) => format!("/v2/actor-tasks/{}/webhooks", segment(id)),
        }
    }
}

/// Bounds the page loop whatever `total` claims (the mock server claims 1e8).
const MAX_WEBHOOK_PAGES: usize = 100;

impl Client {
    /// Every webhook of a list, all pages. Ascending order (the default):
    /// webhooks created while paging land on the last page instead of
    /// shifting earlier ones; ids are de-duplicated anyway.
    pub(crate) async fn list_webhooks(&self, list: &WebhookList) -> Result<Vec<Webhook>, ApiError> {
        let path = list.path();
        let mut out: Vec<Webhook> = Vec::new();
        let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
        let mut offset = 0usize;
        for _ in 0..MAX_WEBHOOK_PAGES {
            let query = [
                ("offset", offset.to_string()),
                ("limit", MAX_PAGE_LIMIT.to_string()),
            ];
            let page: Page<Webhook> = self.get(list.endpoint(), &path, &query).await?;
            if page.items.is_empty() {
                break;
            }
            offset += page.items.len();
            let before = out.len();
            for w in page.items {
                if seen.insert(w.id.clone()) {
                    out.push(w);
                }
            }
            // A page of nothing new means the paging is broken (the mock
            // server answers every offset with the same items): stop.
            let nothing_new = out.len() == before;
            if nothing_new || page.total.is_some_and(|total| offset as u64 >= total) {
                break;
            }
        }
        Ok(out)
    }

    /// One webhook with all its fields; `None` when Apify says 404.
    pub(crate) async fn get_webhook(&self, id: &str) -> Result<Option<Webhook>, ApiError> {
        let path = format!("/v2/webhooks/{}", segment(id));
        match self.get("/v2/webhooks/:id", &path, &[]).await {
            Ok(w) => Ok(Some(w)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }
}
