//! The client's typed errors: what failed (endpoint, HTTP status with
//! Apify's own `error.type`, timeout, network, paging, decoding), and the
//! [`Reason`] each is counted under in
//! `apify_exporter_refresh_errors_total`.

use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;

/// Why a refresh failed: the `reason` label of
/// `apify_exporter_refresh_errors_total`, derived from [`ApiError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reason {
    /// 401 or 403: the token is wrong, revoked or lacks a permission.
    Auth,
    /// 429 after every retry.
    RateLimited,
    /// No answer within the request timeout.
    Timeout,
    /// Any other non-success status (a redirect to another origin
    /// included), or a list that does not page.
    Http,
    /// An answer that is not what the API documents, or over 64 MiB.
    Decode,
    /// The connection failed (DNS, refused, reset, TLS, a body cut off).
    Network,
}

impl Reason {
    /// Every reason, so that each series exists (at 0) from the start.
    pub const ALL: [Reason; 6] = [
        Reason::Auth,
        Reason::RateLimited,
        Reason::Timeout,
        Reason::Http,
        Reason::Decode,
        Reason::Network,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Auth => "auth",
            Reason::RateLimited => "rate_limited",
            Reason::Timeout => "timeout",
            Reason::Http => "http",
            Reason::Decode => "decode",
            Reason::Network => "network",
        }
    }
}

/// What went wrong with one API request (after retries).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Apify answered with a non-success status (after retries, if retryable).
    #[error("{endpoint}: HTTP {status}{}", describe_api_error(.error_type, .message))]
    Status {
        /// The route template.
        endpoint: &'static str,
        /// The HTTP status.
        status: u16,
        /// Apify's `error.type`, if the body had one.
        error_type: Option<String>,
        /// Apify's `error.message`, cut short, the token masked.
        message: Option<String>,
    },
    /// No answer within the request timeout.
    #[error("{endpoint}: no answer from {origin} within {timeout:?}")]
    Timeout {
        /// The route template.
        endpoint: &'static str,
        /// The API origin asked (`scheme://host:port`), never a path.
        origin: String,
        /// The timeout that passed.
        timeout: Duration,
    },
    /// The request failed below HTTP (DNS, connect, TLS, a body cut off).
    #[error("{endpoint}: network error reaching {origin}: {message}")]
    Network {
        /// The route template.
        endpoint: &'static str,
        /// The API origin tried (`scheme://host:port`), never a path.
        origin: String,
        /// The cause, without the URL.
        message: String,
    },
    /// The list did not page as a list should (it repeats a page, or
    /// never ends): the pass is given up.
    #[error("{endpoint}: paging stopped at offset {offset}: {reason}")]
    Paging {
        /// The route template.
        endpoint: &'static str,
        /// How far the pass had read.
        offset: usize,
        /// What was wrong with the paging.
        reason: &'static str,
    },
    /// An id (from an answer, or the configuration) that would not stay
    /// one path segment (`.`, `..`, empty): the request is not sent.
    #[error("{endpoint}: id {id:?} cannot be a path segment; not requested")]
    NotAPathSegment {
        /// The route template.
        endpoint: &'static str,
        /// The id.
        id: String,
    },
    /// The answer does not have the documented shape (or is too large to read).
    #[error("{endpoint}: cannot decode the response at `{path}`: {message}")]
    Decode {
        /// The route template.
        endpoint: &'static str,
        /// Where in the JSON it failed (`data.items[3].createdAt`).
        path: String,
        /// What was expected.
        message: String,
    },
}

fn describe_api_error(error_type: &Option<String>, message: &Option<String>) -> String {
    match (error_type, message) {
        (Some(t), Some(m)) => format!(" ({t}: {m})"),
        (Some(t), None) => format!(" ({t})"),
        (None, Some(m)) => format!(" ({m})"),
        (None, None) => String::new(),
    }
}

