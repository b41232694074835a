//! The Apify API v2 client: HTTP, pagination envelopes, retries, rate
//! limiting and typed errors. It knows nothing of Prometheus; what it did is
//! reported through `RequestObserver`, which the wiring connects to the
//! exporter's own metrics.
//!
//! One file per upstream resource ([`webhooks`], [`dispatches`], the
//! Actors and tasks they belong to in `owners`); errors
//! in `error.rs`, the envelope and page decoding in [`decode`]; this file
//! is the client itself.

pub mod decode;
pub mod dispatches;
mod error;
mod owners;
pub mod webhooks;

pub use decode::{decode_envelope, decode_page, Page, Undecodable, MAX_PAGE_LIMIT};
pub use error::{error_chain, ApiError, Reason};
pub(crate) use owners::{Owner, OwnerRecord};

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use backon::BackoffBuilder;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;

use crate::config::defaults;
use crate::secret::Secret;

/// Retries after the first attempt, for 429, 5xx and network errors.
const MAX_RETRIES: usize = 4;
/// A `Retry-After` longer than this is capped: a refresh must end.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// Responses larger than this are refused rather than buffered: a `decode`
/// error, not retried (the same answer would come again).
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
/// Redirects followed within the API's origin; one to another origin is
/// never followed.
const MAX_REDIRECTS: usize = 10;

