//! Decoding Apify's answers: the `{"data": ...}` envelope, list pages
//! decoded item by item, and tolerant field helpers. Apify's answers carry nulls, missing optional
//! keys and values of unexpected types (the official mock server returns
//! schema-valid nonsense). Optional fields degrade to `None` instead of
//! failing a whole page; required ones fail with the field's path.

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
/// advisory (the loop never trusts `total` alone).
#[derive(Debug, Deserialize)]
pub struct Page<T> {
    /// Apify's count of the whole list, when it gives a usable one.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub total: Option<u64>,
    /// The items of this page that decoded.
    pub items: Vec<T>,
    /// Items that could not be decoded (see [`decode_page`]), left out.
    #[serde(skip)]
    pub skipped: Vec<ApiError>,
}

/// A page with its items still undecoded, to decode them one by one.
#[derive(Deserialize)]
struct RawPage<'a> {
    #[serde(default, deserialize_with = "lenient_u64")]
    total: Option<u64>,
    #[serde(borrow)]
    items: Vec<&'a serde_json::value::RawValue>,
}

/// Decodes `{"data": T}`, naming the failing path on error.
pub fn decode_envelope<T: DeserializeOwned>(
    endpoint: &'static str,
    bytes: &[u8],
) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
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
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let raw: Envelope<RawPage<'_>> =
        serde_path_to_error::deserialize(&mut de).map_err(|e| ApiError::Decode {
            endpoint,
            path: e.path().to_string(),
            message: e.inner().to_string(),
        })?;
    let mut page = Page {
        total: raw.data.total,
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
                page.skipped.push(ApiError::Decode {
                    endpoint,
                    path,
                    message: e.inner().to_string(),
                });
            }
        }
    }
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
