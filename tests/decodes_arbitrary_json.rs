//! Property tests of every decoding path an API answer takes
//! (`decode_envelope` and `decode_page`, with the webhook and the dispatch
//! models): arbitrary JSON text (odd Unicode, lone surrogates, numbers of
//! every kind, nulls, nested junk, cut-off text, random bytes) never
//! panics; a page accounts for each of its items, decoded or skipped; and
//! junk in optional fields never costs a dispatch or a webhook.

mod support;

use apify_webhook_exporter::api::decode::{format_timestamp, Millis};
use apify_webhook_exporter::api::dispatches::Dispatch;
use apify_webhook_exporter::api::webhooks::Webhook;
use apify_webhook_exporter::api::{decode_envelope, decode_page, Page};
use proptest::prelude::*;
use support::route;

/// JSON as text, built so that it can hold what `serde_json::Value`
/// cannot: lone surrogates, numbers beyond f64 and u64, duplicate keys.
#[derive(Debug, Clone)]
enum Json {
    Null,
    Bool(bool),
    /// A number literal, as written.
    Number(String),
    /// The inside of a string literal, escapes included.
    Str(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    fn render(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Number(n) => out.push_str(n),
            Json::Str(s) => {
                out.push('"');
                out.push_str(s);
                out.push('"');
            }
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.render(out);
                }
                out.push(']');
            }
            Json::Object(fields) => {
                out.push('{');
                for (i, (key, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push('"');
                    out.push_str(key);
                    out.push_str("\":");
                    value.render(out);
                }
                out.push('}');
            }
        }
    }

    fn text(&self) -> String {
        let mut out = String::new();
        self.render(&mut out);
        out
    }
}

/// Escapes `s` for the inside of a JSON string literal.
fn escaped(s: &str) -> String {
    let quoted = serde_json::to_string(s).unwrap();
    quoted[1..quoted.len() - 1].to_string()
}

/// Every key the models read, so that junk lands where it is decoded.
const KEYS: [&str; 24] = [
    "id",
    "webhookId",
    "createdAt",
    "status",
    "eventType",
    "calls",
    "startedAt",
    "finishedAt",
    "responseStatus",
    "userId",
    "modifiedAt",
    "isAdHoc",
    "eventTypes",
    "condition",
    "actorId",
    "actorTaskId",
    "ignoreSslErrors",
    "doNotRetry",
    "requestUrl",
    "description",
    "stats",
    "totalDispatches",
    "data",
    "items",
];

/// Number literals of every kind: negative zero, exponents, HTTP-status
/// look-alikes, and when `wild`, integers past u64 and below i64 and floats
/// past f64 either way (valid JSON that serde_json refuses to hold).
fn number(wild: bool) -> BoxedStrategy<String> {
    let wild_ones = prop::sample::select(vec![
        "1e400",
        "-1e400",
        "18446744073709551616",
        "-9223372036854775809",
        "123456789012345678901234567890.5",
    ])
    .prop_map(str::to_string);
    let tame = prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
            .prop_map(|f| format!("{f:e}")),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
            .prop_map(|f| format!("{f:?}")),
        prop::sample::select(vec![
            "-0",
            "0.0",
            "-0.0e0",
            "1e-400",
            "5e-324",
            "1.7976931348623157e308",
            "200",
            "200.0",
            "2e2",
            "99",
            "100",
            "599",
            "600",
            "65536",
            "-200",
        ])
        .prop_map(str::to_string),
    ];
    if wild {
        prop_oneof![4 => tame, 1 => wild_ones].boxed()
    } else {
        tame.boxed()
    }
}

/// The inside of a string literal: any char, odd ones more often, and
/// `\u` escapes, lone surrogates among them when `wild`.
fn string(wild: bool) -> BoxedStrategy<String> {
    let odd = prop::sample::select(vec![
        "\u{0}",
        "\u{7f}",
        "\u{feff}",
        "\u{200b}",
        "\u{202e}",
        "\u{fffd}",
        "\u{ffff}",
        "\u{10ffff}",
        "😀",
        "e\u{301}",
        "ACTIVE",
        "SUCCEEDED",
        "FAILED",
        "2026-11-30T12:00:00.000Z",
        "9999-12-31T23:59:59.999Z",
        "0000-01-01T00:00:00Z",
        "http://user:pass@host:99999/",
    ])
    .prop_map(escaped);
    let escapes = prop::sample::select(vec![
        "\\u0000",
        "\\u001f",
        "\\n",
        "\\\\",
        "\\/",
        "\\\"",
        "\\ud83d\\ude00",
    ])
    .prop_map(str::to_string);
    let mut pieces = vec![
        any::<char>().prop_map(|c| escaped(&c.to_string())).boxed(),
        odd.boxed(),
        escapes.boxed(),
    ];
    if wild {
        let lone = prop::sample::select(vec!["\\ud83d", "\\udc00", "\\ude00\\ud83d", "\\udbff"])
            .prop_map(str::to_string);
        pieces.push(lone.boxed());
    }
    prop::collection::vec(prop::strategy::Union::new(pieces), 0..6)
        .prop_map(|parts| parts.concat())
        .boxed()
}

