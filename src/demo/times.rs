//! Times as the demo writes them: whole milliseconds, UTC, with a `Z`,
//! the way Apify does.

use time::OffsetDateTime;

/// Drops what is finer than a millisecond, which Apify's times do not carry.
pub(super) fn whole_millis(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(t.millisecond() as u32 * 1_000_000)
        .unwrap_or(t)
}

pub(super) fn day_start(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_time(time::Time::MIDNIGHT)
}

/// `2026-11-26T12:34:56.789Z`: how Apify writes times.
pub(super) fn timestamp(t: OffsetDateTime) -> String {
    let millis = t.unix_timestamp_nanos().div_euclid(1_000_000);
    crate::clock::format_timestamp(i64::try_from(millis).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::format_description::well_known::Rfc3339;

    fn at(text: &str) -> OffsetDateTime {
        OffsetDateTime::parse(text, &Rfc3339).expect("RFC 3339 time")
    }

    #[test]
    fn writes_times_as_apify_does() {
        assert_eq!(
            timestamp(at("2026-11-26T12:34:56.789Z")),
            "2026-11-26T12:34:56.789Z"
        );
        assert_eq!(
            timestamp(at("2026-11-26T13:04:05.007+01:00")),
            "2026-11-26T12:04:05.007Z"
        );
        assert_eq!(
            timestamp(whole_millis(at("2026-01-02T03:04:05.999999Z"))),
            "2026-01-02T03:04:05.999Z"
        );
    }
}
