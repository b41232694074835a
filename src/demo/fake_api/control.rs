//! The fake's control surface: what tests, the demo and `examples/fake_api`
//! call to shape the account (webhooks, dispatches), to make the API
//! misbehave (queued faults, a revoked token) and to see what the exporter
//! asked (the request log).

use std::collections::VecDeque;

use serde_json::Value;

use super::{id_of, sort_key, FakeApify, Fault, RecordedRequest, SortKey};

impl FakeApify {
    /// Adds or replaces a webhook (the full object, as `GET /v2/webhooks/:id`
    /// returns it), keyed by its `id`.
    pub fn put_webhook(&self, webhook: Value) {
        let Some(id) = id_of(&webhook) else {
            tracing::warn!("fake Apify API: ignoring a webhook without a string \"id\"");
            return;
        };
        self.lock().webhooks.insert(id, webhook);
    }

    /// Deletes a webhook; its dispatches stay until removed on their own.
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

    /// Deletes a dispatch, as retention does.
    pub fn remove_dispatch(&self, id: &str) {
        let mut state = self.lock();
        if let Some((key, _)) = state.dispatches.remove(id) {
            state.dispatch_order.remove(&(key, id.to_owned()));
        }
    }

    /// The dispatch with this id, as stored.
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
    /// (see [`super::route`]). Faults of one route are consumed first in, first out,
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

    /// Forgets the requests recorded so far.
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

    /// While `revoked`, every request to a route of the API is answered 401
    /// `token-not-valid`, the right token included, as when the account's
    /// token is revoked; `false` accepts the token again. Unknown paths and
    /// other methods keep their 404 and 405, and queued faults still come
    /// first, as without a token.
    pub fn revoke_token(&self, revoked: bool) {
        self.lock().token_revoked = revoked;
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use serde_json::{json, Value};

    use crate::demo::fake_api::test_support::*;
    use crate::demo::fake_api::{route, Fault, RecordedRequest};

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
        assert_eq!(header(&first, "retry-after"), Some("1"));
        let body: Value = first.json().await.expect("JSON");
        assert_eq!(body["error"]["type"], "rate-limit-exceeded");

        // Another route is not affected by this route's queue.
        assert_eq!(served.get("/v2/webhook-dispatches").await.0, 200);

        let second = get().await.expect("request");
        assert_eq!(second.status().as_u16(), 500);
        assert_eq!(header(&second, "content-type"), Some("text/plain"));
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
    async fn dispatches_that_arrive_are_in_the_answer_that_took_them_and_after() {
        let served = Served::start().await;
        served.fake.put_dispatch(dispatch("d1", "w1", 1));
        served.fake.put_dispatch(dispatch("d2", "w1", 2));
        served
            .fake
            .inject(route::DISPATCHES, Fault::Delay(Duration::ZERO));
        served.fake.inject(
            route::DISPATCHES,
            Fault::Arrive(vec![dispatch("d3", "w1", 3), dispatch("d4", "w1", 4)]),
        );
        let page = "/v2/webhook-dispatches?desc=true&limit=1&offset=1";
        // The same page before and after two dispatches arrive, the second
        // time with the arrival taken first: pushed down by it.
        assert_eq!(served.ids(page).await, ["d1"]);
        assert_eq!(served.ids(page).await, ["d3"]);
        assert_eq!(served.fake.pending_faults(route::DISPATCHES), 0);
        assert_eq!(served.fake.dispatch_count(), 4);
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
        let routes = served.routes();
        assert_eq!(routes, [route::WEBHOOKS, route::DISPATCHES]);
        served.stop().await;
    }

    #[tokio::test]
    async fn a_revoked_token_is_refused_until_it_is_accepted_again() {
        let served = Served::start().await;
        served.fake.put_webhook(webhook("w1", None, None, 0));
        served.fake.put_dispatch(dispatch("d1", "w1", 0));
        served.fake.revoke_token(true);
        for path in [
            "/v2/webhooks",
            "/v2/webhooks/w1",
            "/v2/webhook-dispatches/d1",
        ] {
            let (status, body) = served.get(path).await;
            assert_eq!(
                (status, body["error"]["type"].as_str()),
                (401, Some("token-not-valid")),
                "{path}"
            );
        }
        // Not an API route: still the 404 it was.
        assert_eq!(served.get("/v2/users/me").await.0, 404);

        served.fake.revoke_token(false);
        assert_eq!(served.ids("/v2/webhooks").await, ["w1"]);
        assert_eq!(served.get("/v2/webhook-dispatches/d1").await.0, 200);
        served.stop().await;
    }
}
