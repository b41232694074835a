//! The fake's routes: which path is which [`Route`], the hyper handler that
//! logs each request, answers a queued fault or the route's normal answer,
//! and Apify-style error responses (404, 405, 401 `token-not-valid`).

use std::collections::HashMap;
use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue, ALLOW, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Value};

use super::lists::{condition_is, ListParams};
use super::{route, FakeApify, Fault, Item, RecordedRequest};

/// A matched route, with its path parameter.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Route {
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
    Actor(String),
    ActorTask(String),
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
            ["acts", actor] => Route::Actor(id(actor)?),
            ["actor-tasks", task] => Route::ActorTask(id(task)?),
            _ => return None,
        };
        Some(route)
    }

    /// The record the path names, if it names one.
    fn id(&self) -> Option<&str> {
        match self {
            Route::Webhooks | Route::Dispatches => None,
            Route::Webhook(id)
            | Route::WebhookDispatches(id)
            | Route::Dispatch(id)
            | Route::ActorWebhooks { id, .. }
            | Route::ActorTaskWebhooks(id)
            | Route::Actor(id)
            | Route::ActorTask(id) => Some(id),
        }
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
            Route::Actor(_) => route::ACT,
            Route::ActorTask(_) => route::ACTOR_TASK,
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

pub(super) async fn handle(
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
        Some(Fault::Oversized { bytes }) => {
            let mut body = b"{\"data\":{\"items\":[".to_vec();
            let end = b"]}}";
            body.resize(bytes.saturating_sub(end.len()).max(body.len()), b' ');
            body.extend_from_slice(end);
            json_text_response(StatusCode::OK, body)
        }
        Some(Fault::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            fake.answer(&method, route.as_ref(), &query, authorization.as_deref())
        }
        Some(Fault::Hold(gate)) => {
            gate.pass().await;
            fake.answer(&method, route.as_ref(), &query, authorization.as_deref())
        }
        Some(Fault::Arrive(dispatches)) => {
            for dispatch in dispatches {
                fake.put_dispatch(dispatch);
            }
            fake.answer(&method, route.as_ref(), &query, authorization.as_deref())
        }
        None => fake.answer(&method, route.as_ref(), &query, authorization.as_deref()),
    };
    Ok(without_body_for_head(&method, response))
}

impl FakeApify {
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
        if state.token_revoked || !is_authorized(authorization, &state.token) {
            return error_response(
                StatusCode::UNAUTHORIZED,
                "token-not-valid",
                "Authentication token is not valid.",
            );
        }
        let template = route.template().to_owned();
        let refused = state.refused.contains(&(template.clone(), None))
            || route
                .id()
                .is_some_and(|id| state.refused.contains(&(template, Some(id.to_owned()))));
        if refused {
            return error_response(
                StatusCode::FORBIDDEN,
                "insufficient-permissions",
                "You do not have permission to access this resource.",
            );
        }
        let params = match ListParams::parse(query) {
            Ok(params) if state.ignore_offset => params.at_first_page(),
            Ok(params) => params,
            Err(message) => {
                return error_response(StatusCode::BAD_REQUEST, "invalid-input", &message)
            }
        };
        match route {
            Route::Webhooks => state.webhook_list(&params, |_| true),
            Route::Webhook(id) => match state.webhooks.get(id) {
                Some(webhook) => {
                    data_response(&state.webhook_item(id, || state.served_webhook(webhook)))
                }
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
                Some((_, dispatch)) => data_response(&state.dispatch_item(id, dispatch)),
                None => not_found("Webhook dispatch was not found."),
            },
            Route::ActorWebhooks { id, .. } => {
                state.webhook_list(&params, |w| condition_is(w, "actorId", id))
            }
            Route::ActorTaskWebhooks(id) => {
                state.webhook_list(&params, |w| condition_is(w, "actorTaskId", id))
            }
            Route::Actor(id) => match owner(&state.actors, id) {
                Some(actor) => data_response(&Item::Value(actor.clone())),
                None => not_found("Actor was not found."),
            },
            Route::ActorTask(id) => match owner(&state.actor_tasks, id) {
                Some(task) => data_response(&Item::Value(task.clone())),
                None => not_found("Actor task was not found."),
            },
        }
    }
}

/// An Actor or task by its id, or by `username~name` as the API allows.
fn owner<'a>(records: &'a HashMap<String, Value>, id: &str) -> Option<&'a Value> {
    records.get(id).or_else(|| {
        let (user, name) = id.split_once('~')?;
        records.values().find(|r| {
            r.get("username").and_then(Value::as_str) == Some(user)
                && r.get("name").and_then(Value::as_str) == Some(name)
        })
    })
}

fn is_authorized(authorization: Option<&str>, token: &str) -> bool {
    let Some((scheme, credentials)) = authorization.and_then(|a| a.split_once(' ')) else {
        return false;
    };
    scheme.eq_ignore_ascii_case("bearer") && credentials.trim() == token
}

fn fault_response(
    status: u16,
    headers: &[(String, String)],
    body: String,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
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

pub(super) fn error_body(error_type: &str, message: &str) -> String {
    json!({ "error": { "type": error_type, "message": message } }).to_string()
}

fn error_response(status: StatusCode, error_type: &str, message: &str) -> Response<Full<Bytes>> {
    json_text_response(status, error_body(error_type, message))
}

fn not_found(message: &str) -> Response<Full<Bytes>> {
    error_response(StatusCode::NOT_FOUND, "record-not-found", message)
}

/// `{"data": item}`, the answer of a read by id.
fn data_response(item: &Item) -> Response<Full<Bytes>> {
    match serde_json::to_string(item) {
        Ok(text) => json_text_response(StatusCode::OK, format!("{{\"data\":{text}}}")),
        Err(error) => {
            tracing::warn!(%error, "fake Apify API: cannot encode an item");
            json_text_response(StatusCode::INTERNAL_SERVER_ERROR, String::new())
        }
    }
}

pub(super) fn json_text_response(
    status: StatusCode,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::demo::fake_api::test_support::*;

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
        let routes = served.routes();
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
            let response = served.send(method.clone(), "/v2/webhooks/w1").await;
            assert_eq!(response.status().as_u16(), 405, "{method}");
            assert_eq!(header(&response, "allow"), Some("GET, HEAD"));
            let body: Value = response.json().await.expect("JSON");
            assert_eq!(body["error"]["type"], "method-not-allowed");
        }
        let head = served.send(reqwest::Method::HEAD, "/v2/webhooks/w1").await;
        assert_eq!(head.status().as_u16(), 200);
        assert_eq!(head.bytes().await.expect("body").len(), 0);
        let methods = served.methods();
        assert_eq!(methods, ["POST", "PUT", "DELETE", "HEAD"]);
        served.stop().await;
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
