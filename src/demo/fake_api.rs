//! `FakeApify`: a programmable, in-process fake of the slice of the Apify API
//! v2 that the exporter reads (webhooks and webhook dispatches), served by
//! hyper 1 on a listener the caller has bound.
//!
//! It owns the fake account's state (webhooks, dispatches), the queue of
//! faults to answer with, and the log of requests received. Integration tests
//! drive it directly; `--demo` drives it through [`super::simulation`].
//! It mimics what the exporter depends on: the `{"data": ...}` envelope,
//! pagination (`offset`, `limit` clamped to 1000, `desc`), the `WebhookShort`
//! shape of webhook lists, Apify-style error bodies, Bearer authentication.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue, ALLOW, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

/// Route templates, as recorded in [`RecordedRequest::route`] and as
/// accepted by [`FakeApify::inject`].
pub mod route {
    pub const WEBHOOKS: &str = "/v2/webhooks";
    pub const WEBHOOK: &str = "/v2/webhooks/:id";
    pub const WEBHOOK_DISPATCHES: &str = "/v2/webhooks/:id/dispatches";
    pub const DISPATCHES: &str = "/v2/webhook-dispatches";
    pub const DISPATCH: &str = "/v2/webhook-dispatches/:id";
    pub const ACT_WEBHOOKS: &str = "/v2/acts/:id/webhooks";
    pub const ACTOR_WEBHOOKS: &str = "/v2/actors/:id/webhooks";
    pub const ACTOR_TASK_WEBHOOKS: &str = "/v2/actor-tasks/:id/webhooks";
}

/// The real API never returns more than this many items per page.
const MAX_LIMIT: usize = 1000;

/// Fields the real API leaves out of `WebhookShort`, the shape of list items.
const NOT_IN_SHORT: [&str; 3] = ["description", "payloadTemplate", "headersTemplate"];

/// How long shutdown waits for in-flight answers (a `Fault::Delay`, say)
/// before it drops the connections still open.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

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
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// 200 with a body that is not valid JSON.
    Malformed,
    /// Wait, then answer normally.
    Delay(Duration),
}

impl Fault {
    /// A status answer with an Apify-style error body and no extra header.
    pub fn status(status: u16, error_type: &str, message: &str) -> Self {
        Fault::Status {
            status,
            headers: Vec::new(),
            body: error_body(error_type, message),
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
    pub method: String,
    /// Route template (see [`route`]), or `""` when the path matched none.
    pub route: String,
    pub path: String,
    /// Raw query string without the `?`; `""` when there was none.
    pub query: String,
    pub authorization: Option<String>,
}

struct State {
    token: String,
    webhooks: HashMap<String, Value>,
    dispatches: HashMap<String, (SortKey, Value)>,
    /// Dispatches in `createdAt` order, so that a first page of the newest
    /// costs the page, not a sort of the whole history.
    dispatch_order: BTreeSet<(SortKey, String)>,
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
            webhooks: HashMap::new(),
            dispatches: HashMap::new(),
            dispatch_order: BTreeSet::new(),
            faults: HashMap::new(),
            requests: VecDeque::new(),
            request_log_limit: None,
        };
        FakeApify {
            state: Arc::new(Mutex::new(state)),
        }
    }

