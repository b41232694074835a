//! The fake's control surface: what tests, the demo and `examples/fake_api`
//! call to shape the account (webhooks, dispatches), to make the API
//! misbehave (queued faults, a revoked token) and to see what the exporter
//! asked (the request log).

use std::collections::VecDeque;

use serde_json::Value;
use time::OffsetDateTime;

use serde_json::value::RawValue;

use super::{id_of, sort_key, total_dispatches, FakeApify, Fault, RecordedRequest, SortKey, State};

/// `raw` when serde_json reads it as one JSON value (lone surrogate
/// escapes included, which it does not check there).
fn raw_json(raw: &str) -> Option<Box<RawValue>> {
    RawValue::from_string(raw.to_owned()).ok()
}

impl State {
    /// Adds or replaces a webhook, answered as `raw` when given (and as
    /// itself otherwise, whatever an earlier put said).
    fn insert_webhook(&mut self, id: String, webhook: Value, raw: Option<Box<RawValue>>) {
        match raw {
            Some(raw) => self.raw_webhooks.insert(id.clone(), raw),
            None => self.raw_webhooks.remove(&id),
        };
        let same_count = self
            .webhooks
            .get(&id)
            .is_some_and(|old| total_dispatches(old) == total_dispatches(&webhook));
        if !same_count {
            self.added_since_count.insert(id.clone(), 0);
        }
        self.webhooks.insert(id, webhook);
    }

    /// Adds or replaces a dispatch, answered as `raw` when given (and as
    /// itself otherwise, whatever an earlier put said).
    fn insert_dispatch(&mut self, id: String, dispatch: Value, raw: Option<Box<RawValue>>) {
        match raw {
            Some(raw) => self.raw_dispatches.insert(id.clone(), raw),
            None => self.raw_dispatches.remove(&id),
        };
        let key = sort_key(&dispatch);
        let webhook_id = dispatch
            .get("webhookId")
            .and_then(Value::as_str)
            .map(str::to_owned);
        match self.dispatches.insert(id.clone(), (key, dispatch)) {
            Some((old_key, _)) => {
                self.dispatch_order.remove(&(old_key, id.clone()));
            }
            None => {
                if let Some(webhook_id) = webhook_id {
                    let added = self.added_since_count.entry(webhook_id).or_insert(0);
                    *added = added.saturating_add(1);
                }
            }
        }
        self.dispatch_order.insert((key, id));
    }
}

impl FakeApify {
    /// Adds or replaces a webhook (the full object, as `GET /v2/webhooks/:id`
    /// returns it), keyed by its `id`.
    ///
    /// Its `stats.totalDispatches` is the count as of now: every dispatch
    /// put for it afterwards (with a new id) adds one when it is served.
    /// Put again with the same count, the webhook keeps the dispatches
    /// added since; with another count, that count replaces them.
    pub fn put_webhook(&self, webhook: Value) {
        let Some(id) = id_of(&webhook) else {
            tracing::warn!("fake Apify API: ignoring a webhook without a string \"id\"");
            return;
        };
        self.lock().insert_webhook(id, webhook, None);
    }

    /// Adds `webhook` as [`FakeApify::put_webhook`] does, but answers it,
    /// in lists and by id, with the text `raw` as it is: JSON that need not
    /// fit the schema, and may hold what a `Value` cannot (an escaped lone
    /// surrogate, `"\ud83d"`). Raw text that is not JSON is refused.
    pub fn put_raw_webhook(&self, webhook: Value, raw: &str) {
        let (Some(id), Some(raw)) = (id_of(&webhook), raw_json(raw)) else {
            tracing::warn!("fake Apify API: ignoring a raw webhook without an id or not JSON");
            return;
        };
        self.lock().insert_webhook(id, webhook, Some(raw));
    }

    /// Adds or replaces an Actor (the object `GET /v2/acts/:id` returns: at
    /// least `id`, `username` and `name`), found by its id or by
    /// `username~name`.
    pub fn put_actor(&self, actor: Value) {
        let Some(id) = id_of(&actor) else {
            tracing::warn!("fake Apify API: ignoring an Actor without a string \"id\"");
            return;
        };
        self.lock().actors.insert(id, actor);
    }

