//! Decoding Apify's answers: the `{"data": ...}` envelope, list pages
//! decoded item by item, and tolerant field helpers. Apify's answers carry nulls, missing optional
//! keys and values of unexpected types (the official mock server returns
//! schema-valid nonsense). Optional fields degrade to `None` instead of
//! failing a whole page; required ones fail with the field's path.
//!
//! Every answer is first made lossy-decodable ([`lossy_json`]): invalid
//! UTF-8 and escapes of lone UTF-16 surrogates become U+FFFD, so that no
//! string, wherever it sits, can fail a decode.

use std::borrow::Cow;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use super::ApiError;

/// The most items Apify returns per list page.
pub const MAX_PAGE_LIMIT: usize = 1000;

pub use crate::clock::{format_timestamp, parse_timestamp, Millis};

/// A required RFC 3339 timestamp.
pub fn timestamp<'de, D: Deserializer<'de>>(d: D) -> Result<Millis, D::Error> {
    let text = String::deserialize(d)?;
    parse_timestamp(&text)
        .ok_or_else(|| serde::de::Error::custom(format!("not an RFC 3339 timestamp: {text:?}")))
}

/// An optional timestamp: null, missing or unparsable all become `None`.
pub fn lenient_timestamp<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Millis>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => parse_timestamp(&s),
        _ => None,
    })
}

/// An optional string: anything but a string becomes `None`.
pub fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Some(s),
        _ => None,
    })
}

/// An optional boolean: anything but a boolean becomes `None`.
pub fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(serde_json::Value::deserialize(d)?.as_bool())
}

/// An optional whole number (negative or fractional values become `None`).
pub fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(serde_json::Value::deserialize(d)?.as_u64())
}

/// An optional object: anything that does not decode as `T` (a string
/// where an object belongs, say) becomes `None`.
pub fn lenient_object<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    Ok(T::deserialize(serde_json::Value::deserialize(d)?).ok())
}

/// An optional list: null becomes empty, and a null element its default
/// (a call with nothing known), so that indices keep their meaning.
pub fn lenient_vec<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<Vec<Option<T>>>::deserialize(d)?
        .unwrap_or_default()
        .into_iter()
        .map(Option::unwrap_or_default)
        .collect())
}

/// `{"data": ...}`, the envelope of every successful answer.
#[derive(Debug, Deserialize)]
pub struct Envelope<T> {
    /// The payload.
    pub data: T,
}

/// One page of a list. Only `items` is required: the paging numbers are
/// advisory (paging never stops because of `total`).
#[derive(Debug, Deserialize)]
pub struct Page<T> {
    /// Apify's count of the whole list, when it gives a usable one.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub total: Option<u64>,
    /// The page size Apify says it applied, when it says.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub limit: Option<u64>,
    /// The items of this page that decoded.
    pub items: Vec<T>,
    /// Items that could not be decoded (see [`decode_page`]), left out.
    #[serde(skip)]
    pub skipped: Vec<Undecodable>,
}

impl<T> Page<T> {
    /// Items on the page, decoded or not: each takes its place in the list.
    pub fn listed(&self) -> usize {
        self.items.len() + self.skipped.len()
    }

    /// True when this is the last page of a list asked for `requested`
    /// items at a time: it holds fewer (or fewer than the page size Apify
    /// says it applied, should that be smaller).
    pub fn is_last(&self, requested: usize) -> bool {
        let applied = self
            .limit
            .and_then(|l| usize::try_from(l).ok())
            .filter(|&l| l > 0)
            .map_or(requested, |l| l.min(requested));
        self.listed() < applied
    }
}

/// An item of a list page that could not be decoded, even leniently.
#[derive(Debug)]
pub struct Undecodable {
    /// Its `id`, read on its own, when it has a string one.
    pub id: Option<String>,
    /// What tells it apart from every other item: its id, or for an item
    /// without one `sha256:` and a digest of its text.
    pub key: String,
    /// Why it could not be decoded, with the path.
    pub error: ApiError,
}

