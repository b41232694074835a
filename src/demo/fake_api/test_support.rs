//! What the fake API's own tests share: a fake served on 127.0.0.1 with a
//! client for it, and small webhooks and dispatches to fill it with.

use std::time::Duration;

use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::FakeApify;

pub(super) const TOKEN: &str = "test-token";

pub(super) struct Served {
    pub(super) fake: FakeApify,
    pub(super) base: String,
    pub(super) client: reqwest::Client,
    pub(super) shutdown: CancellationToken,
    pub(super) server: JoinHandle<()>,
}

impl Served {
    pub(super) async fn start() -> Served {
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

    /// Sends `method` to `path_and_query` with the right token.
    pub(super) async fn send(
        &self,
        method: reqwest::Method,
        path_and_query: &str,
    ) -> reqwest::Response {
        self.client
            .request(method, format!("{}{path_and_query}", self.base))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("request")
    }

    pub(super) async fn get(&self, path_and_query: &str) -> (u16, Value) {
        let response = self.send(reqwest::Method::GET, path_and_query).await;
        let status = response.status().as_u16();
        let body = response.json().await.expect("JSON body");
        (status, body)
    }

    pub(super) async fn ids(&self, path_and_query: &str) -> Vec<String> {
        let (status, body) = self.get(path_and_query).await;
        assert_eq!(status, 200, "{path_and_query}: {body}");
        item_ids(&body)
    }

    /// The route of each request received, in order.
    pub(super) fn routes(&self) -> Vec<String> {
        self.fake.requests().into_iter().map(|r| r.route).collect()
    }

    /// The method of each request received, in order.
    pub(super) fn methods(&self) -> Vec<String> {
        self.fake.requests().into_iter().map(|r| r.method).collect()
    }

    pub(super) async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(5), self.server)
            .await
            .expect("server stops within 5 s")
            .expect("server task ends cleanly");
    }
}

pub(super) fn item_ids(body: &Value) -> Vec<String> {
    body["data"]["items"]
        .as_array()
        .expect("items array")
        .iter()
        .map(|item| item["id"].as_str().expect("item id").to_owned())
        .collect()
}

pub(super) fn paging(body: &Value) -> (u64, u64, u64, bool, u64) {
    let data = &body["data"];
    (
        data["total"].as_u64().expect("total"),
        data["offset"].as_u64().expect("offset"),
        data["limit"].as_u64().expect("limit"),
        data["desc"].as_bool().expect("desc"),
        data["count"].as_u64().expect("count"),
    )
}

pub(super) fn dispatch(id: &str, webhook_id: &str, second: u32) -> Value {
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

pub(super) fn webhook(
    id: &str,
    actor_id: Option<&str>,
    task_id: Option<&str>,
    minute: u32,
) -> Value {
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

/// A header of a response as text.
pub(super) fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}