impl ApiError {
    /// What this error is counted as.
    pub fn reason(&self) -> Reason {
        match self {
            ApiError::Status {
                status: 401 | 403, ..
            } => Reason::Auth,
            ApiError::Status { status: 429, .. } => Reason::RateLimited,
            ApiError::Status { .. } | ApiError::Paging { .. } => Reason::Http,
            ApiError::Timeout { .. } => Reason::Timeout,
            ApiError::Network { .. } => Reason::Network,
            // An id that cannot be requested came in an answer, not as
            // Apify documents ids.
            ApiError::Decode { .. } | ApiError::NotAPathSegment { .. } => Reason::Decode,
        }
    }

    /// 429, 5xx, timeouts and network errors may pass if tried again.
    pub(crate) fn is_retryable(&self) -> bool {
        match self {
            ApiError::Status { status, .. } => *status == 429 || *status >= 500,
            ApiError::Timeout { .. } | ApiError::Network { .. } => true,
            ApiError::Decode { .. }
            | ApiError::Paging { .. }
            | ApiError::NotAPathSegment { .. } => false,
        }
    }

    /// A non-success answer, with Apify's error type and message when the
    /// body has them. They end up in logs: should they quote the token, it
    /// is masked first, then they are cut short (in that order, so that a
    /// token cut in two cannot leave a part behind).
    pub(super) fn from_status(
        endpoint: &'static str,
        status: StatusCode,
        body: &[u8],
        token: &str,
    ) -> ApiError {
        let detail = serde_json::from_slice::<ErrorBody>(body)
            .ok()
            .and_then(|b| b.error);
        let (error_type, message) = match detail {
            Some(d) => (
                d.error_type.map(|t| truncate(&mask(&t, token), 64)),
                d.message.map(|m| truncate(&mask(&m, token), 200)),
            ),
            None => (None, None),
        };
        ApiError::Status {
            endpoint,
            status: status.as_u16(),
            error_type,
            message,
        }
    }

    /// The error with the texts that come from outside masked, then cut
    /// short: a network cause (a TLS error names what the server presented)
    /// and a decode message (serde quotes the value it could not take,
    /// whatever its length). Apify's own error text is handled by
    /// [`ApiError::from_status`] the same way.
    pub(crate) fn redacted(self, token: &str) -> ApiError {
        match self {
            ApiError::Network {
                endpoint,
                origin,
                message,
            } => ApiError::Network {
                endpoint,
                origin,
                message: truncate(&mask(&message, token), 300),
            },
            ApiError::Decode {
                endpoint,
                path,
                message,
            } => ApiError::Decode {
                endpoint,
                path: truncate(&mask(&path, token), 200),
                message: truncate(&mask(&message, token), 300),
            },
            other => other,
        }
    }

    /// The `code` of `apify_exporter_api_requests_total` this error was
    /// counted under: the HTTP status, `timeout` or `network` (and, for
    /// what was never sent or not read, its reason).
    pub(crate) fn code(&self) -> String {
        match self {
            ApiError::Status { status, .. } => status.to_string(),
            other => other.reason().as_str().to_owned(),
        }
    }

    /// True for a 404: the resource is gone (retention, deletion).
    pub fn is_not_found(&self) -> bool {
        matches!(self, ApiError::Status { status: 404, .. })
    }
}

/// The error and its causes on one line ("error sending request: client
/// error (Connect): tcp connect error: Connection refused (os error 111)"):
/// the top alone ("error sending request") says nothing of what failed.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Apify's error body: `{"error": {"type": ..., "message": ...}}`.
#[derive(Deserialize)]
struct ErrorBody {
    error: Option<ErrorDetail>,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(rename = "type")]
    error_type: Option<String>,
    message: Option<String>,
}