    /// Serves the API on `listener` until `shutdown` is cancelled; then
    /// lets in-flight answers finish (for at most a couple of seconds).
    pub fn spawn(&self, listener: TcpListener, shutdown: CancellationToken) -> JoinHandle<()> {
        let fake = self.clone();
        tokio::spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => {
                            connections.spawn(serve_connection(fake.clone(), stream, shutdown.clone()));
                        }
                        Err(error) => {
                            // Out of file descriptors and the like: pause rather than spin.
                            tracing::debug!(%error, "fake Apify API: accept failed");
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    },
                    // Reap finished connections so that the set stays small.
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                }
            }
            let drain = async { while connections.join_next().await.is_some() {} };
            if tokio::time::timeout(DRAIN_TIMEOUT, drain).await.is_err() {
                connections.abort_all();
            }
        })
    }

    /// Adds or replaces a webhook (the full object, as `GET /v2/webhooks/:id`
    /// returns it), keyed by its `id`.
    pub fn put_webhook(&self, webhook: Value) {
        let Some(id) = id_of(&webhook) else {
            tracing::warn!("fake Apify API: ignoring a webhook without a string \"id\"");
            return;
        };
        self.lock().webhooks.insert(id, webhook);
    }

    pub fn remove_webhook(&self, id: &str) {
        self.lock().webhooks.remove(id);
    }

    /// A webhook's full object, if there is one with this id.
    pub fn webhook(&self, id: &str) -> Option<Value> {
        self.lock().webhooks.get(id).cloned()
    }

    /// Adds or replaces a dispatch (the full object), keyed by its `id`.
    pub fn put_dispatch(&self, dispatch: Value) {
        let Some(id) = id_of(&dispatch) else {
            tracing::warn!("fake Apify API: ignoring a dispatch without a string \"id\"");
            return;
        };
        let key = sort_key(&dispatch);
        let mut state = self.lock();
        if let Some((old_key, _)) = state.dispatches.insert(id.clone(), (key, dispatch)) {
            state.dispatch_order.remove(&(old_key, id.clone()));
        }
        state.dispatch_order.insert((key, id));
    }

    pub fn remove_dispatch(&self, id: &str) {
        let mut state = self.lock();
        if let Some((key, _)) = state.dispatches.remove(id) {
            state.dispatch_order.remove(&(key, id.to_owned()));
        }
    }

    pub fn dispatch(&self, id: &str) -> Option<Value> {
        self.lock().dispatches.get(id).map(|(_, d)| d.clone())
    }

    /// Every webhook (full objects), oldest `createdAt` first.
    pub fn webhooks(&self) -> Vec<Value> {
        let state = self.lock();
        let mut webhooks: Vec<(SortKey, &String, &Value)> = state
            .webhooks
            .iter()
            .map(|(id, webhook)| (sort_key(webhook), id, webhook))
            .collect();
        webhooks.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        webhooks
            .into_iter()
            .map(|(_, _, webhook)| webhook.clone())
            .collect()
    }

    /// Every dispatch, oldest `createdAt` first.
    pub fn dispatches(&self) -> Vec<Value> {
        let state = self.lock();
        state
            .dispatch_order
            .iter()
            .filter_map(|(_, id)| {
                state
                    .dispatches
                    .get(id)
                    .map(|(_, dispatch)| dispatch.clone())
            })
            .collect()
    }

    /// How many dispatches the account holds.
    pub fn dispatch_count(&self) -> usize {
        self.lock().dispatches.len()
    }

    /// Queues `fault` for the next request whose route template is `route`
    /// (see [`route`]). Faults of one route are consumed first in, first out,
    /// one per request.
    pub fn inject(&self, route: &str, fault: Fault) {
        self.lock()
            .faults
            .entry(route.to_owned())
            .or_default()
            .push_back(fault);
    }

    /// Faults still queued for `route`.
    pub fn pending_faults(&self, route: &str) -> usize {
        self.lock().faults.get(route).map_or(0, VecDeque::len)
    }

    /// Every request received, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.iter().cloned().collect()
    }

    pub fn clear_requests(&self) {
        self.lock().requests.clear();
    }

    /// Keeps only the newest `limit` requests in the log (`None`: keep all,
    /// the default). A long-running demo sets it so that memory stays flat.
    pub fn set_request_log_limit(&self, limit: Option<usize>) {
        let mut state = self.lock();
        state.request_log_limit = limit;
        state.trim_request_log();
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock leaves consistent data:
        // every mutation above is a single insert or remove.
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

    fn answer(
        &self,
        method: &Method,
        route: Option<&Route>,
        query: &str,
        authorization: Option<&str>,
    ) -> Response<Full<Bytes>> {
        let Some(route) = route else {
            return error_response(
                StatusCode::NOT_FOUND,
                "page-not-found",
                "We have bad news: there is no API endpoint at this URL.",
            );
        };
        if method != Method::GET && method != Method::HEAD {
            let mut response = error_response(
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "This API end-point can only be accessed using the following HTTP methods: GET,HEAD",
            );
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            return response;
        }
        let state = self.lock();
        if !is_authorized(authorization, &state.token) {
            return error_response(
                StatusCode::UNAUTHORIZED,
                "token-not-valid",
                "Authentication token is not valid.",
            );
        }
        let params = match ListParams::parse(query) {
            Ok(params) => params,
            Err(message) => {
                return error_response(StatusCode::BAD_REQUEST, "invalid-input", &message)
            }
        };
        match route {
            Route::Webhooks => state.webhook_list(&params, |_| true),
            Route::Webhook(id) => match state.webhooks.get(id) {
                Some(webhook) => json_response(StatusCode::OK, &json!({ "data": webhook })),
                None => not_found("Webhook was not found."),
            },
            Route::WebhookDispatches(id) => {
                if state.webhooks.contains_key(id) {
                    state.dispatch_list(&params, Some(id))
                } else {
                    not_found("Webhook was not found.")
                }
            }
            Route::Dispatches => state.dispatch_list(&params, None),
            Route::Dispatch(id) => match state.dispatches.get(id) {
                Some((_, dispatch)) => json_response(StatusCode::OK, &json!({ "data": dispatch })),
                None => not_found("Webhook dispatch was not found."),
            },
            Route::ActorWebhooks { id, .. } => {
                state.webhook_list(&params, |w| condition_is(w, "actorId", id))
            }
            Route::ActorTaskWebhooks(id) => {
                state.webhook_list(&params, |w| condition_is(w, "actorTaskId", id))
            }
        }
    }
}

impl State {
    fn trim_request_log(&mut self) {
        if let Some(limit) = self.request_log_limit {
            while self.requests.len() > limit {
                self.requests.pop_front();
            }
        }
    }

