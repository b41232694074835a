//! Tolerant decoding helpers: Apify's answers carry nulls, missing optional
//! keys and values of unexpected types (the official mock server returns
//! schema-valid nonsense). Optional fields degrade to `None` instead of
//! failing a whole page; required ones fail with the field's path.

use serde::{Deserialize, Deserializer};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Milliseconds since the Unix epoch. Milliseconds are Apify's precision,
/// and integers compare exactly, which the watermark needs.
pub type Millis = i64;

pub fn parse_timestamp(text: &str) -> Option<Millis> {
    let t = OffsetDateTime::parse(text.trim(), &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// Formats milliseconds as `2026-11-26T12:00:00.000Z`.
pub fn format_timestamp(ms: Millis) -> String {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    t.format(&format).unwrap_or_default()
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_at_millisecond_precision() {
        let ms = parse_timestamp("2019-12-12T07:34:14.202Z").unwrap();
        assert_eq!(ms, 1_576_136_054_202);
        assert_eq!(format_timestamp(ms), "2019-12-12T07:34:14.202Z");
        assert_eq!(
            parse_timestamp("1915-02-01T01:39:27.0Z"),
            Some(-1_733_005_233_000)
        );
        assert_eq!(
            parse_timestamp("2019-12-12T08:34:14+01:00"),
            Some(1_576_136_054_000)
        );
        assert_eq!(parse_timestamp("yesterday"), None);
    }
}