impl Undecodable {
    /// With the token masked wherever the API could have echoed it.
    pub(crate) fn redacted(self, token: &str) -> Undecodable {
        let mask = |text: String| super::error::mask(&text, token);
        Undecodable {
            id: self.id.map(mask),
            key: mask(self.key),
            error: self.error.redacted(token),
        }
    }
}

/// Longest id used as an item's key; a longer one is keyed by its digest,
/// so that a hostile id cannot fill the memory of left-out items.
const MAX_KEY_CHARS: usize = 128;

/// A page with its items still undecoded, to decode them one by one.
#[derive(Deserialize)]
struct RawPage<'a> {
    #[serde(default, deserialize_with = "lenient_u64")]
    total: Option<u64>,
    #[serde(default, deserialize_with = "lenient_u64")]
    limit: Option<u64>,
    #[serde(borrow)]
    items: Vec<&'a serde_json::value::RawValue>,
}

/// Just the `id` of an item that does not decode otherwise.
#[derive(Deserialize)]
struct IdOnly {
    #[serde(default, deserialize_with = "lenient_string")]
    id: Option<String>,
}

/// The text of an answer, decodable whatever its strings hold: invalid
/// UTF-8 becomes U+FFFD, and so does a `\u` escape of a lone UTF-16
/// surrogate (a cut emoji, `"\ud83d"`), which serde_json refuses in a
/// string. A pair of surrogates is left as it is.
pub fn lossy_json(bytes: &[u8]) -> Cow<'_, str> {
    let text = String::from_utf8_lossy(bytes);
    let lone = lone_surrogate_escapes(text.as_bytes());
    if lone.is_empty() {
        return text;
    }
    // Each escape is six ASCII bytes, replaced by six others in place.
    let mut fixed = text.into_owned();
    for at in lone {
        fixed.replace_range(at..at + 6, "\\uFFFD");
    }
    Cow::Owned(fixed)
}

/// Where each `\uXXXX` escape of an unpaired surrogate starts. Outside
/// strings a backslash is not valid JSON anyway, so escapes are read
/// wherever they are; `\\` is skipped whole, so `\\ud83d` is no escape.
fn lone_surrogate_escapes(bytes: &[u8]) -> Vec<usize> {
    let unit = |at: usize| -> Option<u16> {
        let escape = bytes.get(at..at + 6)?;
        if escape[0] != b'\\' || escape[1] != b'u' {
            return None;
        }
        let hex = std::str::from_utf8(&escape[2..]).ok()?;
        u16::from_str_radix(hex, 16).ok()
    };
    let mut lone = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            i += 1;
            continue;
        }
        match unit(i) {
            Some(0xD800..=0xDBFF) if matches!(unit(i + 6), Some(0xDC00..=0xDFFF)) => i += 12,
            Some(0xD800..=0xDFFF) => {
                lone.push(i);
                i += 6;
            }
            Some(_) => i += 6,
            None => i += 2,
        }
    }
    lone
}

/// Decodes `{"data": T}`, naming the failing path on error.
pub fn decode_envelope<T: DeserializeOwned>(
    endpoint: &'static str,
    bytes: &[u8],
) -> Result<T, ApiError> {
    let text = lossy_json(bytes);
    let mut de = serde_json::Deserializer::from_str(&text);
    let envelope: Envelope<T> =
        serde_path_to_error::deserialize(&mut de).map_err(|e| ApiError::Decode {
            endpoint,
            path: e.path().to_string(),
            message: e.inner().to_string(),
        })?;
    Ok(envelope.data)
}