    fn webhook_list(
        &self,
        params: &ListParams,
        keep: impl Fn(&Value) -> bool,
    ) -> Response<Full<Bytes>> {
        let mut selected: Vec<(SortKey, &str, &Value)> = self
            .webhooks
            .iter()
            .filter(|(_, webhook)| keep(webhook))
            .map(|(id, webhook)| (sort_key(webhook), id.as_str(), webhook))
            .collect();
        selected.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        if params.desc {
            selected.reverse();
        }
        let total = selected.len();
        let items = selected
            .into_iter()
            .skip(params.offset)
            .take(params.limit)
            .map(|(_, _, webhook)| webhook_short(webhook))
            .collect();
        page_response(params, total, items)
    }

    fn dispatch_list(
        &self,
        params: &ListParams,
        webhook_id: Option<&str>,
    ) -> Response<Full<Bytes>> {
        let ordered = || -> Box<dyn Iterator<Item = &(SortKey, String)>> {
            if params.desc {
                Box::new(self.dispatch_order.iter().rev())
            } else {
                Box::new(self.dispatch_order.iter())
            }
        };
        let matching = ordered()
            .filter_map(|(_, id)| self.dispatches.get(id).map(|(_, dispatch)| dispatch))
            .filter(|dispatch| match webhook_id {
                Some(wanted) => dispatch.get("webhookId").and_then(Value::as_str) == Some(wanted),
                None => true,
            });
        let (total, items) = match webhook_id {
            // Account-wide, the total is known without a scan, and skipping
            // walks the index alone (deep pages of a million-item account
            // stay cheap for the benchmarks).
            None => {
                let items = ordered()
                    .skip(params.offset)
                    .take(params.limit)
                    .filter_map(|(_, id)| self.dispatches.get(id).map(|(_, d)| d.clone()))
                    .collect();
                (self.dispatches.len(), items)
            }
            Some(_) => {
                let mut total = 0;
                let mut items = Vec::new();
                for dispatch in matching {
                    if total >= params.offset && items.len() < params.limit {
                        items.push(dispatch.clone());
                    }
                    total += 1;
                }
                (total, items)
            }
        };
        page_response(params, total, items)
    }
}

fn condition_is(webhook: &Value, field: &str, wanted: &str) -> bool {
    webhook
        .get("condition")
        .and_then(|c| c.get(field))
        .and_then(Value::as_str)
        == Some(wanted)
}

fn webhook_short(webhook: &Value) -> Value {
    let mut short = webhook.clone();
    if let Some(fields) = short.as_object_mut() {
        for field in NOT_IN_SHORT {
            fields.remove(field);
        }
    }
    short
}

fn is_authorized(authorization: Option<&str>, token: &str) -> bool {
    let Some((scheme, credentials)) = authorization.and_then(|a| a.split_once(' ')) else {
        return false;
    };
    scheme.eq_ignore_ascii_case("bearer") && credentials.trim() == token
}

/// The paging parameters of a list request, defaults applied.
#[derive(Debug, PartialEq, Eq)]
struct ListParams {
    offset: usize,
    limit: usize,
    desc: bool,
}

impl ListParams {
    fn parse(query: &str) -> Result<Self, String> {
        let mut params = ListParams {
            offset: 0,
            limit: MAX_LIMIT,
            desc: false,
        };
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            match name.as_ref() {
                "offset" => params.offset = count_param("offset", &value)?,
                "limit" => params.limit = count_param("limit", &value)?.min(MAX_LIMIT),
                "desc" => params.desc = matches!(value.as_ref(), "true" | "1"),
                _ => {}
            }
        }
        Ok(params)
    }
}

/// A non-negative whole number; the spec types paging fields as doubles, so
/// `10.0` is accepted too.
fn count_param(name: &str, value: &str) -> Result<usize, String> {
    let invalid = || format!("Invalid input: parameter \"{name}\" must be a non-negative integer.");
    if let Ok(n) = value.parse::<usize>() {
        return Ok(n);
    }
    let float = value.parse::<f64>().map_err(|_| invalid())?;
    if float.is_finite() && float >= 0.0 && float.fract() == 0.0 {
        // Saturates for absurdly large values, which then just mean "past the end".
        Ok(float as usize)
    } else {
        Err(invalid())
    }
}

fn page_response(params: &ListParams, total: usize, items: Vec<Value>) -> Response<Full<Bytes>> {
    let body = json!({
        "data": {
            "total": total,
            "offset": params.offset,
            "limit": params.limit,
            "desc": params.desc,
            "count": items.len(),
            "items": items,
        }
    });
    json_response(StatusCode::OK, &body)
}

/// A matched route, with its path parameter.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    Webhooks,
    Webhook(String),
    WebhookDispatches(String),
    Dispatches,
    Dispatch(String),
    /// `/v2/acts/...` is the older alias of `/v2/actors/...`; both are kept
    /// apart so that a test can tell which one a client used.
    ActorWebhooks {
        template: &'static str,
        id: String,
    },
    ActorTaskWebhooks(String),
}