    /// Adds or replaces a task, as [`FakeApify::put_actor`] does an Actor.
    pub fn put_actor_task(&self, task: Value) {
        let Some(id) = id_of(&task) else {
            tracing::warn!("fake Apify API: ignoring a task without a string \"id\"");
            return;
        };
        self.lock().actor_tasks.insert(id, task);
    }

    /// Adds an Actor, or with `actor` a task of that Actor, with the fields
    /// that name it: `username` and `name`.
    pub fn put_owner(&self, id: &str, username: &str, name: &str, actor: Option<&str>) {
        let mut record = serde_json::json!({ "id": id, "username": username, "name": name });
        match actor {
            Some(actor) => {
                record["actId"] = Value::from(actor);
                self.put_actor_task(record);
            }
            None => self.put_actor(record),
        }
    }

    /// Deletes a webhook; its dispatches stay until removed on their own.
    pub fn remove_webhook(&self, id: &str) {
        let mut state = self.lock();
        state.webhooks.remove(id);
        state.raw_webhooks.remove(id);
        state.added_since_count.remove(id);
    }

    /// A webhook's full object as the API serves it, if there is one with
    /// this id.
    pub fn webhook(&self, id: &str) -> Option<Value> {
        let state = self.lock();
        state.webhooks.get(id).map(|w| state.served_webhook(w))
    }

    /// Adds or replaces a dispatch (the full object), keyed by its `id`. A
    /// new id adds one to its webhook's `stats.totalDispatches`.
    pub fn put_dispatch(&self, dispatch: Value) {
        let Some(id) = id_of(&dispatch) else {
            tracing::warn!("fake Apify API: ignoring a dispatch without a string \"id\"");
            return;
        };
        self.lock().insert_dispatch(id, dispatch, None);
    }

    /// Adds `dispatch` as [`FakeApify::put_dispatch`] does (its `id`,
    /// `createdAt` and `webhookId` place it), but answers it, in lists and
    /// by id, with the text `raw` as it is: JSON that need not fit the
    /// schema, and may hold what a `Value` cannot (an escaped lone
    /// surrogate, `"\ud83d"`). Raw text that is not JSON is refused.
    pub fn put_raw_dispatch(&self, dispatch: Value, raw: &str) {
        let (Some(id), Some(raw)) = (id_of(&dispatch), raw_json(raw)) else {
            tracing::warn!("fake Apify API: ignoring a raw dispatch without an id or not JSON");
            return;
        };
        self.lock().insert_dispatch(id, dispatch, Some(raw));
    }

    /// Deletes a dispatch, as retention does (its webhook's count keeps it).
    pub fn remove_dispatch(&self, id: &str) {
        let mut state = self.lock();
        state.raw_dispatches.remove(id);
        if let Some((key, _)) = state.dispatches.remove(id) {
            state.dispatch_order.remove(&(key, id.to_owned()));
            state.hidden.remove(id);
        }
    }

    /// Deletes every dispatch created before `t`, as retention does (their
    /// webhooks' counts keep them). Dispatches without a `createdAt` stay.
    pub fn remove_dispatches_created_before(&self, t: OffsetDateTime) {
        let before = t.unix_timestamp_nanos();
        let mut state = self.lock();
        let old: Vec<(SortKey, String)> = state
            .dispatch_order
            .iter()
            .take_while(|(key, _)| key.is_none_or(|at| at < before))
            .filter(|(key, _)| key.is_some())
            .cloned()
            .collect();
        for (key, id) in old {
            state.dispatch_order.remove(&(key, id.clone()));
            state.dispatches.remove(&id);
            state.raw_dispatches.remove(&id);
            state.hidden.remove(&id);
        }
    }