/// Decodes `{"data": {"items": [...]}}` item by item: one item that cannot
/// be decoded is left out and reported in `skipped`, so that it cannot
/// stall a whole list forever. The envelope itself must decode.
pub fn decode_page<T: DeserializeOwned>(
    endpoint: &'static str,
    bytes: &[u8],
) -> Result<Page<T>, ApiError> {
    let text = lossy_json(bytes);
    let mut de = serde_json::Deserializer::from_str(&text);
    let raw: Envelope<RawPage<'_>> =
        serde_path_to_error::deserialize(&mut de).map_err(|e| ApiError::Decode {
            endpoint,
            path: e.path().to_string(),
            message: e.inner().to_string(),
        })?;
    let mut page = Page {
        total: raw.data.total,
        limit: raw.data.limit,
        items: Vec::with_capacity(raw.data.items.len()),
        skipped: Vec::new(),
    };
    for (i, item) in raw.data.items.into_iter().enumerate() {
        let mut de = serde_json::Deserializer::from_str(item.get());
        match serde_path_to_error::deserialize(&mut de) {
            Ok(value) => page.items.push(value),
            Err(e) => {
                let inner = e.path().to_string();
                let path = if inner == "." {
                    format!("data.items[{i}]")
                } else {
                    format!("data.items[{i}].{inner}")
                };
                let id = serde_json::from_str::<IdOnly>(item.get())
                    .ok()
                    .and_then(|only| only.id);
                let key = id
                    .as_deref()
                    .map(|id| item_key(id).into_owned())
                    .unwrap_or_else(|| digest_key(item.get()));
                page.skipped.push(Undecodable {
                    id,
                    key,
                    error: ApiError::Decode {
                        endpoint,
                        path,
                        message: e.inner().to_string(),
                    },
                });
            }
        }
    }
    Ok(page)
}

/// The key an item with this id is remembered by when it is left out: the
/// id itself, or the digest of a longer one, so that a hostile id cannot
/// fill the memory of left-out items. Every place that remembers or looks
/// up an item uses this, so the keys agree.
pub(crate) fn item_key(id: &str) -> Cow<'_, str> {
    if id.chars().count() <= MAX_KEY_CHARS {
        Cow::Borrowed(id)
    } else {
        Cow::Owned(digest_key(id))
    }
}

/// An id that goes into a request path (`/v2/webhooks/:id`): a string that
/// is not empty, `.` or `..`, which no URL could carry as one segment. An
/// item with such an id is undecodable, so it is left out (and reported)
/// rather than failing every refresh that would request it.
pub fn path_id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let id = String::deserialize(d)?;
    if is_path_segment(&id) {
        Ok(id)
    } else {
        Err(serde::de::Error::custom(format!(
            "{id:?} cannot be an id in a request path"
        )))
    }
}

/// Whether `text` can be one segment of a request path once
/// percent-encoded: anything but empty, `.` and `..`.
pub(crate) fn is_path_segment(text: &str) -> bool {
    !matches!(text, "" | "." | "..")
}