fn key(wild: bool) -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(KEYS.to_vec()).prop_map(str::to_string),
        1 => string(wild),
    ]
}

/// Any JSON value, nested a few levels deep. Only a `wild` one holds what
/// serde_json cannot decode at all (lone surrogates, numbers out of range).
fn json(wild: bool) -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        number(wild).prop_map(Json::Number),
        string(wild).prop_map(Json::Str),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Json::Array),
            prop::collection::vec((key(wild), inner), 0..6).prop_map(Json::Object),
        ]
    })
}

fn field(key: &str, value: Json) -> (String, Json) {
    (key.to_string(), value)
}

/// `{"data": {"total": ..., "items": [...]}}` with these items.
fn page_of(total: Json, items: Vec<Json>) -> Json {
    let data = Json::Object(vec![
        field("total", total),
        field("items", Json::Array(items)),
    ]);
    Json::Object(vec![field("data", data)])
}

/// Runs every decoder on `bytes`: none may panic.
fn decode_every_way(bytes: &[u8]) {
    let _ = decode_envelope::<Dispatch>(route::DISPATCH, bytes);
    let _ = decode_envelope::<Webhook>(route::WEBHOOK, bytes);
    let _ = decode_envelope::<Page<Webhook>>(route::WEBHOOKS, bytes);
    let _ = decode_envelope::<Page<Dispatch>>(route::DISPATCHES, bytes);
    let _ = decode_page::<Dispatch>(route::DISPATCHES, bytes);
    let _ = decode_page::<Webhook>(route::WEBHOOKS, bytes);
}

/// A valid `createdAt`: 2000 to 2100.
fn created_at() -> impl Strategy<Value = Millis> {
    946_684_800_000i64..4_102_444_800_000i64
}

/// An id as Apify makes them (tests of odd ids are elsewhere).
fn id() -> impl Strategy<Value = String> {
    "[A-Za-z0-9]{1,17}"
}

/// A call whose every field is junk (or missing), or `null`.
fn junk_call() -> impl Strategy<Value = Json> {
    let fields = prop::collection::vec(
        (
            prop::sample::select(vec!["startedAt", "finishedAt", "responseStatus", "other"]),
            json(false),
        ),
        0..4,
    );
    prop_oneof![
        1 => Just(Json::Null),
        4 => fields.prop_map(|fs| Json::Object(first_of_each(fs.into_iter().map(|(k, v)| field(k, v))))),
    ]
}

/// Optional fields of a dispatch, each junk or left out.
fn junk_dispatch_fields() -> impl Strategy<Value = Vec<(String, Json)>> {
    prop::collection::vec(
        (
            prop::sample::select(vec![
                "status",
                "eventType",
                "eventData",
                "userId",
                "webhook",
                "somethingNew",
            ]),
            json(false),
        ),
        0..6,
    )
    .prop_map(|fs| fs.into_iter().map(|(k, v)| field(k, v)).collect())
}

/// Keeps the first field of each name: a duplicate key is a decode error
/// (serde's `duplicate field`), not junk in a field.
fn first_of_each(fields: impl IntoIterator<Item = (String, Json)>) -> Vec<(String, Json)> {
    let mut kept: Vec<(String, Json)> = Vec::new();
    for (k, v) in fields {
        if !kept.iter().any(|(seen, _)| *seen == k) {
            kept.push((k, v));
        }
    }
    kept
}

/// Optional fields of a webhook, each junk or left out.
fn junk_webhook_fields() -> impl Strategy<Value = Vec<(String, Json)>> {
    prop::collection::vec(
        (
            prop::sample::select(vec![
                "userId",
                "modifiedAt",
                "isAdHoc",
                "eventTypes",
                "condition",
                "ignoreSslErrors",
                "doNotRetry",
                "requestUrl",
                "description",
                "stats",
                "lastDispatch",
                "somethingNew",
            ]),
            json(false),
        ),
        0..8,
    )
    .prop_map(|fs| fs.into_iter().map(|(k, v)| field(k, v)).collect())
}