    /// While `hidden`, the dispatch `id` is left out of every list (the
    /// account's and its webhook's, `total` included) but still counts in
    /// its webhook's `stats.totalDispatches` and still answers
    /// `GET /v2/webhook-dispatches/:id`: Apify holds it, the lists do not
    /// show it. What a client that misses dispatches would see. An id the
    /// account does not hold is ignored.
    pub fn hide_from_lists(&self, id: &str, hidden: bool) {
        let mut state = self.lock();
        if !hidden {
            state.hidden.remove(id);
        } else if state.dispatches.contains_key(id) {
            state.hidden.insert(id.to_owned());
        }
    }

    /// While `refused`, the record `id` at the route template `route` (an
    /// Actor at `/v2/acts/:id`, say) is answered 403, as Apify answers a
    /// token scoped away from that one record.
    pub fn refuse_record(&self, route: &str, id: &str, refused: bool) {
        self.refuse((route.to_owned(), Some(id.to_owned())), refused);
    }

    /// While `refused`, every request to the route template `route` (such
    /// as `/v2/webhook-dispatches`) is answered 403, as Apify answers a
    /// token scoped away from it.
    pub fn refuse_route(&self, route: &str, refused: bool) {
        self.refuse((route.to_owned(), None), refused);
    }

    fn refuse(&self, key: (String, Option<String>), refused: bool) {
        let mut state = self.lock();
        if refused {
            state.refused.insert(key);
        } else {
            state.refused.remove(&key);
        }
    }

    /// Whether webhook lists show ad-hoc webhooks (`isAdHoc: true`); they
    /// do by default. Either way `GET /v2/webhooks/:id` answers them.
    pub fn list_ad_hoc_webhooks(&self, listed: bool) {
        self.lock().ad_hoc_unlisted = !listed;
    }

    /// Makes every list answer claim `total` items (`None`, the default:
    /// the true count), as an API whose count is wrong would.
    pub fn set_list_total(&self, total: Option<u64>) {
        self.lock().list_total = total;
    }

    /// While `ignore`, every list answers its first page whatever the
    /// offset asked, as an API that does not page would.
    pub fn ignore_offset(&self, ignore: bool) {
        self.lock().ignore_offset = ignore;
    }

    /// The dispatch with this id, as stored.
    pub fn dispatch(&self, id: &str) -> Option<Value> {
        self.lock().dispatches.get(id).map(|(_, d)| d.clone())
    }

    /// Every webhook (full objects, as served), oldest `createdAt` first.
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
            .map(|(_, _, webhook)| state.served_webhook(webhook))
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