/// `text` with every occurrence of the token replaced by `***`.
pub(super) fn mask(text: &str, token: &str) -> String {
    if token.is_empty() {
        text.to_string()
    } else {
        text.replace(token, "***")
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_follow_the_metric_contract() {
        let status = |status| ApiError::Status {
            endpoint: "/v2/webhooks",
            status,
            error_type: None,
            message: None,
        };
        assert_eq!(status(401).reason(), Reason::Auth);
        assert_eq!(status(403).reason(), Reason::Auth);
        assert_eq!(status(429).reason(), Reason::RateLimited);
        assert_eq!(status(500).reason(), Reason::Http);
        assert!(status(503).is_retryable());
        assert!(status(429).is_retryable());
        assert!(!status(404).is_retryable());
        assert!(!status(401).is_retryable());
    }

    #[test]
    fn status_errors_carry_apify_error_type() {
        let body = br#"{"error":{"type":"token-not-valid","message":"Authentication token is not valid."}}"#;
        let e = ApiError::from_status(
            "/v2/webhooks",
            StatusCode::UNAUTHORIZED,
            body,
            "apify_api_secret",
        );
        assert_eq!(
            e.to_string(),
            "/v2/webhooks: HTTP 401 (token-not-valid: Authentication token is not valid.)"
        );
        let e = ApiError::from_status(
            "/v2/webhooks",
            StatusCode::BAD_GATEWAY,
            b"<html>",
            "apify_api_secret",
        );
        assert_eq!(e.to_string(), "/v2/webhooks: HTTP 502");
    }

    #[test]
    fn every_reason_is_listed_once() {
        // No wildcard: a new variant fails to compile here until it is
        // given a place in `Reason::ALL`.
        let position = |r: Reason| match r {
            Reason::Auth => 0,
            Reason::RateLimited => 1,
            Reason::Timeout => 2,
            Reason::Http => 3,
            Reason::Decode => 4,
            Reason::Network => 5,
        };
        for (i, r) in Reason::ALL.iter().enumerate() {
            assert_eq!(position(*r), i, "{r:?}");
        }
    }

    #[test]
    fn network_and_decode_texts_are_masked_then_cut() {
        let token = "apify_api_0123456789abcdefghij";
        // The token straddles the 300-character cut of both texts.
        let text = format!(
            "{}{token} and then a long tail {}",
            "x".repeat(290),
            "y".repeat(500)
        );
        let network = ApiError::Network {
            endpoint: "/v2/webhooks",
            origin: "https://api.apify.com:443".into(),
            message: text.clone(),
        }
        .redacted(token);
        assert_eq!(
            network.to_string(),
            format!(
                "/v2/webhooks: network error reaching https://api.apify.com:443: {}***{}…",
                "x".repeat(290),
                " and th"
            )
        );
        let decode = ApiError::Decode {
            endpoint: "/v2/webhook-dispatches",
            path: "data.items[0].createdAt".into(),
            message: text,
        }
        .redacted(token);
        assert_eq!(
            decode.to_string(),
            format!(
                "/v2/webhook-dispatches: cannot decode the response at `data.items[0].createdAt`: {}***{}…",
                "x".repeat(290),
                " and th"
            )
        );
        // Errors with no outside text are left as they are.
        let timeout = ApiError::Timeout {
            endpoint: "/v2/webhooks",
            origin: "http://127.0.0.1:4010".into(),
            timeout: Duration::from_secs(10),
        };
        assert_eq!(
            timeout.redacted(token).to_string(),
            "/v2/webhooks: no answer from http://127.0.0.1:4010 within 10s"
        );
    }

    #[test]
    fn a_quoted_token_is_masked_before_the_message_is_cut() {
        let token = "apify_api_0123456789abcdefghij";
        // The token straddles the 200-character cut.
        let message = format!("{}{token} rest", "x".repeat(190));
        let body = serde_json::json!({"error": {"type": token, "message": message}});
        let e = ApiError::from_status(
            "/v2/webhooks",
            StatusCode::FORBIDDEN,
            body.to_string().as_bytes(),
            token,
        );
        let text = e.to_string();
        assert!(!text.contains("apify_api_"), "{text}");
        assert!(
            text.contains(&format!("{}*** rest", "x".repeat(190))),
            "{text}"
        );
    }
}
