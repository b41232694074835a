//! How the demo webhooks' receivers answer: each [`Receiver`] plans every
//! attempt of a dispatch up front (start, end, status or error, body) and
//! its final status, with retries backing off like Apify's but seconds
//! apart. The engine reveals the plan as its clock passes each time.

use rand::rngs::StdRng;
use time::{Duration, OffsetDateTime};

use super::draws::{millis, pick_weighted};

/// How a webhook's receiver answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Receiver {
    /// Fast 200s.
    Healthy,
    /// 503 for a while, then 200: succeeds after 1-3 attempts.
    Flaky,
    /// A wrong URL: 404 to every attempt, FAILED after three.
    Misconfigured,
    /// Slow, often no answer within the timeout; sometimes refuses connections.
    TimesOut,
    /// A single attempt (`doNotRetry`), usually fine, sometimes 500 or 401.
    BestEffort,
}

/// One attempt as it will happen: times and answer are decided up front and
/// revealed as the clock passes them.
#[derive(Debug, Clone)]
pub(super) struct PlannedCall {
    pub(super) started_at: OffsetDateTime,
    pub(super) finished_at: OffsetDateTime,
    pub(super) response_status: Option<u16>,
    pub(super) error_message: Option<String>,
    pub(super) response_body: Option<String>,
}

impl Receiver {
    /// Every attempt of a dispatch and its final status. Retries back off
    /// exponentially like Apify's, on a scale of seconds.
    pub(super) fn plan_calls(
        self,
        rng: &mut StdRng,
        first_call: OffsetDateTime,
    ) -> (Vec<PlannedCall>, &'static str) {
        let mut calls = Vec::new();
        let mut started_at = first_call;
        let max_attempts = match self {
            Receiver::BestEffort => 1,
            _ => 3,
        };
        let failures_before_success = match self {
            Receiver::Flaky => pick_weighted(rng, &[(0, 4), (1, 4), (2, 2)]),
            _ => 0,
        };
        for attempt in 0..max_attempts {
            let call = match self {
                Receiver::Healthy => answered(rng, started_at, 50..=400, 200, "ok"),
                Receiver::Flaky if attempt < failures_before_success => {
                    answered(rng, started_at, 100..=1_500, 503, "Service Unavailable")
                }
                Receiver::Flaky => {
                    answered(rng, started_at, 300..=2_500, 200, "{\"received\":true}")
                }
                Receiver::Misconfigured => misconfigured_call(rng, started_at),
                Receiver::TimesOut => slow_call(rng, started_at),
                Receiver::BestEffort => best_effort_call(rng, started_at),
            };
            let succeeded = call
                .response_status
                .is_some_and(|s| (200..300).contains(&s));
            let finished_at = call.finished_at;
            calls.push(call);
            if succeeded {
                return (calls, "SUCCEEDED");
            }
            started_at = finished_at + Duration::seconds(6 << attempt) + millis(rng, 0..=2_000);
        }
        (calls, "FAILED")
    }
}

/// The misconfigured receiver's only answer: its URL has a typo.
pub(super) fn misconfigured_call(rng: &mut StdRng, started_at: OffsetDateTime) -> PlannedCall {
    answered(
        rng,
        started_at,
        50..=300,
        404,
        "<!DOCTYPE html><title>Error</title><pre>Cannot POST /hooks/apify-buld</pre>",
    )
}

fn slow_call(rng: &mut StdRng, started_at: OffsetDateTime) -> PlannedCall {
    match pick_weighted(rng, &[(0, 55), (1, 15), (2, 30)]) {
        0 => PlannedCall {
            started_at,
            finished_at: started_at + millis(rng, 10_000..=10_000),
            response_status: None,
            error_message: Some("Request timed out after 10000 ms".to_owned()),
            response_body: None,
        },
        1 => PlannedCall {
            started_at,
            finished_at: started_at + millis(rng, 50..=120),
            response_status: None,
            error_message: Some("connect ECONNREFUSED 10.8.3.17:8443".to_owned()),
            response_body: None,
        },
        _ => answered(
            rng,
            started_at,
            1_500..=8_000,
            202,
            "{\"status\":\"queued\"}",
        ),
    }
}

fn best_effort_call(rng: &mut StdRng, started_at: OffsetDateTime) -> PlannedCall {
    match pick_weighted(rng, &[(0, 85), (1, 10), (2, 5)]) {
        0 => answered(rng, started_at, 80..=800, 204, ""),
        1 => answered(rng, started_at, 100..=900, 500, "Internal Server Error"),
        _ => answered(
            rng,
            started_at,
            50..=150,
            401,
            "{\"error\":\"invalid measurement id\"}",
        ),
    }
}

fn answered(
    rng: &mut StdRng,
    started_at: OffsetDateTime,
    duration_ms: std::ops::RangeInclusive<i64>,
    status: u16,
    body: &str,
) -> PlannedCall {
    PlannedCall {
        started_at,
        finished_at: started_at + millis(rng, duration_ms),
        response_status: Some(status),
        error_message: None,
        response_body: Some(body.to_owned()),
    }
}