    /// Drops the faults still queued for `route`: from now on it answers
    /// normally.
    pub fn clear_faults(&self, route: &str) {
        self.lock().faults.remove(route);
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

    /// From now on only `token` is accepted: the old one is answered 401
    /// `token-not-valid`, as when the account's token is rotated.
    pub fn set_token(&self, token: &str) {
        self.lock().token = token.to_owned();
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
    async fn answers_raw_items_as_given_in_lists_and_by_id() {
        let served = Served::start().await;
        served.fake.put_webhook(webhook("w1", None, None, 0));
        served.fake.put_dispatch(dispatch("d1", "w1", 1));
        // A lone surrogate: no `Value` can hold it, the raw text can.
        let raw = r#"{"id":"d2","webhookId":"w1","note":"cut \ud83d","calls":{}}"#;
        served.fake.put_raw_dispatch(dispatch("d2", "w1", 2), raw);
        let raw_hook = r#"{"id":"w2","requestUrl":"https://x.example/\udc00"}"#;
        served
            .fake
            .put_raw_webhook(webhook("w2", None, None, 1), raw_hook);
        let text = |path: &'static str| {
            let served = &served;
            async move {
                let response = served.send(reqwest::Method::GET, path).await;
                assert_eq!(response.status().as_u16(), 200, "{path}");
                response.text().await.expect("text")
            }
        };
        let page = text("/v2/webhook-dispatches?desc=true").await;
        let (before, after) = page.split_once(raw).expect("the raw item, as is");
        assert!(before.ends_with("\"items\":["), "{page}");
        assert!(after.starts_with(&format!(",{}", json!(dispatch("d1", "w1", 1)))));
        let own = text("/v2/webhooks/w1/dispatches?desc=true").await;
        assert!(own.contains(raw), "{own}");
        assert_eq!(
            text("/v2/webhook-dispatches/d2").await,
            format!("{{\"data\":{raw}}}")
        );
        assert!(text("/v2/webhooks").await.contains(raw_hook));
        assert_eq!(
            text("/v2/webhooks/w2").await,
            format!("{{\"data\":{raw_hook}}}")
        );
        // Not JSON: refused, the stored item stays.
        served
            .fake
            .put_raw_dispatch(dispatch("d2", "w1", 2), "{\"id\":");
        assert!(text("/v2/webhook-dispatches/d2").await.contains(raw));
        // Put again as a value, or removed: the raw text goes.
        served.fake.put_dispatch(dispatch("d2", "w1", 2));
        let (_, body) = served.get("/v2/webhook-dispatches/d2").await;
        assert_eq!(body, json!({ "data": dispatch("d2", "w1", 2) }));
        served.fake.remove_webhook("w2");
        served.fake.put_webhook(webhook("w2", None, None, 1));
        let (_, body) = served.get("/v2/webhooks/w2").await;
        assert_eq!(body["data"]["description"], "webhook w2");
        served.stop().await;
    }

    #[tokio::test]
    async fn total_dispatches_follow_the_dispatches_put() {
        let served = Served::start().await;
        let total = |body: &Value| body["stats"]["totalDispatches"].as_u64();
        // Put before its webhook: the webhook's own count covers it.
        served.fake.put_dispatch(dispatch("d0", "w1", 0));
        served.fake.put_webhook(webhook("w1", Some("a1"), None, 0));
        served.fake.put_dispatch(dispatch("d1", "w1", 1));
        served.fake.put_dispatch(dispatch("d2", "w1", 2));
        served.fake.put_dispatch(dispatch("x1", "w2", 3));
        let (_, one) = served.get("/v2/webhooks/w1").await;
        assert_eq!(total(&one["data"]), Some(5), "3 as put, plus d1 and d2");
        let (_, list) = served.get("/v2/acts/a1/webhooks").await;
        assert_eq!(total(&list["data"]["items"][0]), Some(5));
        // A replaced dispatch is the same one; a removed one stays counted.
        let mut d1 = dispatch("d1", "w1", 1);
        d1["status"] = json!("FAILED");
        served.fake.put_dispatch(d1);
        served.fake.remove_dispatch("d2");
        assert_eq!(served.fake.webhook("w1").as_ref().and_then(total), Some(5));
        // Put again: the same count keeps what was added, another replaces it.
        let mut edited = webhook("w1", Some("a1"), None, 0);
        edited["description"] = json!("edited");
        served.fake.put_webhook(edited.clone());
        assert_eq!(served.fake.webhook("w1").as_ref().and_then(total), Some(5));
        edited["stats"]["totalDispatches"] = json!(40);
        served.fake.put_webhook(edited);
        assert_eq!(served.fake.webhooks().first().and_then(total), Some(40));
        // No count put: none served.
        let mut silent = webhook("w3", None, None, 1);
        silent.as_object_mut().expect("object").remove("stats");
        served.fake.put_webhook(silent);
        served.fake.put_dispatch(dispatch("y1", "w3", 4));
        let (_, body) = served.get("/v2/webhooks/w3").await;
        assert_eq!(body["data"].get("stats"), None);
        served.stop().await;
    }

    #[tokio::test]
    async fn claims_the_list_total_it_is_told() {
        let served = Served::start().await;
        served.fake.put_webhook(webhook("w1", None, None, 0));
        for (id, second) in [("d1", 1), ("d2", 2), ("d3", 3)] {
            served.fake.put_dispatch(dispatch(id, "w1", second));
        }
        served.fake.set_list_total(Some(1));
        let (_, body) = served.get("/v2/webhook-dispatches?limit=2").await;
        assert_eq!(paging(&body), (1, 0, 2, false, 2));
        let (_, body) = served.get("/v2/webhooks/w1/dispatches").await;
        assert_eq!(paging(&body), (1, 0, 1000, false, 3));
        let (_, body) = served.get("/v2/webhooks").await;
        assert_eq!(paging(&body), (1, 0, 1000, false, 1));
        served.fake.set_list_total(None);
        let (_, body) = served.get("/v2/webhook-dispatches?limit=2").await;
        assert_eq!(paging(&body), (3, 0, 2, false, 2));
        served.stop().await;
    }

    #[tokio::test]
    async fn answers_a_redirect_and_an_oversized_body_once() {
        let served = Served::start().await;
        served.fake.put_webhook(webhook("w1", None, None, 0));
        served.fake.inject(
            route::WEBHOOKS,
            Fault::redirect("http://127.0.0.1:9/v2/webhooks"),
        );
        served
            .fake
            .inject(route::WEBHOOKS, Fault::Oversized { bytes: 1000 });
        let not_following = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let response = not_following
            .get(format!("{}/v2/webhooks", served.base))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status().as_u16(), 302);
        assert_eq!(
            header(&response, "location"),
            Some("http://127.0.0.1:9/v2/webhooks")
        );
        let response = served.send(reqwest::Method::GET, "/v2/webhooks").await;
        assert_eq!(header(&response, "content-length"), Some("1000"));
        let body = response.bytes().await.expect("body");
        assert_eq!(body.len(), 1000);
        let parsed: Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(parsed, json!({ "data": { "items": [] } }));
        // Then the normal answer again.
        assert_eq!(served.ids("/v2/webhooks").await, ["w1"]);
        served.stop().await;
    }