/// Receives one call per HTTP attempt (retries included).
pub(crate) trait RequestObserver: Send + Sync {
    /// `endpoint` is the route template, `code` the HTTP status or
    /// `timeout` / `network`.
    fn observe(&self, endpoint: &'static str, code: &str, elapsed: Duration);
    /// An attempt that failed with `code` (as in `observe`) is tried again.
    fn retried(&self, endpoint: &'static str, code: &str);
}

/// Settings of the client.
#[derive(Debug, Clone)]
pub(crate) struct ClientOptions {
    pub(crate) base_url: String,
    pub(crate) token: Secret,
    pub(crate) timeout: Duration,
    pub(crate) max_rps: u32,
    pub(crate) concurrency: usize,
    /// First retry delay; doubles, with jitter, up to `max_backoff`.
    pub(crate) min_backoff: Duration,
    pub(crate) max_backoff: Duration,
}

impl ClientOptions {
    pub(crate) fn new(base_url: impl Into<String>, token: Secret) -> Self {
        ClientOptions {
            base_url: base_url.into(),
            token,
            timeout: defaults::TIMEOUT,
            max_rps: defaults::MAX_RPS,
            concurrency: defaults::CONCURRENCY,
            min_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(10),
        }
    }
}

/// The Apify client. Cheap to share behind an `Arc`.
pub(crate) struct Client {
    http: reqwest::Client,
    /// `options.base_url`, parsed once.
    base: url::Url,
    /// `base`'s origin, named by network errors.
    origin: String,
    options: ClientOptions,
    limiter: DefaultDirectRateLimiter,
    permits: Semaphore,
    observer: Arc<dyn RequestObserver>,
    /// The token sent from the next request on; replaced on SIGHUP.
    token: std::sync::RwLock<Secret>,
}

impl Client {
    pub(crate) fn new(
        mut options: ClientOptions,
        observer: Arc<dyn RequestObserver>,
    ) -> Result<Client, ApiError> {
        let base = url::Url::parse(&options.base_url)
            .ok()
            .filter(|u| !u.cannot_be_a_base())
            .ok_or_else(|| ApiError::Network {
                endpoint: "client",
                origin: "the configured API base URL".into(),
                message: "it is not an http(s) URL".into(),
            })?;
        let origin = origin(&base);
        let http = reqwest::Client::builder()
            .user_agent(concat!(
                "apify-webhook-exporter/",
                env!("CARGO_PKG_VERSION")
            ))
            .timeout(options.timeout)
            .connect_timeout(options.timeout)
            .redirect(reqwest::redirect::Policy::custom(same_origin_only))
            .build()
            .map_err(|e| ApiError::Network {
                endpoint: "client",
                origin: origin.clone(),
                message: error_chain(&e.without_url()),
            })?;
        let rps = NonZeroU32::new(options.max_rps).unwrap_or(NonZeroU32::MIN);
        // The token lives in one place, where SIGHUP replaces it: no stale
        // copy stays in the options.
        let token = std::mem::replace(&mut options.token, Secret::new(String::new()));
        Ok(Client {
            http,
            base,
            origin,
            limiter: RateLimiter::direct(Quota::per_second(rps)),
            permits: Semaphore::new(options.concurrency.max(1)),
            token: std::sync::RwLock::new(token),
            options,
            observer,
        })
    }

    /// Sends `token` from the next request on (requests under way finish
    /// with the one they started with).
    pub(crate) fn set_token(&self, token: Secret) {
        *self.token.write().unwrap_or_else(|e| e.into_inner()) = token;
    }

    /// The API's origin (`scheme://host:port`, see [`origin`]), as its
    /// errors name it.
    pub(crate) fn origin(&self) -> &str {
        &self.origin
    }

    fn token(&self) -> Secret {
        self.token.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// GET `path` and decode `{"data": T}`. `path` is the list of segments
    /// after the origin (`["v2", "webhooks", id]`), each encoded by
    /// [`request_url`]; `endpoint` is the route template, used in metrics
    /// and errors.
    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        endpoint: &'static str,
        path: &[&str],
        query: &[(&str, String)],
    ) -> Result<T, ApiError> {
        let bytes = self.get_bytes(endpoint, path, query).await?;
        decode::decode_envelope(endpoint, &bytes).map_err(|e| self.redact(e))
    }

    /// GET with retries; the body of the successful answer.
    pub(crate) async fn get_bytes(
        &self,
        endpoint: &'static str,
        path: &[&str],
        query: &[(&str, String)],
    ) -> Result<bytes::Bytes, ApiError> {
        let url = request_url(&self.base, endpoint, path)?;
        let mut backoff = backon::ExponentialBuilder::default()
            .with_min_delay(self.options.min_backoff)
            .with_max_delay(self.options.max_backoff)
            .with_factor(2.0)
            .with_jitter()
            .with_max_times(MAX_RETRIES)
            .build();
        loop {
            let (result, retry_after) = self.attempt(endpoint, &url, query).await;
            // `attempt` masked its error with the token it sent.
            let error = match result {
                Ok(bytes) => return Ok(bytes),
                Err(e) => e,
            };
            if !error.is_retryable() {
                return Err(error);
            }
            let Some(mut delay) = backoff.next() else {
                return Err(error);
            };
            if let Some(wait) = retry_after {
                delay = delay.max(wait.min(MAX_RETRY_AFTER));
            }
            let code = error.code();
            tracing::debug!(endpoint, %code, %error, wait = ?delay, "retrying an Apify request");
            self.observer.retried(endpoint, &code);
            tokio::time::sleep(delay).await;
        }
    }

    /// One HTTP attempt: rate limit, concurrency permit, request, body.
    async fn attempt(
        &self,
        endpoint: &'static str,
        url: &url::Url,
        query: &[(&str, String)],
    ) -> (Result<bytes::Bytes, ApiError>, Option<Duration>) {
        let _permit = self.permits.acquire().await;
        self.limiter.until_ready().await;
        let token = self.token();
        let started = Instant::now();
        let sent = self
            .http
            .get(url.clone())
            .query(query)
            .bearer_auth(token.expose())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(e) => {
                // Masked with the token this request sent: SIGHUP may have
                // replaced it since.
                let error = self.transport_error(endpoint, e).redacted(token.expose());
                self.observer
                    .observe(endpoint, &error.code(), started.elapsed());
                return (Err(error), None);
            }
        };
        let status = response.status();
        let retry_after = parse_retry_after(response.headers(), SystemTime::now());
        let bytes = match read_body(response).await {
            Ok(b) => b,
            Err(e) => {
                let error = self.body_error(endpoint, &e).redacted(token.expose());
                // An answer refused for its size did arrive: its status counts.
                let code = match e {
                    BodyError::TooLarge => status.as_str().to_owned(),
                    _ => error.code(),
                };
                self.observer.observe(endpoint, &code, started.elapsed());
                return (Err(error), None);
            }
        };
        self.observer
            .observe(endpoint, status.as_str(), started.elapsed());
        if status.is_success() {
            return (Ok(bytes), None);
        }
        if status.is_redirection() {
            // `same_origin_only` stopped it (or it had nowhere to go):
            // whatever is there is not the API's answer.
            let error = ApiError::Status {
                endpoint,
                status: status.as_u16(),
                error_type: None,
                message: Some("redirect not followed (to another origin, or nowhere)".to_string()),
            };
            return (Err(error), None);
        }
        // Apify's error text goes into logs: from_status masks the token.
        let error = ApiError::from_status(endpoint, status, &bytes, token.expose());
        (Err(error), retry_after)
    }

    /// Texts from outside (network causes, decode messages quoting the
    /// body) go into logs: the token is masked, then they are cut short.
    pub(crate) fn redact(&self, error: ApiError) -> ApiError {
        error.redacted(self.token().expose())
    }

    /// A list page decoded item by item, every text from outside redacted
    /// (an item's id too: it is logged when the item is left out).
    pub(crate) fn decode_page<T: DeserializeOwned>(
        &self,
        endpoint: &'static str,
        bytes: &[u8],
    ) -> Result<Page<T>, ApiError> {
        let mut page = decode::decode_page(endpoint, bytes).map_err(|e| self.redact(e))?;
        // The token in force now: SIGHUP may have replaced the first one.
        let token = self.token();
        page.skipped = page
            .skipped
            .into_iter()
            .map(|u| u.redacted(token.expose()))
            .collect();
        Ok(page)
    }

    fn transport_error(&self, endpoint: &'static str, e: reqwest::Error) -> ApiError {
        if e.is_timeout() {
            ApiError::Timeout {
                endpoint,
                origin: self.origin.clone(),
                timeout: self.options.timeout,
            }
        } else {
            ApiError::Network {
                endpoint,
                origin: self.origin.clone(),
                message: error_chain(&e.without_url()),
            }
        }
    }

    fn body_error(&self, endpoint: &'static str, e: &BodyError) -> ApiError {
        match e {
            BodyError::Timeout => ApiError::Timeout {
                endpoint,
                origin: self.origin.clone(),
                timeout: self.options.timeout,
            },
            BodyError::TooLarge => ApiError::Decode {
                endpoint,
                path: String::new(),
                message: format!("response larger than {MAX_BODY_BYTES} bytes, refused"),
            },
            BodyError::Other(message) => ApiError::Network {
                endpoint,
                origin: self.origin.clone(),
                message: message.clone(),
            },
        }
    }
}

/// Follows a redirect only within the origin of the first request: the
/// token must not go elsewhere, and an answer from elsewhere (an empty list,
/// say) must not be taken for Apify's.
fn same_origin_only(attempt: reqwest::redirect::Attempt<'_>) -> reqwest::redirect::Action {
    let same_origin = attempt
        .previous()
        .first()
        .is_some_and(|first| first.origin() == attempt.url().origin());
    if !same_origin {
        tracing::warn!(
            status = attempt.status().as_u16(),
            "the API redirected to another origin; not following"
        );
        attempt.stop()
    } else if attempt.previous().len() > MAX_REDIRECTS {
        attempt.error("too many redirects")
    } else {
        attempt.follow()
    }
}

enum BodyError {
    Timeout,
    TooLarge,
    Other(String),
}

/// Reads the body chunk by chunk so that an oversized answer is refused
/// before it is all in memory (at once when its length says so).
async fn read_body(mut response: reqwest::Response) -> Result<bytes::Bytes, BodyError> {
    if response
        .content_length()
        .is_some_and(|length| length > MAX_BODY_BYTES as u64)
    {
        return Err(BodyError::TooLarge);
    }
    let mut buf = bytes::BytesMut::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if buf.len() + chunk.len() > MAX_BODY_BYTES {
                    return Err(BodyError::TooLarge);
                }
                buf.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(buf.freeze()),
            Err(e) if e.is_timeout() => return Err(BodyError::Timeout),
            Err(e) => return Err(BodyError::Other(error_chain(&e.without_url()))),
        }
    }
}