impl Route {
    fn resolve(path: &str) -> Option<Route> {
        // The real API takes a trailing slash as the same resource.
        let path = path.strip_suffix('/').unwrap_or(path);
        let rest = path.strip_prefix("/v2/")?;
        let segments: Vec<&str> = rest.split('/').collect();
        if segments.iter().any(|s| s.is_empty()) {
            return None;
        }
        let id = |segment: &str| percent_decode(segment);
        let route = match segments.as_slice() {
            ["webhooks"] => Route::Webhooks,
            ["webhooks", webhook] => Route::Webhook(id(webhook)?),
            ["webhooks", webhook, "dispatches"] => Route::WebhookDispatches(id(webhook)?),
            ["webhook-dispatches"] => Route::Dispatches,
            ["webhook-dispatches", dispatch] => Route::Dispatch(id(dispatch)?),
            ["acts", actor, "webhooks"] => Route::ActorWebhooks {
                template: route::ACT_WEBHOOKS,
                id: id(actor)?,
            },
            ["actors", actor, "webhooks"] => Route::ActorWebhooks {
                template: route::ACTOR_WEBHOOKS,
                id: id(actor)?,
            },
            ["actor-tasks", task, "webhooks"] => Route::ActorTaskWebhooks(id(task)?),
            _ => return None,
        };
        Some(route)
    }

    fn template(&self) -> &'static str {
        match self {
            Route::Webhooks => route::WEBHOOKS,
            Route::Webhook(_) => route::WEBHOOK,
            Route::WebhookDispatches(_) => route::WEBHOOK_DISPATCHES,
            Route::Dispatches => route::DISPATCHES,
            Route::Dispatch(_) => route::DISPATCH,
            Route::ActorWebhooks { template, .. } => template,
            Route::ActorTaskWebhooks(_) => route::ACTOR_TASK_WEBHOOKS,
        }
    }
}

/// Decodes `%XX` escapes (an actor id may be `owner~name`, which some clients
/// escape). `None` when the escapes do not decode to UTF-8.
fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                decoded.push(byte);
                i += 3;
            }
            None => {
                decoded.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(decoded).ok()
}

async fn serve_connection(fake: FakeApify, stream: TcpStream, shutdown: CancellationToken) {
    let service = service_fn(move |request| handle(fake.clone(), request));
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%error, "fake Apify API: connection ended with an error");
    }
}

async fn handle(
    fake: FakeApify,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or_default().to_owned();
    let authorization = request
        .headers()
        .get(AUTHORIZATION)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
    let route = Route::resolve(&path);

    let fault = fake.record(RecordedRequest {
        method: method.to_string(),
        route: route.as_ref().map_or("", Route::template).to_owned(),
        path,
        query: query.clone(),
        authorization: authorization.clone(),
    });

    let response = match fault {
        Some(Fault::Status {
            status,
            headers,
            body,
        }) => fault_response(status, &headers, body),
        Some(Fault::Malformed) => {
            let mut response = Response::new(Full::new(Bytes::from_static(
                b"{\"data\": {\"total\": 3, \"items\": [",
            )));
            response.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            );
            response
        }
        Some(Fault::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            fake.answer(&method, route.as_ref(), &query, authorization.as_deref())
        }
        None => fake.answer(&method, route.as_ref(), &query, authorization.as_deref()),
    };
    Ok(without_body_for_head(&method, response))
}

fn fault_response(
    status: u16,
    headers: &[(String, String)],
    body: String,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or_else(|_| {
        tracing::warn!(
            status,
            "fake Apify API: injected status is not a valid HTTP status; answering 500"
        );
        StatusCode::INTERNAL_SERVER_ERROR
    });
    for (name, value) in headers {
        match (
            HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(value.as_str()),
        ) {
            (Ok(name), Ok(value)) => {
                response.headers_mut().append(name, value);
            }
            _ => {
                tracing::warn!(%name, "fake Apify API: skipping an injected header that is not valid HTTP")
            }
        }
    }
    if !response.headers().contains_key(CONTENT_TYPE) {
        response.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
    }
    response
}

