//! `FakeApify`: a programmable, in-process fake of the slice of the Apify API
//! v2 that the exporter reads (webhooks and webhook dispatches), served by
//! hyper 1 on a listener the caller has bound.
//!
//! It owns the fake account's state (webhooks, dispatches), the queue of
//! faults to answer with, and the log of requests received. Integration tests
//! drive it directly; `--demo` drives it through [`super::simulation`];
//! `examples/fake_api` serves it as its own process.
//! It mimics what the exporter depends on: the `{"data": ...}` envelope,
//! pagination (`offset`, `limit` clamped to 1000, `desc`), the `WebhookShort`
//! shape of webhook lists, Apify-style error bodies, Bearer authentication,
//! and a `stats.totalDispatches` that follows the dispatches it is given.
//!
//! Its parts: `control` (the methods that shape the account and read the
//! request log), `lists` (paging, filtering, the `WebhookShort` shape),
//! `routes` (paths, the handler, error answers) and `server` (the
//! accept loop and its drain).

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::value::RawValue;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

mod control;
mod lists;
mod routes;
mod server;
#[cfg(test)]
mod test_support;

use routes::error_body;

/// Route templates, as recorded in [`RecordedRequest::route`] and as
/// accepted by [`FakeApify::inject`].
pub mod route {
    /// Every webhook of the account.
    pub const WEBHOOKS: &str = "/v2/webhooks";
    /// One webhook.
    pub const WEBHOOK: &str = "/v2/webhooks/:id";
    /// One webhook's dispatches.
    pub const WEBHOOK_DISPATCHES: &str = "/v2/webhooks/:id/dispatches";
    /// Every dispatch of the account.
    pub const DISPATCHES: &str = "/v2/webhook-dispatches";
    /// One dispatch.
    pub const DISPATCH: &str = "/v2/webhook-dispatches/:id";
    /// An Actor's webhooks.
    pub const ACT_WEBHOOKS: &str = "/v2/acts/:id/webhooks";
    /// An Actor's webhooks, under the older path.
    pub const ACTOR_WEBHOOKS: &str = "/v2/actors/:id/webhooks";
    /// A task's webhooks.
    pub const ACTOR_TASK_WEBHOOKS: &str = "/v2/actor-tasks/:id/webhooks";
    /// One Actor.
    pub const ACT: &str = "/v2/acts/:id";
    /// One task.
    pub const ACTOR_TASK: &str = "/v2/actor-tasks/:id";
}

/// A programmable fake Apify API. Cloning is cheap and every clone sees the
/// same account.
#[derive(Clone)]
pub struct FakeApify {
    state: Arc<Mutex<State>>,
}

/// What the fake answers instead of the normal response, once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status, these headers and this body. A
    /// `Content-Type: application/json` is added unless a content type is given.
    Status {
        /// The HTTP status.
        status: u16,
        /// Extra headers, such as `Retry-After`.
        headers: Vec<(String, String)>,
        /// The body, as is.
        body: String,
    },
    /// 200 with a body that is not valid JSON.
    Malformed,
    /// Wait, then answer normally.
    Delay(Duration),
    /// 200 with a body of this many bytes (a JSON list padded with
    /// spaces), sent with its `Content-Length`.
    Oversized {
        /// The size of the body.
        bytes: usize,
    },
    /// Put these dispatches into the account, then answer normally: new
    /// dispatches that arrive while the exporter pages a list, so that
    /// its later pages shift.
    Arrive(Vec<Value>),
    /// Wait until the gate is opened, then answer normally: a request a
    /// test holds for exactly as long as it needs, whatever the machine's
    /// pace.
    Hold(Gate),
}

/// What a [`Fault::Hold`] waits for; clones share one gate.
#[derive(Clone)]
pub struct Gate(Arc<tokio::sync::Semaphore>);

impl Default for Gate {
    fn default() -> Gate {
        Gate::new()
    }
}

impl Gate {
    /// A closed gate.
    pub fn new() -> Gate {
        Gate(Arc::new(tokio::sync::Semaphore::new(0)))
    }

    /// Lets every request held at this gate, and every later one, through.
    pub fn open(&self) {
        self.0.close();
    }

    /// Waits until the gate is opened: a closed semaphore answers every
    /// waiter, present and future, with an error, which is the signal.
    async fn pass(&self) {
        let _ = self.0.acquire().await;
    }
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Gate")
    }
}

impl PartialEq for Gate {
    fn eq(&self, other: &Gate) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Gate {}

impl Fault {
    /// A status answer with an Apify-style error body and no extra header.
    pub fn status(status: u16, error_type: &str, message: &str) -> Self {
        Fault::Status {
            status,
            headers: Vec::new(),
            body: error_body(error_type, message),
        }
    }

    /// A `302 Found` sending the client to `location` (another origin, say).
    pub fn redirect(location: &str) -> Self {
        Fault::Status {
            status: 302,
            headers: vec![("Location".to_owned(), location.to_owned())],
            body: String::new(),
        }
    }

    /// A 429 as Apify sends it, with `Retry-After: <seconds>`.
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Fault::Status {
            status: 429,
            headers: vec![("Retry-After".to_owned(), retry_after_secs.to_string())],
            body: error_body(
                "rate-limit-exceeded",
                "You have exceeded the rate limit. Please try again later.",
            ),
        }
    }
}

/// One request as the fake received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `GET`, `HEAD`...
    pub method: String,
    /// Route template (see [`route`]), or `""` when the path matched none.
    pub route: String,
    /// The path as sent, percent-encoding included.
    pub path: String,
    /// Raw query string without the `?`; `""` when there was none.
    pub query: String,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
}