fn config() -> ProptestConfig {
    ProptestConfig {
        // Decoding is cheap: many cases cost well under a second.
        cases: 512,
        max_shrink_iters: 4096,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// Any JSON, as the answer itself, inside the envelope, or as the
    /// items of a page, and the same text cut anywhere: no decoder panics.
    #[test]
    fn no_decoder_panics_on_arbitrary_json(value in json(true), cut in any::<prop::sample::Index>()) {
        let items = match &value {
            Json::Array(items) => items.clone(),
            other => vec![other.clone()],
        };
        let shapes = [
            value.clone(),
            Json::Object(vec![field("data", value.clone())]),
            page_of(value.clone(), items),
        ];
        for shape in shapes {
            let text = shape.text();
            decode_every_way(text.as_bytes());
            let cut = cut.index(text.len() + 1);
            decode_every_way(&text.as_bytes()[..cut]);
        }
    }

    /// Bytes that are not even UTF-8: no decoder panics.
    #[test]
    fn no_decoder_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        decode_every_way(&bytes);
        let mut framed = b"{\"data\":{\"items\":[".to_vec();
        framed.extend_from_slice(&bytes);
        framed.extend_from_slice(b"]}}");
        decode_every_way(&framed);
    }

    /// A page whose envelope decodes accounts for every listed item:
    /// decoded, or reported as skipped, never silently dropped.
    #[test]
    fn a_page_accounts_for_each_item(total in json(true), items in prop::collection::vec(json(true), 0..8)) {
        let text = page_of(total, items.clone()).text();
        if let Ok(page) = decode_page::<Dispatch>(route::DISPATCHES, text.as_bytes()) {
            prop_assert_eq!(page.items.len() + page.skipped.len(), items.len());
        }
        if let Ok(page) = decode_page::<Webhook>(route::WEBHOOKS, text.as_bytes()) {
            prop_assert_eq!(page.items.len() + page.skipped.len(), items.len());
        }
    }

    /// A dispatch with its required fields right decodes whatever junk
    /// the optional ones hold (calls with junk fields included), keeping
    /// its id, webhook, creation time and number of calls.
    #[test]
    fn junk_in_optional_fields_never_loses_a_dispatch(
        id in id(),
        webhook_id in id(),
        at in created_at(),
        calls in prop::option::of(prop::collection::vec(junk_call(), 0..5)),
        extra in junk_dispatch_fields(),
    ) {
        let mut fields = vec![
            field("id", Json::Str(id.clone())),
            field("webhookId", Json::Str(webhook_id.clone())),
            field("createdAt", Json::Str(format_timestamp(at))),
        ];
        let n_calls = calls.as_ref().map_or(0, Vec::len);
        if let Some(calls) = calls {
            fields.push(field("calls", Json::Array(calls)));
        }
        fields.extend(extra);
        let fields = first_of_each(fields);
        let text = page_of(Json::Number("1".into()), vec![Json::Object(fields)]).text();
        let page = decode_page::<Dispatch>(route::DISPATCHES, text.as_bytes()).unwrap();
        prop_assert!(page.skipped.is_empty(), "skipped: {:?} in {}", page.skipped, text);
        prop_assert_eq!(page.items.len(), 1);
        let d = &page.items[0];
        prop_assert_eq!(&d.id, &id);
        prop_assert_eq!(&d.webhook_id, &webhook_id);
        prop_assert_eq!(d.created_at, at);
        prop_assert_eq!(d.calls.len(), n_calls);
    }

    /// A webhook with an id decodes whatever junk its other fields hold,
    /// alone and in a list (a webhook left out would look deleted).
    #[test]
    fn junk_in_optional_fields_never_loses_a_webhook(id in id(), extra in junk_webhook_fields()) {
        let fields = first_of_each([field("id", Json::Str(id.clone()))].into_iter().chain(extra));
        let webhook = Json::Object(fields);
        let one = Json::Object(vec![field("data", webhook.clone())]).text();
        let decoded = decode_envelope::<Webhook>(route::WEBHOOK, one.as_bytes());
        prop_assert!(decoded.is_ok(), "{:?} for {}", decoded, one);
        prop_assert_eq!(decoded.unwrap().id, id.clone());
        let list = page_of(Json::Number("1".into()), vec![webhook]).text();
        let page = decode_envelope::<Page<Webhook>>(route::WEBHOOKS, list.as_bytes());
        prop_assert!(page.is_ok(), "{:?} for {}", page, list);
        prop_assert_eq!(page.unwrap().items.len(), 1);
    }
}