/// A HEAD answer carries the headers of the GET answer (its length
/// included) and no body.
fn without_body_for_head(
    method: &Method,
    response: Response<Full<Bytes>>,
) -> Response<Full<Bytes>> {
    if method != Method::HEAD {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let length = hyper::body::Body::size_hint(&body).exact().unwrap_or(0);
    parts
        .headers
        .insert(CONTENT_LENGTH, HeaderValue::from(length));
    Response::from_parts(parts, Full::new(Bytes::new()))
}

fn error_body(error_type: &str, message: &str) -> String {
    json!({ "error": { "type": error_type, "message": message } }).to_string()
}

fn error_response(status: StatusCode, error_type: &str, message: &str) -> Response<Full<Bytes>> {
    json_text_response(status, error_body(error_type, message))
}

fn not_found(message: &str) -> Response<Full<Bytes>> {
    error_response(StatusCode::NOT_FOUND, "record-not-found", message)
}

fn json_response(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    json_text_response(status, body.to_string())
}

fn json_text_response(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    const TOKEN: &str = "test-token";

    struct Served {
        fake: FakeApify,
        base: String,
        client: reqwest::Client,
        shutdown: CancellationToken,
        server: JoinHandle<()>,
    }

    impl Served {
        async fn start() -> Served {
            let fake = FakeApify::new(TOKEN);
            let listener = TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind 127.0.0.1:0");
            let base = format!("http://{}", listener.local_addr().expect("local addr"));
            let shutdown = CancellationToken::new();
            let server = fake.spawn(listener, shutdown.clone());
            let client = reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("client");
            Served {
                fake,
                base,
                client,
                shutdown,
                server,
            }
        }

        async fn get(&self, path_and_query: &str) -> (u16, Value) {
            let response = self
                .client
                .get(format!("{}{path_and_query}", self.base))
                .bearer_auth(TOKEN)
                .send()
                .await
                .expect("request");
            let status = response.status().as_u16();
            let body = response.json().await.expect("JSON body");
            (status, body)
        }

        async fn ids(&self, path_and_query: &str) -> Vec<String> {
            let (status, body) = self.get(path_and_query).await;
            assert_eq!(status, 200, "{path_and_query}: {body}");
            item_ids(&body)
        }

        async fn stop(self) {
            self.shutdown.cancel();
            tokio::time::timeout(Duration::from_secs(5), self.server)
                .await
                .expect("server stops within 5 s")
                .expect("server task ends cleanly");
        }
    }

    fn item_ids(body: &Value) -> Vec<String> {
        body["data"]["items"]
            .as_array()
            .expect("items array")
            .iter()
            .map(|item| item["id"].as_str().expect("item id").to_owned())
            .collect()
    }

    fn paging(body: &Value) -> (u64, u64, u64, bool, u64) {
        let data = &body["data"];
        (
            data["total"].as_u64().expect("total"),
            data["offset"].as_u64().expect("offset"),
            data["limit"].as_u64().expect("limit"),
            data["desc"].as_bool().expect("desc"),
            data["count"].as_u64().expect("count"),
        )
    }

    fn dispatch(id: &str, webhook_id: &str, second: u32) -> Value {
        json!({
            "id": id,
            "userId": "wRsJZtadYvn4mBZmm",
            "webhookId": webhook_id,
            "createdAt": format!("2026-11-26T10:{:02}:{:02}.000Z", second / 60, second % 60),
            "status": "SUCCEEDED",
            "eventType": "ACTOR.RUN.SUCCEEDED",
            "calls": [],
        })
    }

    fn webhook(id: &str, actor_id: Option<&str>, task_id: Option<&str>, minute: u32) -> Value {
        json!({
            "id": id,
            "createdAt": format!("2026-11-20T08:{minute:02}:00.000Z"),
            "modifiedAt": "2026-11-21T08:00:00.000Z",
            "userId": "wRsJZtadYvn4mBZmm",
            "isAdHoc": false,
            "eventTypes": ["ACTOR.RUN.SUCCEEDED"],
            "condition": { "actorId": actor_id, "actorTaskId": task_id },
            "requestUrl": "https://example.com/hook",
            "description": format!("webhook {id}"),
            "payloadTemplate": "{\"userId\": {{userId}}}",
            "headersTemplate": "{\"X-Key\": \"secret\"}",
            "stats": { "totalDispatches": 3 },
        })
    }

    #[tokio::test]
    async fn lists_dispatches_by_offset_limit_and_desc() {
        let served = Served::start().await;
        // Inserted out of order; d2a and d2b share a createdAt, so the id decides.
        for (id, second) in [
            ("d3", 3),
            ("d0", 0),
            ("d4", 4),
            ("d2b", 2),
            ("d1", 1),
            ("d2a", 2),
        ] {
            served.fake.put_dispatch(dispatch(id, "w1", second));
        }

        let (_, body) = served.get("/v2/webhook-dispatches").await;
        assert_eq!(paging(&body), (6, 0, 1000, false, 6));
        assert_eq!(item_ids(&body), ["d0", "d1", "d2a", "d2b", "d3", "d4"]);

        let (_, body) = served.get("/v2/webhook-dispatches?offset=1&limit=2").await;
        assert_eq!(paging(&body), (6, 1, 2, false, 2));
        assert_eq!(item_ids(&body), ["d1", "d2a"]);

        let (_, body) = served.get("/v2/webhook-dispatches?desc=true&limit=3").await;
        assert_eq!(paging(&body), (6, 0, 3, true, 3));
        assert_eq!(item_ids(&body), ["d4", "d3", "d2b"]);

        assert_eq!(
            served.ids("/v2/webhook-dispatches?desc=1&offset=5").await,
            ["d0"]
        );
        assert_eq!(
            served
                .ids("/v2/webhook-dispatches?desc=false&offset=4")
                .await,
            ["d3", "d4"]
        );

        let (_, body) = served.get("/v2/webhook-dispatches?offset=9").await;
        assert_eq!(paging(&body), (6, 9, 1000, false, 0));
        assert_eq!(item_ids(&body), Vec::<String>::new());
        served.stop().await;
    }

    #[tokio::test]
    async fn clamps_limit_to_1000_over_2500_items() {
        let served = Served::start().await;
        for n in 0..2500 {
            served
                .fake
                .put_dispatch(dispatch(&format!("d{n:04}"), "w1", n));
            served
                .fake
                .put_webhook(webhook(&format!("w{n:04}"), Some("a1"), None, n % 60));
        }
        served.fake.put_webhook(webhook("w1", None, None, 0));

        let (_, body) = served.get("/v2/webhook-dispatches?limit=5000").await;
        assert_eq!(paging(&body), (2500, 0, 1000, false, 1000));
        let ids = item_ids(&body);
        assert_eq!((ids[0].as_str(), ids[999].as_str()), ("d0000", "d0999"));

        let (_, body) = served
            .get("/v2/webhook-dispatches?desc=true&offset=2000&limit=1000")
            .await;
        assert_eq!(paging(&body), (2500, 2000, 1000, true, 500));
        let ids = item_ids(&body);
        assert_eq!((ids[0].as_str(), ids[499].as_str()), ("d0499", "d0000"));

        let (_, body) = served.get("/v2/webhooks/w1/dispatches?offset=1000").await;
        assert_eq!(paging(&body), (2500, 1000, 1000, false, 1000));
        assert_eq!(item_ids(&body)[0], "d1000");

        let (_, body) = served
            .get("/v2/actors/a1/webhooks?limit=1001&offset=2000")
            .await;
        assert_eq!(paging(&body), (2500, 2000, 1000, false, 500));
        served.stop().await;
    }

    #[tokio::test]
    async fn answers_401_without_the_right_bearer_token() {
        let served = Served::start().await;
        let url = format!("{}/v2/webhooks", served.base);
        let expected = json!({ "error": { "type": "token-not-valid", "message": "Authentication token is not valid." } });

        let response = served.client.get(&url).send().await.expect("request");
        assert_eq!(response.status().as_u16(), 401);
        assert_eq!(response.json::<Value>().await.expect("JSON"), expected);

        let response = served
            .client
            .get(&url)
            .bearer_auth("other")
            .send()
            .await
            .expect("request");
        assert_eq!(response.status().as_u16(), 401);
        assert_eq!(response.json::<Value>().await.expect("JSON"), expected);

        let response = served
            .client
            .get(&url)
            .basic_auth(TOKEN, None::<&str>)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status().as_u16(), 401);

        assert_eq!(served.get("/v2/webhooks").await.0, 200);
        let seen: Vec<Option<String>> = served
            .fake
            .requests()
            .into_iter()
            .map(|r| r.authorization)
            .collect();
        assert_eq!(seen[0], None);
        assert_eq!(seen[1].as_deref(), Some("Bearer other"));
        assert_eq!(seen[3].as_deref(), Some("Bearer test-token"));
        served.stop().await;
    }

    #[tokio::test]
    async fn answers_404_for_unknown_records_and_paths() {
        let served = Served::start().await;
        served.fake.put_webhook(webhook("w1", None, None, 0));
        for (path, error_type) in [
            ("/v2/webhooks/nope", "record-not-found"),
            ("/v2/webhooks/nope/dispatches", "record-not-found"),
            ("/v2/webhook-dispatches/nope", "record-not-found"),
            ("/v2/users/me", "page-not-found"),
            ("/v3/webhooks", "page-not-found"),
            ("/v2/webhooks/w1/dispatches/extra", "page-not-found"),
            ("/v2//webhooks", "page-not-found"),
        ] {
            let (status, body) = served.get(path).await;
            assert_eq!(
                (status, body["error"]["type"].as_str()),
                (404, Some(error_type)),
                "{path}"
            );
        }
        let routes: Vec<String> = served
            .fake
            .requests()
            .into_iter()
            .map(|r| r.route)
            .collect();
        assert_eq!(
            routes,
            [
                route::WEBHOOK,
                route::WEBHOOK_DISPATCHES,
                route::DISPATCH,
                "",
                "",
                "",
                ""
            ]
        );
        // A removed record is gone too.
        served.fake.remove_webhook("w1");
        assert_eq!(served.get("/v2/webhooks/w1").await.0, 404);
        served.stop().await;
    }

    #[tokio::test]
    async fn answers_405_to_methods_other_than_get_and_head() {
        let served = Served::start().await;
        served.fake.put_webhook(webhook("w1", None, None, 0));
        for method in [
            reqwest::Method::POST,
            reqwest::Method::PUT,
            reqwest::Method::DELETE,
        ] {
            let response = served
                .client
                .request(method.clone(), format!("{}/v2/webhooks/w1", served.base))
                .bearer_auth(TOKEN)
                .send()
                .await
                .expect("request");
            assert_eq!(response.status().as_u16(), 405, "{method}");
            assert_eq!(
                response
                    .headers()
                    .get("allow")
                    .and_then(|v| v.to_str().ok()),
                Some("GET, HEAD")
            );
            let body: Value = response.json().await.expect("JSON");
            assert_eq!(body["error"]["type"], "method-not-allowed");
        }
        let head = served
            .client
            .head(format!("{}/v2/webhooks/w1", served.base))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("request");
        assert_eq!(head.status().as_u16(), 200);
        assert_eq!(head.bytes().await.expect("body").len(), 0);
        let methods: Vec<String> = served
            .fake
            .requests()
            .into_iter()
            .map(|r| r.method)
            .collect();
        assert_eq!(methods, ["POST", "PUT", "DELETE", "HEAD"]);
        served.stop().await;
    }

    #[tokio::test]
    async fn consumes_faults_in_order_one_per_request_of_their_route() {
        let served = Served::start().await;
        served.fake.put_dispatch(dispatch("d1", "w1", 0));
        served.fake.inject(route::DISPATCH, Fault::rate_limited(1));
        served.fake.inject(
            route::DISPATCH,
            Fault::Status {
                status: 500,
                headers: vec![("Content-Type".to_owned(), "text/plain".to_owned())],
                body: "upstream exploded".to_owned(),
            },
        );
        served.fake.inject(route::DISPATCH, Fault::Malformed);
        served
            .fake
            .inject(route::DISPATCH, Fault::Delay(Duration::from_millis(50)));
        assert_eq!(served.fake.pending_faults(route::DISPATCH), 4);
        let url = format!("{}/v2/webhook-dispatches/d1", served.base);
        let get = || served.client.get(&url).bearer_auth(TOKEN).send();

        let first = get().await.expect("request");
        assert_eq!(first.status().as_u16(), 429);
        assert_eq!(
            first
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok()),
            Some("1")
        );
        let body: Value = first.json().await.expect("JSON");
        assert_eq!(body["error"]["type"], "rate-limit-exceeded");

        // Another route is not affected by this route's queue.
        assert_eq!(served.get("/v2/webhook-dispatches").await.0, 200);

        let second = get().await.expect("request");
        assert_eq!(second.status().as_u16(), 500);
        assert_eq!(
            second
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("text/plain")
        );
        assert_eq!(second.text().await.expect("text"), "upstream exploded");

        let third = get().await.expect("request");
        assert_eq!(third.status().as_u16(), 200);
        let text = third.text().await.expect("text");
        assert!(
            serde_json::from_str::<Value>(&text).is_err(),
            "{text} should not parse"
        );

        let started = Instant::now();
        let (status, body) = served.get("/v2/webhook-dispatches/d1").await;
        assert!(started.elapsed() >= Duration::from_millis(50));
        assert_eq!((status, body["data"]["id"].as_str()), (200, Some("d1")));

        assert_eq!(served.fake.pending_faults(route::DISPATCH), 0);
        assert_eq!(served.get("/v2/webhook-dispatches/d1").await.0, 200);
        // Faulted requests are recorded like the others.
        assert_eq!(served.fake.requests().len(), 6);
        served.stop().await;
    }

    #[tokio::test]
    async fn webhook_lists_return_the_short_shape() {
        let served = Served::start().await;
        let full = webhook("w1", Some("a1"), None, 0);
        served.fake.put_webhook(full.clone());

        let (_, body) = served.get("/v2/webhooks/w1").await;
        assert_eq!(body, json!({ "data": full }));

        let mut short = full.clone();
        for field in ["description", "payloadTemplate", "headersTemplate"] {
            short.as_object_mut().expect("object").remove(field);
        }
        for path in [
            "/v2/webhooks",
            "/v2/acts/a1/webhooks",
            "/v2/actors/a1/webhooks",
        ] {
            let (_, body) = served.get(path).await;
            assert_eq!(body["data"]["items"], json!([short]), "{path}");
        }
        served.stop().await;
    }

    #[tokio::test]
    async fn filters_webhooks_by_actor_and_by_task() {
        let served = Served::start().await;
        served
            .fake
            .put_webhook(webhook("w3", Some("a2"), Some("t1"), 3));
        served.fake.put_webhook(webhook("w1", Some("a1"), None, 1));
        served
            .fake
            .put_webhook(webhook("w2", Some("a1"), Some("t1"), 2));
        served.fake.put_webhook(webhook("w4", None, None, 4));

        assert_eq!(served.ids("/v2/acts/a1/webhooks").await, ["w1", "w2"]);
        assert_eq!(
            served.ids("/v2/actors/a1/webhooks?desc=true").await,
            ["w2", "w1"]
        );
        assert_eq!(
            served.ids("/v2/actor-tasks/t1/webhooks").await,
            ["w2", "w3"]
        );
        assert_eq!(
            served.ids("/v2/actors/a9/webhooks").await,
            Vec::<String>::new()
        );
        assert_eq!(served.ids("/v2/webhooks").await, ["w1", "w2", "w3", "w4"]);
        let routes: Vec<String> = served
            .fake
            .requests()
            .into_iter()
            .map(|r| r.route)
            .collect();
        assert_eq!(
            routes,
            [
                route::ACT_WEBHOOKS,
                route::ACTOR_WEBHOOKS,
                route::ACTOR_TASK_WEBHOOKS,
                route::ACTOR_WEBHOOKS,
                route::WEBHOOKS
            ]
        );
        served.stop().await;
    }

    #[tokio::test]
    async fn lists_a_webhooks_own_dispatches() {
        let served = Served::start().await;
        served.fake.put_webhook(webhook("w1", None, None, 1));
        served.fake.put_webhook(webhook("w2", None, None, 2));
        for (id, webhook_id, second) in [
            ("d1", "w1", 1),
            ("d2", "w2", 2),
            ("d3", "w1", 3),
            ("d4", "w1", 4),
        ] {
            served.fake.put_dispatch(dispatch(id, webhook_id, second));
        }
        let (_, body) = served
            .get("/v2/webhooks/w1/dispatches?desc=true&offset=1&limit=1")
            .await;
        assert_eq!(paging(&body), (3, 1, 1, true, 1));
        assert_eq!(item_ids(&body), ["d3"]);
        assert_eq!(served.ids("/v2/webhooks/w2/dispatches").await, ["d2"]);
        served.stop().await;
    }

    #[tokio::test]
    async fn replaces_and_removes_dispatches() {
        let served = Served::start().await;
        let mut d = dispatch("d1", "w1", 5);
        d["status"] = json!("ACTIVE");
        served.fake.put_dispatch(d.clone());
        served.fake.put_dispatch(dispatch("d0", "w1", 0));
        // A new createdAt moves it in the order.
        d["status"] = json!("SUCCEEDED");
        d["createdAt"] = json!("2026-11-25T00:00:00.000Z");
        served.fake.put_dispatch(d.clone());

        assert_eq!(served.fake.dispatch("d1"), Some(d.clone()));
        assert_eq!(served.fake.dispatch_count(), 2);
        assert_eq!(served.ids("/v2/webhook-dispatches").await, ["d1", "d0"]);
        let (_, body) = served.get("/v2/webhook-dispatches/d1").await;
        assert_eq!(body, json!({ "data": d }));

        served.fake.remove_dispatch("d1");
        assert_eq!(served.fake.dispatch("d1"), None);
        assert_eq!(served.get("/v2/webhook-dispatches/d1").await.0, 404);
        assert_eq!(served.ids("/v2/webhook-dispatches").await, ["d0"]);
        served.stop().await;
    }

    #[tokio::test]
    async fn records_each_request_in_order() {
        let served = Served::start().await;
        served.fake.put_webhook(webhook("w1", None, None, 1));
        served
            .get("/v2/webhooks/w1/dispatches?desc=true&limit=10")
            .await;
        served.get("/v2/acts/janedoe%7Emy-actor/webhooks").await;
        assert_eq!(
            served.fake.requests(),
            [
                RecordedRequest {
                    method: "GET".to_owned(),
                    route: route::WEBHOOK_DISPATCHES.to_owned(),
                    path: "/v2/webhooks/w1/dispatches".to_owned(),
                    query: "desc=true&limit=10".to_owned(),
                    authorization: Some("Bearer test-token".to_owned()),
                },
                RecordedRequest {
                    method: "GET".to_owned(),
                    route: route::ACT_WEBHOOKS.to_owned(),
                    path: "/v2/acts/janedoe%7Emy-actor/webhooks".to_owned(),
                    query: String::new(),
                    authorization: Some("Bearer test-token".to_owned()),
                },
            ]
        );
        served.fake.clear_requests();
        assert_eq!(served.fake.requests(), []);

        served.fake.set_request_log_limit(Some(2));
        for _ in 0..3 {
            served.get("/v2/webhooks").await;
        }
        served.get("/v2/webhook-dispatches").await;
        let routes: Vec<String> = served
            .fake
            .requests()
            .into_iter()
            .map(|r| r.route)
            .collect();
        assert_eq!(routes, [route::WEBHOOKS, route::DISPATCHES]);
        served.stop().await;
    }

    #[tokio::test]
    async fn answers_400_to_paging_values_that_are_not_counts() {
        let served = Served::start().await;
        for query in ["limit=abc", "offset=-1", "offset=1.5", "limit=NaN"] {
            let (status, body) = served.get(&format!("/v2/webhook-dispatches?{query}")).await;
            assert_eq!(
                (status, body["error"]["type"].as_str()),
                (400, Some("invalid-input")),
                "{query}"
            );
        }
        served.stop().await;
    }

    #[test]
    fn parses_paging_parameters() {
        let parse = |q: &str| ListParams::parse(q).map(|p| (p.offset, p.limit, p.desc));
        assert_eq!(parse(""), Ok((0, 1000, false)));
        assert_eq!(parse("offset=10.0&limit=20&desc=1"), Ok((10, 20, true)));
        assert_eq!(parse("limit=1001&desc=true&other=x"), Ok((0, 1000, true)));
        assert_eq!(parse("desc=yes"), Ok((0, 1000, false)));
        assert_eq!(parse("limit=0"), Ok((0, 0, false)));
    }

    #[test]
    fn resolves_route_templates_and_decodes_ids() {
        let resolve = |p: &str| Route::resolve(p).map(|r| (r.template(), format!("{r:?}")));
        assert_eq!(
            resolve("/v2/webhooks/"),
            Some((route::WEBHOOKS, "Webhooks".to_owned()))
        );
        assert_eq!(
            resolve("/v2/actors/jane%7Emy-actor/webhooks"),
            Some((
                route::ACTOR_WEBHOOKS,
                "ActorWebhooks { template: \"/v2/actors/:id/webhooks\", id: \"jane~my-actor\" }"
                    .to_owned()
            ))
        );
        assert_eq!(resolve("/v2/webhook-dispatches/%FF"), None);
        assert_eq!(resolve("/v2"), None);
    }
}
