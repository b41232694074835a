//! How the last refreshes went, told once: the log line when `apify_up`
//! changes (not one per failed refresh), and the text `/readyz` and `/`
//! show. `/readyz` answers 200 from the first refresh attempt on, failed
//! or not, so that Prometheus scrapes `apify_up 0` and the alerts fire: the
//! text says whether the API answers, and since when it does not.

use std::time::Duration;

use crate::api::{ApiError, Reason};
use crate::clock::{format_timestamp, Millis};

/// The outcome of the refreshes so far.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Last {
    /// No refresh has finished yet.
    Waiting,
    /// The last refresh succeeded, at this time.
    Ok { at: Millis },
    /// Refreshes fail: the last one for `reason` (its first error,
    /// `cause`), and every one since `since`.
    Failed {
        reason: Reason,
        cause: String,
        since: Millis,
    },
}

/// The refreshes' outcome as the logs and the readiness text tell it.
#[derive(Debug)]
pub(crate) struct Health {
    /// The API origin, named when refreshes fail.
    origin: String,
    last: Last,
}

impl Health {
    /// Waiting for the first refresh of the API at `origin`.
    pub(crate) fn new(origin: String) -> Health {
        Health {
            origin,
            last: Last::Waiting,
        }
    }

    /// Records a refresh that ended at `now` with `errors` (none: it
    /// succeeded) and logs what changed: at WARN when refreshes start to
    /// fail or fail for another reason, at INFO when they succeed again,
    /// at DEBUG when they fail again as before. Errors come in the order
    /// met: the first tells the reason (the rest often follow from it, as a
    /// refused token refuses every request after).
    pub(crate) fn record(&mut self, errors: &[ApiError], now: Millis) {
        let origin = self.origin.as_str();
        let Some(first) = errors.first() else {
            if let Last::Failed { reason, since, .. } = &self.last {
                let down = Duration::from_millis(u64::try_from(now - since).unwrap_or(0));
                tracing::info!(
                    failed_for = %humantime::format_duration(round_to_seconds(down)),
                    last_reason = %reason.as_str(),
                    %origin,
                    "apify_up 1: the API answers again"
                );
            }
            self.last = Last::Ok { at: now };
            return;
        };
        let reason = first.reason();
        let cause = first.to_string();
        let failing = errors.len();
        match &self.last {
            Last::Failed {
                reason: before,
                since,
                ..
            } => {
                let since = *since;
                if *before == reason {
                    tracing::debug!(
                        reason = %reason.as_str(),
                        %origin,
                        errors = failing,
                        error = %cause,
                        "apify_up 0: the refresh failed again"
                    );
                } else {
                    tracing::warn!(
                        reason = %reason.as_str(),
                        before = %before.as_str(),
                        %origin,
                        errors = failing,
                        error = %cause,
                        "apify_up 0: the refresh fails for another reason"
                    );
                }
                self.last = Last::Failed {
                    reason,
                    cause,
                    since,
                };
            }
            Last::Waiting | Last::Ok { .. } => {
                tracing::warn!(
                    reason = %reason.as_str(),
                    %origin,
                    errors = failing,
                    error = %cause,
                    "apify_up 0: the refresh failed"
                );
                self.last = Last::Failed {
                    reason,
                    cause,
                    since: now,
                };
            }
        }
    }

    /// Whether a refresh attempt has finished (readiness).
    pub(crate) fn attempted(&self) -> bool {
        self.last != Last::Waiting
    }

    /// One line on the last refresh, for `/readyz` and `/`: `ok` and when,
    /// or `failed`, why, where and since when. Plain text; the error texts
    /// in it were masked of the token when they were made.
    pub(crate) fn describe(&self) -> String {
        match &self.last {
            Last::Waiting => "waiting for the first refresh to finish".to_owned(),
            Last::Ok { at } => format!(
                "ok: the last refresh succeeded at {}",
                format_timestamp(*at)
            ),
            Last::Failed {
                reason,
                cause,
                since,
            } => format!(
                "failed: {}: {cause} (origin {}, failing since {})",
                reason.as_str(),
                self.origin,
                format_timestamp(*since)
            ),
        }
    }
}

/// `d` to the second below (a minute and a half, not 90.123456s), and
/// sub-second ones to the millisecond.
fn round_to_seconds(d: Duration) -> Duration {
    if d < Duration::from_secs(1) {
        Duration::from_millis(d.as_millis().try_into().unwrap_or(0))
    } else {
        Duration::from_secs(d.as_secs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16) -> ApiError {
        ApiError::Status {
            endpoint: "/v2/webhooks",
            status,
            error_type: Some("token-not-valid".into()),
            message: None,
        }
    }

    #[test]
    fn describes_waiting_ok_and_failing_since_the_first_failure() {
        let mut h = Health::new("http://127.0.0.1:4010".into());
        assert!(!h.attempted());
        assert_eq!(h.describe(), "waiting for the first refresh to finish");
        h.record(&[], 1_764_531_000_000);
        assert!(h.attempted());
        assert_eq!(
            h.describe(),
            "ok: the last refresh succeeded at 2025-11-30T19:30:00.000Z"
        );
        h.record(&[status(401), status(401)], 1_764_531_030_000);
        h.record(&[status(401)], 1_764_531_060_000);
        assert_eq!(
            h.describe(),
            "failed: auth: /v2/webhooks: HTTP 401 (token-not-valid) (origin http://127.0.0.1:4010, failing since 2025-11-30T19:30:30.000Z)"
        );
        // Another reason: the failure goes on, since the same time.
        h.record(&[status(500)], 1_764_531_090_000);
        assert_eq!(
            h.describe(),
            "failed: http: /v2/webhooks: HTTP 500 (token-not-valid) (origin http://127.0.0.1:4010, failing since 2025-11-30T19:30:30.000Z)"
        );
        h.record(&[], 1_764_531_120_500);
        assert_eq!(
            h.describe(),
            "ok: the last refresh succeeded at 2025-11-30T19:32:00.500Z"
        );
    }

    #[test]
    fn a_first_refresh_that_fails_is_an_attempt() {
        let mut h = Health::new("https://api.apify.com:443".into());
        h.record(&[status(403)], 0);
        assert!(h.attempted());
        assert_eq!(
            h.describe(),
            "failed: auth: /v2/webhooks: HTTP 403 (token-not-valid) (origin https://api.apify.com:443, failing since 1970-01-01T00:00:00.000Z)"
        );
    }

    #[test]
    fn durations_are_told_to_the_second() {
        assert_eq!(
            round_to_seconds(Duration::from_millis(90_123)),
            Duration::from_secs(90)
        );
        assert_eq!(
            round_to_seconds(Duration::from_micros(250_400)),
            Duration::from_millis(250)
        );
    }
}
