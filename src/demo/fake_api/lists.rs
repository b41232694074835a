//! The list semantics of the fake: paging by `offset`, `limit` (clamped to
//! 1000 as the real API does) and `desc`, the `createdAt` order, filtering
//! webhooks by Actor or task and dispatches by webhook, and the
//! `WebhookShort` shape of list items.

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Response, StatusCode};
use serde::Serialize;
use serde_json::Value;

use super::routes::json_text_response;
use super::{sort_key, Item, SortKey, State};

/// The real API never returns more than this many items per page.
const MAX_LIMIT: usize = 1000;

/// Fields the real API leaves out of `WebhookShort`, the shape of list items.
const NOT_IN_SHORT: [&str; 3] = ["description", "payloadTemplate", "headersTemplate"];

impl State {
    pub(super) fn webhook_list(
        &self,
        params: &ListParams,
        keep: impl Fn(&Value) -> bool,
    ) -> Response<Full<Bytes>> {
        let mut selected: Vec<(SortKey, &str, &Value)> = self
            .webhooks
            .iter()
            .filter(|(_, webhook)| keep(webhook))
            .filter(|(_, webhook)| !(self.ad_hoc_unlisted && is_ad_hoc(webhook)))
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
            .map(|(_, id, webhook)| {
                self.webhook_item(id, || webhook_short(&self.served_webhook(webhook)))
            })
            .collect();
        self.page_response(params, total, items)
    }

    pub(super) fn dispatch_list(
        &self,
        params: &ListParams,
        webhook_id: Option<&str>,
    ) -> Response<Full<Bytes>> {
        let ordered = || -> Box<dyn Iterator<Item = &(SortKey, String)>> {
            let all: Box<dyn Iterator<Item = &(SortKey, String)>> = if params.desc {
                Box::new(self.dispatch_order.iter().rev())
            } else {
                Box::new(self.dispatch_order.iter())
            };
            if self.hidden.is_empty() {
                // No lookup per item: deep pages of the benchmarks' account
                // stay cheap.
                all
            } else {
                Box::new(all.filter(|(_, id)| !self.hidden.contains(id)))
            }
        };
        let matching = ordered()
            .filter_map(|(_, id)| self.dispatches.get(id).map(|(_, dispatch)| (id, dispatch)))
            .filter(|(_, dispatch)| match webhook_id {
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
                    .filter_map(|(_, id)| {
                        let (_, dispatch) = self.dispatches.get(id)?;
                        Some(self.dispatch_item(id, dispatch))
                    })
                    .collect();
                (
                    self.dispatches.len().saturating_sub(self.hidden.len()),
                    items,
                )
            }
            Some(_) => {
                let mut total = 0;
                let mut items = Vec::new();
                for (id, dispatch) in matching {
                    if total >= params.offset && items.len() < params.limit {
                        items.push(self.dispatch_item(id, dispatch));
                    }
                    total += 1;
                }
                (total, items)
            }
        };
        self.page_response(params, total, items)
    }

    /// A page as the API answers it; `total` is the true count unless
    /// [`FakeApify::set_list_total`](super::FakeApify::set_list_total) set
    /// another.
    fn page_response(
        &self,
        params: &ListParams,
        total: usize,
        items: Vec<Item>,
    ) -> Response<Full<Bytes>> {
        let body = PageBody {
            data: PageData {
                total: self.list_total.unwrap_or(total as u64),
                offset: params.offset,
                limit: params.limit,
                desc: params.desc,
                count: items.len(),
                items,
            },
        };
        match serde_json::to_string(&body) {
            Ok(text) => json_text_response(StatusCode::OK, text),
            Err(error) => {
                tracing::warn!(%error, "fake Apify API: cannot encode a page");
                json_text_response(StatusCode::INTERNAL_SERVER_ERROR, String::new())
            }
        }
    }
}

/// `{"data": {...}}` of a list answer.
#[derive(Serialize)]
struct PageBody {
    data: PageData,
}

#[derive(Serialize)]
struct PageData {
    total: u64,
    offset: usize,
    limit: usize,
    desc: bool,
    count: usize,
    items: Vec<Item>,
}

/// Whether a webhook's condition names `wanted` as its `field`
/// (`actorId` or `actorTaskId`).
pub(super) fn condition_is(webhook: &Value, field: &str, wanted: &str) -> bool {
    webhook
        .get("condition")
        .and_then(|c| c.get(field))
        .and_then(Value::as_str)
        == Some(wanted)
}

fn is_ad_hoc(webhook: &Value) -> bool {
    webhook.get("isAdHoc").and_then(Value::as_bool) == Some(true)
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

/// The paging parameters of a list request, defaults applied.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct ListParams {
    offset: usize,
    limit: usize,
    desc: bool,
}

impl ListParams {
    /// The same request at offset 0: what an API that does not page (the
    /// official mock server) answers to every offset.
    pub(super) fn at_first_page(self) -> Self {
        ListParams { offset: 0, ..self }
    }

    pub(super) fn parse(query: &str) -> Result<Self, String> {
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::demo::fake_api::route;
    use crate::demo::fake_api::test_support::*;

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
        let routes = served.routes();
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
}
