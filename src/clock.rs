//! Wall-clock time in Apify's unit (milliseconds since the Unix epoch),
//! behind a trait so that the collector's notion of "now" (the lookback,
//! the age of ACTIVE dispatches) can be injected, and the one place that
//! reads and writes Apify's timestamp format.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Milliseconds since the Unix epoch. Milliseconds are Apify's precision,
/// and integers compare exactly, which the watermark needs.
pub type Millis = i64;

/// A source of the current time.
pub trait Clock: Send + Sync {
    /// Milliseconds since the Unix epoch.
    fn now_millis(&self) -> Millis;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> Millis {
        now_millis()
    }
}

/// The system clock, shared.
pub fn system() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

/// The system's wall clock now, in milliseconds since the Unix epoch.
pub fn now_millis() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// An RFC 3339 timestamp in milliseconds; `None` when it is not one.
pub fn parse_timestamp(text: &str) -> Option<Millis> {
    let t = OffsetDateTime::parse(text.trim(), &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// Formats milliseconds as Apify writes times: `2026-11-26T12:00:00.000Z`.
pub fn format_timestamp(ms: Millis) -> String {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    t.format(&format).unwrap_or_default()
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