struct State {
    token: String,
    /// Set by [`FakeApify::revoke_token`]: every token is refused.
    token_revoked: bool,
    webhooks: HashMap<String, Value>,
    dispatches: HashMap<String, (SortKey, Value)>,
    /// Dispatches in `createdAt` order, so that a first page of the newest
    /// costs the page, not a sort of the whole history.
    dispatch_order: BTreeSet<(SortKey, String)>,
    /// Texts answered instead of a stored dispatch or webhook, by id (see
    /// [`FakeApify::put_raw_dispatch`]).
    raw_dispatches: HashMap<String, Box<RawValue>>,
    raw_webhooks: HashMap<String, Box<RawValue>>,
    /// Actors and tasks (see [`FakeApify::put_actor`]), by id.
    actors: HashMap<String, Value>,
    actor_tasks: HashMap<String, Value>,
    /// The `total` every list claims, instead of the true count.
    list_total: Option<u64>,
    /// Every list answers its first page whatever the offset.
    ignore_offset: bool,
    /// Dispatches left out of every list (see [`FakeApify::hide_from_lists`]).
    hidden: HashSet<String>,
    /// What is answered 403, as (route template, record id): a whole route
    /// without an id (see [`FakeApify::refuse_route`]), one record with
    /// it ([`FakeApify::refuse_record`]).
    refused: HashSet<(String, Option<String>)>,
    /// Webhook lists leave out ad-hoc webhooks (see
    /// [`FakeApify::list_ad_hoc_webhooks`]).
    ad_hoc_unlisted: bool,
    /// Per webhook id: dispatches with a new id put since its
    /// `stats.totalDispatches` was put, added to that count when served.
    added_since_count: HashMap<String, u64>,
    faults: HashMap<String, VecDeque<Fault>>,
    requests: VecDeque<RecordedRequest>,
    request_log_limit: Option<usize>,
}

/// `createdAt` as Unix nanoseconds; a missing or unparsable one sorts first.
type SortKey = Option<i128>;

fn sort_key(item: &Value) -> SortKey {
    let created_at = item.get("createdAt")?.as_str()?;
    OffsetDateTime::parse(created_at, &Rfc3339)
        .ok()
        .map(OffsetDateTime::unix_timestamp_nanos)
}

fn id_of(item: &Value) -> Option<String> {
    item.get("id")?.as_str().map(str::to_owned)
}

impl FakeApify {
    /// An empty account whose API accepts only `Authorization: Bearer <token>`.
    pub fn new(token: &str) -> Self {
        let state = State {
            token: token.to_owned(),
            token_revoked: false,
            webhooks: HashMap::new(),
            dispatches: HashMap::new(),
            dispatch_order: BTreeSet::new(),
            raw_dispatches: HashMap::new(),
            raw_webhooks: HashMap::new(),
            actors: HashMap::new(),
            actor_tasks: HashMap::new(),
            list_total: None,
            ignore_offset: false,
            hidden: HashSet::new(),
            refused: HashSet::new(),
            ad_hoc_unlisted: false,
            added_since_count: HashMap::new(),
            faults: HashMap::new(),
            requests: VecDeque::new(),
            request_log_limit: None,
        };
        FakeApify {
            state: Arc::new(Mutex::new(state)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock leaves consistent data:
        // every mutation in `control` is a single insert or remove.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Logs the request and takes the fault queued for its route, in one
    /// step, so that concurrent requests consume faults in arrival order.
    fn record(&self, request: RecordedRequest) -> Option<Fault> {
        let mut state = self.lock();
        let fault = if request.route.is_empty() {
            None
        } else {
            state
                .faults
                .get_mut(&request.route)
                .and_then(VecDeque::pop_front)
        };
        state.requests.push_back(request);
        state.trim_request_log();
        fault
    }
}

/// A webhook's `stats.totalDispatches` as put, when it is a count.
fn total_dispatches(webhook: &Value) -> Option<u64> {
    webhook.get("stats")?.get("totalDispatches")?.as_u64()
}

/// An item as a list or a read answers it: the stored value, or the raw
/// text stored for it.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum Item {
    Value(Value),
    Raw(Box<RawValue>),
}

impl State {
    /// The dispatch `id` as answered.
    fn dispatch_item(&self, id: &str, dispatch: &Value) -> Item {
        match self.raw_dispatches.get(id) {
            Some(raw) => Item::Raw(raw.clone()),
            None => Item::Value(dispatch.clone()),
        }
    }

    /// The webhook `id` as answered; `short` is its list shape.
    fn webhook_item(&self, id: &str, short: impl FnOnce() -> Value) -> Item {
        match self.raw_webhooks.get(id) {
            Some(raw) => Item::Raw(raw.clone()),
            None => Item::Value(short()),
        }
    }

    /// The webhook as the API shows it: its `stats.totalDispatches` (when
    /// it was put as a count) plus the dispatches put for it since, so the
    /// count follows the account like Apify's own: hidden dispatches
    /// included, removed ones not taken off (retention does not lower it).
    fn served_webhook(&self, webhook: &Value) -> Value {
        let mut served = webhook.clone();
        let added = id_of(webhook)
            .and_then(|id| self.added_since_count.get(&id).copied())
            .unwrap_or(0);
        if let (Some(total), Some(stats)) = (
            total_dispatches(webhook),
            served.get_mut("stats").and_then(Value::as_object_mut),
        ) {
            stats.insert(
                "totalDispatches".to_owned(),
                Value::from(total.saturating_add(added)),
            );
        }
        served
    }

    fn trim_request_log(&mut self) {
        if let Some(limit) = self.request_log_limit {
            while self.requests.len() > limit {
                self.requests.pop_front();
            }
        }
    }
}
