//! Webhooks: `GET /v2/webhooks`, `/v2/webhooks/:id`,
//! `/v2/acts/:id/webhooks` and `/v2/actor-tasks/:id/webhooks`.

use serde::Deserialize;

use super::decode::{
    lenient_bool, lenient_object, lenient_string, lenient_u64, path_id, Undecodable,
};
use super::{ApiError, Client, Page, MAX_PAGE_LIMIT};

/// A webhook. The list endpoints return Apify's `WebhookShort`, which lacks
/// `description`; `GET /v2/webhooks/:id` returns all of it.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Webhook {
    /// The webhook id.
    #[serde(deserialize_with = "path_id")]
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

    fn path(&self) -> Vec<&str> {
        match self {
            WebhookList::All => vec!["v2", "webhooks"],
            WebhookList::Actor(id) => vec!["v2", "acts", id, "webhooks"],
            WebhookList::ActorTask(id) => vec!["v2", "actor-tasks", id, "webhooks"],
        }
    }
}

/// Bounds the page loop whatever the API answers (the mock server claims a
/// total of 1e8 and answers every offset).
const MAX_WEBHOOK_PAGES: usize = 100;

/// The webhooks of a list, and the items of it that could not be decoded.
#[derive(Debug, Default)]
pub(crate) struct WebhookListing {
    pub(crate) webhooks: Vec<Webhook>,
    pub(crate) skipped: Vec<Undecodable>,
}

impl Client {
    /// Every webhook of a list, all pages, until a short or empty page
    /// (never because of `total`, which may understate the list). Ascending
    /// order (the default): webhooks created while paging land on the last
    /// page instead of shifting earlier ones; ids are de-duplicated anyway.
    /// An item that cannot be decoded is left out and reported.
    pub(crate) async fn list_webhooks(
        &self,
        list: &WebhookList,
    ) -> Result<WebhookListing, ApiError> {
        let path = list.path();
        let mut out = WebhookListing::default();
        let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
        let mut offset = 0usize;
        for _ in 0..MAX_WEBHOOK_PAGES {
            let query = [
                ("offset", offset.to_string()),
                ("limit", MAX_PAGE_LIMIT.to_string()),
            ];
            let bytes = self.get_bytes(list.endpoint(), &path, &query).await?;
            let mut page: Page<Webhook> = self.decode_page(list.endpoint(), &bytes)?;
            let last = page.is_last(MAX_PAGE_LIMIT);
            offset += page.listed();
            let before = seen.len();
            for w in page.items {
                if seen.insert(w.id.clone()) {
                    out.webhooks.push(w);
                }
            }
            for u in page.skipped.drain(..) {
                if seen.insert(u.key.clone()) {
                    out.skipped.push(u);
                }
            }
            // A page of nothing new means the paging is broken (the mock
            // server answers every offset with the same items): stop.
            if last || seen.len() == before {
                break;
            }
        }
        Ok(out)
    }

    /// One webhook with all its fields; `None` when Apify says 404.
    pub(crate) async fn get_webhook(&self, id: &str) -> Result<Option<Webhook>, ApiError> {
        match self
            .get("/v2/webhooks/:id", &["v2", "webhooks", id], &[])
            .await
        {
            Ok(w) => Ok(Some(w)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }
}