/// `sha256:` and the first 128 bits of the digest of an item's text: a key
/// for an item without an id that stays the same across restarts.
fn digest_key(text: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    let hex: String = digest.as_ref()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lone_surrogates_and_bad_utf8_become_replacement_characters() {
        let lossy = |b: &[u8]| lossy_json(b).into_owned();
        // A lone leading surrogate, a lone trailing one, upper case hex.
        assert_eq!(
            lossy(br#"["a\ud83d", "\uDC00b"]"#),
            r#"["a\uFFFD", "\uFFFDb"]"#
        );
        // A pair is kept; an escaped backslash is no escape.
        let kept = br#"["\ud83d\ude00", "\\ud83d", "\u00e9\n"]"#;
        assert_eq!(lossy(kept), String::from_utf8_lossy(kept));
        assert!(matches!(lossy_json(kept), Cow::Borrowed(_)));
        // Two leading surrogates in a row: both lone.
        assert_eq!(lossy(br#""\ud83d\ud83d""#), r#""\uFFFD\uFFFD""#);
        // A leading surrogate cut at the end of the text.
        assert_eq!(lossy(br#""\ud83d"#), r#""\uFFFD"#);
        assert_eq!(lossy(b"\"a\xffb\""), "\"a\u{FFFD}b\"");
        let s: String = serde_json::from_str(&lossy(br#""x\ud83d""#)).unwrap();
        assert_eq!(s, "x\u{FFFD}");
    }

    #[test]
    fn an_undecodable_item_is_keyed_by_its_id_or_a_digest() {
        let body = br#"{"data":{"limit":2,"items":[
            {"id":"d1","webhookId":"w","createdAt":"2026-11-26T10:00:00.000Z","calls":{}},
            {"webhookId":"w","createdAt":"2026-11-26T10:00:00.000Z"},
            7
        ]}}"#;
        let page = decode_page::<crate::api::dispatches::Dispatch>("/v2/webhook-dispatches", body)
            .unwrap();
        assert!(page.items.is_empty());
        let keys: Vec<(&Option<String>, &str)> = page
            .skipped
            .iter()
            .map(|u| (&u.id, u.key.as_str()))
            .collect();
        assert_eq!(keys[0], (&Some("d1".to_string()), "d1"));
        assert_eq!(keys[1].0, &None);
        assert_eq!(keys[1].1.len(), "sha256:".len() + 32);
        assert!(keys[1].1.starts_with("sha256:"));
        assert_ne!(keys[1].1, keys[2].1);
        assert_eq!(keys[2].1, digest_key("7"));
        // Three items listed, the page size applied was 2: not the last page.
        assert_eq!(page.listed(), 3);
        assert!(!page.is_last(1000));
    }

    #[test]
    fn a_short_page_is_the_last_whatever_the_total() {
        let page = |limit: Option<u64>, n: usize| Page::<u8> {
            total: Some(1),
            limit,
            items: vec![0; n],
            skipped: Vec::new(),
        };
        assert!(!page(None, 100).is_last(100));
        assert!(page(None, 99).is_last(100));
        assert!(page(None, 0).is_last(100));
        // Apify applied a smaller page size: a full page of that size is not the end.
        assert!(!page(Some(50), 50).is_last(100));
        assert!(page(Some(50), 49).is_last(100));
        // A larger one claimed, or a zero, changes nothing.
        assert!(page(Some(5000), 99).is_last(100));
        assert!(!page(Some(0), 100).is_last(100));
    }

    #[test]
    fn decode_errors_name_the_path() {
        let body = br#"{"data":{"total":1,"items":[{"id":"a","webhookId":"w","createdAt":"yesterday","status":"ACTIVE","eventType":"TEST"}]}}"#;
        let e = decode_envelope::<Page<crate::api::dispatches::Dispatch>>(
            "/v2/webhook-dispatches",
            body,
        )
        .unwrap_err();
        match e {
            ApiError::Decode { path, .. } => assert_eq!(path, "data.items[0].createdAt"),
            other => panic!("expected a decode error, got {other}"),
        }
    }

    #[test]
    fn ids_that_cannot_be_a_path_segment_make_an_item_undecodable() {
        let page = |id: &str| {
            let body = format!(
                r#"{{"data":{{"items":[{{"id":{id:?},"webhookId":"w","createdAt":"2026-11-30T00:00:00.000Z","status":"ACTIVE","eventType":"T"}}]}}}}"#
            );
            decode_page::<crate::api::dispatches::Dispatch>(
                "/v2/webhook-dispatches",
                body.as_bytes(),
            )
            .unwrap()
        };
        for bad in ["", ".", ".."] {
            let p = page(bad);
            assert_eq!((p.items.len(), p.skipped.len()), (0, 1), "{bad:?}");
            assert_eq!(p.skipped[0].key, bad);
        }
        let p = page("..a");
        assert_eq!((p.items.len(), p.skipped.len()), (1, 0));
    }

    #[test]
    fn long_ids_are_kept_by_digest_everywhere_alike() {
        assert_eq!(item_key("d1"), "d1");
        let long = "x".repeat(MAX_KEY_CHARS + 1);
        let key = item_key(&long);
        assert!(key.starts_with("sha256:") && key.len() == 7 + 32, "{key}");
        assert_eq!(item_key(&long), key, "stable");
        assert_eq!(item_key(&"x".repeat(MAX_KEY_CHARS)).len(), MAX_KEY_CHARS);
    }
}