/// `scheme://host:port` of `url`, the port written even when it is the
/// scheme's default, so that a log line says exactly what was tried. Never
/// a path (a proxy's prefix), a query or credentials.
pub fn origin(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port_or_known_default() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    }
}

/// The origin of the API base URL `base_url` (see [`origin`]); `(not a
/// URL)` when it is not one (the configuration refuses those).
pub fn origin_of(base_url: &str) -> String {
    match url::Url::parse(base_url) {
        Ok(url) => origin(&url),
        Err(_) => "(not a URL)".to_owned(),
    }
}

/// The URL of `path` (its segments, `["v2", "webhooks", id]`) under the
/// API origin. The url crate percent-encodes each segment (`/`, `?`, `#`
/// and `%` included), so an id, whatever the user or the API sent, stays
/// one segment. An empty, `.` or `..` segment is refused: a URL resolves
/// it to another resource (`/v2/acts/../webhooks` is `/v2/webhooks`,
/// the whole account), and the url crate would silently drop it.
pub(crate) fn request_url(
    base: &url::Url,
    endpoint: &'static str,
    path: &[&str],
) -> Result<url::Url, ApiError> {
    if let Some(bad) = path.iter().find(|s| !decode::is_path_segment(s)) {
        return Err(ApiError::NotAPathSegment {
            endpoint,
            id: (*bad).to_string(),
        });
    }
    let mut url = base.clone();
    // `Client::new` refused a base that cannot be one, so this always
    // succeeds; the error is kept rather than a panic.
    url.path_segments_mut()
        .map_err(|()| ApiError::NotAPathSegment {
            endpoint,
            id: String::new(),
        })?
        .pop_if_empty()
        .extend(path);
    Ok(url)
}