    #[tokio::test]
    async fn hidden_dispatches_leave_the_lists_but_stay_counted_and_readable() {
        let served = Served::start().await;
        served.fake.put_webhook(webhook("w1", None, None, 0));
        for (id, second) in [("d1", 1), ("d2", 2), ("d3", 3), ("d4", 4)] {
            served.fake.put_dispatch(dispatch(id, "w1", second));
        }
        served.fake.put_dispatch(dispatch("x1", "w2", 5));
        served.fake.hide_from_lists("d2", true);
        served.fake.hide_from_lists("d4", true);
        served.fake.hide_from_lists("unknown", true);

        let (_, body) = served.get("/v2/webhook-dispatches?desc=true").await;
        assert_eq!(item_ids(&body), ["x1", "d3", "d1"]);
        assert_eq!(paging(&body).0, 3, "the total leaves them out too");
        let (_, body) = served.get("/v2/webhook-dispatches?offset=1&limit=1").await;
        assert_eq!(item_ids(&body), ["d3"]);
        let (_, body) = served.get("/v2/webhooks/w1/dispatches").await;
        assert_eq!(item_ids(&body), ["d1", "d3"]);
        assert_eq!(paging(&body).0, 2);
        let (status, body) = served.get("/v2/webhook-dispatches/d2").await;
        assert_eq!((status, body["data"]["id"].as_str()), (200, Some("d2")));
        let (_, body) = served.get("/v2/webhooks/w1").await;
        assert_eq!(body["data"]["stats"]["totalDispatches"], 3 + 4);

        served.fake.hide_from_lists("d2", false);
        assert_eq!(
            served.ids("/v2/webhooks/w1/dispatches").await,
            ["d1", "d2", "d3"]
        );
        // Removed while hidden, then put again: listed, counted once more.
        served.fake.remove_dispatch("d4");
        served.fake.put_dispatch(dispatch("d4", "w1", 4));
        assert_eq!(
            served.ids("/v2/webhooks/w1/dispatches").await,
            ["d1", "d2", "d3", "d4"]
        );
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

    #[tokio::test]
    async fn a_rotated_token_refuses_the_old_one() {
        let served = Served::start().await;
        served.fake.put_webhook(webhook("w1", None, None, 0));
        served.fake.set_token("rotated-token");
        let (status, body) = served.get("/v2/webhooks").await;
        assert_eq!(
            (status, body["error"]["type"].as_str()),
            (401, Some("token-not-valid"))
        );
        served.fake.set_token(TOKEN);
        assert_eq!(served.ids("/v2/webhooks").await, ["w1"]);
        served.stop().await;
    }
}
