//! The demo account's cast, as data: three Actors and one task of a
//! fictional `acme` user, the event types they emit, and the five webhooks
//! watching them, each with a receiver that behaves its own way (see
//! [`super::receivers`]). The engine in [`super::simulation`] brings them to
//! life; nothing here moves.

use serde_json::{json, Value};

use super::receivers::Receiver;

pub(super) const USER_ID: &str = "wRsJZtadYvn4mBZmm";

const ACTOR_MAPS: &str = "moJRLRc85AitArpNN"; // acme~google-maps-leads
/// Also the Actor behind [`TASK_PRICES_DAILY`]: a task's dispatches name both.
pub(super) const ACTOR_PRICES: &str = "nFJndFXA5zjCTuudP"; // acme~shop-price-monitor
const ACTOR_CRAWLER: &str = "HDSasDasz78YcAPEB"; // acme~docs-crawler
const TASK_PRICES_DAILY: &str = "tZx9Lq2WmB7vKc4Rd"; // acme~shop-price-monitor-daily

/// The Actors and the task, as `GET /v2/acts/:id` and
/// `GET /v2/actor-tasks/:id` name them: (id, name, the Actor of a task).
pub(super) const OWNERS: [(&str, &str, Option<&str>); 4] = [
    (ACTOR_MAPS, "google-maps-leads", None),
    (ACTOR_PRICES, "shop-price-monitor", None),
    (ACTOR_CRAWLER, "docs-crawler", None),
    (
        TASK_PRICES_DAILY,
        "shop-price-monitor-daily",
        Some(ACTOR_PRICES),
    ),
];
/// Whose Actors and task they are.
pub(super) const USERNAME: &str = "acme";

const RUN_SUCCEEDED: &str = "ACTOR.RUN.SUCCEEDED";
const RUN_FAILED: &str = "ACTOR.RUN.FAILED";
const RUN_TIMED_OUT: &str = "ACTOR.RUN.TIMED_OUT";
const RUN_ABORTED: &str = "ACTOR.RUN.ABORTED";
const BUILD_SUCCEEDED: &str = "ACTOR.BUILD.SUCCEEDED";
const BUILD_FAILED: &str = "ACTOR.BUILD.FAILED";

/// What a webhook watches: an Actor's events, or a task's.
pub(super) enum Condition {
    Actor(&'static str),
    Task(&'static str),
}

pub(super) struct WebhookSpec {
    pub(super) id: &'static str,
    pub(super) description: &'static str,
    pub(super) request_url: &'static str,
    pub(super) event_types: &'static [(&'static str, u32)],
    pub(super) condition: Condition,
    pub(super) receiver: Receiver,
    /// Share of the account's dispatches.
    pub(super) weight: u32,
    pub(super) ignore_ssl_errors: bool,
    pub(super) payload_template: Option<&'static str>,
    pub(super) headers_template: Option<&'static str>,
    pub(super) created_days_ago: i64,
    /// Lifetime dispatches before the schedule's anchor, for `stats.totalDispatches`.
    pub(super) earlier_dispatches: u64,
}

impl WebhookSpec {
    /// A best-effort receiver gets a single attempt, as `doNotRetry` asks.
    pub(super) fn do_not_retry(&self) -> bool {
        self.receiver == Receiver::BestEffort
    }

    pub(super) fn condition_json(&self) -> Value {
        match self.condition {
            Condition::Actor(actor) => json!({ "actorId": actor }),
            Condition::Task(task) => json!({ "actorTaskId": task }),
        }
    }
}

/// Request URLs carry paths, queries and userinfo on purpose: the exporter
/// must export only their host.
pub(super) const WEBHOOKS: [WebhookSpec; 5] = [
    WebhookSpec {
        id: "kQ8mZ3xV1pLr7TnWd",
        description: "Notify Slack when a Google Maps leads run finishes",
        request_url:
            "https://hooks.slack.com/services/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",
        event_types: &[(RUN_SUCCEEDED, 8), (RUN_FAILED, 2)],
        condition: Condition::Actor(ACTOR_MAPS),
        receiver: Receiver::Healthy,
        weight: 35,
        ignore_ssl_errors: false,
        payload_template: Some(
            "{\"text\": \"Run {{resource.id}} of {{eventData.actorId}}: {{eventType}}\"}",
        ),
        headers_template: None,
        created_days_ago: 94,
        earlier_dispatches: 4_120,
    },
    WebhookSpec {
        id: "Rt5YhN2bGc9WqE4sA",
        description: "Push daily prices to the shop's ingest API",
        request_url:
            "https://ingest.shop.example.com/v1/apify/webhook?source=apify&key=sk_live_51Hxq",
        event_types: &[(RUN_SUCCEEDED, 1)],
        condition: Condition::Task(TASK_PRICES_DAILY),
        receiver: Receiver::Flaky,
        weight: 20,
        ignore_ssl_errors: false,
        payload_template: None,
        headers_template: Some("{\"X-Ingest-Key\": \"{{resource.defaultKeyValueStoreId}}\"}"),
        created_days_ago: 61,
        earlier_dispatches: 1_874,
    },
    WebhookSpec {
        id: "bX2fJ7kP0sUe6MvYc",
        description: "Trigger CI deploy after the crawler builds",
        request_url: "https://deploy-bot:hunter2@ci.example.org/hooks/apify-buld",
        event_types: &[(BUILD_SUCCEEDED, 7), (BUILD_FAILED, 3)],
        condition: Condition::Actor(ACTOR_CRAWLER),
        receiver: Receiver::Misconfigured,
        weight: 10,
        ignore_ssl_errors: false,
        payload_template: None,
        headers_template: None,
        created_days_ago: 12,
        earlier_dispatches: 96,
    },
    WebhookSpec {
        id: "Wn4cT8aQ3rHy1ZoLe",
        description: "Page on-call when a price monitor run fails or times out",
        request_url: "https://alerts.internal.example.net:8443/v2/enqueue?routing_key=R0UT1NGK3Y",
        event_types: &[(RUN_FAILED, 5), (RUN_TIMED_OUT, 4), (RUN_ABORTED, 1)],
        condition: Condition::Task(TASK_PRICES_DAILY),
        receiver: Receiver::TimesOut,
        weight: 15,
        ignore_ssl_errors: true,
        payload_template: None,
        headers_template: None,
        created_days_ago: 33,
        earlier_dispatches: 512,
    },
    WebhookSpec {
        id: "Pz6sM1dK9vBf3XgUh",
        description: "Record every price monitor run in analytics (best effort)",
        request_url: "https://analytics.example.io/collect/apify-runs?tid=G-0000000",
        event_types: &[(RUN_SUCCEEDED, 7), (RUN_FAILED, 2), (RUN_TIMED_OUT, 1)],
        condition: Condition::Actor(ACTOR_PRICES),
        receiver: Receiver::BestEffort,
        weight: 20,
        ignore_ssl_errors: false,
        payload_template: None,
        headers_template: None,
        created_days_ago: 150,
        earlier_dispatches: 9_307,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_urls_carry_paths_queries_and_userinfo() {
        let urls: Vec<url::Url> = WEBHOOKS
            .iter()
            .map(|w| url::Url::parse(w.request_url).expect("URL"))
            .collect();
        assert!(urls
            .iter()
            .all(|u| u.path().len() > 1 && u.host_str().is_some()));
        assert!(urls.iter().any(|u| u.query().is_some()));
        assert!(urls.iter().any(|u| u.password().is_some()));
    }
}