/// `Retry-After` as seconds or as an HTTP date.
fn parse_retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_stay_one_path_segment() {
        let base = url::Url::parse("http://127.0.0.1:4010").unwrap();
        let url = |segments: &[&str]| request_url(&base, "/v2/webhooks/:id", segments);
        assert_eq!(
            url(&["v2", "webhooks", "Pz6sM1dK9vBf3XgUh"])
                .unwrap()
                .as_str(),
            "http://127.0.0.1:4010/v2/webhooks/Pz6sM1dK9vBf3XgUh"
        );
        assert_eq!(
            url(&["v2", "acts", "janedoe~my-actor", "webhooks"])
                .unwrap()
                .as_str(),
            "http://127.0.0.1:4010/v2/acts/janedoe~my-actor/webhooks"
        );
        assert_eq!(
            url(&["v2", "webhooks", "a/b?c#d%2e%2E e"])
                .unwrap()
                .as_str(),
            "http://127.0.0.1:4010/v2/webhooks/a%2Fb%3Fc%23d%252e%252E%20e"
        );
        // `...` is a name, not a dot segment.
        assert_eq!(
            url(&["v2", "webhooks", "..."]).unwrap().as_str(),
            "http://127.0.0.1:4010/v2/webhooks/..."
        );
        for bad in ["..", ".", ""] {
            let e = url(&["v2", "webhooks", bad]).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("/v2/webhooks/:id: id {bad:?} cannot be a path segment; not requested")
            );
            assert_eq!(e.reason(), Reason::Decode);
            assert!(!e.is_retryable());
        }
        // A path under the origin (a proxy) is kept.
        let base = url::Url::parse("https://proxy.example/apify").unwrap();
        assert_eq!(
            request_url(&base, "/v2/webhooks", &["v2", "webhooks"])
                .unwrap()
                .as_str(),
            "https://proxy.example/apify/v2/webhooks"
        );
    }

    #[test]
    fn retry_after_accepts_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(parse_retry_after(&h, now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(42));
        h.insert(RETRY_AFTER, later.parse().unwrap());
        assert_eq!(parse_retry_after(&h, now), Some(Duration::from_secs(42)));
        h.insert(RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(parse_retry_after(&h, now), None);
    }
}
